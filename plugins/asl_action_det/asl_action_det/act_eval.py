"""Box-detection metrics: frame-AP and video-AP over detections in the ACT formats.

This is the *box-detection AP* family (reference specs §B.1 item 1, §B.2, §B.3): scored
detections, greedy matching to the ground truth (GT), a precision/recall curve and an average
precision (AP) per class, averaged over classes. It is **not** the VideoCapsuleNet-style f-mAP /
v-mAP of :mod:`.metrics` that the paper reports (no scores there); the two are never mixed.

Inputs (specs §A.1, §A.2):

* **ground truth**: an ACT ground-truth pickle's dict (``labels``, ``gttubes``, ``test_videos``,
  ``nframes``...) or the :class:`~asl_action_det.dataset.ActGroundTruth` read by
  :func:`~asl_action_det.dataset.load_act_gt`. The evaluated videos are ``test_videos[split - 1]``
  (``split`` is 1-based, as in ACT). A GT tube is an ``(n, 5)`` array of rows
  ``frame x1 y1 x2 y2`` over consecutive 1-based frames.
* **frame detections**: ``float[N, 8]``, rows
  ``video_index frame label score x1 y1 x2 y2``; ``video_index`` is the position in the evaluated
  video list, ``frame`` 1-based, ``label`` 0-based.
* **video detections**: ``{label: [(video_name, score, tube), ...]}`` with ``tube`` an
  ``(n, 5 or 6)`` array of rows ``frame x1 y1 x2 y2 [frame score]`` over consecutive frames.

Two presets (:data:`PRESETS`), each a combination of four switches (:class:`BoxAPPreset`):

=========  ==========================  ==========================  =================
switch     ``act`` (ACT / MOC, §B.2)   ``voc`` (TubeR / MMA, §B.3)  what it changes
=========  ==========================  ==========================  =================
geometry   inclusive (+1 pixel)        continuous                  box IoU
temporal   inclusive frame counts      exclusive                   tube IoU
matching   remove matched GT           flag matched GT (VOC)       TP / FP decision
ap         trapezoid, from (P=1, R=0)  all-point interpolation     AP from the PR curve
=========  ==========================  ==========================  =================

Conventions shared by both presets (and where they leave the references):

* Detections of a class are ranked by score, highest first; **ties keep the input order** (a
  stable sort; ACT's unstable ``argsort`` leaves it unspecified).
* A detection is a true positive (TP) when its IoU with the chosen GT reaches the threshold
  (``IoU >= t``).
* A class with no GT in the evaluated videos has AP ``None`` and is left out of the mean (ACT
  would divide by zero; the VOC variant skips it). No GT at all is an error.
* A class with GT but no detection has AP 0.
* 0/0 overlaps (the exclusive temporal IoU of two single-frame tubes on the same frame,
  continuous boxes of zero area) count as IoU 0.
* No non-maximum suppression is applied: ACT's per-frame NMS (IoU 0.3) on raw network output and
  its tube NMS are detector-side steps; give this module the detections you want scored.
* Inputs are never modified: everything that is sorted, matched or removed is a copy.

The pure functions (:func:`box_iou`, :func:`temporal_iou`, :func:`tube_iou`,
:func:`precision_recall`, :func:`ap_trapezoid`, :func:`ap_all_point`, :func:`ap_11_point`,
:func:`frame_ap`, :func:`video_ap`) are what tests call; :class:`ActEvaluator` reads the files for
``asl-run eval``.

References:
    Kalogeiton, Weinzaepfel, Ferrari, Schmid. "Action Tubelet Detector for Spatio-Temporal
    Action Localization" (ICCV 2017), arXiv:1705.01861 (the ``act`` conventions).
    Everingham et al. "The PASCAL Visual Object Classes (VOC) Challenge" (IJCV 2010) (all-point
    and 11-point AP).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from attrs import field, frozen
from attrs.validators import in_
from numpy.typing import ArrayLike

from asl_core import AslUsageError, ConfigError, Configurable

from . import safe_pickle
from .dataset import ActGroundTruth, DatasetError, load_act_gt

__all__ = [
    "PRESETS",
    "ActEvaluator",
    "BoxAPPreset",
    "ClassAPs",
    "EvalInputError",
    "ap_11_point",
    "ap_all_point",
    "ap_trapezoid",
    "box_iou",
    "frame_ap",
    "parse_thresholds",
    "precision_recall",
    "temporal_iou",
    "tube_iou",
    "video_ap",
]

Geometry = Literal["inclusive", "continuous"]
Temporal = Literal["inclusive", "exclusive"]

#: ``{threshold key: {"mAP": float, "per_class": {class name: AP or None}}}``
ClassAPs = dict[str, dict[str, Any]]

#: step of a threshold range written ``LO:HI`` (COCO's and ACT's 0.5:0.95)
DEFAULT_RANGE_STEP = 0.05

# frames are < 2**32, so (video index, frame) packs into one int64 key
_FRAME_BITS = 32


class EvalInputError(AslUsageError):
    """An input of the box evaluation (a file, an array, a threshold, a split) is unusable; the
    message names the input. A usage error: ``asl-run eval`` exits with status 2."""


# --------------------------------------------------------------------------- presets


@frozen
class BoxAPPreset:
    """One combination of the metric's conventions (specs §B.2, §B.3, §B.6 "one engine").

    Attributes:
        name: what reports call it.
        geometry: ``"inclusive"``: a box covers pixels ``x1..x2`` (width ``x2 - x1 + 1``);
            ``"continuous"``: width ``x2 - x1``.
        temporal: ``"inclusive"``: a tube spanning frames ``a..b`` lasts ``b - a + 1`` frames;
            ``"exclusive"``: ``b - a``.
        matching: ``"remove"``: a detection is compared with the GT boxes not matched yet, and a
            match removes its GT (ACT); ``"flag"``: it is compared with all GT boxes, takes the
            best one, and is a false positive when that one is already matched (VOC).
        ap: ``"trapezoid"`` (:func:`ap_trapezoid`), ``"all_point"`` (:func:`ap_all_point`) or
            ``"11_point"`` (:func:`ap_11_point`).
    """

    name: str
    geometry: Geometry = field(validator=in_(("inclusive", "continuous")))
    temporal: Temporal = field(validator=in_(("inclusive", "exclusive")))
    matching: Literal["remove", "flag"] = field(validator=in_(("remove", "flag")))
    ap: Literal["trapezoid", "all_point", "11_point"] = field(
        validator=in_(("trapezoid", "all_point", "11_point"))
    )


#: the built-in presets: ACT's reference conventions and the VOC-style variant
PRESETS: dict[str, BoxAPPreset] = {
    "act": BoxAPPreset("act", "inclusive", "inclusive", "remove", "trapezoid"),
    "voc": BoxAPPreset("voc", "continuous", "exclusive", "flag", "all_point"),
}


def _preset(preset: str | BoxAPPreset) -> BoxAPPreset:
    if isinstance(preset, BoxAPPreset):
        return preset
    if preset not in PRESETS:
        close = difflib.get_close_matches(str(preset), list(PRESETS), n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown box-AP preset {preset!r}{hint}; presets: {', '.join(PRESETS)}")
    return PRESETS[preset]


# --------------------------------------------------------------------------- overlaps


def box_iou(a: ArrayLike, b: ArrayLike, geometry: Geometry = "inclusive") -> np.ndarray:
    """Intersection over union of boxes ``x1, y1, x2, y2``, broadcast like numpy arrays.

    ``box_iou(a[:, None], b[None])`` gives the ``[N, M]`` matrix of ``a: [N, 4]`` against
    ``b: [M, 4]``; equal shapes give the element-wise IoUs.

    Args:
        a, b: ``float[..., 4]`` boxes.
        geometry: ``"inclusive"`` (ACT, specs §B.2): area ``(x2 - x1 + 1)(y2 - y1 + 1)``,
            intersection width ``max(0, min(x2) + 1 - max(x1))``; ``"continuous"`` (VOC variant,
            §B.3): area ``(x2 - x1)(y2 - y1)``, intersection width ``max(0, min(x2) - max(x1))``.

    Returns:
        ``float64[...]`` IoUs in ``[0, 1]``; a zero union (two zero-area boxes) gives 0.

    Example: ``[0, 0, 9, 9]`` against ``[5, 0, 14, 9]`` is 50/150 = 1/3 inclusive and
    36/126 = 2/7 continuous (specs §B.6).
    """
    if geometry not in ("inclusive", "continuous"):
        raise ValueError(f"geometry must be 'inclusive' or 'continuous', got {geometry!r}")
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    one = 1.0 if geometry == "inclusive" else 0.0
    iw = np.maximum(0.0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + one)
    ih = np.maximum(0.0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + one)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0] + one) * (a[..., 3] - a[..., 1] + one)
    area_b = (b[..., 2] - b[..., 0] + one) * (b[..., 3] - b[..., 1] + one)
    union = area_a + area_b - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return iou


def temporal_iou(
    first_a: float, last_a: float, first_b: float, last_b: float, temporal: Temporal = "inclusive"
) -> float:
    """Temporal IoU of two frame spans ``first..last`` (both ends included in the span).

    Args:
        first_a, last_a, first_b, last_b: frame numbers, ``first <= last``.
        temporal: ``"inclusive"`` (ACT, specs §B.2):
            ``(min(last) - max(first) + 1) / (max(last) - min(first) + 1)``; ``"exclusive"``
            (VOC variant, §B.3): ``(min(last) - max(first)) / (max(last) - min(first))``, so a
            one-frame overlap gives 0.

    Returns:
        The IoU in ``[0, 1]``; 0 when the spans do not overlap, and for the exclusive 0/0 of two
        equal single-frame spans.

    Example: frames 1..10 against 6..15 give 5/15 inclusive and 4/14 exclusive (specs §B.6).
    """
    if temporal not in ("inclusive", "exclusive"):
        raise ValueError(f"temporal must be 'inclusive' or 'exclusive', got {temporal!r}")
    one = 1.0 if temporal == "inclusive" else 0.0
    tmin, tmax = max(first_a, first_b), min(last_a, last_b)
    if tmax < tmin:
        return 0.0
    union = max(last_a, last_b) - min(first_a, first_b) + one
    return float((tmax - tmin + one) / union) if union > 0 else 0.0


def tube_iou(
    a: ArrayLike,
    b: ArrayLike,
    *,
    geometry: Geometry = "inclusive",
    temporal: Temporal = "inclusive",
) -> float:
    """Spatio-temporal IoU of two tubes (ACT's ``iou3dt``, specs §B.2): the temporal IoU times
    the mean box IoU over the frames both tubes cover.

    Args:
        a, b: ``float[n, >= 5]`` tubes, rows ``frame x1 y1 x2 y2 [...]`` over **consecutive,
            increasing** frames (extra columns, such as a per-frame score, are ignored).
        geometry: box convention of :func:`box_iou`.
        temporal: span convention of :func:`temporal_iou`.

    Returns:
        The tube IoU in ``[0, 1]``; 0 when the tubes share no frame or the temporal IoU is 0.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    fa, la, fb, lb = a[0, 0], a[-1, 0], b[0, 0], b[-1, 0]
    t_iou = temporal_iou(fa, la, fb, lb, temporal)
    if t_iou == 0.0:
        return 0.0
    tmin, tmax = max(fa, fb), min(la, lb)
    n = int(tmax - tmin) + 1
    rows_a = a[int(tmin - fa) : int(tmin - fa) + n, 1:5]
    rows_b = b[int(tmin - fb) : int(tmin - fb) + n, 1:5]
    return t_iou * float(np.mean(box_iou(rows_a, rows_b, geometry)))


# --------------------------------------------------------------------------- AP from a ranking


def precision_recall(tp: ArrayLike, num_positives: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall after each ranked detection.

    Args:
        tp: ``bool[N]``, detection ``i`` (in rank order) is a true positive.
        num_positives: number of GT instances (``> 0``).

    Returns:
        ``(precision, recall)``, both ``float64[N]``: ``tp_i / i`` and ``tp_i / num_positives``
        where ``tp_i`` counts the true positives among the first ``i`` detections.
    """
    hits = np.asarray(tp, dtype=bool).reshape(-1)
    if num_positives <= 0:
        raise ValueError(f"num_positives must be > 0, got {num_positives}")
    tps = np.cumsum(hits, dtype=np.float64)
    ranks = np.arange(1, hits.size + 1, dtype=np.float64)
    return tps / ranks, tps / float(num_positives)


def ap_trapezoid(precision: ArrayLike, recall: ArrayLike) -> float:
    """ACT's ``pr_to_ap`` (specs §B.2): area under the raw PR curve by the trapezoid rule.

    The curve starts at the point (precision 1, recall 0), then follows the detections; it is
    neither interpolated nor made monotone: ``sum((r[i+1] - r[i]) * (p[i+1] + p[i]) / 2)``.

    Args:
        precision, recall: ``float[N]`` from :func:`precision_recall` (without the start point).

    Returns:
        The AP; 0 without detections.

    Example: ranked TP, FP, TP over 2 GT give 19/24 = 0.7917 (specs §B.6).
    """
    p = np.concatenate([[1.0], np.asarray(precision, dtype=np.float64).reshape(-1)])
    r = np.concatenate([[0.0], np.asarray(recall, dtype=np.float64).reshape(-1)])
    return float(np.sum(np.diff(r) * (p[1:] + p[:-1]) / 2.0))


def ap_all_point(precision: ArrayLike, recall: ArrayLike) -> float:
    """VOC all-point interpolated AP (specs §B.3).

    Recall 0 / precision 0 is prepended and recall 1 / precision 0 appended; precision is made
    non-increasing from the right (each point takes the best precision at any higher recall);
    the AP is ``sum(delta recall * precision)`` over the points where recall changes.

    Args:
        precision, recall: ``float[N]`` from :func:`precision_recall`.

    Returns:
        The AP; 0 without detections.

    Example: ranked TP, FP, TP over 2 GT give 5/6 = 0.8333 (specs §B.6).
    """
    mrec = np.concatenate([[0.0], np.asarray(recall, dtype=np.float64).reshape(-1), [1.0]])
    mpre = np.concatenate([[0.0], np.asarray(precision, dtype=np.float64).reshape(-1), [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    changes = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[changes + 1] - mrec[changes]) * mpre[changes + 1]))


def ap_11_point(precision: ArrayLike, recall: ArrayLike) -> float:
    """VOC 2007 11-point AP: the mean over ``t = 0, 0.1, ..., 1`` of the best precision at a
    recall ``>= t`` (0 where no detection reaches ``t``).

    Args:
        precision, recall: ``float[N]`` from :func:`precision_recall`.

    Returns:
        The AP; 0 without detections.

    Example: ranked TP, FP, TP over 2 GT give 28/33 = 0.8485 (specs §B.6).
    """
    p = np.asarray(precision, dtype=np.float64).reshape(-1)
    r = np.asarray(recall, dtype=np.float64).reshape(-1)
    total = 0.0
    for t in np.linspace(0.0, 1.0, 11):
        reach = p[r >= t]
        total += float(reach.max()) if reach.size else 0.0
    return total / 11.0


_AP_FUNCTIONS = {"trapezoid": ap_trapezoid, "all_point": ap_all_point, "11_point": ap_11_point}


# --------------------------------------------------------------------------- thresholds


def _number(text: str, what: str, *, low_open: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise EvalInputError(f"{what}: {text!r} is not a number") from None
    if math.isnan(value) or not (value > 0.0 if low_open else value >= 0.0) or value > 1.0:
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise EvalInputError(f"{what}: {text!r} is not in {interval}")
    return value


def _threshold_range(token: str) -> tuple[str, tuple[float, ...]]:
    """``"LO:HI[:STEP]"`` → its key and its thresholds ``LO, LO + STEP, ..., HI``."""
    what = f"IoU range {token!r}"
    parts = token.split(":")
    if len(parts) not in (2, 3):
        raise EvalInputError(f"{what}: write LO:HI or LO:HI:STEP")
    lo = _number(parts[0], what)
    hi = _number(parts[1], what)
    step = _number(parts[2], what, low_open=True) if len(parts) == 3 else DEFAULT_RANGE_STEP
    if hi < lo:
        raise EvalInputError(f"{what}: LO must not exceed HI")
    count = (hi - lo) / step
    if abs(count - round(count)) > 1e-6:
        raise EvalInputError(f"{what}: {hi:g} - {lo:g} is not a whole number of {step:g} steps")
    # rounded so that 0.5 + 4 * 0.05 is the same double as the literal 0.7
    grid = tuple(round(lo + k * step, 10) for k in range(round(count) + 1))
    key = f"{lo:g}:{hi:g}" + ("" if step == DEFAULT_RANGE_STEP else f":{step:g}")
    return key, grid


def parse_thresholds(values: Iterable[float | str]) -> list[tuple[str, tuple[float, ...]]]:
    """IoU thresholds from numbers and range tokens.

    Args:
        values: numbers in ``[0, 1]`` (or their text) and range tokens ``"LO:HI"`` (step 0.05,
            so ``"0.5:0.95"`` is ``0.50, 0.55, ..., 0.95``, ACT's and COCO's average) or
            ``"LO:HI:STEP"``; ``HI - LO`` must be a whole number of steps.

    Returns:
        ``[(key, thresholds), ...]`` in the given order, repeats dropped: the key is ``"0.5"``
        for a number (``format(t, "g")``) and ``"0.5:0.95"`` for a range (``":STEP"`` added
        when it is not 0.05); a range's AP is the mean of the APs at its thresholds.

    Raises:
        EvalInputError: a value that is not a threshold in ``[0, 1]`` or a malformed range.
    """
    out: dict[str, tuple[float, ...]] = {}
    for value in values:
        if isinstance(value, str) and ":" in value:
            key, grid = _threshold_range(value.strip())
        elif isinstance(value, bool) or not isinstance(value, (str, int, float, np.number)):
            raise EvalInputError(f"IoU threshold {value!r} is not a number")
        else:
            t = _number(str(value), "IoU threshold")
            key, grid = format(t, "g"), (t,)
        out.setdefault(key, grid)
    if not out:
        raise EvalInputError("no IoU threshold given")
    return list(out.items())


# --------------------------------------------------------------------------- ground truth


@frozen
class _GT:
    """The evaluated ground truth, in the pickle's units (1-based frames), private copies.

    ``tubes[video][label]`` lists ``float64[n, 5]`` arrays; ``videos`` is the evaluated split.
    """

    labels: tuple[str, ...]
    videos: tuple[str, ...]
    nframes: dict[str, int]
    tubes: dict[str, dict[int, list[np.ndarray]]]


def _as_text(value: Any, what: str, source: str) -> str:
    if isinstance(value, bytes):
        return value.decode("latin1")
    if isinstance(value, str):
        return value
    raise EvalInputError(f"{source}: {what} must be a string, got {type(value).__name__}")


def _as_int(value: Any, what: str, source: str) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    raise EvalInputError(f"{source}: {what} must be an integer, got {value!r}")


def _split_index(split: int, count: int, source: str) -> int:
    if isinstance(split, bool) or not isinstance(split, (int, np.integer)):
        raise EvalInputError(f"split must be an integer 1..{count}, got {split!r}")
    if not 1 <= split <= count:
        raise EvalInputError(
            f"{source}: split {split} does not exist; test_videos holds {count} split(s) (1..{count})"
        )
    return int(split) - 1


def _gt_from_object(gt: ActGroundTruth, split: int) -> _GT:
    k = _split_index(split, len(gt.test_videos), gt.source)
    videos = tuple(gt.test_videos[k])
    tubes: dict[str, dict[int, list[np.ndarray]]] = {}
    for video in videos:
        per_label: dict[int, list[np.ndarray]] = {}
        for tube in gt.tubes.get(video, ()):
            rows = np.column_stack([tube.frames.astype(np.float64) + 1.0, tube.boxes])
            per_label.setdefault(tube.label, []).append(rows)
        tubes[video] = per_label
    return _GT(tuple(gt.labels), videos, dict(gt.nframes), tubes)


def _gt_tube(raw: Any, where: str, source: str) -> np.ndarray:
    try:
        arr = np.array(raw, dtype=np.float64)  # a copy: the caller's array is never touched
    except (TypeError, ValueError) as exc:
        raise EvalInputError(f"{source}: {where}: a tube is not a numeric array ({exc})") from None
    if arr.ndim != 2 or arr.shape[1] < 5 or arr.shape[0] == 0:
        raise EvalInputError(
            f"{source}: {where}: a tube must be an (n, 5) array, rows frame x1 y1 x2 y2; "
            f"got shape {arr.shape}"
        )
    _check_tube_rows(arr[:, :5], where, source)
    return arr[:, :5]


def _gt_from_mapping(gt: Mapping[str, Any], split: int, source: str) -> _GT:
    missing = [k for k in ("labels", "gttubes", "test_videos") if k not in gt]
    if missing:
        raise EvalInputError(f"{source}: missing key(s) {missing} of an ACT ground truth")
    labels = tuple(_as_text(v, "a label", source) for v in gt["labels"])
    splits = gt["test_videos"]
    if not isinstance(splits, (list, tuple)) or not splits:
        raise EvalInputError(f"{source}: test_videos must be a non-empty list of splits")
    k = _split_index(split, len(splits), source)
    videos = tuple(_as_text(v, "a video id", source) for v in splits[k])
    nframes = {
        _as_text(v, "a video id", source): _as_int(n, f"nframes of {v!r}", source)
        for v, n in dict(gt.get("nframes", {})).items()
    }
    gttubes = gt["gttubes"]
    if not isinstance(gttubes, Mapping):
        raise EvalInputError(f"{source}: gttubes must be a dict video -> label -> tubes")
    tubes: dict[str, dict[int, list[np.ndarray]]] = {}
    for video in videos:
        per_label: dict[int, list[np.ndarray]] = {}
        raw = gttubes.get(video, {})
        if not isinstance(raw, Mapping):
            raise EvalInputError(f"{source}: gttubes of video {video!r} must be a dict")
        for label_key, arrays in raw.items():
            label = _as_int(label_key, f"a label of video {video!r}", source)
            if not 0 <= label < len(labels):
                raise EvalInputError(
                    f"{source}: video {video!r}: label {label} is not in 0..{len(labels) - 1}"
                )
            if not isinstance(arrays, (list, tuple)):
                arrays = [arrays]
            where = f"video {video!r}, label {label}"
            per_label.setdefault(label, []).extend(_gt_tube(a, where, source) for a in arrays)
        tubes[video] = per_label
    return _GT(labels, videos, nframes, tubes)


def _evaluated_gt(gt: ActGroundTruth | Mapping[str, Any], split: int, source: str) -> _GT:
    if isinstance(gt, ActGroundTruth):
        out = _gt_from_object(gt, split)
    elif isinstance(gt, Mapping):
        out = _gt_from_mapping(gt, split, source)
    else:
        raise EvalInputError(
            f"{source}: the ground truth must be an ACT ground-truth dict, got {type(gt).__name__}"
        )
    if len(set(out.labels)) != len(out.labels):
        raise EvalInputError(f"{source}: class names repeat in labels")
    return out


def _check_tube_rows(arr: np.ndarray, where: str, source: str) -> None:
    """Finite values, integer consecutive increasing frames, ``x2 >= x1`` and ``y2 >= y1``."""
    if not np.isfinite(arr).all():
        raise EvalInputError(f"{source}: {where}: a tube holds NaN or infinite values")
    frames = arr[:, 0]
    if not np.array_equal(frames, np.round(frames)) or frames.min() < 1:
        raise EvalInputError(f"{source}: {where}: tube frame numbers must be integers >= 1")
    # tube IoU slices both tubes by their first frame, so a gap would pair the wrong boxes
    if frames.size > 1 and not np.all(np.diff(frames) == 1):
        raise EvalInputError(
            f"{source}: {where}: tube frames must be consecutive and increasing, got "
            f"{frames.astype(np.int64).tolist()[:8]}..."
        )
    _check_boxes(arr[:, 1:5], where, source)


def _check_boxes(boxes: np.ndarray, where: str, source: str) -> None:
    bad = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise EvalInputError(
            f"{source}: {where}: box {boxes[i].tolist()} has x2 < x1 or y2 < y1 "
            "(boxes are x1 y1 x2 y2, not x y w h)"
        )


# --------------------------------------------------------------------------- matching


def _tp_flags(
    n: int, groups: Sequence[tuple[np.ndarray, np.ndarray]], threshold: float, matching: str
) -> np.ndarray:
    """True positives of ``n`` ranked detections of one class at one threshold.

    Args:
        n: number of detections.
        groups: per key (a frame, or a video) that has GT: ``(positions, ious)``, the ranks of the
            key's detections in increasing order and their ``float64[k, m]`` IoUs with the key's
            ``m`` GT instances (GT in file order). Detections outside every group are FP.
        threshold: a detection needs ``IoU >= threshold``.
        matching: ``"remove"`` or ``"flag"`` (see :class:`BoxAPPreset`).

    Returns:
        ``bool[n]``. Matching state lives per key, so keys are matched independently; within a
        key the detections go in rank order and ``argmax`` ties go to the first GT.
    """
    tp = np.zeros(n, dtype=bool)
    for positions, ious in groups:
        if ious.shape[1] == 1:
            # one GT: under both rules the first detection reaching the threshold takes it and
            # every other detection of the key is a false positive
            hit = np.flatnonzero(ious[:, 0] >= threshold)
            if hit.size:
                tp[positions[hit[0]]] = True
            continue
        if matching == "remove":
            remaining = np.ones(ious.shape[1], dtype=bool)
            for pos, row in zip(positions, ious, strict=True):
                if not remaining.any():
                    break
                masked = np.where(remaining, row, -np.inf)
                j = int(np.argmax(masked))
                if masked[j] >= threshold:
                    tp[pos] = True
                    remaining[j] = False
        else:
            taken = np.zeros(ious.shape[1], dtype=bool)
            best = np.argmax(ious, axis=1)
            for pos, row, j in zip(positions, ious, best, strict=True):
                if row[j] >= threshold and not taken[j]:
                    tp[pos] = True
                    taken[j] = True
    return tp


def _rank(scores: np.ndarray) -> np.ndarray:
    """Indices by decreasing score; ties keep the input order."""
    return np.argsort(-scores, kind="stable")


def _class_results(
    thresholds: list[tuple[str, tuple[float, ...]]],
    gt: _GT,
    per_class: dict[int, tuple[int, list[tuple[np.ndarray, np.ndarray]], int]],
    preset: BoxAPPreset,
) -> ClassAPs:
    """Assemble ``{key: {"mAP", "per_class"}}`` from per-class ``(num_dets, groups, num_gt)``."""
    ap_fn = _AP_FUNCTIONS[preset.ap]
    with_gt = [c for c in range(len(gt.labels)) if per_class[c][2] > 0]
    if not with_gt:
        raise EvalInputError(
            "the evaluated videos hold no ground-truth instance of any class; check --split"
        )
    cache: dict[float, dict[int, float]] = {}
    for _, grid in thresholds:
        for t in grid:
            if t in cache:
                continue
            cache[t] = {}
            for c in with_gt:
                n, groups, npos = per_class[c]
                tp = _tp_flags(n, groups, t, preset.matching)
                cache[t][c] = ap_fn(*precision_recall(tp, npos))
    out: ClassAPs = {}
    for key, grid in thresholds:
        aps = {c: float(np.mean([cache[t][c] for t in grid])) for c in with_gt}
        out[key] = {
            "mAP": float(np.mean([aps[c] for c in with_gt])),
            "per_class": {name: aps.get(c) for c, name in enumerate(gt.labels)},
        }
    return out


# --------------------------------------------------------------------------- frame-AP


def _frame_dets(frame_dets: ArrayLike, gt: _GT, source: str) -> np.ndarray:
    try:
        dets = np.array(frame_dets, dtype=np.float64)  # a copy
    except (TypeError, ValueError) as exc:
        raise EvalInputError(
            f"{source}: frame detections must be a numeric array, rows video_index frame label "
            f"score x1 y1 x2 y2 ({exc})"
        ) from None
    if dets.size == 0:
        return np.zeros((0, 8))
    if dets.ndim != 2 or dets.shape[1] != 8:
        raise EvalInputError(
            f"{source}: frame detections must be an (N, 8) array, rows video_index frame label "
            f"score x1 y1 x2 y2; got shape {dets.shape}"
        )
    if not np.isfinite(dets).all():
        raise EvalInputError(f"{source}: frame detections hold NaN or infinite values")
    ids = dets[:, :3]
    if not np.array_equal(ids, np.round(ids)):
        raise EvalInputError(
            f"{source}: frame detections: video_index, frame and label (columns 0-2) must be "
            "integers"
        )
    for col, what, count, hint in (
        (0, "video_index", len(gt.videos), "its position in the evaluated test_videos split"),
        (2, "label", len(gt.labels), "the 0-based class index"),
    ):
        bad = (dets[:, col] < 0) | (dets[:, col] >= count)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise EvalInputError(
                f"{source}: frame detection row {i}: {what} {int(dets[i, col])} is not in "
                f"0..{count - 1} ({hint})"
            )
    frames = dets[:, 1]
    limits = np.array([gt.nframes.get(v, 2**31) for v in gt.videos], dtype=np.float64)
    bad = (frames < 1) | (frames > limits[dets[:, 0].astype(np.int64)])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        video = gt.videos[int(dets[i, 0])]
        raise EvalInputError(
            f"{source}: frame detection row {i}: frame {int(frames[i])} is outside video "
            f"{video!r} (frames are 1-based, 1..{gt.nframes.get(video, '?')})"
        )
    _check_boxes(dets[:, 4:8], "frame detections", source)
    return dets


def frame_ap(
    gt: ActGroundTruth | Mapping[str, Any],
    frame_dets: ArrayLike,
    thresholds: Iterable[float | str] = (0.5,),
    preset: str | BoxAPPreset = "act",
    *,
    split: int = 1,
    source: str = "frame detections",
) -> ClassAPs:
    """Frame-AP per class and its mean (specs §B.2 ``frameAP``, §B.3).

    Per class ``c``: the GT instances are the boxes of every frame of every tube of class ``c``
    in the evaluated videos, keyed by ``(video, frame)``; the class's detections go in score order
    and each is compared with the GT boxes of its own key (the preset's matching rule), a key
    without (remaining) GT making it a false positive. The AP comes from the ranked TP flags.

    Args:
        gt: the ACT ground truth (dict or :class:`ActGroundTruth`); never modified.
        frame_dets: ``float[N, 8]`` rows ``video_index frame label score x1 y1 x2 y2``
            (``video_index`` into ``test_videos[split - 1]``, 1-based frames); never modified.
        thresholds: IoU thresholds and ranges (see :func:`parse_thresholds`).
        preset: ``"act"``, ``"voc"`` or a :class:`BoxAPPreset`.
        split: 1-based split; the evaluated videos are ``test_videos[split - 1]``.
        source: what to call the detections in messages (the CLI passes the file name).

    Returns:
        ``{key: {"mAP": float, "per_class": {class name: float or None}}}`` in threshold order;
        a range's values are means over its thresholds. ``None``: no GT of that class in the
        evaluated videos (left out of the mean).

    Raises:
        EvalInputError: malformed detections (wrong shape, non-integer ids, a video index, label
            or frame out of range, inverted boxes), a missing split, no GT at all.
        ConfigError: an unknown preset name.
    """
    p = _preset(preset)
    grid = parse_thresholds(thresholds)
    g = _evaluated_gt(gt, split, "ground truth")
    dets = _frame_dets(frame_dets, g, source)
    per_class: dict[int, tuple[int, list[tuple[np.ndarray, np.ndarray]], int]] = {}
    # GT boxes per class and key, in tube order then frame order
    gt_boxes: dict[int, dict[int, list[np.ndarray]]] = {c: {} for c in range(len(g.labels))}
    for v, video in enumerate(g.videos):
        for label, tubes in g.tubes[video].items():
            keys = gt_boxes[label]
            for tube in tubes:
                for row in tube:
                    keys.setdefault((v << _FRAME_BITS) + int(row[0]), []).append(row[1:5])
    for c in range(len(g.labels)):
        mine = dets[dets[:, 2] == c]
        ranked = mine[_rank(mine[:, 3])]
        codes = (ranked[:, 0].astype(np.int64) << _FRAME_BITS) + ranked[:, 1].astype(np.int64)
        by_key = np.argsort(codes, kind="stable")  # grouped by key, rank order inside a key
        uniq, starts = np.unique(codes[by_key], return_index=True)
        ends = np.append(starts[1:], by_key.size)[: starts.size]
        groups = []
        keys = gt_boxes[c]
        for code, s, e in zip(uniq.tolist(), starts.tolist(), ends.tolist(), strict=True):
            boxes = keys.get(code)
            if boxes is None:
                continue
            positions = by_key[s:e]
            ious = box_iou(ranked[positions][:, None, 4:8], np.asarray(boxes)[None], p.geometry)
            groups.append((positions, ious))
        npos = sum(len(b) for b in keys.values())
        per_class[c] = (ranked.shape[0], groups, npos)
    return _class_results(grid, g, per_class, p)


# --------------------------------------------------------------------------- video-AP


def _video_dets(
    video_dets: Any, gt: _GT, source: str
) -> dict[int, list[tuple[str, float, np.ndarray]]]:
    if not isinstance(video_dets, Mapping):
        raise EvalInputError(
            f"{source}: video detections must be a dict label -> [(video, score, tube), ...], "
            f"got {type(video_dets).__name__}"
        )
    known = set(gt.videos)
    out: dict[int, list[tuple[str, float, np.ndarray]]] = {}
    for label_key, entries in video_dets.items():
        label = _as_int(label_key, "a label (dict key)", source)
        if not 0 <= label < len(gt.labels):
            raise EvalInputError(
                f"{source}: label {label} is not in 0..{len(gt.labels) - 1} ({len(gt.labels)} classes)"
            )
        if not isinstance(entries, (list, tuple)):
            raise EvalInputError(
                f"{source}: label {label}: expected a list of (video, score, tube), got "
                f"{type(entries).__name__}"
            )
        checked = out.setdefault(label, [])
        for i, entry in enumerate(entries):
            where = f"label {label}, entry {i}"
            if not isinstance(entry, (list, tuple)) or len(entry) != 3:
                raise EvalInputError(f"{source}: {where}: expected (video, score, tube)")
            video = _as_text(entry[0], f"{where}: the video", source)
            if video not in known:
                raise EvalInputError(
                    f"{source}: {where}: video {video!r} is not in the evaluated test_videos "
                    "split (see --split)"
                )
            try:
                score = float(entry[1])
            except (TypeError, ValueError):
                raise EvalInputError(f"{source}: {where}: the score is not a number") from None
            if not math.isfinite(score):
                raise EvalInputError(f"{source}: {where}: the score is not finite")
            try:
                tube = np.array(entry[2], dtype=np.float64)  # a copy
            except (TypeError, ValueError):
                raise EvalInputError(
                    f"{source}: {where}: the tube is not a numeric array"
                ) from None
            if tube.ndim != 2 or tube.shape[1] not in (5, 6) or tube.shape[0] == 0:
                raise EvalInputError(
                    f"{source}: {where}: a tube must be an (n, 5) or (n, 6) array, rows frame x1 "
                    f"y1 x2 y2 [score]; got shape {tube.shape}"
                )
            _check_tube_rows(tube[:, :5], f"{where} (video {video!r})", source)
            checked.append((video, score, tube[:, :5]))
    return out


def video_ap(
    gt: ActGroundTruth | Mapping[str, Any],
    video_dets: Mapping[Any, Sequence[tuple[str, float, ArrayLike]]],
    thresholds: Iterable[float | str] = (0.5,),
    preset: str | BoxAPPreset = "act",
    *,
    split: int = 1,
    source: str = "video detections",
) -> ClassAPs:
    """Video-AP per class and its mean (specs §B.2 ``videoAP``, §B.3).

    Per class ``c``: the GT instances are the tubes of class ``c`` in each evaluated video; the
    class's detected tubes go in score order and each is compared (:func:`tube_iou`, preset
    conventions) with the GT tubes of its own video under the preset's matching rule.

    Args:
        gt: the ACT ground truth (dict or :class:`ActGroundTruth`); never modified (ACT's own
            ``videoAP`` deletes matched tubes from the loaded GT, specs §A.1).
        video_dets: ``{label: [(video, score, tube), ...]}``, ``tube`` ``float[n, 5 or 6]`` rows
            ``frame x1 y1 x2 y2 [score]`` over consecutive frames; never modified.
        thresholds: IoU thresholds and ranges (see :func:`parse_thresholds`).
        preset: ``"act"``, ``"voc"`` or a :class:`BoxAPPreset`.
        split: 1-based split; the evaluated videos are ``test_videos[split - 1]``.
        source: what to call the detections in messages.

    Returns:
        As :func:`frame_ap`.

    Raises:
        EvalInputError: malformed detections (not a dict, bad entries, a video outside the
            evaluated split, gaps in a tube's frames, inverted boxes), a missing split, no GT.
        ConfigError: an unknown preset name.
    """
    p = _preset(preset)
    grid = parse_thresholds(thresholds)
    g = _evaluated_gt(gt, split, "ground truth")
    dets = _video_dets(video_dets, g, source)
    per_class: dict[int, tuple[int, list[tuple[np.ndarray, np.ndarray]], int]] = {}
    for c in range(len(g.labels)):
        entries = dets.get(c, [])
        scores = np.array([e[1] for e in entries], dtype=np.float64)
        ranked = [entries[i] for i in _rank(scores)]
        by_video: dict[str, list[int]] = {}
        for pos, (video, _, _) in enumerate(ranked):
            by_video.setdefault(video, []).append(pos)
        groups = []
        for video, positions in by_video.items():
            gt_tubes = g.tubes[video].get(c, [])
            if not gt_tubes:
                continue
            ious = np.array(
                [
                    [
                        tube_iou(ranked[pos][2], t, geometry=p.geometry, temporal=p.temporal)
                        for t in gt_tubes
                    ]
                    for pos in positions
                ]
            )
            groups.append((np.array(positions, dtype=np.int64), ious))
        npos = sum(len(g.tubes[v].get(c, [])) for v in g.videos)
        per_class[c] = (len(ranked), groups, npos)
    return _class_results(grid, g, per_class, p)


# --------------------------------------------------------------------------- the evaluator


def _read_pickle(path: Path, what: str) -> Any:
    try:
        return safe_pickle.load(path)
    except FileNotFoundError:
        raise EvalInputError(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise EvalInputError(f"{path}: is a folder; expected a {what} pickle") from None
    except OSError as exc:
        raise EvalInputError(f"{path}: cannot read the {what} file ({exc})") from None
    except safe_pickle.UnsafePickleError as exc:
        raise EvalInputError(f"{exc} ({what} file)") from None


def _parse_split(split: str | int | None) -> int:
    if split is None:
        return 1
    try:
        return int(str(split).strip())
    except ValueError:
        raise EvalInputError(
            f"--split {split!r}: give the 1-based split number (test_videos[K-1])"
        ) from None


class ActEvaluator(Configurable):
    """Frame-AP and video-AP of detection files in the ACT formats (``asl-run eval``).

    No parameters. Files are untrusted: every pickle goes through the restricted unpickler of
    :mod:`.safe_pickle` (numpy arrays and builtin containers only).

    Example::

        result = ActEvaluator().evaluate_files(
            Path("JHMDB-GT.pkl"), Path("frame_dets.pkl"), None,
            preset="act", thresholds=[0.5, "0.5:0.95"], split=None,
        )
        result["frame_ap"]["0.5"]["mAP"]
    """

    presets: tuple[str, ...] = tuple(PRESETS)

    def evaluate_files(
        self,
        gt: Path,
        frame_dets: Path | None,
        video_dets: Path | None,
        *,
        preset: str,
        thresholds: Sequence[float | str],
        split: str | None,
    ) -> dict[str, ClassAPs]:
        """Evaluate detection files against an ACT ground-truth pickle.

        Args:
            gt: the ACT ground-truth pickle (specs §A.1).
            frame_dets: a pickle of the ``float[N, 8]`` frame-detection array, or ``None``.
            video_dets: a pickle of ``{label: [(video, score, tube), ...]}``, or ``None``.
            preset: ``"act"`` or ``"voc"``.
            thresholds: numbers and range tokens (:func:`parse_thresholds`).
            split: the 1-based split as text (``None``: 1, i.e. ``test_videos[0]``).

        Returns:
            ``{"frame_ap": ClassAPs, "video_ap": ClassAPs}``, each key only when its detections
            were given.

        Raises:
            EvalInputError: a file that is missing, not a pickle, truncated, unsafe (names a
                global outside the allow-list: refused, nothing is called) or of the wrong
                structure; no detection file; a bad split or threshold. Messages name the file.
            ConfigError: an unknown preset.
        """
        p = _preset(preset)
        grid = parse_thresholds(thresholds)
        k = _parse_split(split)
        if frame_dets is None and video_dets is None:
            raise EvalInputError(
                "nothing to evaluate: give frame detections, video detections or both"
            )
        try:
            truth = load_act_gt(gt, clip_boxes=False)
        except DatasetError as exc:
            text = str(exc)
            suffix = "" if text.startswith("ground-truth file") else " (ground-truth file)"
            raise EvalInputError(text + suffix) from None
        _split_index(k, len(truth.test_videos), str(gt))
        tokens = [key for key, _ in grid]
        out: dict[str, ClassAPs] = {}
        if frame_dets is not None:
            raw = _read_pickle(Path(frame_dets), "frame-detection")
            if isinstance(raw, Mapping):
                raise EvalInputError(
                    f"{frame_dets}: holds a dict; frame detections are one (N, 8) array "
                    "(a dict label -> tubes is video detections: --video-dets)"
                )
            out["frame_ap"] = frame_ap(truth, raw, tokens, p, split=k, source=str(frame_dets))
        if video_dets is not None:
            raw = _read_pickle(Path(video_dets), "video-detection")
            out["video_ap"] = video_ap(truth, raw, tokens, p, split=k, source=str(video_dets))
        return out
