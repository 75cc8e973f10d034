"""Phase timings and the run's report.md."""

from __future__ import annotations

import json
from pathlib import Path

from asl_core import CycleResult
from asl_core.loop import ActiveLearningLoop, build_components, create_run
from asl_core.report import render_report
from tests.conftest import small_config


def _finished_run(tmp_path: Path, manager, **options) -> tuple[Path, list[CycleResult]]:
    cfg = small_config(**options)
    comps = build_components(cfg, manager)
    run = create_run(tmp_path / "run", cfg, comps)
    return run.root, ActiveLearningLoop(run, cfg, comps).run()


def test_every_phase_of_every_cycle_is_timed(tmp_path, manager):
    """Results and summary.json carry the seconds of each phase that ran in each cycle."""
    root, results = _finished_run(tmp_path, manager, **{"budget.cycles": 2})
    for r in results[:-1]:  # the last cycle stops after evaluating
        assert set(r.seconds) == {"annotate", "train", "evaluate", "score", "select"}
    assert set(results[-1].seconds) == {"annotate", "train", "evaluate"}
    assert all(v >= 0 for r in results for v in r.seconds.values())
    summary = json.loads((root / "summary.json").read_text())
    assert [c["seconds"] for c in summary["cycles"]] == [dict(r.seconds) for r in results]
    on_disk = json.loads((root / "cycles" / "001" / "timing.json").read_text())["seconds"]
    assert on_disk == dict(results[1].seconds)


def test_a_finished_run_writes_report_md(tmp_path, manager):
    """report.md names the strategy and has one row per cycle in both tables."""
    root, _ = _finished_run(tmp_path, manager, **{"budget.cycles": 2})
    text = (root / "report.md").read_text()
    assert text.startswith("# Active-sparse-labeling run: fake · random · global")
    assert "| 2 | " in text and "Time per phase" in text
    assert "Stopped because: all 2 cycles done." in text
    assert text.count("\n| 1 | ") == 2  # results table and timing table


def test_unreadable_timing_never_stops_a_run(tmp_path, manager):
    """A corrupt timing.json is informative only: the phase is timed afresh."""
    cfg = small_config(**{"budget.cycles": 1})
    comps = build_components(cfg, manager)
    run = create_run(tmp_path / "run", cfg, comps)
    (run.cycle_dir(0)).mkdir(parents=True, exist_ok=True)
    (run.cycle_dir(0) / "timing.json").write_text("{not json")
    results = ActiveLearningLoop(run, cfg, comps).run()
    assert "train" in results[0].seconds


def test_render_report_known_text():
    """A two-cycle report, checked line by line."""
    results = [
        CycleResult(0, 10, 100, 10, 20.0, {"acc": 0.5}, {"train": 1.25, "evaluate": 0.5}),
        CycleResult(1, 15, 100, 5, 7.0, {"acc": 0.75}, {"train": 2.0, "select": 0.25}),
    ]
    text = render_report(
        results,
        plugins={"task": "t", "scorer": "s", "selector": "g"},
        seed=3,
        budget={"init_pct": 10.0},
        stopped_because="all 1 cycles done",
    )
    lines = text.splitlines()
    assert lines[0] == "# Active-sparse-labeling run: t · s · g"
    assert "| 0 | 10 | 10.00 | 10 | 20 | 0.500 |" in lines
    assert "| 1 | 15 | 15.00 | 5 | 7 | 0.750 |" in lines
    assert "Total annotation cost: 27." in lines
    assert "| cycle | train | evaluate | select | total |" in lines
    assert "| 0 | 1.2 | 0.5 | - | 1.8 |" in lines  # 1.25 rounds half to even; total 1.75
    assert "| 1 | 2.0 | - | 0.2 | 2.2 |" in lines
    assert "Total: 4.0 s (0.1 min)." in lines
