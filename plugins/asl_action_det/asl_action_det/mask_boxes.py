"""Box detections from the capsule model's masks, scored by the box-detection AP of :mod:`.act_eval`.

The capsule detector predicts a class per video and a foreground mask per frame, not scored
boxes. To report the box-detection frame-AP and video-AP (reference specs §B.1 item 1, §B.2)
alongside the VideoCapsuleNet-style f-mAP / v-mAP of :mod:`.metrics`, the task turns its
predictions into ACT-format detections (specs §A.2):

* **frame detection**: on every frame whose thresholded mask (sigmoid ≥ 0.5, the mask the
  f-mAP scores) has a foreground pixel, one box: the **tight box** of the foreground pixels,
  ``x1 = first column, y1 = first row, x2 = last column, y2 = last row`` in 0-based pixels with
  inclusive ``x2, y2`` (ACT's convention, scored with the ``act`` preset's inclusive geometry).
  A frame with an empty mask has no detection. The mask is one "actor" channel, so with several
  actors on a frame the box is the tight box of their union: a mask-based detector gives one box
  per frame, never one per actor.
* **label and score**: the video's predicted class (the argmax of the clip votes the task
  already computes for the accuracy) and that class's share of the votes,
  ``votes[c] / sum(votes)`` (:func:`class_probabilities`), the same on every frame and on the
  tube of the video.
* **video detection**: one tube per video with at least one box, over the frames from its first
  to its last box; frames inside that span with an empty mask get their box by linear
  interpolation between the neighbouring boxes (:func:`.pseudo.interpolate_track_boxes`), since
  ACT tubes cover consecutive frames.

The ground truth is the test videos' tubes as the task holds them (:func:`act_ground_truth`:
boxes at ``task.frame_size`` when frames are resized), one ACT split holding the test videos in
the dataset's order, so ``video_index`` is a position in that list and frames are 1-based.

The pure functions are what tests call; :class:`MaskBoxDetections` is the accumulator the
task's ``evaluate`` feeds clip batch by clip batch (its state: one box per frame of the open
video, then the detection rows).
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from .act_eval import frame_ap, parse_thresholds, video_ap
from .dataset import VideoRecord
from .pseudo import interpolate_track_boxes

__all__ = [
    "BOX_PRESET",
    "BOX_THRESHOLDS",
    "MaskBoxDetections",
    "act_ground_truth",
    "box_metric_key",
    "class_probabilities",
    "frame_detections",
    "mask_tube",
    "tight_boxes",
]

log = logging.getLogger(__name__)

#: IoU thresholds of the task's box metrics, in report order; ``"0.5:0.95"`` is the mean over
#: 0.50, 0.55, ..., 0.95 (see :func:`.act_eval.parse_thresholds`)
BOX_THRESHOLDS: tuple[float | str, ...] = (0.5, 0.2, 0.75, "0.5:0.95")

#: the :data:`.act_eval.PRESETS` entry the task reports (ACT's reference conventions)
BOX_PRESET = "act"


def box_metric_key(kind: Literal["frame", "video"], threshold: str) -> str:
    """The task's metric name of a box metric: ``box-frame-AP@0.5``, ``box-video-AP@0.5:0.95``.

    The ``box-`` prefix keeps them apart from the VideoCapsuleNet-style ``f-mAP@0.5`` /
    ``v-mAP@0.5`` (the paper's "f-mAP" is itself short for frame-mAP). Values are means over the
    classes with ground truth.

    Args:
        kind: ``"frame"`` or ``"video"``.
        threshold: a threshold key of :func:`.act_eval.parse_thresholds` (``"0.5"``, ``"0.5:0.95"``).
    """
    if kind not in ("frame", "video"):
        raise ValueError(f"kind must be 'frame' or 'video', got {kind!r}")
    return f"box-{kind}-AP@{threshold}"


def tight_boxes(masks: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The tight box of the foreground of each mask.

    Args:
        masks: ``bool[F, H, W]`` (anything non-zero is foreground).

    Returns:
        ``(boxes, present)``: ``float64[F, 4]`` rows ``x1 y1 x2 y2`` (0-based pixels, inclusive
        ``x2, y2``: a single pixel at column 3, row 5 gives ``3 5 3 5``), NaN on frames without
        foreground, and ``bool[F]`` whether the frame has foreground.

    Example: a mask whose pixels are rows 2..4 of columns 1..6 gives ``[1, 2, 6, 4]``.
    """
    m = np.asarray(masks).astype(bool, copy=False)
    if m.ndim != 3:
        raise ValueError(f"masks must be [F, H, W], got shape {m.shape}")
    rows = m.any(axis=2)  # [F, H]
    cols = m.any(axis=1)  # [F, W]
    present = rows.any(axis=1)
    h, w = m.shape[1], m.shape[2]
    boxes = np.column_stack(
        [
            np.argmax(cols, axis=1),
            np.argmax(rows, axis=1),
            w - 1 - np.argmax(cols[:, ::-1], axis=1),
            h - 1 - np.argmax(rows[:, ::-1], axis=1),
        ]
    ).astype(np.float64)
    boxes[~present] = np.nan
    return boxes, present


def class_probabilities(votes: ArrayLike) -> np.ndarray:
    """The class votes of a video normalised to a probability: ``votes / sum(votes)``.

    The task's votes are the class-capsule activations (in ``(0, 1)``) of the video's clips,
    each clip weighted by its mean actor-map probability and summed, so each entry is the share
    of the video's class evidence that went to that class. Not a softmax: the votes are already
    non-negative evidence, and a share keeps their ratios.

    Args:
        votes: ``float[C]``, non-negative.

    Returns:
        ``float64[C]`` summing to 1; uniform when the votes are all 0 (or not finite).
    """
    v = np.asarray(votes, dtype=np.float64).reshape(-1)
    if v.size == 0:
        raise ValueError("votes must not be empty")
    if np.any(v < 0):
        raise ValueError(f"votes must be non-negative, got {v.tolist()}")
    total = float(v.sum())
    if not np.isfinite(total) or total <= 0.0:
        return np.full(v.size, 1.0 / v.size)
    return v / total


def frame_detections(
    video_index: int, frames: ArrayLike, boxes: ArrayLike, label: int, score: float
) -> np.ndarray:
    """ACT frame-detection rows of one video (specs §A.2).

    Args:
        video_index: the video's position in the evaluated split.
        frames: ``int[n]`` 0-based frames that have a box.
        boxes: ``float[n, 4]`` their boxes ``x1 y1 x2 y2``.
        label: 0-based class.
        score: the detections' score.

    Returns:
        ``float64[n, 8]`` rows ``video_index frame label score x1 y1 x2 y2`` with **1-based**
        frames, in the order given.
    """
    f = np.asarray(frames, dtype=np.int64).reshape(-1)
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if b.shape[0] != f.size:
        raise ValueError(f"{f.size} frames but {b.shape[0]} boxes")
    out = np.empty((f.size, 8), dtype=np.float64)
    out[:, 0] = operator.index(video_index)
    out[:, 1] = f + 1
    out[:, 2] = operator.index(label)
    out[:, 3] = float(score)
    out[:, 4:] = b
    return out


def mask_tube(frames: ArrayLike, boxes: ArrayLike) -> np.ndarray | None:
    """The tube of one video's boxes, over consecutive frames.

    Args:
        frames: ``int[n]`` strictly increasing 0-based frames that have a box.
        boxes: ``float[n, 4]`` their boxes.

    Returns:
        ``float64[m, 5]`` rows ``frame x1 y1 x2 y2`` with 1-based frames, from the first to the
        last given frame (``m = frames[-1] - frames[0] + 1``); frames in between without a box get
        the linear interpolation of the neighbouring boxes. ``None`` when ``frames`` is empty.

    Example: boxes on frames 0 and 2 only give a 3-row tube whose frame-2 row (1-based) is the
    mean of the other two.
    """
    f = np.asarray(frames, dtype=np.int64).reshape(-1)
    if f.size == 0:
        return None
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    first = int(f[0])
    span = int(f[-1]) - first + 1
    filled = interpolate_track_boxes(span, f - first, b)
    return np.column_stack([np.arange(first + 1, first + span + 1, dtype=np.float64), filled])


def act_ground_truth(videos: Sequence[VideoRecord], labels: Sequence[str]) -> dict[str, Any]:
    """An ACT ground-truth dict (specs §A.1) whose test split 1 is ``videos``, in that order.

    Built from the records, not from the ground-truth file, so the boxes are those the task
    works with (scaled to ``task.frame_size`` when frames are resized).

    Args:
        videos: the evaluated videos.
        labels: class names in label order.

    Returns:
        ``{"labels", "gttubes", "nframes", "resolution", "train_videos", "test_videos"}``; each
        tube an ``float64[n, 5]`` array of rows ``frame x1 y1 x2 y2`` with 1-based frames.
    """
    gttubes: dict[str, dict[int, list[np.ndarray]]] = {}
    for video in videos:
        per_label: dict[int, list[np.ndarray]] = {}
        for tube in video.tubes:
            rows = np.column_stack([tube.frames.astype(np.float64) + 1.0, tube.boxes])
            per_label.setdefault(tube.label, []).append(rows)
        gttubes[video.id] = per_label
    return {
        "labels": list(labels),
        "gttubes": gttubes,
        "nframes": {v.id: v.num_frames for v in videos},
        "resolution": {v.id: (v.height, v.width) for v in videos},
        "train_videos": [[]],
        "test_videos": [[v.id for v in videos]],
    }


class MaskBoxDetections:
    """Collects a model's mask-based box detections over the test videos and scores them.

    Feed each video's thresholded masks with :meth:`update` (any frames, any order, each frame
    once), close it with :meth:`end_video`, then :meth:`compute`. State: one box per frame of the
    open videos, then ``float64[8]`` rows per detected frame and one tube per video.

    Args:
        videos: the evaluated videos (their order gives ``video_index``).
        labels: class names in label order.
    """

    def __init__(self, videos: Sequence[VideoRecord], labels: Sequence[str]) -> None:
        self._videos = {v.id: v for v in videos}
        self._index = {v.id: i for i, v in enumerate(videos)}
        self._gt = act_ground_truth(videos, labels)
        self.reset()

    def reset(self) -> None:
        """Forget every detection."""
        self._open: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._rows: list[np.ndarray] = []
        self._tubes: dict[int, list[tuple[str, float, np.ndarray]]] = {}

    def update(self, video_id: str, frames: ArrayLike, masks: ArrayLike) -> None:
        """Record the tight boxes of some frames' masks.

        Args:
            video_id: the video.
            frames: ``int[n]`` 0-based frames.
            masks: ``bool[n, H, W]`` their thresholded masks.
        """
        if video_id not in self._open:
            n = self._videos[video_id].num_frames
            self._open[video_id] = (np.full((n, 4), np.nan), np.zeros(n, dtype=bool))
        boxes, present = tight_boxes(masks)
        f = np.asarray(frames, dtype=np.int64).reshape(-1)
        if f.size != present.size:
            raise ValueError(f"{f.size} frames but {present.size} masks")
        all_boxes, all_present = self._open[video_id]
        all_boxes[f] = boxes
        all_present[f] = present

    def end_video(self, video_id: str, label: int, score: float) -> None:
        """Turn a video's boxes into its detections.

        Args:
            video_id: the video.
            label: its predicted class (0-based).
            score: the score of every detection of the video (the class probability).
        """
        boxes, present = self._open.pop(video_id, (np.zeros((0, 4)), np.zeros(0, dtype=bool)))
        frames = np.flatnonzero(present)
        if frames.size == 0:
            return
        self._rows.append(
            frame_detections(self._index[video_id], frames, boxes[frames], label, score)
        )
        tube = mask_tube(frames, boxes[frames])
        self._tubes.setdefault(int(label), []).append((video_id, float(score), tube))

    def frame_detections(self) -> np.ndarray:
        """``float64[N, 8]``: every frame detection so far (ACT format, 1-based frames)."""
        return np.concatenate(self._rows) if self._rows else np.zeros((0, 8))

    def video_detections(self) -> dict[int, list[tuple[str, float, np.ndarray]]]:
        """``{label: [(video, score, tube), ...]}``: every video detection so far."""
        return {label: list(entries) for label, entries in self._tubes.items()}

    @property
    def ground_truth(self) -> dict[str, Any]:
        """The ACT ground-truth dict the detections are scored against (do not modify)."""
        return self._gt

    def compute(
        self, thresholds: Iterable[float | str] = BOX_THRESHOLDS, preset: str = BOX_PRESET
    ) -> dict[str, float]:
        """Frame-AP and video-AP (means over classes) at each threshold.

        Args:
            thresholds: IoU thresholds and ranges (:func:`.act_eval.parse_thresholds`).
            preset: an :data:`.act_eval.PRESETS` name.

        Returns:
            ``{box_metric_key("frame", t): ..., box_metric_key("video", t): ..., ...}`` per
            threshold in the given order; empty (with a warning) when the evaluated videos hold
            no ground-truth tube, where AP is undefined.
        """
        if not any(self._gt["gttubes"][v] for v in self._gt["test_videos"][0]):
            log.warning("the test videos hold no ground-truth tube: no box metrics")
            return {}
        keys = [key for key, _ in parse_thresholds(thresholds)]
        frames = frame_ap(self._gt, self.frame_detections(), keys, preset)
        videos = video_ap(self._gt, self.video_detections(), keys, preset)
        out: dict[str, float] = {}
        for key in keys:
            out[box_metric_key("frame", key)] = float(frames[key]["mAP"])
            out[box_metric_key("video", key)] = float(videos[key]["mAP"])
        return out
