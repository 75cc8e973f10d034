"""The example configs under examples/configs load and run."""

from __future__ import annotations

from pathlib import Path

import pytest

from asl_core.cli import main

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "examples" / "configs").glob("*.py"))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_example_config_runs_one_cycle(config, tmp_path, capsys):
    """Each example config is valid and runs for one cycle on a small fake pool."""
    code = main(
        [
            "--config",
            str(config),
            "--work-dir",
            str(tmp_path / "run"),
            "--quiet",
            "--cfg-options",
            "budget.cycles=1",
            "task.num_videos=4",
            "task.train_steps=5",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "run" / "summary.json").is_file()


def test_there_are_example_configs():
    """The examples folder ships at least one config."""
    assert CONFIGS
