"""How close box pseudo-labels come to the true boxes: per-frame IoU and pooled means.

Interpolated pseudo-labels (:func:`asl_action_det.pseudo.pseudo_boxes`, paper §3.2) stand in for
the missing annotations of unlabelled frames during training. Measuring them against the real
boxes tells how much of the actors' real motion a set of labelled frames covers, with no model
and no video: the benchmark ``benchmarks/bench_pseudo_labels.py`` does so on UCF-101-24.

Rules, kept deliberately simple:

* **Matching by track id.** The annotator names each actor (``Region.track_id``) and
  pseudo-labels are interpolated per track, so a pseudo-box is compared with the true box of the
  same track; no Hungarian or greedy matching is needed, and none could change the result
  because identities come from the same annotations.
* **Per-track IoU** on a frame: the box IoU when both the truth and the pseudo-label have the
  track, **0** when only one of them has it (a missed actor and an invented one cost the same),
  nothing when neither has it.
* **Per-frame IoU**: the mean of the per-track IoUs over the tracks present in the truth or in the
  pseudo-label; **NaN** on a frame where neither has an actor (nothing to localise, so such
  frames are left out of every mean rather than counted as perfect).

Boxes are continuous ``(x1, y1, x2, y2)`` with ``x2 = last pixel column + 1`` (the convention of
:mod:`asl_action_det.pseudo`), so a box's area is ``(x2 - x1) * (y2 - y1)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .pseudo import PseudoBoxes

__all__ = ["box_iou", "frame_iou", "pooled_iou"]


def box_iou(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Element-wise IoU of boxes ``(x1, y1, x2, y2)`` in continuous coordinates.

    Two degenerate boxes (zero area, so zero union) score 1 when they are equal and 0 otherwise,
    so the result is always finite for finite input.

    Args:
        a, b: ``float[..., 4]`` boxes, broadcastable against each other.

    Returns:
        ``float64[...]`` in ``[0, 1]``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0.0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0.0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    same = np.all(a == b, axis=-1)
    safe = np.where(union > 0, union, 1.0)
    return np.where(union > 0, inter / safe, np.where(same, 1.0, 0.0))


def frame_iou(pseudo: PseudoBoxes, true_track_ids: ArrayLike, true_boxes: ArrayLike) -> np.ndarray:
    """Per-frame IoU of a video's pseudo-labels against its true boxes (rules in the module doc).

    Args:
        pseudo: the pseudo-labels of one video (:func:`asl_action_det.pseudo.pseudo_boxes`).
        true_track_ids: ``int[T]`` the true tracks' ids, unique.
        true_boxes: ``float[T, F, 4]`` the true boxes, NaN on frames where the track is absent.

    Returns:
        ``float64[F]``: the mean per-track IoU over the tracks present in the truth or the
        pseudo-label, in ``[0, 1]``; NaN where neither has an actor.

    Raises:
        ValueError: if the shapes disagree with ``pseudo``, a true track id repeats, or a true
            box is only partly NaN.
    """
    num_frames = pseudo.num_frames
    ids = np.asarray(true_track_ids, dtype=np.int64).reshape(-1)
    truth = np.asarray(true_boxes, dtype=np.float64)
    if truth.shape != (ids.size, num_frames, 4):
        raise ValueError(
            f"true_boxes must have shape ({ids.size}, {num_frames}, 4), got {truth.shape}"
        )
    if np.unique(ids).size != ids.size:
        raise ValueError(f"true track ids repeat: {ids.tolist()}")
    nan = np.isnan(truth)
    if np.any(nan.any(axis=-1) != nan.all(axis=-1)):
        raise ValueError("a true box is partly NaN: absent boxes must be NaN in all 4 values")
    # one row per track in either side; a side without the track is all absent
    union_ids = np.union1d(ids, pseudo.track_ids)
    t_rows = np.full((union_ids.size, num_frames, 4), np.nan)
    p_rows = np.full((union_ids.size, num_frames, 4), np.nan)
    t_rows[np.searchsorted(union_ids, ids)] = truth
    p_pos = np.searchsorted(union_ids, pseudo.track_ids)
    p_rows[p_pos] = np.where(pseudo.present[..., None], pseudo.boxes, np.nan)
    t_has = ~np.isnan(t_rows[..., 0])
    p_has = ~np.isnan(p_rows[..., 0])
    both = t_has & p_has
    with np.errstate(invalid="ignore"):  # NaN boxes of absent tracks; masked out just below
        iou = np.where(both, box_iou(t_rows, p_rows), 0.0)
    counted = (t_has | p_has).sum(axis=0)
    total = iou.sum(axis=0)
    return np.divide(total, counted, out=np.full(num_frames, np.nan), where=counted > 0)


def pooled_iou(
    ious: Sequence[ArrayLike],
    labelled: Sequence[ArrayLike],
    weights: Sequence[ArrayLike] | None = None,
) -> tuple[float, float, int]:
    """Mean IoU over the **unlabelled** frames of several videos, pooled frame by frame.

    A labelled frame's pseudo-label is the human label itself (IoU 1 by construction), so only
    unlabelled frames say anything about interpolation. Frames whose IoU is NaN (no actor on
    either side, :func:`frame_iou`) are left out. Pooling is over frames, not videos: a long
    video weighs more, as in a frame-level metric.

    Args:
        ious: per video, ``float[F]`` from :func:`frame_iou`.
        labelled: per video, ``int[n]`` labelled frame indices.
        weights: per video, ``float[F]`` frame weights (e.g. MGW, eq. 4); ``None``: all 1.

    Returns:
        ``(plain, weighted, frames)``: the plain mean, the weighted mean
        ``sum(w * iou) / sum(w)`` and the number of frames counted. A mean is NaN when it has
        nothing to average (no frame, or zero total weight).

    Raises:
        ValueError: if the sequences differ in length or an array's length differs from its IoU.
    """
    if len(ious) != len(labelled) or (weights is not None and len(weights) != len(ious)):
        raise ValueError("ious, labelled and weights must have one entry per video")
    n, total, w_sum, w_total = 0, 0.0, 0.0, 0.0
    for i, iou in enumerate(ious):
        iou = np.asarray(iou, dtype=np.float64).reshape(-1)
        keep = ~np.isnan(iou)
        keep[np.asarray(labelled[i], dtype=np.int64)] = False
        if weights is None:
            w = np.ones_like(iou)
        else:
            w = np.asarray(weights[i], dtype=np.float64).reshape(-1)
            if w.shape != iou.shape:
                raise ValueError(f"video {i}: {w.size} weights for {iou.size} frames")
        n += int(keep.sum())
        total += float(iou[keep].sum())
        w_sum += float(w[keep].sum())
        w_total += float((w[keep] * iou[keep]).sum())
    plain = total / n if n else float("nan")
    weighted = w_total / w_sum if w_sum > 0 else float("nan")
    return plain, weighted, n
