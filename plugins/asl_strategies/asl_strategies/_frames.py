"""Frame-index helpers shared by the strategies (private to this package)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["check_labelled", "nearest_labelled_distance"]


def check_labelled(num_frames: int, labelled: ArrayLike) -> np.ndarray:
    """Validate labelled frame indices of a video and return them as ``int64[K]``.

    Args:
        num_frames: ``F`` (>= 0).
        labelled: strictly increasing frame indices in ``[0, F)``, as the interfaces pass them.

    Returns:
        ``int64[K]``, the same indices (a view when already ``int64``).

    Raises:
        ValueError: if ``F`` is negative or an index is not an integer, out of range, repeated
            or out of order.
    """
    if num_frames < 0:
        raise ValueError(f"num_frames must be >= 0, got {num_frames}")
    raw = np.asarray(labelled)
    if raw.size and raw.dtype.kind not in "iu":
        # a cast would silently truncate 2.5 to frame 2
        raise ValueError(f"labelled frames must be integers, got dtype {raw.dtype}")
    lab = raw.astype(np.int64, copy=False).reshape(-1)
    if lab.size:
        if lab[0] < 0 or lab[-1] >= num_frames:
            raise ValueError(f"labelled frames must lie in [0, {num_frames}), got {lab.tolist()}")
        # np.searchsorted below silently gives wrong distances on unsorted input
        if lab.size > 1 and not np.all(lab[1:] > lab[:-1]):
            raise ValueError(f"labelled frames must be sorted and unique, got {lab.tolist()}")
    return lab


def nearest_labelled_distance(num_frames: int, labelled: ArrayLike) -> np.ndarray:
    """Distance in frames from every frame to its nearest labelled frame.

    Vectorised with ``np.searchsorted``: ``O(F log K)`` and no Python loop over frames.

    Args:
        num_frames: ``F``.
        labelled: sorted, unique frame indices in ``[0, F)`` (``K`` of them).

    Returns:
        ``float64[F]``: ``min_j |i - labelled[j]|`` for frame ``i``; ``+inf`` everywhere when
        ``K == 0`` (no labelled frame is infinitely far), 0 on labelled frames.

    Raises:
        ValueError: see :func:`check_labelled`.
    """
    lab = check_labelled(num_frames, labelled)
    if lab.size == 0:
        return np.full(num_frames, np.inf)
    frames = np.arange(num_frames, dtype=np.int64)
    right = np.searchsorted(lab, frames)  # first labelled frame >= i (== K past the last one)
    after = lab[np.minimum(right, lab.size - 1)]
    before = lab[np.maximum(right - 1, 0)]
    # at either end both neighbours are the same labelled frame, so abs() gives the right side
    return np.minimum(np.abs(after - frames), np.abs(frames - before)).astype(np.float64)
