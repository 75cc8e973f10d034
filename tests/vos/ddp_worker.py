"""One rank of tests/vos/test_ddp.py: ``python ddp_worker.py DATA_ROOT OUT`` with the torchrun
environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) set by the test.

It joins the gloo group, trains the tiny synthetic vos task a few steps with
:func:`train_once` and saves the trained parameters and the next draw of the training
generator to ``OUT``. The test runs :func:`train_once` in its own process too, as the
one-process reference.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SYNTH = {"num_videos": 8, "min_frames": 6, "max_frames": 9, "size": [32, 48], "seed": 3}


def make_task(root: Path):
    """The tiny vos task (generates its dataset at ``root`` when missing)."""
    from asl_vos.task import VosParams, VosTask

    from asl_core import parse_params

    params = {
        "data_root": str(root),
        "synth": SYNTH,
        "val_videos": 2,
        "iterations": 3,
        "batch_size": 4,
        "device": "cpu",
    }
    return VosTask(parse_params(VosParams, params, where="task"))


def train_once(root: Path) -> dict:
    """Train from three labelled frames (true masks, MGW-like weights: 1 on labels, 0.5
    elsewhere); return ``{"state": the network's state_dict, "grad": {name: the gradient of
    the last step}, "draw": the generator's next draw}``. ``train`` leaves the last step's
    gradients on the parameters: Adam is blind to a wrong loss scale, the gradients are not."""
    from asl_core import FrameAnnotation, FrameRef, LabelState, NullProgress, SparseLossBase

    class HalfWeights(SparseLossBase):
        def frame_weights(self, num_frames: int, labelled: np.ndarray) -> np.ndarray:
            w = np.full(num_frames, 0.5)
            w[labelled] = 1.0
            return w

    task = make_task(root)
    pool = task.pool()
    frames = [FrameRef(pool[0].id, 0), FrameRef(pool[0].id, 3), FrameRef(pool[1].id, 1)]
    anns = {
        r: FrameAnnotation(r.video, r.frame, g, oracle="t")
        for r, g in zip(frames, task.ground_truth(frames), strict=True)
    }
    rng = np.random.default_rng(0)
    model = task.build_model(rng)
    model = task.train(
        model, LabelState.from_frames(frames), anns, HalfWeights(), rng, NullProgress()
    )
    grads = {n: p.grad.detach().clone() for n, p in model.net.named_parameters()}
    return {"state": model.net.state_dict(), "grad": grads, "draw": int(rng.integers(2**62))}


def main(argv: list[str]) -> None:
    import torch

    from asl_core.distributed import init_from_env, shutdown

    torch.set_num_threads(1)
    ctx = init_from_env()
    try:
        torch.save({**train_once(Path(argv[0])), "rank": ctx.rank}, argv[1])
    finally:
        shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
