"""Pseudo-label quality on the real UCF-101-24 trajectories: mean IoU of interpolated boxes.

The corrected ``trainAnnot.mat`` in ``../shared/data/ucf101-24`` holds the true boxes of every
frame of the 2,284 training videos (395,868 frames), so no video and no model are needed to ask
how much of the actors' real motion a strategy's labelled frames capture. For each strategy that
needs no model -- ``random``, ``equidistant`` and ``apu`` with a constant uncertainty U (so its
distance term D of eq. 2 alone decides) -- with the ``global`` and the ``local`` selector, and for
budgets of 1 %, 5 % and 10 % of the pool's frames:

1. **Initial labels**: one random frame per video (``asl_core.budget.initial_selection`` with
   ``init_pct = 0``, whose floor is one frame, drawn from ``phase_rng(seed, 0, "init")``). Every
   strategy of a seed starts from these same frames. Without them a video that receives no
   selected frame would have no pseudo-label at all, and the numbers would mostly count which
   videos got a frame; the toolkit itself never starts a video with zero labels.
2. **Selection**: the budget is picked in one selection on top of the initial labels, exactly as
   the loop does it: the real scorer plugins (``RandomScorer.frame_stats`` with
   ``phase_rng(seed, 0, "stats", video position)``; ``EquidistantScorer``; ``ApuScorer`` with
   ``FrameStats.of(video, F, u=zeros)`` and its ``prepare_pool``) and ``global_select`` /
   ``local_select``. Without a model the scores depend only on the labels, so for ``global``
   with ``equidistant`` or ``apu`` one selection of b frames is exactly what cycles adding up
   to b would pick (``random``: the same distribution; ``local``: up to how each cycle's
   remainder ``b mod N`` is handed out).
3. **Pseudo-labels**: ``asl_action_det.pseudo.pseudo_boxes`` from the labelled frames' true
   boxes, as ``ActionDetTask`` builds its training targets; a labelled frame without an actor is
   a labelled frame with no region.
4. **Metric** (``asl_action_det.pseudo_quality``): per unlabelled frame, the IoU of each track's
   pseudo-box with its true box (tracks matched by id; a box on one side only counts 0), averaged
   over the tracks present on either side; frames with no actor on either side are left out.
   Means are pooled over all counted frames of the pool: plain, and weighted by the MGW weights
   of eq. 4 (``MGWLoss().frame_weights``, sigma = 1.3), i.e. as the training loss weighs them.

Cells are mean ± sample std (ddof = 1) over the seeds.

    python benchmarks/bench_pseudo_labels.py            # full pool, 3 seeds (~75 s, 1 CPU)
    python benchmarks/bench_pseudo_labels.py --quick    # every 10th video
    python benchmarks/bench_pseudo_labels.py --record   # append the tables to docs/results.md
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, SHARED, markdown_table, record
from asl_action_det.pseudo import pseudo_boxes
from asl_action_det.pseudo_quality import frame_iou, pooled_iou
from asl_strategies.losses.mgw import MGWLoss
from asl_strategies.scorers.apu import ApuScorer
from asl_strategies.scorers.equidistant import EquidistantScorer
from asl_strategies.scorers.random import RandomScorer
from asl_strategies.selectors.global_greedy import global_select
from asl_strategies.selectors.local import local_select

from asl_core import FrameStats, LabelState, Scorer, Selection, VideoInfo
from asl_core.budget import initial_selection, round_half_up
from asl_core.loop import phase_rng

TRAIN_ANNOT = SHARED / "data" / "ucf101-24" / "trainAnnot.mat"
RESULTS_MD = ROOT / "docs" / "results.md"
BUDGETS_PCT = (1.0, 5.0, 10.0)
SCORERS = ("random", "equidistant", "apu")
BASELINE = "none (initial labels only)"
SELECTORS: dict[str, Callable[..., Selection]] = {"global": global_select, "local": local_select}


@dataclass(frozen=True)
class TrueVideo:
    """One video's true actors, in the toolkit's box convention.

    Attributes:
        info: id and frame count.
        track_ids: ``int64[T]``, the tube positions in the annotation file.
        categories: ``int64[T]``, 0-based classes.
        boxes: ``float64[T, F, 4]`` ``(x1, y1, x2, y2)`` with ``x2 = x + w`` (last pixel + 1);
            NaN on frames outside the tube.
    """

    info: VideoInfo
    track_ids: np.ndarray
    categories: np.ndarray
    boxes: np.ndarray

    def regions(self, frames: np.ndarray) -> dict[int, list[tuple[int, int, tuple]]]:
        """What an annotator returns for ``frames``: every true actor on each, no region on a
        frame without one."""
        shown = ~np.isnan(self.boxes[:, frames, 0])  # [T, n]
        return {
            int(f): [
                (int(self.track_ids[t]), int(self.categories[t]), tuple(self.boxes[t, f]))
                for t in np.flatnonzero(shown[:, i])
            ]
            for i, f in enumerate(frames)
        }


def load_ucf_train(path: Path = TRAIN_ANNOT) -> list[TrueVideo]:
    """Read ``trainAnnot.mat`` (reference specs §A.3): ``sf``/``ef`` 1-based inclusive, boxes
    ``x y w h`` (uint8 or uint16, so cast before adding), class 1-based."""
    import scipy.io as sio

    annot = sio.loadmat(path)["annot"][0]
    videos = []
    for entry in annot:
        num_frames = int(np.asarray(entry["num_imgs"]).ravel()[0])
        name = str(np.asarray(entry["name"]).ravel()[0])
        rows = list(np.asarray(entry["tubes"]).ravel())  # struct records ef, sf, class, boxes
        boxes = np.full((len(rows), num_frames, 4), np.nan)
        cats = np.zeros(len(rows), dtype=np.int64)
        for k, tube in enumerate(rows):
            sf = int(np.asarray(tube["sf"]).ravel()[0])
            ef = int(np.asarray(tube["ef"]).ravel()[0])
            xywh = np.asarray(tube["boxes"]).astype(np.float64)
            if xywh.shape != (ef - sf + 1, 4) or not 1 <= sf <= ef <= num_frames:
                raise ValueError(f"{name}: tube {k} frames {sf}..{ef} / boxes {xywh.shape}")
            boxes[k, sf - 1 : ef, :2] = xywh[:, :2]
            boxes[k, sf - 1 : ef, 2:] = xywh[:, :2] + xywh[:, 2:]
            cats[k] = int(np.asarray(tube["class"]).ravel()[0]) - 1
        videos.append(TrueVideo(VideoInfo(name, num_frames), np.arange(len(rows)), cats, boxes))
    return videos


def make_stats(
    scorer_name: str, pool: Sequence[VideoInfo], seed: int
) -> tuple[Scorer, dict[str, FrameStats]]:
    """The scorer plugin and the pool's stats, made as the loop makes them for cycle 0."""
    if scorer_name == "random":
        scorer: Scorer = RandomScorer()
        stats = {
            v.id: scorer.frame_stats(v, {}, phase_rng(seed, 0, "stats", i))
            for i, v in enumerate(pool)
        }
    elif scorer_name == "equidistant":
        scorer = EquidistantScorer()
        stats = {v.id: FrameStats(v.id, v.num_frames) for v in pool}
    elif scorer_name == "apu":
        scorer = ApuScorer()
        # constant U: prepare_pool maps it to U_hat = 0, so eq. 3 is (1 - lambda) * D
        raw = {v.id: FrameStats.of(v.id, v.num_frames, u=np.zeros(v.num_frames)) for v in pool}
        stats = dict(scorer.prepare_pool(raw))
    else:
        raise ValueError(f"unknown scorer {scorer_name!r}")
    return scorer, stats


def labelled_after(labels: LabelState, selection: Selection, pool: Sequence[VideoInfo]) -> dict:
    """``{video: int64[n]}`` sorted labelled frames: the initial labels plus the selection."""
    extra: dict[str, list[int]] = {v.id: [] for v in pool}
    for ref in selection.frames:
        extra[ref.video].append(ref.frame)
    return {
        v.id: np.union1d(labels.labelled(v.id), np.asarray(extra[v.id], dtype=np.int64))
        for v in pool
    }


def quality(
    videos: Sequence[TrueVideo], labelled: Mapping[str, np.ndarray]
) -> tuple[float, float, int]:
    """``(plain, mgw, frames)``: pooled IoU of the pseudo-labels on unlabelled frames."""
    mgw = MGWLoss()
    ious, labs, weights = [], [], []
    for v in videos:
        lab = labelled[v.info.id]
        pseudo = pseudo_boxes(v.info.num_frames, lab, v.regions(lab))
        ious.append(frame_iou(pseudo, v.track_ids, v.boxes))
        labs.append(lab)
        weights.append(mgw.frame_weights(v.info.num_frames, lab))
    return pooled_iou(ious, labs, weights)


def cell(values: Sequence[float]) -> str:
    """``mean ± std`` over seeds (sample std), 3 decimals."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size < 2:
        return f"{arr.mean():.3f}"
    return f"{arr.mean():.3f} ± {arr.std(ddof=1):.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="every 10th video only")
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1 (default 3)")
    ap.add_argument("--record", action="store_true", help="append the tables to docs/results.md")
    args = ap.parse_args()

    t0 = time.perf_counter()
    videos = load_ucf_train()
    if args.quick:
        videos = videos[::10]  # the file is sorted by class, so a stride keeps every class
    pool = [v.info for v in videos]
    total = sum(v.num_frames for v in pool)
    budgets = [round_half_up(total * pct / 100.0) for pct in BUDGETS_PCT]

    # (strategy, selector) -> budget index -> [per seed (plain, mgw, frames, videos reached)]
    results: dict[tuple[str, str], list[list[tuple]]] = {}
    for seed in range(args.seeds):
        init = initial_selection(pool, 0.0, phase_rng(seed, 0, "init"))
        labels = LabelState.from_frames(init.frames)
        base = {v.id: labels.labelled(v.id) for v in pool}
        # the reference row: what the initial frames alone give, the same for every budget
        q = quality(videos, base)
        for row in results.setdefault((BASELINE, "-"), [[] for _ in budgets]):
            row.append((*q, 0))
        for scorer_name in SCORERS:
            scorer, stats = make_stats(scorer_name, pool, seed)
            for sel_name, select in SELECTORS.items():
                rows = results.setdefault((scorer_name, sel_name), [[] for _ in budgets])
                for b, budget in enumerate(budgets):
                    selection = select(stats, labels, budget, scorer)
                    if len(selection.frames) != budget:
                        raise SystemExit(f"{scorer_name}/{sel_name} picked a wrong count")
                    reached = len({ref.video for ref in selection.frames})
                    rows[b].append(
                        (*quality(videos, labelled_after(labels, selection, pool)), reached)
                    )
        print(f"seed {seed} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

    pct = [f"{p:g} %" for p in BUDGETS_PCT]
    iou_headers = ["strategy", "selector"] + [f"{p} {m}" for p in pct for m in ("IoU", "MGW IoU")]
    iou_rows, reach_rows = [], []
    for (scorer_name, sel_name), per_budget in results.items():
        cells = []
        for runs in per_budget:
            cells += [cell([r[0] for r in runs]), cell([r[1] for r in runs])]
        if scorer_name == BASELINE:
            cells = cells[:2] + [""] * (len(cells) - 2)
        iou_rows.append([scorer_name, sel_name, *cells])
        if sel_name != "-":
            reach_rows.append(
                [scorer_name, sel_name]
                + [f"{np.mean([r[3] for r in runs]):,.0f}" for runs in per_budget]
            )
    iou_table = markdown_table(iou_headers, iou_rows)
    reach_table = markdown_table(["strategy", "selector", *pct], reach_rows)
    elapsed = time.perf_counter() - t0
    print(iou_table)
    print()
    print(reach_table)
    print(f"\n{len(pool):,} videos, {total:,} frames, {args.seeds} seeds, {elapsed:.0f} s")
    if args.record:
        notes = (
            f"Pool: {len(pool):,} videos / {total:,} frames of UCF-101-24 train "
            f"(trainAnnot.mat); budgets {', '.join(f'{b:,}' for b in budgets)} frames on top "
            f"of 1 random initial frame per video; {args.seeds} seeds, mean ± sample std; "
            f"{elapsed:.0f} s. First row: the initial frames alone, no selection (its cells are "
            "under 1 % but hold for no budget). Second table: videos "
            f"(of {len(pool):,}) that received at least one selected frame, mean over seeds."
        )
        record(
            "Pseudo-label quality on UCF-101-24 trajectories",
            iou_table + "\n\n" + reach_table,
            notes,
            path=RESULTS_MD,
        )


if __name__ == "__main__":
    main()
