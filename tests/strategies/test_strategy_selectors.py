"""Tests of the global, local and whole-video selectors (paper §3.1, §4.4)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest
from asl_strategies.scorers.equidistant import EquidistantScorer
from asl_strategies.selectors.global_greedy import (
    GlobalSelector,
    global_select,
    naive_global_select,
)
from asl_strategies.selectors.local import LocalSelector, local_quotas, local_select
from asl_strategies.selectors.video import VideoSelector, video_select
from hypothesis import given, settings
from hypothesis import strategies as st

from asl_core import (
    ConfigError,
    FrameStats,
    LabelState,
    PluginContractError,
    Scorer,
    Selection,
    Selector,
    VideoInfo,
)

SELECTORS = [GlobalSelector, LocalSelector, VideoSelector]
RNG_SEED = 0


class StatsScorer:
    """Test scorer: a frame's score is its stats value ``u``, whatever is labelled."""

    requires: frozenset[str] = frozenset()

    def frame_stats(
        self, video: VideoInfo, outputs: Mapping[str, np.ndarray], rng: np.random.Generator
    ) -> FrameStats:
        raise NotImplementedError

    def prepare_pool(self, stats: Mapping[str, FrameStats]) -> Mapping[str, FrameStats]:
        return stats

    def score(self, stats: FrameStats, labelled: np.ndarray, num_frames: int) -> np.ndarray:
        return np.array(stats.values["u"], dtype=np.float64)


class ProximityScorer(StatsScorer):
    """Test scorer: ``u + min(distance to the nearest labelled frame, 3)``, integer-valued so
    that ties are frequent and re-scoring after a pick changes the scores nearby."""

    def score(self, stats: FrameStats, labelled: np.ndarray, num_frames: int) -> np.ndarray:
        frames = np.arange(num_frames)
        dist = np.full(num_frames, 3)  # no label: as far as the cap allows
        if labelled.size:
            dist = np.abs(frames[:, None] - labelled[None, :]).min(axis=1)
        return stats.values["u"] + np.minimum(dist, 3)


class BadScorer(StatsScorer):
    """Test scorer that breaks the contract for video ``"bad"`` only."""

    def __init__(self, bad: np.ndarray) -> None:
        self.bad = bad

    def score(self, stats: FrameStats, labelled: np.ndarray, num_frames: int) -> np.ndarray:
        return self.bad if stats.video == "bad" else np.zeros(num_frames)


def pool(**videos: list[float]) -> dict[str, FrameStats]:
    """Stats ``{name: FrameStats(u=values)}`` in keyword order."""
    return {
        name: FrameStats.of(name, len(u), u=np.array(u, dtype=float)) for name, u in videos.items()
    }


def select(
    cls: type, stats: Mapping[str, FrameStats], labels: LabelState, budget: int, scorer: object
) -> Selection:
    """Run selector ``cls`` built from an empty config."""
    return cls.from_config({}).select(
        stats, labels, budget, scorer, np.random.default_rng(RNG_SEED)
    )


def as_pairs(selection: Selection) -> list[tuple[str, int]]:
    return [(ref.video, ref.frame) for ref in selection.frames]


@st.composite
def pools(draw: st.DrawFn) -> tuple[dict[str, FrameStats], LabelState, int]:
    """1-6 videos of 1-30 frames with integer stats 0..3, random labels and a budget up to
    three more than the unlabelled frames. Video names sort opposite to pool order, so a
    tie-break by name instead of position would show."""
    n = draw(st.integers(1, 6))
    stats: dict[str, FrameStats] = {}
    human: dict[str, list[int]] = {}
    unlabelled = 0
    for i in range(n):
        num_frames = draw(st.integers(1, 30))
        u = draw(st.lists(st.integers(0, 3), min_size=num_frames, max_size=num_frames))
        labelled = draw(st.sets(st.integers(0, num_frames - 1), max_size=num_frames))
        name = f"video{n - i}"
        stats[name] = FrameStats.of(name, num_frames, u=np.array(u, dtype=float))
        human[name] = sorted(labelled)
        unlabelled += num_frames - len(labelled)
    budget = draw(st.integers(0, unlabelled + 3))
    return stats, LabelState(human=human), budget


def unlabelled_count(stats: Mapping[str, FrameStats], labels: LabelState) -> int:
    return sum(s.num_frames - labels.labelled(v).size for v, s in stats.items())


# --------------------------------------------------------------------------- all selectors


@pytest.mark.parametrize("cls", SELECTORS)
def test_selectors_build_from_config_and_satisfy_protocol(cls: type) -> None:
    """Every selector builds from an empty config and is a Selector."""
    assert isinstance(cls.from_config({"type": "ignored"}), Selector)


@pytest.mark.parametrize("cls", SELECTORS)
def test_selectors_reject_unknown_keys(cls: type) -> None:
    """The parameterless selectors reject any configuration key."""
    with pytest.raises(ConfigError, match="unknown parameter 'budget'"):
        cls.from_config({"budget": 3})


@pytest.mark.parametrize("cls", SELECTORS)
def test_negative_budget_raises(cls: type) -> None:
    """A negative budget is a ValueError."""
    with pytest.raises(ValueError, match="budget"):
        select(cls, pool(a=[1, 2]), LabelState(), -1, StatsScorer())


@pytest.mark.parametrize("cls", SELECTORS)
def test_zero_budget_selects_nothing(cls: type) -> None:
    """A zero budget gives the empty selection without scoring."""
    selection = select(cls, pool(bad=[1, 2]), LabelState(), 0, BadScorer(np.array([np.nan])))
    assert selection == Selection.empty()


@pytest.mark.parametrize("cls", SELECTORS)
def test_budget_beyond_pool_takes_all_unlabelled(cls: type) -> None:
    """A budget larger than the unlabelled frames selects every unlabelled frame once."""
    labels = LabelState(human={"a": [1]})
    selection = select(cls, pool(a=[0, 0, 0], b=[1, 1]), labels, 10, ProximityScorer())
    assert sorted(as_pairs(selection)) == [("a", 0), ("a", 2), ("b", 0), ("b", 1)]


@pytest.mark.parametrize("cls", SELECTORS)
def test_fully_labelled_pool_selects_nothing(cls: type) -> None:
    """When every frame is labelled, nothing is selected."""
    labels = LabelState(human={"a": [0, 1]})
    assert select(cls, pool(a=[1, 2]), labels, 3, StatsScorer()) == Selection.empty()


@pytest.mark.parametrize("cls", SELECTORS)
def test_pseudo_labelled_frames_remain_candidates(cls: type) -> None:
    """Pseudo-labelled frames were never bought, so they can be selected."""
    labels = LabelState(pseudo={"a": [1]})
    assert as_pairs(select(cls, pool(a=[0, 5, 0]), labels, 1, StatsScorer())) == [("a", 1)]


@pytest.mark.parametrize("cls", SELECTORS)
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros(3), r"shape \(3,\).*'bad'.*expected \(2,\)"),
        (np.array([0.0, np.nan]), "non-finite"),
    ],
)
def test_scorer_contract_violation_names_video(cls: type, bad: np.ndarray, message: str) -> None:
    """Scores of the wrong shape or with NaN raise PluginContractError naming the video."""
    with pytest.raises(PluginContractError, match=message) as info:
        select(cls, pool(good=[0, 0], bad=[0, 0]), LabelState(), 2, BadScorer(bad))
    assert "'bad'" in str(info.value) and "BadScorer" in str(info.value)


# --------------------------------------------------------------------------- global


def test_global_ties_break_to_lowest_pool_position() -> None:
    """Equal scores go to the earlier video in pool order, then the lower frame."""
    stats = pool(z=[1, 2, 2], a=[2, 0, 2])
    selection = global_select(stats, LabelState(), 4, StatsScorer())
    assert as_pairs(selection) == [("z", 1), ("z", 2), ("a", 0), ("a", 2)]
    np.testing.assert_array_equal(selection.scores, [2, 2, 2, 2])


def test_global_rescoring_moves_picks_away_from_earlier_picks() -> None:
    """After a pick, the picked video is re-scored, so its neighbours lose their lead."""
    stats = pool(a=[0, 0, 1, 0, 0, 0, 0], b=[0, 0, 0])
    selection = global_select(stats, LabelState(human={"b": [0]}), 3, ProximityScorer())
    # a = u + 3 = [3, 3, 4, 3, 3, 3, 3] -> a2 (4); re-scored a = [2, 1, 1, 1, 2, 3, 3] -> a5 (3);
    # re-scored a = [2, 1, 1, 1, 1, 0, 1] and b = [0, 1, 2]: a0 and b2 tie at 2, a is first
    assert as_pairs(selection) == [("a", 2), ("a", 5), ("a", 0)]
    np.testing.assert_array_equal(selection.scores, [4, 3, 2])


def test_global_selector_class_matches_function() -> None:
    """GlobalSelector.select returns global_select of its arguments."""
    stats = pool(a=[3, 1, 2], b=[2, 2])
    expected = global_select(stats, LabelState(), 3, ProximityScorer())
    assert select(GlobalSelector, stats, LabelState(), 3, ProximityScorer()) == expected


@settings(max_examples=200, deadline=None)
@given(pools())
def test_heap_global_equals_naive(case: tuple[dict[str, FrameStats], LabelState, int]) -> None:
    """The heap-based global selector returns exactly the naive re-score-everything selection."""
    stats, labels, budget = case
    fast = global_select(stats, labels, budget, ProximityScorer())
    naive = naive_global_select(stats, labels, budget, ProximityScorer())
    assert as_pairs(fast) == as_pairs(naive)
    np.testing.assert_array_equal(fast.scores, naive.scores)


# --------------------------------------------------------------------------- local


def test_local_splits_remainder_to_best_videos() -> None:
    """Budget 7 over 3 videos gives 2 each plus the remainder frame to the best-scoring video."""
    stats = pool(a=[0.2] * 10, b=[0.9] * 10, c=[0.5] * 10)
    counts = {
        v: len(f) for v, f in local_select(stats, LabelState(), 7, StatsScorer()).by_video().items()
    }
    assert counts == {"a": 2, "b": 3, "c": 2}


def test_local_redistributes_share_of_small_video() -> None:
    """A video with fewer unlabelled frames than its share hands the rest to the others."""
    stats = pool(a=[1.0] * 4, b=[0.1] * 10, c=[0.7] * 10)
    labels = LabelState(human={"a": [0, 1, 2]})
    counts = {
        v: len(f) for v, f in local_select(stats, labels, 8, StatsScorer()).by_video().items()
    }
    assert counts == {"a": 1, "b": 3, "c": 4}


def test_local_orders_by_video_then_pick() -> None:
    """Local picks are grouped by video in pool order, in greedy pick order within a video."""
    stats = {"y": FrameStats("y", 9), "x": FrameStats("x", 9)}
    selection = local_select(stats, LabelState(), 4, EquidistantScorer())
    assert as_pairs(selection) == [("y", 4), ("y", 0), ("x", 4), ("x", 0)]
    np.testing.assert_array_equal(selection.scores, [4.5, 4, 4.5, 4])


@pytest.mark.parametrize(
    ("caps", "best", "budget", "expected"),
    [
        ([10, 10, 10], [0.2, 0.9, 0.5], 7, [2, 3, 2]),
        ([10, 10, 10], [0.5, 0.5, 0.5], 8, [3, 3, 2]),
        ([1, 10, 10], [9.0, 0.0, 1.0], 8, [1, 3, 4]),
        ([0, 2, 5], [0.0, 1.0, 1.0], 20, [0, 2, 5]),
        ([3, 3], [1.0, 2.0], 0, [0, 0]),
    ],
)
def test_local_quotas_known_answers(
    caps: list[int], best: list[float], budget: int, expected: list[int]
) -> None:
    """local_quotas splits evenly, caps, redistributes and gives the remainder to the best."""
    np.testing.assert_array_equal(local_quotas(caps, best, budget), expected)


@settings(max_examples=150, deadline=None)
@given(pools())
def test_local_counts_are_even_up_to_capacity(
    case: tuple[dict[str, FrameStats], LabelState, int],
) -> None:
    """No video gets more than one frame beyond any video that still had frames to give."""
    stats, labels, budget = case
    by_video = local_select(stats, labels, budget, ProximityScorer()).by_video()
    counts = {v: len(by_video.get(v, [])) for v in stats}
    caps = {v: s.num_frames - labels.labelled(v).size for v, s in stats.items()}
    open_counts = [counts[v] for v in stats if counts[v] < caps[v]]
    if open_counts:
        assert max(counts.values()) <= min(open_counts) + 1


# --------------------------------------------------------------------------- video


def test_video_ranks_by_mean_and_fills_last_video_partially() -> None:
    """Whole videos go by mean score; the first that does not fit is filled greedily."""
    stats = pool(a=[1, 1, 1], b=[3, 3], c=[2, 1, 3, 2])
    selection = video_select(stats, LabelState(), 4, StatsScorer())
    assert as_pairs(selection) == [("b", 0), ("b", 1), ("c", 2), ("c", 0)]
    np.testing.assert_array_equal(selection.scores, [3, 3, 3, 2])


def test_video_mean_ignores_labelled_frames() -> None:
    """A video's rank uses the mean over its unlabelled frames only."""
    stats = pool(a=[100, 0, 0], b=[1, 1])
    selection = video_select(stats, LabelState(human={"a": [0]}), 2, StatsScorer())
    assert as_pairs(selection) == [("b", 0), ("b", 1)]


def test_video_ties_break_to_lowest_pool_position() -> None:
    """Videos with equal mean scores are taken in pool order."""
    stats = pool(z=[1, 1], a=[1, 1])
    assert as_pairs(video_select(stats, LabelState(), 2, StatsScorer())) == [("z", 0), ("z", 1)]


@settings(max_examples=150, deadline=None)
@given(pools())
def test_video_annotates_at_most_one_video_partially(
    case: tuple[dict[str, FrameStats], LabelState, int],
) -> None:
    """Every touched video is annotated entirely except at most one."""
    stats, labels, budget = case
    by_video = video_select(stats, labels, budget, ProximityScorer()).by_video()
    partial = [
        v
        for v, frames in by_video.items()
        if len(frames) < stats[v].num_frames - labels.labelled(v).size
    ]
    assert len(partial) <= 1


# --------------------------------------------------------------------------- invariants


@pytest.mark.parametrize("cls", SELECTORS)
@settings(max_examples=100, deadline=None)
@given(case=pools())
def test_selection_invariants(
    cls: type, case: tuple[dict[str, FrameStats], LabelState, int]
) -> None:
    """Selectors pick exactly min(budget, unlabelled) distinct, unlabelled, in-range frames."""
    stats, labels, budget = case
    selection = select(cls, stats, labels, budget, ProximityScorer())
    pairs = as_pairs(selection)
    assert len(pairs) == min(budget, unlabelled_count(stats, labels))
    assert len(set(pairs)) == len(pairs)
    assert selection.scores.shape == (len(pairs),)
    for ref in selection.frames:
        assert 0 <= ref.frame < stats[ref.video].num_frames
        assert not labels.is_labelled(ref)


@pytest.mark.parametrize("cls", SELECTORS)
@settings(max_examples=50, deadline=None)
@given(case=pools())
def test_selection_is_deterministic(
    cls: type, case: tuple[dict[str, FrameStats], LabelState, int]
) -> None:
    """Two selections with equal inputs and equally seeded generators are equal."""
    stats, labels, budget = case
    assert select(cls, stats, labels, budget, ProximityScorer()) == select(
        cls, stats, labels, budget, ProximityScorer()
    )


@st.composite
def scored_pools(draw: st.DrawFn) -> tuple[list[VideoInfo], LabelState, int, int]:
    """1-5 videos of 1-25 frames, random labels, a budget up to two more than the unlabelled
    frames and a seed for the model outputs."""
    n = draw(st.integers(1, 5))
    videos, human, unlabelled = [], {}, 0
    for i in range(n):
        num_frames = draw(st.integers(1, 25))
        name = f"video{n - i}"
        videos.append(VideoInfo(name, num_frames))
        labelled = draw(st.sets(st.integers(0, num_frames - 1), max_size=num_frames))
        human[name] = sorted(labelled)
        unlabelled += num_frames - len(labelled)
    return (
        videos,
        LabelState(human=human),
        draw(st.integers(0, unlabelled + 2)),
        draw(st.integers(0, 99)),
    )


def _builtin_scorers() -> list[type]:
    from asl_strategies.scorers.aghdam import AghdamScorer
    from asl_strategies.scorers.apu import ApuScorer
    from asl_strategies.scorers.equidistant import EquidistantScorer
    from asl_strategies.scorers.gal import GalScorer
    from asl_strategies.scorers.random import RandomScorer

    return [ApuScorer, GalScorer, AghdamScorer, RandomScorer, EquidistantScorer]


def scorer_stats(scorer: Scorer, videos: list[VideoInfo], seed: int) -> dict[str, FrameStats]:
    """Stats made by ``scorer`` itself (``frame_stats`` then ``prepare_pool``) from model
    outputs whose probabilities take only three values, so ties happen."""
    from asl_core import MC_PROBS

    rng = np.random.default_rng(seed)
    stats = {}
    for video in videos:
        outputs = {}
        if MC_PROBS in scorer.requires:
            fg = rng.choice([0.05, 0.5, 0.95], size=(2, video.num_frames, 1, 2, 2))
            outputs[MC_PROBS] = np.concatenate([1 - fg, fg], axis=2).astype(np.float32)
        stats[video.id] = scorer.frame_stats(video, outputs, np.random.default_rng(seed))
    return dict(scorer.prepare_pool(stats))


@pytest.mark.parametrize("scorer_cls", _builtin_scorers(), ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(case=scored_pools())
def test_heap_global_equals_naive_for_every_builtin_scorer(scorer_cls: type, case) -> None:
    """For every built-in scorer, with stats made by the scorer itself from model outputs whose
    probabilities take only three values (so ties happen), heap and naive picks are identical."""
    videos, labels, budget, seed = case
    scorer = scorer_cls.from_config({})
    stats = scorer_stats(scorer, videos, seed)
    fast = global_select(stats, labels, budget, scorer)
    naive = naive_global_select(stats, labels, budget, scorer)
    assert as_pairs(fast) == as_pairs(naive)
    np.testing.assert_array_equal(fast.scores, naive.scores)


@pytest.mark.parametrize("selector_cls", [LocalSelector, VideoSelector], ids=lambda c: c.__name__)
@pytest.mark.parametrize("scorer_cls", _builtin_scorers(), ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None)
@given(case=scored_pools())
def test_local_and_video_selectors_work_with_every_builtin_scorer(
    selector_cls: type, scorer_cls: type, case
) -> None:
    """Every built-in scorer drives the local and video selectors to a valid selection: the
    budget (or every unlabelled frame) is spent, on distinct unlabelled frames only."""
    videos, labels, budget, seed = case
    scorer = scorer_cls.from_config({})
    stats = scorer_stats(scorer, videos, seed)
    selection = select(selector_cls, stats, labels, budget, scorer)
    pairs = as_pairs(selection)
    assert len(pairs) == len(set(pairs))
    assert all(f not in labels.labelled(v) for v, f in pairs)
    assert len(pairs) == min(budget, unlabelled_count(stats, labels))
