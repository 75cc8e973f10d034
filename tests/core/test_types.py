"""Tests of the frozen value types that cross plugin boundaries (asl_core.types)."""

from __future__ import annotations

import pickle

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asl_core import (
    FrameRef,
    FrameStats,
    FrozenMap,
    LabelState,
    Region,
    Selection,
    VideoInfo,
    frame_array,
)

# --------------------------------------------------------------------------- LabelState


def refs(video: str, *frames: int) -> list[FrameRef]:
    return [FrameRef(video, f) for f in frames]


def test_with_added_keeps_human_and_pseudo_apart() -> None:
    """Human and pseudo frames are stored separately; only human frames count as labelled."""
    state = LabelState().with_added(refs("a", 1, 5)).with_added(refs("a", 3), pseudo=True)
    assert state.labelled("a").tolist() == [1, 5]
    assert state.pseudo_labelled("a").tolist() == [3]
    assert state.num_labelled == 2
    assert not state.is_labelled(FrameRef("a", 3))
    assert state.is_labelled(FrameRef("a", 5))


def test_with_added_returns_a_new_state_and_leaves_the_old_one() -> None:
    """with_added returns a new object and does not change the state it was called on."""
    old = LabelState.from_frames(refs("a", 2))
    new = old.with_added(refs("a", 7) + refs("b", 0))
    assert new is not old
    assert old.labelled("a").tolist() == [2]
    assert old.labelled("b").tolist() == []
    assert new.labelled("a").tolist() == [2, 7]
    assert new.labelled("b").tolist() == [0]


def test_human_label_replaces_pseudo_label() -> None:
    """A frame that becomes human-labelled leaves the pseudo set."""
    state = LabelState.from_frames(refs("a", 1, 2), pseudo=True).with_added(refs("a", 2))
    assert state.labelled("a").tolist() == [2]
    assert state.pseudo_labelled("a").tolist() == [1]


def test_pseudo_label_of_a_human_frame_is_ignored() -> None:
    """Adding a pseudo-label to a human-labelled frame leaves it human only."""
    state = LabelState.from_frames(refs("a", 4)).with_added(refs("a", 4), pseudo=True)
    assert state.labelled("a").tolist() == [4]
    assert state.pseudo_labelled("a").tolist() == []


def test_with_added_accepts_a_selection() -> None:
    """A Selection can be added directly."""
    sel = Selection(refs("v", 3, 1), [0.5, 0.2])
    assert LabelState().with_added(sel).labelled("v").tolist() == [1, 3]


def test_label_state_sorts_dedups_and_drops_empty_videos() -> None:
    """LabelState stores sorted unique frames and no entry for a video without frames."""
    state = LabelState(human={"a": [5, 1, 5], "b": []})
    assert state.labelled("a").tolist() == [1, 5]
    assert "b" not in state.human


def test_label_state_arrays_are_read_only() -> None:
    """Writing into a LabelState array raises ValueError."""
    state = LabelState.from_frames(refs("a", 1, 2)).with_added(refs("a", 3), pseudo=True)
    with pytest.raises(ValueError, match="read-only"):
        state.labelled("a")[0] = 9
    with pytest.raises(ValueError, match="read-only"):
        state.pseudo_labelled("a")[0] = 9
    with pytest.raises(ValueError, match="read-only"):
        state.labelled("missing")[...] = 0


def test_label_state_copies_its_input() -> None:
    """Changing the array a LabelState was built from does not change the state."""
    frames = np.array([1, 2])
    state = LabelState(human={"a": frames})
    frames[0] = 7
    assert state.labelled("a").tolist() == [1, 2]


def test_label_state_is_frozen_and_picklable() -> None:
    """A LabelState cannot be reassigned and survives pickling unchanged."""
    state = LabelState.from_frames(refs("a", 1)).with_added(refs("b", 2), pseudo=True)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        state.human = FrozenMap()  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(state)) == state


label_ops = st.lists(
    st.tuples(
        st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 15)), max_size=6),
        st.booleans(),
    ),
    max_size=6,
)


def apply(state: LabelState, ops: list[tuple[list[tuple[str, int]], bool]]) -> LabelState:
    for frames, pseudo in ops:
        state = state.with_added([FrameRef(v, f) for v, f in frames], pseudo=pseudo)
    return state


@settings(max_examples=60, deadline=None)
@given(ops=label_ops)
def test_with_added_is_order_independent_and_idempotent(
    ops: list[tuple[list[tuple[str, int]], bool]],
) -> None:
    """The state after a set of additions depends neither on their order nor on repeats, and
    no frame is both human and pseudo."""
    forward = apply(LabelState(), ops)
    assert apply(LabelState(), ops[::-1]) == forward
    assert apply(forward, ops) == forward
    for video, human in forward.human.items():
        assert not np.intersect1d(human, forward.pseudo_labelled(video)).size
    expected_human = {(v, f) for frames, pseudo in ops if not pseudo for v, f in frames}
    got_human = {(v, int(f)) for v, arr in forward.human.items() for f in arr}
    assert got_human == expected_human


# --------------------------------------------------------------------------- Selection, FrameStats


def test_selection_scores_are_read_only_float64() -> None:
    """Selection stores its scores as a read-only float64 copy."""
    raw = np.array([3, 1])
    sel = Selection(refs("v", 0, 1), raw)
    raw[0] = 100
    assert sel.scores.dtype == np.float64
    assert sel.scores.tolist() == [3.0, 1.0]
    with pytest.raises(ValueError, match="read-only"):
        sel.scores[0] = 0.0


def test_selection_rejects_a_scores_length_mismatch() -> None:
    """A Selection whose scores do not match its frames raises ValueError."""
    with pytest.raises(ValueError, match="2 frames"):
        Selection(refs("v", 0, 1), [1.0])


def test_selection_compares_scores_by_value_and_pickles() -> None:
    """Selections with equal frames and scores are equal, also after pickling."""
    a = Selection(refs("v", 2, 0), [0.5, 0.25])
    b = Selection(refs("v", 2, 0), np.array([0.5, 0.25]))
    assert a == b
    assert a != Selection(refs("v", 2, 0), [0.5, 0.3])
    assert pickle.loads(pickle.dumps(a)) == a


def test_selection_by_video_keeps_pick_order() -> None:
    """by_video groups frames per video in the order they were picked."""
    sel = Selection([FrameRef("b", 4), FrameRef("a", 1), FrameRef("b", 0)], [3, 2, 1])
    assert sel.by_video() == {"b": [4, 0], "a": [1]}
    assert len(Selection.empty()) == 0


def test_frame_stats_of_makes_read_only_copies() -> None:
    """FrameStats.of copies each array and makes it read-only."""
    u = np.array([0.1, 0.2, 0.3])
    stats = FrameStats.of("v", 3, u=u)
    u[0] = 9.0
    assert stats.values["u"][0] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="read-only"):
        stats.values["u"][0] = 1.0
    assert isinstance(stats.values, FrozenMap)


def test_frame_stats_rejects_a_wrong_first_axis() -> None:
    """A stats array whose first axis is not num_frames raises ValueError."""
    with pytest.raises(ValueError, match="first axis 3"):
        FrameStats.of("v", 3, u=np.zeros(4))
    with pytest.raises(ValueError, match="first axis"):
        FrameStats.of("v", 3, u=np.float64(1.0))


def test_frame_stats_pickles_and_compares_arrays_by_value() -> None:
    """FrameStats compare arrays by value and survive pickling."""
    stats = FrameStats.of("v", 2, u=[0.5, 1.5], d=np.ones((2, 3)))
    assert stats == FrameStats.of("v", 2, u=np.array([0.5, 1.5]), d=np.ones((2, 3)))
    assert stats != FrameStats.of("v", 2, u=[0.5, 1.0], d=np.ones((2, 3)))
    assert pickle.loads(pickle.dumps(stats)) == stats


def test_frame_stats_constructor_freezes_values() -> None:
    """FrameStats built directly from a dict stores a FrozenMap of read-only arrays."""
    stats = FrameStats("v", 3, {"u": np.zeros(3)})
    assert isinstance(stats.values, FrozenMap)
    assert not stats.values["u"].flags.writeable


def test_frame_stats_of_stores_float_arrays() -> None:
    """FrameStats.of converts integer input to a float array, as documented."""
    stats = FrameStats.of("v", 3, u=[1, 2, 3])
    assert stats.values["u"].dtype.kind == "f"


# --------------------------------------------------------------------------- FrozenMap


def test_frozen_map_rejects_mutation() -> None:
    """A FrozenMap supports neither item nor attribute assignment."""
    m = FrozenMap({"a": 1})
    with pytest.raises(TypeError):
        m["a"] = 2  # type: ignore[index]
    with pytest.raises(TypeError):
        del m["a"]  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="immutable"):
        m._data = {}  # type: ignore[misc]
    assert dict(m) == {"a": 1}


def test_frozen_map_copies_its_input() -> None:
    """Changing the dict a FrozenMap was built from does not change the map."""
    source = {"a": 1}
    m = FrozenMap(source)
    source["b"] = 2
    assert list(m) == ["a"]


def test_frozen_map_is_not_hashable() -> None:
    """A FrozenMap is unhashable (its values may be arrays)."""
    with pytest.raises(TypeError):
        hash(FrozenMap({"a": 1}))


def test_frozen_map_pickles() -> None:
    """A FrozenMap of arrays survives pickling as an equal FrozenMap."""
    m = FrozenMap({"u": np.arange(3.0), "n": 2})
    clone = pickle.loads(pickle.dumps(m))
    assert type(clone) is FrozenMap
    assert clone == m


def test_frozen_map_compares_arrays_with_array_equal() -> None:
    """FrozenMaps (and plain mappings) with equal arrays are equal; a differing array is not."""
    m = FrozenMap({"u": np.array([1.0, 2.0])})
    assert m == FrozenMap({"u": np.array([1.0, 2.0])})
    assert m == {"u": np.array([1.0, 2.0])}
    assert m != FrozenMap({"u": np.array([1.0, 3.0])})
    assert m != FrozenMap({"u": np.array([1.0, 2.0, 3.0])})
    assert m != FrozenMap({"v": np.array([1.0, 2.0])})
    assert m != FrozenMap({"u": [1.0, 2.0]})


# --------------------------------------------------------------------------- FrameRef, Region, VideoInfo


def test_frame_ref_rejects_negative_frames() -> None:
    """A negative frame index raises ValueError naming the video."""
    with pytest.raises(ValueError, match="'v'"):
        FrameRef("v", -1)


def test_frame_ref_converts_and_orders() -> None:
    """FrameRef converts the frame to int and orders by (video, frame)."""
    assert FrameRef("v", np.int64(3)) == FrameRef("v", 3)
    assert sorted([FrameRef("b", 0), FrameRef("a", 9), FrameRef("a", 2)]) == [
        FrameRef("a", 2),
        FrameRef("a", 9),
        FrameRef("b", 0),
    ]


def test_region_needs_a_box_or_a_mask() -> None:
    """A region with neither a box nor a mask raises ValueError."""
    with pytest.raises(ValueError, match="box or a mask"):
        Region(track_id=0, category=0)


@pytest.mark.parametrize(
    "box",
    [(5, 0, 4, 10), (0, 5, 10, 4), (0, 0, float("nan"), 1), (0, 0, float("inf"), 1)],
    ids=["x2<x1", "y2<y1", "nan", "inf"],
)
def test_region_rejects_an_invalid_box(box: tuple[float, ...]) -> None:
    """A box with x2 < x1, y2 < y1 or a non-finite coordinate raises ValueError."""
    with pytest.raises(ValueError, match="invalid box"):
        Region(track_id=0, category=0, box=box)


def test_region_rejects_a_box_of_wrong_length() -> None:
    """A box without exactly four numbers raises ValueError."""
    with pytest.raises(ValueError, match="4 numbers"):
        Region(track_id=0, category=0, box=(0, 0, 1))


def test_region_accepts_a_mask_only_and_freezes_it() -> None:
    """A mask-only region is valid; its RLE becomes a FrozenMap with decoded counts."""
    region = Region(track_id=1, category=2, mask={"size": [4, 5], "counts": b"abc"})
    assert region.box is None
    assert region.mask == FrozenMap({"size": (4, 5), "counts": "abc"})
    assert pickle.loads(pickle.dumps(region)) == region


def test_region_accepts_a_degenerate_box() -> None:
    """A zero-area box (x1 == x2, y1 == y2) is valid and stored as floats."""
    assert Region(track_id=0, category=0, box=(3, 4, 3, 4)).box == (3.0, 4.0, 3.0, 4.0)


def test_video_info_needs_a_frame() -> None:
    """A video with fewer than one frame raises ValueError."""
    with pytest.raises(ValueError, match="num_frames"):
        VideoInfo("v", 0)


# --------------------------------------------------------------------------- frame_array


def test_frame_array_sorts_and_dedups() -> None:
    """frame_array returns sorted unique int64 indices, read-only."""
    arr = frame_array([5, 1, 5, 3])
    assert arr.tolist() == [1, 3, 5]
    assert arr.dtype == np.int64
    assert not arr.flags.writeable


def test_frame_array_rejects_negative_indices() -> None:
    """A negative frame index raises ValueError."""
    with pytest.raises(ValueError, match=">= 0"):
        frame_array([3, -2])


def test_frame_array_accepts_integral_floats_and_rejects_fractions() -> None:
    """Whole-number floats become ints; fractional or non-finite values raise ValueError."""
    assert frame_array([2.0, 1.0]).tolist() == [1, 2]
    with pytest.raises(ValueError, match="integers"):
        frame_array([1.5])
    with pytest.raises(ValueError, match="integers"):
        frame_array([float("nan")])


def test_frame_array_of_nothing_is_empty_int64() -> None:
    """An empty input gives an empty read-only int64 array."""
    arr = frame_array([])
    assert arr.shape == (0,)
    assert arr.dtype == np.int64
    assert not arr.flags.writeable


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10_000), max_size=30))
def test_frame_array_matches_sorted_set(frames: list[int]) -> None:
    """frame_array(x) equals sorted(set(x)) for any non-negative integers."""
    assert frame_array(frames).tolist() == sorted(set(frames))
