"""VideoCapsuleNet-style localisation metric: per-class f-mAP and v-mAP over pixel IoU.

This is the metric family behind the paper's reported f-mAP / v-mAP (reference specs §B.1 item 2,
§B.5). It is *not* box-detection AP (no scores, no precision/recall, no matching; spec §B.1 says
not to mix the two). Per test video, with one ground-truth (GT) class label per video:

* a frame counts only if its GT mask is non-empty; then ``inter = #(pred & gt)``,
  ``union = #(pred | gt)`` and ``IoU_f = inter / union``. Frames without GT are ignored entirely,
  so false alarms on them are not penalised;
* the video IoU is ``sum(inter) / sum(union)`` over the video's GT frames, which is *not* the mean
  of its frame IoUs;
* for the 20 thresholds ``tau = 0, 0.05, ..., 0.95``: ``fAP[c, tau]`` is the fraction of GT
  frames of class ``c`` with ``IoU_f >= tau``, ``vAP[c, tau]`` the fraction of videos of class
  ``c`` with video IoU ``>= tau``; f-mAP / v-mAP are their means over classes;
* the video classification accuracy (reported alongside, never used by the mAPs) is the fraction
  of videos whose predicted label equals the GT label.

Conventions chosen here (the reference leaves them open):

* Classes with no GT frame (no GT video) get ``NaN`` in the per-class tables and are left out of
  the class mean, so a class absent from the test split neither counts as 0 nor as 1. If no class
  has data, the mean is ``NaN``.
* A video with no GT frame at all has no video IoU (0/0): it is left out of v-mAP but still counts
  for the accuracy.
* Comparisons ``IoU >= tau`` are exact for IoUs that equal a threshold as a fraction (``1/2``,
  ``3/20``...): both sides are the correctly rounded double of the same rational.

The pure functions (:func:`frame_inter_union`, :func:`video_iou`, :func:`localization_ap`,
:func:`localization_map`...) are the metric's functional twin; :class:`LocalizationMetric` is the
bounded-memory accumulator (style guide R16) used during evaluation.

References:
    Duarte, Rawat, Shah. "VideoCapsuleNet" (NeurIPS 2018), arXiv:1805.08162.
    Rana, Rawat. "Are all Frames Equal? Active Sparse Labeling for Video Action Detection"
    (NeurIPS 2022).
"""

from __future__ import annotations

import operator
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "PROMINENT_THRESHOLDS",
    "THRESHOLDS",
    "LocalizationMetric",
    "frame_inter_union",
    "frame_ious",
    "localization_ap",
    "localization_map",
    "summarize",
    "threshold_counts",
    "threshold_key",
    "video_accuracy",
    "video_iou",
]

#: The 20 IoU thresholds ``0, 0.05, ..., 0.95`` of spec §B.5 (read-only ``float64[20]``).
THRESHOLDS: np.ndarray = np.round(np.arange(20) * 0.05, 2)
THRESHOLDS.setflags(write=False)

#: The thresholds the paper reports (index 10 and, for PI-style tables, index 4).
PROMINENT_THRESHOLDS: tuple[float, ...] = (0.5, 0.2)


def threshold_key(tau: float) -> str:
    """Format a threshold for a result key: Python's shortest repr (``"0.0"``, ``"0.05"``, ``"0.5"``).

    ``compute()`` keys are ``f"f-mAP@{threshold_key(tau)}"``, e.g. ``"f-mAP@0.5"``,
    ``"v-mAP@0.2"``, ``"f-mAP@0.0"``, ``"v-mAP@0.95"``.
    """
    return repr(float(tau))


# --------------------------------------------------------------------------- per-frame counts


def frame_inter_union(
    pred: ArrayLike, gt: ArrayLike, *, threshold: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame pixel intersection, union and GT presence of a predicted and a GT mask volume.

    Args:
        pred: ``[F, H, W]`` (any number of trailing spatial axes). A boolean array is used as
            the binary prediction; any other dtype is binarised as ``pred >= threshold`` (spec
            §B.5 step 2: sigmoid probability ``>= 0.5``). For raw logits pass ``threshold=0.0``
            (``logit >= 0`` iff ``sigmoid(logit) >= 0.5``).
        gt: GT mask volume of the same shape; non-boolean values are foreground when ``> 0``
            (JHMDB puppet masks are uint8 0/1).
        threshold: binarisation threshold for non-boolean ``pred``. Defaults to 0.5.

    Returns:
        ``(inter, union, has_gt)``: ``int64[F]``, ``int64[F]``, ``bool[F]``. Frames with
        ``has_gt == False`` are to be ignored by the metric.

    Raises:
        ValueError: if the shapes differ or the volume has fewer than 2 axes.
    """
    p = np.asarray(pred)
    g = np.asarray(gt)
    if p.shape != g.shape:
        raise ValueError(f"pred and gt shapes differ: {p.shape} vs {g.shape}")
    if p.ndim < 2:
        raise ValueError(f"expected a [F, H, W] volume, got shape {p.shape}")
    if p.dtype != np.bool_:
        p = p >= threshold
    if g.dtype != np.bool_:
        g = g > 0
    axes = tuple(range(1, p.ndim))
    inter = np.count_nonzero(p & g, axis=axes).astype(np.int64)
    union = np.count_nonzero(p | g, axis=axes).astype(np.int64)
    has_gt = np.any(g, axis=axes)
    return inter, union, has_gt


def _check_counts(
    inter: ArrayLike, union: ArrayLike, has_gt: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate per-frame counts; return ``int64[F], int64[F], bool[F]`` copies."""
    i = np.asarray(inter)
    u = np.asarray(union)
    h = np.asarray(has_gt)
    if i.ndim != 1 or i.shape != u.shape or i.shape != h.shape:
        raise ValueError(
            f"inter, union, has_gt must be 1-D of equal length, got {i.shape}, {u.shape}, {h.shape}"
        )
    if i.size and (i.dtype.kind not in "iu" or u.dtype.kind not in "iu"):
        raise ValueError(f"inter and union must be integer pixel counts, got {i.dtype}, {u.dtype}")
    if h.size and h.dtype != np.bool_:
        raise ValueError(f"has_gt must be boolean, got {h.dtype}")
    i = i.astype(np.int64)
    u = u.astype(np.int64)
    h = h.astype(np.bool_)
    # only GT frames enter the metric; their union contains the (non-empty) GT, so it is >= 1
    if np.any(i[h] < 0) or np.any(i[h] > u[h]) or np.any(u[h] < 1):
        raise ValueError("need 0 <= inter <= union and union >= 1 on frames with GT")
    return i, u, h


def frame_ious(inter: ArrayLike, union: ArrayLike, has_gt: ArrayLike) -> np.ndarray:
    """IoU of each GT frame, ``inter / union`` (spec §B.5 step 4).

    Args:
        inter, union: ``int[F]`` pixel counts, e.g. from :func:`frame_inter_union`.
        has_gt: ``bool[F]``; frames without GT are dropped.

    Returns:
        ``float64[n_gt]``: the IoUs of the GT frames, in frame order.
    """
    i, u, h = _check_counts(inter, union, has_gt)
    return i[h] / u[h]


def video_iou(inter: ArrayLike, union: ArrayLike, has_gt: ArrayLike) -> float:
    """Video IoU: ``sum(inter) / sum(union)`` over the GT frames (spec §B.5 step 5).

    This pools pixels, so large frames weigh more than small ones; it is not the mean of the
    frame IoUs.

    Returns:
        The video IoU in ``[0, 1]``, or ``NaN`` when the video has no GT frame.
    """
    i, u, h = _check_counts(inter, union, has_gt)
    return _ratio(int(i[h].sum()), int(u[h].sum()))


def _ratio(inter_sum: int, union_sum: int) -> float:
    # Python int division is correctly rounded, so one-shot and streamed sums give the same float
    return inter_sum / union_sum if union_sum > 0 else float("nan")


def threshold_counts(ious: ArrayLike) -> np.ndarray:
    """How many IoUs reach each threshold: ``counts[t] = #(ious >= THRESHOLDS[t])``.

    Args:
        ious: ``float[n]`` IoU values (NaN entries never reach a threshold).

    Returns:
        ``int64[20]``, non-increasing.
    """
    v = np.sort(np.asarray(ious, dtype=np.float64).ravel())
    v = v[~np.isnan(v)]
    # #(v >= tau) = n - #(v < tau); side="left" counts exactly the values strictly below tau
    return (v.size - np.searchsorted(v, THRESHOLDS, side="left")).astype(np.int64)


# --------------------------------------------------------------------------- pure metric


def localization_ap(
    frame_ious: ArrayLike,
    frame_labels: ArrayLike,
    video_ious: ArrayLike,
    video_labels: ArrayLike,
    num_classes: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class frame and video AP tables (spec §B.5 step 6).

    Args:
        frame_ious: ``float[N]`` IoU of every GT frame of every video (:func:`frame_ious`).
        frame_labels: ``int[N]`` GT class of each of those frames (its video's label).
        video_ious: ``float[V]`` video IoU of every video (:func:`video_iou`); ``NaN`` entries
            (videos without a GT frame) are skipped.
        video_labels: ``int[V]`` GT class of each video.
        num_classes: ``C``.

    Returns:
        ``(fap, vap)``, each ``float64[C, 20]``: ``fap[c, t]`` = fraction of class-``c`` GT frames
        with IoU ``>= THRESHOLDS[t]``, ``vap`` the same over videos. Rows of classes with no
        frame (no video) are ``NaN``.

    Raises:
        ValueError: on mismatched lengths or labels outside ``[0, C)``.
    """
    return (
        _per_class_ap(frame_ious, frame_labels, num_classes, "frame"),
        _per_class_ap(video_ious, video_labels, num_classes, "video"),
    )


def _per_class_ap(ious: ArrayLike, labels: ArrayLike, num_classes: int, what: str) -> np.ndarray:
    v = np.asarray(ious, dtype=np.float64).ravel()
    lab = _labels(labels, num_classes, v.size, what)
    out = np.full((num_classes, THRESHOLDS.size), np.nan)
    keep = ~np.isnan(v)
    for c in range(num_classes):
        sel = v[keep & (lab == c)]
        if sel.size:
            out[c] = np.count_nonzero(sel[:, None] >= THRESHOLDS[None, :], axis=0) / sel.size
    return out


def _labels(labels: ArrayLike, num_classes: int, size: int, what: str) -> np.ndarray:
    lab = np.asarray(labels).ravel()
    if lab.size != size:
        raise ValueError(f"{size} {what} IoUs but {lab.size} {what} labels")
    if lab.size and (lab.dtype.kind not in "iu" or lab.min() < 0 or lab.max() >= num_classes):
        raise ValueError(f"{what} labels must be integers in [0, {num_classes})")
    return lab.astype(np.int64)


def video_accuracy(gt_labels: ArrayLike, pred_labels: ArrayLike) -> float:
    """Fraction of videos whose predicted label equals the GT label (``NaN`` with no video)."""
    g = np.asarray(gt_labels).ravel()
    p = np.asarray(pred_labels).ravel()
    if g.shape != p.shape:
        raise ValueError(f"{g.size} GT labels but {p.size} predicted labels")
    return float(np.mean(g == p)) if g.size else float("nan")


def _class_mean(table: np.ndarray) -> np.ndarray:
    """Mean over the classes that have data (non-NaN rows); NaN where no class has any."""
    rows = table[~np.isnan(table[:, 0])]
    return rows.mean(axis=0) if rows.shape[0] else np.full(table.shape[1], np.nan)


def summarize(fap: np.ndarray, vap: np.ndarray, accuracy: float = float("nan")) -> dict[str, float]:
    """Turn per-class tables into the flat result dict of :meth:`LocalizationMetric.compute`.

    Keys, in this order (all values are fractions in ``[0, 1]``, or ``NaN`` without data):

    * ``"f-mAP@0.5"``, ``"v-mAP@0.5"``, ``"f-mAP@0.2"``, ``"v-mAP@0.2"`` — the paper's numbers;
    * ``"accuracy"`` — video classification accuracy;
    * ``"f-mAP@0.5:0.95"``, ``"v-mAP@0.5:0.95"`` — mean over the 10 thresholds 0.5..0.95 (the
      ACT/MOC/COCO-style summary). There is deliberately no bare ``"f-mAP"`` key: in the paper
      "f-mAP" means f-mAP@0.5, and a bare key would be ambiguous;
    * ``"f-mAP@<tau>"`` and ``"v-mAP@<tau>"`` for all 20 thresholds (:func:`threshold_key`).

    Args:
        fap, vap: ``float[C, 20]`` from :func:`localization_ap` (NaN rows = classes without data).
        accuracy: video classification accuracy. Defaults to NaN (no predictions).
    """
    f = _class_mean(np.asarray(fap, dtype=np.float64))
    v = _class_mean(np.asarray(vap, dtype=np.float64))
    out: dict[str, float] = {}
    for tau in PROMINENT_THRESHOLDS:
        t = int(np.flatnonzero(tau == THRESHOLDS)[0])
        out[f"f-mAP@{threshold_key(tau)}"] = float(f[t])
        out[f"v-mAP@{threshold_key(tau)}"] = float(v[t])
    out["accuracy"] = float(accuracy)
    high = THRESHOLDS >= 0.5
    out["f-mAP@0.5:0.95"] = float(f[high].mean())
    out["v-mAP@0.5:0.95"] = float(v[high].mean())
    for t, tau in enumerate(THRESHOLDS):
        out.setdefault(f"f-mAP@{threshold_key(tau)}", float(f[t]))
        out.setdefault(f"v-mAP@{threshold_key(tau)}", float(v[t]))
    return out


def localization_map(
    frame_ious: ArrayLike,
    frame_labels: ArrayLike,
    video_ious: ArrayLike,
    video_labels: ArrayLike,
    num_classes: int,
    pred_labels: ArrayLike | None = None,
) -> dict[str, float]:
    """The whole metric in one call: the pure-function twin of :class:`LocalizationMetric`.

    Args:
        frame_ious, frame_labels, video_ious, video_labels, num_classes: as in
            :func:`localization_ap`. ``video_labels`` lists every video, including those whose
            ``video_ious`` entry is NaN (no GT frame), because they count for the accuracy.
        pred_labels: ``int[V]`` predicted class of each video, aligned with ``video_labels``;
            ``None`` gives ``accuracy = NaN``.

    Returns:
        The dict described in :func:`summarize`.
    """
    fap, vap = localization_ap(frame_ious, frame_labels, video_ious, video_labels, num_classes)
    acc = float("nan") if pred_labels is None else video_accuracy(video_labels, pred_labels)
    return summarize(fap, vap, acc)


# --------------------------------------------------------------------------- accumulator


@dataclass
class _OpenVideo:
    """Running sums of a video whose clips are still arriving (a few integers, never masks)."""

    label: int
    inter: int = 0
    union: int = 0


class LocalizationMetric:
    """Bounded-memory accumulator of the VCN-style f-mAP / v-mAP and video accuracy (spec §B.5).

    State (style guide R16, sufficient statistics only, never masks): for each class, the number
    of GT frames and, per threshold, how many of them reach it (``int64[C, 20]``); the same for
    videos; the accuracy counters; and for each *open* streamed video its label and two running
    pixel sums. Memory is ``O(C * 20 + open videos)`` whatever the number or length of videos.

    Two ways to feed it:

    * one call per whole video: :meth:`update` (mask volumes) or :meth:`update_counts`
      (per-frame ``inter, union, has_gt``);
    * streaming, for long videos evaluated clip by clip: any number of :meth:`update_clip`
      (masks) / :meth:`update_frames` (counts) calls under one ``video_key``, then
      :meth:`end_video` with the predicted label. Frame statistics are final as soon as a frame
      arrives (a frame's IoU does not depend on other frames), so each call folds its frames into
      the frame tables at once and only adds its pixel sums to the open video; ``end_video``
      turns the sums into the video IoU. The result is identical to one whole-video call, as long
      as every frame is reported exactly once (e.g. the VCN clip layout of spec §B.5 step 1,
      where each frame lands in one clip and padding frames have empty GT). Open videos may be
      interleaved; a key closed by ``end_video`` may be reused and then names a new video.

    Example::

        metric = LocalizationMetric(num_classes=24)
        for clip_pred, clip_gt in clips_of(video):           # bool[8, H, W] each
            metric.update_clip(video.name, video.label, clip_pred, clip_gt)
        metric.end_video(video.name, pred_label=predicted_class)
        metric.compute()["f-mAP@0.5"]

    Args:
        num_classes: ``C``, the number of action classes (labels are ``0..C-1``).
    """

    def __init__(self, num_classes: int) -> None:
        num_classes = operator.index(num_classes)
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.reset()

    @property
    def thresholds(self) -> np.ndarray:
        """The 20 thresholds, :data:`THRESHOLDS`."""
        return THRESHOLDS

    @property
    def open_videos(self) -> tuple[Hashable, ...]:
        """Keys of streamed videos not yet closed with :meth:`end_video`."""
        return tuple(self._open)

    def reset(self) -> None:
        """Forget everything, including open streamed videos."""
        c, t = self.num_classes, THRESHOLDS.size
        self._frame_hits = np.zeros((c, t), dtype=np.int64)
        self._frame_total = np.zeros(c, dtype=np.int64)
        self._video_hits = np.zeros((c, t), dtype=np.int64)
        self._video_total = np.zeros(c, dtype=np.int64)
        self._num_predicted = 0
        self._num_correct = 0
        self._open: dict[Hashable, _OpenVideo] = {}

    # -- whole videos

    def update(
        self,
        gt_label: int,
        pred_label: int | None,
        pred: ArrayLike,
        gt: ArrayLike,
        *,
        threshold: float = 0.5,
    ) -> None:
        """Add one whole video from its mask volumes.

        Args:
            gt_label: the video's GT class.
            pred_label: the predicted class, or ``None`` to leave the video out of the accuracy.
            pred, gt, threshold: as in :func:`frame_inter_union` (``[F, H, W]``).
        """
        self.update_counts(gt_label, pred_label, *frame_inter_union(pred, gt, threshold=threshold))

    def update_counts(
        self,
        gt_label: int,
        pred_label: int | None,
        inter: ArrayLike,
        union: ArrayLike,
        has_gt: ArrayLike,
    ) -> None:
        """Add one whole video from per-frame counts (``int[F], int[F], bool[F]``)."""
        label = self._class(gt_label, "gt_label")
        pred = self._pred(pred_label)
        i, u = self._fold_frames(label, inter, union, has_gt)
        self._close(label, pred, i, u)

    # -- streaming

    def update_frames(
        self,
        video_key: Hashable,
        gt_label: int,
        inter: ArrayLike,
        union: ArrayLike,
        has_gt: ArrayLike,
    ) -> None:
        """Add some frames (e.g. one clip) of a streamed video from per-frame counts.

        Args:
            video_key: any hashable naming the video until :meth:`end_video`.
            gt_label: the video's GT class; must be the same in every call for the video.
            inter, union, has_gt: ``int[n], int[n], bool[n]`` for the new frames.

        Raises:
            ValueError: if ``gt_label`` differs from an earlier call for the same video, or the
                counts are invalid. The state is unchanged when it raises.
        """
        label = self._class(gt_label, "gt_label")
        video = self._open.get(video_key)
        if video is not None and video.label != label:
            raise ValueError(
                f"video {video_key!r} was opened with gt_label {video.label}, got {label}"
            )
        i, u = self._fold_frames(label, inter, union, has_gt)
        video = self._open.setdefault(video_key, _OpenVideo(label))
        video.inter += i
        video.union += u

    def update_clip(
        self,
        video_key: Hashable,
        gt_label: int,
        pred: ArrayLike,
        gt: ArrayLike,
        *,
        threshold: float = 0.5,
    ) -> None:
        """Add one clip (``[n, H, W]`` masks) of a streamed video; see :meth:`update_frames`."""
        self.update_frames(video_key, gt_label, *frame_inter_union(pred, gt, threshold=threshold))

    def end_video(self, video_key: Hashable, pred_label: int | None) -> None:
        """Close a streamed video: add its video IoU and its classification outcome.

        Args:
            video_key: the key used in :meth:`update_frames` / :meth:`update_clip`.
            pred_label: the predicted class, or ``None`` to leave the video out of the accuracy.

        Raises:
            KeyError: if no frames were streamed under ``video_key`` (or it was already closed).
        """
        pred = self._pred(pred_label)
        try:
            video = self._open.pop(video_key)
        except KeyError:
            raise KeyError(
                f"no open video {video_key!r}: stream its frames with update_frames/update_clip "
                "first (each video is closed once)"
            ) from None
        self._close(video.label, pred, video.inter, video.union)

    # -- results

    def compute_per_class(self) -> dict[str, np.ndarray]:
        """Per-class tables.

        Returns:
            ``{"fAP": float64[C, 20], "vAP": float64[C, 20], "frames": int64[C],
            "videos": int64[C]}``: AP rows (NaN for a class without GT frames / videos) and the
            number of GT frames and of videos with a video IoU per class.

        Raises:
            RuntimeError: while streamed videos are open (their frames would count in f-mAP but
                not yet in v-mAP).
        """
        if self._open:
            raise RuntimeError(
                f"{len(self._open)} streamed video(s) still open, e.g. "
                f"{next(iter(self._open))!r}: call end_video() before compute()"
            )
        return {
            "fAP": _hits_to_ap(self._frame_hits, self._frame_total),
            "vAP": _hits_to_ap(self._video_hits, self._video_total),
            "frames": self._frame_total.copy(),
            "videos": self._video_total.copy(),
        }

    def compute(self) -> dict[str, float]:
        """The result dict of :func:`summarize` (``"f-mAP@0.5"``, ``"v-mAP@0.2"``, ``"accuracy"``...).

        Raises:
            RuntimeError: while streamed videos are open.
        """
        tables = self.compute_per_class()
        acc = self._num_correct / self._num_predicted if self._num_predicted else float("nan")
        return summarize(tables["fAP"], tables["vAP"], acc)

    # -- internals

    def _class(self, label: int, name: str) -> int:
        value = operator.index(label)
        if not 0 <= value < self.num_classes:
            raise ValueError(f"{name} must be in [0, {self.num_classes}), got {value}")
        return value

    def _pred(self, pred_label: int | None) -> int | None:
        return None if pred_label is None else self._class(pred_label, "pred_label")

    def _fold_frames(
        self, label: int, inter: ArrayLike, union: ArrayLike, has_gt: ArrayLike
    ) -> tuple[int, int]:
        """Add frames to the frame tables; return their pooled ``(sum inter, sum union)``."""
        i, u, h = _check_counts(inter, union, has_gt)
        i, u = i[h], u[h]
        self._frame_hits[label] += threshold_counts(i / u)
        self._frame_total[label] += i.size
        return int(i.sum()), int(u.sum())

    def _close(self, label: int, pred: int | None, inter: int, union: int) -> None:
        if pred is not None:
            self._num_predicted += 1
            self._num_correct += int(pred == label)
        iou = _ratio(inter, union)
        if not np.isnan(iou):
            self._video_hits[label] += iou >= THRESHOLDS
            self._video_total[label] += 1


def _hits_to_ap(hits: np.ndarray, total: np.ndarray) -> np.ndarray:
    out = np.full(hits.shape, np.nan)
    has = total > 0
    out[has] = hits[has] / total[has, None]
    return out
