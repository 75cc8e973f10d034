"""Tests of the registration of the built-in strategies through hooks and entry points."""

from __future__ import annotations

import subprocess
import sys

import pytest

from asl_core import Scorer, Selector, SparseLoss
from asl_core.plugins import make_plugin_manager

EXPECTED = {
    "scorer": (["aghdam", "apu", "equidistant", "gal", "random"], Scorer),
    "selector": (["global", "local", "video"], Selector),
    "loss": (["interpolation", "masking", "mgw"], SparseLoss),
}


def test_hooks_module_registers_every_strategy() -> None:
    """Registering asl_strategies.hooks by hand yields every built-in name of each kind."""
    import asl_strategies.hooks as hooks

    manager = make_plugin_manager(load_entrypoints=False, strict=True)
    assert manager.add_plugin(hooks, "strategies")
    for kind, (names, _) in EXPECTED.items():
        assert manager.names(kind) == names


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_entry_point_strategies_build_and_satisfy_protocols(kind: str) -> None:
    """Every strategy registered by the installed 'strategies' entry point builds from an
    empty config and satisfies its protocol."""
    manager = make_plugin_manager(strict=True, environ={"ASL_LOAD_PLUGINS": "strategies"})
    names, protocol = EXPECTED[kind]
    assert manager.names(kind) == names
    for name in names:
        assert isinstance(manager.build(kind, name, {"type": name}), protocol)


def test_importing_hooks_imports_no_strategy_module() -> None:
    """Importing the hooks module loads no strategy implementation and no torch."""
    code = (
        "import sys, asl_strategies.hooks\n"
        "loaded = [m for m in sys.modules if m.startswith('asl_strategies.')]\n"
        "assert loaded == ['asl_strategies.hooks'], loaded\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
