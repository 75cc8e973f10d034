"""Does the ``vos`` task learn from its labels? J&F at the initial labels vs at 100 %.

Trains the default ``vos`` model (synthetic data in ``data/synthetic_vos``, generated if
missing) once on ``--init-pct`` % random frames of each pool video and once on every frame, with
the same training budget, and evaluates both on the held-out videos; also scores the
"copy the first mask" baseline (each object's given mask repeated on every later frame), the
floor a propagation model must beat. ``--static-fraction`` compares with and without the
static (affine-warp) samples. Results go to docs/results.md with ``--record``.

    python benchmarks/bench_vos_learning.py [--iterations N] [--static-fraction F ...] [--record]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, markdown_table, record

RESULTS = ROOT / "docs" / "results.md"


def copy_baseline(task) -> dict[str, float]:
    """J&F when every object's given (first) mask is repeated on all its later frames."""
    from asl_vos.metrics import ObjectScore, score_video, summarize

    per = {}
    for vid in task._eval_ids:
        gt = np.asarray(task.eval_data.read_masks(vid))
        video = task.eval_data.video(vid)
        objects = [o for o in video.objects if (gt == o.id).any()]
        first = {o.id: int(np.argmax((gt == o.id).any(axis=(1, 2)))) for o in objects}
        pred = np.zeros_like(gt)
        for o in objects:
            mask = gt[first[o.id]] == o.id
            pred[first[o.id] :, mask] = o.id
        scores = score_video(gt, pred, first)
        for o in objects:
            per[f"{vid}/{o.id}"] = ObjectScore.from_frames(
                *scores[o.id], seen=o.category not in task.unseen, category=o.category
            )
    s = summarize(per)
    return {"J&F": s["J&F"], "J&F-seen": s["seen"]["J&F"], "J&F-unseen": s["unseen"]["J&F"]}


def train_and_evaluate(task, pct: float, seed: int) -> tuple[dict[str, float], float, int]:
    from asl_core import FrameAnnotation, FrameRef, LabelState, NullProgress
    from asl_core.budget import initial_selection
    from asl_core.plugins import default_plugin_manager

    rng = np.random.default_rng(seed)
    pool = task.pool()
    if pct >= 100:
        frames = [FrameRef(v.id, f) for v in pool for f in range(v.num_frames)]
    else:
        frames = list(initial_selection(pool, pct, np.random.default_rng(seed)).frames)
    truths = task.ground_truth(frames)
    anns = {
        r: FrameAnnotation(r.video, r.frame, g, oracle="simulated")
        for r, g in zip(frames, truths, strict=True)
    }
    loss = default_plugin_manager().build("loss", "mgw", {"sigma": 1.3})
    start = time.perf_counter()
    model = task.train(
        task.build_model(np.random.default_rng(seed)),
        LabelState.from_frames(frames),
        anns,
        loss,
        rng,
        NullProgress(),
    )
    seconds = time.perf_counter() - start
    return dict(task.evaluate(model, rng, NullProgress())), seconds, len(frames)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=600, help="training steps (default 600)")
    ap.add_argument("--init-pct", type=float, default=5.0, help="initial labels, %% (default 5)")
    ap.add_argument(
        "--static-fraction", type=float, nargs="+", default=[0.5], help="values to compare"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--record", action="store_true", help="append the table to docs/results.md")
    args = ap.parse_args()

    import torch
    from asl_vos.task import VosParams, VosTask

    from asl_core import parse_params

    torch.set_num_threads(args.threads)
    rows = []
    base = None
    for fraction in args.static_fraction:
        params = {
            "data_root": str(ROOT / "data" / "synthetic_vos"),
            "iterations": args.iterations,
            "static_fraction": fraction,
        }
        task = VosTask(parse_params(VosParams, params, where="task"))
        if base is None:
            base = copy_baseline(task)
            rows.append(
                ["copy the first mask", "-", "-", "-", *(f"{base[k]:.3f}" for k in base), "-"]
            )
        for pct in (args.init_pct, 100.0):
            metrics, seconds, n = train_and_evaluate(task, pct, args.seed)
            rows.append(
                [
                    f"trained on {pct:g} %",
                    f"{fraction:g}",
                    str(args.iterations),
                    str(n),
                    *(
                        f"{metrics.get(k, float('nan')):.3f}"
                        for k in ("J&F", "J&F-seen", "J&F-unseen")
                    ),
                    f"{seconds:.0f}",
                ]
            )
            print(" | ".join(rows[-1]), flush=True)
    headers = [
        "model",
        "static fraction",
        "steps",
        "labelled frames",
        "J&F",
        "J&F seen",
        "J&F unseen",
        "train s",
    ]
    table = markdown_table(headers, rows)
    print(table)
    if args.record:
        record(
            "vos: J&F at the initial labels vs all labels (synthetic data)",
            table,
            "Same model, training budget and seed; evaluated on the 16 held-out videos (one "
            "unseen category). 'copy the first mask' needs no training.",
            path=RESULTS,
        )


if __name__ == "__main__":
    main()
