"""Listing plugins must stay cheap: no torch, no mmengine, no strategy implementation (R8).

Each test runs a fresh interpreter, because this process may already have imported anything.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

HEAVY = ("torch", "mmengine")


def run_python(*parts: str) -> None:
    """Run the (dedented) code ``parts`` in a fresh interpreter; fail with its output if it fails."""
    code = "\n".join(textwrap.dedent(part).strip("\n") for part in parts)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        # the user's ASL_* settings must not change which plugins load
        env={k: v for k, v in os.environ.items() if not k.startswith("ASL_")},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


CHECK_HEAVY = f"""
    heavy = [m for m in {HEAVY!r} if m in sys.modules]
    assert not heavy, f"imported: {{heavy}}"
"""


def test_importing_asl_core_imports_nothing_heavy() -> None:
    """``import asl_core`` and ``asl_core.hookspecs`` import neither torch nor mmengine."""
    run_python("import sys, asl_core, asl_core.hookspecs, asl_core.plugins", CHECK_HEAVY)


def test_cli_plugins_json_imports_nothing_heavy() -> None:
    """``asl-run plugins --json`` imports neither torch nor mmengine."""
    run_python(
        """
        import contextlib, io, sys
        from asl_core.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["plugins", "--json"]) == 0
        """,
        CHECK_HEAVY,
    )


def test_default_manager_and_module_files_import_nothing_heavy() -> None:
    """Building the default plugin manager and finding every entry's module file imports no
    heavy library and no lazy factory module."""
    run_python(
        """
        import sys
        from asl_core.plugins import default_plugin_manager
        manager = default_plugin_manager()
        entries = manager.entries()
        assert entries and not manager.failed, (entries, manager.failed)
        for e in entries:
            assert e.module_file(), e
            e.to_dict()
        factories = {e.module for e in entries if isinstance(e.factory, str)}
        loaded = sorted(m for m in factories if m in sys.modules)
        assert not loaded, f"lazy factory modules imported by listing: {loaded}"
        """,
        CHECK_HEAVY,
    )
