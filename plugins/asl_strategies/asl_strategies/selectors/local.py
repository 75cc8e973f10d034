"""Local selection: the budget split evenly over videos, greedy within each (paper §4.4).

"In local selection, each video has a fixed budget b / N^v, where b is budget per cycle and N^v is
the total number of videos." Integer budgets need two rules the paper leaves open, fixed here by
:func:`local_quotas`: what happens to the remainder of ``b mod N`` and to the share of a video
that has fewer unlabelled frames than its share.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

from asl_core import (
    FrameRef,
    FrameStats,
    LabelState,
    NoParams,
    Scorer,
    Selection,
    SelectorBase,
)

from ._common import (
    best_unlabelled,
    check_budget,
    greedy_in_video,
    initial_labelled,
    make_selection,
    score_video,
)

__all__ = ["LocalSelector", "local_quotas", "local_select"]


def local_quotas(capacities: ArrayLike, best_scores: ArrayLike, budget: int) -> np.ndarray:
    """Split ``budget`` frames evenly over videos that can take at most ``capacities`` each.

    The result is the even split ``b / N`` with capped shares handed back out evenly, which is
    "water-filling": every video gets ``min(capacity, L)`` frames for the largest level ``L``
    whose total fits the budget. The ``r`` frames still left (``r`` is smaller than the number
    of videos with ``capacity > L``) go one each to the ``r`` videos with ``capacity > L`` whose
    ``best_scores`` are highest, ties to the lowest position. Without capped videos this is
    exactly ``b // N`` each plus one extra for the ``b mod N`` highest-scoring videos.

    Args:
        capacities: ``int[N]``, unlabelled frames of each video, in pool order.
        best_scores: ``float[N]``, each video's highest unlabelled-frame score (any value for a
            video with capacity 0).
        budget: frames to hand out (>= 0).

    Returns:
        ``int64[N]`` quotas with ``0 <= quota <= capacity`` and
        ``sum == min(budget, sum(capacities))``.

    Raises:
        ValueError: if ``budget`` or a capacity is negative, or the shapes differ.
    """
    budget = check_budget(budget)
    caps = np.asarray(capacities, dtype=np.int64).reshape(-1)
    best = np.asarray(best_scores, dtype=np.float64).reshape(-1)
    if caps.shape != best.shape:
        raise ValueError(f"capacities {caps.shape} and best_scores {best.shape} differ in shape")
    if caps.size and caps.min() < 0:
        raise ValueError(f"capacities must be >= 0, got {caps.tolist()}")
    total = min(budget, int(caps.sum()))
    if total == 0:
        return np.zeros(caps.size, dtype=np.int64)
    # largest level L with sum(min(caps, L)) <= total, by bisection on [0, max cap]
    lo, hi = 0, int(caps.max())
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if int(np.minimum(caps, mid).sum()) <= total:
            lo = mid
        else:
            hi = mid - 1
    quotas = np.minimum(caps, lo)
    rest = total - int(quotas.sum())
    if rest:
        open_videos = np.flatnonzero(caps > lo)
        # lexsort's last key is primary: highest score first, then lowest position
        order = open_videos[np.lexsort((open_videos, -best[open_videos]))]
        quotas[order[:rest]] += 1
    return quotas


def local_select(
    stats: Mapping[str, FrameStats], labels: LabelState, budget: int, scorer: Scorer
) -> Selection:
    """Per-video budgets (:func:`local_quotas`), greedy with re-scoring inside each video.

    Each video is scored once with its current labels; its best unlabelled score ranks it for
    the remainder frames. Then each video picks its quota greedily: the highest-scoring
    unlabelled frame (lowest index on ties), re-scoring the video after each pick.

    Args:
        stats: per-video statistics, in pool order; the keys are the video ids.
        labels: current labels; human-labelled frames are never candidates.
        budget: frames to pick (>= 0); exactly ``min(budget, unlabelled frames)`` are picked.
        scorer: the scorer.

    Returns:
        A Selection ordered by video in pool order and, within a video, in pick order; ``scores``
        holds each frame's score when it was picked.

    Raises:
        ValueError: if ``budget`` is negative.
        PluginContractError: if the scorer returns scores of the wrong shape or non-finite ones.
    """
    budget = check_budget(budget)
    if budget == 0:
        return Selection.empty()
    videos = list(stats)
    labelled: list[np.ndarray] = []
    scores: list[np.ndarray | None] = []
    caps = np.zeros(len(videos), dtype=np.int64)
    best = np.zeros(len(videos), dtype=np.float64)
    for pos, video in enumerate(videos):
        st = stats[video]
        lab = initial_labelled(video, labels, st.num_frames)
        labelled.append(lab)
        caps[pos] = st.num_frames - lab.size
        if caps[pos] == 0:
            scores.append(None)
            continue
        sc = score_video(scorer, st, video, lab, st.num_frames)
        scores.append(sc)
        best[pos] = sc[best_unlabelled(sc, lab)]
    quotas = local_quotas(caps, best, budget)

    refs: list[FrameRef] = []
    picked: list[float] = []
    for pos, video in enumerate(videos):
        frames, frame_scores = greedy_in_video(
            scorer, stats[video], video, labelled[pos], int(quotas[pos]), scores[pos]
        )
        refs.extend(FrameRef(video, f) for f in frames)
        picked.extend(frame_scores)
    return make_selection(refs, picked)


class LocalSelector(SelectorBase):
    """Fixed per-video budget ``b / N`` with greedy re-scoring inside each video (see
    :func:`local_select`).

    Every video gets (almost) the same number of new frames whatever its utility: the paper's
    local strategy, which global selection outperforms (§4.4, figure 6a-b). Deterministic;
    ``rng`` is unused.
    """

    Params = NoParams

    def select(
        self,
        stats: Mapping[str, FrameStats],
        labels: LabelState,
        budget: int,
        scorer: Scorer,
        rng: np.random.Generator,
    ) -> Selection:
        """Return :func:`local_select` of the arguments (by video in pool order)."""
        return local_select(stats, labels, budget, scorer)
