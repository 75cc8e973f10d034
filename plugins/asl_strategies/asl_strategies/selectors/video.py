"""Sample-level selection: annotate whole videos, ranked by mean frame score (paper §4.4,
"sample vs. frame selection").

The paper's baseline averages each video's frame uncertainties (eq. 1) into one video score and
annotates entire videos. With a frame budget the last video rarely fits; here it is annotated
partially, by greedy re-scoring within it, so the selector spends exactly the budget like the
frame-level selectors and their learning curves compare at equal cost.
"""

from __future__ import annotations

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

from ._common import check_budget, greedy_in_video, initial_labelled, make_selection, score_video

__all__ = ["VideoSelector", "video_select"]


def video_select(
    stats: Mapping[str, FrameStats], labels: LabelState, budget: int, scorer: Scorer
) -> Selection:
    """Annotate all unlabelled frames of the videos with the highest mean score.

    Videos are ranked by the mean score of their unlabelled frames (``scorer.score`` with the
    current labels), descending, ties to the lowest pool position; fully labelled videos are
    skipped. In rank order, a video whose unlabelled frames all fit in the remaining budget gets
    all of them; the first one that does not fit gets the remaining budget, chosen greedily with
    re-scoring (highest score, lowest frame on ties), and selection stops there. A smaller,
    lower-ranked video that would have fitted is not used instead: ranking, not packing, decides.

    Args:
        stats: per-video statistics, in pool order; the keys are the video ids.
        labels: current labels; human-labelled frames are never candidates.
        budget: frames to pick (>= 0); exactly ``min(budget, unlabelled frames)`` are picked.
        scorer: the scorer.

    Returns:
        A Selection ordered by video rank; a whole video's frames in increasing frame order with
        their ranking-time scores, the partial video's frames in pick order with their scores
        when picked.

    Raises:
        ValueError: if ``budget`` is negative.
        PluginContractError: if the scorer returns scores of the wrong shape or non-finite ones.
    """
    budget = check_budget(budget)
    if budget == 0:
        return Selection.empty()
    videos = list(stats)
    # (-mean score, position, unlabelled frames, scores, labelled)
    ranked: list[tuple[float, int, np.ndarray, np.ndarray, np.ndarray]] = []
    for pos, video in enumerate(videos):
        st = stats[video]
        lab = initial_labelled(video, labels, st.num_frames)
        if lab.size >= st.num_frames:
            continue
        sc = score_video(scorer, st, video, lab, st.num_frames)
        free = np.setdiff1d(np.arange(st.num_frames, dtype=np.int64), lab, assume_unique=True)
        ranked.append((-float(sc[free].mean()), pos, free, sc, lab))
    ranked.sort(key=lambda item: (item[0], item[1]))

    refs: list[FrameRef] = []
    picked: list[float] = []
    remaining = budget
    for _, pos, free, sc, lab in ranked:
        if remaining == 0:
            break
        video = videos[pos]
        if free.size <= remaining:
            refs.extend(FrameRef(video, int(f)) for f in free)
            picked.extend(sc[free].tolist())
            remaining -= free.size
        else:
            frames, frame_scores = greedy_in_video(scorer, stats[video], video, lab, remaining, sc)
            refs.extend(FrameRef(video, f) for f in frames)
            picked.extend(frame_scores)
            remaining = 0
    return make_selection(refs, picked)


class VideoSelector(SelectorBase):
    """Whole-video (sample-level) selection baseline (see :func:`video_select`).

    Deterministic; ``rng`` is unused.
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
        """Return :func:`video_select` of the arguments (by video rank)."""
        return video_select(stats, labels, budget, scorer)
