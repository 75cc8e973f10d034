"""Shared helpers of the benchmarks: timing, markdown tables, machine facts, recording."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
RESULTS = ROOT / "docs" / "benchmarks.md"


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Run ``fn`` ``repeat`` times; return the fastest wall time (s) and the last result."""
    best, result = float("inf"), None
    for _ in range(max(repeat, 1)):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def machine() -> str:
    """One line describing this machine and the library versions that matter."""
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.system()} {platform.machine()} ({cpu}), {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def record(title: str, table: str, notes: str = "", path: Path = RESULTS) -> None:
    """Append a result section (date, command, machine, table) to ``path``, by default
    docs/benchmarks.md (measured results of strategies go to docs/results.md)."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = "python " + " ".join(
        shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]
    )
    section = (
        f"\n### {title} — {stamp}\n\nCommand: `{command}`  \nMachine: {machine()}\n\n{table}\n"
    )
    if notes:
        section += f"\n{notes}\n"
    with open(path, "a") as fh:
        fh.write(section)


def whole_outputs(task: Any, model: Any, video: Any, rng: np.random.Generator) -> dict[str, Any]:
    """``task.predict`` of one video, its ``OutputChunk``s (if any) joined: the whole video's
    outputs, for diagnostics that need them (the loop itself never joins them)."""
    from asl_core import MC_PROBS, OUTPUT_FRAME_AXIS, OutputChunk

    parts: list[Any] = []
    for item in task.predict(model, [video], frozenset({MC_PROBS}), rng):
        if isinstance(item, OutputChunk):
            parts.append(item.outputs)
        else:
            parts.append(item[1])
    return {
        MC_PROBS: np.concatenate(
            [np.asarray(o[MC_PROBS]) for o in parts], axis=OUTPUT_FRAME_AXIS[MC_PROBS]
        )
    }
