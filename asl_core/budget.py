"""Budget arithmetic: how many frames the initial labels and each cycle may buy.

All numbers are frame counts derived from :class:`~asl_core.config.BudgetParams` percentages,
or from its annotation costs through the mean cost of a frame bought so far (:func:`next_budget`).
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
        cost: with a cost budget, the cost this cycle aims to spend (``frames`` is that cost
            divided by the expected cost of a frame); ``None`` with a frame budget.
    """

    frames: int
    requested: int
    reason: str = ""
    cost: float | None = None


def next_budget(
    params: BudgetParams,
    *,
    cycles_done: int,
    labelled: int,
    total: int,
    spent: float = 0.0,
    initial_spent: float = 0.0,
    initial_frames: int | None = None,
) -> NextBudget:
    """Frames the next selection cycle buys.

    With a frame budget (``step_pct``) that is ``step_pct`` % of the pool, clipped to
    ``total_pct`` and to the unlabelled frames.

    With a cost budget (``step_cost``) the cost of a frame is only known once it is annotated
    (a person decides how many actors to box), so the cost is turned into frames before the
    purchase: ``frames = round(target / c̄)`` where ``c̄`` is the mean cost of a frame bought
    by the selection cycles so far (``(spent - initial_spent) / (labelled - initial_frames)``),
    or of the initial random frames before the first cycle: a strategy that seeks frames with
    many actors pays more per frame than the pool's average, and its own purchases show that.
    ``target`` is what keeps the **cumulative** spend of the
    selection cycles on schedule: ``(cycles_done + 1) * step_cost - (spent - initial_spent)``.
    A cycle that over- or under-spent its estimate is thus corrected by the next one, and after
    ``k`` cycles the spend is ``k * step_cost`` give or take one cycle's estimation error. The
    target is clipped to ``total_cost - spent``, and the run stops when that is less than half a
    frame's cost; otherwise every cycle buys at least one frame. Because the
    count is fixed before the oracle is asked, the selection and the ledger stay exactly as with
    a frame budget: resume, the selectors and batch annotation exchanges are unaffected.

    Args:
        params: the schedule.
        cycles_done: selection cycles already completed (0 right after the initial labels).
        labelled: human-labelled frames so far.
        total: frames in the pool.
        spent: annotation cost of every purchase so far, the initial labels included.
        initial_spent: the part of ``spent`` paid for the initial labels.
        initial_frames: how many of the ``labelled`` frames were the initial labels
            (``None``: all of them when ``cycles_done == 0``, else an error with a cost budget).

    Raises:
        ValueError: with a cost budget when nothing bought so far had a positive cost, so no
            cost per frame can be estimated.
    """
    if params.cycles is not None and cycles_done >= params.cycles:
        return NextBudget(0, 0, f"all {params.cycles} cycles done")
    if params.total_cost is not None and spent >= params.total_cost:
        return NextBudget(
            0, 0, f"total cost budget of {params.total_cost:g} reached (spent {spent:g})"
        )
    target: float | None = None
    reason = ""
    if params.step_cost is not None:
        if initial_frames is None:
            if cycles_done:
                raise ValueError("next_budget: a cost budget after cycle 0 needs initial_frames")
            initial_frames = labelled
        bought = labelled - initial_frames
        if bought > 0 and spent - initial_spent > 0:
            per_frame = (spent - initial_spent) / bought
        elif initial_frames > 0 and initial_spent > 0:
            per_frame = initial_spent / initial_frames
        else:
            raise ValueError(
                f"budget.step_cost={params.step_cost:g}: the {labelled} frames bought so far cost "
                "nothing, so the cost of a frame cannot be estimated; give the oracle a per-frame "
                "cost (e.g. oracle.frame_overhead) or budget in frames (budget.step_pct)"
            )
        target = (cycles_done + 1) * params.step_cost - (spent - initial_spent)
        if params.total_cost is not None and params.total_cost - spent < target:
            target = params.total_cost - spent
            if round_half_up(target / per_frame) == 0:
                # what is left buys less than half a frame: spending it would be a whole cycle
                # (training, scoring) for one frame over the budget
                return NextBudget(
                    0,
                    0,
                    f"total cost budget of {params.total_cost:g} reached: the {target:g} left "
                    f"is under half the cost of a frame ({per_frame:.3g})",
                    target,
                )
            reason = f"last step clipped to the total cost budget of {params.total_cost:g}"
        step = max(1, round_half_up(target / per_frame))
        requested = step
    else:
        step = max(1, round_half_up(total * params.step_pct / 100.0))
        requested = step
    if params.total_pct is not None:
        cap = round_half_up(total * params.total_pct / 100.0)
        if labelled >= cap:
            return NextBudget(
                0, requested, f"total budget of {params.total_pct:g}% ({cap} frames) reached"
            )
        if cap - labelled < step:
            step = cap - labelled
            reason = f"last step clipped to the total budget of {params.total_pct:g}%"
    unlabelled = total - labelled
    if unlabelled <= 0:
        return NextBudget(0, requested, "every frame of the pool is labelled", target)
    if unlabelled < step:
        reason = f"only {unlabelled} unlabelled frames left; taking all of them"
        step = unlabelled
    return NextBudget(step, requested, reason, target)
