"""Bounded-memory scoring of long videos: ``predict`` streams ``mc_probs`` in chunks of
``task.predict_chunk`` frames, reading only the labelled frames and one batch at a time, with
exactly the values (and so the statistics) of the whole-video computation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from asl_strategies.scorers.apu import ApuScorer
from asl_vos.inference import predict_from_memory, stream_from_memory
from asl_vos.model import STCN
from asl_vos.task import VosModel, VosParams, VosTask, _decode_entry, _memory_entry

from asl_core import ConfigError, FrameRef, OutputChunk, VideoInfo, parse_params
from asl_core.scoring import video_stats

torch = pytest.importorskip("torch")

SYNTH = {"num_videos": 8, "min_frames": 8, "max_frames": 11, "size": [32, 48], "seed": 4}
MC = frozenset({"mc_probs"})


def _task(root: Path, **over) -> VosTask:
    base = {
        "data_root": str(root),
        "synth": SYNTH,
        "val_videos": 2,
        "unseen_categories": 1,
        "mc_trials": 3,
        "device": "cpu",
    }
    base.update(over)
    return VosTask(parse_params(VosParams, base, where="task"))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vos_stream") / "data"
    _task(root)  # generates the dataset once
    return root


@pytest.fixture(scope="module")
def video(root: Path) -> VideoInfo:
    """The longest pool video (at least 8 frames: more than one decoder batch of 8 with the
    chunk sizes below)."""
    return max(_task(root).pool(), key=lambda v: v.num_frames)


@pytest.fixture(scope="module")
def model(root: Path, video: VideoInfo) -> VosModel:
    """An untrained network (dropout 0.2) whose scoring memory is the true masks of two frames
    of ``video``: no training needed to exercise prediction."""
    task = _task(root)
    torch.manual_seed(0)
    net = STCN(dropout=0.2).eval()
    frames = (1, video.num_frames - 2)
    truth = task.ground_truth([FrameRef(video.id, f) for f in frames])
    memory = {video.id: {f: _memory_entry(r) for f, r in zip(frames, truth, strict=True)}}
    return VosModel(net, memory)


def _chunks(task: VosTask, model: VosModel, info: VideoInfo, seed: int = 7) -> list:
    return list(task.predict(model, [info], MC, np.random.default_rng(seed)))


# ------------------------------------------------------------------ inference


def test_stream_pieces_equal_the_whole_video_computation_for_any_span(model) -> None:
    """Spans cutting the decoder's batches of 8 (3), aligned (8), of one frame and longer than
    the video give bit-identical MC-dropout probabilities."""
    g = torch.Generator().manual_seed(0)
    frames = torch.rand(13, 3, 32, 48, generator=g)
    given = {2: (torch.rand(2, 32, 48, generator=g) > 0.5).float(), 9: torch.zeros(2, 32, 48)}
    kwargs = {"top_k": 20, "mc_trials": 3}
    whole = predict_from_memory(
        model.net, frames, given, generator=torch.Generator().manual_seed(5), **kwargs
    )
    for span in (1, 3, 8, 13, 40):
        pieces = list(
            stream_from_memory(
                model.net,
                lambda index: frames[list(index)],
                13,
                given,
                generator=torch.Generator().manual_seed(5),
                span=span,
                **kwargs,
            )
        )
        assert [(a, b) for a, b, _ in pieces] == [
            (s, min(s + span, 13)) for s in range(0, 13, span)
        ]
        assert torch.equal(torch.cat([p for _, _, p in pieces], dim=1), whole), span


def test_stream_reads_the_memory_frames_then_one_batch_at_a_time(model) -> None:
    frames = torch.rand(20, 3, 32, 48)
    reads: list[list[int]] = []

    def frames_at(index):
        reads.append(list(index))
        return frames[list(index)]

    given = {4: torch.ones(1, 32, 48), 15: torch.ones(1, 32, 48)}
    pieces = stream_from_memory(model.net, frames_at, 20, given, mc_trials=1, span=5)
    assert reads == [[4, 15]]  # the memory is encoded when the stream is made
    next(pieces)
    assert reads == [[4, 15], list(range(8))]  # the first piece needs the first batch only
    list(pieces)
    assert reads[2:] == [list(range(8, 16)), list(range(16, 20))]


def test_stream_rejects_frames_of_the_wrong_shape(model) -> None:
    given = {0: torch.ones(1, 32, 48)}
    with pytest.raises(ValueError, match="frames_at gave"):
        stream_from_memory(model.net, lambda index: torch.zeros(len(index), 3, 16, 48), 4, given)


def test_stream_rejects_a_span_below_one(model) -> None:
    with pytest.raises(ValueError, match="span"):
        stream_from_memory(model.net, None, 4, {0: torch.ones(1, 32, 48)}, span=0)


# ------------------------------------------------------------------ the task


def test_a_long_video_comes_as_consecutive_output_chunks(root, video, model) -> None:
    task = _task(root, predict_chunk=3)
    chunks = _chunks(task, model, video)
    assert all(isinstance(c, OutputChunk) for c in chunks)
    assert [(c.start, c.stop) for c in chunks] == [
        (s, min(s + 3, video.num_frames)) for s in range(0, video.num_frames, 3)
    ]
    assert chunks[-1].last
    for c in chunks:
        probs = c.outputs["mc_probs"]
        assert probs.shape == (3, c.stop - c.start, 3, task.height, task.width)
        assert probs.dtype == np.float32


def test_chunked_mc_probs_equal_the_whole_video(root, video, model) -> None:
    ((vid, whole),) = _chunks(_task(root, predict_chunk=64), model, video)
    assert vid == video.id
    chunks = _chunks(_task(root, predict_chunk=3), model, video)
    joined = np.concatenate([c.outputs["mc_probs"] for c in chunks], axis=1)
    np.testing.assert_array_equal(joined, whole["mc_probs"])


def test_chunked_apu_statistics_equal_the_single_chunk_ones(root, video, model) -> None:
    """The loop's reduction (frame_local apu: chunk by chunk) gives the same U."""
    scorer = ApuScorer()
    stats = [
        video_stats(
            _task(root, predict_chunk=chunk),
            scorer,
            model,
            video,
            np.random.default_rng(11),
            np.random.default_rng(12),
        )
        for chunk in (64, 3, 5)
    ]
    assert stats[0].values["u"].shape == (video.num_frames,)
    for other in stats[1:]:
        assert other.values.keys() == stats[0].values.keys()
        for key in stats[0].values:
            np.testing.assert_array_equal(other.values[key], stats[0].values[key])


def test_a_video_without_memory_is_chunked_background(root, model) -> None:
    task = _task(root, predict_chunk=4)
    other = next(v for v in task.pool() if v.id not in model.memory)
    chunks = _chunks(task, model, other)
    assert sum(c.stop - c.start for c in chunks) == other.num_frames
    for c in chunks:
        assert c.outputs["mc_probs"].shape[2] == 2
        assert (c.outputs["mc_probs"][:, :, 0] == 1.0).all()


def test_predict_reads_only_the_labelled_frames_and_one_batch(root, video, model, monkeypatch):
    """Scoring a video never decodes it whole: the memory frames once, then at most a batch
    of 8 frames per read, each frame once."""
    task = _task(root, predict_chunk=3)
    reads: list[list[int]] = []
    read_at = task.data.read_frames_at

    def spy(vid, index, **kw):
        reads.append(list(index))
        return read_at(vid, index, **kw)

    def whole(*_a, **_k):
        raise AssertionError("predict read a whole video")

    monkeypatch.setattr(task.data, "read_frames_at", spy)
    monkeypatch.setattr(task.data, "read_frames", whole)
    _chunks(task, model, video)
    assert reads[0] == sorted(model.memory[video.id])
    assert all(len(r) <= 8 for r in reads[1:])
    assert [f for r in reads[1:] for f in r] == list(range(video.num_frames))


def test_predict_chunk_must_be_positive(root: Path) -> None:
    with pytest.raises(ConfigError, match="predict_chunk"):
        parse_params(VosParams, {"data_root": str(root), "predict_chunk": 0}, where="task")


def test_predict_regions_reads_only_memory_and_wanted_frames(root, video, model, monkeypatch):
    """Export pre-fill segments the wanted frames from the memory alone, reading nothing
    else, and finds what the whole video's prediction (argmax, no dropout) shows there."""
    from pycocotools import mask as mask_utils

    task = _task(root)
    wanted = (0, video.num_frames - 1)
    reads: list[list[int]] = []
    read_at = task.data.read_frames_at

    def spy(vid, index, **kw):
        reads.append(list(index))
        return read_at(vid, index, **kw)

    monkeypatch.setattr(task.data, "read_frames_at", spy)
    found = task.predict_regions(model, [FrameRef(video.id, f) for f in wanted])
    assert reads == [sorted({*model.memory[video.id], *wanted})]

    ids = {f: _decode_entry(e, task.height, task.width) for f, e in model.memory[video.id].items()}
    objects = sorted({int(i) for m in ids.values() for i in np.unique(m) if i})
    given = {
        f: torch.from_numpy(np.stack([m == o for o in objects])).float() for f, m in ids.items()
    }
    frames = task._frames_tensor(task.data.read_frames(video.id))
    labels = predict_from_memory(model.net, frames, given, mc_trials=1)[0].argmax(dim=1).numpy()
    for f, regions in zip(wanted, found, strict=True):
        for r in regions:
            c = objects.index(r.track_id) + 1
            rle = {"size": list(r.mask["size"]), "counts": r.mask["counts"].encode("ascii")}
            np.testing.assert_array_equal(mask_utils.decode(rle).astype(bool), labels[f] == c)
        assert {r.track_id for r in regions} == {
            o for c, o in enumerate(objects, start=1) if (labels[f] == c).any()
        }


# ------------------------------------------------------------------ the loader


def test_read_frames_at_equals_the_whole_video_rows(root: Path, video: VideoInfo) -> None:
    task = _task(root, cache_videos=1)
    index = [5, 0, 2, 2]
    first = task.data.read_frames_at(video.id, index)
    assert task.data._cache_get(video.id, "frames") is None  # decoded alone, not cached
    whole = task.data.read_frames(video.id)
    np.testing.assert_array_equal(first, whole[index])
    again = task.data.read_frames_at(video.id, index)  # now sliced from the cache
    np.testing.assert_array_equal(again, first)
    assert again.flags.writeable


def test_read_frames_at_rejects_a_frame_outside_the_video(root, video) -> None:
    with pytest.raises(IndexError, match="outside video"):
        _task(root).data.read_frames_at(video.id, [0, video.num_frames])
