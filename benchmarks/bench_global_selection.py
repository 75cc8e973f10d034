"""Global greedy selection: heap version vs the naive re-score-everything loop.

The pool is UCF-101-24's training split as it really is (2,284 videos, 395,868 frames, read
from the corrected ``trainAnnot.mat`` in ``../shared/data``), with 1 % initial labels per video.
Two scorers whose scores change after every pick: ``equidistant`` and ``apu`` (eq. 2-3,
lambda = 0.5, sigma = 1.3) on a random per-frame uncertainty U (eq. 1 needs a model; here U is
uniform in [0, 1), normalised over the pool by the scorer's own ``prepare_pool``).

The naive loop re-scores every video after every pick, which at this scale takes minutes, so it
runs a prefix of the budget (``--naive-picks``) and its per-pick time is extrapolated; the first
``--naive-picks`` frames of both versions are compared for exact equality, and ``--quick``
also compares complete selections on a smaller pool.

    python benchmarks/bench_global_selection.py            # full size
    python benchmarks/bench_global_selection.py --quick    # seconds
    python benchmarks/bench_global_selection.py --record   # append the table to docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED, best_of, markdown_table, record
from asl_strategies.scorers.apu import ApuScorer
from asl_strategies.scorers.equidistant import EquidistantScorer
from asl_strategies.selectors.global_greedy import global_select, naive_global_select

from asl_core import FrameStats, LabelState, VideoInfo
from asl_core.budget import initial_selection
from asl_core.loop import phase_rng

TRAIN_ANNOT = SHARED / "data" / "ucf101-24" / "trainAnnot.mat"


def ucf_lengths() -> np.ndarray:
    """Frame counts of the 2,284 UCF-101-24 training videos."""
    import scipy.io as sio

    annot = sio.loadmat(TRAIN_ANNOT)["annot"][0]
    return np.array([int(np.asarray(a).ravel()[0]) for a in annot["num_imgs"]])


def make_case(lengths: np.ndarray, scorer_name: str, seed: int = 0):
    pool = [VideoInfo(f"v{i:05d}", int(n)) for i, n in enumerate(lengths)]
    init = initial_selection(pool, 1.0, phase_rng(seed, 0, "init"))
    labels = LabelState.from_frames(init.frames)
    if scorer_name == "equidistant":
        scorer = EquidistantScorer()
        stats = {v.id: FrameStats(v.id, v.num_frames) for v in pool}
    else:
        scorer = ApuScorer()
        rng = np.random.default_rng(seed)
        stats = {v.id: FrameStats.of(v.id, v.num_frames, u=rng.random(v.num_frames)) for v in pool}
        stats = dict(scorer.prepare_pool(stats))
    return pool, labels, scorer, stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller budgets and prefixes")
    ap.add_argument("--naive-picks", type=int, default=None, help="picks timed for the naive loop")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--record", action="store_true", help="append the table to docs/benchmarks.md")
    args = ap.parse_args()
    naive_picks = args.naive_picks or (5 if args.quick else 20)

    lengths = ucf_lengths()
    total = int(lengths.sum())
    budgets = [("1 %", round(total * 0.01))] + (
        [] if args.quick else [("5 %", round(total * 0.05))]
    )
    rows = []
    for scorer_name in ("equidistant", "apu"):
        pool, labels, scorer, stats = make_case(lengths, scorer_name)
        for label, budget in budgets:
            t_heap, sel = best_of(
                functools.partial(global_select, stats, labels, budget, scorer), args.repeat
            )
            t_naive, prefix = best_of(
                functools.partial(naive_global_select, stats, labels, naive_picks, scorer), 1
            )
            same = sel.frames[:naive_picks] == prefix.frames
            naive_full = t_naive / naive_picks * budget
            rows.append(
                [
                    scorer_name,
                    f"{len(pool):,} / {total:,}",
                    f"{label} ({budget:,})",
                    f"{t_heap:.3f}",
                    f"{naive_full:,.0f} (from {naive_picks} picks)",
                    f"{naive_full / t_heap:,.0f}x",
                    "yes" if same else "NO",
                ]
            )
    # complete equality on a smaller pool, where the naive loop finishes
    small = lengths[:150]
    for scorer_name in ("equidistant", "apu"):
        pool, labels, scorer, stats = make_case(small, scorer_name)
        budget = round(int(small.sum()) * 0.02)
        t_heap, sel = best_of(
            functools.partial(global_select, stats, labels, budget, scorer), args.repeat
        )
        t_naive, ref = best_of(
            functools.partial(naive_global_select, stats, labels, budget, scorer), 1
        )
        rows.append(
            [
                scorer_name,
                f"{len(pool):,} / {int(small.sum()):,}",
                f"2 % ({budget:,})",
                f"{t_heap:.3f}",
                f"{t_naive:.2f} (complete)",
                f"{t_naive / t_heap:,.0f}x",
                "yes" if sel == ref else "NO",
            ]
        )
    headers = ["scorer", "videos / frames", "budget", "heap s", "naive s", "speed-up", "identical"]
    table = markdown_table(headers, rows)
    print(table)
    if any(r[-1] != "yes" for r in rows):
        raise SystemExit("heap and naive selections differ")
    if args.record:
        record(
            "Global greedy selection (heap vs naive)",
            table,
            "Pool: UCF-101-24 train split lengths from trainAnnot.mat, 1 % random initial labels. "
            "'identical' compares the first picks (full pool) or the complete selection (150 videos).",
        )


if __name__ == "__main__":
    main()
