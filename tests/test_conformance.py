"""Every registered plugin, built-in or installed, passes the asl_core.testing conformance kit."""

from __future__ import annotations

import pytest

from asl_core import Evaluator
from asl_core.plugins import make_plugin_manager
from asl_core.testing import (
    check_evaluator,
    check_loss,
    check_oracle,
    check_scorer,
    check_selector,
    check_task,
)

_MANAGER = make_plugin_manager(strict=True, environ={})
_CHECKS = {
    "scorer": check_scorer,
    "selector": check_selector,
    "loss": check_loss,
    "oracle": check_oracle,
}


@pytest.mark.parametrize(
    "entry",
    [e for e in _MANAGER.entries() if e.kind in _CHECKS],
    ids=lambda e: f"{e.kind}-{e.name}",
)
def test_registered_plugin_conforms(entry):
    """The plugin built from its default parameters passes its kind's contract checks."""
    _CHECKS[entry.kind](entry.build({}))


def _small_task_params(name: str, tmp_path) -> dict:
    """Parameters that make a built-in task tiny (other tasks: their defaults)."""
    if name == "action_det":
        synth = {"num_train": 3, "num_test": 2, "min_frames": 10, "max_frames": 14, "size": 32}
        return {
            "data_root": str(tmp_path / "data"),
            "synth": synth,
            "iterations": 2,
            "mc_trials": 2,
        }
    if name == "vos":
        synth = {"num_videos": 6, "min_frames": 6, "max_frames": 8, "size": [32, 48]}
        return {
            "data_root": str(tmp_path / "vos"),
            "synth": synth,
            "val_videos": 2,
            "unseen_categories": 0,
            "iterations": 2,
            "mc_trials": 2,
        }
    return {}


@pytest.mark.parametrize("entry", _MANAGER.entries("task"), ids=lambda e: f"task-{e.name}")
def test_registered_task_conforms(entry, tmp_path):
    """Each registered task trains, evaluates, predicts and checkpoints as the Task contract says."""
    check_task(entry.build(_small_task_params(entry.name, tmp_path)), tmp_dir=tmp_path)


def test_every_kind_has_a_builtin():
    """The toolkit registers at least one plugin of every kind."""
    kinds = {e.kind for e in _MANAGER.entries()}
    assert kinds == {"scorer", "selector", "loss", "task", "oracle", "dataset", "evaluator"}


@pytest.mark.parametrize(
    "entry", _MANAGER.entries("evaluator"), ids=lambda e: f"evaluator-{e.name}"
)
def test_registered_evaluator_conforms(entry, tmp_path):
    """Each registered evaluator builds from its defaults, satisfies the Evaluator protocol and
    refuses missing or garbage files with an error naming them."""
    evaluator = entry.build({})
    assert isinstance(evaluator, Evaluator)
    check_evaluator(evaluator, tmp_dir=tmp_path)


def test_check_evaluator_catches_a_bare_file_not_found(tmp_path):
    """An evaluator that lets open() fail with FileNotFoundError does not conform."""

    class Careless:
        def evaluate_files(self, gt, frame_dets, video_dets, *, preset, thresholds, split):
            with open(gt, "rb"):
                return {}

    with pytest.raises(AssertionError, match="FileNotFoundError"):
        check_evaluator(Careless(), tmp_dir=tmp_path)


def test_check_evaluator_catches_a_folder_evaluator_accepting_an_empty_folder(tmp_path):
    """A mask-folder evaluator that scores an empty ground-truth folder as if it were fine does
    not conform (it must refuse it with an error naming the folder)."""
    from asl_core import AslUsageError

    class Lenient:
        def evaluate_files(self, gt, frame_dets, video_dets, *, preset, thresholds, split):
            raise AslUsageError(f"{gt}: give folders")

        def evaluate_folders(self, gt, pred, *, meta=None):
            if not gt.exists():
                raise AslUsageError(f"{gt}: not found")
            if not gt.is_dir():
                raise AslUsageError(f"{gt}: not a folder")
            return {"J": 1.0}

    with pytest.raises(AssertionError, match="accepted empty-gt"):
        check_evaluator(Lenient(), tmp_dir=tmp_path)
