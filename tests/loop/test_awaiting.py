"""A run whose oracle is people pauses (state ``awaiting_annotations``, exit code 3), keeps
what arrived, and resumes once the annotations are in the ledger."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from asl_core import AwaitingAnnotations, FrameAnnotation, FrameRef
from asl_core.cli import EXIT_AWAITING, main
from asl_core.ledger import Ledger
from tests.conftest import SMALL_TASK

TASK_OPTS = [f"task.{k}={v}" for k, v in SMALL_TASK.items() if k != "type"]


def _argv(run: Path) -> list[str]:
    return [
        "--oracle",
        "exchange",
        "--work-dir",
        str(run),
        "--cfg-options",
        *TASK_OPTS,
        "budget.cycles=1",
        "--quiet",
    ]


def _selection(run: Path, cycle: int) -> list[FrameRef]:
    data = json.loads((run / "cycles" / f"{cycle:03d}" / "selection.json").read_text())
    return [FrameRef(v, f) for v, f, _ in data["frames"]]


def _annotate(run: Path, cycle: int, frames: list[FrameRef]) -> None:
    """What an import does, by hand: every frame annotated as empty, cost 1."""
    Ledger(run / "ledger.jsonl").append(
        [(cycle, FrameAnnotation(r.video, r.frame, (), oracle="test", cost=1.0)) for r in frames]
    )


def test_a_run_with_the_exchange_oracle_pauses_with_exit_code_3(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    assert main(_argv(run)) == EXIT_AWAITING
    out = capsys.readouterr().out
    assert "paused" in out and "waits for annotations" in out
    state = json.loads((run / "state.json").read_text())
    assert state["status"] == "awaiting_annotations"
    assert state["cycle"] == 0 and state["waiting"] == len(_selection(run, 0))
    ledger = run / "ledger.jsonl"
    assert not ledger.exists() or ledger.read_bytes() == b""


def test_resume_continues_once_the_annotations_are_in_the_ledger(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    assert main(_argv(run)) == EXIT_AWAITING
    _annotate(run, 0, _selection(run, 0))
    # cycle 0 trains, cycle 1 is selected and waits in turn
    assert main(["--resume", str(run), "--quiet"]) == EXIT_AWAITING
    state = json.loads((run / "state.json").read_text())
    assert state["cycle"] == 1 and state["status"] == "awaiting_annotations"
    _annotate(run, 1, _selection(run, 1))
    assert main(["--resume", str(run), "--quiet"]) == 0
    assert json.loads((run / "state.json").read_text())["status"] == "finished"


def test_a_partial_import_waits_only_for_the_rest(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    assert main(_argv(run)) == EXIT_AWAITING
    frames = _selection(run, 0)
    _annotate(run, 0, frames[:2])
    assert main(["--resume", str(run), "--quiet"]) == EXIT_AWAITING
    assert json.loads((run / "state.json").read_text())["waiting"] == len(frames) - 2


def test_annotations_received_before_the_pause_are_kept(tmp_path) -> None:
    """An oracle that answers some frames and then waits: the answers reach the ledger."""
    from asl_core.config import build_config
    from asl_core.loop import ActiveLearningLoop, build_components, create_run
    from asl_core.plugins import make_plugin_manager
    from asl_core.testing import FakeOracle

    class HalfOracle(FakeOracle):
        def annotate(self, frames, task):
            frames = list(frames)
            half = len(frames) // 2
            yield from super().annotate(frames[:half], task)
            raise AwaitingAnnotations(frames[half:])

    cfg = build_config(cfg_options={**{f"task.{k}": v for k, v in SMALL_TASK.items()}})
    components = build_components(cfg, make_plugin_manager(strict=True, environ={}))
    components = attrs.evolve(components, oracle=HalfOracle())
    run = create_run(tmp_path / "run", cfg, components)
    with pytest.raises(AwaitingAnnotations) as info:
        ActiveLearningLoop(run, cfg, components).run()
    selected = _selection(run.root, 0)
    half = len(selected) // 2
    assert list(info.value.frames) == selected[half:]
    assert info.value.cycle == 0 and info.value.run == run.root
    kept = [r.annotation.ref for r in Ledger(run.root / "ledger.jsonl").read().records]
    assert kept == selected[:half]
