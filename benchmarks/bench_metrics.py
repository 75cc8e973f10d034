"""Time of the detection metrics at UCF-101-24 scale (issue 9, benchmark 4).

Ground truth: the real corrected UCF-101-24 annotations (``../shared/data/ucf101-24``:
``trainAnnot.mat`` + ``testAnnot.mat``, 910 test videos). Detections are made up from it with a
fixed seed: every GT box jittered by a few pixels (score high) plus ``--false-per-frame`` random
boxes of random classes per frame (score low) for frame-AP; every GT tube jittered plus one
wrong-class copy per video for video-AP. Times :func:`asl_action_det.act_eval.frame_ap` and
:func:`~asl_action_det.act_eval.video_ap` (preset ``act``, IoU 0.5 and the 0.5:0.95 range), and
the VideoCapsuleNet-style f-mAP / v-mAP of :class:`asl_action_det.metrics.LocalizationMetric`
fed per-frame intersection / union counts of the same size (no masks are needed for its
timing: it consumes counts).

    python benchmarks/bench_metrics.py [--quick] [--record]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import attrs
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, markdown_table, record


def _shared() -> Path:
    for candidate in (ROOT.parent / "shared" / "data", Path("/work/shared/data")):
        if (candidate / "ucf101-24" / "testAnnot.mat").is_file():
            return candidate / "ucf101-24"
    raise SystemExit("the UCF-101-24 annotations (../shared/data/ucf101-24) are not here")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="every 10th test video only")
    ap.add_argument("--false-per-frame", type=int, default=2, help="random boxes per frame (2)")
    ap.add_argument("--record", action="store_true", help="append the table to docs/benchmarks.md")
    args = ap.parse_args()

    from asl_action_det.act_eval import frame_ap, video_ap
    from asl_action_det.annotations import assemble_ground_truth
    from asl_action_det.metrics import LocalizationMetric
    from asl_action_det.ucf101 import load_ucf_annotations

    data = _shared()
    start = time.perf_counter()
    gt = assemble_ground_truth(
        load_ucf_annotations(data / "trainAnnot.mat"), load_ucf_annotations(data / "testAnnot.mat")
    )
    load_s = time.perf_counter() - start
    test = list(gt.test_videos[0])
    if args.quick:
        test = test[::10]
        gt = attrs.evolve(gt, test_videos=(tuple(test),))
    rng = np.random.default_rng(0)
    num_classes = len(gt.labels)
    rows, video_dets = [], {c: [] for c in range(num_classes)}
    frames_total = 0
    for vi, video in enumerate(test):
        h, w = gt.resolution[video]
        n = gt.nframes[video]
        frames_total += n
        for tube in gt.tubes[video]:
            jitter = rng.normal(0.0, 3.0, size=tube.boxes.shape)
            boxes = tube.boxes + jitter
            score = rng.uniform(0.5, 1.0, size=len(boxes))
            for f, b, s in zip(tube.frames, boxes, score, strict=True):
                rows.append([vi, f + 1, tube.label, s, *b])
            tube_rows = np.column_stack([tube.frames + 1, boxes])
            video_dets[tube.label].append((video, float(score.mean()), tube_rows))
            wrong = (tube.label + 1) % num_classes
            video_dets[wrong].append((video, float(score.mean()) * 0.5, tube_rows))
        k = args.false_per_frame
        if k:
            f = np.repeat(np.arange(1, n + 1), k)
            x1 = rng.uniform(0, w - 20, size=f.size)
            y1 = rng.uniform(0, h - 20, size=f.size)
            rows.extend(
                np.column_stack(
                    [
                        np.full(f.size, vi),
                        f,
                        rng.integers(num_classes, size=f.size),
                        rng.uniform(0.0, 0.5, size=f.size),
                        x1,
                        y1,
                        x1 + rng.uniform(10, 60, size=f.size),
                        y1 + rng.uniform(10, 60, size=f.size),
                    ]
                ).tolist()
            )
    dets = np.asarray(rows, dtype=np.float64)

    def timed(fn):
        t = time.perf_counter()
        out = fn()
        return time.perf_counter() - t, out

    fa_s, fa = timed(lambda: frame_ap(gt, dets, (0.5, "0.5:0.95")))
    va_s, va = timed(lambda: video_ap(gt, video_dets, (0.5, "0.5:0.95")))

    metric = LocalizationMetric(num_classes)
    vm_start = time.perf_counter()
    for video in test:
        n = gt.nframes[video]
        has_gt = np.zeros(n, dtype=bool)
        for tube in gt.tubes[video]:
            has_gt[tube.frames] = True
        union = rng.integers(200, 2000, size=n)
        inter = (union * rng.uniform(0.0, 1.0, size=n)).astype(np.int64)
        label = gt.tubes[video][0].label if gt.tubes[video] else 0
        metric.update_frames(video, label, inter, union, has_gt)
        metric.end_video(video, label)
    vcn = metric.compute()
    vm_s = time.perf_counter() - vm_start

    table = markdown_table(
        ["metric", "input", "seconds", "mAP@0.5"],
        [
            [
                "load GT (trainAnnot + testAnnot .mat)",
                f"{len(gt.nframes):,} videos",
                f"{load_s:.2f}",
                "-",
            ],
            [
                "frame-AP (act, 0.5 and 0.5:0.95)",
                f"{len(dets):,} detections, {frames_total:,} frames",
                f"{fa_s:.2f}",
                f"{fa['0.5']['mAP']:.3f}",
            ],
            [
                "video-AP (act, 0.5 and 0.5:0.95)",
                f"{sum(map(len, video_dets.values())):,} tubes, {len(test)} videos",
                f"{va_s:.2f}",
                f"{va['0.5']['mAP']:.3f}",
            ],
            [
                "f-mAP / v-mAP (VCN-style, all thresholds)",
                f"{frames_total:,} frames' counts",
                f"{vm_s:.2f}",
                f"{vcn.get('f-mAP@0.5', float('nan')):.3f}",
            ],
        ],
    )
    print(table)
    if args.record:
        record(
            "Detection metrics at UCF-101-24 scale" + (" (--quick)" if args.quick else ""),
            table,
            "Made-up detections over the real test annotations (GT boxes jittered by N(0, 3) px "
            "plus random false boxes; tubes jittered plus a wrong-class copy), seed 0. The mAP "
            "column only shows the evaluation ran on meaningful input.",
        )


if __name__ == "__main__":
    main()
