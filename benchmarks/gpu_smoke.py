"""GPU smoke test of the paper config: one training step and one MC-dropout scoring pass.

Builds the capsule detector of ``configs/action_det/ucf101_24_i3d.py`` (Inception-I3D encoder
cut at ``Mixed_4f``, the UCF-101-24 classes, the config's dropout) with the task's own
``ActionDetTask.build_model``, from **random initialisation** (no weights file) and on **random
input tensors** (no dataset), then times on the chosen device:

* **one training step** as ``ActionDetTask.train`` takes it: forward with ground-truth class
  masking; spread loss on the class activations (margin of step 0) + the per-frame pixel BCE +
  the actor-map BCE, with every frame labelled (all frame weights 1, so the SparseLoss reduction
  is the plain mean over a clip's frames); backward; Adam at the config's learning rate. Batch
  ``task.batch_size`` (8) of ``task.clip_len`` (8) frames at ``--size`` x ``--size`` (224);
* **one MC-dropout pass** as ``ActionDetTask.predict`` runs it: ``CapsuleDetector.mc_forward``
  over one batch of clips with ``T = task.mc_trials`` (10) trials (encoder once, the dropout head
  ``T`` times).

Each is run ``--repeat`` times: the first run includes CUDA / cuDNN warm-up and is shown apart
from the best. Peak memory is ``torch.cuda.max_memory_allocated`` per phase on CUDA and the
process's peak resident memory (``ru_maxrss``, whole process) on CPU. Must finish in under 5
minutes on a GPU at the defaults; the table shows the total.

    python benchmarks/gpu_smoke.py                        # the paper size, CUDA when available
    python benchmarks/gpu_smoke.py --device cpu --size 112 --batch 2 --record
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, markdown_table, record
from asl_action_det.jhmdb import JHMDB21_CLASSES
from asl_action_det.losses import actor_map_loss, margin_at, pixel_bce_per_frame, spread_loss
from asl_action_det.task import ActionDetParams, ActionDetTask
from asl_action_det.ucf101 import UCF101_24_CLASSES

from asl_core import parse_params
from asl_core.config import load_config_file

PAPER_CONFIG = ROOT / "configs" / "action_det" / "ucf101_24_i3d.py"
NUM_CLASSES = {"ucf101_24": len(UCF101_24_CLASSES), "jhmdb21": len(JHMDB21_CLASSES)}
TIME_LIMIT_S = 300.0


def paper_params(config: Path, size: int, batch: int | None, trials: int | None) -> ActionDetParams:
    """The task parameters of ``config`` at ``size`` x ``size``, without a weights file.

    Args:
        config: an action_det config file (default: the UCF-101-24 paper config).
        size: frame height and width (a multiple of 8).
        batch: clips per batch (``None``: the config's ``batch_size``).
        trials: MC-dropout trials (``None``: the config's ``mc_trials``).
    """
    task = dict(load_config_file(config)["task"])
    task.update(encoder_weights=None, frame_size=(size, size))
    if batch is not None:
        task["batch_size"] = batch
    if trials is not None:
        task["mc_trials"] = trials
    return parse_params(ActionDetParams, task, where=str(config))


def pick_device(name: str) -> torch.device:
    """``"auto"``: CUDA when available, else CPU; ``"cuda"`` without a GPU is an error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def random_batch(
    params: ActionDetParams, num_classes: int, device: torch.device, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random clips ``[B, 3, L, S, S]`` in [0, 1], classes ``[B]`` and one random box per clip
    as the target masks ``[B, L, S, S]`` (what a UCF-101-24 box target looks like)."""
    g = torch.Generator().manual_seed(seed)
    b, length = params.batch_size, params.clip_len
    h, w = params.frame_size
    clips = torch.rand(b, 3, length, h, w, generator=g)
    classes = torch.randint(0, num_classes, (b,), generator=g)
    masks = torch.zeros(b, length, h, w)
    for k in range(b):
        y1, x1 = (int(v) for v in torch.randint(0, h // 2, (2,), generator=g))
        masks[k, :, y1 : y1 + h // 2, x1 : x1 + w // 3] = 1.0
    return clips.to(device), classes.to(device), masks.to(device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], Any], repeat: int, device: torch.device) -> list[float]:
    """Wall seconds of ``repeat`` calls of ``fn``, each ended by a device synchronisation."""
    times = []
    for _ in range(max(repeat, 1)):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times


def _peak_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    # ru_maxrss is in KiB on Linux: the process's peak, not resettable between phases
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(
    params: ActionDetParams, num_classes: int, device: torch.device, repeat: int
) -> dict[str, Any]:
    """Build the model and time the training step and the MC pass.

    Returns:
        ``{"step_s": [...], "mc_s": [...], "peak_train_mib", "peak_mc_mib", "parameters"}``;
        times in seconds per repetition (the first includes warm-up).
    """
    # the task's own construction (encoder, dropout, pooling as configured); build_model needs
    # only the parameters and the class count, not the dataset
    model = ActionDetTask.build_model(
        SimpleNamespace(params=params, num_classes=num_classes),  # type: ignore[arg-type]
        np.random.default_rng(0),
    )
    model.to(device)
    clips, classes, masks = random_batch(params, num_classes, device)
    frame_weights = torch.ones(masks.shape[:2], device=device)
    optimiser = torch.optim.Adam(model.parameters(), lr=params.lr)
    margin = margin_at(0, params.iterations, params.margin_start, params.margin_end)

    def train_step() -> None:
        out = model(clips, target=classes)
        cls_loss = spread_loss(out.activations, classes, margin)
        per_frame = pixel_bce_per_frame(out.logits, masks)
        seg_loss = ((per_frame * frame_weights).sum(1) / frame_weights.sum(1)).mean()
        seg_loss = seg_loss + actor_map_loss(out.actor_logits, masks, frame_weights)
        total = params.cls_weight * cls_loss + params.seg_weight * seg_loss
        optimiser.zero_grad(set_to_none=True)
        total.backward()
        optimiser.step()

    generator = torch.Generator(device=device).manual_seed(1)

    def mc_pass() -> None:
        with torch.no_grad():
            model.mc_forward(clips, params.mc_trials, generator)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model.train()
    step_s = _timed(train_step, repeat, device)
    peak_train = _peak_mib(device)
    # scoring holds no gradients and no Adam state: free both before measuring the MC pass
    optimiser.zero_grad(set_to_none=True)
    optimiser.state.clear()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    model.eval()
    mc_s = _timed(mc_pass, repeat, device)
    peak_mc = _peak_mib(device)
    return {
        "step_s": step_s,
        "mc_s": mc_s,
        "peak_train_mib": peak_train,
        "peak_mc_mib": peak_mc,
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'s' if threads != 1 else ''})"


def _seconds(times: list[float]) -> tuple[str, str]:
    return f"{times[0]:.3f}", f"{min(times):.3f}"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse the flags, run the smoke test, print (and with ``--record`` append) the table.

    Returns:
        The numbers of :func:`run` plus ``device``, ``size``, ``batch``, ``trials``,
        ``total_s`` and ``table`` (the markdown table printed).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--size", type=int, default=224, help="frame height and width (224)")
    parser.add_argument("--batch", type=int, default=None, help="clips per batch (config: 8)")
    parser.add_argument("--trials", type=int, default=None, help="MC-dropout trials T (config: 10)")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs of each phase (2)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (2)")
    parser.add_argument("--config", type=Path, default=PAPER_CONFIG, help="action_det config")
    parser.add_argument("--record", action="store_true", help="append the table to the docs")
    args = parser.parse_args(argv)
    if args.size <= 0 or args.size % 8:
        parser.error(f"--size must be a positive multiple of 8, got {args.size}")
    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    params = paper_params(args.config, args.size, args.batch, args.trials)
    num_classes = NUM_CLASSES.get(params.dataset, len(UCF101_24_CLASSES))
    # the encoder's "no weights file" warning is expected here: say it once in the table instead
    logging.getLogger("asl_action_det.i3d").setLevel(logging.ERROR)
    result = run(params, num_classes, device, args.repeat)
    total = time.perf_counter() - t_start
    step_first, step_best = _seconds(result["step_s"])
    mc_first, mc_best = _seconds(result["mc_s"])
    memory = "torch.cuda.max_memory_allocated" if device.type == "cuda" else "process peak RSS"
    rows = [
        ("device", _device_name(device)),
        ("model", f"CapsuleDetector, encoder {params.encoder}, {num_classes} classes"),
        ("parameters", f"{result['parameters']:,}"),
        ("weights / data", "random initialisation / random tensors"),
        (
            "input",
            f"batch {params.batch_size} x {params.clip_len} frames x {args.size} x {args.size}",
        ),
        ("training step, first (s)", step_first),
        (f"training step, best of {args.repeat} (s)", step_best),
        (f"MC pass T = {params.mc_trials}, first (s)", mc_first),
        (f"MC pass T = {params.mc_trials}, best of {args.repeat} (s)", mc_best),
        (f"peak memory, training ({memory}, MiB)", f"{result['peak_train_mib']:.0f}"),
        (f"peak memory, MC pass ({memory}, MiB)", f"{result['peak_mc_mib']:.0f}"),
        ("total wall time (s)", f"{total:.1f}"),
    ]
    table = markdown_table(("gpu smoke", "value"), rows)
    print(table)
    if device.type == "cuda" and total > TIME_LIMIT_S:
        print(f"\nWARNING: took {total:.0f} s, over the {TIME_LIMIT_S:.0f} s limit")
    if args.record:
        record(
            f"GPU smoke: {args.config.name} training step + MC pass on {device.type}",
            table,
            f"torch {torch.__version__}. "
            + (
                "CPU run, not a GPU measurement."
                if device.type == "cpu"
                else "The first run of each phase includes CUDA / cuDNN warm-up."
            )
            + ("" if args.size == 224 else f" Not the paper size: {args.size} x {args.size}."),
        )
    return {
        **result,
        "device": device.type,
        "size": args.size,
        "batch": params.batch_size,
        "trials": params.mc_trials,
        "total_s": total,
        "table": table,
    }


if __name__ == "__main__":
    main()
