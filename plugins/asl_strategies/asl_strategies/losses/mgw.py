"""Max-Gaussian weighted loss, MGW (paper §3.2, eq. 4).

Pseudo-labels near a real label are more reliable than far ones, so each frame's localisation
loss is weighted by a Gaussian of its distance to the labelled frames: "the mask phi selects the
max distribution", i.e. the Gaussian of the closest labelled frame.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
from numpy.typing import ArrayLike

from asl_core import SparseLossBase

from .._frames import nearest_labelled_distance

__all__ = ["DEFAULT_SIGMA", "MGWLoss", "MGWParams", "mgw_weights"]

#: sigma of eq. 4 used in the paper's experiments (§4, "implementation details")
DEFAULT_SIGMA = 1.3


def mgw_weights(num_frames: int, labelled: ArrayLike, sigma: float = DEFAULT_SIGMA) -> np.ndarray:
    """Frame weights of eq. 4: ``w_i = max_j exp(-0.5 ((i - mu_j) / sigma)^2)``.

    All Gaussians have the same ``sigma`` and peak 1, so the maximum is the one centred on the
    labelled frame ``mu_j`` closest to ``i``; it is computed from the nearest-labelled distance
    (``np.searchsorted``), not by evaluating ``K`` Gaussians per frame.

    Limits: ``sigma -> 0`` gives masking (1 on labelled frames, 0 elsewhere); ``sigma -> inf``
    gives interpolation (1 everywhere).

    Args:
        num_frames: ``F``.
        labelled: sorted, unique labelled frame indices in ``[0, F)``.
        sigma: width of the Gaussians in frames (> 0). Defaults to 1.3, the paper's value.

    Returns:
        ``float64[F]`` in ``[0, 1]``: exactly 1 on labelled frames; all 0 when no frame is
        labelled (no pseudo-labels can be made).

    Raises:
        ValueError: if ``sigma`` is not a finite positive number, or ``labelled`` is invalid.
    """
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be finite and > 0, got {sigma}")
    dist = nearest_labelled_distance(num_frames, labelled)  # +inf everywhere when K == 0
    z = dist / sigma
    # a tiny sigma overflows z*z to inf, whose exp(-inf) = 0 is the right limit
    with np.errstate(over="ignore"):
        return np.exp(-0.5 * (z * z))


def _finite_positive(_inst: Any, attr: attrs.Attribute, value: float) -> None:  # type: ignore[type-arg]
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{attr.name} must be finite and > 0, got {value}")


@attrs.frozen
class MGWParams:
    """Parameters of :class:`MGWLoss`.

    Attributes:
        sigma: width of the Gaussians of eq. 4, in frames (> 0). Defaults to 1.3 (paper §4).
    """

    sigma: float = attrs.field(default=DEFAULT_SIGMA, converter=float, validator=_finite_positive)


class MGWLoss(SparseLossBase):
    """Max-Gaussian weighted localisation loss (eq. 4), ``reduce`` = weighted mean.

    Build with ``MGWLoss()``, ``MGWLoss(MGWParams(sigma=2.0))`` or
    ``MGWLoss.from_config({"sigma": 2.0})``.
    """

    Params = MGWParams
    params: MGWParams

    def frame_weights(self, num_frames: int, labelled: np.ndarray) -> np.ndarray:
        """``float64[F]``: :func:`mgw_weights` with this loss's ``sigma``."""
        return mgw_weights(num_frames, labelled, self.params.sigma)
