"""A grid of runs — strategies x seeds over one budget schedule — and its comparison tables
(``asl-run compare``, issue 5).

Layout of a comparison folder::

    <out>/grid.json                  the grid: methods, seeds, the shared base config
    <out>/runs/<method>-seed<k>/     one ordinary run directory per cell (resumable as usual)
    <out>/compare/summary.json       per-seed curves, per-cycle mean ± std, AUBC
    <out>/compare/summary.csv        the same as long-format rows
    <out>/compare/summary.md         one table per metric: methods x cycles, best in bold
    <out>/compare/curve_<metric>.png learning curves, mean ± std band per method
    <out>/compare/frames_per_video.png  frames bought per video by each method
    <out>/compare/selection_timeline.png  picks along time for a few videos, GT action shaded

**Same start for every strategy.** Within one seed every method gets the same initial labels and
the same model initialisation, because both come from ``phase_rng(seed, 0, ...)`` and nothing of
the strategy enters them: differences between methods come from selection alone
(``tests/loop/test_grid.py`` checks the ledgers).

**Resume.** Running the same command again continues every unfinished run and reuses finished
ones; a folder made for another grid is refused rather than mixed.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .compare import CurvePoint, aggregate, aubc, best_per_column, format_cell, mean_std
from .config import build_config, canonical_config
from .errors import ConfigError
from .loop import ActiveLearningLoop, LoopObserver, build_components, create_run, open_run
from .plugins import PluginManager
from .rundir import atomic_write_bytes, atomic_write_json, read_json
from .types import CycleResult

__all__ = [
    "PRESETS",
    "REFERENCE",
    "TABLE1_METHODS",
    "GridResult",
    "column_label",
    "grid_configs",
    "normalise_methods",
    "paired_differences",
    "run_grid",
    "summarize",
]

#: the paper's Table 1 strategies, in its order
TABLE1_METHODS: tuple[str, ...] = ("random", "equidistant", "gal", "aghdam", "apu")

GridResult = dict[str, dict[int, list[CycleResult]]]


Methods = Sequence[str] | Mapping[str, Mapping[str, Any]]


def _preset_apu(**overrides: Any) -> dict[str, Any]:
    return {"scorer": "apu", **overrides}


#: ablation presets of the paper (issue 5): method name → config overrides. A key naming a plugin
#: section (``scorer``, ``loss``...) switches that plugin; other keys are dotted config keys.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # Table 1, and Fig. 5 (selection criteria, all trained with MGW)
    "table1": {m: {"scorer": m} for m in TABLE1_METHODS},
    # Fig. 4: the sparse loss, with APU selection
    "loss": {f"apu+{loss}": _preset_apu(loss=loss) for loss in ("mgw", "interpolation", "masking")},
    # Fig. 6a-b: one global budget vs the same budget per video
    "selector": {f"apu+{sel}": _preset_apu(selector=sel) for sel in ("global", "local")},
    # Fig. 6c-d: frame-level vs sample-level (whole video) selection
    "granularity": {"apu+frames": _preset_apu(), "apu+videos": _preset_apu(selector="video")},
    # Fig. 1: budget step 1 % vs 5 % up to the same total
    "step": {
        f"apu, step {step:g} %": _preset_apu(
            **{"budget.step_pct": step, "budget.cycles": None, "budget.total_pct": 20.0}
        )
        for step in (1.0, 5.0)
    },
    # appendix C.1: the width of APU's distance term
    "sigma": {
        f"apu, sigma {s:g}": _preset_apu(**{"scorer.sigma": s}) for s in (0.65, 1.3, 2.6, 5.2)
    },
}


#: the full-supervision reference of ``--reference`` (paper Table 2's 100 % row): every pool
#: frame labelled at the start, one training, no selection
REFERENCE = "all frames labelled"
REFERENCE_OVERRIDES: dict[str, Any] = {
    "scorer": "random",  # never used: no selection cycle
    "budget.init_pct": 100.0,
    "budget.cycles": 0,
    "budget.total_pct": None,
    "budget.step_cost": None,
    "budget.total_cost": None,
}


def normalise_methods(methods: Methods) -> dict[str, dict[str, Any]]:
    """Method name → config overrides; a plain name means ``{"scorer": name}``.

    Raises:
        ConfigError: for no method or a repeated name.
    """
    if isinstance(methods, Mapping):
        out = {str(k): dict(v) for k, v in methods.items()}
    else:
        names = [str(m) for m in methods]
        dup = sorted({m for m in names if names.count(m) > 1})
        if dup:
            raise ConfigError(f"compare: repeated method {', '.join(dup)}")
        out = {m: {"scorer": m} for m in names}
    if not out:
        raise ConfigError("compare: give at least one method and one seed")
    return out


def grid_configs(
    base: Mapping[str, Any], methods: Methods, seeds: Sequence[int]
) -> dict[tuple[str, int], dict[str, Any]]:
    """The config of every cell: ``base`` with the method's overrides and the seed set.

    Switching a plugin drops the base's parameters of that section (they belong to another
    plugin); dotted overrides (``budget.step_pct``, ``scorer.sigma``) are applied after.

    Raises:
        ConfigError: for no method or seed, a repeated method or seed, a bad override.
    """
    from .config import PLUGIN_SECTIONS

    table = normalise_methods(methods)
    if not seeds:
        raise ConfigError("compare: give at least one method and one seed")
    dup = sorted({str(s) for s in seeds if list(seeds).count(s) > 1})
    if dup:
        raise ConfigError(f"compare: repeated seed {', '.join(dup)}")
    configs = {}
    for name, overrides in table.items():
        plugins = {k: v for k, v in overrides.items() if k in PLUGIN_SECTIONS}
        dotted = {k: v for k, v in overrides.items() if k not in PLUGIN_SECTIONS}
        for s in seeds:
            configs[(name, int(s))] = build_config(
                base=base, plugins=plugins, values={"seed": int(s)}, cfg_options=dotted
            )
    return configs


def _canonical_record(record: Mapping[str, Any]) -> Any:
    plain = json.loads(json.dumps(dict(record)))
    if isinstance(plain.get("base"), dict):
        # a damaged base compares as it is, and differs
        with contextlib.suppress(ConfigError):
            plain["base"] = canonical_config(plain["base"])
    return plain


def _check_grid_file(out: Path, record: Mapping[str, Any]) -> None:
    path = out / "grid.json"
    if path.is_file():
        stored = read_json(path, "comparison grid")
        if _canonical_record(stored) != _canonical_record(record):
            raise ConfigError(
                f"{path}: this folder holds a different grid (methods, seeds or config differ); "
                "use another --out, or the same options to resume it"
            )
    else:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, record)


def _results_of_finished(run_root: Path, state: Mapping[str, Any]) -> list[CycleResult] | None:
    """The cycle results of a finished run, read back from its summary (``None`` if absent)."""
    summary = run_root / "summary.json"
    if not summary.is_file():
        return None
    data = read_json(summary, "run summary")
    total = int(state["pool"]["frames"])
    return [
        CycleResult(
            c["cycle"],
            c["labelled_frames"],
            total,
            c["bought_frames"],
            c["cost"],
            c["metrics"],
            c.get("seconds", {}),
        )
        for c in data["cycles"]
    ]


def run_grid(
    out: Path,
    base: Mapping[str, Any],
    methods: Sequence[str],
    seeds: Sequence[int],
    manager: PluginManager,
    observer_for: Callable[[str, int], LoopObserver] | None = None,
    announce: Callable[[str], None] | None = None,
    jobs: int = 1,
    reuse: Sequence[Path] = (),
    reference: bool = False,
) -> GridResult:
    """Run (or resume) every cell of the grid; return each cell's cycle results.

    Every cell's plugins are built before anything runs, so a grid naming an unknown plugin or
    parameter fails at once.

    Args:
        out: the comparison folder.
        base: the shared config (its scorer and seed are replaced per cell).
        methods: scorer names, or method name → config overrides (see :data:`PRESETS`).
        seeds: run seeds (distinct).
        manager: the plugin manager.
        observer_for: the loop observer of a cell (default: silent).
        announce: called with a one-line message before each cell.
        jobs: cells run at once, each in its own process (``1``: one after the other in this
            process, with the observers). With ``jobs > 1`` the workers are silent, and
            ``OMP_NUM_THREADS`` is set to ``cpu_count // jobs`` for them unless already set, so
            the processes do not fight over the cores.
        reuse: other comparison folders (or folders of run directories); a cell not started
            yet whose config (seed included) equals that of a **finished** run there is copied
            from it instead of run again (the ablation presets share their APU cell with the
            Table 1 grid). The copy gets ``reused_from.txt`` naming its source.
        reference: also run, per seed, the full-supervision reference :data:`REFERENCE`
            (every frame labelled, one training: the grid's config with
            :data:`REFERENCE_OVERRIDES`). Its cells are not part of the grid's identity in
            ``grid.json``, so a grid can get its reference later; the results hold it under
            the key :data:`REFERENCE`.

    Raises:
        ConfigError: for a bad grid, a folder holding another grid, or a missing reuse folder.
    """
    table = normalise_methods(methods)
    if REFERENCE in table:
        raise ConfigError(f"compare: {REFERENCE!r} is reserved for --reference")
    configs = grid_configs(base, table, seeds)
    if reference:
        configs.update(grid_configs(base, {REFERENCE: REFERENCE_OVERRIDES}, seeds))
    components = {cell: build_components(cfg, manager) for cell, cfg in configs.items()}
    for folder in reuse:
        if not Path(folder).is_dir():
            raise ConfigError(f"{folder}: --reuse folder not found")
    _check_grid_file(out, {"methods": table, "seeds": [int(s) for s in seeds], "base": base})
    if jobs < 1:
        raise ConfigError(f"compare: --jobs must be >= 1, got {jobs}")
    results: GridResult = {m: {} for m in [*table, *([REFERENCE] if reference else [])]}
    pending: list[tuple[str, int, Any]] = []
    for (method, seed), cfg in configs.items():
        root = out / "runs" / f"{_file_safe(method)}-seed{seed}"
        if (root / "state.json").is_file():
            run, stored, state = open_run(root)
            if canonical_config(stored) != canonical_config(cfg):
                raise ConfigError(f"{root}: run config differs from the grid's; refusing to mix")
            done = _results_of_finished(root, state) if state.get("status") == "finished" else None
            if done is not None:
                results[method][seed] = done
                continue
        else:
            source = _reusable_run(cfg, reuse)
            if source is not None:
                _copy_run(source, root)
                if announce:
                    announce(f"{method}, seed {seed}: {root} (copied from {source})")
                _, _, state = open_run(root)
                results[method][seed] = _results_of_finished(root, state) or []
                continue
            run = create_run(root, cfg, components[(method, seed)])
        pending.append((method, seed, run))
    if jobs == 1 or len(pending) <= 1:
        for method, seed, run in pending:
            if announce:
                announce(f"{method}, seed {seed}: {run.root}")
            observer = observer_for(method, seed) if observer_for else None
            cfg = configs[(method, seed)]
            loop = ActiveLearningLoop(run, cfg, components[(method, seed)], observer)
            results[method][seed] = loop.run()
        return results
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    # spawn: a fresh interpreter per worker, never a fork of a process that may hold threads
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {}
        for method, seed, run in pending:
            if announce:
                announce(f"{method}, seed {seed}: {run.root} (in a worker process)")
            futures[(method, seed)] = pool.submit(_run_cell, str(run.root))
        for (method, seed), future in futures.items():
            results[method][seed] = future.result()
    return results


def _reusable_run(cfg: Mapping[str, Any], folders: Sequence[Path]) -> Path | None:
    """The first finished run under ``folders`` (``<f>/runs/*`` or ``<f>/*``) whose config
    equals ``cfg``; ``None`` when there is none.

    Raises:
        ConfigError: when a folder does not exist.
    """
    want = canonical_config(cfg)
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise ConfigError(f"{folder}: --reuse folder not found")
        parent = folder / "runs" if (folder / "runs").is_dir() else folder
        for root in sorted(parent.iterdir()):
            config, state = root / "config.json", root / "state.json"
            if not (config.is_file() and state.is_file() and (root / "summary.json").is_file()):
                continue
            try:
                if read_json(state, "run state").get("status") != "finished":
                    continue
                if canonical_config(read_json(config, "run config")) == want:
                    return root
            except ConfigError:
                continue  # a damaged or foreign run is simply not reused
    return None


def _copy_run(source: Path, root: Path) -> None:
    """Copy a finished run directory to ``root`` (assembled under a temporary name and
    renamed, so an interrupted copy leaves no half run), recording where it came from."""
    import shutil
    import tempfile

    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.copying-", dir=root.parent))
    try:
        shutil.copytree(
            source, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".lock", ".*.tmp")
        )
        (staging / "reused_from.txt").write_text(f"{source.resolve()}\n", encoding="utf-8")
        staging.rename(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _run_cell(root: str) -> list[CycleResult]:
    """Worker process: run (or resume) one cell from its own run directory, silently."""
    from .plugins import default_plugin_manager

    run, cfg, _ = open_run(root)
    components = build_components(cfg, default_plugin_manager())
    return ActiveLearningLoop(run, cfg, components).run()


#: budget axes of the tables and plots: % of the pool labelled, or annotation cost spent
X_AXES = ("pct", "cost")


def _curves(results: GridResult, x_axis: str = "pct") -> dict[str, list[list[CurvePoint]]]:
    """Per method, one curve per seed; x = % labelled, or the cumulative annotation cost."""
    if x_axis not in X_AXES:
        raise ConfigError(f"compare: x axis must be one of {', '.join(X_AXES)}, got {x_axis!r}")
    curves: dict[str, list[list[CurvePoint]]] = {}
    for m, per_seed in results.items():
        curves[m] = []
        for s in sorted(per_seed):
            spent, curve = 0.0, []
            for r in per_seed[s]:
                spent += r.cost
                x = r.labelled_pct if x_axis == "pct" else spent
                curve.append(CurvePoint(x, dict(r.metrics)))
            curves[m].append(curve)
    return curves


def _common_length(
    curves: dict[str, list[list[CurvePoint]]], results: GridResult
) -> tuple[dict[str, list[list[CurvePoint]]], list[str]]:
    """Cut each method's curves to its shortest seed, saying so.

    One config gives every seed the same cycles, except under a cost budget with
    ``cycles=None``: it stops when its ``total_cost`` is spent, which depends on what the
    chosen frames cost, so a seed may run one cycle more. Means need the same points.
    """
    notes = []
    out = {}
    for method, per_seed in curves.items():
        lengths = [len(c) for c in per_seed]
        shortest = min(lengths, default=0)
        if lengths and max(lengths) != shortest:
            seeds = sorted(results[method])
            counts = ", ".join(f"seed {s}: {n - 1}" for s, n in zip(seeds, lengths, strict=True))
            notes.append(
                f"{method}: the seeds ran different numbers of selection cycles ({counts}); "
                f"the table, AUBC and curves use the first {shortest - 1} of each (summary.json "
                "keeps every run in full)"
            )
        out[method] = [c[:shortest] for c in per_seed]
    return out, notes


def summarize(
    results: GridResult,
    metrics: Sequence[str],
    out: Path,
    *,
    x_axis: str = "pct",
    task: Any = None,
    timeline_videos: int = 4,
) -> dict[str, Any]:
    """Write ``compare/summary.{json,csv,md}`` and the plots; return the JSON content.

    Args:
        results: from :func:`run_grid`.
        metrics: the metrics to tabulate (e.g. the task's headline metrics).
        out: the comparison folder.
        x_axis: ``"pct"`` (labelled % of the pool) or ``"cost"`` (cumulative annotation cost,
            the paper's Actor x Clicks); AUBC and the curves use it.
        task: the grid's task; when given, ``selection_timeline.png`` shows, for the
            ``timeline_videos`` videos with the most bought frames (first seed), each method's
            picks against the task's ground-truth action extent.
        timeline_videos: how many videos the timeline shows.

    The full-supervision reference (``results[REFERENCE]``, see ``run_grid(reference=True)``)
    is no curve: it is reported beside each table as ``mean ± std (n)`` and drawn as a dashed
    line. Learning curves are drawn against both axes: ``curve_<metric>.png`` (% labelled)
    and ``curve_<metric>_cost.png`` (annotation cost).
    """
    ref_runs = results.get(REFERENCE, {})
    methods = {m: v for m, v in results.items() if m != REFERENCE}
    curves, notes = _common_length(_curves(methods, x_axis), methods)
    doc: dict[str, Any] = {
        "methods": list(methods),
        "x_axis": x_axis,
        "metrics": {},
        "runs": {},
        "notes": notes,
        "reference": {},
    }
    for m, per_seed in results.items():
        doc["runs"][m] = {
            str(s): [
                {
                    "cycle": r.cycle,
                    "labelled_pct": r.labelled_pct,
                    "cost": r.cost,
                    "metrics": dict(r.metrics),
                }
                for r in rs
            ]
            for s, rs in sorted(per_seed.items())
        }
    rows_csv = [
        [
            "metric",
            "method",
            "cycle",
            "labelled_pct" if x_axis == "pct" else "cost",
            "mean",
            "std",
            "n",
        ]
    ]
    md = ["# Comparison", ""]
    if notes:
        md += [f"Note: {n}" for n in notes] + [""]
    for metric in metrics:
        agg = aggregate(curves, metric)
        aubcs = {
            m: [aubc([p.x for p in c], [p.metrics[metric] for p in c]) for c in curves[m]]
            for m in curves
        }
        doc["metrics"][metric] = {
            m: {
                "points": [{"x": p.x, "mean": p.mean, "std": p.std, "n": p.n} for p in agg[m]],
                "aubc": aubcs[m],
            }
            for m in agg
        }
        for m, points in agg.items():
            for i, p in enumerate(points):
                rows_csv.append(
                    [metric, m, str(i), f"{p.x:.4f}", f"{p.mean:.6f}", f"{p.std:.6f}", str(p.n)]
                )
        md += _metric_table(metric, agg, aubcs, x_axis)
        if ref_runs:
            values = [rs[-1].metrics[metric] for _, rs in sorted(ref_runs.items())]
            mean, std = mean_std(values)
            doc["reference"][metric] = {"mean": mean, "std": std, "n": len(values)}
            md[-1:-1] = [
                "",
                f"Reference, {REFERENCE} (one training on 100 % of the pool): "
                f"{format_cell(mean, std, len(values))}.",
            ]
    doc["paired"] = {}
    for metric in metrics:
        paired = paired_differences(curves, results, metric, x_axis)
        if paired is not None:
            doc["paired"][metric] = paired
            md += _paired_table(metric, paired)
    doc["purchases"] = _purchase_stats(methods, out)
    md += _purchase_table(doc["purchases"])
    comp = out / "compare"
    comp.mkdir(parents=True, exist_ok=True)
    atomic_write_json(comp / "summary.json", doc)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows_csv)
    atomic_write_bytes(comp / "summary.csv", buf.getvalue().encode("utf-8"))
    atomic_write_bytes(comp / "summary.md", ("\n".join(md) + "\n").encode("utf-8"))
    from .plots import frames_per_video_histogram, learning_curves, selection_timeline

    for axis in X_AXES:
        axis_curves = (
            curves if axis == x_axis else _common_length(_curves(methods, axis), methods)[0]
        )
        for metric in metrics:
            agg = aggregate(axis_curves, metric)
            points = {
                m: [{"x": p.x, "mean": p.mean, "std": p.std, "n": p.n} for p in pts]
                for m, pts in agg.items()
            }
            suffix = "" if axis == "pct" else "_cost"
            learning_curves(
                points,
                metric,
                comp / f"curve_{_file_safe(metric)}{suffix}.png",
                x_axis=axis,
                reference=(REFERENCE, doc["reference"][metric]) if ref_runs else None,
            )
    frames_per_video_histogram(_frames_per_video(methods, out), comp / "frames_per_video.png")
    if task is not None:
        selected, extents = _timeline_data(methods, out, task, timeline_videos)
        selection_timeline(selected, extents, comp / "selection_timeline.png")
    return doc


def _bought(
    out: Path, method: str, seed: int, *, with_initial_videos: bool = False
) -> dict[str, list[int]]:
    """Frames bought after cycle 0 by one run, per video; with ``with_initial_videos`` every
    video of the initial labels (every pool video) is a key, with an empty list if nothing
    more was bought there."""
    from .ledger import Ledger

    ledger = out / "runs" / f"{_file_safe(method)}-seed{seed}" / "ledger.jsonl"
    records = Ledger(ledger).read().records
    picks: dict[str, list[int]] = (
        {r.annotation.video: [] for r in records if r.cycle == 0} if with_initial_videos else {}
    )
    for r in records:
        if r.cycle > 0 and not r.annotation.pseudo:
            picks.setdefault(r.annotation.video, []).append(r.annotation.frame)
    return picks


def paired_differences(
    curves: Mapping[str, list[list[CurvePoint]]],
    results: GridResult,
    metric: str,
    x_axis: str = "pct",
) -> dict[str, Any] | None:
    """Each method's per-seed difference to a baseline, at each budget point.

    Within a seed every method shares the initial labels and, cycle by cycle, the model
    initialisation and the training randomness (``phase_rng(seed, cycle, ...)``), so the
    difference of two methods in the same seed and cycle comes from their labels alone; its
    spread over seeds is usually far smaller than that of either method's metric, which is
    what a comparison needs. The baseline is ``random`` when the grid has it, else its first
    method. Points where the two methods are not at the same budget (the step preset) are
    ``None``.

    Returns:
        ``{"baseline": name, "methods": {method: [{"mean", "std", "n", "wins"} | None, ...]}}``
        with ``wins`` the number of seeds where the method is above the baseline; ``None``
        when the grid has a single method.
    """
    names = list(curves)
    if len(names) < 2:
        return None
    base = "random" if "random" in curves else names[0]
    base_seeds = sorted(results[base])
    out: dict[str, list[dict[str, float] | None]] = {}
    for m in names:
        if m == base:
            continue
        seeds = sorted(results[m])
        common = [s for s in seeds if s in base_seeds]
        cells: list[dict[str, float] | None] = []
        for i in range(min(len(curves[m][0]), len(curves[base][0]))):
            pairs = [
                (curves[m][seeds.index(s)][i], curves[base][base_seeds.index(s)][i]) for s in common
            ]
            if not pairs or not column_label(i, [pairs[0][0].x, pairs[0][1].x], x_axis)[1]:
                cells.append(None)
                continue
            diffs = [a.metrics[metric] - b.metrics[metric] for a, b in pairs]
            mean, std = mean_std(diffs)
            cells.append(
                {"mean": mean, "std": std, "n": len(diffs), "wins": sum(d > 0 for d in diffs)}
            )
        out[m] = cells
    return {"baseline": base, "methods": out}


def _paired_table(metric: str, paired: Mapping[str, Any]) -> list[str]:
    base, rows = paired["baseline"], paired["methods"]
    cycles = max((len(c) for c in rows.values()), default=0)
    head = ["method", *(f"cycle {i}" for i in range(cycles))]
    lines = [
        f"## {metric}: paired difference to {base}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for m, cells in rows.items():
        text = []
        for c in cells:
            if c is None:
                text.append("-")
                continue
            std = "" if c["std"] != c["std"] else f" ± {c['std']:.3f}"
            text.append(f"{c['mean']:+.3f}{std} ({c['wins']}/{c['n']} seeds above)")
        text += ["-"] * (cycles - len(cells))
        lines.append(f"| {m} | " + " | ".join(text) + " |")
    lines += [
        "",
        f"Per seed, the method's value minus {base}'s at the same cycle (same initial labels, "
        "model initialisation and training randomness): mean ± sample std over seeds, and in "
        "how many seeds the method was above. Between methods that differ only in selection, "
        "cycle 0 is 0 by construction.",
        "",
    ]
    return lines


#: columns of the purchases table: key → (heading, format)
_PURCHASE_COLUMNS: dict[str, tuple[str, str]] = {
    "frames": ("frames bought", "{:,.0f}"),
    "cost": ("cost", "{:,.0f}"),
    "cost_per_frame": ("cost / frame", "{:.2f}"),
    "no_actor_pct": ("% with no actor", "{:.1f}"),
    "multi_actor_pct": ("% with 2+ actors", "{:.1f}"),
    "videos": ("videos with a pick", "{:,.0f}"),
    "top10_share_pct": ("% of picks in the top 10 % videos", "{:.1f}"),
}


def _purchase_stats(results: GridResult, out: Path) -> dict[str, dict[str, float]]:
    """What each method bought after the initial labels, from its runs' ledgers, as the mean
    over seeds of: frames, cost, cost per frame, the share of frames showing no actor and 2+
    actors (regions in the annotation), the videos with at least one pick and the share of the
    picks that went to the 10 % of videos with the most picks (concentration, cf. Fig. 7a)."""
    import numpy as np

    from .ledger import Ledger

    stats: dict[str, dict[str, float]] = {}
    for method, per_seed in results.items():
        rows = []
        for seed in sorted(per_seed):
            ledger = out / "runs" / f"{_file_safe(method)}-seed{seed}" / "ledger.jsonl"
            bought = [
                r.annotation
                for r in Ledger(ledger).read().records
                if r.cycle > 0 and not r.annotation.pseudo
            ]
            if not bought:
                continue
            per_video: dict[str, int] = {}
            for a in bought:
                per_video[a.video] = per_video.get(a.video, 0) + 1
            counts = sorted(per_video.values(), reverse=True)
            top = max(1, round(len(counts) / 10))
            cost = sum(a.cost for a in bought)
            rows.append(
                {
                    "frames": len(bought),
                    "cost": cost,
                    "cost_per_frame": cost / len(bought),
                    "no_actor_pct": 100.0 * sum(not a.regions for a in bought) / len(bought),
                    "multi_actor_pct": 100.0
                    * sum(len(a.regions) >= 2 for a in bought)
                    / len(bought),
                    "videos": len(per_video),
                    "top10_share_pct": 100.0 * sum(counts[:top]) / len(bought),
                }
            )
        if rows:
            stats[method] = {k: float(np.mean([r[k] for r in rows])) for k in _PURCHASE_COLUMNS}
    return stats


def _purchase_table(stats: Mapping[str, Mapping[str, float]]) -> list[str]:
    if not stats:
        return []
    head = ["method", *(h for h, _ in _PURCHASE_COLUMNS.values())]
    lines = ["## What each method bought", "", "| " + " | ".join(head) + " |"]
    lines.append("|" + "---|" * len(head))
    for method, row in stats.items():
        cells = [fmt.format(row[k]) for k, (_, fmt) in _PURCHASE_COLUMNS.items()]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += [
        "",
        'After the initial labels, mean over seeds. "% of picks in the top 10 % videos": the '
        "share of the frames that went to the tenth of the videos with the most picks (10 % "
        "when picks are spread evenly).",
        "",
    ]
    return lines


def _timeline_data(
    results: GridResult, out: Path, task: Any, count: int
) -> tuple[dict[str, dict[str, list[int]]], dict[str, list[bool]]]:
    """Picks of the first seed per method, and the ground-truth extent of the ``count`` videos
    with the most picks over all methods."""
    from .types import FrameRef

    selected = {m: _bought(out, m, min(per_seed)) for m, per_seed in results.items()}
    totals: dict[str, int] = {}
    for picks in selected.values():
        for video, frames in picks.items():
            totals[video] = totals.get(video, 0) + len(frames)
    lengths = {v.id: v.num_frames for v in task.pool()}
    videos = sorted((v for v in totals if v in lengths), key=lambda v: (-totals[v], v))[:count]
    extents = {
        v: [
            bool(regions)
            for regions in task.ground_truth([FrameRef(v, f) for f in range(lengths[v])])
        ]
        for v in videos
    }
    return selected, extents


def _file_safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", name).strip("_")


def _frames_per_video(results: GridResult, out: Path) -> dict[str, list[int]]:
    """Per method, the frames bought after cycle 0 in each pool video, all seeds pooled (the
    videos are those of the initial labels, which cover every pool video)."""
    counts: dict[str, list[int]] = {}
    for method, per_seed in results.items():
        counts[method] = []
        for seed in sorted(per_seed):
            picks = _bought(out, method, seed, with_initial_videos=True)
            counts[method].extend(len(frames) for frames in picks.values())
    return counts


def column_label(cycle: int, xs: Sequence[float], x_axis: str) -> tuple[str, bool]:
    """Heading of a table column of budget point ``cycle`` and whether the methods' ``xs``
    there line up: methods with other budget schedules (the step preset), or buying frames of
    different cost, meet different x in the same cycle, and such a column is only
    ``cycle i``."""
    import numpy as np

    tolerance = 0.5 if x_axis == "pct" else 0.005 * max(abs(x) for x in xs)
    if float(np.ptp(xs)) > tolerance:
        return f"cycle {cycle}", False
    x = float(np.mean(xs))
    return (f"{x:.1f} % labelled" if x_axis == "pct" else f"cost {x:,.0f}"), True


def _metric_table(
    metric: str, agg: Mapping[str, list[Any]], aubcs: Mapping[str, list[float]], x_axis: str
) -> list[str]:
    import numpy as np

    def where(x: float) -> str:
        return f"{x:.1f} % labelled" if x_axis == "pct" else f"cost {x:,.0f}"

    methods = list(agg)
    cycles = max(len(v) for v in agg.values())
    header = ["method"]
    aligned = []
    for i in range(cycles):
        label, ok = column_label(i, [agg[m][i].x for m in methods if i < len(agg[m])], x_axis)
        aligned.append(ok)
        header.append(label)
    header.append("AUBC")
    lines = [f"## {metric}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    best_cols = [
        best_per_column({m: agg[m][i].mean for m in methods if i < len(agg[m])})
        for i in range(cycles)
    ]
    aubc_mean = {m: float(np.mean(v)) for m, v in aubcs.items()}
    aubc_std = {
        m: (float(np.std(v, ddof=1)) if len(v) > 1 else float("nan")) for m, v in aubcs.items()
    }
    best_aubc = best_per_column(aubc_mean)
    for m in methods:
        cells = [m]
        for i in range(cycles):
            if i < len(agg[m]):
                p = agg[m][i]
                # a best mark only compares like with like: same budget point
                cell = format_cell(p.mean, p.std, p.n, best=aligned[i] and m in best_cols[i])
                cells.append(cell if aligned[i] else f"{cell} @ {where(p.x)}")
            else:
                cells.append("-")
        cells.append(format_cell(aubc_mean[m], aubc_std[m], len(aubcs[m]), best=m in best_aubc))
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Cells: mean ± sample std (number of seeds); bold: best mean of the column (only where "
        "every method is at the same budget point). AUBC: area under the metric-vs-"
        + ("% labelled" if x_axis == "pct" else "cost")
        + " curve divided by its range (the curve's mean height).",
        "",
    ]
    return lines
