"""Tests of the model-free baseline scorers: random and equidistant (paper §4.1)."""

from __future__ import annotations

import numpy as np
import pytest
from asl_strategies.scorers.equidistant import EquidistantScorer, equidistant_scores
from asl_strategies.scorers.random import RandomScorer, random_frame_values
from asl_strategies.selectors.global_greedy import global_select
from hypothesis import given, settings
from hypothesis import strategies as st

from asl_core import ConfigError, FrameStats, LabelState, Scorer, VideoInfo

SCORERS = [RandomScorer, EquidistantScorer]


@pytest.mark.parametrize("cls", SCORERS)
def test_scorers_need_no_model_output(cls: type) -> None:
    """Random and equidistant require no model output, so no inference runs."""
    scorer = cls.from_config({})
    assert isinstance(scorer, Scorer)
    assert scorer.requires == frozenset()


@pytest.mark.parametrize("cls", SCORERS)
def test_scorers_reject_unknown_keys(cls: type) -> None:
    """The parameterless scorers reject any configuration key."""
    with pytest.raises(ConfigError, match="unknown parameter 'sigma'"):
        cls.from_config({"sigma": 1.0})


# --------------------------------------------------------------------------- random


def test_random_stats_are_uniform_values_per_frame() -> None:
    """RandomScorer.frame_stats draws one value in [0, 1) per frame from the given rng."""
    stats = RandomScorer().frame_stats(VideoInfo("v", 6), {}, np.random.default_rng(3))
    values = stats.values["r"]
    assert stats.video == "v" and stats.num_frames == 6
    np.testing.assert_array_equal(values, np.random.default_rng(3).random(6))
    assert np.all((values >= 0) & (values < 1))


def test_random_values_are_reproducible() -> None:
    """Equal generators give equal random frame values."""
    a = random_frame_values(10, np.random.default_rng(7))
    b = random_frame_values(10, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)


def test_random_score_ignores_labels() -> None:
    """RandomScorer.score returns the drawn values as float64 whatever is labelled."""
    scorer = RandomScorer()
    stats = scorer.frame_stats(VideoInfo("v", 5), {}, np.random.default_rng(0))
    unlabelled = scorer.score(stats, np.empty(0, dtype=np.int64), 5)
    labelled = scorer.score(stats, np.array([1, 4]), 5)
    assert unlabelled.dtype == np.float64
    np.testing.assert_array_equal(unlabelled, stats.values["r"])
    np.testing.assert_array_equal(labelled, unlabelled)


def test_random_score_rejects_foreign_stats() -> None:
    """RandomScorer.score raises ValueError on stats it did not make."""
    with pytest.raises(ValueError, match=r"RandomScorer\.frame_stats"):
        RandomScorer().score(FrameStats("v", 3), np.empty(0, dtype=np.int64), 3)


def test_random_with_global_selection_is_uniform_over_frames() -> None:
    """Global selection of one frame with random scores picks each frame about equally often."""
    scorer = RandomScorer()
    video = VideoInfo("v", 10)
    rng = np.random.default_rng(2024)
    counts = np.zeros(10, dtype=int)
    for _ in range(2000):
        stats = {"v": scorer.frame_stats(video, {}, rng)}
        (ref,) = global_select(stats, LabelState(), 1, scorer).frames
        counts[ref.frame] += 1
    # expected 200 per frame, binomial sd ~13.4: +-60 is > 4 sd
    assert counts.min() > 140 and counts.max() < 260


# --------------------------------------------------------------------------- equidistant


def test_equidistant_unlabelled_video_peaks_at_middle() -> None:
    """Without labels the score is the distance to the nearer video edge, peaking mid-video."""
    expected = [0.5, 1.5, 2.5, 3.5, 4.5, 3.5, 2.5, 1.5, 0.5]
    np.testing.assert_array_equal(equidistant_scores(9, []), expected)


def test_equidistant_even_length_prefers_lower_middle() -> None:
    """For an even-length unlabelled video the two middle frames tie and the lower one wins."""
    stats = {"v": FrameStats("v", 4)}
    selection = global_select(stats, LabelState(), 1, EquidistantScorer())
    assert selection.by_video() == {"v": [1]}


def test_equidistant_scores_are_distances_to_nearest_label() -> None:
    """With labels the score is the distance in frames to the nearest labelled frame."""
    np.testing.assert_array_equal(equidistant_scores(9, [0, 8]), [0, 1, 2, 3, 4, 3, 2, 1, 0])
    np.testing.assert_array_equal(equidistant_scores(6, [4]), [4, 3, 2, 1, 0, 1])


def test_equidistant_scores_are_raw_frame_counts() -> None:
    """Scores are not normalised by the video length, so long gaps beat short ones globally."""
    assert equidistant_scores(100, [0])[99] == 99.0


def test_equidistant_first_picks_on_nine_frames() -> None:
    """Greedy picks on an unlabelled 9-frame video start mid-video, then fill the largest gaps."""
    stats = {"v": FrameStats("v", 9)}
    selection = global_select(stats, LabelState(), 9, EquidistantScorer())
    assert selection.by_video() == {"v": [4, 0, 8, 2, 6, 1, 3, 5, 7]}
    np.testing.assert_array_equal(selection.scores, [4.5, 4, 4, 2, 2, 1, 1, 1, 1])


def test_equidistant_bisects_between_labels() -> None:
    """Between labels at both ends of a 17-frame video greedy picks bisect the gaps."""
    stats = {"v": FrameStats("v", 17)}
    labels = LabelState(human={"v": [0, 16]})
    selection = global_select(stats, labels, 3, EquidistantScorer())
    assert selection.by_video() == {"v": [8, 4, 12]}


def test_equidistant_global_fills_largest_gap_in_pool() -> None:
    """Across videos, global equidistant selection fills the largest gap of the pool first."""
    stats = {"a": FrameStats("a", 9), "b": FrameStats("b", 5)}
    labels = LabelState(human={"a": [0]})
    selection = global_select(stats, labels, 3, EquidistantScorer())
    assert [(r.video, r.frame) for r in selection.frames] == [("a", 8), ("a", 4), ("b", 2)]
    np.testing.assert_array_equal(selection.scores, [8, 4, 2.5])


@pytest.mark.parametrize("labelled", [[9], [-1], [3, 2], [2, 2]])
def test_equidistant_rejects_invalid_labels(labelled: list[int]) -> None:
    """Out-of-range, unsorted or repeated labelled frames raise ValueError."""
    with pytest.raises(ValueError):
        equidistant_scores(9, labelled)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 40).flatmap(
        lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1), min_size=1, max_size=n))
    )
)
def test_equidistant_matches_brute_force_distance(video: tuple[int, set[int]]) -> None:
    """With labels, equidistant scores equal a brute-force nearest-label distance."""
    num_frames, labelled = video
    lab = np.array(sorted(labelled), dtype=np.int64)
    expected = np.abs(np.arange(num_frames)[:, None] - lab[None, :]).min(axis=1)
    scores = EquidistantScorer().score(FrameStats("v", num_frames), lab, num_frames)
    assert scores.dtype == np.float64
    np.testing.assert_array_equal(scores, expected)
