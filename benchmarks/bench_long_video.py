"""Peak memory of scoring one very long video with ``action_det`` (issue 9: bounded memory).

Writes an ACT-layout dataset with frame folders (64 x 64 PNG frames; a few distinct frames
hard-linked over and over, so a 10,000-frame video takes seconds and almost no disk) holding one
training video per measured length, then, for each length, in a fresh child process: builds the
``action_det`` task (default parameters: T = 10 MC trials, ``predict_chunk_mb`` = 32) and a
model, and scores that one video with the ``apu`` scorer through
:func:`asl_core.scoring.video_stats`, what the loop's scoring phase runs. The child reports its
wall time for the scoring and its peak resident memory (``VmHWM``, the whole process: Python,
torch, the model and the scoring). Unchunked, the ``mc_probs`` of a 10,000-frame video alone
would be 3.1 GiB (``T x F x 2 x 64 x 64`` float32).

    python benchmarks/bench_long_video.py [--quick] [--record] [--frames N ...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, markdown_table, record

SIZE = 64  # frame height and width
DISTINCT = 16  # distinct frame files per video; the others are hard links to them
GT_FILE = "Long-GT.pkl"
TEST_VIDEO = "long/test_0000"


def video_id(frames: int) -> str:
    return f"long/long_{frames:06d}"


def write_dataset(root: Path, lengths: list[int]) -> None:
    """An ACT-layout dataset: one training video of each length (one actor tube over every
    frame) and a 16-frame test video, frames hard-linked from a few random PNGs."""
    from PIL import Image

    rng = np.random.default_rng(0)
    sources = root / "sources"
    sources.mkdir(parents=True)
    distinct = []
    for i in range(DISTINCT):
        path = sources / f"{i:05d}.png"
        Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(path)
        distinct.append(path)
    nframes = {video_id(n): n for n in lengths}
    nframes[TEST_VIDEO] = DISTINCT
    for vid, n in nframes.items():
        folder = root / "Frames" / vid
        folder.mkdir(parents=True)
        for f in range(n):
            try:
                os.link(distinct[f % DISTINCT], folder / f"{f + 1:05d}.png")
            except OSError:  # a file system without hard links
                shutil.copyfile(distinct[f % DISTINCT], folder / f"{f + 1:05d}.png")
    box = np.asarray([8, 8, 40, 56], dtype=np.float32)
    gt = {
        "labels": ["long", "other"],
        "gttubes": {
            vid: {
                0: [
                    np.hstack(
                        [np.arange(1, n + 1, dtype=np.float32)[:, None], np.tile(box, (n, 1))]
                    )
                ]
            }
            for vid, n in nframes.items()
        },
        "nframes": nframes,
        "train_videos": [[video_id(n) for n in lengths]],
        "test_videos": [[TEST_VIDEO]],
        "resolution": {vid: (SIZE, SIZE) for vid in nframes},
    }
    with open(root / GT_FILE, "wb") as fh:
        pickle.dump(gt, fh, protocol=2)


def _status_mib(field: str) -> float:
    """A memory line of /proc/self/status (``VmRSS``, ``VmHWM``) in MiB; -1 off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return -1.0


def child(root: Path, frames: int) -> None:
    """Score one video and print the measurements as JSON (run in a fresh process)."""
    import resource

    import torch
    from asl_action_det.task import ActionDetParams, ActionDetTask
    from asl_strategies.scorers.apu import ApuScorer

    from asl_core.scoring import video_stats

    task = ActionDetTask(
        ActionDetParams(
            data_root=str(root), gt_file=GT_FILE, synthesize_if_missing=False, device="cpu"
        )
    )
    video = next(v for v in task.pool() if v.id == video_id(frames))
    model = task.build_model(np.random.default_rng(0))
    before = _status_mib("VmRSS")
    t0 = time.perf_counter()
    stats = video_stats(
        task, ApuScorer(), model, video, np.random.default_rng(1), np.random.default_rng(2)
    )
    wall = time.perf_counter() - t0
    assert stats.num_frames == frames and all(np.isfinite(a).all() for a in stats.values.values())
    peak = _status_mib("VmHWM")
    if peak < 0:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    chunk = task.predict_chunk_frames(frames)
    print(
        json.dumps(
            {
                "frames": frames,
                "wall_s": wall,
                "peak_rss_mib": peak,
                "rss_before_mib": before,
                "chunk_frames": chunk,
                "chunks": -(-frames // chunk),
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "mc_trials": task.params.mc_trials,
                "chunk_mb": task.params.predict_chunk_mb,
            }
        )
    )


def measure(root: Path, frames: int) -> dict:
    """Run :func:`child` in a fresh interpreter and return what it measured."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(frames), "--keep", str(root)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100 and 2,000 frames")
    ap.add_argument("--frames", type=int, nargs="+", help="video lengths (default 100 10000)")
    ap.add_argument("--keep", type=Path, help="write (or reuse) the dataset here and keep it")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--record", action="store_true", help="append the table to docs/benchmarks.md")
    args = ap.parse_args()
    if args.child is not None:
        child(args.keep, args.child)
        return
    lengths = sorted(set(args.frames or ([100, 2000] if args.quick else [100, 10000])))
    if min(lengths) < 1:
        raise SystemExit("--frames must be >= 1")
    root = args.keep or Path(tempfile.mkdtemp(prefix="asl-long-video-"))
    try:
        t0 = time.perf_counter()
        if not (root / GT_FILE).is_file():
            write_dataset(root, lengths)
        else:
            with open(root / GT_FILE, "rb") as fh:
                have = pickle.load(fh)["nframes"]  # our own file (--keep), not user input
            if any(video_id(n) not in have for n in lengths):
                raise SystemExit(f"{root} holds another set of lengths: use an empty --keep DIR")
        t_data = time.perf_counter() - t0
        results = [measure(root, n) for n in lengths]
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    base = results[0]["peak_rss_mib"]
    table = markdown_table(
        ["frames", "chunks", "wall s", "RSS before scoring MiB", "peak RSS MiB", "ratio"],
        [
            [
                f"{r['frames']:,}",
                f"{r['chunks']} x {r['chunk_frames']}" if r["chunks"] > 1 else "1 (whole)",
                f"{r['wall_s']:.1f}",
                f"{r['rss_before_mib']:.0f}",
                f"{r['peak_rss_mib']:.0f}",
                f"{r['peak_rss_mib'] / base:.2f}x",
            ]
            for r in results
        ],
    )
    first = results[0]
    notes = (
        f"One {SIZE} x {SIZE} training video per row, scored with `apu` (T = "
        f"{first['mc_trials']}) through `asl_core.scoring.video_stats`, each in a fresh process "
        f"(peak RSS = its VmHWM: Python, torch {first['torch']}, the model and the scoring; "
        f"{first['threads']} torch threads); task.predict_chunk_mb = {first['chunk_mb']:g}. "
        f"Dataset written in {t_data:.1f} s (hard-linked frames)."
    )
    print(table)
    print()
    print(notes)
    print(f"Machine: {machine()}")
    if args.record:
        record(
            "action_det: scoring one long video in bounded memory"
            + (" (--quick)" if args.quick else ""),
            table,
            notes,
        )


if __name__ == "__main__":
    main()
