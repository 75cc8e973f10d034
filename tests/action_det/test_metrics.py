"""The VideoCapsuleNet-style localisation metric (spec §B.5): hand-computed cases and invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from asl_action_det.metrics import (
    THRESHOLDS,
    LocalizationMetric,
    frame_inter_union,
    frame_ious,
    localization_ap,
    localization_map,
    threshold_counts,
    threshold_key,
    video_iou,
)
from hypothesis import given, settings
from hypothesis import strategies as st

# --------------------------------------------------------------------------- hand-made test set
#
# Three videos, classes 0 and 1 of num_classes = 3 (class 2 has no video).
#
# Video A, class 0, predicted 0, 2x2 masks:
#   f0: gt [[1,1],[0,0]], pred [[1,0],[0,0]] -> inter 1, union 2, IoU 1/2
#   f1: gt all ones,      pred all ones      -> inter 4, union 4, IoU 1
#   f2: gt empty,         pred all ones      -> ignored (no GT: the false alarm is not penalised)
#   video IoU = (1 + 4) / (2 + 4) = 5/6
# Video B, class 0, predicted 1 (wrong), 3x3 masks:
#   f0: gt all 9 pixels,  pred pixel (0,0)   -> inter 1, union 9, IoU 1/9
#   f1: gt pixel (1,1),   pred pixel (1,1)   -> inter 1, union 1, IoU 1
#   video IoU = (1 + 1) / (9 + 1) = 0.2   (mean of frame IoUs would be 5/9 = 0.556 >= 0.5)
# Video C, class 1, predicted 1, 2x2 masks:
#   f0: gt [[1,0],[0,0]], pred [[0,1],[0,0]] -> inter 0, union 2, IoU 0
#   f1: gt [[1,1],[0,0]], pred [[1,0],[1,1]] -> inter 1, union 4, IoU 1/4
#   f2: gt all ones,      pred [[1,1],[0,0]] -> inter 2, union 4, IoU 1/2
#   video IoU = (0 + 1 + 2) / (2 + 4 + 4) = 0.3
#
# Frame APs: class 0 IoUs {1/2, 1, 1/9, 1}: tau 0.5 -> 3/4, tau 0.2 -> 3/4
#            class 1 IoUs {0, 1/4, 1/2}:    tau 0.5 -> 1/3, tau 0.2 -> 2/3
#   f-mAP@0.5 = (3/4 + 1/3) / 2 = 13/24;  f-mAP@0.2 = (3/4 + 2/3) / 2 = 17/24
# Video APs: class 0 IoUs {5/6, 0.2}: tau 0.5 -> 1/2, tau 0.2 -> 2/2 (0.2 >= 0.2, exactly)
#            class 1 IoUs {0.3}:      tau 0.5 -> 0,   tau 0.2 -> 1
#   v-mAP@0.5 = (1/2 + 0) / 2 = 1/4;      v-mAP@0.2 = (1 + 1) / 2 = 1
# f-mAP@0.5:0.95: class 0 = (3/4 + 9 * 2/4) / 10 = 0.525 (only the two 1s pass tau > 0.5),
#                 class 1 = (1/3 + 9 * 0) / 10 = 1/30; mean = (0.525 + 1/30) / 2
# Accuracy = 2/3 (B is misclassified).


def _m(rows: list[list[int]]) -> np.ndarray:
    return np.array(rows, dtype=bool)


ONES2 = _m([[1, 1], [1, 1]])
ZERO2 = _m([[0, 0], [0, 0]])

VIDEO_A = (
    0,
    0,
    np.stack([_m([[1, 0], [0, 0]]), ONES2, ONES2]),  # pred
    np.stack([_m([[1, 1], [0, 0]]), ONES2, ZERO2]),  # gt
)
_B_PRED = np.zeros((2, 3, 3), dtype=bool)
_B_PRED[0, 0, 0] = True
_B_PRED[1, 1, 1] = True
_B_GT = np.zeros((2, 3, 3), dtype=bool)
_B_GT[0] = True
_B_GT[1, 1, 1] = True
VIDEO_B = (0, 1, _B_PRED, _B_GT)
VIDEO_C = (
    1,
    1,
    np.stack([_m([[0, 1], [0, 0]]), _m([[1, 0], [1, 1]]), _m([[1, 1], [0, 0]])]),
    np.stack([_m([[1, 0], [0, 0]]), _m([[1, 1], [0, 0]]), ONES2]),
)
VIDEOS = (VIDEO_A, VIDEO_B, VIDEO_C)


def _hand_metric() -> LocalizationMetric:
    metric = LocalizationMetric(num_classes=3)
    for gt_label, pred_label, pred, gt in VIDEOS:
        metric.update(gt_label, pred_label, pred, gt)
    return metric


# --------------------------------------------------------------------------- thresholds and keys


def test_thresholds_are_the_twenty_rounded_steps():
    """THRESHOLDS is 0, 0.05, ..., 0.95 built with np.round(np.arange(20) * 0.05, 2)."""
    assert THRESHOLDS.shape == (20,)
    np.testing.assert_array_equal(THRESHOLDS, np.round(np.arange(20) * 0.05, 2))
    assert THRESHOLDS[10] == 0.5 and THRESHOLDS[4] == 0.2


def test_threshold_key_uses_shortest_repr():
    """Result keys format thresholds as Python's shortest repr."""
    assert [threshold_key(t) for t in THRESHOLDS[[0, 1, 2, 4, 10, 19]]] == [
        "0.0",
        "0.05",
        "0.1",
        "0.2",
        "0.5",
        "0.95",
    ]


def test_compute_has_prominent_summary_and_all_threshold_keys():
    """compute() lists the paper's keys first, then the summaries and all 20 thresholds."""
    result = _hand_metric().compute()
    assert list(result)[:5] == ["f-mAP@0.5", "v-mAP@0.5", "f-mAP@0.2", "v-mAP@0.2", "accuracy"]
    expected = {f"{k}@{threshold_key(t)}" for k in ("f-mAP", "v-mAP") for t in THRESHOLDS}
    expected |= {"accuracy", "f-mAP@0.5:0.95", "v-mAP@0.5:0.95"}
    assert set(result) == expected


# --------------------------------------------------------------------------- per-frame counts


def test_frame_inter_union_counts_pixels_per_frame():
    """inter, union and has_gt are counted per frame; an empty-GT frame has has_gt False."""
    _, _, pred, gt = VIDEO_A
    inter, union, has_gt = frame_inter_union(pred, gt)
    np.testing.assert_array_equal(inter, [1, 4, 0])
    np.testing.assert_array_equal(union, [2, 4, 4])
    np.testing.assert_array_equal(has_gt, [True, True, False])
    assert inter.dtype == np.int64 and union.dtype == np.int64


def test_frame_inter_union_thresholds_probabilities_inclusively():
    """Non-boolean predictions are foreground when >= threshold (0.5 itself counts)."""
    prob = np.array([[[0.5, 0.49], [0.9, 0.0]]])
    gt = np.array([[[1, 1], [0, 0]]], dtype=np.uint8)  # puppet-mask style uint8
    inter, union, has_gt = frame_inter_union(prob, gt)
    # pred = [[1, 0], [1, 0]], gt = [[1, 1], [0, 0]] -> inter 1, union 3
    assert (inter[0], union[0], has_gt[0]) == (1, 3, True)


def test_frame_inter_union_logits_with_zero_threshold():
    """Logits with threshold 0 binarise like sigmoid(logit) >= 0.5."""
    logits = np.array([[[-1.0, 0.0], [2.0, -0.1]]])
    gt = np.ones((1, 2, 2), dtype=bool)
    inter, union, _ = frame_inter_union(logits, gt, threshold=0.0)
    assert (inter[0], union[0]) == (2, 4)


def test_frame_inter_union_rejects_shape_mismatch():
    """Prediction and GT volumes must have the same shape."""
    with pytest.raises(ValueError, match="shapes differ"):
        frame_inter_union(np.zeros((2, 3, 3), bool), np.zeros((2, 3, 4), bool))


def test_video_iou_pools_pixels_instead_of_averaging_frames():
    """Video IoU is sum(inter)/sum(union), here 0.2 while the mean frame IoU is 5/9."""
    counts = frame_inter_union(VIDEO_B[2], VIDEO_B[3])
    assert video_iou(*counts) == pytest.approx(0.2)
    assert np.mean(frame_ious(*counts)) == pytest.approx(5 / 9)


def test_video_iou_without_gt_frame_is_nan():
    """A video with no GT frame has no video IoU (NaN)."""
    assert math.isnan(video_iou([0, 0], [3, 0], [False, False]))


def test_counts_with_inter_above_union_are_rejected():
    """Per-frame counts must satisfy inter <= union on GT frames."""
    with pytest.raises(ValueError, match="inter <= union"):
        video_iou([3], [2], [True])


def test_threshold_counts_counts_values_at_or_above_each_threshold():
    """threshold_counts[t] = #(ious >= tau_t), with ties at a threshold counted."""
    counts = threshold_counts([0.0, 0.2, 0.5, 1.0])
    assert counts[0] == 4 and counts[4] == 3 and counts[5] == 2 and counts[10] == 2
    assert counts[11] == 1 and counts[19] == 1


# --------------------------------------------------------------------------- hand-computed metric


def test_frame_map_at_half_and_fifth():
    """f-mAP@0.5 = 13/24 and f-mAP@0.2 = 17/24 on the hand-made set."""
    result = _hand_metric().compute()
    assert result["f-mAP@0.5"] == pytest.approx(13 / 24)
    assert result["f-mAP@0.2"] == pytest.approx(17 / 24)


def test_video_map_at_half_and_fifth():
    """v-mAP@0.5 = 1/4 and v-mAP@0.2 = 1 on the hand-made set (video IoU 0.2 passes 0.2)."""
    result = _hand_metric().compute()
    assert result["v-mAP@0.5"] == pytest.approx(0.25)
    assert result["v-mAP@0.2"] == pytest.approx(1.0)


def test_video_map_uses_pooled_iou_not_mean_frame_iou():
    """Video B fails tau = 0.5 (pooled IoU 0.2) though its mean frame IoU is above 0.5."""
    tables = _hand_metric().compute_per_class()
    assert tables["vAP"][0, 10] == pytest.approx(0.5)  # only video A (5/6) of class 0 passes


def test_per_class_tables_match_hand_values():
    """Per-class fAP / vAP rows and counts match the hand computation."""
    tables = _hand_metric().compute_per_class()
    assert tables["fAP"][0, [0, 4, 10]] == pytest.approx([1.0, 0.75, 0.75])
    assert tables["fAP"][1, [0, 4, 10]] == pytest.approx([1.0, 2 / 3, 1 / 3])
    assert tables["vAP"][1, [0, 4, 10]] == pytest.approx([1.0, 1.0, 0.0])
    np.testing.assert_array_equal(tables["frames"], [4, 3, 0])
    np.testing.assert_array_equal(tables["videos"], [2, 1, 0])


def test_map_over_high_thresholds():
    """f-mAP@0.5:0.95 averages the 10 thresholds 0.5..0.95: ((3/4 + 9/2)/10 + 1/30) / 2."""
    result = _hand_metric().compute()
    assert result["f-mAP@0.5:0.95"] == pytest.approx((0.525 + 1 / 30) / 2)


def test_accuracy_counts_matching_video_labels():
    """Accuracy is the fraction of videos whose predicted label is the GT label (2/3 here)."""
    assert _hand_metric().compute()["accuracy"] == pytest.approx(2 / 3)


def test_class_without_videos_is_nan_and_left_out_of_the_mean():
    """A class with no GT frame/video has NaN rows and does not pull the class mean down."""
    tables = _hand_metric().compute_per_class()
    assert np.all(np.isnan(tables["fAP"][2])) and np.all(np.isnan(tables["vAP"][2]))
    two = LocalizationMetric(num_classes=2)
    for video in VIDEOS:
        two.update(*video)
    assert two.compute() == pytest.approx(_hand_metric().compute())


def test_frames_without_gt_are_ignored():
    """Adding frames with empty GT and a wrong prediction changes nothing."""
    metric = LocalizationMetric(num_classes=3)
    for gt_label, pred_label, pred, gt in VIDEOS:
        h, w = gt.shape[1:]
        pred = np.concatenate([pred, np.ones((2, h, w), bool)])
        gt = np.concatenate([gt, np.zeros((2, h, w), bool)])
        metric.update(gt_label, pred_label, pred, gt)
    assert metric.compute() == pytest.approx(_hand_metric().compute())


def test_video_without_gt_counts_for_accuracy_only():
    """A video with no GT frame is left out of v-mAP but counts for the accuracy."""
    metric = _hand_metric()
    metric.update(1, 0, np.ones((2, 2, 2), bool), np.zeros((2, 2, 2), bool))
    result = metric.compute()
    assert result["v-mAP@0.5"] == pytest.approx(0.25)
    assert result["accuracy"] == pytest.approx(2 / 4)


def test_videos_without_prediction_are_left_out_of_accuracy():
    """pred_label None leaves a video out of the accuracy only; no prediction at all gives NaN."""
    metric = LocalizationMetric(num_classes=3)
    for gt_label, _, pred, gt in VIDEOS:
        metric.update(gt_label, None, pred, gt)
    result = metric.compute()
    assert math.isnan(result["accuracy"])
    assert result["f-mAP@0.5"] == pytest.approx(13 / 24)


def test_empty_metric_gives_nan():
    """With no data every value is NaN."""
    result = LocalizationMetric(num_classes=2).compute()
    assert all(math.isnan(v) for v in result.values())


def test_pure_function_matches_hand_values():
    """localization_map on the hand-made IoUs gives the accumulator's numbers."""
    counts = [frame_inter_union(pred, gt) for _, _, pred, gt in VIDEOS]
    fi = np.concatenate([frame_ious(*c) for c in counts])
    fl = np.concatenate([np.full(c[2].sum(), v[0]) for c, v in zip(counts, VIDEOS, strict=True)])
    result = localization_map(
        fi,
        fl,
        [video_iou(*c) for c in counts],
        [v[0] for v in VIDEOS],
        3,
        pred_labels=[v[1] for v in VIDEOS],
    )
    assert result == pytest.approx(_hand_metric().compute())


def test_localization_ap_rejects_out_of_range_labels():
    """Labels must lie in [0, num_classes)."""
    with pytest.raises(ValueError, match="labels"):
        localization_ap([0.5], [2], [], [], num_classes=2)


# --------------------------------------------------------------------------- streaming and state


def test_streaming_equals_one_shot():
    """Interleaved per-clip updates closed with end_video equal whole-video updates."""
    metric = LocalizationMetric(num_classes=3)
    (la, pa, pred_a, gt_a), (lb, pb, pred_b, gt_b), (lc, pc, pred_c, gt_c) = VIDEOS
    metric.update_clip("a", la, pred_a[:1], gt_a[:1])
    metric.update_clip("b", lb, pred_b[1:], gt_b[1:])
    metric.update_frames("a", la, *frame_inter_union(pred_a[1:], gt_a[1:]))
    metric.update_clip("b", lb, pred_b[:1], gt_b[:1])
    metric.end_video("b", pb)
    metric.update_clip("c", lc, pred_c, gt_c)
    metric.end_video("a", pa)
    metric.end_video("c", pc)
    assert metric.compute() == _hand_metric().compute()


def test_update_counts_equals_update_from_masks():
    """Whole-video updates from per-frame counts equal updates from masks."""
    metric = LocalizationMetric(num_classes=3)
    for gt_label, pred_label, pred, gt in VIDEOS:
        metric.update_counts(gt_label, pred_label, *frame_inter_union(pred, gt))
    assert metric.compute() == _hand_metric().compute()


def test_compute_refuses_open_videos():
    """compute() raises while a streamed video is not closed."""
    metric = LocalizationMetric(num_classes=3)
    metric.update_clip("a", 0, VIDEO_A[2], VIDEO_A[3])
    assert metric.open_videos == ("a",)
    with pytest.raises(RuntimeError, match="end_video"):
        metric.compute()


def test_end_video_of_unknown_key_raises():
    """Closing a video that was never streamed (or twice) raises KeyError."""
    metric = LocalizationMetric(num_classes=3)
    with pytest.raises(KeyError, match="no open video"):
        metric.end_video("x", 0)


def test_streaming_label_change_raises_and_keeps_state():
    """A streamed video cannot change its GT label; the failed call changes nothing."""
    metric = LocalizationMetric(num_classes=3)
    metric.update_clip("a", 0, VIDEO_A[2][:1], VIDEO_A[3][:1])
    with pytest.raises(ValueError, match="gt_label"):
        metric.update_clip("a", 1, VIDEO_A[2][1:], VIDEO_A[3][1:])
    metric.update_clip("a", 0, VIDEO_A[2][1:], VIDEO_A[3][1:])
    metric.end_video("a", 0)
    reference = LocalizationMetric(num_classes=3)
    reference.update(*VIDEO_A)
    assert metric.compute() == reference.compute()


def test_invalid_labels_raise():
    """GT and predicted labels outside [0, num_classes) are rejected."""
    metric = LocalizationMetric(num_classes=2)
    with pytest.raises(ValueError, match="gt_label"):
        metric.update(2, 0, VIDEO_A[2], VIDEO_A[3])
    with pytest.raises(ValueError, match="pred_label"):
        metric.update(0, -1, VIDEO_A[2], VIDEO_A[3])


def test_reset_forgets_everything():
    """reset() drops all statistics and open videos."""
    metric = _hand_metric()
    metric.update_clip("open", 0, VIDEO_A[2], VIDEO_A[3])
    metric.reset()
    assert metric.open_videos == ()
    metric.update(*VIDEO_C)
    result = metric.compute()
    assert result["f-mAP@0.5"] == pytest.approx(1 / 3)
    assert result["accuracy"] == 1.0


def test_state_is_bounded_by_classes_not_frames():
    """The accumulator keeps only per-class arrays, whatever the number of frames seen."""
    metric = LocalizationMetric(num_classes=2)
    metric.update(0, 0, np.ones((500, 4, 4), bool), np.ones((500, 4, 4), bool))
    arrays = [v for v in vars(metric).values() if isinstance(v, np.ndarray)]
    assert sum(a.size for a in arrays) == 2 * 2 * 20 + 2 * 2
    assert metric.compute()["f-mAP@0.95"] == 1.0


# --------------------------------------------------------------------------- invariants


@st.composite
def _videos(draw: st.DrawFn) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """A few random videos with random small masks (num_classes = 3)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    out = []
    for _ in range(draw(st.integers(1, 5))):
        f, h, w = draw(st.integers(1, 6)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
        density = draw(st.sampled_from([0.1, 0.5, 0.9]))
        pred = rng.random((f, h, w)) < density
        gt = rng.random((f, h, w)) < density
        out.append((int(rng.integers(3)), int(rng.integers(3)), pred, gt))
    return out


@settings(max_examples=60, deadline=None)
@given(_videos())
def test_values_in_unit_interval_and_non_increasing_in_tau(videos):
    """Every f-mAP / v-mAP is in [0, 1] (or NaN) and non-increasing in the threshold."""
    metric = LocalizationMetric(num_classes=3)
    for video in videos:
        metric.update(*video)
    result = metric.compute()
    for kind in ("f-mAP", "v-mAP"):
        curve = np.array([result[f"{kind}@{threshold_key(t)}"] for t in THRESHOLDS])
        if np.isnan(curve[0]):
            assert np.all(np.isnan(curve))
            continue
        assert np.all((curve >= 0) & (curve <= 1))
        assert np.all(np.diff(curve) <= 1e-12)
    assert 0.0 <= result["accuracy"] <= 1.0


@settings(max_examples=60, deadline=None)
@given(_videos(), st.integers(0, 2**32 - 1))
def test_random_streaming_equals_one_shot_and_pure_function(videos, seed):
    """Random clip splits give the one-shot result, which equals the pure function's."""
    rng = np.random.default_rng(seed)
    whole = LocalizationMetric(num_classes=3)
    streamed = LocalizationMetric(num_classes=3)
    fi, fl, vi, vl, pl = [], [], [], [], []
    for key, (gt_label, pred_label, pred, gt) in enumerate(videos):
        whole.update(gt_label, pred_label, pred, gt)
        cuts = np.sort(rng.integers(0, len(pred) + 1, size=2))
        for part in np.split(np.arange(len(pred)), cuts):
            streamed.update_clip(key, gt_label, pred[part], gt[part])
        streamed.end_video(key, pred_label)
        counts = frame_inter_union(pred, gt)
        fi.append(frame_ious(*counts))
        fl.append(np.full(counts[2].sum(), gt_label))
        vi.append(video_iou(*counts))
        vl.append(gt_label)
        pl.append(pred_label)
    expected = localization_map(np.concatenate(fi), np.concatenate(fl), vi, vl, 3, pl)
    np.testing.assert_equal(whole.compute(), streamed.compute())
    np.testing.assert_equal(whole.compute(), expected)
