"""Clip sampling: which frames of a video form the 8-frame network inputs.

Two schemes (reference specs §A.6 and §B.5):

* **Tiling** (evaluation and scoring): the video is cut into blocks of ``clip_len * stride``
  frames; block ``i`` gives ``stride`` interleaved clips ``i + j + stride * k`` for
  ``j < stride``, ``k < clip_len``. Every frame lands in exactly one clip; positions past the
  end are padding (``valid`` False).
* **Training clips** centred on a labelled frame: the labelled frame sits at a random position
  of a clip with the configured stride, shifted to stay inside the video; a video too short for
  that stride falls back to stride 1, and one shorter than the clip repeats its last frame
  (padding, ``valid`` False).

Scoring a long video in chunks (:func:`chunk_unit`) cuts the tiling between clip batches, so a
chunked pass runs exactly the batches of the unchunked one.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["chunk_unit", "tile_clips", "train_clip"]


def tile_clips(
    num_frames: int, clip_len: int = 8, stride: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Tile a video into clips that cover every frame exactly once.

    Args:
        num_frames: ``F >= 1``.
        clip_len: frames per clip.
        stride: temporal stride inside a clip.

    Returns:
        ``(index int64[N, clip_len], valid bool[N, clip_len])``: frame index of every clip
        position (padding positions point at the last frame) and whether it is a real frame.
        Clips made only of padding are dropped.
    """
    if num_frames < 1 or clip_len < 1 or stride < 1:
        raise ValueError("num_frames, clip_len and stride must be >= 1")
    block = clip_len * stride
    starts = np.arange(0, num_frames, block)[:, None] + np.arange(stride)[None, :]
    raw = starts.reshape(-1, 1) + stride * np.arange(clip_len)[None, :]
    valid = raw < num_frames
    keep = valid.any(axis=1)
    index = np.minimum(raw, num_frames - 1)
    return index[keep].astype(np.int64), valid[keep]


def chunk_unit(clip_len: int, stride: int, batch: int) -> int:
    """Frames of the smallest chunk of a video that is both whole tiling blocks and whole
    batches of ``batch`` clips: ``lcm(stride, batch) * clip_len``.

    A block of :func:`tile_clips` is ``clip_len * stride`` frames and ``stride`` consecutive
    clips, so a chunk starting at a multiple of this many frames starts at clip
    ``start / clip_len``, a multiple of ``batch``: batching the chunk's clips ``batch`` at a
    time gives exactly the batches of the whole video's tiling (and so, with the same
    generator, the same MC-dropout draws). Padding clips only occur in the last block.

    Args:
        clip_len: frames per clip.
        stride: temporal stride inside a clip.
        batch: clips per forward pass.

    Returns:
        The number of frames, ``>= clip_len * stride``.
    """
    if clip_len < 1 or stride < 1 or batch < 1:
        raise ValueError("clip_len, stride and batch must be >= 1")
    return math.lcm(stride, batch) * clip_len


def train_clip(
    center: int, num_frames: int, clip_len: int, stride: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A training clip containing the labelled frame ``center``.

    Args:
        center: a labelled frame, ``0 <= center < num_frames``.
        num_frames: ``F``.
        clip_len: frames per clip.
        stride: preferred temporal stride (1 when the video is too short for it).
        rng: chooses the position of ``center`` inside the clip.

    Returns:
        ``(index int64[clip_len], valid bool[clip_len])``; ``center`` is always in ``index``
        at a valid position.
    """
    if not 0 <= center < num_frames:
        raise ValueError(f"center {center} outside a video of {num_frames} frames")
    if (clip_len - 1) * stride + 1 > num_frames:
        stride = 1
    span = (clip_len - 1) * stride
    pos = int(rng.integers(clip_len))
    start = center - stride * pos
    # shift by whole strides so that the centre frame stays on the grid
    if start < 0:
        start += stride * int(np.ceil(-start / stride))
    if start + span > num_frames - 1 and num_frames > span:
        start -= stride * int(np.ceil((start + span - (num_frames - 1)) / stride))
    raw = start + stride * np.arange(clip_len)
    valid = (raw >= 0) & (raw < num_frames)
    return np.clip(raw, 0, num_frames - 1).astype(np.int64), valid
