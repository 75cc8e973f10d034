"""Bounded-memory scoring of long videos (issue 9): chunk alignment, the dataset's streaming
reader (frame folders and .avi files) and the task's chunked ``predict``."""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import pytest
from asl_action_det.clips import chunk_unit, tile_clips
from asl_action_det.dataset import ActionDataset
from asl_action_det.errors import DatasetError
from asl_action_det.task import ActionDetParams, ActionDetTask
from asl_action_det.video import VideoFiles
from asl_strategies.scorers.apu import ApuScorer
from hypothesis import given
from hypothesis import strategies as st

from asl_core import MC_PROBS, OutputChunk
from asl_core.scoring import video_stats

from .real_layouts import write_avi
from .test_dataset import make_gt, open_layout, write_layout
from .test_video import VIDEO, one_video_gt

# --------------------------------------------------------------------------- alignment


def test_chunk_unit_known_answers():
    """The paper's clips (8 frames, stride 2) in batches of 4 align every 32 frames."""
    assert chunk_unit(8, 2, 4) == 32
    assert chunk_unit(8, 2, 2) == 16
    assert chunk_unit(8, 2, 3) == 48
    assert chunk_unit(4, 1, 5) == 20


@given(st.integers(1, 150), st.integers(1, 6), st.integers(1, 3), st.integers(1, 5))
def test_chunk_boundaries_never_split_a_clip_batch(num_frames, clip_len, stride, batch):
    """Every batch of the whole video's tiling lies inside one chunk of chunk_unit frames (so
    each chunk is whole batches), padding included."""
    unit = chunk_unit(clip_len, stride, batch)
    index, _ = tile_clips(num_frames, clip_len, stride)
    for s in range(0, len(index), batch):
        frames = index[s : s + batch]
        assert frames.min() // unit == frames.max() // unit


# --------------------------------------------------------------------------- frame folders


def test_frame_folder_streams_equal_the_whole_read(tmp_path: Path):
    """Chunks of 4 of a 6-frame folder are frames 0-3 and 4-5, as read_frames gives them."""
    ds = open_layout(write_layout(tmp_path, make_gt()))
    chunks = list(ds.stream_frames("a/a_0", 4))
    assert [c.shape[0] for c in chunks] == [4, 2]
    assert np.array_equal(np.concatenate(chunks), open_layout(tmp_path).read_frames("a/a_0"))


def test_frame_folder_streaming_adds_nothing_to_the_cache(tmp_path: Path):
    """Streaming an uncached video leaves it uncached."""
    ds = open_layout(write_layout(tmp_path, make_gt()))
    list(ds.stream_frames("a/a_0", 2))
    assert ds._frames.get("a/a_0") is None


def test_frame_folder_streaming_uses_but_never_fills_a_cached_video(tmp_path: Path):
    """Frames already cached are copied from the cache (their files may be gone) and the
    others are read from their files without being stored."""
    ds = open_layout(write_layout(tmp_path, make_gt()))
    ds.read_frames("a/a_0", [0, 1])
    for name in ("00001.png", "00002.png"):
        (tmp_path / "Frames" / "a/a_0" / name).unlink()
    chunks = list(ds.stream_frames("a/a_0", 4))
    assert np.concatenate(chunks)[:, 0, 0, 0].tolist() == [1, 2, 3, 4, 5, 6]
    assert ds._frames.get("a/a_0")[1].tolist() == [True, True, False, False, False, False]


def test_stream_frames_refuses_an_empty_chunk(tmp_path: Path):
    """A chunk of 0 frames is a ValueError."""
    ds = open_layout(write_layout(tmp_path, make_gt()))
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        next(ds.stream_frames("a/a_0", 0))


# --------------------------------------------------------------------------- video files


def _avi_dataset(root: Path, n_file: int, n_annotated: int = 7) -> ActionDataset:
    write_avi(root / "videos" / f"{VIDEO}.avi", n_file)
    return ActionDataset(
        root, one_video_gt(n_annotated), source=VideoFiles(root / "videos"), masks_dir=None
    )


def test_avi_streams_equal_the_whole_decode_without_caching(tmp_path: Path):
    """An .avi streamed in chunks of 3 gives read_frames' frames and caches nothing."""
    ds = _avi_dataset(tmp_path, 7)
    chunks = list(ds.stream_frames(VIDEO, 3))
    assert [c.shape[0] for c in chunks] == [3, 3, 1]
    assert ds._frames.get(VIDEO) is None
    assert np.array_equal(np.concatenate(chunks), ds.read_frames(VIDEO))


def test_cached_avi_is_sliced_not_decoded_again(tmp_path: Path):
    """Once the whole video is cached, streaming slices the cache (the file is not opened)."""
    ds = _avi_dataset(tmp_path, 7)
    whole = ds.read_frames(VIDEO)
    (tmp_path / "videos" / f"{VIDEO}.avi").unlink()
    assert np.array_equal(np.concatenate(list(ds.stream_frames(VIDEO, 4))), whole)


@pytest.mark.parametrize("n_file, match", [(5, "decodes to 5 frames"), (9, "more than the 7")])
def test_streamed_avi_of_another_length_fails_before_its_last_chunk(
    tmp_path: Path, n_file: int, match: str
):
    """A file with fewer or more frames than annotated raises, naming it, before the chunk
    that would end the video is handed out."""
    ds = _avi_dataset(tmp_path, n_file)
    got = []
    with pytest.raises(DatasetError, match=rf"v_Biking_g01_c01\.avi .*{match}"):
        for chunk in ds.stream_frames(VIDEO, 3):
            got.append(chunk.shape[0])
    assert sum(got) < 7


# --------------------------------------------------------------------------- chunked predict

LONG_SYNTH = {"num_train": 2, "num_test": 1, "min_frames": 37, "max_frames": 45, "size": 32}


@pytest.fixture(scope="module")
def long_task(tmp_path_factory) -> ActionDetTask:
    """Videos of 37-45 frames; chunks align every 32 frames (two tiling blocks of 16: a
    chunk of one block would split a batch of 4 clips)."""
    root = tmp_path_factory.mktemp("long") / "data"
    params = ActionDetParams(
        data_root=str(root), synth=LONG_SYNTH, mc_trials=2, eval_batch=4, device="cpu"
    )
    return ActionDetTask(params)


def _with_chunk_mb(task: ActionDetTask, mb: float) -> ActionDetTask:
    """The same task and dataset with another predict_chunk_mb."""
    other = ActionDetTask.__new__(ActionDetTask)
    other.__dict__.update(task.__dict__)
    other.params = attrs.evolve(task.params, predict_chunk_mb=mb)
    return other


def _predict(task: ActionDetTask, model, video, seed: int = 3) -> list:
    return list(task.predict(model, [video], frozenset({MC_PROBS}), np.random.default_rng(seed)))


def test_long_video_comes_in_aligned_chunks_within_the_bound(long_task):
    """With room for 1.1 units, a 37-45 frame video comes as one unit of 32 frames and the
    rest, each OutputChunk's mc_probs within the bound."""
    per_frame = 2 * 2 * long_task.height * long_task.width * 4
    mb = 1.1 * 32 * per_frame / 2**20
    task = _with_chunk_mb(long_task, mb)
    model = task.build_model(np.random.default_rng(0))
    video = task.pool()[0]
    items = _predict(task, model, video)
    assert all(isinstance(c, OutputChunk) for c in items)
    assert [(c.start, c.stop) for c in items] == [(0, 32), (32, video.num_frames)]
    assert all(c.outputs[MC_PROBS].nbytes <= mb * 2**20 for c in items)
    assert items[-1].outputs[MC_PROBS].shape[2:] == (2, task.height, task.width)


def test_chunked_predict_equals_the_whole_video_pass(long_task):
    """Chunks of one unit give bit-identical mc_probs, and identical apu statistics, to the
    unchunked pass with the same generator."""
    small, whole = _with_chunk_mb(long_task, 1e-6), _with_chunk_mb(long_task, 1e3)
    model = long_task.build_model(np.random.default_rng(0))
    video = long_task.pool()[1]
    chunks = _predict(small, model, video)
    ((vid, outputs),) = _predict(whole, model, video)
    assert [c.start for c in chunks] == [0, 32] and vid == video.id
    joined = np.concatenate([c.outputs[MC_PROBS] for c in chunks], axis=1)
    assert np.array_equal(joined, outputs[MC_PROBS])
    stats = [
        video_stats(
            task, ApuScorer(), model, video, np.random.default_rng(5), np.random.default_rng(6)
        )
        for task in (small, whole)
    ]
    assert stats[0] == stats[1]


def test_predict_reads_frames_chunk_by_chunk_without_caching(long_task, monkeypatch):
    """Chunked prediction never reads a whole video and leaves the frame cache empty."""
    task = _with_chunk_mb(long_task, 1e-6)
    task.dataset.clear_cache()

    def refuse(*args, **kwargs):
        raise AssertionError("predict read a whole video")

    monkeypatch.setattr(task.dataset, "read_frames", refuse)
    model = task.build_model(np.random.default_rng(0))
    video = task.pool()[0]
    assert len(_predict(task, model, video)) > 1
    assert task.dataset._frames.get(video.id) is None


@pytest.mark.parametrize("mb", [0, -1.0])
def test_predict_chunk_mb_must_be_positive(mb):
    """predict_chunk_mb <= 0 is refused when the parameters are built."""
    with pytest.raises(ValueError, match="predict_chunk_mb must be > 0"):
        ActionDetParams(predict_chunk_mb=mb)
