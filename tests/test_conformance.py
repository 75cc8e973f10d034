"""Every registered plugin, built-in or installed, passes the asl_core.testing conformance kit."""

from __future__ import annotations

import pytest

from asl_core import Evaluator
from asl_core.plugins import make_plugin_manager
from asl_core.testing import check_loss, check_oracle, check_scorer, check_selector, check_task

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
def test_registered_evaluator_builds_with_evaluate_files(entry):
    """Each registered evaluator builds from its defaults and satisfies the Evaluator protocol."""
    evaluator = entry.build({})
    assert isinstance(evaluator, Evaluator)
    assert callable(evaluator.evaluate_files)
