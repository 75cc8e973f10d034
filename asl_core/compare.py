"""Aggregating runs into comparison tables: mean ± std over seeds and the area under the budget
curve (the numeric core of ``asl-run compare``, issue 5).

A *method* (a strategy: scorer, selector, loss...) is run with several seeds over the same budget
schedule. Each run gives, per cycle, the labelled share of the pool (or the annotation cost
spent) and the task's metrics. This module turns those into:

* :func:`aggregate` — per method, per budget point and metric: ``mean``, ``std`` and ``n``.
  ``std`` is the sample standard deviation (``ddof = 1``: the seeds are a sample of what the
  method does); with one seed it is ``nan``, shown as no error bar, never as a fake 0.
* :func:`aubc` — the area under a metric-vs-budget curve (trapezoids), divided by the budget
  range it spans, i.e. the curve's mean height: one number per run that rewards being good
  early, comparable across schedules with the same range.
* :func:`format_cell` and :func:`best_per_column` — how tables show ``mean ± std (n)`` and mark
  the best method of each column.

The budget points of one method must agree across its seeds (same schedule); points are matched
by cycle index and their x value (% labelled or cost) is averaged, because the same percentage
step can round to a frame more or less in a run with a different pool. Mixing schedules is an
error, not a silent mismatch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from attrs import frozen

__all__ = [
    "Aggregate",
    "CurvePoint",
    "aggregate",
    "aubc",
    "best_per_column",
    "format_cell",
    "mean_std",
]


@frozen
class CurvePoint:
    """One cycle of one run: where on the budget axis it is and what the model reached.

    Attributes:
        x: labelled share of the pool in % (or the annotation cost spent so far).
        metrics: the task's metrics after training on those labels.
    """

    x: float
    metrics: Mapping[str, float]


@frozen
class Aggregate:
    """A metric of one method at one budget point over its seeds.

    Attributes:
        x: the budget point (mean over the seeds' x values).
        mean: mean of the metric over the seeds.
        std: sample standard deviation (``ddof = 1``); ``nan`` with one seed.
        n: number of seeds that have the point.
    """

    x: float
    mean: float
    std: float
    n: int


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof=1``; ``nan`` for a single value)."""
    arr = np.asarray(values, dtype=np.float64)
    mean = float(arr.mean())
    std = float(arr.std(ddof=1)) if arr.size > 1 else math.nan
    return mean, std


def aggregate(
    runs: Mapping[str, Sequence[Sequence[CurvePoint]]], metric: str
) -> dict[str, list[Aggregate]]:
    """Mean ± std of ``metric`` per method and budget point over seeds.

    Args:
        runs: per method, one curve per seed (cycle order). All curves of a method must have the
            same number of points.
        metric: the metric to aggregate; every point must have it.

    Returns:
        Per method, one :class:`Aggregate` per budget point, in cycle order.

    Raises:
        ValueError: if a method has no run, its runs have different lengths (different budget
            schedules), or a point lacks ``metric``.
    """
    out: dict[str, list[Aggregate]] = {}
    for method, curves in runs.items():
        if not curves:
            raise ValueError(f"method {method!r} has no run")
        lengths = {len(c) for c in curves}
        if len(lengths) != 1:
            raise ValueError(
                f"method {method!r}: runs have different numbers of cycles {sorted(lengths)}; "
                "compare runs of the same budget schedule only"
            )
        points: list[Aggregate] = []
        for i in range(lengths.pop()):
            values, xs = [], []
            for seed, curve in enumerate(curves):
                if metric not in curve[i].metrics:
                    raise ValueError(
                        f"method {method!r}, run {seed}, cycle {i}: no metric {metric!r}"
                    )
                values.append(float(curve[i].metrics[metric]))
                xs.append(float(curve[i].x))
            mean, std = mean_std(values)
            points.append(Aggregate(float(np.mean(xs)), mean, std, len(values)))
        out[method] = points
    return out


def aubc(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Area under the budget curve, normalised by its x range (the curve's mean height).

    Trapezoidal rule over the points sorted by ``x``; equal to ``ys[0]`` for a single point
    (nothing to integrate, and a one-cycle run's value is its only measurement).

    Args:
        xs: budget points (% labelled or cost), strictly increasing after sorting.
        ys: the metric at each point.

    Returns:
        ``(1 / (x_max - x_min)) * integral of y dx``.

    Raises:
        ValueError: for empty or mismatched inputs, repeated x values or non-finite numbers.
    """
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or x.size == 0:
        raise ValueError(
            f"xs and ys must be two 1-D sequences of one length, got {x.shape}, {y.shape}"
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("xs and ys must be finite")
    if x.size == 1:
        return float(y[0])
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if (np.diff(x) <= 0).any():
        raise ValueError(f"budget points must be distinct, got {x.tolist()}")
    area = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))
    return area / float(x[-1] - x[0])


def format_cell(mean: float, std: float, n: int, *, digits: int = 3, best: bool = False) -> str:
    """``"0.512 ± 0.034 (3)"``; without the ``±`` part when ``std`` is ``nan`` (one seed);
    wrapped in ``**`` when ``best`` (markdown bold)."""
    text = f"{mean:.{digits}f}"
    if not math.isnan(std):
        text += f" ± {std:.{digits}f}"
    text += f" ({n})"
    return f"**{text}**" if best else text


def best_per_column(means: Mapping[str, float], *, higher_is_better: bool = True) -> set[str]:
    """The methods whose mean is the best of the column (all of them on an exact tie).

    Args:
        means: method → mean of one column; ``nan`` entries never win.
        higher_is_better: ``False`` for costs or errors.

    Returns:
        The set of best methods (empty when every mean is ``nan``).
    """
    finite = {m: v for m, v in means.items() if not math.isnan(v)}
    if not finite:
        return set()
    target = max(finite.values()) if higher_is_better else min(finite.values())
    return {m for m, v in finite.items() if v == target}
