"""Untrusted files stay data: a run directory received from someone else runs no code."""

from __future__ import annotations

from asl_core.cli import main

FAKE = ["--task", "fake", "--quiet", "--cfg-options", "task.num_videos=4", "budget.cycles=1"]


def test_resume_reads_config_json_and_never_executes_config_py(tmp_path):
    """--resume takes the stored config.json; the config.py next to it (code, in mmengine's
    format) is for people to read and is never executed."""
    run = tmp_path / "run"
    marker = tmp_path / "pwned"
    assert main([*FAKE, "--work-dir", str(run), "--init-pct", "5"]) == 0
    (run / "config.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n")
    assert main(["--resume", str(run), "--quiet"]) == 0
    assert not marker.exists()
