"""Known answers of the motion_margin scorer, worked out by hand from the formulas in
``asl_scorer_example.motion_margin``'s docstring, plus its parameter and input checks."""

from __future__ import annotations

import numpy as np
import pytest
from asl_core import MC_PROBS, ConfigError, VideoInfo

from asl_scorer_example.motion_margin import (
    MotionMarginParams,
    MotionMarginScorer,
    margin_uncertainty,
    motion_margin_scores,
    motion_margin_stats,
    normalise_pool,
    prediction_change,
    proximity_term,
    trial_mean,
)

#: frame_stats takes a generator; this scorer never draws from it
RNG = np.random.default_rng(0)


def frames(*pixels: list[list[float]]) -> np.ndarray:
    """``float[1, F, C, H=1, W]`` (one trial) from per-frame lists of per-pixel distributions."""
    arr = np.array(pixels, dtype=np.float64)  # [F, W, C]
    return arr.transpose(0, 2, 1)[None, :, :, None, :]


# --------------------------------------------------------------------------- margin, eq. u


def test_margin_is_taken_on_the_trial_mean():
    """Trials [0.9, 0.1] and [0.3, 0.7] average to [0.6, 0.4]: u = 1 - 0.2 = 0.8 (the mean of
    the per-trial margins would give 0.6)."""
    probs = np.concatenate([frames([[0.9, 0.1]]), frames([[0.3, 0.7]])])
    assert margin_uncertainty(trial_mean(probs)) == pytest.approx([0.8])


def test_margin_uses_the_two_most_probable_classes():
    """[0.5, 0.3, 0.2] gives 1 - (0.5 - 0.3) = 0.8 and [0.1, 0.3, 0.6] gives 1 - 0.3 = 0.7."""
    mean = trial_mean(frames([[0.5, 0.3, 0.2]], [[0.1, 0.3, 0.6]]))
    assert margin_uncertainty(mean) == pytest.approx([0.8, 0.7])


def test_confident_background_pixels_are_ignored():
    """A pixel with background 0.95 > tau is left out: u = 0.8 from the active [0.6, 0.4]
    pixel alone, not (0.1 + 0.8) / 2; tau = 1 keeps both pixels."""
    mean = trial_mean(frames([[0.95, 0.05], [0.6, 0.4]]))
    assert margin_uncertainty(mean, tau=0.9) == pytest.approx([0.8])
    assert margin_uncertainty(mean, tau=1.0) == pytest.approx([0.45])


def test_a_frame_without_active_pixels_has_no_uncertainty():
    """Every pixel confidently background: u = 0, the lowest value."""
    assert margin_uncertainty(trial_mean(frames([[0.97, 0.03], [0.99, 0.01]]))) == [0.0]


# --------------------------------------------------------------------------- change, eq. c


def test_change_is_the_larger_total_variation_to_a_neighbour():
    """Frames [0.8, 0.2], [0.8, 0.2], [0.2, 0.8]: TV(0, 1) = 0, TV(1, 2) = 0.6, so
    c = [0, max(0, 0.6), 0.6]."""
    mean = trial_mean(frames([[0.8, 0.2]], [[0.8, 0.2]], [[0.2, 0.8]]))
    assert prediction_change(mean) == pytest.approx([0.0, 0.6, 0.6])


def test_change_is_averaged_over_pixels_active_in_either_frame():
    """Pixel 1 goes from background 0.95 (inactive) to 0.5 (active): TV 0.45; pixel 2 stays
    confidently background and is left out, so c = 0.45, not 0.225."""
    mean = trial_mean(frames([[0.95, 0.05], [0.99, 0.01]], [[0.5, 0.5], [0.99, 0.01]]))
    assert prediction_change(mean) == pytest.approx([0.45, 0.45])


def test_a_one_frame_video_does_not_change():
    """No neighbour: c = 0."""
    assert prediction_change(trial_mean(frames([[0.6, 0.4]]))).tolist() == [0.0]


def test_motion_weights_the_margin_uncertainty():
    """u = 0.4 on every frame and c = [0, 0.6, 0.6]: m = u (1 + gamma c) = [0.4, 0.64, 0.64]
    with gamma = 1 and [0.4, 0.88, 0.88] with gamma = 2; gamma = 0 leaves u."""
    probs = frames([[0.8, 0.2]], [[0.8, 0.2]], [[0.2, 0.8]])
    u, c, m = motion_margin_stats(probs, gamma=1.0)
    assert u == pytest.approx([0.4, 0.4, 0.4]) and c == pytest.approx([0.0, 0.6, 0.6])
    assert m == pytest.approx([0.4, 0.64, 0.64])
    assert motion_margin_stats(probs, gamma=2.0)[2] == pytest.approx([0.4, 0.88, 0.88])
    assert motion_margin_stats(probs, gamma=0.0)[2] == pytest.approx(u)


# --------------------------------------------------------------------------- pool, distance, score


def test_pool_normalisation_uses_one_scale_for_all_videos():
    """{a: [1, 3], b: [2]} maps to a = [0, 1], b = [0.5] (min 1 and max 3 over the pool)."""
    out = normalise_pool({"a": [1.0, 3.0], "b": [2.0], "empty": []})
    assert out["a"].tolist() == [0.0, 1.0] and out["b"].tolist() == [0.5]
    assert out["empty"].size == 0


def test_pool_normalisation_of_equal_values_is_zero():
    """No frame more uncertain than another: 0 everywhere, so the distance term decides."""
    assert normalise_pool({"a": [0.3, 0.3], "b": [0.3]})["a"].tolist() == [0.0, 0.0]


def test_distance_term_known_values():
    """10 frames, frame 3 labelled, sigma = 1.3: D = 1 - exp(-d^2 / 3.38) at distances
    3, 2, 1, 0, 1, 2, 3, 4, 5, 6."""
    expected = [0.930, 0.694, 0.256, 0.0, 0.256, 0.694, 0.930, 0.991, 0.999, 1.000]
    assert proximity_term(10, np.array([3]), 1.3) == pytest.approx(expected, abs=5e-4)


def test_distance_term_takes_the_nearest_label():
    """Labels at 0 and 6 of 7 frames: distances 0, 1, 2, 3, 2, 1, 0; no label: D = 1."""
    d = np.array([0, 1, 2, 3, 2, 1, 0]) / 1.3
    assert proximity_term(7, np.array([0, 6])) == pytest.approx(1 - np.exp(-0.5 * d * d))
    assert proximity_term(4, np.empty(0, np.int64)).tolist() == [1.0] * 4


def test_scores_mix_uncertainty_and_distance():
    """m_hat = [1, 0, 0.5], label at 1, lam = 0.5: D = 1 - exp(-1 / 3.38) = 0.25611 at
    distance 1, scores = [0.5 + 0.12805, 0, 0.25 + 0.12805]; no label adds 0.5 everywhere."""
    scores = motion_margin_scores([1.0, 0.0, 0.5], np.array([1]), sigma=1.3, lam=0.5)
    assert scores == pytest.approx([0.62805, 0.0, 0.37805], abs=1e-5)
    free = motion_margin_scores([1.0, 0.0, 0.5], np.empty(0, np.int64))
    assert free == pytest.approx([1.0, 0.5, 0.75])


def test_a_new_label_never_raises_a_score():
    """Adding a labelled frame only lowers D, so no frame's score goes up."""
    rng = np.random.default_rng(0)
    m_hat = rng.random(30)
    before = motion_margin_scores(m_hat, np.array([4, 20]))
    after = motion_margin_scores(m_hat, np.array([4, 11, 20]))
    assert np.all(after <= before)


# --------------------------------------------------------------------------- the scorer


def test_scorer_end_to_end_known_answer():
    """Video a is the three-frame example (m = [0.4, 0.64, 0.64]); video b is one frame of
    u = 1 (m = 1). Over the pool, m_hat(a) = (m - 0.4) / 0.6 = [0, 0.4, 0.4]; with frame 0 of
    a labelled the scores are 0.5 m_hat + 0.5 D = [0, 0.2 + 0.25611 / 2, 0.2 + 0.69377 / 2]."""
    scorer = MotionMarginScorer()
    rng = np.random.default_rng(0)
    stats = {
        "a": scorer.frame_stats(
            VideoInfo("a", 3), {MC_PROBS: frames([[0.8, 0.2]], [[0.8, 0.2]], [[0.2, 0.8]])}, rng
        ),
        "b": scorer.frame_stats(VideoInfo("b", 1), {MC_PROBS: frames([[0.5, 0.5]])}, rng),
    }
    pool = scorer.prepare_pool(stats)
    assert pool["a"].values["m_hat"] == pytest.approx([0.0, 0.4, 0.4])
    assert pool["b"].values["m_hat"] == pytest.approx([1.0])
    scores = scorer.score(pool["a"], np.array([0]), 3)
    assert scores == pytest.approx([0.0, 0.32805, 0.54689], abs=1e-5)


def test_scorer_reads_real_task_outputs():
    """On the Monte-Carlo outputs of asl_core.testing.FakeTask the pool's scores lie in [0, 1]
    and the most uncertain frame of the pool has m_hat = 1."""
    from asl_core.testing import FakeTask, FakeTaskParams

    task = FakeTask(FakeTaskParams(num_videos=3, num_test_videos=1))
    model = task.build_model(np.random.default_rng(0))
    scorer = MotionMarginScorer()
    raw = {
        vid: scorer.frame_stats(VideoInfo(vid, out[MC_PROBS].shape[1]), out, RNG)
        for vid, out in task.predict(model, task.pool(), scorer.requires, np.random.default_rng(1))
    }
    pool = scorer.prepare_pool(raw)
    assert max(float(st.values["m_hat"].max()) for st in pool.values()) == 1.0
    for st in pool.values():
        s = scorer.score(st, np.array([0]), st.num_frames)
        assert np.all((s >= 0) & (s <= 1))


def test_missing_outputs_are_an_error_naming_the_video():
    """A task that gives no mc_probs is reported with the video's id."""
    with pytest.raises(ValueError, match=r"'v7'.*mc_probs"):
        MotionMarginScorer().frame_stats(VideoInfo("v7", 3), {}, RNG)


def test_bad_probabilities_name_the_video_and_frame():
    """A NaN in frame 2 is refused, naming the video and the frame."""
    probs = frames([[0.8, 0.2]], [[0.8, 0.2]], [[0.2, 0.8]])
    probs[0, 2, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"'v1'.*frame 2"):
        MotionMarginScorer().frame_stats(
            VideoInfo("v1", 3), {MC_PROBS: probs}, np.random.default_rng(0)
        )


def test_frame_count_mismatch_is_an_error():
    """Outputs of another length than the video are refused."""
    with pytest.raises(ValueError, match="2 frames, the video 3"):
        MotionMarginScorer().frame_stats(
            VideoInfo("v", 3), {MC_PROBS: frames([[0.5, 0.5]], [[0.5, 0.5]])}, RNG
        )


def test_scoring_unprepared_stats_is_an_error():
    """score needs m_hat, which only prepare_pool adds."""
    scorer = MotionMarginScorer()
    raw = scorer.frame_stats(VideoInfo("v", 1), {MC_PROBS: frames([[0.5, 0.5]])}, RNG)
    with pytest.raises(ValueError, match="prepare_pool"):
        scorer.score(raw, np.empty(0, np.int64), 1)


# --------------------------------------------------------------------------- parameters


def test_defaults_are_the_documented_ones():
    """tau 0.9, gamma 1, sigma 1.3, lam 0.5."""
    assert MotionMarginParams() == MotionMarginParams(tau=0.9, gamma=1.0, sigma=1.3, lam=0.5)


def test_misspelled_parameter_is_rejected_with_a_hint():
    """A typo in the config fails with the closest valid name."""
    with pytest.raises(ConfigError, match="gamma"):
        MotionMarginScorer.from_config({"gama": 2})


@pytest.mark.parametrize(
    "bad",
    [
        {"tau": 0.0},
        {"tau": 1.5},
        {"gamma": -0.1},
        {"gamma": float("inf")},
        {"sigma": 0.0},
        {"sigma": float("nan")},
        {"lam": 1.2},
        {"lam": True},
        {"gamma": "2"},
    ],
    ids=str,
)
def test_invalid_parameter_values_are_rejected(bad):
    """Out-of-range, non-finite and non-numeric values are a ConfigError naming the parameter."""
    with pytest.raises(ConfigError, match=next(iter(bad))):
        MotionMarginScorer.from_config(bad)
