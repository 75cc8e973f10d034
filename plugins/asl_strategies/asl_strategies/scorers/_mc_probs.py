"""Checked, chunked access to Monte-Carlo dropout probabilities (private to the scorers).

The uncertainty scorers (``apu``, ``gal``, ``aghdam``) reduce ``mc_probs``, ``[T, F, C, H, W]``
(``T`` dropout trials, ``F`` frames, ``C`` classes with background in channel 0, ``H x W``
pixels), to one number per frame. A video's array can be large (``T = 10`` trials of 900 frames
of 224 x 224 pixels are 3.6 GB as float32), so the reductions walk it a few frames at a time:
:func:`checked_chunks` yields ``float64`` copies of at most :data:`CHUNK_ELEMENTS` values
(plus one frame when a single frame is larger), checks each for NaN, infinity and values outside
``[0, 1]``, and names the video and the first bad frame. No temporary the size of the whole
input is ever built.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from asl_core import MC_PROBS, VideoInfo

__all__ = [
    "CHUNK_ELEMENTS",
    "PROB_TOLERANCE",
    "check_mc_probs",
    "checked_chunks",
    "mc_probs_of",
]

#: values per chunk: 4 Mi float64 values are 32 MiB, small next to any model's working set
CHUNK_ELEMENTS = 1 << 22

#: probabilities may stray this far outside [0, 1] (float32 softmax round-off); farther is an error
PROB_TOLERANCE = 1e-3


def check_mc_probs(probs: Any, num_frames: int | None, video: str) -> np.ndarray:
    """Check the shape and dtype of an ``mc_probs`` array; values are checked by chunk later.

    Args:
        probs: ``float[T, F, C, H, W]`` class probabilities (any real dtype; not copied).
        num_frames: the video's ``F``, or ``None`` to accept any.
        video: the video id, for messages.

    Returns:
        ``probs`` as an ``np.ndarray`` (a view, no copy).

    Raises:
        ValueError: if it is not a real array of 5 dimensions, ``T < 1``, ``F`` differs from
            ``num_frames``, ``C < 2``, or a frame has no pixel.
    """
    arr = np.asarray(probs)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"video {video!r}: {MC_PROBS} must be a real array, got dtype {arr.dtype}")
    if arr.ndim != 5:
        raise ValueError(
            f"video {video!r}: {MC_PROBS} must have shape [T, F, C, H, W], got {arr.shape}"
        )
    trials, frames, classes, height, width = arr.shape
    if trials < 1:
        raise ValueError(
            f"video {video!r}: {MC_PROBS} needs at least one Monte-Carlo trial (T >= 1), "
            f"got shape {arr.shape}"
        )
    if num_frames is not None and frames != num_frames:
        raise ValueError(
            f"video {video!r}: {MC_PROBS} has {frames} frames (shape {arr.shape}), "
            f"the video has {num_frames}"
        )
    if classes < 2:
        raise ValueError(
            f"video {video!r}: {MC_PROBS} needs C >= 2 classes (channel 0 is background), "
            f"got shape {arr.shape}"
        )
    if frames and height * width == 0:
        raise ValueError(f"video {video!r}: {MC_PROBS} frames have no pixels (shape {arr.shape})")
    return arr


def mc_probs_of(outputs: Mapping[str, Any], video: VideoInfo) -> np.ndarray:
    """The checked ``mc_probs`` of ``video`` from a scorer's ``outputs`` mapping.

    Raises:
        ValueError: if ``outputs`` has no ``mc_probs``, or see :func:`check_mc_probs`.
    """
    if MC_PROBS not in outputs:
        raise ValueError(
            f"video {video.id!r}: the model outputs have no {MC_PROBS!r} "
            f"(got {sorted(outputs)}); this scorer needs Monte-Carlo dropout probabilities"
        )
    return check_mc_probs(outputs[MC_PROBS], video.num_frames, video.id)


def _first_bad_frame(bad: np.ndarray) -> int:
    """Index within the chunk of the first frame (axis 1 of ``[T, f, C, H, W]``) with a bad value."""
    return int(np.flatnonzero(bad.any(axis=(0, 2, 3, 4)))[0])


def checked_chunks(
    probs: np.ndarray, video: str, chunk_elements: int = CHUNK_ELEMENTS
) -> Iterator[tuple[int, np.ndarray]]:
    """Walk ``probs`` a few frames at a time, checking every value.

    Args:
        probs: an array accepted by :func:`check_mc_probs`, ``[T, F, C, H, W]``.
        video: the video id, for messages.
        chunk_elements: at most this many values per chunk (at least one frame per chunk).

    Yields:
        ``(first_frame, chunk)`` in frame order, ``chunk`` a ``float64[T, f, C, H, W]`` copy of
        frames ``first_frame .. first_frame + f - 1``.

    Raises:
        ValueError: naming the video and the first frame with a NaN or infinite value, or with
            a value outside ``[0, 1]`` by more than :data:`PROB_TOLERANCE`. Chunks before the bad
            one have already been yielded; the error always names the first bad frame.
    """
    trials, frames, classes, height, width = probs.shape
    per_frame = max(trials * classes * height * width, 1)
    step = max(1, int(chunk_elements) // per_frame)
    for start in range(0, frames, step):
        chunk = np.asarray(probs[:, start : start + step], dtype=np.float64)
        finite = np.isfinite(chunk)
        if not finite.all():
            frame = start + _first_bad_frame(~finite)
            raise ValueError(
                f"video {video!r}: {MC_PROBS} has NaN or infinite probabilities, "
                f"first at frame {frame}"
            )
        outside = (chunk < -PROB_TOLERANCE) | (chunk > 1.0 + PROB_TOLERANCE)
        if outside.any():
            frame = start + _first_bad_frame(outside)
            raise ValueError(
                f"video {video!r}: {MC_PROBS} has values outside [0, 1] (not probabilities), "
                f"first at frame {frame}"
            )
        yield start, chunk
