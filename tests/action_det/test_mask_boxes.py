"""Box detections from predicted masks (``asl_action_det.mask_boxes``) and their box AP.

Known answers are small hand-made masks and videos; the AP arithmetic itself is tested in
``test_act_eval.py``.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from asl_action_det.dataset import ActorTube, VideoRecord
from asl_action_det.mask_boxes import (
    BOX_THRESHOLDS,
    MaskBoxDetections,
    act_ground_truth,
    box_metric_key,
    class_probabilities,
    frame_detections,
    mask_tube,
    tight_boxes,
)
from hypothesis import given
from hypothesis import strategies as st

H, W = 24, 32
LABELS = ("run", "walk")


def filled(box: tuple[int, int, int, int], height: int = H, width: int = W) -> np.ndarray:
    """``bool[H, W]`` with the inclusive pixel box ``x1 y1 x2 y2`` set (ACT's fill)."""
    x1, y1, x2, y2 = box
    m = np.zeros((height, width), dtype=bool)
    m[y1 : y2 + 1, x1 : x2 + 1] = True
    return m


def record(video: str, label: int, num_frames: int, first: int, boxes: list) -> VideoRecord:
    """A test video with one tube of ``boxes`` starting at 0-based frame ``first``."""
    frames = np.arange(first, first + len(boxes))
    tube = ActorTube(label, frames, np.asarray(boxes, dtype=np.float32))
    return VideoRecord(video, label, num_frames, H, W, (tube,), "test")


def videos() -> list[VideoRecord]:
    """Two test videos: a run on frames 2..5 of 8 and a walk on frames 0..2 of 5."""
    return [
        record("run/v1", 0, 8, 2, [(2, 3, 10, 20), (3, 3, 11, 20), (4, 3, 12, 20), (5, 3, 13, 20)]),
        record("walk/v2", 1, 5, 0, [(20, 1, 30, 9), (20, 2, 30, 10), (21, 2, 31, 10)]),
    ]


def feed(acc: MaskBoxDetections, video: VideoRecord, masks: np.ndarray, label: int, score: float):
    """Give ``acc`` a video's masks in two interleaved halves (as clip tiling does), then close it."""
    frames = np.arange(video.num_frames)
    for part in (frames[0::2], frames[1::2]):
        acc.update(video.id, part, masks[part])
    acc.end_video(video.id, label, score)


def gt_masks(video: VideoRecord) -> np.ndarray:
    """``bool[F, H, W]``: the video's GT boxes filled."""
    masks = np.zeros((video.num_frames, H, W), dtype=bool)
    for tube in video.tubes:
        for f, box in zip(tube.frames, tube.boxes.astype(int), strict=True):
            masks[f] |= filled(tuple(box))
    return masks


# --------------------------------------------------------------------------- pure functions


def test_tight_box_known_answer():
    """Rows 2..4 of columns 1..6 give [1, 2, 6, 4]; one pixel gives a one-pixel box; empty gives NaN."""
    masks = np.zeros((3, 8, 10), dtype=bool)
    masks[0, 2:5, 1:7] = True
    masks[0, 3, 3] = False  # a hole changes nothing
    masks[2, 7, 9] = True
    boxes, present = tight_boxes(masks)
    assert present.tolist() == [True, False, True]
    assert boxes[0].tolist() == [1, 2, 6, 4]
    assert boxes[2].tolist() == [9, 7, 9, 7]
    assert np.isnan(boxes[1]).all()


def test_tight_box_of_two_blobs_covers_both():
    """Two actors on one frame give the single tight box of their union."""
    mask = filled((1, 1, 3, 4)) | filled((20, 10, 25, 12))
    boxes, _ = tight_boxes(mask[None])
    assert boxes[0].tolist() == [1, 1, 25, 12]


@given(st.integers(0, W - 1), st.integers(0, W - 1), st.integers(0, H - 1), st.integers(0, H - 1))
def test_tight_box_of_a_filled_box_is_that_box(xa, xb, ya, yb):
    """Filling an inclusive pixel box and taking the tight box gives the box back."""
    box = (min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb))
    boxes, present = tight_boxes(filled(box)[None])
    assert present[0] and tuple(boxes[0]) == box


def test_tight_boxes_reject_a_non_video_shape():
    """A single 2-D mask is refused: the function wants ``[F, H, W]``."""
    with pytest.raises(ValueError, match=r"\[F, H, W\]"):
        tight_boxes(np.zeros((4, 4), dtype=bool))


def test_class_probabilities_are_shares_of_the_votes():
    """Votes 1, 3 give 0.25, 0.75; all-zero votes give a uniform distribution."""
    assert class_probabilities([1.0, 3.0]).tolist() == [0.25, 0.75]
    assert class_probabilities([0.0, 0.0, 0.0, 0.0]).tolist() == [0.25] * 4
    with pytest.raises(ValueError, match="non-negative"):
        class_probabilities([1.0, -0.5])


def test_frame_detections_use_one_based_frames():
    """Rows are video_index, frame + 1, label, score, x1 y1 x2 y2."""
    rows = frame_detections(3, [0, 4], [[1, 2, 3, 4], [5, 6, 7, 8]], 1, 0.75)
    assert rows.tolist() == [[3, 1, 1, 0.75, 1, 2, 3, 4], [3, 5, 1, 0.75, 5, 6, 7, 8]]


def test_mask_tube_interpolates_missing_frames():
    """Boxes on 0-based frames 1 and 3 give a tube on 1-based frames 2..4, the middle row the mean."""
    tube = mask_tube([1, 3], [[0, 0, 4, 4], [2, 4, 6, 8]])
    assert tube.tolist() == [[2, 0, 0, 4, 4], [3, 1, 2, 5, 6], [4, 2, 4, 6, 8]]
    assert mask_tube([], np.zeros((0, 4))) is None


def test_act_ground_truth_holds_the_videos_as_test_split_one():
    """The ACT dict lists the videos in order and their tubes with 1-based frames."""
    gt = act_ground_truth(videos(), LABELS)
    assert gt["test_videos"] == [["run/v1", "walk/v2"]]
    assert gt["nframes"] == {"run/v1": 8, "walk/v2": 5}
    (tube,) = gt["gttubes"]["run/v1"][0]
    assert tube[:, 0].tolist() == [3, 4, 5, 6] and tube[0, 1:].tolist() == [2, 3, 10, 20]


def test_box_metric_keys_cannot_be_read_as_vcn_keys():
    """The box keys start with ``box-`` and never equal an f-mAP / v-mAP key."""
    assert box_metric_key("frame", "0.5") == "box-frame-AP@0.5"
    assert box_metric_key("video", "0.5:0.95") == "box-video-AP@0.5:0.95"
    with pytest.raises(ValueError):
        box_metric_key("clip", "0.5")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the accumulator


def test_masks_equal_to_the_ground_truth_give_box_ap_one():
    """Filled GT boxes as predicted masks, the right class: frame-AP = video-AP = 1 everywhere."""
    vids = videos()
    acc = MaskBoxDetections(vids, LABELS)
    for video in vids:
        feed(acc, video, gt_masks(video), video.label, 0.9)
    result = acc.compute()
    assert list(result) == [
        box_metric_key(kind, key)
        for key in ("0.5", "0.2", "0.75", "0.5:0.95")
        for kind in ("frame", "video")
    ]
    assert all(v == 1.0 for v in result.values())


def test_empty_predictions_give_box_ap_zero():
    """No foreground anywhere: no detection, so every AP is 0 (not missing)."""
    vids = videos()
    acc = MaskBoxDetections(vids, LABELS)
    for video in vids:
        feed(acc, video, np.zeros((video.num_frames, H, W), dtype=bool), video.label, 0.9)
    assert acc.frame_detections().shape == (0, 8) and acc.video_detections() == {}
    result = acc.compute()
    assert len(result) == 2 * len(BOX_THRESHOLDS) and all(v == 0.0 for v in result.values())


def test_the_wrong_class_gives_box_ap_zero():
    """Perfect boxes labelled with the other class are all false positives."""
    vids = videos()
    acc = MaskBoxDetections(vids, LABELS)
    for video in vids:
        feed(acc, video, gt_masks(video), 1 - video.label, 0.9)
    assert all(v == 0.0 for v in acc.compute([0.5]).values())


def test_detections_carry_video_index_label_score_and_a_gap_filled_tube():
    """A mask missing one frame inside the tube: no frame detection there, the tube interpolates."""
    vids = videos()
    acc = MaskBoxDetections(vids, LABELS)
    masks = gt_masks(vids[1])
    masks[1] = False
    feed(acc, vids[1], masks, 1, 0.6)
    rows = acc.frame_detections()
    assert rows[:, :4].tolist() == [[1, 1, 1, 0.6], [1, 3, 1, 0.6]]
    ((video, score, tube),) = acc.video_detections()[1]
    assert (video, score) == ("walk/v2", 0.6)
    assert tube[:, 0].tolist() == [1, 2, 3]
    assert tube[1, 1:].tolist() == [20.5, 1.5, 30.5, 9.5]


def test_lower_scored_false_positives_rank_after_true_positives():
    """A wrongly detected video scored below the right one leaves the class's AP at 1."""
    vids = videos()
    acc = MaskBoxDetections(vids, LABELS)
    feed(acc, vids[0], gt_masks(vids[0]), 0, 0.9)
    # the walk video predicted as run, with a lower probability: FPs after every run TP
    feed(acc, vids[1], gt_masks(vids[1]), 0, 0.5)
    result = acc.compute([0.5])
    # run: AP 1; walk: GT but no detection, AP 0; the mean over the two classes
    assert result["box-frame-AP@0.5"] == 0.5 and result["box-video-AP@0.5"] == 0.5


def test_no_ground_truth_tube_gives_no_box_metric(caplog):
    """Test videos without any tube have no AP: compute returns nothing and warns."""
    empty = [VideoRecord("run/v0", None, 4, H, W, (), "test")]
    acc = MaskBoxDetections(empty, LABELS)
    feed(acc, empty[0], np.ones((4, H, W), dtype=bool), 0, 1.0)
    with caplog.at_level(logging.WARNING):
        assert acc.compute() == {}
    assert "no box metrics" in caplog.text


def test_reset_forgets_the_detections():
    """After reset the accumulator holds no detection."""
    vids = videos()
    acc = MaskBoxDetections(vids, LABELS)
    feed(acc, vids[0], gt_masks(vids[0]), 0, 0.9)
    acc.reset()
    assert acc.frame_detections().shape == (0, 8) and acc.video_detections() == {}
