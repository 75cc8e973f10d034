"""DistributedDataParallel training of action_det (issue 9): two CPU processes (gloo) train
exactly as one process does."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from asl_action_det.task import ActionDetParams, ActionDetTask

from . import ddp_worker

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> str:
    """The tiny synthetic dataset, written once before any process reads it."""
    root = tmp_path_factory.mktemp("ddp") / "data"
    ActionDetTask(ActionDetParams(data_root=str(root), synth=ddp_worker.SYNTH))
    return str(root)


@pytest.fixture(scope="module")
def two_ranks(data_root, tmp_path_factory) -> list[dict]:
    """What each of two torchrun-style processes trained."""
    out = tmp_path_factory.mktemp("ranks")
    port = _free_port()
    procs = []
    for rank in range(2):
        env = {
            **os.environ,
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "CUDA_VISIBLE_DEVICES": "",  # gloo on the CPU, even on a GPU machine
            "ASL_DIST_TIMEOUT": "60",
            "OMP_NUM_THREADS": "1",
        }
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.action_det.ddp_worker",
                    data_root,
                    out / f"{rank}.pt",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    logs = []
    try:
        for proc in procs:
            logs.append(proc.communicate(timeout=120)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for rank, proc in enumerate(procs):
        assert proc.returncode == 0, f"rank {rank} failed:\n{logs[rank][-3000:]}"
    return [torch.load(out / f"{rank}.pt", weights_only=True) for rank in range(2)]


@pytest.fixture(scope="module")
def one_process(data_root) -> dict:
    """The same training in this one process."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return ddp_worker.train_tiny(data_root)
    finally:
        torch.set_num_threads(threads)


def test_two_ranks_average_the_one_process_gradient(two_ranks, one_process):
    """Each step's gradient after DDP's all-reduce is the whole batch's one-process gradient:
    within 1e-5 of its norm at the first step (same parameters, only the float32 summation
    order differs) and 1e-3 later (Adam amplifies the rounding differences of the parameters);
    a misscaled loss term is off by 50 % or more."""
    for rank in two_ranks:
        assert len(rank["grads"]) == len(one_process["grads"]) == ddp_worker.ITERATIONS
        for step, (got, want) in enumerate(zip(rank["grads"], one_process["grads"], strict=True)):
            tolerance = 1e-5 if step == 0 else 1e-3
            assert float((got - want).norm()) <= tolerance * float(want.norm()), step


def test_two_ranks_train_the_one_process_parameters(two_ranks, one_process):
    """Both ranks end with the parameters one process reaches on the whole batches."""
    for rank in two_ranks:
        assert rank["params"].keys() == one_process["params"].keys()
        for name, value in one_process["params"].items():
            torch.testing.assert_close(rank["params"][name], value, rtol=1e-4, atol=5e-5, msg=name)


def test_both_ranks_end_with_identical_parameters(two_ranks):
    """The ranks' models are bit-identical after training."""
    first, second = (r["params"] for r in two_ranks)
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_every_rank_leaves_the_training_generator_as_one_process_does(two_ranks, one_process):
    """Each rank draws for the whole batch, so the generator ends in the one-process state."""
    assert [r["next_draw"] for r in two_ranks] == [one_process["next_draw"]] * 2
