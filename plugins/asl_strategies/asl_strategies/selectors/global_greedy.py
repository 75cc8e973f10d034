"""Global greedy selection over all frames of all videos (paper §3.1, "informative frame
selection"; §4.4 "local vs. global").

The paper selects "the frame with highest score globally and then score[s] the remaining frames
again with the adapted distance measure". :func:`naive_global_select` does exactly that: after
every pick it re-scores every video. :func:`global_select` returns the identical selection much
faster: a video's scores depend only on its own statistics and labelled frames, so after a pick
only the picked video can change, and the global maximum is the maximum of per-video maxima kept
in a heap.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

import numpy as np

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
    add_frame,
    best_unlabelled,
    check_budget,
    initial_labelled,
    make_selection,
    score_video,
)

__all__ = ["GlobalSelector", "global_select", "naive_global_select"]


def global_select(
    stats: Mapping[str, FrameStats], labels: LabelState, budget: int, scorer: Scorer
) -> Selection:
    """Exact global greedy selection with re-scoring, using a heap of per-video best frames.

    Returns exactly what :func:`naive_global_select` returns. The heap holds one entry per video
    that still has an unlabelled frame, keyed ``(-score, video position, frame)`` for that video's
    best frame (highest score, lowest frame on ties), so popping the smallest key is the naive
    global argmax with ties to the lowest ``(video position, frame)``. After a pick only that
    video is re-scored and its new best pushed; every other entry stays valid because a video's
    scores depend only on its own statistics and labelled frames.

    Cost: one ``scorer.score`` per video, then one per pick, each ``O(F)``, plus ``O(log N)`` heap
    work per pick (the naive version is ``O(budget x total frames)``).

    Args:
        stats: per-video statistics, in pool order; the keys are the video ids.
        labels: current labels; human-labelled frames are never candidates.
        budget: frames to pick (>= 0); when fewer frames are unlabelled, all of them.
        scorer: gives each video's ``float64[F]`` scores for its labelled frames, where frames
            picked earlier in this selection count as labelled.

    Returns:
        A Selection in pick order; ``scores`` holds each frame's score when it was picked.

    Raises:
        ValueError: if ``budget`` is negative.
        PluginContractError: if the scorer returns scores of the wrong shape or non-finite ones.
    """
    budget = check_budget(budget)
    if budget == 0:
        return Selection.empty()
    videos = list(stats)
    labelled: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    heap: list[tuple[float, int, int]] = []
    for pos, video in enumerate(videos):
        st = stats[video]
        lab = initial_labelled(video, labels, st.num_frames)
        labelled.append(lab)
        if lab.size >= st.num_frames:  # fully labelled: never scored
            scores.append(np.empty(0))
            continue
        sc = score_video(scorer, st, video, lab, st.num_frames)
        scores.append(sc)
        best = best_unlabelled(sc, lab)
        heap.append((-float(sc[best]), pos, best))
    heapq.heapify(heap)

    refs: list[FrameRef] = []
    picked: list[float] = []
    while heap and len(refs) < budget:
        _, pos, frame = heapq.heappop(heap)
        video = videos[pos]
        refs.append(FrameRef(video, frame))
        picked.append(float(scores[pos][frame]))
        if len(refs) == budget:  # the last pick needs no re-scoring
            break
        st = stats[video]
        labelled[pos] = lab = add_frame(labelled[pos], frame)
        if lab.size >= st.num_frames:
            continue
        scores[pos] = sc = score_video(scorer, st, video, lab, st.num_frames)
        best = best_unlabelled(sc, lab)
        heapq.heappush(heap, (-float(sc[best]), pos, best))
    return make_selection(refs, picked)


def naive_global_select(
    stats: Mapping[str, FrameStats], labels: LabelState, budget: int, scorer: Scorer
) -> Selection:
    """Reference global greedy selection: re-score every video after every pick.

    Each step scores every video given its labelled frames plus the frames already picked,
    takes the highest score over all unlabelled frames, ties to the lowest
    ``(video position in pool order, frame)``, and marks it labelled. ``O(budget x total
    frames)``: for tests and benchmarks of :func:`global_select`, which must return the same.

    Args and Returns: as :func:`global_select`.
    """
    budget = check_budget(budget)
    videos = list(stats)
    labelled = [initial_labelled(v, labels, stats[v].num_frames) for v in videos]
    refs: list[FrameRef] = []
    picked: list[float] = []
    for _ in range(budget):
        best: tuple[float, int, int] | None = None  # (score, position, frame)
        for pos, video in enumerate(videos):
            st = stats[video]
            if labelled[pos].size >= st.num_frames:
                continue
            sc = score_video(scorer, st, video, labelled[pos], st.num_frames)
            frame = best_unlabelled(sc, labelled[pos])
            # strictly greater: an equal score in a later video loses the tie
            if best is None or sc[frame] > best[0]:
                best = (float(sc[frame]), pos, frame)
        if best is None:
            break
        score, pos, frame = best
        refs.append(FrameRef(videos[pos], frame))
        picked.append(score)
        labelled[pos] = add_frame(labelled[pos], frame)
    return make_selection(refs, picked)


class GlobalSelector(SelectorBase):
    """Exact greedy selection over the whole pool with re-scoring (see :func:`global_select`).

    Videos compete for the budget, so informative videos receive more frames than others (the
    paper's preferred strategy, §4.4 and figure 6a-b). Deterministic; ``rng`` is unused.
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
        """Return :func:`global_select` of the arguments (frames in pick order)."""
        return global_select(stats, labels, budget, scorer)
