"""``asl-run`` under torchrun: 2 CPU processes (gloo) select exactly what one process selects.

These tests start real processes (torch's launcher, or two ranks with the torchrun environment
set by hand) on the numpy ``fake`` task, so they check the loop's roles and messages, not a
model's DistributedDataParallel training (tests/action_det/test_ddp.py, tests/vos/test_ddp.py).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from asl_core.cli import main

pytest.importorskip("torch.distributed")

TASK = [
    "--task", "fake", "--scorer", "apu", "--selector", "global", "--seed", "3",
    "--cfg-options", "task.num_videos=8", "task.num_test_videos=3", "task.min_frames=12",
    "task.max_frames=30", "task.train_steps=20", "budget.cycles=3",
]  # fmt: skip


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    env.update(OMP_NUM_THREADS="1", ASL_DIST_TIMEOUT="120", PYTHONUNBUFFERED="1")
    return env


def _selections(run: Path) -> dict[str, list]:
    return {
        p.parent.name: json.loads(p.read_text())["frames"]
        for p in sorted(run.glob("cycles/*/selection.json"))
    }


def test_two_processes_select_exactly_what_one_process_selects(tmp_path):
    single = tmp_path / "single"
    assert main([*TASK, "--quiet", "--work-dir", str(single)]) == 0
    dist = tmp_path / "dist"
    # the distributed run streams its videos in chunks of 5 frames: same statistics
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "asl_core.cli", *TASK, "task.predict_chunk=5", "--quiet", "--work-dir", str(dist),
    ]  # fmt: skip
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "torchrun: 2 processes (backend gloo)" in proc.stdout
    assert proc.stdout.count("Active-learning cycles") == 1  # one voice: rank 0's table
    assert _selections(dist) == _selections(single)
    assert len(_selections(dist)) == 4  # initial labels + 3 cycles
    assert (dist / "ledger.jsonl").read_bytes() == (single / "ledger.jsonl").read_bytes()
    # one run, one ledger: rank 1 wrote nothing anywhere
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist", "single"]
    assert sorted(p.relative_to(dist).as_posix() for p in dist.rglob("ledger*")) == ["ledger.jsonl"]
    assert json.loads((dist / "state.json").read_text())["status"] == "finished"
    # rank 0 cached every video's statistics of each scored cycle
    assert len(list(dist.glob("cache/stats/*/*.npz"))) == 8 * 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_ranks(args: list[str], cwd: Path) -> list[subprocess.CompletedProcess]:
    """Two ranks started by hand with the environment torchrun would give them."""
    port = str(_free_port())
    procs = []
    for rank in (0, 1):
        env = _env()
        env.update(
            RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
            MASTER_ADDR="127.0.0.1", MASTER_PORT=port,
        )  # fmt: skip
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "asl_core.cli", *args],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    done = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


def test_a_pause_on_rank_0_stops_every_rank_with_its_exit_code(tmp_path):
    """The exchange oracle pauses the run for people (exit code 3): the other rank stops too,
    with the same code, instead of waiting for rank 0 forever."""
    run = tmp_path / "run"
    r0, r1 = _two_ranks([*TASK, "--oracle", "exchange", "--work-dir", str(run)], tmp_path)
    assert r0.returncode == 3, r0.stderr[-2000:]
    assert "paused" in r0.stdout
    assert r1.returncode == 3, r1.stderr[-2000:]
    assert "rank 1: stopped: rank 0 failed: AwaitingAnnotations" in r1.stderr
    assert r1.stdout == ""  # one voice: rank 0's


def test_other_subcommands_refuse_torchrun(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["plugins"]) == 2
