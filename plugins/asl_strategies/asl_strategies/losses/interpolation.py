"""Interpolation loss (paper §3.2): every frame trains on its (pseudo-)label with equal weight."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from asl_core import NoParams, SparseLossBase

from .._frames import check_labelled

__all__ = ["InterpolationLoss", "interpolation_weights"]


def interpolation_weights(num_frames: int, labelled: ArrayLike) -> np.ndarray:
    """Weight 1 on every frame when the video has a labelled frame, else 0 everywhere.

    Unlabelled frames are trained on pseudo-labels interpolated from their labelled neighbours
    (made by the Task), so they exist only when at least one frame is labelled.

    Args:
        num_frames: ``F``.
        labelled: sorted, unique labelled frame indices in ``[0, F)``.

    Returns:
        ``float64[F]``, all ones or (no labelled frame) all zeros.

    Raises:
        ValueError: if ``labelled`` is out of range, unsorted or repeated.
    """
    lab = check_labelled(num_frames, labelled)
    return np.full(num_frames, 1.0 if lab.size else 0.0)


class InterpolationLoss(SparseLossBase):
    """Equal weight on labelled frames and interpolated pseudo-labels (§3.2).

    Uses every frame but trusts noisy pseudo-labels as much as real ones; this is the
    ``sigma -> infinity`` limit of MGW (eq. 4). ``reduce`` is SparseLossBase's weighted mean.
    """

    Params = NoParams

    def frame_weights(self, num_frames: int, labelled: np.ndarray) -> np.ndarray:
        """``float64[F]``: :func:`interpolation_weights`."""
        return interpolation_weights(num_frames, labelled)
