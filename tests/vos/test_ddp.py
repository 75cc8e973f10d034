"""DistributedDataParallel training of the vos task: two CPU ranks (gloo), each forwarding
half of every batch of 4, train the same network as one process forwarding all of it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.vos.ddp_worker import make_task, train_once

torch = pytest.importorskip("torch")
pytest.importorskip("torch.distributed")

WORKER = Path(__file__).with_name("ddp_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vos_ddp") / "data"
    make_task(root)  # generate the dataset once, before the ranks read it
    return root


@pytest.fixture(scope="module")
def ranks(root: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """What each of the two ranks saved after training (started with the environment
    torchrun would give them)."""
    out = tmp_path_factory.mktemp("vos_ddp_out")
    env = {k: v for k, v in os.environ.items() if k not in {"RANK", "WORLD_SIZE", "LOCAL_RANK"}}
    env.update(
        WORLD_SIZE="2",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(_free_port()),
        OMP_NUM_THREADS="1",
        ASL_DIST_TIMEOUT="60",
        CUDA_VISIBLE_DEVICES="",
    )
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(root), str(out / f"rank{rank}.pt")],
            env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    logs = []
    for proc in procs:
        try:
            logs.append(proc.communicate(timeout=120)[0])
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
    for proc, log in zip(procs, logs, strict=True):
        assert proc.returncode == 0, log[-3000:]
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]


@pytest.fixture(scope="module")
def single(root: Path) -> dict:
    """The same training in this one process."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_once(root)
    finally:
        torch.set_num_threads(threads)


#: the key projection's bias has a zero gradient in exact arithmetic (keys and queries get the
#: same bias, which adds one constant per query to every memory location's affinity, and the
#: softmax over memory cancels it); Adam scales its rounding noise (~1e-9) up to lr-sized
#: steps, so its value is compared only to the learning rate
NOISE_ONLY = {"key_proj.bias": 1e-3}


def test_two_ranks_train_the_parameters_one_process_trains(ranks, single) -> None:
    state = single["state"]
    assert ranks[0]["state"].keys() == state.keys()
    for name, value in state.items():
        atol = NOISE_ONLY.get(name, 1e-5)
        torch.testing.assert_close(ranks[0]["state"][name], value, atol=atol, rtol=0, msg=name)


def test_the_averaged_gradient_is_the_whole_batch_gradient(ranks, single) -> None:
    """The loss scale is right (Adam's steps alone would not show a wrong one): the last
    step's gradient on rank 0 after the all-reduce equals the one-process gradient."""
    for name, grad in single["grad"].items():
        torch.testing.assert_close(ranks[0]["grad"][name], grad, atol=1e-5, rtol=1e-4, msg=name)


def test_training_moved_the_parameters(root, ranks) -> None:
    """Not trivially equal: the trained network differs from a fresh one."""
    fresh = make_task(root).build_model(np.random.default_rng(0)).net.state_dict()
    moved = [not torch.equal(fresh[k], v) for k, v in ranks[0]["state"].items()]
    assert sum(moved) > len(moved) // 2


def test_both_ranks_hold_the_same_parameters(ranks) -> None:
    for name, value in ranks[0]["state"].items():
        assert torch.equal(ranks[1]["state"][name], value), name


def test_every_rank_leaves_the_generator_where_one_process_does(ranks, single) -> None:
    assert ranks[0]["draw"] == ranks[1]["draw"] == single["draw"]
