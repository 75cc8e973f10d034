"""The vos config files load, their task parameters validate, their strategies build, and the
synthetic config is exactly the task's defaults (what ``asl-run --task vos`` runs)."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from asl_vos.synth import SynthVosParams
from asl_vos.task import VosParams

from asl_core import parse_params
from asl_core.config import build_config
from asl_core.plugins import make_plugin_manager

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "vos"
CONFIGS = sorted(CONFIG_DIR.glob("*.py"))


def test_there_are_the_two_configs() -> None:
    assert {p.name for p in CONFIGS} == {"synthetic.py", "youtube_vos.py"}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_task_parameters_validate(config: Path) -> None:
    cfg = build_config(config_file=config)
    assert cfg["task"]["type"] == "vos"
    parse_params(
        VosParams, {k: v for k, v in cfg["task"].items() if k != "type"}, where=config.name
    )


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_strategies_build(config: Path) -> None:
    cfg = build_config(config_file=config)
    manager = make_plugin_manager(strict=True, environ={})
    for kind in ("scorer", "selector", "loss", "oracle"):
        section = dict(cfg[kind])
        manager.build(kind, section.pop("type"), section)


def test_synthetic_config_is_the_task_defaults() -> None:
    """Every key the synthetic config sets equals the default, so the config and
    ``asl-run --task vos`` cannot drift apart."""
    cfg = build_config(config_file=CONFIG_DIR / "synthetic.py")
    task = {k: v for k, v in cfg["task"].items() if k != "type"}
    defaults = VosParams()
    for key, value in task.items():
        if key == "synth":
            synth = parse_params(SynthVosParams, value, where="synth")
            assert synth == SynthVosParams(), "task.synth differs from the generator's defaults"
            continue
        expected = getattr(defaults, key)
        got = (
            attrs.fields_dict(VosParams)[key].converter(value)
            if attrs.fields_dict(VosParams)[key].converter
            else value
        )
        assert got == expected, key
