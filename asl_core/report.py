"""The human-readable ``report.md`` of a finished run.

Everything in it is also in machine-readable form (``summary.json``, ``config.json``, the
per-cycle ``metrics.json`` and ``timing.json``); the report puts the numbers a person looks at
first on one page: which strategy ran, how many frames were bought at what cost, what the model
reached after each cycle and where the time went.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .types import CycleResult

__all__ = ["PHASES", "render_report"]

#: phases in the order a cycle runs them (the score phase is called "predict" by some loops)
PHASES: tuple[str, ...] = ("annotate", "train", "evaluate", "predict", "score", "select")


def _metric_names(results: Sequence[CycleResult], headline: Sequence[str]) -> list[str]:
    names: list[str] = []
    for r in results:
        names.extend(k for k in r.metrics if k not in names)
    if headline:
        names = [n for n in headline if n in names]
    return names


def _fmt(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"


def render_report(
    results: Sequence[CycleResult],
    *,
    plugins: Mapping[str, str],
    seed: int,
    budget: Mapping[str, Any],
    stopped_because: str,
    headline: Sequence[str] = (),
) -> str:
    """Markdown report of a run.

    Args:
        results: every cycle's result, in cycle order (``seconds`` filled in).
        plugins: plugin name per section (``task``, ``scorer``, ``selector``, ``loss``,
            ``oracle``).
        seed: the run seed.
        budget: the budget section of the config.
        stopped_because: why the run ended.
        headline: metrics to show (all when empty), in this order.

    Returns:
        The report text, ending with a newline.
    """
    names = _metric_names(results, headline)
    phases = [p for p in PHASES if any(p in r.seconds for r in results)]
    strategy = ", ".join(f"{k} `{v}`" for k, v in plugins.items())
    lines = [
        f"# Active-sparse-labeling run: {plugins.get('task', '?')} · "
        f"{plugins.get('scorer', '?')} · {plugins.get('selector', '?')}",
        "",
        f"Plugins: {strategy}. Seed {seed}. Budget: "
        + ", ".join(f"{k}={v}" for k, v in budget.items())
        + ".",
        "",
        "## Labels and results per cycle",
        "",
        "Cycle 0 trains on the random initial labels; each later cycle on the labels bought by "
        "the scorer and selector on top of them. Metrics are the task's, on its test videos.",
        "",
    ]
    header = ["cycle", "labelled frames", "% of pool", "bought", "cost", *names]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for r in results:
        row = [
            str(r.cycle),
            str(r.labelled_frames),
            f"{r.labelled_pct:.2f}",
            str(r.bought_frames),
            f"{r.cost:g}",
            *(_fmt(r.metrics[n]) if n in r.metrics else "-" for n in names),
        ]
        lines.append("| " + " | ".join(row) + " |")
    total_cost = sum(r.cost for r in results)
    lines += ["", f"Total annotation cost: {total_cost:g}."]
    if phases:
        lines += [
            "",
            "## Time per phase (seconds)",
            "",
            "| cycle | " + " | ".join(phases) + " | total |",
            "|" + "---|" * (len(phases) + 2),
        ]
        for r in results:
            cells = [f"{r.seconds[p]:.1f}" if p in r.seconds else "-" for p in phases]
            lines.append(
                f"| {r.cycle} | " + " | ".join(cells) + f" | {sum(r.seconds.values()):.1f} |"
            )
        grand = sum(sum(r.seconds.values()) for r in results)
        lines += ["", f"Total: {grand:.1f} s ({grand / 60:.1f} min)."]
    lines += [
        "",
        f"Stopped because: {stopped_because or 'the budget schedule ended'}.",
        "",
        "Files: `ledger.jsonl` (every purchased label), `summary.json` (this table as JSON), "
        "`config.py` (the merged config, reusable with `--config`), "
        "`cycles/NNN/{selection.json, model*, metrics.json, timing.json}`.",
    ]
    return "\n".join(lines) + "\n"
