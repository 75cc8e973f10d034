"""One active-learning cycle of ``action_det`` on the default synthetic data: time, memory, learning.

Measures, with the task's default parameters (or overrides):

* train (``iterations`` steps) / evaluate (test split) / score (MC prediction over the whole
  pool, ``mc_trials`` trials, reduced on the fly to one number per frame as a scorer would) times;
* peak resident memory of the process;
* the model's metrics trained on (a) the initial random labels (``--init-pct`` % per video) and
  (b) 100 % of the frames labelled, with the same training budget: active learning only matters
  when (b) is clearly better than (a).

    python benchmarks/bench_action_det_cycle.py [--data-root DIR] [--iterations N] [--record]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table, record
from asl_action_det.task import ActionDetParams, ActionDetTask
from asl_strategies.losses.mgw import MGWLoss

from asl_core import FrameRef, LabelState, NullProgress
from asl_core.budget import initial_selection
from asl_core.loop import phase_rng
from asl_core.plugins import default_plugin_manager
from asl_core.scoring import score_pool
from asl_core.testing import FakeOracle


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train_and_evaluate(
    task: ActionDetTask, frames: list[FrameRef], seed: int
) -> tuple[dict, float, float, object]:
    labels = LabelState.from_frames(frames)
    annotations = {a.ref: a for a in FakeOracle().annotate(frames, task)}
    model = task.build_model(phase_rng(seed, 0, "model"))
    t0 = time.perf_counter()
    model = task.train(
        model, labels, annotations, MGWLoss(), phase_rng(seed, 0, "train"), NullProgress()
    )
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    metrics = task.evaluate(model, phase_rng(seed, 0, "evaluate"), NullProgress())
    return metrics, t_train, time.perf_counter() - t0, model


def gap_table(
    task: ActionDetTask, pool: list, args: argparse.Namespace, m_init: dict, m_full: dict
) -> str:
    """Initial-vs-100 % v-mAP@0.5 and accuracy over several training seeds, with the mean."""
    every = [FrameRef(v.id, f) for v in pool for f in range(v.num_frames)]
    runs = [(args.seed, m_init, m_full)]
    for seed in range(args.seed + 1, args.seed + args.gap_seeds):
        init = initial_selection(pool, args.init_pct, phase_rng(seed, 0, "init"))
        mi, *_ = train_and_evaluate(task, list(init.frames), seed)
        mf, *_ = train_and_evaluate(task, every, seed)
        runs.append((seed, mi, mf))
    rows, gaps = [], []
    for seed, mi, mf in runs:
        gap = 100 * (mf["v-mAP@0.5"] - mi["v-mAP@0.5"])
        gaps.append(gap)
        rows.append(
            [
                str(seed),
                f"{100 * mi['v-mAP@0.5']:.1f}",
                f"{100 * mf['v-mAP@0.5']:.1f}",
                f"{gap:+.1f}",
                f"{100 * mi['accuracy']:.1f}",
                f"{100 * mf['accuracy']:.1f}",
            ]
        )

    def mean(key: str, which: int) -> float:
        return float(np.mean([100 * run[which][key] for run in runs]))

    rows.append(
        [
            "mean",
            f"{mean('v-mAP@0.5', 1):.1f}",
            f"{mean('v-mAP@0.5', 2):.1f}",
            f"{np.mean(gaps):+.1f}",
            f"{mean('accuracy', 1):.1f}",
            f"{mean('accuracy', 2):.1f}",
        ]
    )
    headers = [
        "seed",
        f"v-mAP@0.5 {args.init_pct:g} %",
        "v-mAP@0.5 100 %",
        "gap",
        f"accuracy {args.init_pct:g} %",
        "accuracy 100 %",
    ]
    return markdown_table(headers, rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default="data/synthetic_actions")
    ap.add_argument("--iterations", type=int, default=None)
    ap.add_argument("--init-pct", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-full", action="store_true", help="skip the 100 %% labels run")
    ap.add_argument(
        "--gap-seeds",
        type=int,
        default=1,
        help="also train both label sets with seeds seed+1 .. seed+N-1 and tabulate the gap "
        "(training is noisy at this budget: one seed says little)",
    )
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    overrides = {"data_root": args.data_root}
    if args.iterations:
        overrides["iterations"] = args.iterations
    t0 = time.perf_counter()
    task = ActionDetTask(ActionDetParams(**overrides))
    t_data = time.perf_counter() - t0
    pool = task.pool()
    total = sum(v.num_frames for v in pool)
    init = initial_selection(pool, args.init_pct, phase_rng(args.seed, 0, "init"))
    m_init, t_train, t_eval, model = train_and_evaluate(task, list(init.frames), args.seed)

    t0 = time.perf_counter()
    # the loop's scoring phase: each video predicted alone and reduced by apu (eq. 1)
    stats = score_pool(
        task,
        default_plugin_manager().build("scorer", "apu", {}),
        model,
        pool,
        list(range(len(pool))),
        lambda i: (phase_rng(args.seed, 0, "predict", i), phase_rng(args.seed, 0, "stats", i)),
    )
    assert stats is not None and len(stats) == len(pool)
    scored = sum(st.num_frames for st in stats.values())
    t_score = time.perf_counter() - t0
    rows = [
        ["data (load or generate)", f"{t_data:.1f}"],
        [f"train ({task.params.iterations} it, batch {task.params.batch_size})", f"{t_train:.1f}"],
        [f"evaluate ({len(task._test)} test videos)", f"{t_eval:.1f}"],
        [
            f"score pool ({len(pool)} videos, {scored} frames, T={task.params.mc_trials})",
            f"{t_score:.1f}",
        ],
        ["one cycle (train + score + evaluate)", f"{t_train + t_eval + t_score:.1f}"],
        ["peak RSS (MiB)", f"{peak_rss_mb():.0f}"],
    ]
    table1 = markdown_table(["step", "seconds"], rows)
    print(table1)
    keys = ["f-mAP@0.5", "v-mAP@0.5", "f-mAP@0.2", "v-mAP@0.2", "accuracy"]
    lrows = [
        [
            f"initial {args.init_pct:g} % ({len(init)} frames)",
            *(f"{100 * m_init[k]:.1f}" for k in keys),
        ]
    ]
    if not args.skip_full:
        every = [FrameRef(v.id, f) for v in pool for f in range(v.num_frames)]
        m_full, *_ = train_and_evaluate(task, every, args.seed)
        lrows.append([f"100 % ({total} frames)", *(f"{100 * m_full[k]:.1f}" for k in keys)])
    table2 = markdown_table(["labels", *keys], lrows)
    print()
    print(table2)
    if args.gap_seeds > 1 and not args.skip_full:
        table2 += "\n\n" + gap_table(task, pool, args, m_init, m_full)
        print()
        print(table2.rsplit("\n\n", 1)[1])
    if args.record:
        record(
            "action_det: one cycle on the synthetic default",
            table1 + "\n\n" + table2,
            f"Same training budget ({task.params.iterations} iterations) for both label sets; "
            "metrics in percent (VCN-style, specs §B.5).",
        )


if __name__ == "__main__":
    main()
