"""The action_det config files load and their task parameters validate."""

from __future__ import annotations

from pathlib import Path

import pytest
from asl_action_det.task import ActionDetParams

from asl_core import parse_params
from asl_core.config import build_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs" / "action_det").glob("*.py"))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_loads_and_task_parameters_validate(config):
    """Every key of the task section is a real ActionDetParams parameter with a valid value."""
    cfg = build_config(config_file=config)
    assert cfg["task"]["type"] == "action_det"
    params = parse_params(ActionDetParams, cfg["task"], where=config.name)
    assert params.clip_len == 8 and params.clip_stride == 2


def test_there_are_three_configs():
    """Synthetic, UCF-101-24 and J-HMDB-21 configs exist."""
    assert {p.name for p in CONFIGS} == {"synthetic.py", "ucf101_24.py", "jhmdb21.py"}
