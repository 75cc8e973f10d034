"""The active-learning loop (paper §3, Fig. 2), resumable at any point.

One run::

    cycle 0:  buy the initial random labels (init_pct % of each video)
    cycle k:  train on labels of cycles <= k  →  evaluate  →  (budget left?)
              predict (only when the scorer requires model outputs)  →  frame_stats
              →  prepare_pool  →  select  →  oracle  →  ledger  →  cycle k+1

Every phase leaves an artifact written atomically in ``cycles/NNN/`` (``selection.json``, the
model checkpoint, ``metrics.json``) or complete lines in the ledger, and is skipped when its
artifact exists. Randomness comes from :func:`phase_rng`, a pure function of (seed, cycle,
phase), so a phase redone after a crash draws exactly what it drew the first time: a resumed
run ends with the same labels as an uninterrupted one.

Nothing here prints; progress and messages go to a :class:`LoopObserver` (the CLI draws them
with rich).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from attrs import frozen

from . import __version__
from .budget import NextBudget, initial_selection, next_budget
from .config import PLUGIN_SECTIONS, BudgetParams, budget_of, render_config, validate_config
from .distributed import DistContext
from .distributed import current as current_dist
from .errors import (
    AwaitingAnnotations,
    ConfigError,
    LedgerError,
    PluginContractError,
    RunDirError,
)
from .interfaces import NullProgress, Oracle, Progress, Scorer, Selector, SparseLoss, Task
from .ledger import Ledger, LedgerContents
from .plugins import PluginManager
from .report import render_report
from .rundir import (
    FORMAT_VERSION,
    RunDir,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_with,
    read_json,
)
from .scoring import check_stats, score_pool
from .statscache import StatsCache, file_sha256
from .types import CycleResult, FrameRef, FrameStats, LabelState, Selection, VideoInfo

__all__ = [
    "PHASES",
    "ActiveLearningLoop",
    "Components",
    "LoopObserver",
    "build_components",
    "build_plugin",
    "check_selection",
    "check_stats",
    "create_run",
    "open_run",
    "phase_rng",
    "pool_fingerprint",
]

log = logging.getLogger(__name__)

#: phase names; their positions enter the RNG derivation, so only ever append.
PHASES: tuple[str, ...] = (
    "init",
    "model",
    "train",
    "evaluate",
    "predict",
    "stats",
    "select",
    "annotate",
)
ANNOTATE_CHUNK = 64


def phase_rng(seed: int, cycle: int, phase: str, *extra: int) -> np.random.Generator:
    """The generator of one phase of one cycle (SPEC 7 style child stream of the run seed).

    Args:
        seed: the run seed.
        cycle: the cycle number.
        phase: one of :data:`PHASES`.
        extra: further integers, e.g. a video's position for per-video streams.
    """
    key = (int(cycle), PHASES.index(phase), *(int(e) for e in extra))
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=key))


def pool_fingerprint(pool: Sequence[VideoInfo]) -> str:
    """A hash of the pool's video ids and lengths (a resumed run must see the same pool)."""
    h = hashlib.sha256()
    for v in pool:
        h.update(f"{v.id}\0{v.num_frames}\n".encode())
    return h.hexdigest()[:16]


class LoopObserver:
    """Receives progress and results from the loop. The default does nothing (logs notes)."""

    def phase(self, cycle: int, name: str) -> contextlib.AbstractContextManager[Progress]:
        """Context for one phase; yields the :class:`Progress` to report to."""
        return contextlib.nullcontext(NullProgress())

    def note(self, message: str) -> None:
        """Something the user should know (a clipped budget, a recovered ledger line...)."""
        log.warning("%s", message)

    def cycle_done(self, result: CycleResult) -> None:
        """A cycle's model was evaluated."""


@frozen
class Components:
    """The plugins of one run, built from its config."""

    task: Task
    scorer: Scorer
    selector: Selector
    loss: SparseLoss
    oracle: Oracle
    names: Mapping[str, str]


_PROTOCOLS = {
    "task": Task,
    "scorer": Scorer,
    "selector": Selector,
    "loss": SparseLoss,
    "oracle": Oracle,
}


def build_plugin(cfg: Mapping[str, Any], section: str, manager: PluginManager) -> tuple[str, Any]:
    """Build the plugin of one section of a merged config and check it has its interface.

    Used by :func:`build_components` and by ``asl-run select``, which needs only a scorer and a
    selector (building the task could import torch for nothing).

    Args:
        cfg: a merged config (:func:`asl_core.config.build_config`).
        section: one of :data:`asl_core.config.PLUGIN_SECTIONS`, e.g. ``"scorer"``.
        manager: where the plugin's name is looked up.

    Returns:
        ``(name, plugin)``.

    Raises:
        UnknownPluginError, ConfigError: bad name or parameters (exit code 2).
        PluginContractError: an object that lacks its interface's methods.
    """
    kind = PLUGIN_SECTIONS[section]
    params = dict(cfg[section])
    name = params.pop("type")
    obj = manager.build(kind, name, params)
    proto = _PROTOCOLS[kind]
    if not isinstance(obj, proto):
        members = set(getattr(proto, "__annotations__", {})) | {
            n for n, v in vars(proto).items() if callable(v) and not n.startswith("_")
        }
        missing = sorted(m for m in members if not hasattr(obj, m))
        raise PluginContractError(
            f"{kind} {name!r} built a {type(obj).__name__} that lacks the {kind} interface "
            f"({proto.__name__}); missing: {', '.join(missing)}"
        )
    return name, obj


def build_components(cfg: Mapping[str, Any], manager: PluginManager) -> Components:
    """Build every plugin of a merged config and check they fit together.

    Raises:
        UnknownPluginError, ConfigError: bad names or parameters (exit code 2).
        PluginContractError: an object that lacks its interface's methods.
    """
    built: dict[str, Any] = {}
    names: dict[str, str] = {}
    for section in PLUGIN_SECTIONS:
        names[section], built[section] = build_plugin(cfg, section, manager)
    requires = frozenset(built["scorer"].requires)
    provided = frozenset(built["task"].outputs)
    if not requires <= provided:
        missing = ", ".join(sorted(requires - provided))
        raise ConfigError(
            f"scorer {names['scorer']!r} needs model outputs ({missing}) that task "
            f"{names['task']!r} does not provide (it provides: {', '.join(sorted(provided)) or 'none'})"
        )
    return Components(names=names, **built)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _validate_pool(pool: Sequence[VideoInfo], task_name: str) -> list[VideoInfo]:
    pool = list(pool)
    if not pool:
        raise PluginContractError(f"task {task_name!r}: the pool is empty")
    seen: set[str] = set()
    for v in pool:
        if not isinstance(v, VideoInfo):
            raise PluginContractError(
                f"task {task_name!r}: pool() must yield VideoInfo, got {type(v).__name__}"
            )
        if v.id in seen:
            raise PluginContractError(
                f"task {task_name!r}: video id {v.id!r} appears twice in the pool"
            )
        seen.add(v.id)
    return pool


def create_run(work_dir: Path | str, cfg: Mapping[str, Any], components: Components) -> RunDir:
    """Create a new run directory: config (``config.py`` and ``config.json``) and initial state.

    The pool is validated first, and the folder is assembled under a temporary name next to
    ``work_dir`` and renamed into place, so a bad task or a crash leaves no half-made run.

    Raises:
        RunDirError: when ``work_dir`` already holds a run or other files.
    """
    run = RunDir(work_dir)
    if run.root.exists():
        if run.is_run():
            raise RunDirError(
                f"{run.root}: already holds a run; continue it with --resume {run.root}"
            )
        if any(run.root.iterdir()):
            raise RunDirError(f"{run.root}: exists and is not empty; choose another --work-dir")
    pool = _validate_pool(components.task.pool(), components.names["task"])
    config_text = render_config(cfg)
    run.root.parent.mkdir(parents=True, exist_ok=True)
    for stale in run.root.parent.glob(f".{run.root.name}.creating-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a process killed while creating
    staging = RunDir(tempfile.mkdtemp(prefix=f".{run.root.name}.creating-", dir=run.root.parent))
    try:
        atomic_write_bytes(staging.config_path, config_text)
        # --resume reads the JSON copy: loading config.py would execute code from the run folder
        atomic_write_json(staging.config_json_path, cfg)
        atomic_write_json(
            staging.state_path,
            {
                "format": FORMAT_VERSION,
                "asl_version": __version__,
                "status": "created",
                "cycle": 0,
                "phase": "init",
                "reason": "",
                "pool": {
                    "videos": len(pool),
                    "frames": sum(v.num_frames for v in pool),
                    "fingerprint": pool_fingerprint(pool),
                },
                "updated": _now(),
            },
        )
        if run.root.exists():
            run.root.rmdir()  # checked empty above
        os.rename(staging.root, run.root)
    except BaseException:
        shutil.rmtree(staging.root, ignore_errors=True)
        raise
    return run


def open_run(path: Path | str) -> tuple[RunDir, dict[str, Any], dict[str, Any]]:
    """Open an existing run for ``--resume``: return (run, stored config, state).

    Raises:
        RunDirError: when the folder is not a run, or its state/config is unreadable.
    """
    run = RunDir(path)
    if not run.root.is_dir():
        raise RunDirError(f"{run.root}: no such run directory")
    if not run.is_run():
        raise RunDirError(f"{run.root}: not an ASL run (no config.json and state.json)")
    state = read_json(run.state_path, "run state")
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION or "pool" not in state:
        raise RunDirError(f"{run.state_path}: corrupt run state (unexpected content)")
    cfg = read_json(run.config_json_path, "run config")
    if not isinstance(cfg, dict):
        raise RunDirError(f"{run.config_json_path}: corrupt run config (not a mapping)")
    try:
        validate_config(cfg)
    except ConfigError as exc:
        raise RunDirError(f"{run.config_json_path}: invalid run config ({exc})") from None
    return run, cfg, state


def _no_selection() -> Selection:
    raise RunDirError("selection.json vanished while the run was buying its frames")


def labels_up_to(contents: LedgerContents, cycle: int) -> LabelState:
    """Human labels bought in cycles ``<= cycle``, plus pseudo-labels of those cycles."""
    human = [
        r.annotation.ref for r in contents.records if r.cycle <= cycle and not r.annotation.pseudo
    ]
    pseudo = [
        r.annotation.ref for r in contents.records if r.cycle <= cycle and r.annotation.pseudo
    ]
    return LabelState.from_frames(human).with_added(pseudo, pseudo=True)


def check_selection(
    sel: Any, labels: LabelState, budget: int, pool: Mapping[str, int], selector: str
) -> Selection:
    """Check a selector's result against the Selector contract.

    Args:
        sel: what ``select`` returned.
        labels: the labels it was given (of pool videos only).
        budget: the budget it was given.
        pool: ``{video id: num_frames}`` of every pool video.
        selector: the selector's name, for messages.

    Raises:
        PluginContractError: unless ``sel`` is a Selection of exactly ``min(budget, unlabelled)``
            distinct, unlabelled pool frames with finite scores.
    """
    if not isinstance(sel, Selection):
        raise PluginContractError(
            f"selector {selector!r}: select() must return a Selection, got {type(sel).__name__}"
        )
    unlabelled = sum(pool.values()) - labels.num_labelled
    expected = min(budget, unlabelled)
    if len(sel) != expected:
        raise PluginContractError(
            f"selector {selector!r}: selected {len(sel)} frames, expected {expected}"
        )
    if len(set(sel.frames)) != len(sel):
        raise PluginContractError(f"selector {selector!r}: selected a frame twice")
    if not np.all(np.isfinite(sel.scores)):
        raise PluginContractError(f"selector {selector!r}: non-finite scores in the selection")
    for ref in sel.frames:
        if ref.video not in pool or ref.frame >= pool[ref.video]:
            raise PluginContractError(
                f"selector {selector!r}: frame {ref.frame} of {ref.video!r} is not in the pool"
            )
        if labels.is_labelled(ref):
            raise PluginContractError(
                f"selector {selector!r}: frame {ref.frame} of {ref.video!r} is already labelled"
            )
    return sel


class ActiveLearningLoop:
    """Runs (or resumes) the cycles of one run directory."""

    def __init__(
        self,
        run: RunDir,
        cfg: Mapping[str, Any],
        components: Components,
        observer: LoopObserver | None = None,
        dist: DistContext | None = None,
    ) -> None:
        self.run_dir = run
        #: this process's place in a torchrun job; only rank 0 touches the run directory
        self.dist = dist if dist is not None else current_dist()
        self.cfg = cfg
        self.c = components
        self.observer = observer or LoopObserver()
        self.seed = int(cfg["seed"])
        self.budget: BudgetParams = budget_of(cfg)
        self.ledger = Ledger(run.ledger_path)
        self.pool: list[VideoInfo] = []
        self._by_id: dict[str, tuple[int, VideoInfo]] = {}
        self._models: dict[int, Any] = {}

    # ------------------------------------------------------------------ state

    def _state(self, **updates: Any) -> None:
        if not self.dist.is_main:
            return
        state = read_json(self.run_dir.state_path, "run state")
        state.update(updates, updated=_now())
        atomic_write_json(self.run_dir.state_path, state)

    def _check_pool(self) -> None:
        self.pool = _validate_pool(self.c.task.pool(), self.c.names["task"])
        self._by_id = {v.id: (i, v) for i, v in enumerate(self.pool)}
        mine = pool_fingerprint(self.pool)
        if self.dist.is_main:
            state = read_json(self.run_dir.state_path, "run state")
            expected = state["pool"]["fingerprint"]
            if mine != expected:
                raise RunDirError(
                    f"{self.run_dir.root}: the task's pool differs from the one this run started "
                    f"with ({len(self.pool)} videos now, {state['pool']['videos']} then); the "
                    "dataset changed"
                )
        prints = self.dist.all_gather(mine)
        odd = [r for r, fp in enumerate(prints) if fp != prints[0]]
        if odd:
            raise RunDirError(
                f"{self.run_dir.root}: rank {odd[0]} sees another pool than rank 0 (its dataset "
                "differs); every process must read the same data"
            )

    def _remove_stale_temporaries(self) -> None:
        # a process killed inside atomic_write_with leaves its ".name.XXXX.tmp"; the real file
        # is intact (old or new), so the temporary is garbage
        for tmp in [
            *self.run_dir.root.glob(".*.tmp"),
            *self.run_dir.root.glob("cycles/*/.*.tmp"),
            *self.run_dir.root.glob("cache/stats/*/.*.tmp"),
        ]:
            tmp.unlink(missing_ok=True)

    def _read_ledger(self) -> LedgerContents:
        contents = self.ledger.read()
        if contents.partial:
            size = self.ledger.recover()
            self.observer.note(
                f"{self.ledger.path}: the last line ({size} bytes) was cut off by an interrupted "
                f"append; it was moved to {self.ledger.partial_path.name} and that frame will be "
                "requested again"
            )
            contents = self.ledger.read()
        for dup in contents.duplicates:
            self.observer.note(
                f"{self.ledger.path}: frame {dup.annotation.frame} of video {dup.annotation.video!r} "
                f"appears again in cycle {dup.cycle}; the first annotation is used"
            )
        for rec in contents.records:
            ref = rec.annotation.ref
            if ref.video not in self._by_id or ref.frame >= self._by_id[ref.video][1].num_frames:
                raise LedgerError(
                    f"{self.ledger.path}: record for unknown frame {ref.video!r}:{ref.frame}"
                )
        return contents

    # ------------------------------------------------------------------ run

    def run(self) -> list[CycleResult]:
        """Run every remaining phase; return the results of all cycles (resumed ones included)."""
        try:
            return self._run()
        except KeyboardInterrupt:
            # say so in the state; every completed phase is on disk and --resume continues
            with contextlib.suppress(Exception):
                self._state(status="interrupted")
            raise

    def _run(self) -> list[CycleResult]:
        d = self.dist
        # rank 0 alone holds the run: the others never read or write its folder
        with self.run_dir.locked() if d.is_main else contextlib.nullcontext():
            if d.is_main:
                self._remove_stale_temporaries()
            self._check_pool()
            contents = d.on_main(self._begin)
            total = sum(v.num_frames for v in self.pool)
            results: list[CycleResult] = []
            cycle = 0
            while True:
                labels = labels_up_to(contents, cycle)
                annotations = contents.annotations(cycle)
                self._train(cycle, labels, annotations)
                metrics = d.on_main(lambda c=cycle: self._evaluate(c))
                bought = [r for r in contents.records if r.cycle == cycle]
                result = CycleResult(
                    cycle=cycle,
                    labelled_frames=labels.num_labelled,
                    total_frames=total,
                    bought_frames=len(bought),
                    cost=float(sum(r.annotation.cost for r in bought)),
                    metrics=metrics,
                    seconds=self._timing(cycle),
                )
                results.append(result)
                self.observer.cycle_done(result)
                nb = d.on_main(
                    lambda c=cycle, n=labels.num_labelled, cs=contents: self._next_budget(
                        c, n, total, cs
                    )
                )
                if nb.frames == 0:
                    d.on_main(lambda c=cycle, b=nb: self._finish(c, b, results))
                    return results
                if nb.reason:
                    self.observer.note(f"cycle {cycle + 1}: {nb.reason}")
                path = self.run_dir.cycle_dir(cycle + 1) / "selection.json"
                if not d.on_main(path.is_file):
                    # every rank scores its shard; rank 0 selects (None on the others)
                    chosen = self._select(cycle, labels, nb)
                    d.on_main(lambda c=cycle, sel=chosen: self._selection(c + 1, lambda: sel))
                contents = d.on_main(
                    lambda c=cycle, cs=contents: self._buy(
                        c + 1, self._selection(c + 1, _no_selection), cs
                    )
                )
                self._models.pop(cycle, None)
                cycle += 1

    def _begin(self) -> LedgerContents:
        """Rank 0: read (and repair) the ledger, mark the run running, buy the initial labels."""
        contents = self._read_ledger()
        self._state(status="running")
        sel = self._selection(
            0,
            lambda: initial_selection(
                self.pool, self.budget.init_pct, phase_rng(self.seed, 0, "init")
            ),
        )
        return self._buy(0, sel, contents)

    def _next_budget(
        self, cycle: int, labelled: int, total: int, contents: LedgerContents
    ) -> NextBudget:
        """The next cycle's budget; with a cost budget, from the costs in the ledger."""
        human = [r for r in contents.records if not r.annotation.pseudo]
        spent = float(sum(r.annotation.cost for r in human))
        initial = [r for r in human if r.cycle == 0]
        try:
            nb = next_budget(
                self.budget,
                cycles_done=cycle,
                labelled=labelled,
                total=total,
                spent=spent,
                initial_spent=float(sum(r.annotation.cost for r in initial)),
                initial_frames=len(initial),
            )
        except ValueError as exc:
            raise ConfigError(f"{self.run_dir.root}: {exc}") from None
        if nb.cost is not None and nb.frames:
            if nb.cost > 0:
                what = f"aiming at a cost of {nb.cost:g}"
            else:
                what = f"the cost schedule is overspent by {-nb.cost:g}; buying the minimum"
            self.observer.note(f"cycle {cycle + 1}: {what} -> {nb.frames} frames")
        return nb

    def _finish(self, cycle: int, nb: NextBudget, results: list[CycleResult]) -> None:
        # each result was made before its cycle's score and select phases ran: complete the
        # timings in place so callers get them too
        results[:] = [attrs.evolve(r, seconds=self._timing(r.cycle)) for r in results]
        summary = {
            "cycles": [
                {
                    "cycle": r.cycle,
                    "labelled_frames": r.labelled_frames,
                    "labelled_pct": r.labelled_pct,
                    "bought_frames": r.bought_frames,
                    "cost": r.cost,
                    "metrics": dict(r.metrics),
                    "seconds": dict(r.seconds),
                }
                for r in results
            ],
            "plugins": dict(self.c.names),
            "seed": self.seed,
            "stopped_because": nb.reason,
        }
        atomic_write_json(self.run_dir.root / "summary.json", summary)
        report = render_report(
            results,
            plugins=dict(self.c.names),
            seed=self.seed,
            budget=dict(self.cfg.get("budget", {})),
            stopped_because=nb.reason,
            headline=tuple(getattr(self.c.task, "headline_metrics", ())),
        )
        atomic_write_bytes(self.run_dir.root / "report.md", report.encode("utf-8"))
        self._state(status="finished", cycle=cycle, phase="done", reason=nb.reason)

    # ------------------------------------------------------------------ phases

    @contextlib.contextmanager
    def _phase(self, cycle: int, name: str) -> Iterator[Progress]:
        """The observer's phase context, timed: a phase that completes adds its wall-clock
        seconds to ``cycles/NNN/timing.json`` (atomically; a failed phase records nothing)."""
        start = time.perf_counter()
        with self.observer.phase(cycle, name) as progress:
            yield progress
        seconds = time.perf_counter() - start
        if not self.dist.is_main:
            return
        path = self.run_dir.cycle_dir(cycle) / "timing.json"
        timing = self._timing(cycle)
        timing[name] = round(seconds, 3)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, {"seconds": timing})

    def _timing(self, cycle: int) -> dict[str, float]:
        """Seconds per phase recorded for ``cycle`` (empty when none; unreadable = empty, since
        timings are informative only and must never stop a run)."""
        path = self.run_dir.cycle_dir(cycle) / "timing.json"
        if not self.dist.is_main or not path.is_file():
            return {}
        try:
            raw = read_json(path, "timing")["seconds"]
            return {str(k): float(v) for k, v in raw.items()}
        except (RunDirError, KeyError, TypeError, ValueError, AttributeError):
            return {}

    def _ckpt_path(self, cycle: int) -> Path:
        return self.run_dir.cycle_dir(cycle) / f"model{self.c.task.checkpoint_suffix}"

    def _model(self, cycle: int) -> Any:
        if cycle not in self._models:
            path = self._ckpt_path(cycle)
            if not path.is_file():
                raise RunDirError(
                    f"{path}: checkpoint missing; delete {path.parent / 'metrics.json'} to retrain"
                )
            self._models[cycle] = self.c.task.load_checkpoint(path)
        return self._models[cycle]

    def _train(self, cycle: int, labels: LabelState, annotations: Mapping[FrameRef, Any]) -> None:
        """Train cycle ``cycle``'s model unless its checkpoint (or metrics) exist.

        Under torchrun every rank trains (a task that supports it shares each batch through
        DistributedDataParallel); rank 0 writes the checkpoint, which is the model every rank
        then scores with (:meth:`_scoring_model`)."""
        path = self._ckpt_path(cycle)
        metrics_path = self.run_dir.cycle_dir(cycle) / "metrics.json"
        if self.dist.on_main(lambda: path.is_file() or metrics_path.is_file()):
            return
        self._state(cycle=cycle, phase="train")
        with self._phase(cycle, "train") as progress:
            model = self.c.task.build_model(phase_rng(self.seed, cycle, "model"))
            model = self.c.task.train(
                model,
                labels,
                annotations,
                self.c.loss,
                phase_rng(self.seed, cycle, "train"),
                progress,
            )

        def save() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_with(path, lambda tmp: self.c.task.save_checkpoint(model, tmp))

        self.dist.on_main(save)
        if self.dist.is_main:
            self._models[cycle] = model

    def _evaluate(self, cycle: int) -> dict[str, float]:
        path = self.run_dir.cycle_dir(cycle) / "metrics.json"
        if path.is_file():
            return {k: float(v) for k, v in read_json(path, "metrics")["metrics"].items()}
        self._state(cycle=cycle, phase="evaluate")
        with self._phase(cycle, "evaluate") as progress:
            raw = self.c.task.evaluate(
                self._model(cycle), phase_rng(self.seed, cycle, "evaluate"), progress
            )
        metrics: dict[str, float] = {}
        for name, value in dict(raw).items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                value = math.nan
            if not isinstance(name, str) or not math.isfinite(value):
                raise PluginContractError(
                    f"task {self.c.names['task']!r}: evaluate() returned a non-finite or non-numeric "
                    f"metric {name!r}={raw[name]!r}"
                )
            metrics[name] = value
        atomic_write_json(path, {"cycle": cycle, "metrics": metrics})
        return metrics

    def _selection(self, cycle: int, make: Callable[[], Selection]) -> Selection:
        path = self.run_dir.cycle_dir(cycle) / "selection.json"
        if path.is_file():
            data = read_json(path, "selection")
            try:
                frames = [FrameRef(v, f) for v, f, _ in data["frames"]]
                sel = Selection(frames=frames, scores=[s for _, _, s in data["frames"]])
            except (KeyError, TypeError, ValueError) as exc:
                raise RunDirError(f"{path}: corrupt selection ({exc})") from None
            return sel
        sel = make()
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(
            path,
            {
                "cycle": cycle,
                "scorer": self.c.names["scorer"] if cycle else "initial-random",
                "selector": self.c.names["selector"] if cycle else "initial-random",
                "frames": [
                    [r.video, r.frame, float(s)]
                    for r, s in zip(sel.frames, sel.scores, strict=True)
                ],
            },
        )
        return sel

    def _scoring_model(self, cycle: int) -> Any:
        """The model of ``cycle`` on every rank: rank 0 loads its checkpoint; under torchrun the
        others load the same bytes, sent by rank 0 (no shared filesystem needed)."""
        d = self.dist
        if not d.enabled:
            return self._model(cycle)
        path = self._ckpt_path(cycle)
        data = d.on_main(lambda: (self._model(cycle), path.read_bytes())[1])
        if d.is_main:
            return self._model(cycle)
        with tempfile.TemporaryDirectory(prefix="asl-ckpt-") as tmp:
            local = Path(tmp) / path.name
            local.write_bytes(data)
            return self.c.task.load_checkpoint(local)

    def _stats_cache(self, cycle: int, requires: frozenset[str]) -> StatsCache:
        """Rank 0: the cache of this cycle's scoring (keyed by the checkpoint's hash)."""
        return StatsCache(
            self.run_dir.root / "cache" / "stats",
            checkpoint_sha256=file_sha256(self._ckpt_path(cycle)),
            task_cfg=self.cfg["task"],
            scorer_cfg=self.cfg["scorer"],
            requires=requires,
            seed=self.seed,
            cycle=cycle,
        )

    def _select(self, cycle: int, labels: LabelState, nb: NextBudget) -> Selection | None:
        """Predict (if needed), reduce to frame stats, and select the next cycle's frames.

        Each video is scored alone with its own generators (:func:`phase_rng` of its pool
        position), so its statistics do not depend on the order, the cache or the rank that
        computes them. With model outputs, finished videos are cached per checkpoint
        (:mod:`asl_core.statscache`) and, under torchrun, the videos left are sharded across the
        ranks by frame count and the statistics gathered on rank 0, which selects. Returns the
        selection on rank 0 and ``None`` on the others.
        """
        d, scorer, task = self.dist, self.c.scorer, self.c.task
        requires = frozenset(scorer.requires)
        stats: dict[int, FrameStats] = {}
        cache: StatsCache | None = None
        if requires:
            self._state(cycle=cycle, phase="predict")
            model = self._scoring_model(cycle)

            def lookup() -> list[int]:
                nonlocal cache
                cache = self._stats_cache(cycle, requires)
                for i, v in enumerate(self.pool):
                    hit = cache.get(i, v)
                    if hit is not None:
                        stats[i] = self._check_stats(hit, v)
                return [i for i in range(len(self.pool)) if i not in stats]

            todo = d.on_main(lookup)
            phase_name = "predict"
        else:
            model = None
            todo = list(range(len(self.pool)))  # random/equidistant: no inference at all
            phase_name = "score"
        with self._phase(cycle, phase_name) as progress:
            progress.start(len(self.pool), "videos")
            progress.advance(len(self.pool) - len(todo))
            mine = score_pool(
                task,
                scorer,
                model,
                self.pool,
                todo,
                lambda i: (
                    phase_rng(self.seed, cycle, "predict", i),
                    phase_rng(self.seed, cycle, "stats", i),
                ),
                dist=d,
                on_video=cache.put if cache is not None else None,
                progress=progress,
                task_name=self.c.names["task"],
                scorer_name=self.c.names["scorer"],
            )
        if mine is None:
            return None  # not rank 0
        stats.update(mine)
        if len(stats) != len(self.pool):
            absent = [v.id for i, v in enumerate(self.pool) if i not in stats][:3]
            raise PluginContractError(
                f"task {self.c.names['task']!r}: no statistics for videos, e.g. {absent}"
            )
        ordered = {v.id: self._check_stats(stats[i], v) for i, v in enumerate(self.pool)}
        prepared = scorer.prepare_pool(ordered)
        ordered = {v.id: self._check_stats(prepared.get(v.id), v) for v in self.pool}
        self._state(cycle=cycle, phase="select")
        with self._phase(cycle, "select") as progress:
            progress.start(nb.frames, "frames")
            sel = self.c.selector.select(
                ordered, labels, nb.frames, scorer, phase_rng(self.seed, cycle, "select")
            )
            progress.advance(nb.frames)
        return self._check_selection(sel, labels, nb.frames)

    def _check_stats(self, st: Any, video: VideoInfo) -> FrameStats:
        return check_stats(st, video, self.c.names["scorer"])

    def _check_selection(self, sel: Any, labels: LabelState, budget: int) -> Selection:
        return check_selection(
            sel, labels, budget, {v.id: v.num_frames for v in self.pool}, self.c.names["selector"]
        )

    def _buy(self, cycle: int, sel: Selection, contents: LedgerContents) -> LedgerContents:
        """Ask the oracle for the frames of ``sel`` not yet in the ledger and append them."""
        wanted = set(sel.frames)
        have = {
            r.annotation.ref
            for r in contents.records
            if r.cycle == cycle and not r.annotation.pseudo
        }
        foreign = have - wanted
        if foreign:
            ref = sorted(foreign)[0]
            raise LedgerError(
                f"{self.ledger.path}: cycle {cycle} has an annotation for {ref.video!r}:{ref.frame} "
                "that its selection.json does not contain; the run directory is inconsistent"
            )
        other = {
            r.annotation.ref
            for r in contents.records
            if r.cycle != cycle and not r.annotation.pseudo
        }
        clash = wanted & other
        if clash:
            ref = sorted(clash)[0]
            raise LedgerError(
                f"{self.ledger.path}: {ref.video!r}:{ref.frame} selected in cycle {cycle} was bought in another cycle"
            )
        missing = [f for f in sel.frames if f not in have]
        if not missing:
            return contents
        self._state(cycle=cycle, phase="annotate")
        oracle_name = self.c.names["oracle"]
        with self._phase(cycle, "annotate") as progress:
            progress.start(len(missing), "frames")
            buffer: list[tuple[int, Any]] = []
            received = 0
            try:
                for ann in self.c.oracle.annotate(missing, self.c.task):
                    if received >= len(missing) or ann.ref != missing[received]:
                        raise PluginContractError(
                            f"oracle {oracle_name!r}: annotation {received} is for {ann.ref}, "
                            "expected "
                            f"{missing[received] if received < len(missing) else 'no more frames'}"
                        )
                    if ann.pseudo:
                        raise PluginContractError(
                            f"oracle {oracle_name!r}: returned a pseudo-label for a purchased frame"
                        )
                    buffer.append((cycle, ann))
                    received += 1
                    if len(buffer) >= ANNOTATE_CHUNK:
                        self.ledger.append(buffer)
                        progress.advance(len(buffer))
                        buffer = []
            except AwaitingAnnotations as exc:
                # people annotate the rest: keep what arrived, say what waits, stop here
                self.ledger.append(buffer)
                waiting = missing[received:]
                self._state(
                    cycle=cycle,
                    phase="annotate",
                    status="awaiting_annotations",
                    waiting=len(waiting),
                )
                raise AwaitingAnnotations(
                    waiting, exc.detail, cycle=cycle, run=self.run_dir.root
                ) from None
            self.ledger.append(buffer)
            progress.advance(len(buffer))
        if received != len(missing):
            raise PluginContractError(
                f"oracle {oracle_name!r}: returned {received} annotations for {len(missing)} frames"
            )
        return self._read_ledger()
