"""Tests of the box-detection metrics (frame-AP, video-AP) and the ``act`` evaluator.

Known answers are the worked vectors of reference specs §B.6 and small cases computed by hand
(the arithmetic is in each test's comments).
"""

from __future__ import annotations

import copy
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from asl_action_det.act_eval import (
    PRESETS,
    ActEvaluator,
    BoxAPPreset,
    EvalInputError,
    ap_11_point,
    ap_all_point,
    ap_trapezoid,
    box_iou,
    frame_ap,
    parse_thresholds,
    precision_recall,
    temporal_iou,
    tube_iou,
    video_ap,
)
from asl_action_det.dataset import load_act_gt

from asl_core import AslUsageError, ConfigError


def tube(first: int, last: int, box: tuple[float, float, float, float]) -> np.ndarray:
    """A float32 GT tube: the same box on frames ``first..last`` (1-based), rows frame x1 y1 x2 y2."""
    return np.array([[f, *box] for f in range(first, last + 1)], dtype=np.float32)


def act_gt(
    gttubes: dict[str, dict[int, list[np.ndarray]]],
    *,
    labels: tuple[str, ...] = ("run", "walk"),
    nframes: int = 20,
    test_videos: list[list[str]] | None = None,
) -> dict[str, Any]:
    """An ACT ground-truth dict (specs §A.1) whose test split 1 holds the videos of ``gttubes``."""
    videos = sorted(gttubes)
    test = test_videos if test_videos is not None else [videos]
    every = sorted({*videos, *(v for split in test for v in split)})
    return {
        "labels": list(labels),
        "train_videos": [[] for _ in test],
        "test_videos": test,
        "nframes": dict.fromkeys(every, nframes),
        "resolution": {v: (240, 320) for v in every},
        "gttubes": gttubes,
    }


def fdet(video: int, frame: int, label: int, score: float, box: tuple[float, ...]) -> list[float]:
    """One frame-detection row ``video_index frame label score x1 y1 x2 y2``."""
    return [video, frame, label, score, *box]


A = (0.0, 0.0, 9.0, 9.0)
B = (20.0, 0.0, 29.0, 9.0)
FAR = (100.0, 100.0, 109.0, 109.0)


# --------------------------------------------------------------------------- §B.6 worked vectors


@pytest.mark.parametrize(
    ("ranking", "trapezoid", "all_point", "eleven"),
    [
        ([True, False, True], (19 / 24, 0.7917), (5 / 6, 0.8333), (28 / 33, 0.8485)),
        ([False, True, True], (5 / 12, 0.4167), (2 / 3, 0.6667), (2 / 3, 0.6667)),
    ],
)
def test_ap_worked_vectors(ranking, trapezoid, all_point, eleven) -> None:
    """The three AP rules reproduce the §B.6 table for 2 GT and the ranked TP/FP sequences."""
    precision, recall = precision_recall(ranking, 2)
    for fn, (exact, table) in (
        (ap_trapezoid, trapezoid),
        (ap_all_point, all_point),
        (ap_11_point, eleven),
    ):
        value = fn(precision, recall)
        assert value == pytest.approx(exact, abs=1e-12)
        assert round(value, 4) == table


def test_precision_recall_worked_vector() -> None:
    """TP, FP, TP over 2 GT gives P = 1, .5, .667 and R = .5, .5, 1 (§B.6)."""
    precision, recall = precision_recall([True, False, True], 2)
    np.testing.assert_allclose(precision, [1, 0.5, 2 / 3])
    np.testing.assert_allclose(recall, [0.5, 0.5, 1])


def test_box_iou_worked_vector() -> None:
    """[0,0,9,9] vs [5,0,14,9]: IoU 1/3 with the +1 convention and 2/7 without (§B.6)."""
    assert box_iou(A, (5, 0, 14, 9), "inclusive") == pytest.approx(1 / 3, abs=1e-15)
    assert box_iou(A, (5, 0, 14, 9), "continuous") == pytest.approx(2 / 7, abs=1e-15)


def test_tube_iou_worked_vector() -> None:
    """Identical boxes on frames 1..10 vs 6..15: tube IoU 5/15 (ACT) and 4/14 (VOC) (§B.6)."""
    gt, det = tube(1, 10, A), tube(6, 15, A)
    assert tube_iou(det, gt) == pytest.approx(5 / 15, abs=1e-15)
    voc = tube_iou(det, gt, geometry="continuous", temporal="exclusive")
    assert voc == pytest.approx(4 / 14, abs=1e-15)


def ranked_frame_case() -> tuple[dict[str, Any], np.ndarray]:
    """2 GT boxes (two frames of one tube) and 3 detections that rank TP, FP, TP."""
    gt = act_gt({"run/v": {0: [tube(1, 2, A)]}})
    dets = np.array(
        [
            fdet(0, 1, 0, 0.9, A),  # TP
            fdet(0, 1, 0, 0.8, A),  # FP: frame 1's box is taken (act) / flagged (voc)
            fdet(0, 2, 0, 0.7, A),  # TP
        ]
    )
    return gt, dets


def test_frame_ap_reproduces_worked_ranking_tp_fp_tp() -> None:
    """Frame-AP of the TP, FP, TP ranking is 19/24 under act and 5/6 under voc (§B.6)."""
    gt, dets = ranked_frame_case()
    act = frame_ap(gt, dets, [0.5], "act")
    voc = frame_ap(gt, dets, [0.5], "voc")
    assert act["0.5"]["per_class"]["run"] == pytest.approx(19 / 24)
    assert voc["0.5"]["per_class"]["run"] == pytest.approx(5 / 6)


def test_frame_ap_reproduces_worked_ranking_fp_tp_tp() -> None:
    """Frame-AP of the FP, TP, TP ranking is 5/12 under act and 2/3 under voc (§B.6)."""
    gt = act_gt({"run/v": {0: [tube(1, 2, A)]}})
    dets = np.array([fdet(0, 1, 0, 0.9, FAR), fdet(0, 1, 0, 0.8, A), fdet(0, 2, 0, 0.7, A)])
    assert frame_ap(gt, dets, [0.5], "act")["0.5"]["mAP"] == pytest.approx(5 / 12)
    assert frame_ap(gt, dets, [0.5], "voc")["0.5"]["mAP"] == pytest.approx(2 / 3)


def test_video_ap_reproduces_worked_ranking_tp_fp_tp() -> None:
    """Video-AP of tubes ranked TP, FP, TP over 2 GT tubes is 19/24 (act) and 5/6 (voc)."""
    gt = act_gt({"run/a": {0: [tube(1, 5, A)]}, "run/b": {0: [tube(1, 5, A)]}})
    dets = {
        0: [
            ("run/a", 0.9, tube(1, 5, A)),
            ("run/a", 0.8, tube(1, 5, A)),  # duplicate of a matched tube: FP
            ("run/b", 0.7, tube(1, 5, A)),
        ]
    }
    assert video_ap(gt, dets, [0.5], "act")["0.5"]["mAP"] == pytest.approx(19 / 24)
    assert video_ap(gt, dets, [0.5], "voc")["0.5"]["mAP"] == pytest.approx(5 / 6)


def test_frame_ap_box_convention_decides_a_match_at_the_worked_iou() -> None:
    """At threshold 0.3 the §B.6 boxes match under act (IoU 1/3) but not under voc (2/7)."""
    gt = act_gt({"run/v": {0: [tube(1, 1, A)]}})
    dets = np.array([fdet(0, 1, 0, 0.9, (5, 0, 14, 9))])
    assert frame_ap(gt, dets, [0.3], "act")["0.3"]["mAP"] == 1.0
    assert frame_ap(gt, dets, [0.3], "voc")["0.3"]["mAP"] == 0.0


def test_video_ap_temporal_convention_decides_a_match_at_the_worked_iou() -> None:
    """At threshold 0.3 the §B.6 tubes (1..10 vs 6..15) match under act (1/3), not voc (2/7)."""
    gt = act_gt({"run/v": {0: [tube(1, 10, A)]}})
    dets = {0: [("run/v", 0.9, tube(6, 15, A))]}
    assert video_ap(gt, dets, [0.3], "act")["0.3"]["mAP"] == 1.0
    assert video_ap(gt, dets, [0.3], "voc")["0.3"]["mAP"] == 0.0


# --------------------------------------------------------------------------- IoU conventions


@pytest.mark.parametrize(
    ("a", "b", "inclusive", "continuous"),
    [
        (A, A, 1.0, 1.0),
        # touching: x 0..4 and 5..9 share no pixel either way
        ((0, 0, 4, 4), (5, 0, 9, 4), 0.0, 0.0),
        # one shared pixel column: inclusive 5 / (25 + 25 - 5); continuous width 0
        ((0, 0, 4, 4), (4, 0, 8, 4), 5 / 45, 0.0),
        # nested: inclusive 25 / 100; continuous 16 / 81
        ((0, 0, 9, 9), (0, 0, 4, 4), 25 / 100, 16 / 81),
        # one pixel: inclusive area 1 (IoU 1); continuous area 0, 0/0 counts as 0
        ((3, 3, 3, 3), (3, 3, 3, 3), 1.0, 0.0),
    ],
)
def test_box_iou_conventions(a, b, inclusive, continuous) -> None:
    """Hand-computed IoUs under the inclusive (+1) and continuous box geometries."""
    assert box_iou(a, b, "inclusive") == pytest.approx(inclusive, abs=1e-15)
    assert box_iou(a, b, "continuous") == pytest.approx(continuous, abs=1e-15)


def test_box_iou_broadcasts_to_a_matrix() -> None:
    """box_iou(a[:, None], b[None]) is the [N, M] matrix of pairwise IoUs."""
    a = np.array([A, (5, 0, 14, 9)])
    b = np.array([A, B, (5, 0, 14, 9)])
    m = box_iou(a[:, None], b[None])
    assert m.shape == (2, 3)
    np.testing.assert_allclose(m, [[1, 0, 1 / 3], [1 / 3, 0, 1]])


@pytest.mark.parametrize(
    ("spans", "inclusive", "exclusive"),
    [
        ((1, 10, 6, 15), 5 / 15, 4 / 14),
        ((1, 5, 5, 9), 1 / 9, 0.0),  # one shared frame
        ((3, 3, 3, 3), 1.0, 0.0),  # equal single frames: exclusive 0/0 counts as 0
        ((1, 4, 6, 9), 0.0, 0.0),  # disjoint
        ((1, 10, 3, 4), 2 / 10, 1 / 9),  # nested
    ],
)
def test_temporal_iou_conventions(spans, inclusive, exclusive) -> None:
    """Hand-computed temporal IoUs with inclusive and exclusive frame counts."""
    assert temporal_iou(*spans, "inclusive") == pytest.approx(inclusive, abs=1e-15)
    assert temporal_iou(*spans, "exclusive") == pytest.approx(exclusive, abs=1e-15)


def test_tube_iou_averages_box_iou_over_shared_frames() -> None:
    """Over shared frames 2..3 the box IoUs are 1 and 1/3: tube IoU = (2/4) x (2/3) = 1/3."""
    gt = np.array([[1, *A], [2, *A], [3, *A], [4, *A]], dtype=np.float64)
    det = np.array([[2, *A, 0.5], [3, 5, 0, 14, 9, 0.5]], dtype=np.float64)  # 6th col ignored
    assert tube_iou(det, gt) == pytest.approx(0.5 * (1 + 1 / 3) / 2)


def test_tube_iou_without_shared_frames_is_zero() -> None:
    """Tubes on disjoint frames have IoU 0 under both conventions."""
    a, b = tube(1, 3, A), tube(5, 8, A)
    assert tube_iou(a, b) == 0.0
    assert tube_iou(a, b, geometry="continuous", temporal="exclusive") == 0.0


# --------------------------------------------------------------------------- matching rules


def two_box_frame() -> tuple[dict[str, Any], np.ndarray]:
    """One frame with GT boxes A and B; det 1 equals A; det 2 = [7,0,21,9] overlaps A more than
    B: inclusive IoU 30/220 with A and 20/230 with B."""
    gt = act_gt({"run/v": {0: [tube(1, 1, A), tube(1, 1, B)]}})
    dets = np.array([fdet(0, 1, 0, 0.9, A), fdet(0, 1, 0, 0.8, (7, 0, 21, 9))])
    return gt, dets


def test_remove_matching_gives_a_second_detection_the_remaining_box() -> None:
    """ACT rule: after det 1 takes A, det 2 is compared with B only (20/230 >= 0.05): two TPs,
    AP = 1."""
    gt, dets = two_box_frame()
    assert frame_ap(gt, dets, [0.05], "act")["0.05"]["mAP"] == pytest.approx(1.0)


def test_flag_matching_makes_a_hit_on_a_taken_box_a_false_positive() -> None:
    """VOC rule: det 2's best box is A, already taken: FP; ranking TP, FP over 2 GT gives
    trapezoid 1/2 ((1,0)->(1,.5) then flat) and all-point 1/2."""
    gt, dets = two_box_frame()
    flag_trapezoid = BoxAPPreset("flag", "inclusive", "inclusive", "flag", "trapezoid")
    flag_voc_ap = BoxAPPreset("flag", "inclusive", "inclusive", "flag", "all_point")
    assert frame_ap(gt, dets, [0.05], flag_trapezoid)["0.05"]["mAP"] == pytest.approx(0.5)
    assert frame_ap(gt, dets, [0.05], flag_voc_ap)["0.05"]["mAP"] == pytest.approx(0.5)


def test_below_threshold_detection_does_not_consume_the_box() -> None:
    """A higher-scored detection below the threshold is a FP and leaves the box to the next
    one: ranking FP, TP over 1 GT gives trapezoid 1/4 and all-point 1/2."""
    gt = act_gt({"run/v": {0: [tube(1, 1, A)]}})
    dets = np.array([fdet(0, 1, 0, 0.9, (5, 0, 14, 9)), fdet(0, 1, 0, 0.8, A)])
    assert frame_ap(gt, dets, [0.5], "act")["0.5"]["mAP"] == pytest.approx(0.25)
    assert frame_ap(gt, dets, [0.5], "voc")["0.5"]["mAP"] == pytest.approx(0.5)


def test_detection_of_the_wrong_class_is_a_false_positive() -> None:
    """A box on a GT frame but with another label counts for that label, where it is a FP."""
    gt = act_gt({"run/v": {0: [tube(1, 1, A)]}, "walk/w": {1: [tube(1, 1, A)]}})
    dets = np.array([fdet(0, 1, 1, 0.9, A), fdet(1, 1, 1, 0.8, A)])
    result = frame_ap(gt, dets, [0.5], "act")["0.5"]
    # walk: FP then TP over 1 GT: trapezoid 1/4; run: no detection, AP 0
    assert result["per_class"] == {"run": 0.0, "walk": pytest.approx(0.25)}
    assert result["mAP"] == pytest.approx(0.125)


def test_ties_keep_the_input_order() -> None:
    """Equal scores rank in input order: FP then TP gives 1/4, TP then FP gives 1 (act)."""
    gt = act_gt({"run/v": {0: [tube(1, 1, A)]}})
    fp, tp = fdet(0, 1, 0, 0.5, FAR), fdet(0, 1, 0, 0.5, A)
    assert frame_ap(gt, np.array([fp, tp]), [0.5])["0.5"]["mAP"] == pytest.approx(0.25)
    assert frame_ap(gt, np.array([tp, fp]), [0.5])["0.5"]["mAP"] == pytest.approx(1.0)


def test_video_ap_matches_within_each_video_only() -> None:
    """A detected tube is compared with the GT tubes of its own video: a perfect tube placed in
    the wrong video is a FP."""
    gt = act_gt({"run/a": {0: [tube(1, 5, A)]}, "run/b": {0: [tube(1, 5, B)]}})
    dets = {0: [("run/a", 0.9, tube(1, 5, B)), ("run/b", 0.8, tube(1, 5, B))]}
    # ranking FP, TP over 2 GT: trapezoid (1,0)->(0,0)->(.5,.5) = 1/8
    assert video_ap(gt, dets, [0.5], "act")["0.5"]["mAP"] == pytest.approx(1 / 8)


# --------------------------------------------------------------------------- perfect detections


def perfect_case() -> tuple[dict[str, Any], np.ndarray, dict[int, list[Any]]]:
    """Two classes, several tubes per video (one video with two actors), and detections equal
    to the GT with arbitrary scores."""
    gt = act_gt(
        {
            "run/a": {0: [tube(2, 9, A), tube(4, 6, B)]},
            "run/b": {0: [tube(1, 12, (30, 40, 80, 120))]},
            "walk/c": {1: [tube(5, 20, (3.5, 7.25, 60.5, 90))]},
        }
    )
    videos = gt["test_videos"][0]
    rows, tubes = [], {}
    rng = np.random.default_rng(0)
    for v, video in enumerate(videos):
        for label, arrays in gt["gttubes"][video].items():
            for arr in arrays:
                rows.extend(fdet(v, int(r[0]), label, rng.random(), tuple(r[1:])) for r in arr)
                tubes.setdefault(label, []).append((video, float(rng.random()), arr.copy()))
    return gt, np.array(rows), tubes


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_detections_equal_to_gt_give_ap_one(preset: str) -> None:
    """Detections equal to the GT (tubes of 2+ frames) give AP 1 for every class and threshold
    under both presets."""
    gt, rows, tubes = perfect_case()
    for result in (
        frame_ap(gt, rows, [0.2, 0.5, 0.75, "0.5:0.95", 1.0], preset),
        video_ap(gt, tubes, [0.2, 0.5, 0.75, "0.5:0.95", 1.0], preset),
    ):
        for per in result.values():
            assert per["mAP"] == pytest.approx(1.0)
            assert all(v == pytest.approx(1.0) for v in per["per_class"].values())


def test_single_frame_tube_never_matches_under_voc() -> None:
    """A one-frame tube detected exactly has temporal IoU 1 under act but 0/0 -> 0 under voc
    (§B.3), so its video-AP is 1 and 0."""
    gt = act_gt({"run/v": {0: [tube(3, 3, A)]}})
    dets = {0: [("run/v", 1.0, tube(3, 3, A))]}
    assert video_ap(gt, dets, [0.5], "act")["0.5"]["mAP"] == 1.0
    assert video_ap(gt, dets, [0.5], "voc")["0.5"]["mAP"] == 0.0


# --------------------------------------------------------------------------- results layout


def test_class_without_gt_is_none_and_left_out_of_the_mean() -> None:
    """A class with no GT in the evaluated videos reports None and does not count in the mAP."""
    gt = act_gt({"run/v": {0: [tube(1, 2, A)]}}, labels=("run", "walk", "jump"))
    dets = np.array([fdet(0, 1, 0, 0.9, A), fdet(0, 2, 0, 0.8, A), fdet(0, 1, 2, 0.7, A)])
    result = frame_ap(gt, dets, [0.5])["0.5"]
    assert result == {"mAP": 1.0, "per_class": {"run": 1.0, "walk": None, "jump": None}}


def test_no_gt_at_all_is_an_error() -> None:
    """Evaluated videos without any GT tube raise EvalInputError instead of a NaN mAP."""
    gt = act_gt({"run/v": {}})
    with pytest.raises(EvalInputError, match="no ground-truth instance"):
        frame_ap(gt, np.zeros((0, 8)), [0.5])


def test_no_detections_give_ap_zero() -> None:
    """An empty detection set gives AP 0 under both presets."""
    gt = act_gt({"run/v": {0: [tube(1, 2, A)]}})
    for preset in PRESETS:
        assert frame_ap(gt, np.zeros((0, 8)), [0.5], preset)["0.5"]["mAP"] == 0.0
        assert video_ap(gt, {}, [0.5], preset)["0.5"]["mAP"] == 0.0


def test_range_threshold_is_the_mean_over_its_thresholds() -> None:
    """AP@0.5:0.95 is the mean of the APs at 0.50, 0.55, ..., 0.95: a detection of IoU 0.7
    (inclusive 70/100) is a TP at 0.5..0.7 (5 of 10 thresholds), so 0.5."""
    gt = act_gt({"run/v": {0: [tube(1, 1, A)]}})
    dets = np.array([fdet(0, 1, 0, 0.9, (0, 0, 9, 6))])
    result = frame_ap(gt, dets, ["0.5:0.95", 0.7, 0.75])
    assert list(result) == ["0.5:0.95", "0.7", "0.75"]
    assert result["0.5:0.95"]["mAP"] == pytest.approx(0.5)
    assert (result["0.7"]["mAP"], result["0.75"]["mAP"]) == (1.0, 0.0)


def test_parse_thresholds_keys_and_values() -> None:
    """Numbers keep their %g text as key; 0.5:0.95 expands to 10 values that equal the
    literals; repeats are dropped."""
    parsed = parse_thresholds([0.5, "0.50", "0.5:0.95", "0.1:0.9:0.1", 0.2])
    assert [k for k, _ in parsed] == ["0.5", "0.5:0.95", "0.1:0.9:0.1", "0.2"]
    grid = dict(parsed)["0.5:0.95"]
    assert grid == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
    assert len(dict(parsed)["0.1:0.9:0.1"]) == 9


@pytest.mark.parametrize("bad", [1.5, -0.1, "x", "0.9:0.5", "0.5:0.95:0", "0.5:0.93:0.05", True])
def test_parse_thresholds_rejects_bad_values(bad: Any) -> None:
    """Thresholds outside [0, 1], text, reversed or uneven ranges and a zero step are refused."""
    with pytest.raises(EvalInputError):
        parse_thresholds([bad])


def test_unknown_preset_is_a_config_error_with_a_hint() -> None:
    """An unknown preset name raises ConfigError suggesting the closest preset."""
    gt, dets = ranked_frame_case()
    with pytest.raises(ConfigError, match="did you mean 'voc'"):
        frame_ap(gt, dets, [0.5], "vco")


def test_split_selects_test_videos_and_video_index() -> None:
    """split=2 evaluates test_videos[1]; video_index 0 then names its first video."""
    gt = act_gt(
        {"run/a": {0: [tube(1, 1, A)]}, "run/b": {0: [tube(1, 1, B)]}},
        test_videos=[["run/a"], ["run/b"]],
    )
    dets = np.array([fdet(0, 1, 0, 0.9, B)])
    assert frame_ap(gt, dets, [0.5], split=1)["0.5"]["mAP"] == 0.0
    assert frame_ap(gt, dets, [0.5], split=2)["0.5"]["mAP"] == 1.0
    with pytest.raises(EvalInputError, match="split 3 does not exist"):
        frame_ap(gt, dets, [0.5], split=3)


# --------------------------------------------------------------------------- inputs untouched


def frozen_copy(value: Any) -> Any:
    """Make every numpy array inside ``value`` read-only (writes would raise)."""
    if isinstance(value, np.ndarray):
        value.setflags(write=False)
    elif isinstance(value, dict):
        for v in value.values():
            frozen_copy(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            frozen_copy(v)
    return value


def assert_same(a: Any, b: Any) -> None:
    """Deep equality that compares numpy arrays element-wise and by dtype."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    else:
        assert a == b


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_inputs_are_not_modified(preset: str) -> None:
    """frame_ap and video_ap leave the GT dict, the detection array and the tube dict exactly
    as they were (arrays are read-only during the call, so an in-place write would raise)."""
    gt, rows, tubes = perfect_case()
    gt["gttubes"]["run/a"][0].append(tube(12, 14, FAR))  # an unmatched tube
    rows = np.vstack([rows[::-1], [fdet(0, 3, 0, 0.99, FAR)]])  # unsorted, one FP
    before = copy.deepcopy((gt, rows, tubes))
    frozen_copy((gt, rows, tubes))
    frame_ap(gt, rows, [0.5, "0.5:0.95"], preset)
    video_ap(gt, tubes, [0.5, "0.5:0.95"], preset)
    assert_same((gt, rows, tubes), before)


def test_repeated_video_ap_gives_equal_results() -> None:
    """Evaluating the same GT twice gives equal results (ACT's videoAP deletes matched GT)."""
    gt, _, tubes = perfect_case()
    first = video_ap(gt, tubes, [0.2, 0.5])
    assert video_ap(gt, tubes, [0.2, 0.5]) == first


# --------------------------------------------------------------------------- malformed detections


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (np.zeros((2, 7)), r"\(N, 8\) array"),
        ([fdet(1, 1, 0, 0.5, A)], "video_index 1 is not in 0..0"),
        ([fdet(0, 1, 2, 0.5, A)], "label 2 is not in 0..1"),
        ([fdet(0, 0, 0, 0.5, A)], "frame 0 is outside video"),
        ([fdet(0, 21, 0, 0.5, A)], "frame 21 is outside video"),
        ([fdet(0, 1.5, 0, 0.5, A)], "must be integers"),
        ([fdet(0, 1, 0, float("nan"), A)], "NaN"),
        ([fdet(0, 1, 0, 0.5, (10, 10, 5, 20))], "x2 < x1"),
        ("text", "numeric array"),
    ],
)
def test_malformed_frame_detections_are_refused_naming_the_source(rows, message) -> None:
    """Wrong shape, out-of-range ids or frames, fractional ids, NaN and inverted boxes raise
    EvalInputError naming the source."""
    gt = act_gt({"run/v": {0: [tube(1, 2, A)]}})
    with pytest.raises(EvalInputError, match=message) as info:
        frame_ap(gt, rows, [0.5], source="F.pkl")
    assert "F.pkl" in str(info.value)


@pytest.mark.parametrize(
    ("dets", "message"),
    [
        ([("run/v", 0.5, tube(1, 2, A))], "must be a dict"),
        ({5: []}, "label 5 is not in 0..1"),
        ({0: [("run/v", 0.5)]}, r"expected \(video, score, tube\)"),
        ({0: [("run/zzz", 0.5, tube(1, 2, A))]}, "not in the evaluated test_videos"),
        ({0: [("run/v", "high", tube(1, 2, A))]}, "score is not a number"),
        ({0: [("run/v", 0.5, tube(1, 2, A)[:, :4])]}, r"\(n, 5\) or \(n, 6\)"),
        ({0: [("run/v", 0.5, tube(1, 4, A)[[0, 1, 3]])]}, "consecutive"),
        ({0: [("run/v", 0.5, tube(1, 2, (9, 0, 0, 9)))]}, "x2 < x1"),
    ],
)
def test_malformed_video_detections_are_refused_naming_the_source(dets, message) -> None:
    """A non-dict, bad labels or entries, unknown videos, tubes with gaps or inverted boxes
    raise EvalInputError naming the source."""
    gt = act_gt({"run/v": {0: [tube(1, 2, A)]}})
    with pytest.raises(EvalInputError, match=message) as info:
        video_ap(gt, dets, [0.5], source="V.pkl")
    assert "V.pkl" in str(info.value)


def test_eval_input_error_is_a_usage_error() -> None:
    """EvalInputError is an AslUsageError, so asl-run eval exits with status 2."""
    assert issubclass(EvalInputError, AslUsageError)


# --------------------------------------------------------------------------- the evaluator (files)


def write_pickle(path: Path, obj: Any, protocol: int = pickle.HIGHEST_PROTOCOL) -> Path:
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


def evaluate(gt: Path, frames: Path | None = None, videos: Path | None = None, **kw: Any) -> Any:
    options = {"preset": "act", "thresholds": [0.5], "split": None, **kw}
    return ActEvaluator().evaluate_files(gt, frames, videos, **options)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """GT (protocol 2, as close to the Python-2 originals as Python 3 writes), frame and video
    detections of the TP, FP, TP case."""
    gt, rows = ranked_frame_case()
    return {
        "gt": write_pickle(tmp_path / "GT.pkl", gt, protocol=2),
        "frames": write_pickle(tmp_path / "F.pkl", rows),
        "videos": write_pickle(tmp_path / "V.pkl", {0: [("run/v", 0.9, tube(1, 2, A))]}),
    }


def test_evaluator_returns_exactly_the_documented_structure(files: dict[str, Path]) -> None:
    """evaluate_files returns {"frame_ap": {key: {"mAP", "per_class"}}, "video_ap": ...}."""
    result = evaluate(files["gt"], files["frames"], files["videos"], thresholds=[0.5, "0.5:0.95"])
    assert result == {
        "frame_ap": {
            "0.5": {"mAP": pytest.approx(19 / 24), "per_class": {"run": 19 / 24, "walk": None}},
            "0.5:0.95": {
                "mAP": pytest.approx(19 / 24),
                "per_class": {"run": pytest.approx(19 / 24), "walk": None},
            },
        },
        "video_ap": {
            "0.5": {"mAP": 1.0, "per_class": {"run": 1.0, "walk": None}},
            "0.5:0.95": {"mAP": 1.0, "per_class": {"run": 1.0, "walk": None}},
        },
    }


def test_evaluator_reports_only_the_given_families(files: dict[str, Path]) -> None:
    """Without video detections the result has no video_ap key, and vice versa."""
    assert list(evaluate(files["gt"], frames=files["frames"])) == ["frame_ap"]
    assert list(evaluate(files["gt"], videos=files["videos"])) == ["video_ap"]
    with pytest.raises(EvalInputError, match="nothing to evaluate"):
        evaluate(files["gt"])


def test_evaluator_scores_gt_boxes_as_stored_not_clipped(tmp_path: Path) -> None:
    """A GT box reaching x2 = 320 on a 320-pixel-wide video is evaluated as stored: the equal
    detection has IoU exactly 1 (clipping to 319 would make it 0.95)."""
    box = (300, 0, 320, 9)
    gt = write_pickle(tmp_path / "GT.pkl", act_gt({"run/v": {0: [tube(1, 1, box)]}}))
    dets = write_pickle(tmp_path / "F.pkl", np.array([fdet(0, 1, 0, 1.0, box)]))
    assert evaluate(gt, dets, thresholds=[1.0])["frame_ap"]["1"]["mAP"] == 1.0
    assert load_act_gt(gt).tubes["run/v"][0].boxes[0, 2] == 319  # training still clips


def test_evaluator_refuses_a_pickle_that_calls_os_system(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    """A detection pickle whose __reduce__ calls os.system is refused by the restricted
    unpickler, naming the file, and the command never runs."""
    marker = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, (f"touch {marker}",))

    evil = write_pickle(tmp_path / "evil.pkl", Evil())
    for kwargs in ({"frames": evil}, {"videos": evil}):
        with pytest.raises(EvalInputError, match=r"refusing to load .*system from .*evil\.pkl"):
            evaluate(files["gt"], **kwargs)
    with pytest.raises(EvalInputError, match=r"evil\.pkl \(ground-truth file\)"):
        evaluate(evil, files["frames"])
    assert not marker.exists()


def test_evaluator_reports_a_truncated_pickle_naming_the_file(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    """Truncated detection and GT pickles raise EvalInputError naming the file."""
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(files["frames"].read_bytes()[:40])
    with pytest.raises(EvalInputError, match=r"cut\.pkl.*truncated"):
        evaluate(files["gt"], cut)
    cut.write_bytes(files["gt"].read_bytes()[:40])
    with pytest.raises(EvalInputError, match=r"cut\.pkl"):
        evaluate(cut, files["frames"])


@pytest.mark.parametrize(
    ("which", "obj", "message"),
    [
        ("frames", {0: []}, "holds a dict"),
        ("frames", [[1, 2, 3]], r"\(N, 8\) array"),
        ("videos", np.zeros((1, 8)), "must be a dict"),
        ("gt", {"labels": ["run"]}, "missing key"),
        ("gt", [1, 2], "must be a dict"),
    ],
)
def test_evaluator_reports_a_wrong_structure_naming_the_file(
    tmp_path: Path, files: dict[str, Path], which: str, obj: Any, message: str
) -> None:
    """Readable pickles of the wrong structure raise EvalInputError naming the file."""
    bad = write_pickle(tmp_path / "wrong.pkl", obj)
    paths = {"gt": files["gt"], "frames": files["frames"], "videos": None, which: bad}
    with pytest.raises(EvalInputError, match=message) as info:
        evaluate(paths["gt"], paths["frames"], paths["videos"])
    assert "wrong.pkl" in str(info.value)


def test_evaluator_reports_missing_files_and_bad_splits(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    """A missing file, a folder and a split that is not a number or does not exist raise
    EvalInputError."""
    with pytest.raises(EvalInputError, match=r"nope\.pkl: no such frame-detection file"):
        evaluate(files["gt"], tmp_path / "nope.pkl")
    with pytest.raises(EvalInputError, match="not found"):
        evaluate(tmp_path / "nope.pkl", files["frames"])
    with pytest.raises(EvalInputError, match="is a folder"):
        evaluate(files["gt"], tmp_path)
    with pytest.raises(EvalInputError, match="1-based split number"):
        evaluate(files["gt"], files["frames"], split="first")
    with pytest.raises(EvalInputError, match="split 2 does not exist"):
        evaluate(files["gt"], files["frames"], split="2")


def test_evaluator_rejects_an_unknown_preset(files: dict[str, Path]) -> None:
    """An unknown preset raises ConfigError (a usage error) before any file is read."""
    with pytest.raises(ConfigError, match="unknown box-AP preset"):
        evaluate(files["gt"], files["frames"], preset="coco")
