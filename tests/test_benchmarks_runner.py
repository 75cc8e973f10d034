"""``benchmarks/run_all.py`` names scripts that exist and options they define, so the one
command that runs every benchmark cannot silently drift from the scripts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _runner():
    spec = importlib.util.spec_from_file_location("run_all", BENCH / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_all"] = module
    spec.loader.exec_module(module)
    return module


RUNNER = _runner()
ENTRIES = {**RUNNER.BENCHMARKS, **RUNNER.EXTRA}


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_every_listed_benchmark_exists_and_defines_its_options(name: str) -> None:
    source = (BENCH / f"{name}.py").read_text()
    assert '"--record"' in source, f"{name} cannot --record"
    for args in ENTRIES[name]:
        for arg in args[: args.index("--")] if "--" in args else args:
            if arg.startswith("--"):
                assert f'"{arg}"' in source, f"{name} has no option {arg}"


def test_every_benchmark_script_is_listed() -> None:
    # diagnose_uncertainty needs run directories to diagnose: it is a tool, not a benchmark
    scripts = {p.stem for p in BENCH.glob("*.py")} - {"_common", "run_all", "diagnose_uncertainty"}
    assert scripts == set(ENTRIES)
