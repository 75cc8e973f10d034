"""Random frame selection (paper §4.1 baseline): every frame gets an independent uniform score."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from asl_core import FrameStats, NoParams, ScorerBase, VideoInfo

__all__ = ["RandomScorer", "random_frame_values"]

#: name of the per-frame array in the FrameStats this scorer produces
VALUES_KEY = "r"


def random_frame_values(num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Draw one uniform value per frame.

    Args:
        num_frames: ``F``.
        rng: the only source of randomness.

    Returns:
        ``float64[F]``, independent draws from ``U[0, 1)``.
    """
    return rng.random(num_frames)


class RandomScorer(ScorerBase):
    """Scores frames with values drawn once per cycle in :meth:`frame_stats`.

    With any selector that takes the highest scores this is uniformly random selection: the
    ``b`` frames with the largest of i.i.d. uniform values are a uniform random ``b``-subset of
    the candidates (the global selector) or of each video's candidates (the local selector).
    The scores ignore the labels, so re-scoring after a pick changes nothing.

    It needs no model output (``requires`` is empty), so the loop runs no inference.
    """

    Params = NoParams
    requires: ClassVar[frozenset[str]] = frozenset()

    def frame_stats(
        self, video: VideoInfo, outputs: Mapping[str, np.ndarray], rng: np.random.Generator
    ) -> FrameStats:
        """Draw the video's frame values: ``FrameStats`` with ``r = float64[F]`` in ``[0, 1)``."""
        values = random_frame_values(video.num_frames, rng)
        return FrameStats.of(video.id, video.num_frames, **{VALUES_KEY: values})

    def score(self, stats: FrameStats, labelled: np.ndarray, num_frames: int) -> np.ndarray:
        """Return the values drawn by :meth:`frame_stats` (``float64[F]``), whatever the labels.

        Raises:
            ValueError: if ``stats`` were not produced by :meth:`frame_stats`.
        """
        if VALUES_KEY not in stats.values:
            raise ValueError(
                f"RandomScorer: stats of video {stats.video!r} have no {VALUES_KEY!r} array; "
                "they were not made by RandomScorer.frame_stats"
            )
        return np.array(stats.values[VALUES_KEY], dtype=np.float64)
