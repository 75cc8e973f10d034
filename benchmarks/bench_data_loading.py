"""Training-batch loading of ``action_det`` in worker processes (issue 9: ``task.loader_workers``).

Writes a frame-folder dataset in the real ACT layout (``Frames/<class>/<video>/00001.jpg``, an
ACT ground-truth pickle, no masks: boxes are the masks), UCF-101-sized: 320 x 240 JPEG frames
(quality 90, textured and noisy like camera frames, about 17 KB each) that the task resizes to
``frame_size`` = 224 x 224 as the I3D configs do. A few distinct frames per video are
hard-linked over and over, so writing takes seconds; every read still decodes a JPEG. Three
labelled frames per video.

For each ``loader_workers`` value (a fresh task each time, so a cold frame cache) it measures

* **loading**: the clips of ``--load-steps`` training batches (``batch_size`` 4, clips of 8
  frames at stride 2 centred on labelled frames, random flips, drawn like ``train`` draws them)
  read through :class:`asl_action_det.loader.ClipBatchLoader` and nothing else: clips/s;
* **a simulated device step**: the same batches, each followed by ``--device-ms`` of sleep, the
  CPU idle as while a GPU computes a step: steps/s (what loading costs a GPU training loop);
* **training**: ``task.train`` with the tiny encoder for ``--train-steps`` steps on the CPU:
  1 / the median step time after the first (the first one pays for worker start-up and
  warm-up), and whether the trained weights equal those of the first ``loader_workers`` value
  bit for bit.

The frame cache (512 MiB in one process, shared equally by the workers) holds about 35 of the
videos; ``--videos`` beyond that makes loading decode again, as on a real pool.

Each measurement is repeated over ``--repeat`` rounds of all the settings and the best kept
(other load on a shared machine only ever slows a run down).

    python benchmarks/bench_data_loading.py [--quick] [--record] [--workers 0 1 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, markdown_table, record

HEIGHT, WIDTH = 240, 320  # UCF-101's frames
FRAME_SIZE = (224, 224)  # what the task resizes to (the I3D configs' input)
DISTINCT = 8  # distinct JPEG files per video; the other frames are hard links to them
GT_FILE = "Bench-GT.pkl"
CLASSES = ("left", "right")
LABELLED = 3  # labelled frames per video


def _frame(rng: np.random.Generator, base: np.ndarray, box: np.ndarray) -> np.ndarray:
    """A camera-like ``uint8[240, 320, 3]`` frame: smooth background, noise, an actor box."""
    img = base + rng.normal(0.0, 6.0, size=base.shape)
    x1, y1, x2, y2 = (int(v) for v in box)
    img[y1 : y2 + 1, x1 : x2 + 1] = 0.6 * img[y1 : y2 + 1, x1 : x2 + 1] + 80.0
    return np.clip(img, 0, 255).astype(np.uint8)


def write_dataset(root: Path, videos: int, frames: int) -> None:
    """``videos`` training videos of ``frames`` frames (one actor box moving across) and one
    test video, in the ACT layout with JPEG frames."""
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    train = [f"{CLASSES[i % 2]}/v_{i:04d}" for i in range(videos)]
    ids = [*train, f"{CLASSES[0]}/test_0000"]
    nframes, tubes = {}, {}
    for k, vid in enumerate(ids):
        colour = rng.uniform(40, 200, size=3)
        base = (
            colour
            + 40 * np.sin(xx / rng.uniform(20, 60) + rng.uniform(0, 6))[..., None]
            + 30 * np.cos(yy / rng.uniform(15, 50))[..., None]
        )
        n = frames if k < videos else DISTINCT
        x = np.linspace(20, WIDTH - 100, n)
        boxes = np.column_stack([x, np.full(n, 60.0), x + 60, np.full(n, 200.0)])
        folder = root / "Frames" / vid
        folder.mkdir(parents=True)
        for f in range(n):
            path = folder / f"{f + 1:05d}.jpg"
            if f < DISTINCT:
                Image.fromarray(_frame(rng, base, boxes[f])).save(path, quality=90)
                continue
            try:
                os.link(folder / f"{f % DISTINCT + 1:05d}.jpg", path)
            except OSError:  # a file system without hard links
                shutil.copyfile(folder / f"{f % DISTINCT + 1:05d}.jpg", path)
        nframes[vid] = n
        label = 0 if vid.startswith(CLASSES[0]) else 1
        tubes[vid] = {label: [np.column_stack([np.arange(1, n + 1), boxes]).astype(np.float32)]}
    gt = {
        "labels": list(CLASSES),
        "gttubes": tubes,
        "nframes": nframes,
        "train_videos": [train],
        "test_videos": [ids[-1:]],
        "resolution": {vid: (HEIGHT, WIDTH) for vid in ids},
    }
    with open(root / GT_FILE, "wb") as fh:
        pickle.dump(gt, fh, protocol=2)


def make_task(root: Path, workers: int, steps: int) -> Any:
    """The action_det task on the written dataset (tiny encoder, CPU)."""
    from asl_action_det.task import ActionDetParams, ActionDetTask

    return ActionDetTask(
        ActionDetParams(
            data_root=str(root),
            gt_file=GT_FILE,
            frame_pattern="{:05d}.jpg",
            masks_dir=None,
            frame_size=FRAME_SIZE,
            synthesize_if_missing=False,
            iterations=steps,
            device="cpu",
            loader_workers=workers,
        )
    )


def labelled_frames(task: Any) -> list[Any]:
    """``LABELLED`` frames of every training video, spread over it (fixed seed)."""
    from asl_core import FrameRef

    rng = np.random.default_rng(1)
    return [
        FrameRef(v.id, int(f))
        for v in task.pool()
        for f in np.sort(rng.choice(v.num_frames, LABELLED, replace=False))
    ]


def _specs(task: Any, steps: int) -> Iterator[Any]:
    """``steps`` batches of training clips, drawn as ``train`` draws them (fixed seed)."""
    from asl_action_det.clips import train_clip
    from asl_action_det.loader import ClipSpec, StepSpec

    p = task.params
    by_video: dict[str, list[int]] = {}
    for ref in labelled_frames(task):
        by_video.setdefault(ref.video, []).append(ref.frame)
    videos = list(by_video)
    lengths = {v.id: v.num_frames for v in task.pool()}
    rng = np.random.default_rng(2)
    for step in range(steps):
        clips = []
        for k in rng.integers(len(videos), size=p.batch_size):
            vid = videos[int(k)]
            center = int(rng.choice(by_video[vid]))
            index, _ = train_clip(center, lengths[vid], p.clip_len, p.clip_stride, rng)
            clips.append(ClipSpec(vid, index, bool(rng.random() < 0.5)))
        yield StepSpec(step, clips)


def loading(root: Path, workers: int, steps: int, busy_s: float = 0.0) -> dict[str, float]:
    """Batches/s and clips/s of reading ``steps`` training batches through the loader (fresh
    task: cold cache), each batch followed by ``busy_s`` of sleep (a simulated accelerator
    step: the CPU idle while the device computes; 0 = loading alone)."""
    from asl_action_det.loader import ClipBatchLoader

    task = make_task(root, workers, steps)
    checksum = 0.0
    t0 = time.perf_counter()
    with ClipBatchLoader(task.dataset, _specs(task, steps), workers) as loader:
        for _, batch in loader:
            checksum += float(batch[:, :, ::7, ::7].sum())
            if busy_s:
                time.sleep(busy_s)
    wall = time.perf_counter() - t0
    return {
        "steps_s": steps / wall,
        "clips_s": steps * task.params.batch_size / wall,
        "checksum": checksum,
    }


class _Clock:
    """A Progress that timestamps every finished step."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def start(self, total: int | None, description: str = "") -> None:
        self.times = [time.perf_counter()]

    def advance(self, n: int = 1) -> None:
        self.times.append(time.perf_counter())


def training(root: Path, workers: int, steps: int) -> dict[str, Any]:
    """Steps/s of ``task.train`` (the median step after the first), and the trained weights."""
    from asl_strategies.losses.mgw import MGWLoss

    from asl_core import LabelState
    from asl_core.testing import FakeOracle

    task = make_task(root, workers, steps)
    frames = labelled_frames(task)
    annotations = {a.ref: a for a in FakeOracle().annotate(frames, task)}
    clock = _Clock()
    t0 = time.perf_counter()
    model = task.train(
        task.build_model(np.random.default_rng(0)),
        LabelState.from_frames(frames),
        annotations,
        MGWLoss(),
        np.random.default_rng(3),
        clock,
    )
    wall = time.perf_counter() - t0
    t = clock.times
    return {
        # the median step: robust to a spike of other load on a shared machine
        "steps_s": 1.0 / float(np.median(np.diff(t[1:]))),
        "first_s": t[1] - t[0],
        "wall_s": wall,
        "state": model.state_dict(),
    }


def _keep_best(best: dict[int, dict], workers: int, result: dict, key: str) -> None:
    if workers not in best or result[key] > best[workers][key]:
        best[workers] = result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer videos and steps")
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="(0 1 2)")
    ap.add_argument("--videos", type=int, help="training videos (64; --quick 40)")
    ap.add_argument("--frames", type=int, default=96, help="frames per video (96)")
    ap.add_argument("--load-steps", type=int, help="batches of the loading tests (150; quick 40)")
    ap.add_argument("--train-steps", type=int, help="steps of the training test (10; quick 5)")
    ap.add_argument(
        "--device-ms", type=float, default=50.0, help="simulated accelerator step, ms (50)"
    )
    ap.add_argument("--repeat", type=int, help="rounds, best kept (2; quick 1)")
    ap.add_argument("--keep", type=Path, help="write (or reuse) the dataset here and keep it")
    ap.add_argument("--record", action="store_true", help="append the table to docs/benchmarks.md")
    args = ap.parse_args()
    videos = args.videos or (40 if args.quick else 64)
    load_steps = args.load_steps or (40 if args.quick else 150)
    train_steps = args.train_steps or (5 if args.quick else 10)
    args.repeat = args.repeat or (1 if args.quick else 2)
    if min(args.workers) < 0 or videos < 1 or args.frames < 16 or train_steps < 3:
        raise SystemExit("--workers >= 0, --videos >= 1, --frames >= 16, --train-steps >= 3")

    import torch

    root = args.keep or Path(tempfile.mkdtemp(prefix="asl-data-loading-"))
    try:
        t0 = time.perf_counter()
        if not (root / GT_FILE).is_file():
            write_dataset(root, videos, args.frames)
        t_data = time.perf_counter() - t0
        jpeg_kb = np.mean([p.stat().st_size for p in (root / "Frames").rglob("0000[1-8].jpg")])
        loads: dict[int, dict] = {}
        sims: dict[int, dict] = {}
        trains: dict[int, dict] = {}
        for _ in range(args.repeat):  # rounds over the settings; the best of each is kept
            for w in args.workers:
                _keep_best(loads, w, loading(root, w, load_steps), "clips_s")
                _keep_best(sims, w, loading(root, w, load_steps, args.device_ms / 1000), "steps_s")
                _keep_best(trains, w, training(root, w, train_steps), "steps_s")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    w0 = args.workers[0]
    ref = trains[w0]["state"]
    rows = []
    for w in args.workers:
        if loads[w]["checksum"] != loads[w0]["checksum"]:
            raise SystemExit(f"loader_workers={w} loaded other pixels than {w0}")
        same = all(torch.equal(ref[k], trains[w]["state"][k]) for k in ref)
        rows.append(
            [
                w,
                f"{loads[w]['clips_s']:.0f} ({loads[w]['clips_s'] / loads[w0]['clips_s']:.2f}x)",
                f"{sims[w]['steps_s']:.1f} ({sims[w]['steps_s'] / sims[w0]['steps_s']:.2f}x)",
                f"{trains[w]['steps_s']:.2f} ({trains[w]['steps_s'] / trains[w0]['steps_s']:.2f}x)",
                f"{trains[w]['first_s']:.1f}",
                "yes" if same else "NO",
            ]
        )
    table = markdown_table(
        [
            "loader_workers",
            "loading clips/s",
            f"steps/s, simulated {args.device_ms:g} ms device step",
            "CPU training steps/s (tiny)",
            "first step s",
            "same weights",
        ],
        rows,
    )
    notes = (
        f"{videos} training videos x {args.frames} frames, {WIDTH} x {HEIGHT} JPEG "
        f"(~{jpeg_kb / 1024:.0f} KB each) resized to {FRAME_SIZE[1]} x {FRAME_SIZE[0]}, "
        f"{LABELLED} labelled frames per video; batches of 4 clips of 8 frames (stride 2), "
        f"float32 [4, 8, 224, 224, 3]. Loading: {load_steps} batches through `ClipBatchLoader` "
        f"from a cold cache, worker start-up included; the simulated device step sleeps "
        f"{args.device_ms:g} ms after each batch (the CPU idle, as while a GPU computes). "
        f"Training: `task.train`, tiny encoder on the CPU ({torch.get_num_threads()} torch "
        f"threads), the median of steps 2..{train_steps}; weights compared with "
        f"loader_workers={w0}. Best of {args.repeat} round(s) over the settings. Dataset written "
        f"in {t_data:.1f} s."
    )
    print(table)
    print()
    print(notes)
    print(f"Machine: {machine()}")
    if args.record:
        record(
            "action_det: training-batch loading with worker processes"
            + (" (--quick)" if args.quick else ""),
            table,
            notes,
        )


if __name__ == "__main__":
    main()
