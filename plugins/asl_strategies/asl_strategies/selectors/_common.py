"""Helpers shared by the selectors: budget check, checked scoring, greedy picks in one video."""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np

from asl_core import FrameRef, FrameStats, LabelState, PluginContractError, Scorer, Selection

__all__ = [
    "add_frame",
    "best_unlabelled",
    "check_budget",
    "greedy_in_video",
    "initial_labelled",
    "make_selection",
    "score_video",
]


def check_budget(budget: int) -> int:
    """Return ``budget`` as an ``int``.

    Raises:
        TypeError: if it is not an integer.
        ValueError: if it is negative.
    """
    value = operator.index(budget)
    if value < 0:
        raise ValueError(f"budget must be >= 0, got {value}")
    return value


def initial_labelled(video: str, labels: LabelState, num_frames: int) -> np.ndarray:
    """The human-labelled frames of ``video`` (sorted ``int64``), checked against ``F``.

    Pseudo-labelled frames are not included: they were never bought, so they stay candidates.

    Raises:
        ValueError: if a labelled index is ``>= num_frames``.
    """
    lab = labels.labelled(video)
    if lab.size and lab[-1] >= num_frames:
        raise ValueError(
            f"video {video!r}: labelled frame {int(lab[-1])} is out of range for "
            f"{num_frames} frames"
        )
    return lab


def score_video(
    scorer: Scorer, stats: FrameStats, video: str, labelled: np.ndarray, num_frames: int
) -> np.ndarray:
    """Call ``scorer.score`` and check its contract.

    Args:
        scorer: the scorer.
        stats: the video's statistics.
        video: the video id (for messages).
        labelled: sorted ``int64`` labelled frames (including earlier picks of this selection).
        num_frames: ``F``.

    Returns:
        ``float64[F]`` finite scores.

    Raises:
        PluginContractError: naming the scorer and the video, when the scores do not have shape
            ``(F,)`` or contain NaN or infinity.
    """
    raw = scorer.score(stats, labelled, num_frames)
    name = type(scorer).__name__
    try:
        scores = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise PluginContractError(
            f"scorer {name} returned scores that are not numeric for video {video!r}: {exc}"
        ) from exc
    if scores.shape != (num_frames,):
        raise PluginContractError(
            f"scorer {name} returned scores of shape {scores.shape} for video {video!r}; "
            f"expected ({num_frames},)"
        )
    bad = ~np.isfinite(scores)
    if bad.any():
        frames = np.flatnonzero(bad)[:5].tolist()
        raise PluginContractError(
            f"scorer {name} returned non-finite scores for video {video!r} at frames {frames}"
        )
    return scores


def best_unlabelled(scores: np.ndarray, labelled: np.ndarray) -> int:
    """Index of the highest-scoring unlabelled frame, the lowest index on ties; -1 if none.

    Args:
        scores: ``float64[F]`` finite scores.
        labelled: sorted, unique ``int64`` labelled frames in ``[0, F)``.
    """
    if labelled.size >= scores.size:
        return -1
    masked = scores.copy()
    masked[labelled] = -np.inf  # scores are finite, so an unlabelled frame always wins
    return int(np.argmax(masked))  # argmax returns the first maximum: the lowest frame


def add_frame(labelled: np.ndarray, frame: int) -> np.ndarray:
    """A new read-only sorted array with ``frame`` inserted into ``labelled``."""
    i = int(np.searchsorted(labelled, frame))
    # concatenate, not np.insert: the arrays are tiny and np.insert's generic axis handling
    # cost more than the scoring it sits next to (a fifth of global selection's time)
    out = np.concatenate((labelled[:i], np.array([frame], dtype=np.int64), labelled[i:]))
    # scorers receive it: make a scorer that writes into its input fail loudly
    out.setflags(write=False)
    return out


def greedy_in_video(
    scorer: Scorer,
    stats: FrameStats,
    video: str,
    labelled: np.ndarray,
    count: int,
    scores: np.ndarray | None = None,
) -> tuple[list[int], list[float]]:
    """Pick ``count`` frames of one video greedily, re-scoring after each pick.

    Each step takes the highest-scoring unlabelled frame (lowest index on ties), adds it to the
    labelled frames and calls ``scorer.score`` again, so adaptive scorers (APU's eq. 2-3,
    equidistant) see the earlier picks.

    Args:
        scorer: the scorer.
        stats: the video's statistics.
        video: the video id.
        labelled: its sorted labelled frames before this selection.
        count: how many frames to pick (at most the number of unlabelled frames).
        scores: the scores for ``labelled`` when the caller already has them (saves a call).

    Returns:
        ``(frames, scores)`` in pick order; each score is the frame's score when it was picked.
    """
    frames: list[int] = []
    picked_scores: list[float] = []
    if count <= 0:
        return frames, picked_scores
    num_frames = stats.num_frames
    if scores is None:
        scores = score_video(scorer, stats, video, labelled, num_frames)
    for step in range(count):
        frame = best_unlabelled(scores, labelled)
        if frame < 0:
            break
        frames.append(frame)
        picked_scores.append(float(scores[frame]))
        labelled = add_frame(labelled, frame)
        if step + 1 < count:  # the last pick needs no re-scoring
            scores = score_video(scorer, stats, video, labelled, num_frames)
    return frames, picked_scores


def make_selection(refs: Sequence[FrameRef], scores: Sequence[float]) -> Selection:
    """A :class:`Selection` (``Selection.empty()`` when nothing was picked)."""
    if not refs:
        return Selection.empty()
    return Selection(frames=tuple(refs), scores=np.asarray(scores, dtype=np.float64))
