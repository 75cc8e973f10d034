"""Aggregation for comparison tables: mean ± std, AUBC, cells, best per column."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from asl_core.compare import (
    Aggregate,
    CurvePoint,
    aggregate,
    aubc,
    best_per_column,
    format_cell,
)


def curve(*pairs: tuple[float, float]) -> list[CurvePoint]:
    return [CurvePoint(x, {"v": y}) for x, y in pairs]


def test_aggregate_hand_computed():
    """Two seeds: means and sample stds per cycle, x averaged over the seeds.

    Cycle 0: v = 0.2, 0.4 -> mean 0.3, std = sqrt(((-.1)^2 + .1^2) / 1) = 0.141421...
    Cycle 1: v = 0.5, 0.5 -> mean 0.5, std 0; x = (10 + 10.2) / 2 = 10.1.
    """
    runs = {"apu": [curve((5, 0.2), (10, 0.5)), curve((5, 0.4), (10.2, 0.5))]}
    (p0, p1) = aggregate(runs, "v")["apu"]
    assert p0 == Aggregate(5.0, pytest.approx(0.3), pytest.approx(math.sqrt(0.02)), 2)
    assert p1.x == pytest.approx(10.1) and p1.mean == 0.5 and p1.std == 0.0 and p1.n == 2


def test_one_seed_has_no_error_bar():
    """With one seed the std is nan (no error bar), never a made-up 0."""
    (p,) = aggregate({"m": [curve((5, 0.7))]}, "v")["m"]
    assert p.mean == 0.7 and math.isnan(p.std) and p.n == 1


def test_mixed_schedules_and_missing_metrics_are_refused():
    """Runs of one method with different cycle counts, or a missing metric, are errors."""
    with pytest.raises(ValueError, match="different numbers of cycles"):
        aggregate({"m": [curve((5, 0.1)), curve((5, 0.1), (10, 0.2))]}, "v")
    with pytest.raises(ValueError, match="no metric 'w'"):
        aggregate({"m": [curve((5, 0.1))]}, "w")
    with pytest.raises(ValueError, match="no run"):
        aggregate({"m": []}, "v")


def test_aubc_hand_computed():
    """Points (0, 0), (10, 1), (20, 1): area = 10*0.5 + 10*1 = 15 over a range of 20 -> 0.75."""
    assert aubc([0, 10, 20], [0, 1, 1]) == pytest.approx(0.75)
    assert aubc([20, 0, 10], [1, 0, 1]) == pytest.approx(0.75)  # order does not matter
    assert aubc([5], [0.4]) == 0.4


def test_aubc_rejects_bad_input():
    with pytest.raises(ValueError, match="distinct"):
        aubc([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="one length"):
        aubc([1, 2], [0.1])
    with pytest.raises(ValueError, match="finite"):
        aubc([1, 2], [0.1, math.nan])


@given(
    st.lists(st.floats(0, 1), min_size=2, max_size=8),
    st.floats(-1, 1),
)
def test_aubc_of_a_shifted_curve_shifts_by_the_same_amount(ys, shift):
    """The AUBC is a mean height: adding c to every y adds c; it lies within [min y, max y]."""
    xs = list(range(len(ys)))
    base = aubc(xs, ys)
    assert min(ys) - 1e-12 <= base <= max(ys) + 1e-12
    assert aubc(xs, [y + shift for y in ys]) == pytest.approx(base + shift, abs=1e-9)


def test_format_cell():
    assert format_cell(0.51234, 0.03411, 3) == "0.512 ± 0.034 (3)"
    assert format_cell(0.5, math.nan, 1) == "0.500 (1)"
    assert format_cell(0.5, 0.1, 2, best=True, digits=1) == "**0.5 ± 0.1 (2)**"


def test_best_per_column():
    assert best_per_column({"a": 0.3, "b": 0.5, "c": 0.5}) == {"b", "c"}
    assert best_per_column({"a": 3.0, "b": 2.0}, higher_is_better=False) == {"b"}
    assert best_per_column({"a": math.nan, "b": 0.1}) == {"b"}
    assert best_per_column({"a": math.nan}) == set()


def test_aggregate_matches_numpy_on_random_runs():
    """Against numpy directly on a 3-method, 4-seed, 5-cycle random grid."""
    rng = np.random.default_rng(0)
    values = rng.random((3, 4, 5))
    runs = {
        f"m{i}": [curve(*[(5.0 * (c + 1), values[i, s, c]) for c in range(5)]) for s in range(4)]
        for i in range(3)
    }
    result = aggregate(runs, "v")
    for i in range(3):
        np.testing.assert_allclose([p.mean for p in result[f"m{i}"]], values[i].mean(axis=0))
        np.testing.assert_allclose([p.std for p in result[f"m{i}"]], values[i].std(axis=0, ddof=1))
