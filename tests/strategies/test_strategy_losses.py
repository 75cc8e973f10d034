"""Tests of the sparse losses: masking, interpolation and MGW (paper §3.2, eq. 4)."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from asl_strategies.losses.interpolation import InterpolationLoss, interpolation_weights
from asl_strategies.losses.masking import MaskingLoss, masking_weights
from asl_strategies.losses.mgw import MGWLoss, MGWParams, mgw_weights
from hypothesis import given, settings
from hypothesis import strategies as st

from asl_core import ConfigError, SparseLoss

LOSSES = [MaskingLoss, InterpolationLoss, MGWLoss]


@st.composite
def videos(draw: st.DrawFn) -> tuple[int, np.ndarray]:
    """A frame count 1..40 and a sorted set of labelled frames (possibly empty)."""
    num_frames = draw(st.integers(1, 40))
    labelled = draw(st.sets(st.integers(0, num_frames - 1), max_size=num_frames))
    return num_frames, np.array(sorted(labelled), dtype=np.int64)


# --------------------------------------------------------------------------- known answers


def test_mgw_known_weights_single_label() -> None:
    """MGW weights for F=7, labelled [2], sigma=1.3 are Gaussians of distances 0..4."""
    expected = [
        math.exp(-2 / 1.69),
        math.exp(-0.5 / 1.69),
        1.0,
        math.exp(-0.5 / 1.69),
        math.exp(-2 / 1.69),
        math.exp(-4.5 / 1.69),
        math.exp(-8 / 1.69),
    ]
    np.testing.assert_allclose(mgw_weights(7, [2], 1.3), expected, rtol=1e-12)


def test_mgw_uses_closest_labelled_frame() -> None:
    """With labels [1, 5] each frame takes the Gaussian of its closest label (max, not sum)."""
    distances = np.array([1, 0, 1, 2, 1, 0, 1], dtype=np.float64)
    expected = np.exp(-0.5 * (distances / 1.3) ** 2)
    np.testing.assert_allclose(mgw_weights(7, [1, 5], 1.3), expected, rtol=1e-12)


def test_mgw_no_label_gives_zero_weights() -> None:
    """A video without labelled frames gets weight 0 everywhere under MGW."""
    np.testing.assert_array_equal(mgw_weights(5, []), np.zeros(5))


def test_mgw_default_sigma_is_paper_value() -> None:
    """MGWLoss defaults to the paper's sigma of 1.3."""
    assert MGWLoss().params.sigma == 1.3
    np.testing.assert_array_equal(MGWLoss().frame_weights(7, np.array([2])), mgw_weights(7, [2]))


def test_masking_known_weights() -> None:
    """Masking weights are 1 on labelled frames and 0 elsewhere."""
    np.testing.assert_array_equal(masking_weights(5, [0, 3]), [1.0, 0.0, 0.0, 1.0, 0.0])


def test_interpolation_known_weights() -> None:
    """Interpolation weights are 1 on every frame once a frame is labelled."""
    np.testing.assert_array_equal(interpolation_weights(4, [2]), np.ones(4))


def test_interpolation_no_label_gives_zero_weights() -> None:
    """Interpolation has no pseudo-labels to train on without a labelled frame."""
    np.testing.assert_array_equal(interpolation_weights(4, []), np.zeros(4))


@pytest.mark.parametrize("cls", LOSSES)
def test_reduce_is_weighted_mean_over_frames(cls: type) -> None:
    """Every loss reduces ``[..., F]`` losses to their weighted mean over frames."""
    loss = cls()
    weights = loss.frame_weights(4, np.array([1, 3]))
    per_frame = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 8.0]])
    expected = (per_frame * weights).sum(-1) / weights.sum()
    np.testing.assert_allclose(loss.reduce(per_frame, weights), expected)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("fn", [masking_weights, interpolation_weights, mgw_weights])
@pytest.mark.parametrize("labelled", [[5], [-1], [2, 1], [1, 1], [1.5]])
def test_invalid_labelled_frames_raise(fn: object, labelled: list[int]) -> None:
    """Out-of-range, unsorted or repeated labelled frames raise ValueError."""
    with pytest.raises(ValueError):
        fn(5, labelled)  # type: ignore[operator]


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("nan"), float("inf")])
def test_mgw_rejects_bad_sigma(sigma: float) -> None:
    """A sigma that is not finite and positive is a ConfigError from from_config."""
    with pytest.raises(ConfigError, match="sigma"):
        MGWLoss.from_config({"sigma": sigma})


def test_mgw_from_config_sets_sigma() -> None:
    """MGWLoss.from_config converts and stores sigma."""
    loss = MGWLoss.from_config({"type": "mgw", "sigma": 2})
    assert loss.params == MGWParams(sigma=2.0)
    assert loss.frame_weights(3, np.array([0]))[1] == pytest.approx(math.exp(-0.5 / 4))


def test_mgw_from_config_rejects_misspelled_sigma() -> None:
    """A misspelled 'sigmaa' is rejected with a hint naming 'sigma'."""
    with pytest.raises(ConfigError, match="did you mean 'sigma'"):
        MGWLoss.from_config({"sigmaa": 2.0})


@pytest.mark.parametrize("cls", [MaskingLoss, InterpolationLoss])
def test_parameterless_losses_reject_any_key(cls: type) -> None:
    """Masking and interpolation take no parameter, so any key is a ConfigError."""
    assert isinstance(cls.from_config({}), cls)
    with pytest.raises(ConfigError, match="unknown parameter 'sigma'"):
        cls.from_config({"sigma": 1.0})


@pytest.mark.parametrize("cls", LOSSES)
def test_losses_satisfy_protocol_and_pickle(cls: type) -> None:
    """Every loss is a SparseLoss and survives pickling unchanged."""
    loss = cls.from_config({})
    assert isinstance(loss, SparseLoss)
    assert pickle.loads(pickle.dumps(loss)) == loss


# --------------------------------------------------------------------------- properties


@settings(max_examples=150, deadline=None)
@given(videos(), st.floats(0.05, 50.0))
def test_mgw_weights_in_unit_interval_and_one_on_labels(
    video: tuple[int, np.ndarray], sigma: float
) -> None:
    """MGW weights lie in [0, 1] and are exactly 1 on labelled frames."""
    num_frames, labelled = video
    w = mgw_weights(num_frames, labelled, sigma)
    assert w.shape == (num_frames,) and w.dtype == np.float64
    assert np.all((w >= 0) & (w <= 1))
    assert np.all(w[labelled] == 1.0)


@settings(max_examples=150, deadline=None)
@given(videos(), st.floats(0.05, 50.0))
def test_mgw_matches_brute_force_max_of_gaussians(
    video: tuple[int, np.ndarray], sigma: float
) -> None:
    """The vectorised MGW equals the max over one Gaussian per labelled frame (eq. 4)."""
    num_frames, labelled = video
    frames = np.arange(num_frames)
    expected = np.zeros(num_frames)
    for mu in labelled:
        expected = np.maximum(expected, np.exp(-0.5 * ((frames - mu) / sigma) ** 2))
    np.testing.assert_allclose(mgw_weights(num_frames, labelled, sigma), expected, rtol=1e-12)


@settings(max_examples=100, deadline=None)
@given(videos(), st.floats(1e-300, 1e-3))
def test_mgw_tends_to_masking_as_sigma_shrinks(video: tuple[int, np.ndarray], sigma: float) -> None:
    """As sigma -> 0 the MGW weights become the masking weights."""
    num_frames, labelled = video
    np.testing.assert_array_equal(
        mgw_weights(num_frames, labelled, sigma), masking_weights(num_frames, labelled)
    )


@settings(max_examples=100, deadline=None)
@given(videos(), st.floats(1e6, 1e12))
def test_mgw_tends_to_interpolation_as_sigma_grows(
    video: tuple[int, np.ndarray], sigma: float
) -> None:
    """As sigma -> infinity the MGW weights become the interpolation weights."""
    num_frames, labelled = video
    np.testing.assert_allclose(
        mgw_weights(num_frames, labelled, sigma),
        interpolation_weights(num_frames, labelled),
        atol=1e-8,
    )


@settings(max_examples=100, deadline=None)
@given(videos())
def test_masking_and_interpolation_bound_mgw(video: tuple[int, np.ndarray]) -> None:
    """MGW weights lie between the masking and the interpolation weights."""
    num_frames, labelled = video
    w = mgw_weights(num_frames, labelled)
    assert np.all(masking_weights(num_frames, labelled) <= w)
    assert np.all(w <= interpolation_weights(num_frames, labelled))
