"""MC-dropout scoring of the capsule detector: batched head vs sequential full passes.

Two things are measured, both on CPU with ``torch.set_num_threads(2)`` (override with
``--threads``):

* **MC speed** (default): for ``B`` clips of 8 frames at 112x112 (and 64x64 for the tiny
  encoder), with the tiny encoder and with Inception-I3D (random weights), and ``T = 10``
  trials, the time of ``T``
  sequential full forward passes (encoder + head, one dropout draw each) against
  :meth:`CapsuleDetector.mc_forward` (encoder once, the dropout-bearing head on the ``T`` trials
  batched). Both use the same per-trial generators, so the outputs must agree; the table shows the
  largest absolute difference. Also the time of one training step (forward + backward + Adam) at
  batch 4.
* **Learnability** (``--learn``): trains the detector on a toy dataset generated in memory and
  reports held-out classification accuracy and pixel IoU. The toy: one textured disc (the same
  look for every class) on a smooth random background, plus an identical static distractor disc;
  the class is the motion of the actor — right, left, down, up, or pulsing in place. Only the
  actor is in the mask, so both tasks need motion.

    python benchmarks/bench_action_det_mc.py [--record]  # MC speed table (--record: append it
                                                         # to docs/benchmarks.md)
    python benchmarks/bench_action_det_mc.py --learn     # toy training run (~1-2 min)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import best_of, machine, markdown_table, record
from asl_action_det.losses import margin_at, pixel_bce_per_frame, spread_loss
from asl_action_det.model import CapsuleDetector, trial_generators

TOY_CLASSES = ("right", "left", "down", "up", "pulse")


# --------------------------------------------------------------------------- toy data


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth random colour field ``[3, size, size]`` in ``[0.1, 0.6]``."""
    coarse = rng.random((3, 5, 5))
    grid = np.linspace(0, 4, size)
    i0 = np.clip(grid.astype(int), 0, 3)
    f = grid - i0
    rows = coarse[:, i0] * (1 - f)[None, :, None] + coarse[:, i0 + 1] * f[None, :, None]
    field = rows[:, :, i0] * (1 - f)[None, None, :] + rows[:, :, i0 + 1] * f[None, None, :]
    return 0.1 + 0.5 * field


def _disc(
    yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, r: float
) -> tuple[np.ndarray, np.ndarray]:
    """Mask and texture (a ring pattern, same for every class) of a disc."""
    d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    mask = d <= r
    tex = 0.75 + 0.25 * np.cos(d * 1.3)
    return mask, tex


def make_toy(
    n: int, rng: np.random.Generator, frames: int = 8, size: int = 64, distractor: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Generate ``n`` toy clips.

    Args:
        n: number of clips.
        rng: random generator.
        frames: frames per clip.
        size: frame height and width.
        distractor: add a static copy of the actor (not in the mask).

    Returns:
        ``(clips [n, 3, T, H, W] in [0, 1], labels [n], masks [n, T, H, W])``.
    """
    clips = np.empty((n, 3, frames, size, size), np.float32)
    masks = np.zeros((n, frames, size, size), np.float32)
    labels = rng.integers(0, len(TOY_CLASSES), n)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    colour = np.array([0.95, 0.85, 0.3])[:, None, None]
    for k in range(n):
        bg = _background(rng, size)
        r = rng.uniform(6, 9)
        speed = rng.uniform(2.5, 4.0)
        travel = speed * (frames - 1)
        lo, hi = r + 1, size - r - 1
        c = labels[k]
        if c in (0, 1):  # horizontal
            cx0 = rng.uniform(lo, hi - travel)
            cy0 = rng.uniform(lo, hi)
            dy, dx = 0.0, speed
        elif c in (2, 3):  # vertical
            cy0 = rng.uniform(lo, hi - travel)
            cx0 = rng.uniform(lo, hi)
            dy, dx = speed, 0.0
        else:
            cy0, cx0 = rng.uniform(lo + 3, hi - 3, 2)
            dy = dx = 0.0
        if c in (1, 3):  # reverse direction: start at the far end
            cx0, cy0 = (cx0 + travel, cy0) if c == 1 else (cx0, cy0 + travel)
            dy, dx = -dy, -dx
        phase = rng.uniform(0, 2 * np.pi)
        # distractor: same look, static, away from the actor's path
        dcy = dcx = None
        if distractor:
            for _ in range(20):
                dcy, dcx = rng.uniform(8, size - 8, 2)
                path = [(cy0 + dy * t, cx0 + dx * t) for t in range(frames)]
                if min(np.hypot(dcy - py, dcx - px) for py, px in path) > 2 * r + 4:
                    break
            else:
                dcy = None
        for t in range(frames):
            img = bg + rng.normal(0, 0.02, bg.shape)
            if dcy is not None:
                dm, dt = _disc(yy, xx, dcy, dcx, r)
                img = np.where(dm[None], colour * dt[None], img)
            rr = r * (1 + 0.35 * np.sin(phase + 1.6 * t)) if c == 4 else r
            am, at = _disc(yy, xx, cy0 + dy * t, cx0 + dx * t, rr)
            img = np.where(am[None], colour * at[None], img)
            clips[k, :, t] = np.clip(img, 0, 1)
            masks[k, t] = am
    return torch.from_numpy(clips), torch.from_numpy(labels), torch.from_numpy(masks)


# --------------------------------------------------------------------------- learnability


def evaluate(model: CapsuleDetector, clips: torch.Tensor, labels, masks) -> tuple[float, float]:
    """Held-out accuracy and mean per-clip pixel IoU (predicted-class masking, no dropout)."""
    model.eval()
    correct, ious = 0, []
    with torch.no_grad():
        for s in range(0, len(clips), 8):
            out = model(clips[s : s + 8])
            correct += int((out.activations.argmax(1) == labels[s : s + 8]).sum())
            pred = out.logits > 0
            gt = masks[s : s + 8] > 0.5
            inter = (pred & gt).flatten(1).sum(1).float()
            union = (pred | gt).flatten(1).sum(1).float().clamp_min(1)
            ious += (inter / union).tolist()
    model.train()
    return correct / len(clips), float(np.mean(ious))


def learn(args: argparse.Namespace) -> None:
    """Train on the toy and print accuracy / IoU along the way."""
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    train = make_toy(args.train_clips, rng, distractor=not args.no_distractor)
    test = make_toy(args.test_clips, rng, distractor=not args.no_distractor)
    print(f"data: {time.perf_counter() - t0:.1f} s")
    model = CapsuleDetector(
        len(TOY_CLASSES),
        primary_caps=args.primary_caps,
        final_lambda=args.final_lambda,
        cost_norm=args.cost_norm,
        class_pool=args.class_pool,
        encoder_kw={"temporal_diff": not args.no_diff},
    )
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    x_all, y_all, m_all = train
    t_train = 0.0
    for step in range(args.steps):
        t0 = time.perf_counter()
        idx = torch.from_numpy(rng.integers(0, len(x_all), args.batch))
        x, y, m = x_all[idx], y_all[idx], m_all[idx]
        out = model(x, y)
        margin = margin_at(step, args.steps, args.margin_start, args.margin_end)
        l_cls = spread_loss(out.activations, y, margin)
        l_seg = pixel_bce_per_frame(out.logits, m).mean()
        loss = args.cls_weight * l_cls + l_seg
        opt.zero_grad()
        loss.backward()
        opt.step()
        t_train += time.perf_counter() - t0
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            acc, iou = evaluate(model, *test)
            print(
                f"step {step + 1:4d}  {t_train:6.1f} s  cls {l_cls.item():.3f}  "
                f"seg {l_seg.item():.3f}  acc {acc:.2f}  IoU {iou:.2f}",
                flush=True,
            )


# --------------------------------------------------------------------------- MC speed


def mc_speed(args: argparse.Namespace) -> None:
    """Time sequential full passes against the batched MC head; print a markdown table."""
    rows = []
    for encoder in args.encoders:
        torch.manual_seed(0)
        # random weights: the speed of a pass does not depend on them (no file is read)
        model = CapsuleDetector(24, encoder=encoder).eval()
        sizes = [64, args.size] if encoder == "tiny" and args.size != 64 else [args.size]
        for size in sizes:
            for b in args.clips:
                clips = torch.rand(b, 3, 8, size, size)

                def sequential(clips=clips, model=model):
                    # the same per-trial generators as mc_forward draws from seed 1
                    gens = trial_generators(torch.Generator().manual_seed(1), args.trials)
                    with torch.no_grad():
                        outs = [model(clips, generators=[g]) for g in gens]
                    return torch.stack([torch.sigmoid(o.logits) for o in outs])

                def batched(clips=clips, model=model):
                    return model.mc_forward(clips, args.trials, torch.Generator().manual_seed(1))[1]

                t_seq, p_seq = best_of(sequential, args.repeat)
                t_mc, p_mc = best_of(batched, args.repeat)
                diff = float((p_seq - p_mc).abs().max())
                rows.append(
                    (
                        encoder,
                        f"{size}x{size}",
                        b,
                        args.trials,
                        f"{t_seq:.3f}",
                        f"{t_mc:.3f}",
                        f"{t_seq / t_mc:.2f}x",
                        f"{diff:.1e}",
                    )
                )
                print(" | ".join(str(c) for c in rows[-1]), flush=True)
    print(f"Machine: {machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    headers = (
        "encoder",
        "input",
        "clips B",
        "trials T",
        "T full passes (s)",
        "batched MC (s)",
        "speed-up",
        "max |diff|",
    )
    table = markdown_table(headers, rows)
    print(table)

    torch.manual_seed(0)
    model = CapsuleDetector(24)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    clips, labels = torch.rand(4, 3, 8, 64, 64), torch.randint(0, 24, (4,))
    masks = (torch.rand(4, 8, 64, 64) > 0.9).float()

    def step():
        out = model(clips, labels)
        loss = (
            spread_loss(out.activations, labels, 0.2)
            + pixel_bce_per_frame(out.logits, masks).mean()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()

    t_step, _ = best_of(step, args.repeat)
    note = f"Training step (forward + backward + Adam), batch 4: {t_step:.3f} s."
    print("\n" + note)
    if args.record:
        record(
            "action_det MC-dropout scoring: batched head vs T full passes",
            table,
            f"{note} torch {torch.__version__}, {torch.get_num_threads()} threads, best of "
            f"{args.repeat}; 24 classes, random clips of 8 frames, random weights (I3D: "
            "Inception-I3D cut at Mixed_4f, the paper's encoder).",
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument(
        "--encoders", nargs="+", default=["tiny", "i3d"], choices=("tiny", "i3d"),
        help="encoders to time (tiny: also at 64x64)",
    )  # fmt: skip
    parser.add_argument("--size", type=int, default=112, help="input height and width")
    parser.add_argument("--clips", type=int, nargs="+", default=[2, 4], help="batch sizes B")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--learn", action="store_true", help="run the toy learnability check")
    parser.add_argument("--record", action="store_true", help="append the MC table to the docs")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--primary-caps", type=int, default=16)
    parser.add_argument("--final-lambda", type=float, default=3.0)
    parser.add_argument("--cost-norm", default="center", choices=("center", "zscore"))
    parser.add_argument("--class-pool", default="presence", choices=("presence", "mean"))
    parser.add_argument("--margin-start", type=float, default=0.2)
    parser.add_argument("--margin-end", type=float, default=0.9)
    parser.add_argument("--cls-weight", type=float, default=3.0)
    parser.add_argument("--train-clips", type=int, default=512)
    parser.add_argument("--test-clips", type=int, default=160)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--no-distractor", action="store_true")
    parser.add_argument("--no-diff", action="store_true", help="no temporal-difference input")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.learn:
        learn(args)
    else:
        mc_speed(args)


if __name__ == "__main__":
    main()
