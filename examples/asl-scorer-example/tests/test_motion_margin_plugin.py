"""The motion_margin scorer as a plugin: the ASL scorer contract (``asl_core.testing``), its
registration hook, and discovery of the installed distribution through the ``asl`` entry-point
group. The last two tests need the package installed (``pip install -e .``)."""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys
from pathlib import Path

import pytest
from asl_core.testing import check_scorer, make_test_plugin_manager, registered

from asl_scorer_example import hooks
from asl_scorer_example.motion_margin import MotionMarginParams, MotionMarginScorer

tomllib = pytest.importorskip("tomllib")

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
with PYPROJECT.open("rb") as _f:
    PROJECT = tomllib.load(_f)["project"]


def test_scorer_conforms_with_its_defaults():
    """MotionMarginScorer passes the ASL scorer contract (check_scorer builds it from {})."""
    check_scorer(MotionMarginScorer)


@pytest.mark.parametrize(
    "params",
    [
        MotionMarginParams(gamma=0.0, tau=1.0),
        MotionMarginParams(gamma=5.0, sigma=0.01, lam=0.0),
        MotionMarginParams(lam=1.0),
    ],
    ids=["margin-only-no-suppression", "tiny-sigma-distance-only", "uncertainty-only"],
)
def test_scorer_conforms_at_the_parameter_extremes(params):
    """The contract also holds at the ends of the parameter ranges."""
    check_scorer(MotionMarginScorer(params))


def test_hook_registers_a_lazy_factory():
    """The hooks module registers 'motion_margin' as a "module:Class" string that builds the
    scorer with its parameters."""
    manager = make_test_plugin_manager()
    with registered(manager, hooks, name="scorer_example"):
        entry = manager.get("scorer", "motion_margin")
        assert entry.factory == "asl_scorer_example.motion_margin:MotionMarginScorer"
        assert entry.build({"gamma": 2}).params.gamma == 2.0


def test_hooks_module_does_not_import_the_scorer():
    """Importing the entry-point module (what listing plugins does) leaves the implementation
    module unimported."""
    code = (
        "import sys, asl_scorer_example.hooks; "
        "assert 'asl_scorer_example.motion_margin' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_installed_distribution_declares_the_entry_point():
    """The installed metadata declares pyproject.toml's ``asl`` entry points (otherwise
    reinstall with ``pip install -e .``)."""
    try:
        dist = md.distribution(PROJECT["name"])
    except md.PackageNotFoundError:
        pytest.fail(f"{PROJECT['name']} is not installed: pip install -e {PYPROJECT.parent}")
    installed = {ep.name: ep.value for ep in dist.entry_points if ep.group == "asl"}
    assert installed == PROJECT["entry-points"]["asl"]
    assert dist.version == PROJECT["version"]


def test_installed_plugin_is_discovered_with_its_distribution():
    """A plugin manager that loads the installed entry points (strictly) finds
    'motion_margin' from this distribution and version."""
    entry = make_test_plugin_manager(load_entrypoints=True).get("scorer", "motion_margin")
    assert (entry.dist, entry.version) == (PROJECT["name"], PROJECT["version"])
