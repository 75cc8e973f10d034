"""Pseudo-labels from sparse human labels (paper §3.2): known answers and invariants."""

from __future__ import annotations

import numpy as np
import pytest
from asl_action_det.pseudo import (
    PseudoBoxes,
    interpolate_track_boxes,
    nearest_labelled,
    pseudo_boxes,
    pseudo_masks,
    rasterize_boxes,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from asl_core import Region

# --------------------------------------------------------------------------- nearest_labelled


def test_nearest_labelled_ties_go_to_the_earlier_frame():
    """Frame 4 is 2 away from both 2 and 6 and takes 2; ends take the first / last."""
    np.testing.assert_array_equal(nearest_labelled(10, [2, 6]), [2, 2, 2, 2, 2, 6, 6, 6, 6, 6])


def test_nearest_labelled_without_tie():
    """With labels 2 and 5, frame 3 takes 2 (distance 1) and frame 4 takes 5 (distance 1 vs 2)."""
    np.testing.assert_array_equal(nearest_labelled(7, [2, 5]), [2, 2, 2, 2, 5, 5, 5])


def test_nearest_labelled_sorts_and_dedups_input():
    """Unsorted or repeated labelled frames are normalised first."""
    np.testing.assert_array_equal(nearest_labelled(5, [4, 0, 4]), nearest_labelled(5, [0, 4]))


def test_nearest_labelled_needs_a_labelled_frame_in_range():
    """No labelled frame, or one outside the video, raises ValueError."""
    with pytest.raises(ValueError, match="no labelled frame"):
        nearest_labelled(5, [])
    with pytest.raises(ValueError, match="outside"):
        nearest_labelled(5, [5])


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 40).flatmap(
        lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1), min_size=1, max_size=n))
    )
)
def test_nearest_labelled_matches_brute_force(case):
    """The vectorised search equals a brute-force min over |f - l| with ties to the earlier."""
    num_frames, labelled = case
    lab = sorted(labelled)
    brute = [min(lab, key=lambda x, f=f: (abs(f - x), x)) for f in range(num_frames)]
    np.testing.assert_array_equal(nearest_labelled(num_frames, lab), brute)


# --------------------------------------------------------------------------- interpolate_track_boxes


def test_interpolation_known_answer():
    """Corners interpolate linearly between labels and stay constant outside them."""
    out = interpolate_track_boxes(9, [2, 6], [[0, 0, 4, 4], [4, 8, 8, 16]])
    # frame 3: w = 1/4 -> (0 + 1, 0 + 2, 4 + 1, 4 + 3); frame 4: w = 1/2
    np.testing.assert_allclose(out[3], [1, 2, 5, 7])
    np.testing.assert_allclose(out[4], [2, 4, 6, 10])
    np.testing.assert_array_equal(out[[0, 1, 2]], [[0, 0, 4, 4]] * 3)
    np.testing.assert_array_equal(out[[6, 7, 8]], [[4, 8, 8, 16]] * 3)


def test_interpolation_single_label_is_constant():
    """One labelled frame gives its box on every frame."""
    np.testing.assert_array_equal(
        interpolate_track_boxes(4, [1], [[1, 2, 3, 4]]), [[1, 2, 3, 4]] * 4
    )


def test_interpolation_rejects_bad_frames():
    """Empty, unsorted or out-of-range frames and mismatched boxes raise ValueError."""
    with pytest.raises(ValueError):
        interpolate_track_boxes(5, [], np.zeros((0, 4)))
    with pytest.raises(ValueError, match="strictly increasing"):
        interpolate_track_boxes(5, [3, 1], np.zeros((2, 4)))
    with pytest.raises(ValueError, match="strictly increasing"):
        interpolate_track_boxes(5, [1, 5], np.zeros((2, 4)))
    with pytest.raises(ValueError, match="shape"):
        interpolate_track_boxes(5, [1, 2], np.zeros((3, 4)))


_coord = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)


@st.composite
def _track(draw: st.DrawFn) -> tuple[int, np.ndarray, np.ndarray]:
    """A video length, sorted labelled frames and random boxes (corners need not be ordered)."""
    num_frames = draw(st.integers(1, 30))
    frames = np.array(sorted(draw(st.sets(st.integers(0, num_frames - 1), min_size=1))))
    boxes = np.array(
        draw(st.lists(st.tuples(*[_coord] * 4), min_size=frames.size, max_size=frames.size))
    )
    return num_frames, frames, boxes.reshape(-1, 4)


@settings(max_examples=200, deadline=None)
@given(_track())
def test_interpolation_is_exact_at_labels_and_bounded_between(track):
    """Labels are reproduced exactly; other frames lie between the neighbouring labels' corners."""
    num_frames, frames, boxes = track
    out = interpolate_track_boxes(num_frames, frames, boxes)
    np.testing.assert_array_equal(out[frames], boxes)
    for f in range(num_frames):
        lo = frames[frames <= f].max() if np.any(frames <= f) else frames[0]
        hi = frames[frames >= f].min() if np.any(frames >= f) else frames[-1]
        a, b = boxes[frames == lo][0], boxes[frames == hi][0]
        assert np.all(out[f] >= np.minimum(a, b)) and np.all(out[f] <= np.maximum(a, b))


# --------------------------------------------------------------------------- pseudo_boxes

BOX_A = (0.0, 0.0, 4.0, 4.0)
BOX_B = (4.0, 8.0, 8.0, 16.0)


def test_boxes_are_constant_before_first_and_after_last_label():
    """Frames before the first / after the last labelled frame copy its box."""
    pb = pseudo_boxes(9, [2, 6], {2: [(0, 1, BOX_A)], 6: [(0, 1, BOX_B)]})
    assert pb.present.all()
    np.testing.assert_array_equal(pb.boxes[0, :3], [BOX_A] * 3)
    np.testing.assert_array_equal(pb.boxes[0, 6:], [BOX_B] * 3)


def test_boxes_between_two_labels_with_the_actor_are_interpolated():
    """Between two labelled frames that both show the track the corners are interpolated."""
    pb = pseudo_boxes(9, [2, 6], {2: [(0, 1, BOX_A)], 6: [(0, 1, BOX_B)]})
    np.testing.assert_allclose(pb.boxes[0, 3], [1, 2, 5, 7])
    np.testing.assert_allclose(pb.boxes[0, 5], [3, 6, 7, 13])


def test_gap_towards_a_frame_without_the_actor_holds_then_drops():
    """Between a frame with and one without the actor: held box up to the midpoint, then none."""
    pb = pseudo_boxes(9, [2, 6], {2: [(0, 1, BOX_A)], 6: []})
    # nearest labelled frame: 0-4 -> 2 (frame 4 is a tie, earlier wins), 5-8 -> 6
    np.testing.assert_array_equal(pb.present[0], [1, 1, 1, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(pb.boxes[0, :5], [BOX_A] * 5)
    assert np.all(np.isnan(pb.boxes[0, 5:])) and np.all(pb.categories[0, 5:] == -1)


def test_no_interpolation_across_a_labelled_frame_without_the_actor():
    """A labelled empty frame between two showing the track stops interpolation across it."""
    pb = pseudo_boxes(13, [2, 6, 10], {2: [(0, 1, BOX_A)], 6: [], 10: [(0, 1, BOX_B)]})
    # frame 8 is a tie between 6 and 10: the earlier (empty) frame wins
    np.testing.assert_array_equal(pb.present[0], [1] * 5 + [0] * 4 + [1] * 4)
    np.testing.assert_array_equal(pb.boxes[0, 3], BOX_A)  # held, not interpolated towards 10
    np.testing.assert_array_equal(pb.boxes[0, 9], BOX_B)


def test_track_appearing_later_starts_at_the_midpoint():
    """A second track first seen on a later labelled frame appears once that frame is nearest."""
    regions = {2: [(0, 1, BOX_A)], 6: [(0, 1, BOX_B), (7, 3, (1.0, 1.0, 2.0, 2.0))]}
    pb = pseudo_boxes(9, [2, 6], regions)
    np.testing.assert_array_equal(pb.track_ids, [0, 7])
    np.testing.assert_array_equal(pb.present[1], [0, 0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(pb.categories[1], [-1] * 5 + [3] * 4)
    np.testing.assert_array_equal(pb.boxes[1, 5], [1, 1, 2, 2])  # held: frame 2 lacks track 7
    assert pb.present[0].all()


def test_labelled_frame_without_any_region_may_be_missing_or_empty():
    """A labelled frame absent from the mapping means "no actor", same as an empty list."""
    with_empty = pseudo_boxes(6, [0, 5], {0: [(0, 0, BOX_A)], 5: []})
    missing = pseudo_boxes(6, [0, 5], {0: [(0, 0, BOX_A)]})
    assert with_empty == missing
    np.testing.assert_array_equal(missing.present[0], [1, 1, 1, 0, 0, 0])


def test_only_empty_labels_give_no_track():
    """Labelled frames that all show no actor give no track and no region anywhere."""
    pb = pseudo_boxes(4, [1], {1: []})
    assert pb.present.shape == (0, 4) and pb.boxes.shape == (0, 4, 4)
    assert pb.regions(0) == []


def test_nothing_labelled_gives_no_track():
    """A video with no labelled frame has no pseudo-label."""
    pb = pseudo_boxes(3, [], {})
    assert pb.track_ids.size == 0 and not pb.human.any()


def test_labelled_frames_keep_their_own_labels():
    """Human-labelled frames get exactly their annotation and are flagged human."""
    pb = pseudo_boxes(9, [2, 6], {2: [(0, 1, BOX_A)], 6: [(0, 1, BOX_B)]})
    np.testing.assert_array_equal(pb.human, [0, 0, 1, 0, 0, 0, 1, 0, 0])
    assert pb.regions(2) == [(0, 1, BOX_A)] and pb.regions(6) == [(0, 1, BOX_B)]


def test_annotations_of_unlabelled_frames_are_refused():
    """Giving boxes for a frame that is not labelled raises (no ground-truth leak)."""
    with pytest.raises(ValueError, match="never ground truth"):
        pseudo_boxes(9, [2], {2: [(0, 1, BOX_A)], 4: [(0, 1, BOX_B)]})


def test_region_objects_are_accepted():
    """asl_core.Region values work like (track_id, category, box) tuples."""
    as_tuples = pseudo_boxes(5, [1, 3], {1: [(2, 0, BOX_A)], 3: [(2, 0, BOX_B)]})
    as_regions = pseudo_boxes(
        5, [1, 3], {1: [Region(track_id=2, category=0, box=BOX_A)], 3: [Region(2, 0, BOX_B)]}
    )
    assert as_tuples == as_regions


def test_duplicate_track_on_a_frame_is_refused():
    """One track twice on the same labelled frame raises ValueError."""
    with pytest.raises(ValueError, match="twice"):
        pseudo_boxes(3, [0], {0: [(0, 0, BOX_A), (0, 0, BOX_B)]})


def test_invalid_box_is_refused():
    """Boxes with x2 < x1 or non-finite values raise ValueError."""
    with pytest.raises(ValueError, match="invalid box"):
        pseudo_boxes(3, [0], {0: [(0, 0, (4.0, 0.0, 1.0, 1.0))]})


def test_result_arrays_are_read_only():
    """PseudoBoxes arrays cannot be modified in place."""
    pb = pseudo_boxes(3, [0], {0: [(0, 0, BOX_A)]})
    assert isinstance(pb, PseudoBoxes)
    with pytest.raises(ValueError):
        pb.boxes[0, 0, 0] = 1.0


def test_mask_rasterises_the_frame_boxes():
    """PseudoBoxes.mask is the union of the frame's present boxes."""
    pb = pseudo_boxes(3, [0], {0: [(0, 0, (0.0, 0.0, 2.0, 1.0)), (1, 0, (3.0, 2.0, 4.0, 3.0))]})
    expected = np.zeros((3, 4), dtype=bool)
    expected[0, 0:2] = True
    expected[2, 3] = True
    np.testing.assert_array_equal(pb.mask(2, 3, 4), expected)


@st.composite
def _sparse_video(draw: st.DrawFn) -> tuple[int, list[int], dict[int, list]]:
    """A video with labelled frames, each showing a random subset of two tracks."""
    num_frames = draw(st.integers(1, 25))
    labelled = sorted(draw(st.sets(st.integers(0, num_frames - 1), min_size=1, max_size=6)))
    regions = {}
    for f in labelled:
        tracks = draw(st.sets(st.integers(0, 1)))
        regions[f] = []
        for t in sorted(tracks):
            (x1, x2), (y1, y2) = (sorted(draw(st.tuples(_coord, _coord))) for _ in range(2))
            regions[f].append((t, t, (x1, y1, x2, y2)))
    return num_frames, labelled, regions


@settings(max_examples=150, deadline=None)
@given(_sparse_video())
def test_pseudo_boxes_invariants(video):
    """Labels are kept exactly; presence follows the nearest label; boxes stay within labels."""
    num_frames, labelled, regions = video
    pb = pseudo_boxes(num_frames, labelled, regions)
    near = nearest_labelled(num_frames, labelled)
    lab = np.array(labelled)
    for f in labelled:
        assert pb.regions(f) == [(t, c, tuple(map(float, b))) for t, c, b in regions[f]]
    for k, track in enumerate(pb.track_ids.tolist()):
        for f in range(num_frames):
            shown = {t: b for t, _, b in regions[int(near[f])]}
            assert pb.present[k, f] == (track in shown)
            if not pb.present[k, f]:
                continue
            a = lab[lab <= f].max() if np.any(lab <= f) else near[f]
            b = lab[lab >= f].min() if np.any(lab >= f) else near[f]
            corners = [dict((t, bx) for t, _, bx in regions[int(x)]).get(track) for x in (a, b)]
            corners = np.array([c for c in corners if c is not None])
            assert np.all(pb.boxes[k, f] >= corners.min(axis=0))
            assert np.all(pb.boxes[k, f] <= corners.max(axis=0))


# --------------------------------------------------------------------------- rasterize_boxes


def test_rasterize_integer_box_covers_x1_to_x2_minus_one():
    """(1, 0, 3, 2) covers columns 1-2 and rows 0-1 (UCF x, y, w, h = 1, 0, 2, 2)."""
    expected = np.zeros((3, 4), dtype=bool)
    expected[0:2, 1:3] = True
    np.testing.assert_array_equal(rasterize_boxes([[1, 0, 3, 2]], 3, 4), expected)


def test_rasterize_tests_pixel_centres():
    """A fractional box covers the pixels whose centres (c + 0.5, r + 0.5) it contains."""
    # x: 0.5 <= c + 0.5 < 1.5 -> c = 0; y: 0.5 <= r + 0.5 < 1.6 -> r = 0, 1
    mask = rasterize_boxes([0.5, 0.5, 1.5, 1.6], 3, 3)
    np.testing.assert_array_equal(np.argwhere(mask), [[0, 0], [1, 0]])


def test_rasterize_clips_to_image_and_skips_nan_rows():
    """Parts outside the image are cut off and rows with NaN cover nothing."""
    mask = rasterize_boxes([[-5, -5, 1, 1], [np.nan] * 4, [3, 2, 99, 99]], 3, 4)
    assert np.argwhere(mask).tolist() == [[0, 0], [2, 3]]


def test_rasterize_no_box_is_empty():
    """No box gives an all-False mask of the requested size."""
    mask = rasterize_boxes(np.zeros((0, 4)), 2, 5)
    assert mask.shape == (2, 5) and not mask.any()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(*[st.floats(-2, 8, allow_nan=False)] * 4), max_size=4), st.integers(1, 6))
def test_rasterize_matches_per_pixel_rule(boxes, size):
    """The vectorised mask equals the per-pixel centre test, box by box."""
    expected = np.zeros((size, size + 1), dtype=bool)
    for x1, y1, x2, y2 in boxes:
        for r in range(size):
            for c in range(size + 1):
                expected[r, c] |= x1 <= c + 0.5 < x2 and y1 <= r + 0.5 < y2
    np.testing.assert_array_equal(
        rasterize_boxes(np.array(boxes).reshape(-1, 4), size, size + 1), expected
    )


# --------------------------------------------------------------------------- pseudo_masks


def _masks() -> dict[int, np.ndarray]:
    m1 = np.zeros((2, 3), dtype=bool)
    m1[0, 0] = True
    m5 = np.zeros((2, 3), dtype=bool)  # labelled, no actor
    return {1: m1, 5: m5}


def test_masks_come_from_the_nearest_labelled_frame():
    """Each frame uses its nearest labelled frame's mask (frame 3: tie, earlier wins)."""
    masks = _masks()
    pm = pseudo_masks(7, [1, 5], masks)
    np.testing.assert_array_equal(pm.source, [1, 1, 1, 1, 5, 5, 5])
    assert len(pm) == 7
    np.testing.assert_array_equal(pm[3], masks[1])
    np.testing.assert_array_equal(pm[4], masks[5])


def test_masks_are_views_not_copies():
    """Frames share the labelled masks' memory (read-only views); the caller's array stays writable."""
    masks = _masks()
    pm = pseudo_masks(7, [1, 5], masks)
    assert np.shares_memory(pm[0], masks[1]) and not pm[0].flags.writeable
    assert masks[1].flags.writeable


def test_gather_stacks_a_clip():
    """gather returns the masks of the requested frames stacked as [n, H, W]."""
    pm = pseudo_masks(7, [1, 5], _masks())
    clip = pm.gather([0, 2, 4, 6])
    assert clip.shape == (4, 2, 3)
    np.testing.assert_array_equal(clip.any(axis=(1, 2)), [True, True, False, False])


def test_mask_human_flags_only_labelled_frames():
    """human is True exactly on labelled frames."""
    pm = pseudo_masks(7, [1, 5], _masks())
    np.testing.assert_array_equal(pm.human, [0, 1, 0, 0, 0, 1, 0])


def test_masks_for_unlabelled_or_missing_frames_are_refused():
    """Masks of unlabelled frames (ground truth) or labelled frames without a mask raise."""
    with pytest.raises(ValueError, match="never ground truth"):
        pseudo_masks(7, [1], _masks())
    with pytest.raises(ValueError, match="without a mask"):
        pseudo_masks(7, [1, 5, 6], _masks())


def test_masks_need_one_shape_and_a_label():
    """Masks of different shapes, or no labelled frame at all, raise ValueError."""
    with pytest.raises(ValueError, match="shapes"):
        pseudo_masks(7, [1, 5], {1: np.zeros((2, 3), bool), 5: np.zeros((3, 3), bool)})
    with pytest.raises(ValueError, match="no labelled frame"):
        pseudo_masks(7, [], {})
