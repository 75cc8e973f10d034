"""One process of the DistributedDataParallel test (``test_ddp.py``): train the tiny synthetic
task and save the parameters and every step's gradients.

    python -m tests.action_det.ddp_worker DATA_ROOT OUT.pt

Under ``WORLD_SIZE`` / ``RANK`` / ``MASTER_ADDR`` / ``MASTER_PORT`` it joins the process group
first (:func:`asl_core.distributed.init_from_env`); without them it trains alone, which is
what the test compares against.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

#: tiny synthetic data: 3 train videos of 10-14 frames at 32 x 32
SYNTH = {"num_train": 3, "num_test": 1, "min_frames": 10, "max_frames": 14, "size": 32}
ITERATIONS = 3


def train_tiny(data_root: str) -> dict[str, Any]:
    """Train the tiny task for a few steps, batch 4, on labels that mix clips with and without
    an actor; returns ``{"params": state_dict, "grads": [float32[P] per step], "next_draw":
    the training generator's next integer}``."""
    import torch
    from asl_action_det.task import ActionDetParams, ActionDetTask
    from asl_strategies.losses.mgw import MGWLoss
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    from asl_core import FrameRef, LabelState, NullProgress
    from asl_core.testing import FakeOracle

    task = ActionDetTask(
        ActionDetParams(
            data_root=data_root, synth=SYNTH, iterations=ITERATIONS, batch_size=4, device="cpu"
        )
    )
    frames = []
    for video in task.pool():
        shown = task.dataset.gt_mask(video.id).any(axis=(1, 2))
        # one frame with the actor and, where there is one, one without
        frames += [FrameRef(video.id, int(f)) for f in np.flatnonzero(shown)[:1]]
        frames += [FrameRef(video.id, int(f)) for f in np.flatnonzero(~shown)[:1]]
    annotations = {a.ref: a for a in FakeOracle().annotate(frames, task)}
    grads: list[torch.Tensor] = []

    def keep_grads(optimiser: Any, args: Any, kwargs: Any) -> None:
        grads.append(
            torch.cat([p.grad.flatten() for g in optimiser.param_groups for p in g["params"]])
        )

    # a seed whose batches split clips with an actor unevenly between two ranks (the spread
    # loss's mean over such clips must use the whole batch's count)
    rng = np.random.default_rng(2)
    hook = register_optimizer_step_pre_hook(keep_grads)
    try:
        model = task.train(
            task.build_model(np.random.default_rng(0)),
            LabelState.from_frames(frames),
            annotations,
            MGWLoss(),
            rng,
            NullProgress(),
        )
    finally:
        hook.remove()
    return {"params": model.state_dict(), "grads": grads, "next_draw": int(rng.integers(2**62))}


def main(data_root: str, out: str) -> None:
    import torch

    from asl_core.distributed import init_from_env, shutdown

    torch.set_num_threads(1)
    init_from_env()
    try:
        torch.save(train_tiny(data_root), out)
    finally:
        shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
