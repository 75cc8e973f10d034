"""Tests of the model-based scorers: APU (paper §3.1, eq. 1-3), Gal and Aghdam (§4.1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from asl_strategies.scorers.aghdam import (
    AghdamParams,
    AghdamScorer,
    aghdam_scores,
    frame_entropy,
)
from asl_strategies.scorers.apu import (
    PROB_FLOOR,
    ApuParams,
    ApuScorer,
    apu_scores,
    frame_uncertainty,
    normalise_pool,
    proximity_term,
)
from asl_strategies.scorers.gal import GalParams, GalScorer, gal_scores
from asl_strategies.selectors.global_greedy import global_select
from asl_strategies.selectors.local import local_select
from hypothesis import given, settings
from hypothesis import strategies as st

from asl_core import MC_PROBS, ConfigError, FrameStats, LabelState, Scorer, VideoInfo
from asl_core.testing import FakeTask, FakeTaskParams, check_scorer

SCORERS = [ApuScorer, GalScorer, AghdamScorer]

NO_LABELS = np.empty(0, dtype=np.int64)


def two_class_probs(actor: np.ndarray) -> np.ndarray:
    """``float32[T, F, 2, H, W]`` from actor probabilities ``[T, F, H, W]`` (background = 1 - p)."""
    actor = np.asarray(actor, dtype=np.float64)
    return np.stack([1.0 - actor, actor], axis=2).astype(np.float32)


def random_probs(rng: np.random.Generator, shape: tuple[int, ...], spread: float = 3.0):
    """Softmax over axis 2 of normal logits: ``float32[T, F, C, H, W]`` probabilities; a large
    ``spread`` makes many confidently-background (suppressed) pixels."""
    logits = rng.normal(0.0, spread, size=shape)
    logits -= logits.max(axis=2, keepdims=True)
    probs = np.exp(logits)
    return (probs / probs.sum(axis=2, keepdims=True)).astype(np.float32)


def labelled_array(frames) -> np.ndarray:
    out = np.array(sorted(frames), dtype=np.int64)
    out.setflags(write=False)
    return out


# --------------------------------------------------------------------------- interface


@pytest.mark.parametrize("cls", SCORERS)
def test_scorers_require_mc_probs(cls: type) -> None:
    """The three scorers need Monte-Carlo dropout probabilities, so the loop runs inference."""
    scorer = cls.from_config({})
    assert isinstance(scorer, Scorer)
    assert scorer.requires == frozenset({MC_PROBS})


def test_default_parameters_are_the_papers() -> None:
    """APU defaults to tau 0.9, sigma 1.3, lambda 0.5 (§3.1, §4); Gal to tau 0.9; Aghdam to w 3."""
    assert ApuScorer().params == ApuParams(tau=0.9, sigma=1.3, lam=0.5)
    assert GalScorer().params == GalParams(tau=0.9)
    assert AghdamScorer().params == AghdamParams(window=3)


@pytest.mark.parametrize(
    "scorer",
    [
        ApuScorer,
        ApuScorer(ApuParams(tau=0.1, sigma=0.01, lam=0.0)),
        ApuScorer(ApuParams(tau=0.999, sigma=50.0, lam=1.0)),
        GalScorer,
        GalScorer(GalParams(tau=0.5)),
        AghdamScorer,
        AghdamScorer(AghdamParams(window=0)),
        AghdamScorer(AghdamParams(window=40)),
    ],
)
def test_scorers_conform_with_various_parameters(scorer: object) -> None:
    """The scorer passes the conformance kit, also with extreme parameter values."""
    check_scorer(scorer)


# --------------------------------------------------------------------------- U (eq. 1)

# One 2x2 frame, T = 2 trials, C = 2 (background, actor). Actor probabilities per trial:
#   pixel a: (0.8, 0.6)   mean 0.7  -> label actor, bg 0.3 <= 0.9 active
#            -log 0.8 = 0.223144, -log 0.6 = 0.510826        mean 0.366985
#   pixel b: (0.3, 0.5)   mean 0.4  -> label background (bg 0.6), active
#            -log 0.7 = 0.356675, -log 0.5 = 0.693147        mean 0.524911
#   pixel c: (0.05, 0.01) mean 0.03 -> bg 0.97 > 0.9: suppressed
#   pixel d: (0.5, 0.5)   mean 0.5  -> tie, background wins (lowest class), active
#            -log 0.5 = 0.693147                              mean 0.693147
#   U = (0.366985 + 0.524911 + 0.693147) / 3 = 1.585043 / 3 = 0.528348
# A second frame with every pixel at actor probability (0.02, 0.04) is fully suppressed: U = 0.
U_EXAMPLE = two_class_probs(
    [
        [[[0.8, 0.3], [0.05, 0.5]], [[0.02, 0.02], [0.02, 0.02]]],
        [[[0.6, 0.5], [0.01, 0.5]], [[0.04, 0.04], [0.04, 0.04]]],
    ]
)


def test_uncertainty_known_answer_with_a_suppressed_pixel() -> None:
    """U is the mean over active pixels of the trial-mean -log P of the predicted label."""
    u = frame_uncertainty(U_EXAMPLE, 0.9)
    np.testing.assert_allclose(u, [0.528348, 0.0], atol=1e-6)
    assert u.dtype == np.float64


def test_uncertainty_without_suppression_counts_every_pixel() -> None:
    """With tau close to 1 pixel c counts too: its label is background, -log(0.95), -log(0.99)."""
    # pixel c: (0.051293 + 0.010050) / 2 = 0.030672; U = (1.585043 + 0.030672) / 4 = 0.403929
    u = frame_uncertainty(U_EXAMPLE[:, :1], 0.999)
    np.testing.assert_allclose(u, [0.403929], atol=1e-6)


def test_uncertainty_threshold_is_inclusive() -> None:
    """A pixel whose mean background probability equals tau stays active (inactive means > tau)."""
    probs = two_class_probs([[[[0.25]]]])  # background 0.75, exact in binary
    # active at tau = 0.75: label background, U = -log 0.75 = 0.287682
    np.testing.assert_allclose(frame_uncertainty(probs, 0.75), [0.287682], atol=1e-6)
    assert frame_uncertainty(probs, 0.7).tolist() == [0.0]


def test_uncertainty_floors_zero_probabilities() -> None:
    """A trial probability of exactly 0 counts as PROB_FLOOR, so U stays finite."""
    # actor (0, 1) in the two trials: mean 0.5, tie -> background, whose trial values are (1, 0)
    # U = (-log 1 + -log 1e-12) / 2 = 27.631021 / 2 = 13.815511
    probs = two_class_probs([[[[0.0]]], [[[1.0]]]])
    np.testing.assert_allclose(frame_uncertainty(probs), [-math.log(PROB_FLOOR) / 2])


def test_uncertainty_with_three_classes_uses_the_predicted_class() -> None:
    """With C = 3 the predicted label is the argmax of the trial-averaged distribution."""
    # one pixel, T = 2: (0.1, 0.3, 0.6) and (0.1, 0.5, 0.4); mean (0.1, 0.4, 0.5) -> class 2
    # U = (-log 0.6 - log 0.4) / 2 = (0.510826 + 0.916291) / 2 = 0.713558
    probs = np.array([[0.1, 0.3, 0.6], [0.1, 0.5, 0.4]], dtype=np.float32)[:, None, :, None, None]
    np.testing.assert_allclose(frame_uncertainty(probs), [0.713558], atol=1e-6)


def test_apu_frame_stats_store_u() -> None:
    """ApuScorer.frame_stats stores U of eq. 1 as 'u', one value per frame."""
    stats = ApuScorer().frame_stats(VideoInfo("v", 2), {MC_PROBS: U_EXAMPLE}, None)
    assert stats.video == "v" and stats.num_frames == 2
    np.testing.assert_allclose(stats.values["u"], [0.528348, 0.0], atol=1e-6)


# --------------------------------------------------------------------------- normalisation


def test_pool_normalisation_is_min_max_over_all_videos() -> None:
    """U_hat = (U - min) / (max - min) with min and max over every frame of the pool."""
    # pool min 1, max 5: a = (1, 2) -> (0, 0.25); b = (3, 5) -> (0.5, 1)
    out = normalise_pool({"a": [1.0, 2.0], "b": [3.0, 5.0], "empty": []})
    assert list(out) == ["a", "b", "empty"]
    np.testing.assert_array_equal(out["a"], [0.0, 0.25])
    np.testing.assert_array_equal(out["b"], [0.5, 1.0])
    assert out["empty"].shape == (0,)


def test_pool_normalisation_of_equal_values_is_zero() -> None:
    """When every U of the pool is equal, U_hat is 0 everywhere (D alone decides)."""
    out = normalise_pool({"a": [0.3, 0.3], "b": [0.3]})
    assert out["a"].tolist() == [0.0, 0.0] and out["b"].tolist() == [0.0]
    assert normalise_pool({}) == {}


def test_prepare_pool_adds_u_hat_and_keeps_pool_order() -> None:
    """prepare_pool returns every video, in the given order, with u kept and u_hat added."""
    stats = {v: FrameStats.of(v, 2, u=u) for v, u in (("z", [2.0, 4.0]), ("a", [0.0, 1.0]))}
    out = ApuScorer().prepare_pool(stats)
    assert list(out) == ["z", "a"]
    np.testing.assert_array_equal(out["z"].values["u"], [2.0, 4.0])
    np.testing.assert_array_equal(out["z"].values["u_hat"], [0.5, 1.0])
    np.testing.assert_array_equal(out["a"].values["u_hat"], [0.0, 0.25])


# --------------------------------------------------------------------------- D (eq. 2) and eq. 3

# 10 frames, frame 3 labelled, sigma = 1.3 (2 sigma^2 = 3.38): distances 3 2 1 0 1 2 3 4 5 6
#   D(d) = 1 - exp(-d^2 / 3.38):
#   D(0) = 0
#   D(1) = 1 - exp(-0.295858) = 1 - 0.743893 = 0.256107
#   D(2) = 1 - exp(-1.183432) = 1 - 0.306226 = 0.693774
#   D(3) = 1 - exp(-2.662722) = 1 - 0.069758 = 0.930242
#   D(4) = 1 - exp(-4.733728) = 1 - 0.008794 = 0.991206
#   D(5) = 1 - exp(-7.396450) = 1 - 0.000613 = 0.999387
#   D(6) = 1 - exp(-10.650888) = 1 - 0.000024 = 0.999976
D_TEN = [0.930242, 0.693774, 0.256107, 0.0, 0.256107, 0.693774, 0.930242, 0.991206, 0.999387,
         0.999976]  # fmt: skip


def test_distance_term_known_answer_one_label() -> None:
    """D of eq. 2 on 10 frames with frame 3 labelled (sigma 1.3): 0 there, rising with distance."""
    np.testing.assert_allclose(proximity_term(10, [3], 1.3), D_TEN, atol=1e-6)


def test_distance_term_uses_the_closest_label() -> None:
    """With several labels D is the Gaussian of the closest one (the mask phi of eq. 2)."""
    # labels 0 and 6 of 7 frames: distances 0 1 2 3 2 1 0
    expected = [0.0, 0.256107, 0.693774, 0.930242, 0.693774, 0.256107, 0.0]
    np.testing.assert_allclose(proximity_term(7, [0, 6], 1.3), expected, atol=1e-6)


def test_distance_term_is_one_without_labels() -> None:
    """In a video with no labelled frame D is 1 on every frame."""
    assert proximity_term(4, NO_LABELS).tolist() == [1.0, 1.0, 1.0, 1.0]
    assert proximity_term(0, NO_LABELS).shape == (0,)


# U_hat of the 10-frame video (min 0 and max 1, so prepare_pool leaves it unchanged):
U_HAT_TEN = np.array([0.2, 0.5, 0.9, 0.1, 1.0, 0.6, 0.3, 0.4, 0.0, 0.7])


def test_apu_scores_known_answer() -> None:
    """Eq. 3 with lambda 0.5: 0.5 U_hat + 0.5 D; the most uncertain frame 4 sits next to the label
    and loses to frame 9, which is less uncertain but far away."""
    # frame 4: 0.5 * 1.0 + 0.5 * 0.256107 = 0.628054;  frame 9: 0.35 + 0.5 * 0.999976 = 0.849988
    # frame 2: 0.45 + 0.128054 = 0.578054;  frame 7: 0.2 + 0.495603 = 0.695603
    scores = apu_scores(U_HAT_TEN, [3], 1.3, 0.5)
    expected = 0.5 * U_HAT_TEN + 0.5 * np.array(D_TEN)
    np.testing.assert_allclose(scores, expected, atol=1e-6)
    assert scores[9] == pytest.approx(0.849988, abs=1e-6)
    assert scores[4] == pytest.approx(0.628054, abs=1e-6)
    assert int(np.argmax(scores)) == 9


def test_apu_pick_order_with_rescoring() -> None:
    """Greedy APU picks 9, 5, 4, 1 on the 10-frame video: each pick lowers its neighbours."""
    # after labels {3}: best 9 (0.849988)
    # after {3, 9}: 5 = 0.3 + 0.5 * D(2) = 0.646887; 4 = 0.628054; 6 = 0.615121; 7 = 0.546887
    # after {3, 5, 9}: 4 = 0.628054 (still next to frame 3 only at distance 1); 1 = 0.596887
    # after {3, 4, 5, 9}: 1 = 0.25 + 0.5 * D(2) = 0.596887 beats 2 (0.578054) and 0 (0.565121)
    scorer = ApuScorer()
    stats = scorer.prepare_pool({"v": FrameStats.of("v", 10, u=U_HAT_TEN)})
    selection = global_select(stats, LabelState(human={"v": [3]}), 4, scorer)
    assert selection.by_video() == {"v": [9, 5, 4, 1]}
    np.testing.assert_allclose(
        selection.scores, [0.849988, 0.646887, 0.628054, 0.596887], atol=1e-6
    )


def test_gal_pick_order_ignores_distance() -> None:
    """Gal picks the most uncertain frames, 4, 2, 9, 5, whether or not they neighbour a label."""
    scorer = GalScorer()
    stats = scorer.prepare_pool({"v": FrameStats.of("v", 10, u=U_HAT_TEN)})
    selection = global_select(stats, LabelState(human={"v": [3]}), 4, scorer)
    assert selection.by_video() == {"v": [4, 2, 9, 5]}
    np.testing.assert_array_equal(selection.scores, [1.0, 0.9, 0.7, 0.6])


def test_apu_lambda_extremes() -> None:
    """lambda = 1 is uncertainty alone (Gal); lambda = 0 is the distance term alone."""
    np.testing.assert_array_equal(apu_scores(U_HAT_TEN, [3], lam=1.0), U_HAT_TEN)
    np.testing.assert_allclose(apu_scores(U_HAT_TEN, [3], lam=0.0), D_TEN, atol=1e-6)


def test_apu_unlabelled_video_ranks_by_uncertainty() -> None:
    """With no label D = 1 everywhere, so the scores are 0.5 U_hat + 0.5."""
    np.testing.assert_allclose(apu_scores(U_HAT_TEN, NO_LABELS), 0.5 * U_HAT_TEN + 0.5)


def test_gal_scores_ignore_labels() -> None:
    """Gal's scores are U_hat whatever is labelled."""
    np.testing.assert_array_equal(gal_scores(U_HAT_TEN, [3, 4]), U_HAT_TEN)
    np.testing.assert_array_equal(gal_scores(U_HAT_TEN, NO_LABELS), U_HAT_TEN)


def test_apu_global_selection_compares_videos_on_one_scale() -> None:
    """Normalised over the pool, the more uncertain video wins the first pick."""
    # a: U = (1, 1), b: U = (3, 3) -> U_hat a = (0, 0), b = (1, 1); no labels: D = 1
    # scores a = 0.5, b = 1.0 -> b first (frame 0 on the tie)
    scorer = ApuScorer()
    stats = scorer.prepare_pool(
        {"a": FrameStats.of("a", 2, u=[1.0, 1.0]), "b": FrameStats.of("b", 2, u=[3.0, 3.0])}
    )
    selection = global_select(stats, LabelState(), 1, scorer)
    assert [(r.video, r.frame) for r in selection.frames] == [("b", 0)]


# --------------------------------------------------------------------------- entropy (Aghdam)

# 4 pixels in one frame, T = 2, C = 2; actor probabilities per trial:
#   (0.5, 0.5) mean 0.5: H = ln 2           -> normalised 1
#   (0.2, 0.0) mean 0.1: H = -(0.9 ln 0.9 + 0.1 ln 0.1) = 0.094825 + 0.230259 = 0.325083
#                                           -> 0.325083 / 0.693147 = 0.468996
#   (1.0, 1.0) mean 1.0: H = 0              -> 0
#   (0.0, 1.0) mean 0.5: H = ln 2           -> 1 (each trial is sure, but they disagree)
#   frame value = (1 + 0.468996 + 0 + 1) / 4 = 0.617249
ENTROPY_EXAMPLE = two_class_probs([[[[0.5, 0.2], [1.0, 0.0]]], [[[0.5, 0.0], [1.0, 1.0]]]])


def test_entropy_known_answer() -> None:
    """The frame value is the mean pixel entropy of the trial-averaged prediction over log C."""
    np.testing.assert_allclose(frame_entropy(ENTROPY_EXAMPLE), [0.617249], atol=1e-6)


def test_entropy_is_normalised_by_log_classes() -> None:
    """A uniform distribution over C = 3 classes has normalised entropy 1; a certain one 0."""
    uniform = np.full((1, 1, 3, 1, 1), 1 / 3, dtype=np.float32)
    certain = np.zeros((1, 1, 3, 1, 1), dtype=np.float32)
    certain[:, :, 1] = 1.0
    np.testing.assert_allclose(frame_entropy(uniform), [1.0], atol=1e-6)
    assert frame_entropy(certain).tolist() == [0.0]


# h for 10 frames; frame 4 labelled, w = 2 filters frames 2..6 (score h - 2)
H_TEN = np.array([0.1, 0.3, 0.9, 0.8, 0.5, 1.0, 0.2, 0.4, 0.6, 0.05])


def test_aghdam_filter_known_answer() -> None:
    """Frames within +-w of a label score h - 2, below every candidate; others score h."""
    expected = [0.1, 0.3, -1.1, -1.2, -1.5, -1.0, -1.8, 0.4, 0.6, 0.05]
    np.testing.assert_allclose(aghdam_scores(H_TEN, [4], 2), expected)
    assert aghdam_scores(H_TEN, NO_LABELS, 2).tolist() == H_TEN.tolist()


def test_aghdam_pick_order_exhausts_candidates_first() -> None:
    """Greedy Aghdam picks candidates by entropy, each pick filtering its neighbours; only when no
    candidate is left does it take filtered frames, by entropy."""
    # labels {4}, w = 2: candidates 0 (.1), 1 (.3), 7 (.4), 8 (.6), 9 (.05) -> pick 8
    # 8 filters 6..9 (7 -> -1.6, 9 -> -1.95); candidates 0, 1 -> pick 1, which filters 0 (-1.9)
    # no candidate left: 5 (-1.0), 2 (-1.1), 3 (-1.2), 7 (-1.6), 6 (-1.8), 0 (-1.9), 9 (-1.95)
    scorer = AghdamScorer(AghdamParams(window=2))
    stats = {"v": FrameStats.of("v", 10, h=H_TEN)}
    selection = global_select(stats, LabelState(human={"v": [4]}), 9, scorer)
    assert selection.by_video() == {"v": [8, 1, 5, 2, 3, 7, 6, 0, 9]}
    np.testing.assert_allclose(
        selection.scores, [0.6, 0.3, -1.0, -1.1, -1.2, -1.6, -1.8, -1.9, -1.95]
    )


def test_aghdam_window_zero_is_plain_entropy() -> None:
    """With w = 0 only labelled frames are filtered: picks follow the entropy, 5, 2, 3, 8."""
    scorer = AghdamScorer(AghdamParams(window=0))
    stats = {"v": FrameStats.of("v", 10, h=H_TEN)}
    selection = global_select(stats, LabelState(human={"v": [4]}), 4, scorer)
    assert selection.by_video() == {"v": [5, 2, 3, 8]}


def test_aghdam_frame_stats_store_entropy() -> None:
    """AghdamScorer.frame_stats stores the normalised entropy as 'h'; prepare_pool is identity."""
    scorer = AghdamScorer()
    stats = scorer.frame_stats(VideoInfo("v", 1), {MC_PROBS: ENTROPY_EXAMPLE}, None)
    np.testing.assert_allclose(stats.values["h"], [0.617249], atol=1e-6)
    pool = {"v": stats}
    assert scorer.prepare_pool(pool) is pool


# --------------------------------------------------------------------------- with a real task


@pytest.mark.parametrize("cls", SCORERS)
def test_scorers_select_from_fake_task_predictions(cls: type) -> None:
    """On the numpy FakeTask's MC-dropout output the scorers feed the selectors valid picks."""
    task = FakeTask(FakeTaskParams(num_videos=4, num_test_videos=1, max_frames=24))
    model = task.build_model(np.random.default_rng(0))
    scorer = cls()
    pool = task.pool()
    stats = {}
    for vid, outputs in task.predict(model, pool, scorer.requires, np.random.default_rng(1)):
        info = next(v for v in pool if v.id == vid)
        stats[vid] = scorer.frame_stats(info, outputs, np.random.default_rng(2))
    stats = dict(scorer.prepare_pool(stats))
    labels = LabelState(human={v.id: [0] for v in pool})
    for select in (global_select, local_select):
        selection = select(stats, labels, 6, scorer)
        assert len(selection) == 6
        assert not any(labels.is_labelled(ref) for ref in selection.frames)
        assert np.all(np.isfinite(selection.scores))


# --------------------------------------------------------------------------- properties

shapes = st.tuples(
    st.integers(1, 4),  # T
    st.integers(1, 6),  # F
    st.integers(2, 4),  # C
    st.integers(1, 4),  # H
    st.integers(1, 4),  # W
)


@settings(max_examples=60, deadline=None)
@given(shapes, st.integers(0, 2**32 - 1), st.floats(0.05, 0.95))
def test_uncertainty_is_finite_non_negative_and_pixel_order_free(shape, seed, tau) -> None:
    """U is finite, >= 0, and unchanged by permuting pixels (the same way in every trial)."""
    rng = np.random.default_rng(seed)
    probs = random_probs(rng, shape)
    u = frame_uncertainty(probs, tau)
    assert u.shape == (shape[1],)
    assert np.all(np.isfinite(u)) and np.all(u >= 0)
    t, f, c, h, w = shape
    perm = rng.permutation(h * w)
    shuffled = probs.reshape(t, f, c, h * w)[..., perm].reshape(t, f, c, h, w)
    np.testing.assert_allclose(frame_uncertainty(shuffled, tau), u, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(shapes, st.integers(0, 2**32 - 1))
def test_uncertainty_and_entropy_do_not_depend_on_chunking(shape, seed) -> None:
    """Reducing one frame at a time gives the same U and entropy as one chunk for the video."""
    probs = random_probs(np.random.default_rng(seed), shape)
    np.testing.assert_allclose(
        frame_uncertainty(probs, chunk_elements=1), frame_uncertainty(probs), rtol=1e-12
    )
    np.testing.assert_allclose(
        frame_entropy(probs, chunk_elements=1), frame_entropy(probs), rtol=1e-12, atol=1e-15
    )


@settings(max_examples=40, deadline=None)
@given(shapes, st.integers(0, 2**32 - 1))
def test_repeating_the_trials_changes_nothing(shape, seed) -> None:
    """Listing every trial twice (T -> 2T) leaves U and the entropy unchanged: both are means."""
    probs = random_probs(np.random.default_rng(seed), shape)
    doubled = np.concatenate([probs, probs], axis=0)
    np.testing.assert_allclose(frame_uncertainty(doubled), frame_uncertainty(probs), rtol=1e-9)
    np.testing.assert_allclose(frame_entropy(doubled), frame_entropy(probs), atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(shapes, st.integers(0, 2**32 - 1))
def test_entropy_in_unit_range_and_pixel_order_free(shape, seed) -> None:
    """The normalised entropy is in [0, 1] and unchanged by permuting pixels."""
    rng = np.random.default_rng(seed)
    probs = random_probs(rng, shape, spread=1.0)
    h = frame_entropy(probs)
    assert np.all((h >= 0) & (h <= 1))
    t, f, c, hh, w = shape
    perm = rng.permutation(hh * w)
    shuffled = probs.reshape(t, f, c, hh * w)[..., perm].reshape(t, f, c, hh, w)
    np.testing.assert_allclose(frame_entropy(shuffled), h, atol=1e-12)


pools = st.lists(
    st.lists(st.floats(0.0, 50.0, allow_nan=False), min_size=0, max_size=8), min_size=1, max_size=5
)


@settings(max_examples=100, deadline=None)
@given(pools)
def test_normalisation_keeps_order_and_spans_unit_interval(values) -> None:
    """U_hat is in [0, 1], reaches 0 and 1 unless all U are equal, and preserves the pool order."""
    u = {f"v{i}": np.array(v) for i, v in enumerate(values)}
    out = normalise_pool(u)
    flat_u = np.concatenate(list(u.values()))
    flat = np.concatenate([out[k] for k in u])
    assert np.all((flat >= 0) & (flat <= 1))
    if flat_u.size and flat_u.max() > flat_u.min():
        assert flat.min() == 0.0 and flat.max() == 1.0
        # a strictly larger U never gets a smaller U_hat
        order = np.argsort(flat_u, kind="stable")
        assert np.all(np.diff(flat[order]) >= 0)
    else:
        assert np.all(flat == 0)


videos = st.integers(1, 30).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.sets(st.integers(0, n - 1), max_size=n),
        st.integers(0, n - 1),
        st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n),
    )
)


@settings(max_examples=150, deadline=None)
@given(videos, st.floats(0.05, 20.0), st.floats(0.0, 1.0))
def test_apu_scores_in_unit_range_and_never_rise_with_more_labels(video, sigma, lam) -> None:
    """APU scores are finite, in [0, 1], and labelling one more frame never raises any score."""
    _, labelled, extra, u_hat = video
    before = apu_scores(u_hat, labelled_array(labelled), sigma, lam)
    after = apu_scores(u_hat, labelled_array(labelled | {extra}), sigma, lam)
    assert np.all(np.isfinite(before)) and np.all((before >= 0) & (before <= 1))
    assert np.all(after <= before + 1e-15)


@settings(max_examples=150, deadline=None)
@given(videos, st.floats(0.05, 20.0))
def test_distance_term_is_monotone_in_distance(video, sigma) -> None:
    """D is 0 on labelled frames, in [0, 1], and a farther frame never has a smaller D."""
    n, labelled, _, _ = video
    lab = labelled_array(labelled)
    d = proximity_term(n, lab, sigma)
    assert np.all((d >= 0) & (d <= 1))
    if lab.size:
        assert np.all(d[lab] == 0)
        dist = np.abs(np.arange(n)[:, None] - lab[None, :]).min(axis=1)
        order = np.argsort(dist, kind="stable")
        assert np.all(np.diff(d[order]) >= 0)
    else:
        assert np.all(d == 1)


@settings(max_examples=150, deadline=None)
@given(videos, st.integers(0, 10))
def test_aghdam_candidates_always_outrank_filtered_frames(video, window) -> None:
    """Every frame farther than w from all labels scores in [0, 1], every other in [-2, -1]."""
    n, labelled, _, h = video
    lab = labelled_array(labelled)
    scores = aghdam_scores(h, lab, window)
    if lab.size:
        dist = np.abs(np.arange(n)[:, None] - lab[None, :]).min(axis=1)
    else:
        dist = np.full(n, np.inf)
    candidate = dist > window
    assert np.all((scores[candidate] >= 0) & (scores[candidate] <= 1))
    assert np.all((scores[~candidate] >= -2) & (scores[~candidate] <= -1))


# --------------------------------------------------------------------------- bad input


def frame_stats_of(cls: type, probs: np.ndarray, video: str = "clip7") -> FrameStats:
    return cls().frame_stats(VideoInfo(video, probs.shape[1]), {MC_PROBS: probs}, None)


@pytest.mark.parametrize("cls", SCORERS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_probabilities_name_video_and_frame(cls: type, bad: float) -> None:
    """A NaN or infinite probability raises ValueError naming the video and the first bad frame."""
    probs = random_probs(np.random.default_rng(0), (2, 6, 2, 3, 3))
    probs[1, 4, 0, 2, 1] = bad
    probs[0, 5, 1, 0, 0] = bad
    with pytest.raises(ValueError, match=r"video 'clip7'.*NaN or infinite.*frame 4"):
        frame_stats_of(cls, probs)


def test_first_bad_frame_is_found_across_chunks() -> None:
    """With one frame per chunk the error still names the first bad frame."""
    probs = random_probs(np.random.default_rng(0), (2, 6, 2, 3, 3))
    probs[0, 3, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="frame 3"):
        frame_uncertainty(probs, chunk_elements=1, video="x")
    with pytest.raises(ValueError, match="frame 3"):
        frame_entropy(probs, chunk_elements=1, video="x")


@pytest.mark.parametrize("cls", SCORERS)
def test_values_outside_unit_interval_are_rejected(cls: type) -> None:
    """Values that are not probabilities (e.g. logits) raise ValueError naming the frame."""
    probs = random_probs(np.random.default_rng(0), (2, 3, 2, 2, 2))
    probs[0, 2, 1, 0, 0] = 3.5
    with pytest.raises(ValueError, match=r"video 'clip7'.*outside \[0, 1\].*frame 2"):
        frame_stats_of(cls, probs)


@pytest.mark.parametrize("cls", SCORERS)
@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((0, 4, 2, 3, 3), r"T >= 1"),
        ((2, 4, 1, 3, 3), r"C >= 2"),
        ((2, 4, 2, 0, 3), r"no pixels"),
        ((2, 4, 2, 3), r"\[T, F, C, H, W\]"),
    ],
)
def test_bad_shapes_are_rejected(cls: type, shape: tuple[int, ...], message: str) -> None:
    """T < 1, C < 2, empty frames and a wrong number of dimensions raise a clear ValueError."""
    probs = np.full(shape, 0.5, dtype=np.float32)
    with pytest.raises(ValueError, match=message):
        cls().frame_stats(VideoInfo("clip7", 4), {MC_PROBS: probs}, None)


@pytest.mark.parametrize("cls", SCORERS)
def test_frame_count_mismatch_is_rejected(cls: type) -> None:
    """mc_probs with another number of frames than the video raises ValueError."""
    probs = np.full((2, 3, 2, 2, 2), 0.5, dtype=np.float32)
    with pytest.raises(ValueError, match=r"video 'clip7'.*3 frames.*the video has 5"):
        cls().frame_stats(VideoInfo("clip7", 5), {MC_PROBS: probs}, None)


@pytest.mark.parametrize("cls", SCORERS)
def test_missing_mc_probs_is_rejected(cls: type) -> None:
    """Outputs without mc_probs raise ValueError naming the video and the missing output."""
    with pytest.raises(ValueError, match=r"video 'clip7'.*'mc_probs'"):
        cls().frame_stats(VideoInfo("clip7", 5), {}, None)


@pytest.mark.parametrize("sigma", [0, -1.3, float("nan"), float("inf"), "wide"])
def test_apu_rejects_bad_sigma(sigma: object) -> None:
    """sigma must be finite and > 0: a config error names it."""
    with pytest.raises(ConfigError, match="sigma"):
        ApuScorer.from_config({"sigma": sigma})


@pytest.mark.parametrize("lam", [-0.1, 1.5, float("nan"), None])
def test_apu_rejects_lambda_outside_unit_interval(lam: float) -> None:
    """lambda must be in [0, 1]: a config error names it."""
    with pytest.raises(ConfigError, match=r"lam "):
        ApuScorer.from_config({"lam": lam})


def test_apu_suggests_lam_for_lambda() -> None:
    """The keyword-safe name is lam; a config saying 'lambda' gets a hint."""
    with pytest.raises(ConfigError, match="did you mean 'lam'"):
        ApuScorer.from_config({"lambda": 0.5})


@pytest.mark.parametrize("cls", [ApuScorer, GalScorer])
@pytest.mark.parametrize("tau", [0.0, 1.0, -0.5, 1.5, float("nan"), "high"])
def test_tau_must_be_in_open_unit_interval(cls: type, tau: object) -> None:
    """tau must be a number in (0, 1): 0 and 1 themselves are rejected."""
    with pytest.raises(ConfigError, match=r"tau must be (in \(0, 1\)|a number)"):
        cls.from_config({"tau": tau})


@pytest.mark.parametrize("window", [-1, 2.5, "3", True, None])
def test_aghdam_rejects_bad_window(window: object) -> None:
    """window must be an integer >= 0."""
    with pytest.raises(ConfigError, match="window must be an integer >= 0"):
        AghdamScorer.from_config({"window": window})


def test_aghdam_accepts_integral_float_window() -> None:
    """window = 4.0 (e.g. from a YAML config) is accepted as 4."""
    assert AghdamScorer.from_config({"window": 4.0}).params.window == 4


def test_pure_functions_validate_parameters() -> None:
    """The pure functions reject bad sigma, lambda and tau with ValueError."""
    with pytest.raises(ValueError, match="sigma"):
        proximity_term(5, [1], 0.0)
    with pytest.raises(ValueError, match="lam"):
        apu_scores(np.zeros(5), [1], 1.3, 2.0)
    with pytest.raises(ValueError, match="tau"):
        frame_uncertainty(U_EXAMPLE, 1.0)


@pytest.mark.parametrize("cls", [ApuScorer, GalScorer])
def test_scoring_before_prepare_pool_is_an_error(cls: type) -> None:
    """Stats without u_hat (prepare_pool skipped) raise ValueError saying so."""
    stats = cls().frame_stats(VideoInfo("v", 2), {MC_PROBS: U_EXAMPLE}, None)
    with pytest.raises(ValueError, match="prepare_pool"):
        cls().score(stats, NO_LABELS, 2)


def test_prepare_pool_rejects_foreign_stats() -> None:
    """prepare_pool names a video whose stats have no 'u' array."""
    with pytest.raises(ValueError, match=r"video 'b'.*'u'"):
        ApuScorer().prepare_pool({"a": FrameStats.of("a", 1, u=[0.0]), "b": FrameStats("b", 1)})


def test_aghdam_rejects_unnormalised_entropy() -> None:
    """aghdam_scores refuses h outside [0, 1], where the filter's demotion would not hold."""
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        aghdam_scores(np.array([0.5, 1.7]), [0], 1)


@pytest.mark.parametrize("cls", SCORERS)
def test_score_rejects_wrong_num_frames(cls: type) -> None:
    """score with a num_frames other than the stats' raises ValueError."""
    scorer = cls()
    stats = scorer.prepare_pool(
        {"v": scorer.frame_stats(VideoInfo("v", 2), {MC_PROBS: U_EXAMPLE}, None)}
    )["v"]
    with pytest.raises(ValueError, match="num_frames=3"):
        scorer.score(stats, NO_LABELS, 3)
