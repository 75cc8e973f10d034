"""From model outputs to per-frame statistics, one video at a time (the loop's scoring phase).

:func:`video_stats` asks the task for one video's outputs and reduces them with the scorer,
whether the task yields the video whole or as :class:`~asl_core.types.OutputChunk` values: a
``frame_local`` scorer reduces each chunk as it arrives (peak memory = one chunk), any other
scorer gets the chunks joined. :func:`score_pool` does that for the videos of a pool, each with
its own generators and sharded across the ranks of a torchrun job (:mod:`asl_core.distributed`):
that is what makes per-video caching and sharding give the same statistics as one process
scoring everything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .distributed import DistContext
from .errors import PluginContractError
from .interfaces import OUTPUT_FRAME_AXIS, Progress, Scorer, Task
from .types import FrameStats, OutputChunk, VideoInfo

__all__ = ["check_stats", "reduce_outputs", "score_pool", "video_stats"]


def _contract(task_name: str, message: str) -> PluginContractError:
    return PluginContractError(f"task {task_name!r}: {message}")


def _check_outputs(
    outputs: Mapping[str, Any], requires: frozenset[str], video: str, task_name: str
) -> None:
    missing = requires - set(outputs)
    if missing:
        raise _contract(task_name, f"predict() gave no {', '.join(sorted(missing))} for {video!r}")


def _join(chunks: list[OutputChunk], requires: frozenset[str]) -> dict[str, np.ndarray]:
    """Concatenate the chunks of one video along each output's frame axis."""
    return {
        name: np.concatenate(
            [np.asarray(c.outputs[name]) for c in chunks], axis=OUTPUT_FRAME_AXIS.get(name, 0)
        )
        for name in requires
    }


def reduce_outputs(
    items: Iterable[Any],
    video: VideoInfo,
    requires: frozenset[str],
    scorer: Scorer,
    rng: np.random.Generator,
    *,
    task_name: str = "task",
    scorer_name: str = "scorer",
) -> FrameStats:
    """Reduce what ``Task.predict`` yielded for ``video`` to its ``FrameStats``.

    Args:
        items: the task's yield for this one video: one ``(video_id, outputs)`` pair, or
            :class:`OutputChunk` values covering ``0..F-1`` in order.
        video: the video.
        requires: the outputs the scorer needs.
        scorer: reduces outputs with ``frame_stats``; chunk by chunk when ``frame_local``.
        rng: the generator handed to ``frame_stats`` (each chunk gets the same one: a
            ``frame_local`` scorer ignores it).
        task_name, scorer_name: for messages.

    Returns:
        The video's statistics (arrays of first axis ``F``).

    Raises:
        PluginContractError: the task yielded another video, overlapping or missing frames,
            a chunk after the end, or lacks a required output; the scorer returned something
            other than FrameStats of the (chunk's) frames.
    """
    local = bool(getattr(scorer, "frame_local", False))
    whole: Mapping[str, Any] | None = None
    chunks: list[OutputChunk] = []
    parts: list[FrameStats] = []
    next_frame = 0
    for item in items:
        if whole is not None or (chunks and chunks[-1].last):
            raise _contract(task_name, f"predict() yielded more for {video.id!r} after its end")
        if isinstance(item, OutputChunk):
            if item.video != video.id or item.num_frames != video.num_frames:
                raise _contract(
                    task_name,
                    f"predict() yielded a chunk of {item.video!r} ({item.num_frames} frames) "
                    f"while scoring {video.id!r} ({video.num_frames} frames)",
                )
            if item.start != next_frame:
                raise _contract(
                    task_name,
                    f"predict() chunk of {video.id!r} starts at frame {item.start}, "
                    f"expected {next_frame}",
                )
            _check_outputs(item.outputs, requires, video.id, task_name)
            next_frame = item.stop
            if local:
                part_video = VideoInfo(video.id, item.stop - item.start, video.label, video.split)
                st = scorer.frame_stats(part_video, {k: item.outputs[k] for k in requires}, rng)
                parts.append(check_stats(st, part_video, scorer_name))
            chunks.append(item if not local else _drop_outputs(item))
            # free this chunk's pixels before the task computes the next one
            del item
            continue
        try:
            video_id, outputs = item
        except (TypeError, ValueError):
            raise _contract(
                task_name,
                f"predict() must yield (video_id, outputs) or OutputChunk, got {type(item).__name__}",
            ) from None
        if video_id != video.id or chunks:
            raise _contract(
                task_name, f"predict() yielded unexpected or repeated video {video_id!r}"
            )
        _check_outputs(outputs, requires, video.id, task_name)
        whole = outputs
    if whole is not None:
        st = scorer.frame_stats(video, {k: whole[k] for k in requires}, rng)
        return check_stats(st, video, scorer_name)
    if not chunks:
        raise _contract(task_name, f"predict() yielded nothing for {video.id!r}")
    if not chunks[-1].last:
        raise _contract(
            task_name,
            f"predict() chunks of {video.id!r} end at frame {chunks[-1].stop} of "
            f"{video.num_frames}",
        )
    if not local:
        st = scorer.frame_stats(video, _join(chunks, requires), rng)
        return check_stats(st, video, scorer_name)
    keys = set(parts[0].values)
    if any(set(p.values) != keys for p in parts):
        raise PluginContractError(
            f"scorer {scorer_name!r}: frame_local frame_stats gave different arrays for the "
            f"chunks of {video.id!r}"
        )
    joined = {k: np.concatenate([p.values[k] for p in parts], axis=0) for k in sorted(keys)}
    return FrameStats(video=video.id, num_frames=video.num_frames, values=joined)


def _drop_outputs(chunk: OutputChunk) -> OutputChunk:
    # keep only the frame range: a reduced chunk's pixels must not stay alive
    return OutputChunk(chunk.video, chunk.start, chunk.stop, chunk.num_frames)


def check_stats(st: Any, video: VideoInfo, scorer: str) -> FrameStats:
    """Check that a scorer's ``frame_stats``/``prepare_pool`` gave ``FrameStats`` of ``video``.

    Raises:
        PluginContractError: naming the scorer, when it is not FrameStats of that video and
            length.
    """
    if not isinstance(st, FrameStats) or st.video != video.id or st.num_frames != video.num_frames:
        raise PluginContractError(
            f"scorer {scorer!r}: expected FrameStats for {video.id!r} with "
            f"{video.num_frames} frames, got {st!r:.200}"
        )
    return st


def video_stats(
    task: Task,
    scorer: Scorer,
    model: Any,
    video: VideoInfo,
    predict_rng: np.random.Generator,
    stats_rng: np.random.Generator,
    *,
    task_name: str = "task",
    scorer_name: str = "scorer",
) -> FrameStats:
    """The ``FrameStats`` of one video: ``task.predict`` on that video alone (with
    ``predict_rng``), reduced by :func:`reduce_outputs` (with ``stats_rng``). A scorer that
    requires no outputs runs no inference."""
    requires = frozenset(scorer.requires)
    if not requires:
        st = scorer.frame_stats(video, {}, stats_rng)
        return check_stats(st, video, scorer_name)
    items = task.predict(model, [video], requires, predict_rng)
    return reduce_outputs(
        items, video, requires, scorer, stats_rng, task_name=task_name, scorer_name=scorer_name
    )


def score_pool(
    task: Task,
    scorer: Scorer,
    model: Any,
    pool: Sequence[VideoInfo],
    todo: Sequence[int],
    rngs: Callable[[int], tuple[np.random.Generator, np.random.Generator]],
    *,
    dist: DistContext | None = None,
    on_video: Callable[[int, FrameStats], None] | None = None,
    progress: Progress | None = None,
    task_name: str = "task",
    scorer_name: str = "scorer",
) -> dict[int, FrameStats] | None:
    """Score the pool videos at positions ``todo``, sharded across the ranks of ``dist``.

    Each rank scores its share (:meth:`DistContext.shard`, balanced by frame count) with
    :func:`video_stats` and the generators ``rngs(position)`` (``(predict_rng, stats_rng)``),
    so the result does not depend on the number of ranks. An error on any rank stops every
    rank (:meth:`DistContext.check_all`). The statistics are gathered on rank 0.

    Args:
        task, scorer, model: what scores (``model`` may be ``None`` when the scorer requires
            no outputs).
        pool: the task's pool, in pool order.
        todo: the positions to score (e.g. those not in the cache), same on every rank.
        rngs: each position's generators.
        dist: the process's context (default: :func:`asl_core.distributed.current`).
        on_video: called on rank 0 with ``(position, stats)`` for every video scored, its own
            as they finish and the other ranks' once gathered (caching).
        progress: advanced by one per video on rank 0 (the others' videos when gathered).
        task_name, scorer_name: for messages.

    Returns:
        ``{position: stats}`` of every position in ``todo`` on rank 0; ``None`` on the others.
    """
    from .distributed import current

    d = dist if dist is not None else current()
    share = [todo[k] for k in d.shard([pool[i].num_frames for i in todo])]
    mine: dict[int, FrameStats] = {}
    error: BaseException | None = None
    try:
        for i in share:
            predict_rng, stats_rng = rngs(i)
            st = video_stats(
                task,
                scorer,
                model,
                pool[i],
                predict_rng,
                stats_rng,
                task_name=task_name,
                scorer_name=scorer_name,
            )
            mine[i] = st
            if d.is_main:
                if on_video is not None:
                    on_video(i, st)
                if progress is not None:
                    progress.advance(1)
    except Exception as exc:
        error = exc  # raised on this rank (and PeerFailed on the others) by check_all
    d.check_all(error)
    gathered = d.gather(mine)
    if not d.is_main:
        return None
    for part in (gathered or [])[1:]:
        for i, st in part.items():
            if on_video is not None:
                on_video(i, st)
            mine[i] = st
        if progress is not None:
            progress.advance(len(part))
    return mine
