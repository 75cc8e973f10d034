"""Crash-and-resume matrix with real ``SIGKILL`` (issue 10).

A real ``asl-run`` process on the tiny numpy ``fake`` task kills itself with ``SIGKILL`` at a
deterministic point (``kill_child.py`` patches one function to die on its N-th call: while
training, while scoring a video, right after ``selection.json`` is written, half-way through a
ledger append, before or after the rename of an atomic write, during ``asl-run export`` and
``asl-run import`` of a run paused by the ``exchange`` oracle...). Then unpatched processes
finish the run the way a user would (``asl-run --resume DIR``; export, annotate, import again for
a paused run), and the final ledger, labels, ``cycles/*/selection.json`` and metrics must equal
those of an uninterrupted run with the same seed, with no duplicated or missing ledger line.

The kill points are a deterministic list plus a few random ones (a fixed seed picks a function
and a call number among the calls an uninterrupted run makes). Everything runs once per module,
in a small thread pool; each test checks one kill point. Every ``asl-run`` command is its own
process, forked from a per-thread fork server that has imported the toolkit once
(``kill_child.py --serve``): the same code runs, minus 0.3 s of interpreter start and imports
per command, which keeps the ~90 commands of this file within ~20 s on two cores.

What the existing tests do not cover and this file does: ``tests/loop/test_resume.py`` injects
in-process ``Crash`` exceptions (``finally`` blocks still run) and ``tests/loop/test_cli_run.py``
kills one run at one timing-dependent moment; here every kill is a real ``SIGKILL`` at a
reproducible point, including inside the atomic writes and during export/import.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import pytest

from asl_core.ledger import Ledger
from tests.conftest import SMALL_TASK

CHILD = Path(__file__).with_name("kill_child.py")
TASK_OPTS = [f"task.{k}={v}" for k, v in SMALL_TASK.items() if k != "type"]
#: the run every simulated-oracle case kills and resumes (APU needs model outputs, so it
#: predicts once per video and caches statistics in cache/stats/)
RUN_OPTS = [
    "--task", "fake", "--scorer", "apu", "--selector", "global", "--quiet",
    "--cfg-options", *TASK_OPTS, "budget.cycles=3",
]  # fmt: skip
#: the same with people as the oracle: every purchase pauses (exit 3) for export / import
EXCHANGE_OPTS = [
    "--task", "fake", "--scorer", "apu", "--selector", "global", "--oracle", "exchange",
    "--quiet", "--cfg-options", *TASK_OPTS, "budget.cycles=1",
]  # fmt: skip
# one BLAS thread: the children are many and tiny, and a fork server must have no threads
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "COLUMNS": "120"}
KILLED = -signal.SIGKILL
#: children run at the same time (they are processes; the pool threads only wait on them)
WORKERS = 4
RANDOM_SEED = 10
RANDOM_POINTS = 6
#: (target, modes) the random kill points are drawn from (see kill_child.TARGETS)
RANDOM_TARGETS: dict[str, tuple[str, ...]] = {
    "train": ("enter",),
    "evaluate": ("enter",),
    "predict": ("enter",),
    "save_checkpoint": ("enter", "half"),
    "stats_put": ("enter", "exit"),
    "ledger_append": ("enter", "exit"),
    "ledger_write": ("half",),
    "loop_json": ("enter", "exit"),
    "replace": ("enter", "exit"),
    "fsync_dir": ("enter",),
    "fsync": ("enter",),
}


# --------------------------------------------------------------------------- processes


class ForkServer:
    """A ``kill_child.py --serve`` process: each :meth:`run` is one ``asl-run`` command in a
    new process forked from it (see ``kill_child.serve``). One per pool thread."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.calls = 0
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=ENV,
            text=True,
        )

    def run(
        self, args: Sequence[Any], spec: Mapping[str, Any] | None
    ) -> subprocess.CompletedProcess:
        """``asl-run ARGS`` with ``spec``'s fault (or none) in a new process; waits for it."""
        self.calls += 1
        out, err = (self.scratch / f"{self.calls}.{name}" for name in ("out", "err"))
        argv = [str(a) for a in args]
        request = {"spec": dict(spec or {}), "argv": argv, "stdout": str(out), "stderr": str(err)}
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer:
            raise RuntimeError("the fork server died")
        code = json.loads(answer)["returncode"]
        return subprocess.CompletedProcess(
            ["asl-run", json.dumps(spec or {}), *argv], code, out.read_text(), err.read_text()
        )

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


_local = threading.local()


def _asl(args: Sequence[Any], spec: Mapping[str, Any] | None = None) -> subprocess.CompletedProcess:
    """``asl-run ARGS`` in a new process, with ``spec``'s fault or call counting (none: the
    plain CLI), through this thread's fork server."""
    return _local.server.run(args, spec)


def _describe(procs: Sequence[subprocess.CompletedProcess]) -> str:
    """The commands of a case with their exit codes and error output (for failure messages)."""
    lines = []
    for p in procs:
        _, spec, *argv = p.args
        fault = f"   # fault {spec}" if spec != "{}" else ""
        lines.append(
            f"$ asl-run {' '.join(argv)}{fault}\n  -> {p.returncode} {p.stderr.strip()[-600:]}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- run contents


@attrs.frozen(repr=False)
class RunContents:
    """What must survive any crash: the purchased labels and every selection (plus metrics,
    equal for this deterministic task), and how the run directory ends up."""

    def __repr__(self) -> str:  # short, for assertion messages
        return f"RunContents(status={self.status!r}, {len(self.records)} ledger records)"

    ledger: bytes
    records: tuple[tuple[int, str, int], ...]
    duplicates: int
    selections: dict[str, bytes]
    metrics: dict[str, bytes]
    status: str | None
    temporaries: tuple[str, ...]
    staging: tuple[str, ...]
    partial: bytes

    @classmethod
    def read(cls, root: Path) -> RunContents:
        contents = Ledger(root / "ledger.jsonl").read()
        state = root / "state.json"
        partial = root / "ledger.jsonl.partial"
        return cls(
            ledger=(root / "ledger.jsonl").read_bytes()
            if (root / "ledger.jsonl").exists()
            else b"",
            records=tuple(
                (r.cycle, r.annotation.video, r.annotation.frame) for r in contents.records
            ),
            duplicates=len(contents.duplicates),
            selections={
                p.parent.name: p.read_bytes() for p in sorted(root.glob("cycles/*/selection.json"))
            },
            metrics={
                p.parent.name: p.read_bytes() for p in sorted(root.glob("cycles/*/metrics.json"))
            },
            status=json.loads(state.read_text())["status"] if state.is_file() else None,
            temporaries=tuple(str(p.relative_to(root)) for p in sorted(root.rglob("*.tmp"))),
            staging=tuple(p.name for p in root.parent.glob(f".{root.name}.creating-*")),
            partial=partial.read_bytes() if partial.exists() else b"",
        )


def _is_run(root: Path) -> bool:
    return (root / "config.json").is_file() and (root / "state.json").is_file()


def _state(root: Path) -> dict[str, Any]:
    return json.loads((root / "state.json").read_text())


# --------------------------------------------------------------------------- kill points


@attrs.frozen
class KillPoint:
    """One fault: ``target``'s ``n``-th call (counting only calls whose path contains
    ``match``) dies ``when`` (``enter``, ``exit`` or ``half``). For the exchange flow,
    ``command`` (``start``, ``export``, ``import`` or ``resume``) and ``cycle`` say which
    ``asl-run`` invocation gets the fault."""

    id: str
    target: str
    n: int
    when: str = "enter"
    match: str | None = None
    command: str = "run"
    cycle: int = 0

    def spec(self) -> dict[str, Any]:
        return {"kill": self.target, "n": self.n, "when": self.when, "match": self.match}


#: simulated-oracle run (cycles 0-3; 6 videos, so predict is called 6 times per scoring phase)
SIMULATED_POINTS = [
    KillPoint("create-run-in-staging", "replace", 1, "enter", "config.json"),
    KillPoint("train-cycle0", "train", 1),
    KillPoint("train-cycle2", "train", 3),
    KillPoint("checkpoint-half-written", "save_checkpoint", 2, "half"),
    KillPoint("evaluate-cycle1", "evaluate", 2),
    KillPoint("predict-video4-cycle0", "predict", 4),
    KillPoint("predict-video3-cycle1", "predict", 9),
    KillPoint("stats-cache-before-rename", "replace", 2, "enter", "cache/stats"),
    KillPoint("initial-selection-before-ledger", "loop_json", 1, "exit", "selection.json"),
    KillPoint("selection-cycle2-before-ledger", "loop_json", 3, "exit", "selection.json"),
    KillPoint("ledger-append-half-initial", "ledger_write", 1, "half"),
    KillPoint("ledger-append-half-cycle3", "ledger_write", 4, "half"),
    KillPoint("state-before-rename", "replace", 3, "enter", "state.json"),
    KillPoint("state-after-rename", "replace", 8, "exit", "state.json"),
    KillPoint("selection-before-rename", "replace", 3, "enter", "selection.json"),
    KillPoint("checkpoint-before-folder-fsync", "fsync_dir", 1, "enter", "cycles/001"),
    KillPoint("summary-before-rename", "replace", 1, "enter", "summary.json"),
    KillPoint("report-after-rename", "replace", 1, "exit", "report.md"),
]

#: exchange-oracle run (cycles 0-1): start, then per cycle export, annotate, import, resume
EXCHANGE_POINTS = [
    KillPoint("start-state-while-pausing", "replace", 4, "enter", "state.json", "start", 0),
    KillPoint("export-before-writing", "write_request", 1, "enter", None, "export", 0),
    KillPoint("export-before-file-rename", "replace", 1, "enter", "exports", "export", 0),
    KillPoint("export-prefill-before-rename", "replace", 1, "enter", "prefill.jsonl", "export", 1),
    KillPoint("import-before-ledger-append", "ledger_append", 1, "enter", None, "import", 1),
    KillPoint("import-ledger-half", "ledger_write", 1, "half", None, "import", 0),
    KillPoint("import-after-ledger-append", "ledger_append", 1, "exit", None, "import", 0),
    KillPoint("resume-training", "train", 1, "enter", None, "resume", 0),
    KillPoint("resume-selection-before-pause", "loop_json", 1, "exit", "selection.json", "resume", 0),
]  # fmt: skip


def random_points(counts: Mapping[str, int]) -> list[KillPoint]:
    """``RANDOM_POINTS`` kill points drawn with a fixed seed: a target among those an
    uninterrupted run calls, a call number up to its count, and a mode."""
    rng = random.Random(RANDOM_SEED)
    targets = sorted(t for t in RANDOM_TARGETS if counts.get(t, 0) > 0)
    points = []
    for i in range(RANDOM_POINTS):
        target = rng.choice(targets)
        n = rng.randint(1, counts[target])
        when = rng.choice(RANDOM_TARGETS[target])
        points.append(KillPoint(f"random-{i}", target, n, when))
    return points


# --------------------------------------------------------------------------- drivers


@attrs.frozen
class Outcome:
    """A kill point's result: did the fault fire, what every command did, the final run."""

    point: KillPoint
    killed: bool
    log: str
    contents: RunContents | None
    error: str | None = None


def drive_simulated(root: Path, point: KillPoint | None) -> list[subprocess.CompletedProcess]:
    """Start the simulated run (with ``point``'s fault), then resume it, unpatched, until it
    finishes (a kill before the run folder existed starts it again, as a user would)."""
    start = ["--work-dir", root, *RUN_OPTS]
    procs = [_asl(start, point.spec() if point else None)]
    for _ in range(3):
        if _is_run(root) and _state(root)["status"] == "finished":
            break
        procs.append(_asl(["--resume", root, "--quiet"] if _is_run(root) else start))
    return procs


def _waiting(root: Path, cycle: int) -> list[tuple[str, int]]:
    """Frames of ``cycle``'s selection not (completely) in the ledger."""
    data = json.loads((root / "cycles" / f"{cycle:03d}" / "selection.json").read_text())
    bought = {
        (r.annotation.video, r.annotation.frame)
        for r in Ledger(root / "ledger.jsonl").read().records
        if r.cycle == cycle
    }
    return [(v, f) for v, f, _ in data["frames"] if (v, f) not in bought]


def annotate(export: Path, out: Path) -> None:
    """The annotator: keeps each pre-filled box, draws a box where there is none (a pure
    function of the frame, so a re-export of fewer frames gets the same answers), and names
    the actor track 0 so track ids do not depend on which frames a file holds."""
    doc = json.loads(export.read_text())
    prefilled = {a["image_id"]: a for a in doc["annotations"]}
    anns = []
    for image in doc["images"]:
        frame = int(image["frame_index"])
        ann = prefilled.get(image["id"]) or {
            "category_id": 1 + frame % len(doc["categories"]),
            "bbox": [1 + frame % 3, 2, 4, 4],
            "iscrowd": 0,
        }
        anns.append({**ann, "id": len(anns) + 1, "image_id": image["id"], "track_id": 0})
    doc["annotations"] = anns
    out.write_text(json.dumps(doc))


def drive_exchange(
    root: Path,
    files: Path,
    point: KillPoint | None,
    *,
    snapshots: dict[int, Path] | None = None,
) -> list[subprocess.CompletedProcess]:
    """Drive an exchange-oracle run to the end from whatever state ``root`` is in, as a team
    would: start it; while it waits for frames, export them, annotate, import; once a cycle is
    complete, resume. ``point``'s fault goes to the first command of its kind and cycle.
    ``snapshots`` (the reference run) receives a copy of the run folder before the first
    export of each cycle. An import that fails stops the drive (the final check reports it
    with this log)."""
    files.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.CompletedProcess] = []
    pending = point

    def call(command: str, cycle: int, args: list[Any]) -> subprocess.CompletedProcess:
        nonlocal pending
        spec = None
        if pending is not None and (pending.command, pending.cycle) == (command, cycle):
            spec, pending = pending.spec(), None
        procs.append(_asl(args, spec))
        return procs[-1]

    for step in range(30):
        if not _is_run(root):
            call("start", 0, ["--work-dir", root, *EXCHANGE_OPTS])
            continue
        state = _state(root)
        cycle = int(state["cycle"])
        if state["status"] == "finished":
            break
        if state["status"] != "awaiting_annotations" or not _waiting(root, cycle):
            call("resume", cycle, ["--resume", root, "--quiet"])
            continue
        if snapshots is not None and cycle not in snapshots:
            snapshots[cycle] = files.parent / f"snapshot-{cycle}"
            shutil.copytree(root, snapshots[cycle], symlinks=True)
        export = files / f"exports-{step}.json"
        if call(
            "export", cycle, ["export", "--run", root, "--format", "coco", "--out", export]
        ).returncode:
            continue
        annotate(export, files / f"annotated-{step}.json")
        imported = call(
            "import", cycle, ["import", "--run", root, files / f"annotated-{step}.json"]
        )
        if imported.returncode not in (0, KILLED):
            break
    return procs


# --------------------------------------------------------------------------- the matrix


@attrs.frozen
class Matrix:
    """The references and every kill point's outcome (futures, filled by the pool)."""

    simulated: RunContents
    exchange: RunContents
    outcomes: dict[str, Future]


def _outcome(
    point: KillPoint, run: Callable[[], list[subprocess.CompletedProcess]], root: Path
) -> Outcome:
    procs: list[subprocess.CompletedProcess] = []
    try:
        procs = run()
        killed = any(p.returncode == KILLED for p in procs)
        return Outcome(point, killed, _describe(procs), RunContents.read(root))
    except Exception as exc:  # reported by the test of this point, not by the fixture
        return Outcome(point, False, _describe(procs), None, f"{type(exc).__name__}: {exc}")


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    """Run both references, then every kill point, in a pool of ``WORKERS`` threads, each
    with its own fork server."""
    base = tmp_path_factory.mktemp("kill-matrix")
    snapshots: dict[int, Path] = {}
    counts_file = base / "counts.json"

    def simulated_reference() -> RunContents:
        root = base / "ref-simulated"
        proc = _asl(["--work-dir", root, *RUN_OPTS], {"count": str(counts_file)})
        assert proc.returncode == 0, proc.stderr
        return RunContents.read(root)

    def exchange_reference() -> RunContents:
        root = base / "ref-exchange" / "run"
        procs = drive_exchange(root, base / "ref-exchange" / "files", None, snapshots=snapshots)
        assert _state(root)["status"] == "finished", _describe(procs)
        return RunContents.read(root)

    servers: list[ForkServer] = []
    lock = threading.Lock()

    def start_server() -> None:
        with lock:
            scratch = base / f"server-{len(servers)}"
            scratch.mkdir()
            _local.server = ForkServer(scratch)
            servers.append(_local.server)

    pool = ThreadPoolExecutor(WORKERS, initializer=start_server)
    refs = [pool.submit(simulated_reference), pool.submit(exchange_reference)]
    simulated, exchange = (f.result() for f in refs)
    counts = json.loads(counts_file.read_text())
    outcomes: dict[str, Future] = {}

    def simulated_case(point: KillPoint) -> Outcome:
        root = base / point.id / "run"
        return _outcome(point, lambda: drive_simulated(root, point), root)

    def exchange_case(point: KillPoint) -> Outcome:
        root = base / point.id / "run"
        if point.command != "start":
            shutil.copytree(snapshots[point.cycle], root, symlinks=True)
        files = base / point.id / "files"
        return _outcome(point, lambda: drive_exchange(root, files, point), root)

    for point in [*SIMULATED_POINTS, *random_points(counts)]:
        outcomes[point.id] = pool.submit(simulated_case, point)
    for point in EXCHANGE_POINTS:
        outcomes[point.id] = pool.submit(exchange_case, point)
    yield Matrix(simulated, exchange, outcomes)
    pool.shutdown(wait=True, cancel_futures=True)
    for server in servers:
        server.close()


def _check(outcome: Outcome, reference: RunContents) -> RunContents:
    """The assertions every kill point shares; returns the final run contents."""
    assert outcome.error is None, f"{outcome.error}\n{outcome.log}"
    assert outcome.killed, f"the fault never fired: {outcome.point}\n{outcome.log}"
    final = outcome.contents
    assert final is not None
    assert final.status == "finished", outcome.log
    assert final.duplicates == 0, "a frame was bought twice"
    assert final.records == reference.records, "the labels differ from the uninterrupted run"
    assert final.ledger == reference.ledger, "the ledger bytes differ from the uninterrupted run"
    assert final.selections == reference.selections
    assert final.metrics == reference.metrics
    assert final.temporaries == (), "stale temporaries were left in the run folder"
    assert final.staging == (), "a half-made run folder was left next to the run"
    return final


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("point", SIMULATED_POINTS, ids=lambda p: p.id)
def test_killed_run_resumes_to_the_uninterrupted_result(matrix: Matrix, point: KillPoint) -> None:
    """A run killed at a deterministic point and resumed ends with the uninterrupted run's
    ledger (no duplicated or missing line), labels, selections and metrics."""
    final = _check(matrix.outcomes[point.id].result(), matrix.simulated)
    if point.when == "half" and point.target == "ledger_write":
        assert final.partial, "the torn ledger line was not kept in ledger.jsonl.partial"


@pytest.mark.parametrize("index", range(RANDOM_POINTS), ids=lambda i: f"random-{i}")
def test_run_killed_at_a_random_point_resumes_to_the_uninterrupted_result(
    matrix: Matrix, index: int
) -> None:
    """The same at kill points drawn with a fixed seed: a function an uninterrupted run calls
    and a call number up to its count (the point is in the failure message)."""
    _check(matrix.outcomes[f"random-{index}"].result(), matrix.simulated)


@pytest.mark.parametrize("point", EXCHANGE_POINTS, ids=lambda p: p.id)
def test_killed_exchange_command_recovers_to_the_uninterrupted_result(
    matrix: Matrix, point: KillPoint
) -> None:
    """A start, export, import or resume of a run with people as the oracle, killed and then
    simply run again (an import killed mid-append too: importing again sets the torn line
    aside), loses and duplicates no label."""
    final = _check(matrix.outcomes[point.id].result(), matrix.exchange)
    if point.when == "half" and point.target == "ledger_write":
        assert final.partial, "the torn ledger line was not kept in ledger.jsonl.partial"
