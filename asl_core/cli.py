"""``asl-run``: the command line. rich is used here and nowhere else.

Commands::

    asl-run [run options]           start a run (or continue one with --resume DIR)
    asl-run plugins [--json] [--kind K]
                                    list registered plugins and any that failed to load
    asl-run data synth --out DIR [--dataset NAME] [--seed N] [--cfg-options K=V ...]
                                    write a synthetic dataset in a real on-disk layout
    asl-run data stats --dataset NAME --annotations FILE [FILE ...] [--json] [--cfg-options ...]
                                    videos, frames, tubes and actors per split of annotation files
    asl-run data check --root DIR [--dataset NAME] [--annotations FILE ...] [--quick] [--json]
                       [--cfg-options K=V ...]
                                    report every missing, unreadable or inconsistent video
    asl-run data labels --dataset NAME --annotations FILE [FILE ...] --out FILE
                        [--init-pct P [--seed N]] [--cfg-options K=V ...]
                                    the selection pool of annotation files (lengths, labelled
                                    frames, actors per frame) as a labels file, no video
    asl-run select --labels FILE [--stats FILE.npz | --probs DIR] --budget N|P% --scorer NAME
                   [--selector NAME] [--cfg-options K=V ...] [--seed N] [--out FILE]
                   [--clicks-per-actor C] [--frame-overhead O]
                                    choose frames to annotate from your own statistics, no model;
                                    priced (actors x clicks) when the labels file gives actors
    asl-run eval [act] --gt GT.pkl [--frame-dets F.pkl] [--video-dets V.pkl] [--preset act|voc]
                 [--iou T ...] [--split K] [--json]
                                    frame-AP / video-AP of any detector's output files
    asl-run eval vos --gt DIR --pred DIR [--meta meta.json] [--json]
                                    J, F and J&F (seen / unseen) of palette-mask folders
    asl-run export --run DIR --format cvat|labelstudio|coco --out PATH [--mode tracks|frames]
                   [--frames-dir DIR]
                                    the frames a paused run waits for, for an annotation tool
    asl-run import --run DIR FILE [--format F] [--accept-extra]
                                    check an annotated file and add it to the run's ledger

Exit codes: 0 success, 2 usage or config error (unknown plugin, bad option, --resume with
different options, a missing, malformed or unsafe input file of ``select`` or ``eval``),
1 runtime failure (a damaged run directory, a plugin that fails while running, an unreadable
dataset file, ``data check`` finding problems), 3 paused: the oracle waits for people to annotate
(``asl-run export`` / ``import``, then ``--resume``), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from . import __version__
from .errors import (
    AslError,
    AslUsageError,
    AwaitingAnnotations,
    ConfigError,
    PluginContractError,
    ResumeMismatchError,
)
from .plugins import KINDS, PluginManager, default_plugin_manager

__all__ = ["EXIT_AWAITING", "main"]

#: exit code of a run that paused for people to annotate (``AwaitingAnnotations``)
EXIT_AWAITING = 3

SUBCOMMANDS = ("run", "plugins", "data", "select", "compare", "eval", "export", "import")

# CLI flag → dotted config key, for the plain value flags
_VALUE_FLAGS = {
    "seed": "seed",
    "init_pct": "budget.init_pct",
    "step_pct": "budget.step_pct",
    "cycles": "budget.cycles",
    "total_pct": "budget.total_pct",
    "step_cost": "budget.step_cost",
    "total_cost": "budget.total_cost",
}
_PLUGIN_FLAGS = ("task", "scorer", "selector", "loss", "oracle")


# --------------------------------------------------------------------------- parsers


def _add_config_args(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """``--config``, ``--cfg-options`` and the budget flags, shared by ``asl-run`` and
    ``asl-run compare``; returns the configuration group for more flags."""
    c = p.add_argument_group("configuration")
    c.add_argument("--config", type=Path, help="config file (mmengine format, _base_ allowed)")
    c.add_argument(
        "--cfg-options",
        nargs="+",
        metavar="KEY=VALUE",
        help="override config keys, e.g. loss.sigma=2.0 budget.cycles=5",
    )
    b = p.add_argument_group(
        "budget (percent of all pool frames, or annotation cost in the oracle's unit)"
    )
    b.add_argument("--init-pct", type=float, help="initial random labels per video, %% (default 5)")
    b.add_argument("--step-pct", type=float, help="frames bought per cycle, %% (default 5)")
    b.add_argument(
        "--cycles", type=int, help="selection cycles after the initial labels (default 3)"
    )
    b.add_argument("--total-pct", type=float, help="stop once this %% of frames is labelled")
    b.add_argument(
        "--step-cost",
        type=float,
        help="annotation cost to spend per cycle instead of --step-pct (e.g. clicks)",
    )
    b.add_argument(
        "--total-cost", type=float, help="stop once the labels bought cost this much in all"
    )
    return c


def _run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="asl-run",
        description=(
            "Active sparse labeling: train, score frames, select the most useful ones, buy their "
            "labels, repeat. Subcommands: 'asl-run plugins' lists plugins, 'asl-run data synth' "
            "writes a synthetic dataset, 'asl-run data stats|check' count annotation files and "
            "check a dataset folder, 'asl-run data labels' turns annotation files into a labels "
            "file, 'asl-run select' selects frames from a labels file and your own per-frame "
            "statistics (or none, for random and equidistant; priced when the labels file gives "
            "actors), 'asl-run compare' runs and tabulates a grid of scorers x seeds, "
            "'asl-run eval' computes frame-AP / video-AP of detection files (and J / F of mask "
            "folders: 'asl-run eval vos'), 'asl-run export' / 'asl-run import' hand a paused "
            "run's frames to an annotation tool and take the annotations back (--oracle "
            "exchange; exit code 3 = paused)."
        ),
        epilog="Example: asl-run --task fake --scorer random --selector global --cycles 3",
    )
    p.add_argument("--version", action="version", version=f"asl-run {__version__}")
    g = p.add_argument_group("plugins (names from 'asl-run plugins')")
    g.add_argument("--task", help="task plugin, e.g. fake")
    g.add_argument("--scorer", help="frame scorer, e.g. random, equidistant")
    g.add_argument("--selector", help="selector: global, local or video")
    g.add_argument("--loss", help="sparse loss: mgw, interpolation or masking")
    g.add_argument("--oracle", help="oracle, e.g. simulated")
    c = _add_config_args(p)
    c.add_argument("--seed", type=int, help="run seed (default 0)")
    r = p.add_argument_group("run directory")
    r.add_argument(
        "--work-dir",
        type=Path,
        help="run directory (default runs/<task>-<scorer>-<selector>-<time>)",
    )
    r.add_argument(
        "--resume", type=Path, metavar="DIR", help="continue the run in DIR after an interruption"
    )
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars or per-phase lines (the header, notes and final table remain)",
    )
    return p


def _compare_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="asl-run compare",
        description=(
            "Run a grid of scorers x seeds over one budget schedule (every scorer starts from the "
            "same initial labels and model initialisation within a seed) and tabulate mean ± std "
            "per cycle and the area under the budget curve. Running it again resumes the grid."
        ),
        epilog="Example: asl-run compare --task fake --seeds 0 1 2 --out runs/compare-fake",
    )
    p.add_argument("--out", type=Path, required=True, help="comparison folder")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help="scorers to compare (default: the paper's Table 1: random equidistant gal aghdam apu)",
    )
    which.add_argument(
        "--preset",
        choices=("table1", "loss", "selector", "granularity", "step", "sigma"),
        help="a paper ablation (see docs/cli.md): table1 (default), loss, selector, granularity, "
        "step, sigma",
    )
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="seeds (default 0 1 2)")
    for name in ("task", "selector", "loss", "oracle"):
        p.add_argument(f"--{name}", help=f"{name} plugin shared by every run")
    _add_config_args(p)  # the shared config of every run of the grid
    p.add_argument(
        "--x-axis",
        choices=("pct", "cost"),
        default="pct",
        help="budget axis of tables and plots: %% labelled (default) or annotation cost",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs at once, each in its own process (default 1; workers print no progress)",
    )
    p.add_argument(
        "--reuse",
        nargs="+",
        type=Path,
        default=[],
        metavar="DIR",
        help="copy cells whose config equals a finished run in these comparison folders instead "
        "of running them again (e.g. an ablation's APU cell from the Table 1 grid)",
    )
    p.add_argument(
        "--reference",
        action="store_true",
        help="also train each seed once on every frame labelled (the 100 %% row of the paper's "
        "Table 2); shown beside the tables and as a dashed line in the plots",
    )
    p.add_argument("--quiet", action="store_true", help="no per-phase lines")
    return p


def _plugins_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="asl-run plugins", description="List the registered ASL plugins."
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--kind", choices=KINDS, help="only this kind")
    return p


def _data_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="asl-run data", description="Dataset tools.")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    synth = sub.add_parser(
        "synth",
        help="write a synthetic dataset in a real on-disk layout",
        description="Write a synthetic dataset (default: synthetic_actions) into an empty folder.",
    )
    synth.add_argument("--dataset", default="synthetic_actions", help="dataset plugin name")
    synth.add_argument("--out", type=Path, required=True, help="output folder (must be empty)")
    synth.add_argument("--seed", type=int, help="generator seed (default: the plugin's)")
    synth.add_argument(
        "--cfg-options",
        nargs="+",
        metavar="KEY=VALUE",
        help="generator parameters, e.g. num_train=20 size=32",
    )
    stats = sub.add_parser(
        "stats",
        help="count videos, frames, tubes and actors per split of annotation files",
        description=(
            "Count videos, frames, tubes (action instances) and actors per split of a dataset's "
            "annotation files, e.g. --dataset ucf101_24 --annotations trainAnnot.mat testAnnot.mat."
        ),
    )
    stats.add_argument(
        "--dataset", required=True, help="dataset tool: ucf101_24, jhmdb21, act (asl-run plugins)"
    )
    stats.add_argument(
        "--annotations",
        nargs="+",
        type=Path,
        required=True,
        metavar="FILE",
        help="annotation files",
    )
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    stats.add_argument(
        "--cfg-options", nargs="+", metavar="KEY=VALUE", help="layout keys, e.g. split_list=FILE"
    )
    check = sub.add_parser(
        "check",
        help="report every missing, unreadable or inconsistent video of a dataset folder",
        description=(
            "Walk a dataset folder and report every missing, unreadable or inconsistent video "
            "(frame count and size against the annotations) with its path, then a summary. "
            "Exit code 1 when problems were found."
        ),
    )
    check.add_argument("--root", type=Path, required=True, help="the dataset folder")
    check.add_argument(
        "--dataset", help="dataset tool (default: the one that recognises the folder's files)"
    )
    check.add_argument(
        "--annotations",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="annotation files to check against (default: those found in --root)",
    )
    check.add_argument(
        "--quick",
        action="store_true",
        help="do not decode every frame: existence, counts and the first frame only",
    )
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument(
        "--cfg-options",
        nargs="+",
        metavar="KEY=VALUE",
        help="layout keys, e.g. frames_dir=Frames frame_pattern={:05d}.jpg videos_dir=videos",
    )
    labels = sub.add_parser(
        "labels",
        help="write the selection pool of annotation files as a labels file (no video needed)",
        description=(
            "Turn annotation files into the labels file of 'asl-run select --labels': every "
            "video with its length, the frames already labelled (an ASL pickle's annotated-frame "
            "lists, or --init-pct random ones) and the actors on each frame (for the annotation "
            "cost). No video, frame or model is read."
        ),
        epilog=(
            "Example: asl-run data labels --dataset ucf101_24 --annotations trainAnnot.mat "
            "--init-pct 1 --out labels.json; then asl-run select --labels labels.json "
            "--budget 1% --scorer random"
        ),
    )
    labels.add_argument(
        "--dataset", required=True, help="dataset tool: ucf101_24, jhmdb21, act (asl-run plugins)"
    )
    labels.add_argument(
        "--annotations",
        nargs="+",
        type=Path,
        required=True,
        metavar="FILE",
        help="annotation files that store the video lengths (trainAnnot.mat, *-GT.pkl), plus "
        "any ASL pickle whose annotated frames are the labels",
    )
    labels.add_argument("--out", type=Path, required=True, metavar="FILE", help="labels file")
    labels.add_argument(
        "--init-pct",
        type=float,
        metavar="P",
        help="label P %% of each video at random (replacing any labelled frames the files mark), "
        "by the rule of a run's initial labels (budget.init_pct)",
    )
    labels.add_argument("--seed", type=int, metavar="N", help="seed of --init-pct (default 0)")
    labels.add_argument(
        "--cfg-options", nargs="+", metavar="KEY=VALUE", help="layout keys, e.g. split=2"
    )
    return p


def _select_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="asl-run select",
        description=(
            "Choose the frames to annotate next from per-frame statistics or Monte-Carlo dropout "
            "probabilities computed by your own model: no model, task or run directory. Prints "
            "(or writes) a JSON list of {video, frame, score} in pick order; a summary goes to "
            "stderr. File formats: docs/cli.md."
        ),
        epilog=(
            "Example: asl-run select --stats U.npz --labels labels.json --budget 5% "
            "--scorer apu --selector global --out sel.json"
        ),
    )
    p.add_argument(
        "--labels",
        type=Path,
        required=True,
        metavar="FILE",
        help='JSON: {"videos": {"<id>": {"num_frames": N, "labelled": [frame, ...]}, ...}}',
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--stats",
        type=Path,
        metavar="FILE.npz",
        help="numpy.savez archive, one 1-D array per video id: the scorer's per-frame statistic "
        "(U of eq. 1 for apu and gal, entropy in [0, 1] for aghdam)",
    )
    src.add_argument(
        "--probs",
        type=Path,
        metavar="DIR",
        help="DIR/<video id>.npy per video ('/' in an id is a sub-folder): mc_probs "
        "float[T, F, C, H, W], reduced by the scorer itself",
    )
    p.add_argument(
        "--budget",
        required=True,
        metavar="N|P%",
        help="frames to select: a count (500) or a percentage of all pool frames (5%%)",
    )
    p.add_argument("--scorer", required=True, help="frame scorer, e.g. apu, gal, aghdam, random")
    p.add_argument("--selector", help="selector: global (default), local or video")
    p.add_argument(
        "--cfg-options",
        nargs="+",
        metavar="KEY=VALUE",
        help="scorer and selector parameters, e.g. scorer.sigma=2.0 scorer.lam=0.7",
    )
    p.add_argument("--seed", type=int, help="seed of the random streams (default 0)")
    p.add_argument(
        "--out", type=Path, metavar="FILE", help="write the JSON here (atomically), not to stdout"
    )
    cost = p.add_argument_group(
        "annotation cost (paper §4), when the labels file gives the actors on each frame "
        "(asl-run data labels)"
    )
    cost.add_argument(
        "--clicks-per-actor",
        metavar="C",
        help="clicks per actor on a frame (default 2: a box's two corners)",
    )
    cost.add_argument(
        "--frame-overhead", metavar="O", help="clicks per frame whatever it shows (default 0)"
    )
    return p


def _iou_token(text: str) -> float | str:
    """An ``--iou`` value: a number in [0, 1], or a range ``LO:HI`` / ``LO:HI:STEP`` (kept as
    text; the evaluator expands it)."""
    parts = text.split(":")
    if len(parts) > 3:
        raise argparse.ArgumentTypeError(f"{text!r}: write a number, LO:HI or LO:HI:STEP")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a threshold: write a number in [0, 1], LO:HI or LO:HI:STEP"
        ) from None
    if not all(0.0 <= v <= 1.0 for v in values):  # NaN fails too
        raise argparse.ArgumentTypeError(f"{text!r}: IoU thresholds lie in [0, 1]")
    if len(parts) == 1:
        return values[0]
    if values[1] < values[0] or (len(values) == 3 and values[2] <= 0.0):
        raise argparse.ArgumentTypeError(f"{text!r}: a range needs LO <= HI and a step > 0")
    return text


def _eval_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="asl-run eval",
        description=(
            "Score any model's output files against ground truth. Evaluator 'act' (default): "
            "box-detection frame-AP and video-AP in the ACT formats: frame detections (one "
            "pickled float array, rows video_index frame label score x1 y1 x2 y2) and video "
            "detections (a pickled dict label -> [(video, score, tube)]), against an ACT "
            "ground-truth pickle. Evaluator 'vos': region J, boundary F and J&F of a folder of "
            "<video>/<frame>.png palette masks against a ground-truth Annotations folder "
            "(YouTube-VOS / DAVIS layout). Conventions: docs/metrics.md."
        ),
        epilog=(
            "Examples: asl-run eval --gt JHMDB-GT.pkl --frame-dets frames.pkl --video-dets "
            "tubes.pkl --preset act --iou 0.2 0.5 0.75 0.5:0.95 | asl-run eval vos --gt "
            "valid/Annotations --pred results/Annotations --json"
        ),
    )
    p.add_argument(
        "evaluator_name",
        nargs="?",
        metavar="EVALUATOR",
        help="evaluator plugin: act (default) or vos; see 'asl-run plugins --kind evaluator'",
    )
    p.add_argument(
        "--gt",
        type=Path,
        required=True,
        metavar="GT",
        help="ground truth: an ACT pickle (act) or an Annotations folder of masks (vos)",
    )
    p.add_argument("--frame-dets", type=Path, metavar="F.pkl", help="frame detections (frame-AP)")
    p.add_argument("--video-dets", type=Path, metavar="V.pkl", help="video detections (video-AP)")
    p.add_argument(
        "--pred",
        type=Path,
        metavar="DIR",
        help="vos: folder of predicted <video>/<frame>.png palette masks",
    )
    p.add_argument(
        "--meta",
        type=Path,
        metavar="meta.json",
        help="vos: objects and categories (default: meta.json beside the --gt folder, if any; "
        "without it every object counts as seen)",
    )
    p.add_argument(
        "--preset",
        help="act: metric conventions, act (ACT reference, default) or voc (VOC-style variant)",
    )
    p.add_argument(
        "--iou",
        nargs="+",
        type=_iou_token,
        default=[0.5],
        metavar="T",
        help="IoU thresholds: numbers and ranges such as 0.5:0.95 (mean over 0.50, 0.55, ..., "
        "0.95); default 0.5",
    )
    p.add_argument(
        "--split",
        help="1-based split of the ground truth to evaluate (default 1: test_videos[0])",
    )
    p.add_argument(
        "--evaluator", help="evaluator plugin, the same as EVALUATOR (kept for older scripts)"
    )
    p.add_argument(
        "--json", action="store_true", help="print the results as JSON on stdout, nothing else"
    )
    return p


# --------------------------------------------------------------------------- eval command


def _ap_table(title: str, results: dict[str, dict[str, Any]]) -> Table:
    """Rows: classes, then the mean; columns: threshold keys. ``-``: no ground truth."""
    keys = list(results)
    missing = any(v is None for k in keys for v in results[k]["per_class"].values())
    caption = "'-': no ground truth of that class (left out of the mean)" if missing else None
    table = Table(title=title, box=box.SIMPLE_HEAD, caption=caption)
    table.add_column("class")
    for key in keys:
        table.add_column(f"AP@{key}", justify="right")
    classes: list[str] = []
    for key in keys:
        classes.extend(c for c in results[key]["per_class"] if c not in classes)
    for name in classes:
        cells = []
        for key in keys:
            value = results[key]["per_class"].get(name)
            cells.append("-" if value is None else f"{value:.4f}")
        table.add_row(escape(name), *cells, end_section=name == classes[-1])
    table.add_row("[bold]mean (mAP)[/]", *(f"[bold]{results[k]['mAP']:.4f}[/]" for k in keys))
    return table


def _segmentation_table(title: str, results: dict[str, Any]) -> Table:
    """Rows: all objects, seen, unseen, overall; columns J, F, J&F, objects. ``-``: no object."""

    def cell(value: Any) -> str:
        return "-" if value is None else f"{value:.4f}"

    table = Table(title=title, box=box.SIMPLE_HEAD)
    for name in ("objects", "J", "F", "J&F", "count"):
        table.add_column(name, justify="left" if name == "objects" else "right")
    table.add_row(
        "all", cell(results["J"]), cell(results["F"]), cell(results["J&F"]), str(results["objects"])
    )
    for group in ("seen", "unseen"):
        g = results[group]
        table.add_row(group, cell(g["J"]), cell(g["F"]), cell(g["J&F"]), str(g["objects"]))
    table.add_row("[bold]overall[/]", "", "", f"[bold]{cell(results['overall'])}[/]", "")
    return table


def cmd_eval(args: argparse.Namespace, manager: PluginManager, out: Console) -> int:
    name = args.evaluator_name or args.evaluator or "act"
    if args.evaluator_name and args.evaluator and args.evaluator != args.evaluator_name:
        raise AslUsageError(
            f"eval: two evaluators named ({args.evaluator_name!r} and --evaluator "
            f"{args.evaluator!r}); give one"
        )
    evaluator = manager.build("evaluator", name, {})
    folders = getattr(evaluator, "evaluate_folders", None)
    if callable(folders):
        if args.pred is None:
            raise AslUsageError(f"eval {name}: give the predicted masks with --pred DIR")
        stray = [o for o in ("frame_dets", "video_dets", "split", "preset") if getattr(args, o)]
        if stray:
            raise AslUsageError(
                f"eval {name}: --{stray[0].replace('_', '-')} is an option of detection "
                "evaluators (act), not of mask folders"
            )
        try:
            results = folders(args.gt, args.pred, meta=args.meta)
        except AslUsageError:
            raise
        except AslError as exc:
            # a bad input file of eval is a usage error (exit 2), as for the act evaluator
            raise AslUsageError(str(exc)) from None
        if args.json:
            sys.stdout.write(json.dumps(results, indent=2, allow_nan=False) + "\n")
            sys.stdout.flush()
            return 0
        title = f"{name} · {args.pred} vs {args.gt}"
        _wide(out).print(_segmentation_table(escape(title), results))
        return 0
    if args.pred is not None or args.meta is not None:
        raise AslUsageError(
            f"eval {name}: --pred and --meta belong to mask-folder evaluators (vos); "
            f"{name!r} takes --frame-dets / --video-dets"
        )
    if args.frame_dets is None and args.video_dets is None:
        raise AslUsageError("eval: nothing to evaluate; give --frame-dets, --video-dets or both")
    evaluate = getattr(evaluator, "evaluate_files", None)
    if not callable(evaluate):
        raise AslUsageError(f"evaluator {name!r} has no evaluate_files method")
    preset = args.preset or "act"
    results = evaluate(
        args.gt,
        args.frame_dets,
        args.video_dets,
        preset=preset,
        thresholds=list(args.iou),
        split=args.split,
    )
    if args.json:
        # plain write, no rich: stdout holds exactly the JSON document
        sys.stdout.write(json.dumps(results, indent=2, allow_nan=False) + "\n")
        sys.stdout.flush()
        return 0
    out = _wide(out)
    split = args.split or "1"
    names = {"frame_ap": "frame-AP", "video_ap": "video-AP"}
    for family, per_threshold in results.items():
        title = f"{names.get(family, family)} · preset {preset} · {args.gt.name} split {split}"
        out.print(_ap_table(escape(title), per_threshold))
    return 0


# --------------------------------------------------------------------------- export / import


def _export_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="asl-run export",
        description=(
            "Write the frames a paused run (oracle 'exchange', state awaiting_annotations) waits "
            "for, in an annotation tool's format; annotate them, then 'asl-run import'. "
            "Walk-through: docs/annotation-tools.md."
        ),
    )
    p.add_argument("--run", type=Path, required=True, metavar="DIR", help="the paused run")
    p.add_argument(
        "--format", required=True, help="cvat (CVAT for video 1.1 XML), labelstudio or coco"
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="PATH",
        help="file to write (cvat: a folder of one <video>.xml per video, unless PATH ends in "
        ".xml and one video waits)",
    )
    p.add_argument(
        "--mode",
        choices=("tracks", "frames"),
        help="cvat: tracks over whole videos (default) or only the requested frames as images",
    )
    p.add_argument(
        "--frames-dir", type=Path, metavar="DIR", help="coco: also write the frames as JPEGs here"
    )
    return p


def _import_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="asl-run import",
        description=(
            "Check an annotated file against a paused run and append its new frames to the "
            "run's ledger (nothing is written if any check fails; importing a file twice adds "
            "nothing the second time); then 'asl-run --resume DIR'."
        ),
    )
    p.add_argument("--run", type=Path, required=True, metavar="DIR", help="the paused run")
    p.add_argument("file", type=Path, metavar="FILE", help="the annotated export")
    p.add_argument("--format", help="cvat, labelstudio or coco (default: from the file)")
    p.add_argument(
        "--accept-extra",
        action="store_true",
        help="also buy annotated frames the run did not ask for",
    )
    return p


def cmd_export(args: argparse.Namespace, manager: PluginManager, out: Console) -> int:
    from .handoff import export_run

    if args.out.exists() and not args.out.is_dir() and args.out.stat().st_size:
        raise AslUsageError(f"{args.out}: exists already; choose another --out (nothing written)")
    options: dict[str, Any] = {}
    if args.mode is not None:
        options["mode"] = args.mode
    if args.frames_dir is not None:
        options["frames_dir"] = args.frames_dir
    summary = export_run(args.run, args.format, args.out, manager, options=options)
    out.print(
        f"wrote {summary.frames} frames of {summary.videos} videos (cycle {summary.cycle}) to "
        f"[bold]{escape(str(summary.path))}[/] ({summary.format}); annotate them, then: "
        f"asl-run import --run {escape(str(args.run))} {escape(str(summary.path))}"
    )
    return 0


def cmd_import(args: argparse.Namespace, manager: PluginManager, out: Console) -> int:
    from .handoff import import_annotations

    summary = import_annotations(
        args.run, args.file, manager, fmt=args.format, accept_extra=args.accept_extra
    )
    for warning in summary.warnings:
        out.print(f"[yellow]warning:[/] {escape(warning)}")
    out.print(
        f"cycle {summary.cycle}: added {summary.added} annotated frames "
        f"({summary.extra} not requested), cost {summary.cost:g}; skipped "
        f"{summary.duplicates} already imported and {summary.ignored_interpolated} interpolated"
    )
    if summary.still_waiting:
        out.print(f"still waiting for {summary.still_waiting} frames of cycle {summary.cycle}")
    else:
        out.print(f"cycle {summary.cycle} is complete: asl-run --resume {escape(str(args.run))}")
    return 0


# --------------------------------------------------------------------------- select command


def cmd_select(args: argparse.Namespace, manager: PluginManager, err: Console) -> int:
    from .config import parse_cfg_options
    from .offline import check_out_path, result_json, select_from_files
    from .rundir import atomic_write_bytes

    cfg_options = parse_cfg_options(args.cfg_options)
    if args.out is not None:
        check_out_path(args.out)  # before the work, not after it
    result = select_from_files(
        labels=args.labels,
        budget=args.budget,
        scorer=args.scorer,
        selector=args.selector,
        stats=args.stats,
        probs=args.probs,
        seed=args.seed,
        cfg_options=cfg_options,
        manager=manager,
        clicks_per_actor=args.clicks_per_actor,
        frame_overhead=args.frame_overhead,
    )
    text = result_json(result)
    for note in result.notes:
        err.print(f"[yellow]note:[/] {escape(note)}")
    if args.out is None:
        # plain write: rich would treat "[...]" in a video id as markup
        sys.stdout.write(text)
        sys.stdout.flush()
        err.print(escape(result.summary()))
    else:
        try:
            atomic_write_bytes(args.out, text.encode())
        except OSError as exc:
            raise AslUsageError(f"{args.out}: cannot write ({exc})") from None
        err.print(f"{escape(result.summary())}; wrote {escape(str(args.out))}")
    return 0


# --------------------------------------------------------------------------- data command


def cmd_data(args: argparse.Namespace, manager: PluginManager, out: Console) -> int:
    if args.action == "stats":
        return _data_stats(args, manager, out)
    if args.action == "check":
        return _data_check(args, manager, out)
    if args.action == "labels":
        return _data_labels(args, manager, out)
    return _data_synth(args, manager, out)


def _data_tool(manager: PluginManager, name: str, action: str, cfg_options: Any) -> Any:
    """The dataset tool ``name`` built from ``--cfg-options``, and its ``action`` method."""
    from .config import parse_cfg_options

    tool = manager.build("dataset", name, parse_cfg_options(cfg_options))
    method = getattr(tool, action, None)
    if not callable(method):
        raise AslUsageError(f"dataset {name!r} has no {action!r} action")
    return method


def _data_synth(args: argparse.Namespace, manager: PluginManager, out: Console) -> int:
    from .config import parse_cfg_options

    params = parse_cfg_options(args.cfg_options)
    if args.seed is not None:
        params["seed"] = args.seed
    tool = manager.build("dataset", args.dataset, params)
    action = getattr(tool, "synthesize", None)
    if not callable(action):
        raise AslUsageError(f"dataset {args.dataset!r} cannot synthesize data")
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        raise AslUsageError(f"{args.out}: exists and is not an empty folder; choose another --out")
    t0 = time.perf_counter()
    with RichObserver(out).step(f"{args.dataset} · synth") as progress:
        written = action(args.out, progress)
    out.print(f"wrote dataset {args.dataset!r} to {written} in {time.perf_counter() - t0:.1f}s")
    return 0


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return escape(str(value))
    return f"{value:,}" if isinstance(value, int) else f"{value:,.3g}"


def _data_stats(args: argparse.Namespace, manager: PluginManager, out: Console) -> int:
    from .interfaces import NullProgress

    stats = _data_tool(manager, args.dataset, "stats", args.cfg_options)
    for path in args.annotations:
        if not path.exists():
            raise AslUsageError(f"{path}: not found (--annotations)")
    doc = stats(list(args.annotations), NullProgress())
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        sys.stdout.flush()
        return 0
    rows = doc.get("rows", [])
    table = Table(title=f"{escape(args.dataset)} annotations", box=box.SIMPLE_HEAD)
    columns = list(rows[0]) if rows else ["split"]
    for col in columns:
        table.add_column(
            col.replace("_", " "), justify="left" if col in ("split", "file") else "right"
        )
    for row in rows:
        table.add_row(
            *(
                escape(Path(row[c]).name) if c == "file" and row[c] else _cell(row[c])
                for c in columns
            )
        )
    out = _wide(out)
    out.print(table)
    for note in doc.get("notes", []):
        out.print(f"note: {escape(note)}")
    return 0


def _data_labels(args: argparse.Namespace, manager: PluginManager, out: Console) -> int:
    from .budget import initial_selection
    from .interfaces import NullProgress
    from .loop import phase_rng
    from .offline import check_out_path, labels_json, parse_labels
    from .rundir import atomic_write_bytes
    from .types import LabelState

    init_pct = args.init_pct
    if init_pct is not None and not (0.0 < init_pct <= 100.0):
        raise AslUsageError(f"--init-pct {init_pct:g}: a percentage must be in (0, 100]")
    if args.seed is not None and init_pct is None:
        raise AslUsageError("--seed draws the --init-pct labels; give --init-pct P as well")
    seed = 0 if args.seed is None else args.seed
    labels_of = _data_tool(manager, args.dataset, "labels", args.cfg_options)
    for path in args.annotations:
        if not path.exists():
            raise AslUsageError(f"{path}: not found (--annotations)")
    check_out_path(args.out)
    doc = labels_of(list(args.annotations), NullProgress())
    where = f"dataset {args.dataset!r}: labels()"
    if not isinstance(doc, dict) or "videos" not in doc:
        raise PluginContractError(f"{where} must return {{'videos': {{...}}, 'notes': [...]}}")
    try:
        pool, labels, actors = parse_labels({"videos": doc["videos"]}, where)
    except AslUsageError as exc:  # the plugin's document, not the user's input, is wrong
        raise PluginContractError(str(exc)) from None
    notes = [str(n) for n in doc.get("notes", [])]
    if init_pct is not None:
        if labels.num_labelled:
            notes.append(
                f"--init-pct replaces the {labels.num_labelled:,} labelled frames the files mark"
            )
        # the rule and random stream of a run's cycle 0, over the pool in the files' order
        chosen = initial_selection(pool, init_pct, phase_rng(seed, 0, "init"))
        labels = LabelState.from_frames(chosen.frames)
    try:
        atomic_write_bytes(args.out, labels_json(pool, labels, actors).encode())
    except OSError as exc:
        raise AslUsageError(f"{args.out}: cannot write ({exc})") from None
    for note in notes:
        out.print(f"note: {escape(note)}")
    frames = sum(v.num_frames for v in pool)
    boxes = 0 if actors is None else sum(int(a.sum()) for a in actors.values())
    shown = 0 if actors is None else sum(int((a > 0).sum()) for a in actors.values())
    how = "" if init_pct is None else f", --init-pct {init_pct:g} seed {seed}"
    out.print(
        f"wrote {escape(str(args.out))}: {len(pool):,} videos, {frames:,} frames, "
        f"{labels.num_labelled:,} labelled{escape(how)}; {boxes:,} actor boxes on {shown:,} "
        "frames"
    )
    return 0


def _recognise(manager: PluginManager, root: Path) -> str:
    """The dataset tool whose ``recognize`` scores ``root`` highest (exactly one must)."""
    scores: dict[str, int] = {}
    for entry in manager.entries("dataset"):
        try:
            tool = entry.build({})
        except Exception:  # a tool that cannot build with its defaults cannot claim the folder
            continue
        recognize = getattr(tool, "recognize", None)
        if callable(recognize) and callable(getattr(tool, "check", None)):
            score = int(recognize(root))
            if score > 0:
                scores[entry.name] = score
    if not scores:
        raise AslUsageError(f"{root}: no dataset tool recognises this folder; give --dataset NAME")
    best = max(scores.values())
    top = sorted(name for name, score in scores.items() if score == best)
    if len(top) > 1:
        raise AslUsageError(f"{root}: several dataset tools fit ({', '.join(top)}); give --dataset")
    return top[0]


def _data_check(args: argparse.Namespace, manager: PluginManager, out: Console) -> int:
    if not args.root.is_dir():
        raise AslUsageError(f"{args.root}: not a folder (--root)")
    for path in args.annotations or ():
        if not path.exists():
            raise AslUsageError(f"{path}: not found (--annotations)")
    name = args.dataset or _recognise(manager, args.root)
    check = _data_tool(manager, name, "check", args.cfg_options)

    def show(problem: Any) -> None:
        out.print(f"[red]{problem.kind:<12}[/] {escape(problem.path)}: {escape(problem.message)}")

    t0 = time.perf_counter()
    with RichObserver(out, quiet=args.json).step(f"{name} · check") as progress:
        report = check(
            args.root,
            progress,
            annotations=tuple(args.annotations or ()),
            quick=args.quick,
            on_problem=None if args.json else show,
        )
    if args.json:
        doc = {
            "dataset": name,
            "root": report.root,
            "annotations": list(report.annotations),
            "videos": report.videos,
            "frames": report.frames,
            "ok": report.ok,
            "counts": report.counts(),
            "problems": [
                {"kind": p.kind, "path": p.path, "message": p.message, "video": p.video}
                for p in report.problems
            ],
            "notes": list(report.notes),
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        sys.stdout.flush()
        return 0 if report.ok else 1
    for note in report.notes:
        out.print(f"note: {escape(note)}")
    files = ", ".join(Path(f).name for f in report.annotations)
    frames = f" ({report.frames:,} annotated frames)" if report.frames else ""
    checked = (
        f"checked {report.videos:,} videos{frames} of {report.root} "
        f"against {files} in {time.perf_counter() - t0:.1f}s"
        + (" (--quick: frames not decoded)" if args.quick else "")
    )
    if report.ok:
        out.print(f"{escape(checked)}: no problem found")
        return 0
    counts = ", ".join(f"{n:,} {kind}" for kind, n in report.counts().items() if n)
    videos = len({p.video or p.path for p in report.problems})
    out.print(
        f"{escape(checked)}: [bold red]{len(report.problems):,} problem(s)[/] ({counts}) in "
        f"{videos:,} video(s)"
    )
    return 1


# --------------------------------------------------------------------------- plugins command


def _wide(out: Console) -> Console:
    """``out``, or when it is not a terminal (piped, captured) a console wide enough that rich
    does not squeeze table columns to 80 characters."""
    if out.is_terminal or out.quiet:
        return out
    return Console(width=200, highlight=False, soft_wrap=True, file=out.file)


def _module_display(module: str, path: str | None) -> str:
    """``package/sub/module.py`` (the full path is in ``--json``)."""
    if not path:
        return f"{module} (not found)"
    rel = module.replace(".", "/")
    return rel + ("/__init__.py" if path.endswith("__init__.py") else ".py")


def cmd_plugins(args: argparse.Namespace, manager: PluginManager, out: Console) -> int:
    entries = manager.entries(args.kind)
    if args.json:
        payload = {
            "python": sys.executable,
            "plugins": [e.to_dict() for e in entries],
            "failed": [f.to_dict() for f in manager.failed],
            "disabled": list(manager.disabled),
        }
        out.print_json(json.dumps(payload))
        return 0
    out = _wide(out)
    # the summary column only when there is room for it (it is always in --json)
    wide = out.width >= 140
    table = Table(title="ASL plugins", caption=f"interpreter: {sys.executable}")
    rows = [
        [
            e.kind,
            e.name,
            e.dist or "-",
            e.version or "-",
            _module_display(e.module, e.module_file()),
        ]
        for e in entries
    ]
    for i, col in enumerate(("kind", "name", "dist", "version", "module")):
        # never cut: people copy these names; the summary gives way instead
        width = max([len(col), *(len(r[i]) for r in rows)])
        table.add_column(col, no_wrap=True, min_width=width)
    if wide:
        table.add_column("summary", no_wrap=True, overflow="ellipsis")
    for e, row in zip(entries, rows, strict=True):
        table.add_row(*row, *([e.summary] if wide else []))
    out.print(table)
    if manager.failed:
        failed = Table(title="Plugins that failed to load", style="red")
        for col in ("plugin", "dist", "version", "stage", "error"):
            failed.add_column(col)
        for f in manager.failed:
            failed.add_row(f.plugin, f.dist or "-", f.version or "-", f.stage, f.error)
        out.print(failed)
    if manager.disabled:
        out.print(
            f"disabled by ASL_DISABLE_PLUGINS/ASL_LOAD_PLUGINS: {', '.join(manager.disabled)}"
        )
    if not manager.entries():
        why = (
            "every installed plugin was skipped by ASL_LOAD_PLUGINS/ASL_DISABLE_PLUGINS"
            if manager.disabled
            else "is the toolkit installed in this environment (pip install -e .)? Plugins are "
            "found only through entry-point metadata"
        )
        out.print(f"[yellow]No plugins are registered:[/] {why}.")
    elif not entries:
        out.print(f"No {args.kind} plugins are registered.")
    return 0


# --------------------------------------------------------------------------- run command


class _RichProgress:
    def __init__(self, progress: Progress, task_id: Any) -> None:
        self._p = progress
        self._id = task_id
        self.steps = 0
        self.unit = ""

    def start(self, total: int | None, description: str = "") -> None:
        self.unit = description
        self._p.update(self._id, total=total, completed=0)
        self.steps = 0

    def advance(self, n: int = 1) -> None:
        self.steps += n
        self._p.advance(self._id, n)


class RichObserver:
    """Draws the loop's phases as rich progress bars and prints a line per finished phase."""

    def __init__(
        self, console: Console, *, quiet: bool = False, headline: Sequence[str] = ()
    ) -> None:
        self.console = console
        self.quiet = quiet
        self.headline = tuple(headline)
        self.results: list[Any] = []

    def phase(self, cycle: int, name: str) -> contextlib.AbstractContextManager[_RichProgress]:
        """Progress of one phase of one cycle."""
        return self.step(f"cycle {cycle} · {name:<9}")

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[_RichProgress]:
        """A progress bar on a terminal, then one line ``label amount seconds``."""
        t0 = time.perf_counter()
        with Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            # bars only on a terminal; logs (CI, files) get the one line per phase below
            disable=self.quiet or not self.console.is_terminal,
        ) as progress:
            handle = _RichProgress(progress, progress.add_task(label, total=None))
            yield handle
        if not self.quiet:
            amount = f"{handle.steps} {handle.unit}".strip() if handle.steps else ""
            self.console.print(f"[dim]{label} {amount:>14}  {time.perf_counter() - t0:6.2f}s[/]")

    def note(self, message: str) -> None:
        self.console.print(f"[yellow]note:[/] {message}")

    def cycle_done(self, result: Any) -> None:
        self.results.append(result)
        if not self.quiet:
            shown = {
                k: v for k, v in result.metrics.items() if not self.headline or k in self.headline
            }
            metrics = "  ".join(f"{k}={v:.4f}" for k, v in shown.items())
            self.console.print(
                f"[bold green]cycle {result.cycle}[/]: {result.labelled_frames} labelled frames "
                f"({result.labelled_pct:.2f}%), cost {result.cost:g}, {metrics}"
            )


def _results_table(results: Sequence[Any], headline: Sequence[str] = ()) -> Table:
    """One row per cycle; the task's headline metrics (all metrics when it names none)."""
    # no vertical rules, 3-decimal metrics and metric names that may fold onto two lines: ten
    # columns then fit an 80-column terminal without cutting a number to "0.38…"
    table = Table(title="Active-learning cycles", box=box.SIMPLE_HEAD, collapse_padding=True)
    for col in ("cycle", "labelled", "%", "bought", "cost"):
        table.add_column(col, justify="right", no_wrap=True)
    names: list[str] = []
    for r in results:
        names.extend(k for k in r.metrics if k not in names)
    if headline:
        names = [n for n in headline if n in names]
    for name in names:
        table.add_column(name, justify="right", overflow="fold", min_width=5)
    timed = any(getattr(r, "seconds", None) for r in results)
    if timed:  # wall-clock seconds of the cycle's phases (report.md has them phase by phase)
        table.add_column("sec", justify="right", no_wrap=True)
    for r in results:
        time_cell = [f"{sum(r.seconds.values()):.0f}"] if timed else []
        table.add_row(
            str(r.cycle),
            str(r.labelled_frames),
            f"{r.labelled_pct:.1f}",
            str(r.bought_frames),
            f"{r.cost:g}",
            *(f"{r.metrics[n]:.3f}" if n in r.metrics else "-" for n in names),
            *time_cell,
        )
    return table


def _config_diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            out.extend(_config_diff(a.get(key), b.get(key), f"{prefix}{key}."))
        return out
    return [] if a == b else [f"{prefix[:-1]}: run has {a!r}, you asked for {b!r}"]


def _default_work_dir(cfg: dict[str, Any]) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = (
        Path("runs")
        / f"{cfg['task']['type']}-{cfg['scorer']['type']}-{cfg['selector']['type']}-{stamp}"
    )
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


class RunFailed(Exception):
    """A plugin or library raised while a run was going; carries the run directory."""

    def __init__(self, root: Path, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.root = root


class RunInterrupted(Exception):
    """Ctrl-C during a run; carries the run directory for the resume hint."""

    def __init__(self, root: Path) -> None:
        super().__init__(str(root))
        self.root = root


def _with_base_hint(exc: ConfigError, config_file: Path | None) -> ConfigError:
    # mmengine merges a child's section into its _base_'s, so switching plugin in a config
    # file keeps the old plugin's parameters unless the section says _delete_=True
    if config_file is None or "unknown parameter" not in str(exc):
        return exc
    return ConfigError(
        f"{exc}. If the parameter was inherited through _base_, replace that section with "
        "dict(_delete_=True, type=..., ...)"
    )


def cmd_compare(args: argparse.Namespace, manager: PluginManager, out: Console) -> int:
    from .config import build_config, parse_cfg_options
    from .grid import PRESETS, REFERENCE, column_label, run_grid, summarize
    from .loop import build_components

    plugins = {name: getattr(args, name) for name in ("task", "selector", "loss", "oracle")}
    values = {key: getattr(args, flag) for flag, key in _VALUE_FLAGS.items() if flag != "seed"}
    cfg_options = parse_cfg_options(args.cfg_options)
    if any(k.startswith("scorer.") for k in cfg_options):
        raise ConfigError(
            "compare: scorer.* options would apply to every method; set per-scorer parameters "
            "in the scorers' defaults or compare with asl-run runs instead"
        )
    base = build_config(
        config_file=args.config, plugins=plugins, values=values, cfg_options=cfg_options
    )
    methods = list(args.methods) if args.methods else PRESETS[args.preset or "table1"]
    base_task = build_components(base, manager).task
    headline = tuple(getattr(base_task, "headline_metrics", ()))

    def observer_for(method: str, seed: int) -> RichObserver:
        return RichObserver(out, quiet=args.quiet, headline=headline)

    results = run_grid(
        args.out,
        base,
        methods,
        args.seeds,
        manager,
        observer_for=observer_for,
        announce=lambda msg: out.print(f"[bold]{msg}[/]"),
        jobs=args.jobs,
        reuse=args.reuse,
        reference=args.reference,
    )
    metrics = list(headline) or sorted(
        {
            k
            for per_seed in results.values()
            for rs in per_seed.values()
            for r in rs
            for k in r.metrics
        }
    )
    doc = summarize(results, metrics, args.out, x_axis=args.x_axis, task=base_task)
    first = metrics[0]
    table = Table(title=f"{first}: mean ± std over seeds", box=box.SIMPLE_HEAD)
    table.add_column("method")
    points = doc["metrics"][first]
    n_cycles = max(len(v["points"]) for v in points.values())
    for i in range(n_cycles):
        xs = [v["points"][i]["x"] for v in points.values() if i < len(v["points"])]
        label, _ = column_label(i, xs, args.x_axis)
        table.add_column(label.replace(" labelled", ""), justify="right")
    table.add_column("AUBC", justify="right")
    for method, v in points.items():
        cells = []
        for p in v["points"]:
            std = "" if p["std"] != p["std"] else f" ± {p['std']:.3f}"
            cells.append(f"{p['mean']:.3f}{std}")
        cells += [""] * (n_cycles - len(cells))  # a method with fewer cycles (the step preset)
        aubc_mean = sum(v["aubc"]) / len(v["aubc"])
        table.add_row(method, *cells, f"{aubc_mean:.3f}")
    _wide(out).print(table)
    if first in doc["reference"]:
        ref = doc["reference"][first]
        std = "" if ref["std"] != ref["std"] else f" ± {ref['std']:.3f}"
        out.print(f"reference, {REFERENCE}: {ref['mean']:.3f}{std} ({ref['n']})")
    for note in doc["notes"]:
        out.print(f"note: {note}")
    out.print(
        f"outputs: {args.out}/compare/summary.md, summary.csv, summary.json; runs in {args.out}/runs/"
    )
    return 0


def _open_or_create(
    args: argparse.Namespace, manager: PluginManager, out: Console
) -> tuple[Any, dict[str, Any], Any]:
    """Rank 0's part of ``asl-run``: open (``--resume``) or create the run directory.

    Returns ``(run, cfg, components)``."""
    from .config import build_config, parse_cfg_options
    from .loop import build_components, create_run, open_run

    plugins = {name: getattr(args, name) for name in _PLUGIN_FLAGS}
    values = {key: getattr(args, flag) for flag, key in _VALUE_FLAGS.items()}
    cfg_options = parse_cfg_options(args.cfg_options)
    if args.resume is not None:
        if args.config is not None or args.work_dir is not None:
            raise ResumeMismatchError(
                "--resume takes the run's own config and directory; drop --config/--work-dir"
            )
        run, stored, state = open_run(args.resume)
        cfg = build_config(base=stored, plugins=plugins, values=values, cfg_options=cfg_options)
        diff = _config_diff(stored, cfg)
        if diff:
            raise ResumeMismatchError(
                f"{args.resume}: --resume with options that differ from the run's config: "
                + "; ".join(diff)
            )
        components = build_components(cfg, manager)
        with run.locked():  # fail on a busy run before saying we resume it
            pass
        if state.get("status") == "finished":
            out.print(
                f"[bold]{run.root}[/] already finished ({state.get('reason', '')}); showing its results"
            )
        else:
            out.print(
                f"resuming [bold]{run.root}[/] at cycle {state.get('cycle')} ({state.get('phase')})"
            )
        return run, cfg, components
    cfg = build_config(
        config_file=args.config, plugins=plugins, values=values, cfg_options=cfg_options
    )
    try:
        components = build_components(cfg, manager)
    except ConfigError as exc:
        raise _with_base_hint(exc, args.config) from None
    run = create_run(args.work_dir or _default_work_dir(cfg), cfg, components)
    out.print(f"run directory: [bold]{run.root}[/]")
    return run, cfg, components


def cmd_run(args: argparse.Namespace, manager: PluginManager, out: Console) -> int:
    """``asl-run [run]``; under torchrun (``WORLD_SIZE`` > 1) every rank runs this: rank 0 opens
    or creates the run and tells the others its folder and config (docs/scaling.md)."""
    from .distributed import current
    from .loop import ActiveLearningLoop, build_components
    from .rundir import RunDir

    dist = current()
    built: dict[str, Any] = {}

    def main_part() -> tuple[str, dict[str, Any]]:
        run, cfg, built["components"] = _open_or_create(args, manager, out)
        return str(run.root), cfg

    root, cfg = dist.on_main(main_part)
    run = RunDir(root)
    error: BaseException | None = None
    components = built.get("components")
    if components is None:  # the other ranks build their own plugins from rank 0's config
        try:
            components = build_components(cfg, manager)
        except Exception as exc:
            error = exc
    dist.check_all(error)
    if dist.enabled:
        out.print(
            f"torchrun: {dist.world_size} processes (backend {dist.backend}); rank 0 writes the run"
        )
    dists = sorted({f"{e.dist}-{e.version}" for e in manager.entries() if e.dist})
    out.print(f"[dim]plugins: {', '.join(dists) or 'none'}[/]")
    if manager.failed:
        names = ", ".join(sorted({f.plugin for f in manager.failed}))
        out.print(
            f"[yellow]note:[/] plugins that failed to load: {names} ('asl-run plugins' shows why)"
        )
    names = components.names
    out.print(
        f"task={names['task']} scorer={names['scorer']} selector={names['selector']} "
        f"loss={names['loss']} oracle={names['oracle']} seed={cfg['seed']} budget={cfg['budget']}"
    )
    observer = RichObserver(
        out,
        quiet=args.quiet or not dist.is_main,
        headline=getattr(components.task, "headline_metrics", ()),
    )
    try:
        results = ActiveLearningLoop(run, cfg, components, observer, dist=dist).run()
    except KeyboardInterrupt:
        raise RunInterrupted(run.root) from None
    except AwaitingAnnotations as exc:
        # a pause, not a failure: people annotate, then the run resumes
        out.print(f"[bold]paused:[/] {escape(str(exc))}")
        out.print(
            f"next: asl-run export --run {run.root} --format cvat|labelstudio|coco --out FILE; "
            f"annotate; asl-run import --run {run.root} FILE; asl-run --resume {run.root}"
        )
        return EXIT_AWAITING
    except AslError:
        raise
    except Exception as exc:
        raise RunFailed(run.root, exc) from exc
    _wide(out).print(_results_table(results, getattr(components.task, "headline_metrics", ())))
    out.print(
        f"outputs: {run.root}/report.md, {run.root}/ledger.jsonl (purchased labels), "
        f"{run.root}/summary.json, {run.root}/cycles/NNN/ (selection, checkpoint, metrics, timing)"
    )
    return 0


# --------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``asl-run``; return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # soft_wrap: never break messages (paths) at the console width; tables still fit it
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    command = argv[0] if argv and argv[0] in SUBCOMMANDS else "run"
    if argv and argv[0] in SUBCOMMANDS:
        argv = argv[1:]
    parser = {
        "plugins": _plugins_parser,
        "data": _data_parser,
        "select": _select_parser,
        "compare": _compare_parser,
        "eval": _eval_parser,
        "export": _export_parser,
        "import": _import_parser,
    }.get(command, _run_parser)()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 0 for --help/--version, 2 for usage errors
        return int(exc.code or 0)
    rank = 0
    try:
        if _launched_distributed():
            if command != "run":
                raise AslUsageError(
                    f"asl-run {command} runs in one process; only a run (asl-run [run] ...) "
                    "can be launched with torchrun"
                )
            from .distributed import init_from_env

            rank = init_from_env().rank
            if rank:
                # one voice: rank 0 reports; the others print only their own errors
                out = Console(quiet=True)
                err = Console(stderr=True, highlight=False, soft_wrap=True)
        return _dispatch(command, args, out, err)
    except AslUsageError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        return 2
    finally:
        if _launched_distributed():
            from .distributed import shutdown

            shutdown()


def _launched_distributed() -> bool:
    """True under torchrun with more than one process (``WORLD_SIZE`` > 1)."""
    try:
        return int(os.environ.get("WORLD_SIZE") or 1) > 1
    except ValueError:
        return True  # init_from_env reports the bad value


def _dispatch(command: str, args: argparse.Namespace, out: Console, err: Console) -> int:
    """Run one subcommand; map errors to exit codes and messages."""
    from .distributed import PeerFailed, current

    rank = current().rank
    prefix = f"rank {rank}: " if current().enabled else ""
    try:
        manager = default_plugin_manager()
        if command == "plugins":
            return cmd_plugins(args, manager, out)
        if command == "data":
            return cmd_data(args, manager, out)
        if command == "select":
            return cmd_select(args, manager, err)
        if command == "compare":
            return cmd_compare(args, manager, out)
        if command == "eval":
            return cmd_eval(args, manager, out)
        if command == "export":
            return cmd_export(args, manager, out)
        if command == "import":
            return cmd_import(args, manager, out)
        return cmd_run(args, manager, out)
    # messages are escaped: "[T, F, C, H, W]" or a video id in brackets is text, not rich markup
    except PeerFailed as exc:
        err.print(f"{prefix}[yellow]stopped:[/] {escape(str(exc))}")
        return exc.exit_code
    except AslUsageError as exc:
        err.print(f"{prefix}[bold red]error:[/] {escape(str(exc))}")
        return 2
    except AslError as exc:
        err.print(f"{prefix}[bold red]error:[/] {escape(str(exc))}")
        return 1
    except RunInterrupted as exc:
        err.print(f"[yellow]interrupted[/]; continue with: asl-run --resume {exc.root}")
        return 130
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        return 130
    except RunFailed as exc:
        if os.environ.get("ASL_DEBUG"):
            traceback.print_exception(exc.__cause__)
        err.print(
            f"{prefix}[bold red]error:[/] {escape(str(exc))}\n(set ASL_DEBUG=1 for the traceback; completed phases are "
            f"saved: continue with asl-run --resume {exc.root})"
        )
        return 1
    except Exception as exc:  # a plugin or library failed outside a run
        if os.environ.get("ASL_DEBUG"):
            traceback.print_exc()
        err.print(
            f"[bold red]error:[/] {type(exc).__name__}: {escape(str(exc))} "
            "(set ASL_DEBUG=1 for the traceback)"
        )
        return 1


if __name__ == "__main__":  # pragma: no cover - `python -m asl_core.cli` (e.g. under torchrun)
    sys.exit(main())
