"""J, F and their summaries (asl_vos.metrics, specs §C.2): known answers computed by hand,
the special cases, and invariants with hypothesis."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from asl_vos.metrics import (
    ObjectScore,
    boundary_f,
    boundary_precision_recall,
    decay,
    disk,
    naive_boundary_f,
    recall,
    region_j,
    score_frame,
    score_video,
    seg2bmap,
    summarize,
    tolerance_radius,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays


def square(shape: tuple[int, int], rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    """A bool mask with ``True`` on rows ``rows[0]..rows[1]`` and columns ``cols[0]..cols[1]``
    (inclusive)."""
    m = np.zeros(shape, dtype=bool)
    m[rows[0] : rows[1] + 1, cols[0] : cols[1] + 1] = True
    return m


def grid(text: str) -> np.ndarray:
    """A bool array from rows of 0/1 characters separated by spaces."""
    return np.array([[c == "1" for c in row] for row in text.split()], dtype=bool)


# --------------------------------------------------------------------------- J


def test_j_square_shifted_diagonally() -> None:
    """Two 4x4 squares one pixel apart diagonally: inter 3x3 = 9, union 16 + 16 - 9 = 23."""
    gt = square((8, 8), (1, 4), (1, 4))
    pred = square((8, 8), (2, 5), (2, 5))
    assert region_j(pred, gt) == pytest.approx(9 / 23)


def test_j_square_shifted_sideways() -> None:
    """Shifted one column: inter 4x3 = 12, union 32 - 12 = 20, J = 3/5."""
    gt = square((8, 8), (1, 4), (1, 4))
    pred = square((8, 8), (1, 4), (2, 5))
    assert region_j(pred, gt) == pytest.approx(3 / 5)


def test_j_empty_union_is_one() -> None:
    """Both masks empty: J = 1 (DAVIS convention)."""
    empty = np.zeros((3, 4), dtype=bool)
    assert region_j(empty, empty) == 1.0


def test_j_excludes_void_pixels() -> None:
    """pred 1100, gt 0110: J = 1/3; voiding the first pixel leaves inter 1, union 2."""
    pred, gt = grid("1100"), grid("0110")
    assert region_j(pred, gt) == pytest.approx(1 / 3)
    assert region_j(pred, gt, grid("1000")) == pytest.approx(1 / 2)


def test_j_all_void_is_one() -> None:
    """A union made only of void pixels is empty: J = 1."""
    assert region_j(grid("1100"), grid("0110"), grid("1111")) == 1.0


def test_j_refuses_shape_mismatch() -> None:
    """Masks of different shapes are a ValueError naming both shapes."""
    with pytest.raises(ValueError, match=r"\(2, 2\) vs \(2, 3\)"):
        region_j(np.zeros((2, 2), bool), np.zeros((2, 3), bool))


# --------------------------------------------------------------------------- seg2bmap


def test_seg2bmap_square_inside() -> None:
    """A 2x2 square at rows/cols 1-2 of 4x4: the ring of rows/cols 0-2 (half a pixel toward
    the origin); worked out pixel by pixel with the east/south/south-east XORs."""
    seg = square((4, 4), (1, 2), (1, 2))
    expected = grid("1110 1010 1110 0000")
    np.testing.assert_array_equal(seg2bmap(seg), expected)


def test_seg2bmap_single_pixel() -> None:
    """Pixel (1, 1) of 3x3: (0,0) sees it south-east, (0,1) south, (1,0) east, (1,1) differs
    from its east neighbour; last row/column compare only east/south, which are 0."""
    seg = grid("000 010 000")
    np.testing.assert_array_equal(seg2bmap(seg), grid("110 110 000"))


def test_seg2bmap_last_row_uses_east_only() -> None:
    """Pixel (2, 1) on the last row of 3x3: row 1 sees it south / south-east; in the last row
    (2,0) differs from its east neighbour (2,1), and (2,1) from its east neighbour (2,2)."""
    seg = grid("000 000 010")
    np.testing.assert_array_equal(seg2bmap(seg), grid("000 110 110"))


def test_seg2bmap_full_mask_has_no_boundary() -> None:
    """An all-ones mask: no pixel differs from a real neighbour, the border rules compare only
    inside the image, the bottom-right pixel is 0: the boundary is empty."""
    assert not seg2bmap(np.ones((3, 3), dtype=bool)).any()


def test_seg2bmap_empty_mask() -> None:
    """An empty mask has an empty boundary."""
    assert not seg2bmap(np.zeros((5, 2), dtype=bool)).any()


# --------------------------------------------------------------------------- disk / radius


def test_disk_1_is_plus() -> None:
    """disk(1): offsets with dy² + dx² <= 1, the 3x3 plus."""
    np.testing.assert_array_equal(disk(1), grid("010 111 010"))


def test_disk_2_is_diamond() -> None:
    """disk(2): (1, 2) has 1 + 4 = 5 > 4, so the corners of the 3x3 ring's neighbours are out."""
    np.testing.assert_array_equal(disk(2), grid("00100 01110 11111 01110 00100"))


def test_disk_3_size() -> None:
    """disk(3) is 7x7 with 7 + 2·5 + 2·5 + 2·1 = 29 pixels (rows dy = 0, ±1, ±2, ±3)."""
    d = disk(3)
    assert d.shape == (7, 7)
    assert int(d.sum()) == 29


def test_disk_refuses_bad_radius() -> None:
    """A negative or fractional radius is a ValueError."""
    for bad in (-1, 1.5):
        with pytest.raises(ValueError, match="radius"):
            disk(bad)  # type: ignore[arg-type]


def test_tolerance_480p() -> None:
    """480x854: 0.008 · sqrt(480² + 854²) = 0.008 · 979.65 = 7.84 → 8 px."""
    assert tolerance_radius((480, 854)) == 8


def test_tolerance_720p() -> None:
    """720x1280: 0.008 · sqrt(720² + 1280²) = 0.008 · 1468.6 = 11.75 → 12 px."""
    assert tolerance_radius((720, 1280)) == 12


def test_tolerance_in_pixels() -> None:
    """bound_th >= 1 is the radius itself."""
    assert tolerance_radius((720, 1280), 3) == 3


def test_tolerance_refuses_bad_values() -> None:
    """Zero, negative and fractional pixel radii are refused."""
    for bad in (0.0, -0.1, 2.5):
        with pytest.raises(ValueError, match="bound_th"):
            tolerance_radius((10, 10), bad)


# --------------------------------------------------------------------------- F


def test_f_both_empty_is_one() -> None:
    """No boundary in either mask: P = R = 1, F = 1."""
    empty = np.zeros((6, 6), dtype=bool)
    assert boundary_precision_recall(empty, empty) == (1.0, 1.0)
    assert boundary_f(empty, empty) == 1.0


def test_f_empty_prediction_is_zero() -> None:
    """No predicted boundary but a GT one: P = 1, R = 0, F = 0."""
    gt = square((6, 6), (1, 2), (1, 2))
    empty = np.zeros_like(gt)
    assert boundary_precision_recall(empty, gt) == (1.0, 0.0)
    assert boundary_f(empty, gt) == 0.0


def test_f_prediction_without_gt_is_zero() -> None:
    """A predicted boundary but none in the GT: P = 0, R = 1, F = 0."""
    pred = square((6, 6), (1, 2), (1, 2))
    assert boundary_precision_recall(pred, np.zeros_like(pred)) == (0.0, 1.0)
    assert boundary_f(pred, np.zeros_like(pred)) == 0.0


def test_f_full_gt_has_no_boundary() -> None:
    """A GT covering the whole frame has no boundary: a one-pixel prediction at (0, 0) has one
    (P = 0, R = 1, F = 0) while a full prediction matches it (F = 1)."""
    gt = np.ones((3, 3), dtype=bool)
    dot = grid("100 000 000")
    assert boundary_f(dot, gt) == 0.0
    assert boundary_f(gt, gt) == 1.0


def test_f_square_shifted_two_pixels_radius_one() -> None:
    """GT square rows/cols 2-5 of 10x10 has the 16-pixel ring of rows 1-5, cols 1-5; the
    prediction shifted two columns has the ring of rows 1-5, cols 3-7. With disk(1) (the plus),
    the unmatched predicted pixels are (1,7), (5,7), (3,3), (2..4,7): 6 of 16, P = 10/16; by
    mirror symmetry R = 10/16; F = 5/8."""
    gt = square((10, 10), (2, 5), (2, 5))
    pred = square((10, 10), (2, 5), (4, 7))
    p, r = boundary_precision_recall(pred, gt, bound_th=1)
    assert (p, r) == (10 / 16, 10 / 16)
    assert boundary_f(pred, gt, bound_th=1) == pytest.approx(5 / 8)


def test_f_square_shifted_two_pixels_radius_two() -> None:
    """The same shift with disk(2): every ring pixel has one of the other ring within 2 px
    (e.g. (3,3) ↔ (3,1), (1,7) ↔ (1,5)), F = 1."""
    gt = square((10, 10), (2, 5), (2, 5))
    pred = square((10, 10), (2, 5), (4, 7))
    assert boundary_f(pred, gt, bound_th=2) == 1.0


def test_f_default_tolerance_on_small_frame() -> None:
    """On 10x10 the default tolerance is ceil(0.008 · 14.14) = 1 px: the shift above gives 5/8."""
    gt = square((10, 10), (2, 5), (2, 5))
    pred = square((10, 10), (2, 5), (4, 7))
    assert boundary_f(pred, gt) == pytest.approx(5 / 8)


def test_f_void_removes_boundary() -> None:
    """Voiding the whole prediction leaves both boundaries empty (GT is voided too): F = 1."""
    gt = square((10, 10), (1, 2), (1, 2))
    pred = square((10, 10), (6, 7), (6, 7))
    assert boundary_f(pred, gt) == 0.0  # rings 4 px apart, tolerance 1 px
    assert boundary_f(pred, gt, np.ones_like(gt)) == 1.0


# --------------------------------------------------------------------------- invariants

masks = st.integers(1, 10).flatmap(
    lambda h: st.integers(1, 10).flatmap(
        lambda w: st.tuples(arrays(bool, (h, w)), arrays(bool, (h, w)), arrays(bool, (h, w)))
    )
)
thresholds = st.sampled_from([0.008, 0.2, 1, 2, 3])


@settings(max_examples=60, deadline=None)
@given(masks)
def test_j_in_unit_interval_and_symmetric(m: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """J lies in [0, 1] and J(a, b) = J(b, a), with or without void."""
    a, b, void = m
    for v in (None, void):
        j = region_j(a, b, v)
        assert 0.0 <= j <= 1.0
        assert j == region_j(b, a, v)


@settings(max_examples=40, deadline=None)
@given(masks)
def test_j_of_identical_masks_is_one(m: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """J(x, x) = 1 for every mask, empty or not."""
    assert region_j(m[0], m[0]) == 1.0


@settings(max_examples=60, deadline=None)
@given(masks, thresholds)
def test_f_in_unit_interval_and_symmetric(
    m: tuple[np.ndarray, np.ndarray, np.ndarray], th: float
) -> None:
    """F lies in [0, 1] and F(a, b) = F(b, a) (P and R swap)."""
    a, b, void = m
    f = boundary_f(a, b, void, th)
    assert 0.0 <= f <= 1.0
    assert f == boundary_f(b, a, void, th)


@settings(max_examples=40, deadline=None)
@given(masks, thresholds)
def test_f_of_identical_masks_is_one(
    m: tuple[np.ndarray, np.ndarray, np.ndarray], th: float
) -> None:
    """F(x, x) = 1 for every mask and tolerance."""
    assert boundary_f(m[0], m[0], m[2], th) == 1.0


@settings(max_examples=80, deadline=None)
@given(masks, thresholds)
def test_fast_f_equals_dilation_f(m: tuple[np.ndarray, np.ndarray, np.ndarray], th: float) -> None:
    """The k-d tree F (cropped) equals the full-frame disk-dilation F exactly."""
    a, b, void = m
    assert boundary_f(a, b, void, th) == naive_boundary_f(a, b, void, th)
    assert boundary_f(a, b, None, th) == naive_boundary_f(a, b, None, th)


def test_fast_f_equals_dilation_f_at_480p() -> None:
    """At 480x854 (r = 8) with ragged random blobs, both F computations agree exactly."""
    rng = np.random.default_rng(0)
    coarse = rng.random((2, 12, 22)) < 0.4
    big = np.kron(coarse, np.ones((40, 40), dtype=bool))[:, :480, :854]
    noise = rng.random((480, 854)) < 0.01
    a, b = big[0] ^ noise, big[1]
    assert boundary_f(a, b) == naive_boundary_f(a, b)


# --------------------------------------------------------------------------- per video


def _ids(*objs: tuple[int, np.ndarray]) -> np.ndarray:
    out = np.zeros(objs[0][1].shape, dtype=np.uint8)
    for obj, mask in objs:
        out[mask] = obj
    return out


A = square((6, 6), (1, 2), (1, 2))
B = square((6, 6), (3, 4), (3, 4))
EMPTY = np.zeros((6, 6), dtype=bool)


def test_score_frame_known_answer() -> None:
    """Object 1 exact (J = F = 1); object 2 missing from the prediction (J = F = 0)."""
    gt = _ids((1, A), (2, B))
    pred = _ids((1, A))
    assert score_frame(gt, pred, [1, 2]) == {1: (1.0, 1.0), 2: (0.0, 0.0)}


def test_score_video_excludes_first_frame_and_zero_fills() -> None:
    """Object 1 given at frame 0, object 2 at frame 1. Frame 0 is never scored (the prediction
    is wrong there), object 2 not at frame 1; object 1 is missing from the predicted frame 2:
    J = F = 0 there."""
    gt = np.stack([_ids((1, A)), _ids((1, A), (2, B)), _ids((1, A), (2, B))])
    pred = np.stack([np.zeros((6, 6), np.uint8), _ids((1, A)), _ids((2, B))])
    out = score_video(gt, pred, {1: 0, 2: 1})
    np.testing.assert_array_equal(out[1][0], [1.0, 0.0])
    np.testing.assert_array_equal(out[1][1], [1.0, 0.0])
    np.testing.assert_array_equal(out[2][0], [1.0])
    np.testing.assert_array_equal(out[2][1], [1.0])


def test_score_video_object_gone_from_gt_and_pred() -> None:
    """An object that left the frame in both GT and prediction scores J = F = 1 there."""
    gt = np.stack([_ids((1, A)), np.zeros((6, 6), np.uint8)])
    pred = np.zeros_like(gt)
    out = score_video(gt, pred, {1: 0})
    assert out[1][0].tolist() == [1.0] and out[1][1].tolist() == [1.0]


def test_score_video_scored_mask() -> None:
    """``scored`` keeps only the frames that have ground truth: frame 1 dropped."""
    gt = np.stack([_ids((1, A))] * 3)
    pred = np.stack([_ids((1, A)), _ids((1, A)), np.zeros((6, 6), np.uint8)])
    out = score_video(gt, pred, {1: 0}, scored=np.array([True, False, True]))
    assert out[1][0].tolist() == [0.0]


def test_score_video_object_on_last_frame_has_no_scores() -> None:
    """An object first given on the last frame has no scored frame: empty arrays."""
    gt = np.stack([_ids((1, A)), _ids((1, A), (2, B))])
    out = score_video(gt, gt, {1: 0, 2: 1})
    assert out[2][0].shape == (0,) and out[2][1].shape == (0,)


def test_score_video_void_id() -> None:
    """GT pixels with the void id (255) are left out: a prediction that covers the object and
    the void region scores J = 1."""
    void = square((6, 6), (1, 2), (3, 4))
    gt = np.stack([_ids((1, A))] * 2)
    gt[:, void] = 255
    pred = np.stack([_ids((1, A | void))] * 2)
    out = score_video(gt, pred, {1: 0}, void_id=255)
    assert out[1][0].tolist() == [1.0]


def test_score_video_refuses_bad_first_frame() -> None:
    """A first frame outside the video is a ValueError."""
    gt = np.stack([_ids((1, A))] * 2)
    with pytest.raises(ValueError, match="first frame 2"):
        score_video(gt, gt, {1: 2})


# --------------------------------------------------------------------------- DAVIS statistics


def test_recall_counts_strictly_above_half() -> None:
    """Values 0.2, 0.5, 0.6, 0.9: two are > 0.5 (0.5 itself is not): recall 1/2."""
    assert recall([0.2, 0.5, 0.6, 0.9]) == 0.5


def test_decay_eight_frames() -> None:
    """n = 8: bins from round(linspace(1, 8, 5)) - 1 = 0, 2, 4, 5, 7; first bin frames 0-2
    (mean 0.8), last bin frames 5-7 (mean 0.2): decay 0.6."""
    values = [1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    assert decay(values) == pytest.approx(0.6)


def test_decay_three_frames_rounds_halves_up() -> None:
    """n = 3: linspace(1, 3, 5) = 1, 1.5, 2, 2.5, 3 rounds (halves up) to 1, 2, 2, 3, 3: first
    bin frames 0-1 (mean 0.75), last bin frame 2 (0): decay 0.75."""
    assert decay([1.0, 0.5, 0.0]) == pytest.approx(0.75)


def test_decay_single_frame_is_zero() -> None:
    """One frame: both bins are that frame."""
    assert decay([0.3]) == 0.0


def test_statistics_refuse_empty() -> None:
    """No values is a ValueError, not a NaN."""
    for fn in (recall, decay):
        with pytest.raises(ValueError, match="no per-frame values"):
            fn([])


# --------------------------------------------------------------------------- summary


def test_object_score_from_frames() -> None:
    """The per-object score is the mean over its frames."""
    s = ObjectScore.from_frames([1.0, 0.5], [0.0, 1.0], seen=False, category="cat")
    assert (s.j, s.f, s.frames, s.seen, s.category) == (0.75, 0.5, 2, False, "cat")


def test_object_score_without_frames() -> None:
    """No frame: NaN means and frames = 0."""
    s = ObjectScore.from_frames([], [])
    assert s.frames == 0 and math.isnan(s.j) and math.isnan(s.f)


def test_object_score_validates_range() -> None:
    """Scores outside [0, 1], or NaN with scored frames, are refused."""
    with pytest.raises(ValueError, match="j must lie"):
        ObjectScore(1.5, 0.5)
    with pytest.raises(ValueError, match="finite"):
        ObjectScore(math.nan, 0.5, frames=3)


def test_summarize_seen_and_unseen() -> None:
    """a (0.8, 0.6, seen), b (0.4, 0.2, unseen), c (0.6, 1.0, seen), d skipped.
    J = (0.8 + 0.4 + 0.6)/3 = 0.6, F = (0.6 + 0.2 + 1.0)/3 = 0.6; seen J = 0.7, F = 0.8;
    unseen J = 0.4, F = 0.2; overall = (0.7 + 0.8 + 0.4 + 0.2)/4 = 0.525."""
    out = summarize(
        {
            "a": ObjectScore(0.8, 0.6, seen=True, frames=3),
            "b": ObjectScore(0.4, 0.2, seen=False, frames=2),
            "c": ObjectScore(0.6, 1.0, seen=True, frames=1),
            "d": ObjectScore(math.nan, math.nan, frames=0),
        }
    )
    assert out["J"] == pytest.approx(0.6)
    assert out["F"] == pytest.approx(0.6)
    assert out["J&F"] == pytest.approx(0.6)
    assert out["seen"] == pytest.approx({"J": 0.7, "F": 0.8, "J&F": 0.75, "objects": 2})
    assert out["unseen"] == pytest.approx({"J": 0.4, "F": 0.2, "J&F": 0.3, "objects": 1})
    assert out["overall"] == pytest.approx(0.525)
    assert (out["objects"], out["skipped_objects"]) == (3, 1)


def test_summarize_without_unseen_group() -> None:
    """No unseen object: the unseen group is None and overall = mean(J_seen, F_seen) = 0.7."""
    out = summarize({"a": ObjectScore(0.8, 0.6), "b": ObjectScore(0.6, 0.8)})
    assert out["unseen"] == {"J": None, "F": None, "J&F": None, "objects": 0}
    assert out["overall"] == pytest.approx(0.7)


def test_summarize_nothing_scored_is_json_safe() -> None:
    """Only skipped objects: every score is None and the JSON has no NaN."""
    out = summarize({"a": ObjectScore.from_frames([], [])})
    assert out["J"] is None and out["overall"] is None
    assert out["skipped_objects"] == 1
    json.dumps(out, allow_nan=False)
