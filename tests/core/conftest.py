"""Fixtures for the core tests: throw-away plugin modules on ``sys.path``."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from asl_core.plugins import default_plugin_manager


class ModuleWriter:
    """Writes uniquely named top-level modules into a directory that is on ``sys.path``.

    Unique names keep ``sys.modules`` from leaking a module between tests; every name handed
    out is removed from ``sys.modules`` when the test ends.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.names: list[str] = []

    def name(self, prefix: str = "asl_test_mod") -> str:
        """Reserve a fresh module name starting with ``prefix``."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.names.append(name)
        return name

    def write(self, source: str, *, name: str | None = None, prefix: str = "asl_test_mod") -> str:
        """Write ``source`` as module ``name`` (or a fresh name) and return the module name."""
        name = name or self.name(prefix)
        (self.root / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        # the path finder caches directory listings; a file written after the first lookup in
        # this directory would otherwise stay invisible
        importlib.invalidate_caches()
        return name

    def hooks(self, hook: str = "register_scorers", **registrations: str) -> str:
        """Write a plugin module whose ``hook`` registers ``name=factory`` pairs."""
        lines = "".join(
            f"    register({n!r}, {f!r}, summary='test {n}')\n" for n, f in registrations.items()
        )
        source = (
            "from asl_core import hookimpl\n\n\n"
            f"@hookimpl\ndef {hook}(register):\n{lines or '    pass'}\n"
        )
        return self.write(source, prefix="asl_test_hooks")

    def cleanup(self) -> None:
        for name in self.names:
            sys.modules.pop(name, None)


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleWriter]:
    """A :class:`ModuleWriter` over ``tmp_path``, which is prepended to ``sys.path``."""
    monkeypatch.syspath_prepend(str(tmp_path))
    writer = ModuleWriter(tmp_path)
    yield writer
    writer.cleanup()


@pytest.fixture
def fresh_default_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Clear the cached default plugin manager (and the ASL_* variables) around a test."""
    for key in (
        "ASL_DISABLE_PLUGINS",
        "ASL_LOAD_PLUGINS",
        "ASL_STRICT_PLUGINS",
        "ASL_TRACE_PLUGINS",
    ):
        monkeypatch.delenv(key, raising=False)
    default_plugin_manager.cache_clear()
    yield
    default_plugin_manager.cache_clear()
