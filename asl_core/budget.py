"""Budget arithmetic: how many frames the initial labels and each cycle may buy.

All numbers are frame counts derived from :class:`~asl_core.config.BudgetParams` percentages.
Rounding is half-up (``floor(x + 0.5)``), never banker's rounding, so 2.5 frames are 3.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from attrs import frozen

from .config import BudgetParams
from .types import FrameRef, Selection, VideoInfo

__all__ = ["NextBudget", "initial_count", "initial_selection", "next_budget", "round_half_up"]


def round_half_up(x: float) -> int:
    """Round to the nearest integer, halves up."""
    return math.floor(x + 0.5)


def initial_count(num_frames: int, init_pct: float) -> int:
    """Frames labelled at random in a video of ``num_frames`` before the first cycle.

    ``init_pct`` % of the video, rounded half-up, at least 1 (every video of the pool has a
    class label and needs one localised frame to be trained on) and at most ``num_frames``.
    """
    return min(num_frames, max(1, round_half_up(num_frames * init_pct / 100.0)))


def initial_selection(
    pool: Sequence[VideoInfo], init_pct: float, rng: np.random.Generator
) -> Selection:
    """The random initial labels: :func:`initial_count` frames per video, uniformly without
    replacement, videos in pool order, frames ascending within a video."""
    frames: list[FrameRef] = []
    for video in pool:
        n = initial_count(video.num_frames, init_pct)
        chosen = np.sort(rng.choice(video.num_frames, size=n, replace=False))
        frames.extend(FrameRef(video.id, int(f)) for f in chosen)
    return Selection(frames=frames, scores=np.zeros(len(frames)))


@frozen
class NextBudget:
    """The budget of the next cycle and, when it is 0, why the run stops.

    Attributes:
        frames: frames to buy next (0: stop).
        requested: what the schedule asked for before clipping to the pool.
        reason: why the run stops (``frames == 0``) or why ``frames < requested``; ``""`` else.
    """

    frames: int
    requested: int
    reason: str = ""


def next_budget(params: BudgetParams, *, cycles_done: int, labelled: int, total: int) -> NextBudget:
    """Frames the next selection cycle buys.

    Args:
        params: the schedule.
        cycles_done: selection cycles already completed (0 right after the initial labels).
        labelled: human-labelled frames so far.
        total: frames in the pool.
    """
    if params.cycles is not None and cycles_done >= params.cycles:
        return NextBudget(0, 0, f"all {params.cycles} cycles done")
    step = max(1, round_half_up(total * params.step_pct / 100.0))
    requested = step
    reason = ""
    if params.total_pct is not None:
        cap = round_half_up(total * params.total_pct / 100.0)
        if labelled >= cap:
            return NextBudget(
                0, step, f"total budget of {params.total_pct:g}% ({cap} frames) reached"
            )
        if cap - labelled < step:
            step = cap - labelled
            reason = f"last step clipped to the total budget of {params.total_pct:g}%"
    unlabelled = total - labelled
    if unlabelled <= 0:
        return NextBudget(0, requested, "every frame of the pool is labelled")
    if unlabelled < step:
        reason = f"only {unlabelled} unlabelled frames left; taking all of them"
        step = unlabelled
    return NextBudget(step, requested, reason)
