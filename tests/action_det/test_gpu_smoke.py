"""``benchmarks/gpu_smoke.py`` keeps working: its main function runs at a tiny size on CPU."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_smoke.py"


@pytest.fixture
def smoke(monkeypatch) -> ModuleType:
    """The benchmark module, imported from its file; sys.path and torch's threads restored after."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    threads = torch.get_num_threads()
    spec = importlib.util.spec_from_file_location("gpu_smoke", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    torch.set_num_threads(threads)


def test_paper_params_come_from_the_paper_config(smoke):
    """Without overrides the smoke test uses the I3D paper config: batch 8, 8 x 2 clips, T = 10."""
    p = smoke.paper_params(smoke.PAPER_CONFIG, 224, None, None)
    assert (p.encoder, p.encoder_weights, p.frame_size) == ("i3d", None, (224, 224))
    assert (p.batch_size, p.clip_len, p.clip_stride, p.mc_trials) == (8, 8, 2, 10)


def test_main_runs_a_training_step_and_an_mc_pass_on_cpu(smoke, capsys):
    """At 32 x 32, batch 2, T = 2 the step and the MC pass run and the table is printed."""
    args = "--device cpu --size 32 --batch 2 --trials 2 --repeat 1 --threads 1"
    out = smoke.main(args.split())
    assert (out["device"], out["size"], out["batch"], out["trials"]) == ("cpu", 32, 2, 2)
    assert len(out["step_s"]) == len(out["mc_s"]) == 1
    assert all(t > 0 and math.isfinite(t) for t in out["step_s"] + out["mc_s"])
    assert out["peak_train_mib"] > 0 and out["parameters"] > 7_000_000  # I3D alone is 7.5 M
    printed = capsys.readouterr().out
    assert "training step, first (s)" in printed and "random initialisation" in printed


def test_size_must_be_a_multiple_of_eight(smoke):
    """--size 30 is refused before anything is built."""
    with pytest.raises(SystemExit):
        smoke.main(["--device", "cpu", "--size", "30"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_without_a_gpu_is_an_error(smoke):
    """--device cuda on a machine without CUDA stops with a message."""
    with pytest.raises(SystemExit, match="no CUDA device"):
        smoke.pick_device("cuda")
