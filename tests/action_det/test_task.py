"""The action_det task on a tiny synthetic dataset."""

from __future__ import annotations

import math

import attrs
import numpy as np
import pytest
import torch
from asl_action_det.task import ActionDetParams, ActionDetTask

from asl_core import FrameRef, LabelState, NullProgress, RunDirError
from asl_core.testing import FakeOracle

TINY_SYNTH = {"num_train": 3, "num_test": 2, "min_frames": 10, "max_frames": 14, "size": 32}


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> ActionDetTask:
    root = tmp_path_factory.mktemp("synth") / "data"
    return ActionDetTask(
        ActionDetParams(data_root=str(root), synth=TINY_SYNTH, iterations=2, mc_trials=2)
    )


def test_missing_dataset_is_generated_on_first_use(task):
    """With synthesize_if_missing the task writes the synthetic dataset and reads it back."""
    assert len(task.pool()) == 3 and task.num_classes >= 2


def test_missing_dataset_without_synthesis_is_an_error(tmp_path):
    """A missing data_root is reported when synthesis is off."""
    from asl_core import ConfigError

    with pytest.raises(ConfigError, match="dataset folder not found"):
        ActionDetTask(
            ActionDetParams(data_root=str(tmp_path / "none"), synthesize_if_missing=False)
        )


def test_mismatched_checkpoint_is_refused_naming_the_file(task, tmp_path):
    """A checkpoint of another model shape is a clear error, not a silent partial load."""
    import torch

    path = tmp_path / "other.pt"
    torch.save({"weight": torch.zeros(3)}, path)
    with pytest.raises(RunDirError, match=r"other\.pt: checkpoint does not match"):
        task.load_checkpoint(path)


def test_training_targets_come_from_annotations_not_ground_truth(task):
    """Unlabelled frames take the nearest labelled frame's mask as their target."""
    video = next(iter(task._train.values()))
    labelled = np.array([0, video.num_frames - 1])
    refs = [FrameRef(video.id, int(f)) for f in labelled]
    annotations = {a.ref: a for a in FakeOracle().annotate(refs, task)}
    target, source = task._targets(video, labelled, annotations)
    assert target.shape == (video.num_frames, task.height, task.width)
    assert source[1] == 0 and source[-2] == video.num_frames - 1
    assert np.array_equal(target[1], target[0])


def test_predict_streams_every_requested_video(task):
    """predict yields mc_probs of shape [T, F, 2, H, W] for each video, in order."""
    model = task.build_model(np.random.default_rng(0))
    pool = task.pool()[:2]
    out = list(task.predict(model, pool, frozenset({"mc_probs"}), np.random.default_rng(1)))
    assert [vid for vid, _ in out] == [v.id for v in pool]
    for (_, outputs), info in zip(out, pool, strict=True):
        assert outputs["mc_probs"].shape == (2, info.num_frames, 2, task.height, task.width)


def test_training_on_no_labels_is_refused(task):
    """A LabelState without a single labelled frame cannot train."""
    from asl_strategies.losses.mgw import MGWLoss

    from asl_core import NullProgress

    model = task.build_model(np.random.default_rng(0))
    with pytest.raises(ValueError, match="no labelled frame"):
        task.train(model, LabelState(), {}, MGWLoss(), np.random.default_rng(0), NullProgress())


def _spread_batches(task: ActionDetTask, frames: list[FrameRef], monkeypatch) -> list[int]:
    """Train on ``frames`` and return the batch size of every spread-loss call."""
    from asl_action_det import losses
    from asl_strategies.losses.mgw import MGWLoss

    from asl_core import NullProgress

    calls: list[int] = []
    real = losses.spread_loss

    def spy(act, target, margin):
        calls.append(int(act.shape[0]))
        return real(act, target, margin)

    monkeypatch.setattr(losses, "spread_loss", spy)
    model = task.build_model(np.random.default_rng(0))
    annotations = {a.ref: a for a in FakeOracle().annotate(frames, task)}
    labels = LabelState.from_frames(frames)
    task.train(model, labels, annotations, MGWLoss(), np.random.default_rng(0), NullProgress())
    return calls


def test_clips_without_an_actor_do_not_train_the_classifier(task, monkeypatch):
    """A clip centred on a labelled frame outside every tube shows no class: no spread loss."""
    frames = []
    for video in task._train.values():
        empty = np.flatnonzero(~task.dataset.gt_mask(video.id).any(axis=(1, 2)))
        frames.extend(FrameRef(video.id, int(f)) for f in empty[:1])
    if not frames:
        pytest.skip("every frame of the tiny dataset shows an actor")
    assert _spread_batches(task, frames, monkeypatch) == []


def test_clips_with_an_actor_train_the_classifier(task, monkeypatch):
    """Clips centred on frames that show an actor all enter the spread loss."""
    frames = []
    for video in task._train.values():
        shown = np.flatnonzero(task.dataset.gt_mask(video.id).any(axis=(1, 2)))
        frames.append(FrameRef(video.id, int(shown[0])))
    batches = _spread_batches(task, frames, monkeypatch)
    assert batches == [task.params.batch_size] * task.params.iterations


# --------------------------------------------------------------------------- box metrics

BOX_KEYS = [
    f"box-{kind}-AP@{t}" for t in ("0.5", "0.2", "0.75", "0.5:0.95") for kind in ("frame", "video")
]


class _Replay(torch.nn.Module):
    """A model stub that returns precomputed outputs, one per forward call, in call order."""

    def __init__(self, outputs: list) -> None:
        super().__init__()
        self.outputs = list(outputs)

    def forward(self, clips, target=None, generators=None):
        return self.outputs.pop(0)


def _box_masks(task: ActionDetTask, video) -> np.ndarray:
    """``bool[F, H, W]``: the video's GT boxes filled (ACT's inclusive pixels, rounded)."""
    masks = np.zeros((video.num_frames, task.height, task.width), dtype=bool)
    for tube in video.tubes:
        for f, (x1, y1, x2, y2) in zip(tube.frames, np.rint(tube.boxes).astype(int), strict=True):
            masks[f, y1 : y2 + 1, x1 : x2 + 1] = True
    return masks


def _replay_model(task: ActionDetTask, masks_of) -> _Replay:
    """A stub predicting ``masks_of(video)`` on every test frame and the video's true class."""
    from asl_action_det.model import DetectorOutput

    outputs = []
    for video in task._test:
        masks = masks_of(video)
        for _, index, _ in task._tiles(video):
            b = index.shape[0]
            logits = torch.from_numpy(np.where(masks[index], 10.0, -10.0).astype(np.float32))
            act = torch.full((b, task.num_classes), 0.1)
            act[:, video.label] = 0.9
            poses = torch.zeros(b, task.num_classes, 16)
            outputs.append(DetectorOutput(act, logits, poses, torch.zeros(b, 2, 2)))
    return _Replay(outputs)


@pytest.fixture(scope="module")
def single_actor_task(tmp_path_factory) -> ActionDetTask:
    root = tmp_path_factory.mktemp("synth1") / "data"
    synth = {**TINY_SYNTH, "two_actor_fraction": 0.0}
    return ActionDetTask(ActionDetParams(data_root=str(root), synth=synth, iterations=2))


def test_evaluate_reports_finite_box_metrics_beside_the_vcn_ones(task):
    """evaluate adds box-frame-AP / box-video-AP keys in [0, 1] and keeps every f-mAP key."""
    model = task.build_model(np.random.default_rng(0))
    metrics = task.evaluate(model, np.random.default_rng(0), NullProgress())
    assert [k for k in metrics if k.startswith("box-")] == BOX_KEYS
    assert all(math.isfinite(metrics[k]) and 0.0 <= metrics[k] <= 1.0 for k in BOX_KEYS)
    assert set(task.headline_metrics) <= set(metrics) and "f-mAP@0.5:0.95" in metrics


def test_box_metrics_off_leaves_the_vcn_metrics_unchanged(task):
    """With box_metrics=False there is no box key and every other metric is the same."""
    plain = ActionDetTask(attrs.evolve(task.params, box_metrics=False))
    model = task.build_model(np.random.default_rng(0))
    with_boxes = task.evaluate(model, np.random.default_rng(0), NullProgress())
    without = plain.evaluate(model, np.random.default_rng(0), NullProgress())
    assert not any(k.startswith("box-") for k in without)
    vcn = {k: v for k, v in with_boxes.items() if not k.startswith("box-")}
    assert list(vcn) == list(without)
    assert np.array_equal(list(vcn.values()), list(without.values()), equal_nan=True)


def test_ground_truth_masks_give_box_ap_one(single_actor_task):
    """A stub predicting the filled GT boxes and the true class scores box AP 1."""
    task = single_actor_task
    model = _replay_model(task, lambda video: _box_masks(task, video))
    metrics = task.evaluate(model, np.random.default_rng(0), NullProgress())
    assert not model.outputs  # every precomputed clip batch was asked for
    for key in ("box-frame-AP@0.5", "box-video-AP@0.5", "box-frame-AP@0.2", "box-video-AP@0.75"):
        assert metrics[key] == 1.0, key


def test_empty_masks_give_box_ap_zero(single_actor_task):
    """A stub predicting no foreground anywhere scores box AP 0 at every threshold."""
    task = single_actor_task
    model = _replay_model(
        task, lambda video: np.zeros((video.num_frames, task.height, task.width), dtype=bool)
    )
    metrics = task.evaluate(model, np.random.default_rng(0), NullProgress())
    assert [metrics[k] for k in BOX_KEYS] == [0.0] * len(BOX_KEYS)


def test_predict_regions_gives_the_tight_box_of_the_predicted_mask_and_the_voted_class(task):
    """Export pre-fill: a model that predicts the true boxes and class on a pool video gives
    back, per frame, the box's pixels as a Region box (x2, y2 exclusive) and that class; frames
    without predicted pixels give no region."""
    from asl_action_det.model import DetectorOutput

    video = next(iter(task._train.values()))
    masks = _box_masks(task, video)
    outputs = []
    for _, index, _ in task._tiles(video):
        b = index.shape[0]
        logits = torch.from_numpy(np.where(masks[index], 10.0, -10.0).astype(np.float32))
        act = torch.full((b, task.num_classes), 0.1)
        act[:, video.label] = 0.9
        poses = torch.zeros(b, task.num_classes, 16)
        outputs.append(DetectorOutput(act, logits, poses, torch.zeros(b, 2, 2)))
    frames = [FrameRef(video.id, f) for f in range(video.num_frames)]
    regions = task.predict_regions(_Replay(outputs), frames)
    assert len(regions) == video.num_frames
    for f, found in enumerate(regions):
        if not masks[f].any():
            assert found == ()
            continue
        (region,) = found
        ys, xs = np.nonzero(masks[f])
        assert region.box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        assert region.category == video.label


class _RunsCode:
    """Pickles to a call of ``os.system``: what a tampered checkpoint would hold."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        import os

        return (os.system, (self.command,))


def test_a_checkpoint_that_would_run_code_is_refused_without_running_it(task, tmp_path):
    """Run-directory checkpoints are untrusted (a run folder can come from anyone): they load
    with torch.load(weights_only=True), so a pickled call is refused and never executed."""
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    torch.save({"weight": _RunsCode(f"touch {marker}")}, path)
    with pytest.raises(RunDirError, match=r"model\.pt: not a plain-tensor checkpoint; refused"):
        task.load_checkpoint(path)
    assert not marker.exists()
