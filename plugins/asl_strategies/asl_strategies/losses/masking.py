"""Masking loss (paper §3.2): only labelled frames contribute to the localisation loss."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from asl_core import NoParams, SparseLossBase

from .._frames import check_labelled

__all__ = ["MaskingLoss", "masking_weights"]


def masking_weights(num_frames: int, labelled: ArrayLike) -> np.ndarray:
    """The mask ``beta`` of §3.2: 1 on labelled frames, 0 elsewhere.

    Args:
        num_frames: ``F``.
        labelled: sorted, unique labelled frame indices in ``[0, F)``.

    Returns:
        ``float64[F]`` of zeros and ones.

    Raises:
        ValueError: if ``labelled`` is out of range, unsorted or repeated.
    """
    lab = check_labelled(num_frames, labelled)
    weights = np.zeros(num_frames, dtype=np.float64)
    weights[lab] = 1.0
    return weights


class MaskingLoss(SparseLossBase):
    """``L_l = sum_i beta_i L_l^i`` with ``beta`` = 1 on labelled frames only (§3.2).

    Pseudo-labels are ignored entirely; this is the ``sigma -> 0`` limit of MGW (eq. 4).
    ``reduce`` is SparseLossBase's weighted mean.
    """

    Params = NoParams

    def frame_weights(self, num_frames: int, labelled: np.ndarray) -> np.ndarray:
        """``float64[F]``: :func:`masking_weights`."""
        return masking_weights(num_frames, labelled)
