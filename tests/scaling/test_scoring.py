"""asl_core.scoring: whole videos and OutputChunks reduce to the same statistics."""

from __future__ import annotations

import numpy as np
import pytest

from asl_core import MC_PROBS, FrameStats, OutputChunk, PluginContractError, ScorerBase, VideoInfo
from asl_core.loop import build_components
from asl_core.scoring import reduce_outputs, video_stats
from asl_core.testing import FakeTask, FakeTaskParams
from tests.conftest import small_config


class MeanFg(ScorerBase):
    """Per-frame mean foreground probability; frame_local as declared by the class."""

    requires = frozenset({MC_PROBS})
    frame_local = True

    def __init__(self) -> None:
        super().__init__(None)
        self.calls: list[int] = []

    def frame_stats(self, video, outputs, rng):
        self.calls.append(video.num_frames)
        fg = outputs[MC_PROBS][:, :, 1].mean(axis=(0, 2, 3))
        return FrameStats.of(video.id, video.num_frames, m=fg)

    def score(self, stats, labelled, num_frames):
        return np.array(stats.values["m"])


class MeanFgWhole(MeanFg):
    frame_local = False


def _task(chunk: int) -> FakeTask:
    return FakeTask(FakeTaskParams(num_videos=3, min_frames=23, max_frames=23, predict_chunk=chunk))


def _stats(task: FakeTask, scorer: MeanFg) -> FrameStats:
    model = task.build_model(np.random.default_rng(0))
    video = task.pool()[0]
    return video_stats(
        task, scorer, model, video, np.random.default_rng(5), np.random.default_rng(6)
    )


@pytest.mark.parametrize("scorer_cls", [MeanFg, MeanFgWhole])
def test_chunked_predict_gives_the_whole_video_statistics(scorer_cls):
    whole = _stats(_task(0), scorer_cls())
    chunked = _stats(_task(5), scorer_cls())
    assert whole == chunked


def test_frame_local_scorer_reduces_chunk_by_chunk():
    scorer = MeanFg()
    _stats(_task(5), scorer)
    assert scorer.calls == [5, 5, 5, 5, 3]


def test_other_scorers_get_the_chunks_joined():
    scorer = MeanFgWhole()
    _stats(_task(5), scorer)
    assert scorer.calls == [23]


def test_scorer_without_requirements_runs_no_inference(manager):
    comps = build_components(small_config(**{"scorer.type": "random"}), manager)
    video = comps.task.pool()[0]
    st = video_stats(
        comps.task, comps.scorer, None, video, np.random.default_rng(0), np.random.default_rng(1)
    )
    assert st.num_frames == video.num_frames
    assert comps.task.predict_calls == 0


VIDEO = VideoInfo("v", 6)


def _chunk(start: int, stop: int, video: str = "v", n: int = 6) -> OutputChunk:
    probs = np.full((2, stop - start, 2, 2, 2), 0.5, np.float32)
    return OutputChunk(video, start, stop, n, {MC_PROBS: probs})


@pytest.mark.parametrize(
    "items,message",
    [
        ([_chunk(0, 3), _chunk(4, 6)], "starts at frame 4, expected 3"),
        ([_chunk(0, 3)], "end at frame 3 of 6"),
        ([_chunk(0, 6), _chunk(0, 6)], "after its end"),
        ([_chunk(0, 3, "w")], "while scoring 'v'"),
        ([], "yielded nothing"),
        ([("w", {})], "unexpected or repeated video 'w'"),
        ([("v", {})], "gave no mc_probs"),
        ([42], "must yield (video_id, outputs) or OutputChunk"),
    ],
)
def test_bad_predict_output_is_a_contract_error_naming_the_task(items, message):
    with pytest.raises(PluginContractError, match="task 'fake'") as info:
        reduce_outputs(
            iter(items),
            VIDEO,
            frozenset({MC_PROBS}),
            MeanFg(),
            np.random.default_rng(0),
            task_name="fake",
        )
    assert message in str(info.value)


def test_output_chunk_rejects_an_empty_or_outside_range():
    with pytest.raises(ValueError, match="not a non-empty range"):
        OutputChunk("v", 3, 3, 6)
    with pytest.raises(ValueError, match="not a non-empty range"):
        OutputChunk("v", 4, 7, 6)


def test_conformance_check_accepts_a_chunked_task(tmp_path):
    from asl_core.testing import check_task

    check_task(_task(5), tmp_dir=tmp_path)


def test_conformance_check_rejects_chunks_out_of_order(tmp_path):
    from asl_core.testing import check_task

    class Shuffled(FakeTask):
        def predict(self, model, videos, requires, rng):
            chunks = list(super().predict(model, videos, requires, rng))
            yield from chunks[::-1]

    with pytest.raises(AssertionError, match="cover it in order"):
        check_task(Shuffled(FakeTaskParams(num_videos=2, predict_chunk=5)), tmp_dir=tmp_path)
