"""The selection pool of annotation files, without videos (``asl-run data labels``).

Model-free selection (``random``, ``equidistant``) and the paper's annotation cost (§4: actors x
clicks per frame) need only what annotation files hold: every video's length, the frames
already labelled, and how many actors each frame shows. :func:`pool_document` gathers these from
one or more loaded files into the labels document that ``asl-run select --labels`` reads
(``docs/cli.md``), plus notes.

Where each value comes from:

* **videos**: every video of the ``.mat`` files and ASL pickles; for an ACT ground-truth pickle
  (which lists train and test videos) the training videos of the chosen split, the pool a run
  trains on.
* **lengths**: ``num_imgs`` (``.mat``) or ``nframes`` (ACT pickle). The ASL pickles store no
  length, and the last annotated frame + 1 is not one (frames after the last tube exist and can
  be selected), so a pickle's video needs another file that gives its length (its ``.mat``);
  without one it is refused.
* **labelled frames**: the ASL pickles' annotated-frame lists (the loaders'
  ``TubeAnnotations.labelled``, a dataset's ``initial_labels``); none for the other formats.
* **actors**: per frame, the number of tubes that cover it: exactly the regions the simulated
  oracle returns for that frame (``ActionDataset.frame_regions``: one per covering tube), so the
  cost matches a run's.

A video in two files must have the same length and the same actors on every frame in both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from attrs import frozen

from asl_core import ConfigError

from .annotations import TubeAnnotations
from .dataset import ActGroundTruth, ActorTube
from .errors import DatasetError

__all__ = ["actor_counts", "pool_document"]


def actor_counts(tubes: Sequence[ActorTube], num_frames: int) -> np.ndarray:
    """Actors on each frame of a video: how many tubes cover it.

    Args:
        tubes: the video's tubes (0-based frames inside ``0 .. num_frames - 1``).
        num_frames: ``F``.

    Returns:
        ``int64[F]``.

    Example::

        actor_counts([tube over frames 1..3, tube over frames 2..4], 6)  # [0, 1, 2, 2, 1, 0]
    """
    if not tubes:
        return np.zeros(num_frames, dtype=np.int64)
    frames = np.concatenate([t.frames for t in tubes])
    return np.bincount(frames, minlength=num_frames).astype(np.int64)


@frozen(eq=False)  # holds arrays; never compared
class _Video:
    """What one file says about one video."""

    source: str
    tubes: tuple[ActorTube, ...]
    num_frames: int | None
    labelled: np.ndarray | None  # sorted 0-based frames, None: the file marks none


def _videos_of(
    part: ActGroundTruth | TubeAnnotations, split: int
) -> tuple[list[tuple[str, _Video]], str]:
    """``([(video, record), ...] in the file's order, note)`` of one loaded file."""
    if isinstance(part, ActGroundTruth):
        if not 1 <= split <= part.num_splits:
            raise ConfigError(
                f"{part.source}: split {split} does not exist (the file has {part.num_splits}); "
                "set --cfg-options split=K"
            )
        train = part.train_videos[split - 1]
        total = len(part.nframes)
        note = (
            f"{part.source}: the pool is the {len(train):,} training videos of split {split} "
            f"(of {total:,} videos; the test videos are not selected from)"
        )
        records = [(v, _Video(part.source, part.tubes[v], part.nframes[v], None)) for v in train]
        return records, note
    records = []
    for video, tubes in part.tubes.items():
        n = None if part.nframes is None else part.nframes[video]
        labelled = None if part.labelled is None else part.labelled.labelled(video)
        records.append((video, _Video(part.source, tubes, n, labelled)))
    return records, ""


def pool_document(
    parts: Sequence[ActGroundTruth | TubeAnnotations],
    *,
    split: int = 1,
) -> dict[str, Any]:
    """The labels document of some annotation files (module docstring: what comes from where).

    Args:
        parts: the loaded files, in the order given.
        split: 1-based split of ACT pickles.

    Returns:
        ``{"videos": {id: {"num_frames": F, "labelled": [frame, ...], "actors": [n_0, ...,
        n_{F-1}]}}, "notes": [str]}``, videos in the order they first appear in the files.

    Raises:
        ConfigError: when no file gives the length of some video (an ASL pickle alone), or the
            split does not exist. The message names the file and what to add.
        DatasetError: when a video has different lengths or different actors in two files.
    """
    seen: dict[str, list[_Video]] = {}
    notes: list[str] = []
    for part in parts:
        records, note = _videos_of(part, split)
        if note:
            notes.append(note)
        for video, record in records:
            seen.setdefault(video, []).append(record)
    _refuse_missing_lengths(seen)
    videos: dict[str, dict[str, Any]] = {}
    labelled_from: set[str] = set()
    for video, records in seen.items():
        lengths = {r.source: r.num_frames for r in records if r.num_frames is not None}
        n = _one_length(video, lengths)
        actors = _same_actors(video, records, n)
        marked = [r.labelled for r in records if r.labelled is not None]
        labelled = np.unique(np.concatenate(marked)) if marked else np.empty(0, dtype=np.int64)
        if labelled.size and labelled[-1] >= n:
            source = next(r.source for r in records if r.labelled is not None)
            raise DatasetError(
                f"{source}: video {video!r}: labelled frame {int(labelled[-1])} lies beyond its "
                f"{n} frames ({', '.join(lengths)})"
            )
        labelled_from.update(r.source for r in records if r.labelled is not None)
        videos[video] = {
            "num_frames": n,
            "labelled": labelled.tolist(),
            "actors": actors.tolist(),
        }
    for source in sorted(labelled_from):
        notes.append(f"{source}: its annotated-frame lists are the labelled frames")
    return {"videos": videos, "notes": notes}


def _refuse_missing_lengths(seen: Mapping[str, Sequence[_Video]]) -> None:
    """Raise, naming the file, when some video's length is given by no file."""
    missing: dict[str, list[str]] = {}
    for video, records in seen.items():
        if all(r.num_frames is None for r in records):
            missing.setdefault(records[0].source, []).append(video)
    if not missing:
        return
    source, videos = next(iter(missing.items()))
    raise ConfigError(
        f"{source} stores no video lengths, and no other --annotations file gives the length of "
        f"{len(videos):,} of its videos (e.g. {videos[0]!r}); the last annotated frame is not the "
        "end of a video, so add the file that stores the lengths (UCF-101-24: trainAnnot.mat or "
        "finalAnnots.mat, field num_imgs; or an ACT *-GT.pkl, nframes)"
    )


def _one_length(video: str, lengths: Mapping[str, int]) -> int:
    values = set(lengths.values())
    if len(values) > 1:
        detail = ", ".join(f"{n} in {s}" for s, n in lengths.items())
        raise DatasetError(f"video {video!r} has different lengths: {detail}")
    return values.pop()


def _same_actors(video: str, records: Sequence[_Video], num_frames: int) -> np.ndarray:
    """The actors per frame, checked to agree across the files that annotate ``video``."""
    first = records[0]
    for r in records:
        last = max((t.end for t in r.tubes), default=-1)
        if last >= num_frames:
            raise DatasetError(
                f"{r.source}: video {video!r} is annotated up to frame {last} (0-based), beyond "
                f"its {num_frames} frames"
            )
    counts = actor_counts(first.tubes, num_frames)
    for r in records[1:]:
        other = actor_counts(r.tubes, num_frames)
        if not np.array_equal(counts, other):
            frame = int(np.flatnonzero(counts != other)[0])
            raise DatasetError(
                f"video {video!r} has {counts[frame]} actor(s) on frame {frame} in "
                f"{first.source} but {other[frame]} in {r.source}"
            )
    return counts
