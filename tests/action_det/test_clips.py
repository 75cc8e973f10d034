"""Clip tiling and training-clip sampling."""

from __future__ import annotations

import numpy as np
from asl_action_det.clips import tile_clips, train_clip
from hypothesis import given
from hypothesis import strategies as st


def test_tiling_known_answer():
    """20 frames, clips of 4 at stride 2: blocks of 8 give interleaved clips, padding at the end."""
    index, valid = tile_clips(20, clip_len=4, stride=2)
    assert index.tolist()[:2] == [[0, 2, 4, 6], [1, 3, 5, 7]]
    assert index.tolist()[4] == [16, 18, 19, 19]
    assert valid.tolist()[4] == [True, True, False, False]
    assert len(index) == 6


@given(st.integers(1, 200), st.integers(1, 10), st.integers(1, 4))
def test_tiling_covers_every_frame_exactly_once(num_frames, clip_len, stride):
    """Every frame appears at exactly one valid clip position."""
    index, valid = tile_clips(num_frames, clip_len, stride)
    counts = np.bincount(index[valid], minlength=num_frames)
    assert counts.tolist() == [1] * num_frames
    assert valid.any(axis=1).all()


@given(st.integers(1, 120), st.integers(1, 10), st.integers(1, 3), st.data())
def test_training_clip_contains_the_centre(num_frames, clip_len, stride, data):
    """The labelled frame is inside the clip at a valid position; indices stay in range."""
    center = data.draw(st.integers(0, num_frames - 1))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    index, valid = train_clip(center, num_frames, clip_len, stride, rng)
    assert index.shape == (clip_len,) and valid.shape == (clip_len,)
    assert center in index[valid]
    assert index.min() >= 0 and index.max() < num_frames
    real = index[valid]
    assert np.all(np.diff(real) > 0)


def test_training_clip_uses_the_configured_stride_when_it_fits():
    """In a long video the clip keeps stride 2."""
    index, valid = train_clip(50, 100, 8, 2, np.random.default_rng(0))
    assert valid.all() and set(np.diff(index).tolist()) == {2}


def test_short_video_falls_back_to_stride_one_and_pads():
    """A 5-frame video gives a stride-1 clip padded with its last frame."""
    index, valid = train_clip(2, 5, 8, 2, np.random.default_rng(0))
    assert index[valid].tolist() == [0, 1, 2, 3, 4]
    assert (~valid).sum() == 3
