"""The action_det config files load, their task parameters validate, and the paper configs
carry the paper's settings and build their model without any data."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from asl_action_det.task import ActionDetParams, ActionDetTask

from asl_core import ConfigError, parse_params
from asl_core.config import build_config
from asl_core.plugins import make_plugin_manager

from .real_layouts import make_jhmdb_root, make_ucf_root

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "action_det"
CONFIGS = sorted(CONFIG_DIR.glob("*.py"))
PAPER = {"ucf101_24_i3d.py": ("ucf101_24", 24, 1.0, 5.0), "jhmdb_i3d.py": ("jhmdb21", 21, 3.0, 3.0)}


def load(name: str) -> dict:
    return build_config(config_file=CONFIG_DIR / name)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_loads_and_task_parameters_validate(config):
    """Every key of the task section is a real ActionDetParams parameter with a valid value."""
    cfg = build_config(config_file=config)
    assert cfg["task"]["type"] == "action_det"
    params = parse_params(ActionDetParams, cfg["task"], where=config.name)
    assert params.clip_len == 8 and params.clip_stride == 2


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_strategies_build(config):
    """The scorer, selector, loss and oracle sections build through the plugin registry."""
    cfg = build_config(config_file=config)
    manager = make_plugin_manager(strict=True, environ={})
    for kind in ("scorer", "selector", "loss", "oracle"):
        section = dict(cfg[kind])
        manager.build(kind, section.pop("type"), section)


def test_there_are_the_five_configs():
    """Synthetic, UCF-101-24, J-HMDB-21 and the two paper (I3D) configs exist."""
    assert {p.name for p in CONFIGS} == {
        "synthetic.py",
        "ucf101_24.py",
        "jhmdb21.py",
        "ucf101_24_i3d.py",
        "jhmdb_i3d.py",
    }


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_configs_carry_the_paper_settings(name):
    """224 x 224, 8-frame clips at stride 2, I3D, Adam batch 8, T = 10, tau = 0.9, sigma = 1.3,
    and the paper's initial and step percentages (§4)."""
    dataset, _, init, step = PAPER[name]
    cfg = load(name)
    p = parse_params(ActionDetParams, cfg["task"])
    assert (p.dataset, p.encoder, p.frame_size) == (dataset, "i3d", (224, 224))
    assert (p.clip_len, p.clip_stride, p.batch_size, p.mc_trials) == (8, 2, 8, 10)
    assert p.iterations == 22000 and p.encoder_weights.endswith("rgb_charades.pt")
    assert (cfg["scorer"]["type"], cfg["scorer"]["tau"], cfg["scorer"]["sigma"]) == (
        "apu",
        0.9,
        1.3,
    )
    assert (cfg["loss"]["type"], cfg["loss"]["sigma"]) == ("mgw", 1.3)
    assert (cfg["budget"]["init_pct"], cfg["budget"]["step_pct"]) == (init, step)


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_config_placeholder_weights_fail_clearly_before_data(name):
    """The placeholder weights path is a ConfigError naming it, raised before the (absent)
    dataset is read."""
    params = parse_params(ActionDetParams, load(name)["task"])
    with pytest.raises(ConfigError, match=r"/path/to/rgb_charades\.pt: I3D weights file not found"):
        ActionDetTask(params)


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_config_builds_its_model_without_data(name):
    """The paper configs' model (capsule detector over I3D) builds with the dataset's classes."""
    _, classes, _, _ = PAPER[name]
    task = dict(load(name)["task"], encoder_weights=None)
    params = parse_params(ActionDetParams, task)
    model = ActionDetTask.build_model(
        SimpleNamespace(params=params, num_classes=classes), np.random.default_rng(0)
    )  # type: ignore[arg-type]
    assert type(model.encoder).__name__ == "I3DEncoder"
    assert model.num_classes == classes


@pytest.mark.parametrize("name", ["ucf101_24.py", "jhmdb21.py"])
def test_dataset_configs_open_a_folder_in_their_layout(name, tmp_path):
    """Pointed at a tiny folder in the real layout, the UCF / J-HMDB config builds its task."""
    if name == "ucf101_24.py":
        root, extra = make_ucf_root(tmp_path / "UCF"), {"resolution": (32, 32)}
    else:
        root, extra = make_jhmdb_root(tmp_path / "J", act_pickle=True), {}
    task = dict(load(name)["task"], data_root=str(root), **extra)
    built = ActionDetTask(parse_params(ActionDetParams, task))
    assert len(built.pool()) == (3 if name == "ucf101_24.py" else 2)
