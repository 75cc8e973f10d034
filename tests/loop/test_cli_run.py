"""``asl-run``: runs, resumes, exit codes and messages for bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asl_core.cli import main
from tests.conftest import SMALL_TASK

TASK_OPTS = [f"task.{k}={v}" for k, v in SMALL_TASK.items() if k != "type"]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _run(tmp_path: Path, *extra: str) -> list[str]:
    return ["--work-dir", str(tmp_path / "run"), "--cfg-options", *TASK_OPTS, *extra]


@pytest.fixture
def finished_run(tmp_path, capsys) -> Path:
    """A finished two-cycle run made through the CLI."""
    assert main([*_run(tmp_path, "budget.cycles=2"), "--quiet"]) == 0
    capsys.readouterr()
    return tmp_path / "run"


def test_run_succeeds_and_prints_the_cycle_table(tmp_path, capsys):
    """A run exits 0 and prints one table row per cycle plus where its outputs are."""
    code = main(
        [
            "--task",
            "fake",
            "--scorer",
            "random",
            "--selector",
            "global",
            *_run(tmp_path, "budget.cycles=1"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Active-learning cycles" in out and "frame_iou" in out
    assert "ledger.jsonl" in out
    assert (tmp_path / "run" / "summary.json").is_file()


def test_help_exits_zero(capsys):
    """--help prints usage and exits 0."""
    assert main(["--help"]) == 0
    assert "--resume" in capsys.readouterr().out


def test_unknown_scorer_is_a_usage_error_listing_the_choices(tmp_path, capsys):
    """An unknown plugin name exits 2, lists the available ones, and creates no run."""
    assert main(["--scorer", "apuu", *_run(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown scorer 'apuu'" in err and "random" in err and "equidistant" in err
    assert not (tmp_path / "run").exists()


def test_misspelled_plugin_parameter_is_rejected_with_a_hint(tmp_path, capsys):
    """A misspelled plugin parameter fails instead of being ignored."""
    assert main([*_run(tmp_path, "loss.sigmaa=2")]) == 2
    assert "did you mean 'sigma'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_unknown_top_level_key_is_rejected(tmp_path, capsys):
    """A config key that does not exist exits 2 with a hint."""
    assert main([*_run(tmp_path, "budgte.cycles=2")]) == 2
    assert "did you mean 'budget'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--init-pct", "-1"], "init_pct must be a percentage"),
        (["--init-pct", "0"], "init_pct must be a percentage"),
        (["--step-pct", "150"], "step_pct must be a percentage"),
        (["--cycles", "-1"], "cycles must be >= 0"),
        (["--total-pct", "101"], "total_pct must be a percentage"),
        (["--seed", "-4"], "seed must be a non-negative integer"),
    ],
)
def test_bad_budget_flags_exit_2(tmp_path, capsys, flags, message):
    """Negative or >100 % budgets are usage errors that create nothing."""
    assert main([*flags, *_run(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_config_file_with_unknown_key_names_the_file(tmp_path, capsys):
    """An unknown key in a config file is reported with the file's path."""
    cfg = tmp_path / "my_config.py"
    cfg.write_text("scorer = dict(type='random')\nbudgett = dict(cycles=1)\n")
    assert main(["--config", str(cfg), *_run(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "my_config.py" in err and "budgett" in err


def test_missing_config_file_is_a_usage_error(tmp_path, capsys):
    """--config pointing nowhere exits 2 naming the path."""
    assert main(["--config", str(tmp_path / "nope.py"), *_run(tmp_path)]) == 2
    assert "nope.py: config file not found" in capsys.readouterr().err


def test_config_file_with_base_inheritance(tmp_path, capsys):
    """A config file can inherit from another through _base_."""
    (tmp_path / "base.py").write_text("budget = dict(cycles=1, init_pct=10.0)\n")
    (tmp_path / "child.py").write_text("_base_ = ['base.py']\nscorer = dict(type='equidistant')\n")
    assert main(["--config", str(tmp_path / "child.py"), *_run(tmp_path), "--quiet"]) == 0
    text = (tmp_path / "run" / "config.py").read_text()
    assert "equidistant" in text and "init_pct=10.0" in text


def test_budget_larger_than_pool_takes_what_is_left_and_says_so(tmp_path, capsys):
    """A step bigger than the unlabelled pool buys the rest with a note."""
    assert main([*_run(tmp_path, "budget.cycles=3", "budget.step_pct=90")]) == 0
    assert "taking all of them" in capsys.readouterr().out


def test_resume_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    """--resume on an ordinary folder exits non-zero and changes nothing."""
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.txt").write_text("keep")
    assert main(["--resume", str(tmp_path / "x")]) == 1
    assert "not an ASL run" in capsys.readouterr().err
    assert _snapshot(tmp_path / "x") == {"a.txt": b"keep"}


def test_resume_of_a_missing_folder(tmp_path, capsys):
    """--resume on a path that does not exist says so."""
    assert main(["--resume", str(tmp_path / "missing")]) == 1
    assert "no such run directory" in capsys.readouterr().err


def test_resume_with_a_different_scorer_is_refused(finished_run, capsys):
    """--resume with options that differ from the stored config exits 2 and changes nothing."""
    before = _snapshot(finished_run)
    assert main(["--resume", str(finished_run), "--scorer", "equidistant"]) == 2
    err = capsys.readouterr().err
    assert "scorer.type: run has 'random', you asked for 'equidistant'" in err
    assert _snapshot(finished_run) == before


def test_resume_with_the_same_options_is_accepted(finished_run, capsys):
    """Repeating an option with the run's own value is not a conflict."""
    assert main(["--resume", str(finished_run), "--scorer", "random", "--quiet"]) == 0
    assert "already finished" in capsys.readouterr().out


def test_resume_with_a_corrupt_state_is_refused(finished_run, capsys):
    """A corrupt state.json exits 1 naming the file and is left as it was."""
    (finished_run / "state.json").write_text("{")
    before = _snapshot(finished_run)
    assert main(["--resume", str(finished_run)]) == 1
    assert "state.json: corrupt run state" in capsys.readouterr().err
    assert _snapshot(finished_run) == before


def test_resume_recovers_a_truncated_last_ledger_line(tmp_path, capsys):
    """A ledger cut in the middle of its last line is recovered on --resume and reported."""
    assert main([*_run(tmp_path, "budget.cycles=0"), "--quiet"]) == 0
    run = tmp_path / "run"
    data = (run / "ledger.jsonl").read_bytes()
    full = data
    (run / "ledger.jsonl").write_bytes(data[:-20])  # the last line loses its end
    state = (run / "state.json").read_text().replace('"finished"', '"running"')
    (run / "state.json").write_text(state)
    capsys.readouterr()
    assert main(["--resume", str(run), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "was cut off by an interrupted append" in out
    assert (run / "ledger.jsonl").read_bytes() == full
    assert (run / "ledger.jsonl.partial").read_bytes() == data[
        data[:-20].rfind(b"\n") + 1 : -20
    ] + b"\n"


def test_resume_with_config_or_work_dir_is_a_usage_error(finished_run, capsys):
    """--resume takes the run's own config; --config or --work-dir with it exit 2."""
    assert main(["--resume", str(finished_run), "--work-dir", "elsewhere"]) == 2
    assert "drop --config/--work-dir" in capsys.readouterr().err


def test_killed_process_resumes_to_the_same_labels(tmp_path):
    """A run killed with SIGKILL at an arbitrary moment and resumed equals an uninterrupted run."""
    exe = [sys.executable, "-m", "asl_core.cli"]
    opts = ["--cfg-options", *TASK_OPTS, "task.train_steps=400", "budget.cycles=3", "--quiet"]
    env = {**os.environ, "COLUMNS": "120"}
    ref = tmp_path / "ref"
    subprocess.run([*exe, "--work-dir", str(ref), *opts], check=True, env=env, capture_output=True)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [*exe, "--work-dir", str(killed), *opts], env=env, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while (
        not (killed / "cycles" / "001" / "selection.json").exists() and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert '"finished"' not in (killed / "state.json").read_text()  # it really was cut short
    resumed = subprocess.run(
        [*exe, "--resume", str(killed), "--quiet"], env=env, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert (killed / "ledger.jsonl").read_bytes() == (ref / "ledger.jsonl").read_bytes()
    for sel in ref.glob("cycles/*/selection.json"):
        assert (killed / sel.relative_to(ref)).read_bytes() == sel.read_bytes()


def test_inherited_parameters_of_another_plugin_get_a_delete_hint(tmp_path, capsys):
    """Switching plugin in a child config without _delete_ explains how to replace the section."""
    (tmp_path / "base.py").write_text("loss = dict(type='mgw', sigma=2.0)\n")
    (tmp_path / "child.py").write_text("_base_ = ['base.py']\nloss = dict(type='masking')\n")
    assert main(["--config", str(tmp_path / "child.py"), *_run(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter 'sigma'" in err and "_delete_=True" in err


def test_cfg_option_typo_gets_no_base_hint(tmp_path, capsys):
    """A command-line typo is not blamed on _base_ inheritance."""
    assert main([*_run(tmp_path, "loss.sigmaa=2")]) == 2
    assert "_delete_" not in capsys.readouterr().err


def test_lower_case_none_is_none(tmp_path, capsys):
    """budget.cycles=none means no cycle limit (with a total budget)."""
    assert main([*_run(tmp_path, "budget.cycles=none", "budget.total_pct=10"), "--quiet"]) == 0


def test_ctrl_c_names_the_run_and_marks_it_interrupted(tmp_path, capsys, monkeypatch):
    """Ctrl-C exits 130, says how to resume this very run, and records the interruption."""
    from asl_core import testing

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(testing.FakeTask, "evaluate", interrupt)
    assert main([*_run(tmp_path, "budget.cycles=1")]) == 130
    run = tmp_path / "run"
    assert f"asl-run --resume {run}" in capsys.readouterr().err
    assert '"interrupted"' in (run / "state.json").read_text()
    monkeypatch.undo()
    assert main(["--resume", str(run), "--quiet"]) == 0


def test_plugin_failing_during_a_run_points_at_resume(tmp_path, capsys, monkeypatch):
    """An exception inside a plugin exits 1 and names the run to resume."""
    from asl_core import testing

    def boom(*args, **kwargs):
        raise ValueError("disk on fire")

    monkeypatch.setattr(testing.FakeTask, "evaluate", boom)
    assert main([*_run(tmp_path, "budget.cycles=1")]) == 1
    err = capsys.readouterr().err
    assert "ValueError: disk on fire" in err and f"--resume {tmp_path / 'run'}" in err
