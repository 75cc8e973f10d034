"""Equidistant frame selection (paper §4.1 baseline): frames far from labels and each other.

The paper says only that "equidistant uses equal distance between the frames during selection".
Here a frame's score is its distance to the nearest labelled frame; since selectors re-score a
video after every pick in it, greedy selection becomes farthest-point sampling, which spaces the
labelled frames of a video as evenly as integer positions allow.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from asl_core import FrameStats, NoParams, ScorerBase

from .._frames import check_labelled, nearest_labelled_distance

__all__ = ["EquidistantScorer", "equidistant_scores"]


def equidistant_scores(num_frames: int, labelled: ArrayLike) -> np.ndarray:
    """Distance of every frame to the nearest labelled frame, in frames.

    Scores are raw frame counts, deliberately not divided by ``F``: under global selection a gap
    of 40 frames in a long video must beat a gap of 10 frames in a short one, so the largest
    unlabelled gaps of the whole pool are filled first. Normalising by ``F`` would instead make
    short videos as attractive as long ones.

    With no labelled frame the score is the distance to the nearest edge of the video, taking
    the video to span ``[-0.5, F - 0.5]``: ``(F - |2i - (F - 1)|) / 2``. Its maximum, ``F / 2``,
    is at the middle frame (the lower middle one when ``F`` is even, by the lowest-index
    tie-break), so the first pick in an unlabelled video is its middle; after that the edges no
    longer count and the next picks fill the largest gaps, e.g. ``4, 0, 8, 2, 6, 1, 3, 5, 7``
    for ``F = 9``. ``F / 2`` is also about the largest gap any video with one label has, so an
    unlabelled video competes fairly with labelled ones in global selection.

    Args:
        num_frames: ``F``.
        labelled: sorted, unique indices of the labelled frames in ``[0, F)``.

    Returns:
        ``float64[F]``, >= 0; 0 on labelled frames.

    Raises:
        ValueError: if ``labelled`` is out of range, unsorted or repeated.
    """
    lab = check_labelled(num_frames, labelled)
    if lab.size == 0:
        frames = np.arange(num_frames, dtype=np.float64)
        return (num_frames - np.abs(2.0 * frames - (num_frames - 1))) / 2.0
    return nearest_labelled_distance(num_frames, lab)


class EquidistantScorer(ScorerBase):
    """Scores a frame by its distance to the nearest labelled frame (see
    :func:`equidistant_scores`).

    It needs no model output (``requires`` is empty, stats are empty), so the loop runs no
    inference. Use it with a re-scoring selector (all built-in ones re-score) to get even spacing.
    """

    Params = NoParams
    requires: ClassVar[frozenset[str]] = frozenset()

    def score(self, stats: FrameStats, labelled: np.ndarray, num_frames: int) -> np.ndarray:
        """``float64[F]``: :func:`equidistant_scores` of ``labelled``; ``stats`` is unused."""
        return equidistant_scores(num_frames, labelled)
