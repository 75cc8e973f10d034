"""Shared fixtures: strict plugin managers and small configs on the numpy FakeTask."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from asl_core.config import build_config
from asl_core.plugins import PluginManager, make_plugin_manager


def _shared_data() -> Path:
    """The real data shared with the project (``../shared/data`` next to the repository, as
    the docs say; ``ASL_SHARED_DATA`` overrides it; ``/work/shared/data`` for a clone made
    elsewhere on the development machines). Tests that need it skip when it is absent."""
    candidates = [
        os.environ.get("ASL_SHARED_DATA"),
        Path(__file__).resolve().parents[2] / "shared" / "data",
        "/work/shared/data",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


#: the shared real data (UCF-101-24 annotations, I3D key lists)
SHARED_DATA = _shared_data()

# small and fast: 6 videos of 12-30 frames, 20 training steps
SMALL_TASK: dict[str, Any] = {
    "type": "fake",
    "num_videos": 6,
    "num_test_videos": 3,
    "min_frames": 12,
    "max_frames": 30,
    "train_steps": 20,
}


@pytest.fixture
def manager() -> PluginManager:
    """A fresh, strict manager with the installed plugins (what asl-run uses, but strict)."""
    return make_plugin_manager(strict=True, environ={})


def small_config(**options: Any) -> dict[str, Any]:
    """The default config on the small FakeTask, with dotted overrides."""
    values = {f"task.{k}": v for k, v in SMALL_TASK.items() if k != "type"}
    return build_config(plugins={"task": "fake"}, values=values, cfg_options=options)
