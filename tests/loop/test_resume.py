"""Crash and resume: an interrupted run, resumed, ends exactly like an uninterrupted one."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

from asl_core import FrameStats, LedgerError, RunDirError, ScorerBase
from asl_core import loop as loop_mod
from asl_core.ledger import Ledger
from asl_core.loop import (
    ActiveLearningLoop,
    Components,
    LoopObserver,
    build_components,
    create_run,
    open_run,
)
from tests.conftest import small_config


class Crash(BaseException):
    """Stands for a kill: not an Exception, so nothing on the way catches it."""


class CrashOnCall:
    """Proxy that raises :class:`Crash` on the ``n``-th call of ``method`` (for generators: after
    ``after`` items of that call)."""

    def __init__(self, inner: Any, method: str, n: int, after: int | None = None) -> None:
        self._inner, self._method, self._n, self._after = inner, method, n, after
        self._calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name != self._method:
            return attr

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            self._calls += 1
            if self._calls != self._n:
                return attr(*args, **kwargs)
            if self._after is None:
                raise Crash(f"{self._method} call {self._n}")
            return self._crash_after(attr(*args, **kwargs))

        return wrapped

    def _crash_after(self, items: Iterator[Any]) -> Iterator[Any]:
        for i, item in enumerate(items):
            if i == self._after:
                raise Crash(f"{self._method} item {i}")
            yield item


class MeanMaxScorer(ScorerBase):
    """Test scorer needing model outputs: 1 - mean max-probability per frame."""

    requires = frozenset({"mc_probs"})

    def frame_stats(self, video, outputs, rng):
        probs = outputs["mc_probs"]
        return FrameStats.of(
            video.id, video.num_frames, u=1.0 - probs.max(axis=2).mean(axis=(0, 2, 3))
        )

    def score(self, stats, labelled, num_frames):
        return np.asarray(stats.values["u"], dtype=np.float64)


CYCLES = {"budget.cycles": 3}


def _components(cfg, manager, scorer: str) -> Components:
    comps = build_components(cfg, manager)
    if scorer == "meanmax":
        comps = attrs.evolve(
            comps, scorer=MeanMaxScorer(), names={**comps.names, "scorer": "meanmax"}
        )
    return comps


def _artifacts(root: Path) -> dict[str, bytes]:
    """Ledger, selections and metrics of a run (what must match)."""
    out = {"ledger": (root / "ledger.jsonl").read_bytes()}
    for sel in sorted(root.glob("cycles/*/selection.json")):
        out[str(sel.relative_to(root))] = sel.read_bytes()
    for met in sorted(root.glob("cycles/*/metrics.json")):
        out[str(met.relative_to(root))] = met.read_bytes()
    return out


@pytest.fixture(params=["random", "meanmax"])
def scorer(request) -> str:
    return request.param


_REFERENCES: dict[str, dict[str, bytes]] = {}


@pytest.fixture
def reference(tmp_path_factory, manager, scorer) -> dict[str, bytes]:
    """Artifacts of an uninterrupted run (computed once per scorer)."""
    if scorer not in _REFERENCES:
        cfg = small_config(**CYCLES)
        comps = _components(cfg, manager, scorer)
        run = create_run(tmp_path_factory.mktemp("ref") / "run", cfg, comps)
        ActiveLearningLoop(run, cfg, comps).run()
        _REFERENCES[scorer] = _artifacts(run.root)
    return _REFERENCES[scorer]


def _crash_then_resume(tmp_path, manager, scorer, wrap, monkeypatch) -> dict[str, bytes]:
    cfg = small_config(**CYCLES)
    comps = wrap(_components(cfg, manager, scorer))
    run = create_run(tmp_path / "run", cfg, comps)
    with pytest.raises(Crash):
        ActiveLearningLoop(run, cfg, comps).run()
    monkeypatch.undo()  # the "restarted process" has no fault injected
    run2, stored, state = open_run(run.root)
    assert state["status"] in ("created", "running")
    comps2 = _components(stored, manager, scorer)
    ActiveLearningLoop(run2, stored, comps2).run()
    return _artifacts(run.root)


# (component, method, call number, items before the crash for generators)
CRASH_POINTS = [
    ("oracle", "annotate", 1, 3),  # during the initial labels, mid-way through a chunk
    ("task", "train", 1, None),  # first training
    ("task", "train", 3, None),  # training of cycle 2
    ("task", "save_checkpoint", 2, None),  # while writing a checkpoint
    ("task", "evaluate", 2, None),
    ("scorer", "frame_stats", 9, None),  # half-way through scoring cycle 0's pool
    ("selector", "select", 2, None),
    ("oracle", "annotate", 3, 1),  # after one frame of cycle 2's purchase
]


@pytest.mark.parametrize("component,method,n,after", CRASH_POINTS)
def test_crash_in_a_phase_then_resume_matches(
    tmp_path, manager, scorer, reference, monkeypatch, component, method, n, after
):
    """A crash in any phase, then --resume, gives the uninterrupted run's ledger and selections."""
    monkeypatch.setattr(loop_mod, "ANNOTATE_CHUNK", 2)  # several appends per purchase

    def wrap(comps: Components) -> Components:
        return attrs.evolve(
            comps, **{component: CrashOnCall(getattr(comps, component), method, n, after)}
        )

    assert _crash_then_resume(tmp_path, manager, scorer, wrap, monkeypatch) == reference


@pytest.mark.parametrize("scorer", ["meanmax"])
def test_crash_during_prediction_then_resume_matches(
    tmp_path, manager, scorer, reference, monkeypatch
):
    """A crash while the model predicts on the pool is resumed transparently."""

    def wrap(comps: Components) -> Components:
        # predict runs once per video: this crashes inside the 5th video of cycle 0's scoring
        return attrs.evolve(comps, task=CrashOnCall(comps.task, "predict", 5, after=0))

    assert _crash_then_resume(tmp_path, manager, scorer, wrap, monkeypatch) == reference


def test_resumed_scoring_skips_the_videos_already_scored(tmp_path, manager, monkeypatch):
    """After a crash half-way through scoring, the resumed run predicts only the videos left
    (their statistics are cached under cache/stats/ by checkpoint hash)."""
    cfg = small_config(**CYCLES)
    comps = _components(cfg, manager, "meanmax")
    run = create_run(tmp_path / "run", cfg, comps)
    crashing = attrs.evolve(comps, task=CrashOnCall(comps.task, "predict", 5, after=0))
    with pytest.raises(Crash):
        ActiveLearningLoop(run, cfg, crashing).run()
    entries = sorted(run.root.glob("cache/stats/*/*.npz"))
    assert [p.name for p in entries] == [f"{i:07d}.npz" for i in range(4)]
    run2, stored, _ = open_run(run.root)
    comps2 = _components(stored, manager, "meanmax")
    predicted: list[str] = []
    real = comps2.task.predict

    def spy(model, videos, requires, rng):
        predicted.extend(v.id for v in videos)
        return real(model, videos, requires, rng)

    monkeypatch.setattr(comps2.task, "predict", spy)
    ActiveLearningLoop(run2, stored, comps2).run()
    pool = [v.id for v in comps2.task.pool()]
    cycles = CYCLES["budget.cycles"]
    # cycle 0: the 4 cached videos are skipped; later cycles score the whole pool
    assert predicted[: len(pool) - 4] == pool[4:]
    assert len(predicted) == len(pool) * cycles - 4


@pytest.mark.parametrize("append_no", [1, 4])
def test_crash_in_the_middle_of_a_ledger_append(
    tmp_path, manager, scorer, reference, monkeypatch, append_no
):
    """Half a line written by a killed append is set aside and the frame is bought again."""
    monkeypatch.setattr(loop_mod, "ANNOTATE_CHUNK", 2)
    calls = {"n": 0}
    real_write = Ledger._write

    def half_write(self, fd, data):
        calls["n"] += 1
        if calls["n"] == append_no:
            real_write(self, fd, data[: len(data) // 2 + 3])
            raise Crash("killed mid-append")
        real_write(self, fd, data)

    monkeypatch.setattr(Ledger, "_write", half_write)
    notes: list[str] = []

    class Notes(LoopObserver):
        def note(self, message: str) -> None:
            notes.append(message)

    cfg = small_config(**CYCLES)
    comps = _components(cfg, manager, scorer)
    run = create_run(tmp_path / "run", cfg, comps)
    with pytest.raises(Crash):
        ActiveLearningLoop(run, cfg, comps).run()
    monkeypatch.undo()
    assert not run.ledger_path.read_bytes().endswith(b"\n")
    ActiveLearningLoop(run, cfg, _components(cfg, manager, scorer), Notes()).run()
    assert _artifacts(run.root) == reference
    assert any("cut off" in n for n in notes)
    assert Ledger(run.ledger_path).partial_path.read_bytes()  # the fragment was kept


@pytest.mark.parametrize("write_no", [3, 7, 15])
def test_crash_while_rewriting_state(tmp_path, manager, scorer, reference, monkeypatch, write_no):
    """A crash during an atomic rewrite leaves the old state readable and the run resumable."""
    calls = {"n": 0}
    real = loop_mod.atomic_write_json

    def flaky(path, obj):
        calls["n"] += 1
        if calls["n"] == write_no:
            raise Crash("killed during a JSON rewrite")
        real(path, obj)

    monkeypatch.setattr(loop_mod, "atomic_write_json", flaky)
    assert _crash_then_resume(tmp_path, manager, scorer, lambda c: c, monkeypatch) == reference


def test_resume_of_a_finished_run_changes_nothing(tmp_path, manager):
    """Resuming a finished run re-reads its results and writes no new label."""
    cfg = small_config(**{"budget.cycles": 1})
    comps = build_components(cfg, manager)
    run = create_run(tmp_path / "run", cfg, comps)
    first = ActiveLearningLoop(run, cfg, comps).run()
    before = _artifacts(run.root)
    again = ActiveLearningLoop(run, cfg, build_components(cfg, manager)).run()
    assert _artifacts(run.root) == before
    assert [r.metrics for r in again] == [r.metrics for r in first]


def test_corrupt_ledger_line_is_an_error_and_nothing_changes(tmp_path, manager):
    """A damaged line before the end of the ledger stops the run, naming file and line."""
    cfg = small_config(**{"budget.cycles": 1})
    comps = build_components(cfg, manager)
    run = create_run(tmp_path / "run", cfg, comps)
    ActiveLearningLoop(run, cfg, comps).run()
    lines = run.ledger_path.read_bytes().splitlines(keepends=True)
    lines[2] = b'{"cycle": 0, "video": \n'
    run.ledger_path.write_bytes(b"".join(lines))
    before = _artifacts(run.root)
    with pytest.raises(LedgerError, match=r"ledger.jsonl, line 3"):
        ActiveLearningLoop(run, cfg, build_components(cfg, manager)).run()
    assert _artifacts(run.root) == before


def test_corrupt_state_is_reported_by_open_run(tmp_path, manager):
    """A state.json that is not JSON is named in the error and left as it is."""
    cfg = small_config(**{"budget.cycles": 0})
    comps = build_components(cfg, manager)
    run = create_run(tmp_path / "run", cfg, comps)
    run.state_path.write_text("{not json")
    with pytest.raises(RunDirError, match=r"state\.json: corrupt"):
        open_run(run.root)
    assert run.state_path.read_text() == "{not json"


def test_open_run_refuses_a_folder_that_is_not_a_run(tmp_path):
    """--resume on an ordinary folder says it is not a run."""
    (tmp_path / "x").mkdir()
    with pytest.raises(RunDirError, match="not an ASL run"):
        open_run(tmp_path / "x")


def test_second_process_is_refused_by_the_lock(tmp_path, manager):
    """While one process holds the run, another cannot work on it."""
    cfg = small_config(**{"budget.cycles": 0})
    comps = build_components(cfg, manager)
    run = create_run(tmp_path / "run", cfg, comps)
    with (
        run.locked(),
        pytest.raises(RunDirError, match=f"in use by another process \\(pid {os.getpid()}\\)"),
    ):
        ActiveLearningLoop(run, cfg, comps).run()
    assert not run.ledger_path.exists()


def test_changed_pool_is_refused_on_resume(tmp_path, manager):
    """Resuming with a task whose dataset changed is an error."""
    cfg = small_config(**{"budget.cycles": 0})
    comps = build_components(cfg, manager)
    run = create_run(tmp_path / "run", cfg, comps)
    other = small_config(**{"budget.cycles": 0, "task.data_seed": 5})
    with pytest.raises(RunDirError, match="pool differs"):
        ActiveLearningLoop(run, cfg, build_components(other, manager)).run()
    assert json.loads(run.state_path.read_text())["status"] == "created"


@pytest.mark.parametrize("write_no", [1, 2])
def test_crash_while_creating_the_run_leaves_nothing(tmp_path, manager, monkeypatch, write_no):
    """A run folder appears complete or not at all: a crash during creation leaves no trace."""
    calls = {"n": 0}
    real = loop_mod.atomic_write_json

    def flaky(path, obj):
        calls["n"] += 1
        if calls["n"] == write_no:
            raise Crash("killed while creating the run")
        real(path, obj)

    monkeypatch.setattr(loop_mod, "atomic_write_json", flaky)
    cfg = small_config(**CYCLES)
    with pytest.raises(Crash):
        create_run(tmp_path / "run", cfg, _components(cfg, manager, "random"))
    assert list(tmp_path.iterdir()) == []
