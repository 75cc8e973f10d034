"""Every entry point in pyproject.toml loads as an installer would, and every lazy factory resolves.

This catches stale targets after a rename (huggingface/kernels#830) and an editable install whose
metadata no longer matches pyproject.toml.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import inspect
from pathlib import Path

import pytest

from asl_core.hookspecs import ENTRY_POINT_GROUP, KINDS, PROJECT
from asl_core.plugins import PluginEntry, make_plugin_manager

tomllib = pytest.importorskip("tomllib")

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def declared_entry_points() -> dict[str, str]:
    """``[project.entry-points.asl]`` of pyproject.toml."""
    with PYPROJECT.open("rb") as f:
        project = tomllib.load(f)["project"]
    return dict(project["entry-points"][ENTRY_POINT_GROUP])


def project_name() -> str:
    with PYPROJECT.open("rb") as f:
        return str(tomllib.load(f)["project"]["name"])


DECLARED = declared_entry_points()


def installed_entries() -> list[PluginEntry]:
    """Entries registered by the installed entry points (ASL_* ignored; failures are another test)."""
    return make_plugin_manager(environ={}, strict=False).entries()


def test_pyproject_declares_entry_points() -> None:
    """pyproject.toml declares at least one ``asl`` entry point."""
    assert DECLARED


@pytest.mark.parametrize(("ep_name", "value"), sorted(DECLARED.items()))
def test_declared_entry_point_imports_and_has_hookimpls(ep_name: str, value: str) -> None:
    """Each declared entry point imports (as an installer resolves it) and implements at least
    one registration hook, all of them with pluggy-valid names."""
    module_name, _, attr = value.partition(":")
    obj = importlib.import_module(module_name.strip())
    for part in filter(None, attr.strip().split(".")):
        obj = getattr(obj, part)
    impls = [name for name, member in inspect.getmembers(obj) if hasattr(member, f"{PROJECT}_impl")]
    assert impls, f"entry point {ep_name!r} ({value}) defines no @hookimpl"
    unknown = set(impls) - set(KINDS)
    assert not unknown, f"entry point {ep_name!r} implements unknown hooks {sorted(unknown)}"


def test_installed_metadata_matches_pyproject() -> None:
    """The installed distribution declares exactly pyproject.toml's ``asl`` entry points
    (otherwise re-run ``pip install -e .``)."""
    dist = md.distribution(project_name())
    installed = {ep.name: ep.value for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP}
    assert installed == DECLARED


def test_installed_entry_points_load_strictly() -> None:
    """Loading every installed entry point strictly raises nothing and registers something."""
    manager = make_plugin_manager(environ={}, strict=True)
    assert manager.failed == []
    assert manager.entries()


@pytest.mark.parametrize("entry", installed_entries(), ids=lambda e: f"{e.kind}-{e.name}")
def test_registered_factory_resolves_to_a_callable(entry: PluginEntry) -> None:
    """Every registered factory (lazy string or object) imports and is callable."""
    factory = entry.load()
    assert callable(factory), f"{entry.target} is not callable"


@pytest.mark.parametrize("entry", installed_entries(), ids=lambda e: f"{e.kind}-{e.name}")
def test_registered_factory_module_file_matches_loaded_module(entry: PluginEntry) -> None:
    """module_file() names the file the factory is actually defined in."""
    factory = entry.load()
    module = importlib.import_module(factory.__module__)
    assert entry.module_file() == module.__file__
