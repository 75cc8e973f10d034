"""Tests of the pseudo-label quality metric: box IoU, per-frame IoU by track, pooled means."""

from __future__ import annotations

import math

import numpy as np
import pytest
from asl_action_det.pseudo import pseudo_boxes
from asl_action_det.pseudo_quality import box_iou, frame_iou, pooled_iou
from asl_strategies.losses.mgw import MGWLoss

NAN4 = (math.nan,) * 4


def track(boxes: list[tuple[float, float, float, float]]) -> np.ndarray:
    """``float[F, 4]`` of one track from per-frame boxes (NAN4 where absent)."""
    return np.asarray(boxes, dtype=np.float64)


def pseudo_from_truth(truth: np.ndarray, labelled: list[int]):
    """Pseudo-labels made from the true boxes of the labelled frames only (track id = row)."""
    regions = {
        f: [
            (k, 0, tuple(truth[k, f]))
            for k in range(truth.shape[0])
            if not np.isnan(truth[k, f, 0])
        ]
        for f in labelled
    }
    return pseudo_boxes(truth.shape[1], labelled, regions)


# --------------------------------------------------------------------------- box_iou


def test_box_iou_known_values() -> None:
    """Identical boxes give 1, disjoint 0, a half-width shift of a 10x10 box 50/150."""
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], dtype=float)
    b = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [5, 0, 15, 10]], dtype=float)
    np.testing.assert_allclose(box_iou(a, b), [1.0, 0.0, 1.0 / 3.0])


def test_box_iou_degenerate_boxes() -> None:
    """Two equal zero-area boxes score 1, two different ones 0 (never NaN)."""
    assert box_iou([3, 3, 3, 3], [3, 3, 3, 3]) == 1.0
    assert box_iou([3, 3, 3, 3], [4, 4, 4, 4]) == 0.0


# --------------------------------------------------------------------------- frame_iou


def test_linear_track_interpolates_exactly() -> None:
    """A 5-frame track moving linearly, labelled at frames 0 and 4, has IoU 1 everywhere."""
    truth = track([(2 * f, f, 2 * f + 10, f + 20) for f in range(5)])[None]
    pseudo = pseudo_from_truth(truth, [0, 4])
    iou = frame_iou(pseudo, [0], truth)
    np.testing.assert_allclose(iou, np.ones(5))
    plain, weighted, n = pooled_iou([iou], [[0, 4]], [MGWLoss().frame_weights(5, [0, 4])])
    assert (plain, weighted, n) == (1.0, 1.0, 3)


def test_track_that_goes_and_comes_back() -> None:
    """Labelled at 0 and 2 on the same box, the true middle box moved by half a width: IoU 1/3."""
    truth = track([(0, 0, 10, 10), (5, 0, 15, 10), (0, 0, 10, 10)])[None]
    iou = frame_iou(pseudo_from_truth(truth, [0, 2]), [0], truth)
    np.testing.assert_allclose(iou, [1.0, 1.0 / 3.0, 1.0])


def test_non_linear_track_midpoint() -> None:
    """The pseudo-box (2, 0, 12, 10) against a true box (0, 0, 10, 10) has IoU 80/120."""
    truth = track([(0, 0, 10, 10), (0, 0, 10, 10), (4, 0, 14, 10)])[None]
    iou = frame_iou(pseudo_from_truth(truth, [0, 2]), [0], truth)
    np.testing.assert_allclose(iou, [1.0, 2.0 / 3.0, 1.0])


def test_held_box_with_mgw_weights() -> None:
    """One label at frame 0, a box moving 2 px a frame: IoU (10-s)/(10+s), weighted by eq. 4."""
    truth = track([(2 * f, 0, 2 * f + 10, 10) for f in range(4)])[None]
    pseudo = pseudo_from_truth(truth, [0])
    iou = frame_iou(pseudo, [0], truth)
    expected = [1.0, 8 / 12, 6 / 14, 4 / 16]
    np.testing.assert_allclose(iou, expected)
    weights = MGWLoss().frame_weights(4, np.array([0]))
    plain, weighted, n = pooled_iou([iou], [[0]], [weights])
    w = [math.exp(-0.5 * (d / 1.3) ** 2) for d in (1, 2, 3)]
    assert n == 3
    assert plain == pytest.approx(sum(expected[1:]) / 3)
    assert weighted == pytest.approx(
        sum(wi * e for wi, e in zip(w, expected[1:], strict=True)) / sum(w)
    )


def test_missed_actor_counts_zero() -> None:
    """A second actor on frames 2-3 only, never labelled, halves those frames' IoU."""
    first = track([(f, 0, f + 10, 10) for f in range(5)])
    second = track([NAN4, NAN4, (50, 50, 60, 60), (50, 50, 60, 60), NAN4])
    truth = np.stack([first, second])
    pseudo = pseudo_from_truth(truth, [0, 4])
    np.testing.assert_allclose(frame_iou(pseudo, [0, 1], truth), [1.0, 1.0, 0.5, 0.5, 1.0])


def test_invented_actor_counts_zero_and_empty_frames_are_nan() -> None:
    """An actor that leaves after frame 1 is held up to the midpoint (frame 2: IoU 0); frames
    with no actor on either side are NaN and left out of the pooled mean."""
    truth = track([(0, 0, 10, 10), (0, 0, 10, 10), NAN4, NAN4, NAN4])[None]
    pseudo = pseudo_from_truth(truth, [0, 4])  # frame 4 is labelled with no actor
    iou = frame_iou(pseudo, [0], truth)
    np.testing.assert_allclose(iou, [1.0, 1.0, 0.0, math.nan, math.nan])
    assert pooled_iou([iou], [[0, 4]]) == (0.5, 0.5, 2)


def test_frame_iou_rejects_bad_truth() -> None:
    """A wrong shape, a repeated track id or a partly-NaN box is an error."""
    truth = track([(0, 0, 10, 10), (0, 0, 10, 10)])[None]
    pseudo = pseudo_from_truth(truth, [0])
    with pytest.raises(ValueError, match="shape"):
        frame_iou(pseudo, [0], truth[:, :1])
    with pytest.raises(ValueError, match="repeat"):
        frame_iou(pseudo, [0, 0], np.concatenate([truth, truth]))
    bad = truth.copy()
    bad[0, 1, 2] = math.nan
    with pytest.raises(ValueError, match="partly NaN"):
        frame_iou(pseudo, [0], bad)


# --------------------------------------------------------------------------- pooled_iou


def test_pooled_iou_hand_computed() -> None:
    """Pooling skips labelled and NaN frames: plain 1.75/4, weighted 1.3/2.7."""
    ious = [[1.0, 0.5, math.nan, 0.25], [0.0, 1.0]]
    weights = [[1.0, 0.5, 0.3, 0.2], [1.0, 1.0]]
    plain, weighted, n = pooled_iou(ious, [[0], []], weights)
    assert n == 4
    assert plain == pytest.approx(1.75 / 4)
    assert weighted == pytest.approx(1.3 / 2.7)


def test_pooled_iou_nothing_to_average() -> None:
    """Every frame labelled: both means are NaN and no frame is counted."""
    plain, weighted, n = pooled_iou([[1.0, 1.0]], [[0, 1]], [[1.0, 1.0]])
    assert math.isnan(plain) and math.isnan(weighted) and n == 0


def test_pooled_iou_rejects_mismatched_inputs() -> None:
    """One weight array per video, each as long as its IoU array."""
    with pytest.raises(ValueError, match="one entry per video"):
        pooled_iou([[1.0]], [[], []])
    with pytest.raises(ValueError, match="weights"):
        pooled_iou([[1.0, 1.0]], [[]], [[1.0]])
