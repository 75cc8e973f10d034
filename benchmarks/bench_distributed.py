"""Distributed scoring: the scoring phase of ``action_det`` with 1 and 2 torchrun processes.

Each configuration runs ``torchrun --standalone --nproc_per_node N`` on this script in worker
mode: every rank joins the gloo group (:func:`asl_core.distributed.init_from_env`), builds the
task on the embedded synthetic dataset and one untrained model (scoring cost does not depend on
the weights; the same seed on every rank), and runs the loop's scoring phase,
:func:`asl_core.scoring.score_pool` with the ``apu`` scorer: the pool is sharded by frame
count, each video scored with its own generators, and the statistics gathered on rank 0. Rank
0 reports the wall time of that call and the statistics, which must be bit-identical for every
N at the same threads per process (the point of the benchmark: correctness, and that it runs;
on a 2-core machine little gain is expected). With different thread counts, torch's float
reductions run in another order and the statistics differ in the last bits; the table shows
the largest difference from the first configuration.

    python benchmarks/bench_distributed.py [--quick] [--procs 1 2] [--record]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, machine, markdown_table, record


def _worker(args: argparse.Namespace) -> None:
    import torch

    from asl_core.distributed import init_from_env, shutdown
    from asl_core.loop import phase_rng
    from asl_core.plugins import default_plugin_manager
    from asl_core.scoring import score_pool

    ctx = init_from_env()
    torch.set_num_threads(args.threads)
    manager = default_plugin_manager()
    task = manager.build("task", "action_det", {"mc_trials": args.mc_trials})
    scorer = manager.build("scorer", "apu", {})
    pool = list(task.pool())[: args.videos or None]
    model = task.build_model(np.random.default_rng(0))
    ctx.barrier()
    t0 = time.perf_counter()
    stats = score_pool(
        task,
        scorer,
        model,
        pool,
        list(range(len(pool))),
        lambda i: (phase_rng(0, 1, "predict", i), phase_rng(0, 1, "stats", i)),
        dist=ctx,
    )
    ctx.barrier()
    seconds = time.perf_counter() - t0
    if ctx.is_main:
        assert stats is not None
        h = hashlib.sha256()
        arrays = {}
        for i in sorted(stats):
            for name in sorted(stats[i].values):
                arr = np.ascontiguousarray(stats[i].values[name])
                h.update(arr.tobytes())
                arrays[f"{i}_{name}"] = arr
        np.savez(args.out + ".npz", **arrays)
        Path(args.out).write_text(
            json.dumps(
                {
                    "seconds": seconds,
                    "digest": h.hexdigest()[:16],
                    "videos": len(pool),
                    "frames": sum(v.num_frames for v in pool),
                }
            )
        )
    shutdown()


def _launch(procs: int, args: argparse.Namespace, out: Path) -> dict:
    threads = max(1, (os.cpu_count() or 1) // procs) if args.threads == 0 else args.threads
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        "--nproc_per_node", str(procs), __file__, "--worker", "--out", str(out),
        "--threads", str(threads), "--videos", str(args.videos),
        "--mc-trials", str(args.mc_trials),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    total = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"torchrun with {procs} processes failed:\n{proc.stderr[-4000:]}")
    result = json.loads(out.read_text())
    with np.load(str(out) + ".npz") as data:
        arrays = {k: data[k] for k in data.files}
    result.update(threads=threads, total=total, arrays=arrays)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="40 pool videos instead of all 200")
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 2], help="process counts")
    ap.add_argument("--videos", type=int, default=None, help="score the first N pool videos")
    ap.add_argument("--mc-trials", type=int, default=10, help="MC dropout trials T")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads per process (0: CPUs / processes; bit-identical statistics need "
        "the same count for every configuration)",
    )
    ap.add_argument("--record", action="store_true", help="append the table to the docs")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.videos is None:
        args.videos = 40 if args.quick else 0
    if args.worker:
        _worker(args)
        return
    # make sure the synthetic dataset exists before several ranks would race to generate it
    from asl_core.plugins import default_plugin_manager

    default_plugin_manager().build("task", "action_det", {})
    rows, first, digests = [], None, set()
    with tempfile.TemporaryDirectory() as tmp:
        for procs in args.procs:
            r = _launch(procs, args, Path(tmp) / f"r{procs}.json")
            first = first or r
            digests.add(r["digest"])
            diff = max(
                float(np.max(np.abs(r["arrays"][k] - first["arrays"][k]), initial=0.0))
                for k in first["arrays"]
            )
            rows.append(
                [
                    procs,
                    r["threads"],
                    f"{r['videos']} / {r['frames']}",
                    f"{r['seconds']:.1f}",
                    f"{first['seconds'] / r['seconds']:.2f}",
                    f"{r['total']:.1f}",
                    r["digest"],
                    f"{diff:.1e}",
                ]
            )
    table = markdown_table(
        [
            "processes",
            "threads each",
            "videos / frames",
            "scoring wall s",
            "speed-up",
            "torchrun total s",
            "stats digest",
            "max diff vs first",
        ],
        rows,
    )
    same = len(digests) == 1
    print(table)
    print(f"statistics identical for every process count: {same}")
    print(f"machine: {machine()}")
    if args.record:
        record(
            "Distributed scoring (action_det, apu, gloo)",
            table,
            f"Statistics identical for every process count: {same}. Scoring wall time is "
            "rank 0's, from a barrier before the scoring call to one after the gather; the "
            "torchrun total adds process start, imports and the dataset load of every rank.",
        )
    if not same and len({r[1] for r in rows}) == 1:
        raise SystemExit("the statistics differ between process counts at equal threads")


if __name__ == "__main__":
    main()
