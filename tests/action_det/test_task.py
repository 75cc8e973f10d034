"""The action_det task on a tiny synthetic dataset."""

from __future__ import annotations

import numpy as np
import pytest
from asl_action_det.task import ActionDetParams, ActionDetTask

from asl_core import FrameRef, LabelState, RunDirError
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
