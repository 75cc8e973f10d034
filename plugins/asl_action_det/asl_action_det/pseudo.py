"""Pseudo-labels for unlabelled frames, made only from the sparse human labels (paper §3.2).

The paper trains on every frame "by generating their pseudo-labels with the help of interpolation
of annotations from neighboring frames"; MGW-Loss then down-weights them by distance. The rules
implemented here:

* **Boxes** (UCF-101-24 style): a track's presence on a frame follows the *nearest labelled
  frame* (ties go to the earlier one). If that frame shows the track, the frame gets a box:
  linearly interpolated corner by corner between its two immediate labelled neighbours when both
  show the track, otherwise the box of the nearest labelled frame. So boxes are held constant
  before the first and after the last labelled frame, and a track that disappears (or appears)
  between two labelled frames keeps the box of the side it is nearer to, up to the midpoint.
* **Masks** (J-HMDB puppet masks): each frame takes the mask of its nearest labelled frame.

Pseudo-labels are built only from labelled frames, never from ground truth: :func:`pseudo_boxes`
rejects annotations of frames that are not labelled. Human and pseudo labels stay apart: the
results say which frames are human-labelled (``human``), and a labelled frame always keeps exactly
its own annotation.

Coordinates are continuous pixels, ``(x1, y1, x2, y2)`` with ``x2 = last pixel column + 1``
(see :func:`rasterize_boxes`).

References:
    Rana, Rawat. "Are all Frames Equal? Active Sparse Labeling for Video Action Detection"
    (NeurIPS 2022), §3.2 and §4.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from attrs import cmp_using, field, frozen
from numpy.typing import ArrayLike

from asl_core import frame_array, readonly_array

__all__ = [
    "PseudoBoxes",
    "PseudoMasks",
    "interpolate_track_boxes",
    "nearest_labelled",
    "pseudo_boxes",
    "pseudo_masks",
    "rasterize_boxes",
]

Box = tuple[float, float, float, float]


# --------------------------------------------------------------------------- nearest frame


def _labelled(num_frames: int, labelled: ArrayLike) -> np.ndarray:
    """Sorted, unique, read-only ``int64`` labelled frames, checked against ``[0, num_frames)``."""
    num_frames = operator.index(num_frames)
    if num_frames < 0:
        raise ValueError(f"num_frames must be >= 0, got {num_frames}")
    lab = frame_array(labelled)
    if lab.size and lab[-1] >= num_frames:
        raise ValueError(f"labelled frame {int(lab[-1])} outside a video of {num_frames} frames")
    return lab


def _nearest_position(num_frames: int, lab: np.ndarray) -> np.ndarray:
    """Position in ``lab`` (non-empty, sorted) of each frame's nearest labelled frame."""
    f = np.arange(num_frames, dtype=np.int64)
    right = np.searchsorted(lab, f, side="left")  # first labelled frame >= f
    left = np.clip(right - 1, 0, lab.size - 1)
    right = np.clip(right, 0, lab.size - 1)  # before the first / after the last: left == right
    use_left = np.abs(f - lab[left]) <= np.abs(lab[right] - f)  # "<=": ties go to the earlier
    return np.where(use_left, left, right)


def nearest_labelled(num_frames: int, labelled: ArrayLike) -> np.ndarray:
    """The nearest labelled frame of every frame, ties going to the earlier one.

    Args:
        num_frames: ``F``.
        labelled: labelled frame indices in ``[0, F)`` (sorted and de-duplicated here).

    Returns:
        ``int64[F]``: frame index (not position in ``labelled``) of each frame's nearest labelled
        frame; a labelled frame maps to itself.

    Raises:
        ValueError: if no frame is labelled, or an index is out of range.
    """
    lab = _labelled(num_frames, labelled)
    if lab.size == 0:
        raise ValueError("no labelled frame: every frame would lack a source")
    return lab[_nearest_position(num_frames, lab)]


# --------------------------------------------------------------------------- boxes


def interpolate_track_boxes(num_frames: int, frames: ArrayLike, boxes: ArrayLike) -> np.ndarray:
    """Linearly interpolate one track's boxes over a video, constant outside the labelled span.

    Between consecutive labelled frames ``a < f < b`` each corner coordinate is
    ``box_a + (f - a) / (b - a) * (box_b - box_a)``, clipped to the range of the two values so
    rounding can never leave it; before ``frames[0]`` the first box, after ``frames[-1]`` the
    last. Labelled frames get their box exactly.

    Args:
        num_frames: ``F``.
        frames: ``int[k]``, ``k >= 1``, strictly increasing frames in ``[0, F)`` where the track
            is annotated.
        boxes: ``float[k, 4]`` boxes ``(x1, y1, x2, y2)`` at those frames.

    Returns:
        ``float64[F, 4]``.

    Raises:
        ValueError: if ``frames`` is empty, unsorted, repeated or out of range, or the shapes
            do not match.
    """
    num_frames = operator.index(num_frames)
    fr = np.asarray(frames)
    bx = np.asarray(boxes, dtype=np.float64)
    if fr.ndim != 1 or fr.size == 0 or (fr.dtype.kind not in "iu"):
        raise ValueError(f"frames must be a non-empty 1-D integer array, got {fr.dtype}{fr.shape}")
    if bx.shape != (fr.size, 4):
        raise ValueError(f"boxes must have shape ({fr.size}, 4), got {bx.shape}")
    fr = fr.astype(np.int64)
    if np.any(np.diff(fr) <= 0) or fr[0] < 0 or fr[-1] >= num_frames:
        raise ValueError(f"frames must be strictly increasing in [0, {num_frames}), got {fr}")
    f = np.arange(num_frames, dtype=np.int64)
    before = np.searchsorted(fr, f, side="right") - 1  # last labelled frame <= f (-1: none)
    lo = np.clip(before, 0, fr.size - 1)
    hi = np.clip(before + 1, 0, fr.size - 1)  # lo == hi outside the span: constant boxes
    span = fr[hi] - fr[lo]
    w = np.where(span > 0, (f - fr[lo]) / np.maximum(span, 1), 0.0)[:, None]
    a, b = bx[lo], bx[hi]
    out = a + w * (b - a)  # w == 0 on labelled frames, so they are exact
    return np.clip(out, np.minimum(a, b), np.maximum(a, b))


def _region_fields(region: Any) -> tuple[int, int, Box]:
    """``(track_id, category, box)`` of a tuple or an ``asl_core.Region``-like object."""
    if hasattr(region, "track_id"):
        track, category, box = region.track_id, region.category, region.box
    else:
        track, category, box = region
    if box is None:
        raise ValueError(f"track {track}: box pseudo-labels need a box, not only a mask")
    b = np.asarray(box, dtype=np.float64)
    if b.shape != (4,) or not np.all(np.isfinite(b)) or b[2] < b[0] or b[3] < b[1]:
        raise ValueError(f"track {track}: invalid box {box!r}, expected finite (x1, y1, x2, y2)")
    return operator.index(track), operator.index(category), (b[0], b[1], b[2], b[3])


def _int_array(a: Any) -> np.ndarray:
    return readonly_array(a, np.int64)


def _bool_array(a: Any) -> np.ndarray:
    return readonly_array(a, np.bool_)


def _float_array(a: Any) -> np.ndarray:
    return readonly_array(a, np.float64)


def _array_eq(a: np.ndarray, b: np.ndarray) -> bool:
    # absent boxes are NaN, and two results with the same absent boxes must compare equal
    return bool(np.array_equal(a, b, equal_nan=True))


_ARRAY_EQ = cmp_using(eq=_array_eq)


@frozen
class PseudoBoxes:
    """Per-track box labels for every frame of a video: human labels plus pseudo-labels.

    Attributes:
        num_frames: ``F``.
        labelled: ``int64[n]`` human-labelled frames (sorted).
        track_ids: ``int64[T]`` the tracks seen on any labelled frame, ascending.
        present: ``bool[T, F]`` whether the frame has a (human or pseudo) box for the track.
        boxes: ``float64[T, F, 4]`` ``(x1, y1, x2, y2)``; NaN where not present.
        categories: ``int64[T, F]`` class of the track on the frame (from its nearest labelled
            frame); -1 where not present.
    """

    num_frames: int = field(converter=int)
    labelled: np.ndarray = field(converter=_int_array, eq=_ARRAY_EQ, hash=False)
    track_ids: np.ndarray = field(converter=_int_array, eq=_ARRAY_EQ, hash=False)
    present: np.ndarray = field(converter=_bool_array, eq=_ARRAY_EQ, hash=False)
    boxes: np.ndarray = field(converter=_float_array, eq=_ARRAY_EQ, hash=False)
    categories: np.ndarray = field(converter=_int_array, eq=_ARRAY_EQ, hash=False)

    @property
    def human(self) -> np.ndarray:
        """``bool[F]``: True on human-labelled frames (their boxes are the labels themselves)."""
        out = np.zeros(self.num_frames, dtype=np.bool_)
        out[self.labelled] = True
        return out

    def regions(self, frame: int) -> list[tuple[int, int, Box]]:
        """``[(track_id, category, box), ...]`` on ``frame``, in track order."""
        frame = operator.index(frame)
        return [
            (int(self.track_ids[t]), int(self.categories[t, frame]), _box(self.boxes[t, frame]))
            for t in np.flatnonzero(self.present[:, frame])
        ]

    def mask(self, frame: int, height: int, width: int) -> np.ndarray:
        """``bool[H, W]``: union of the frame's boxes, rasterised by :func:`rasterize_boxes`."""
        frame = operator.index(frame)
        return rasterize_boxes(self.boxes[self.present[:, frame], frame], height, width)


def _box(b: np.ndarray) -> Box:
    return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


def pseudo_boxes(
    num_frames: int,
    labelled: ArrayLike,
    regions_by_frame: Mapping[int, Sequence[Any]],
) -> PseudoBoxes:
    """Box labels for every frame from the labels of the labelled frames only.

    For track ``k`` and frame ``f``, let ``n(f)`` be the nearest labelled frame (ties to the
    earlier, :func:`nearest_labelled`) and ``a <= f <= b`` the immediate labelled neighbours:

    1. ``f`` is labelled: its own annotation, unchanged (human label).
    2. ``n(f)`` does not show ``k``: no box (this includes a labelled frame with no region at
       all: its nearer half of each gap gets no actor either).
    3. ``a < f < b`` both exist and both show ``k``: linear interpolation of the corners between
       ``a`` and ``b`` (:func:`interpolate_track_boxes`).
    4. otherwise (before the first / after the last labelled frame, or next to a labelled frame
       without ``k``): the box of ``n(f)``, held constant.

    The category follows ``n(f)``.

    Args:
        num_frames: ``F``.
        labelled: ``int[n]`` human-labelled frames in ``[0, F)`` (sorted and de-duplicated here).
        regions_by_frame: ``{frame: [(track_id, category, (x1, y1, x2, y2)), ...]}`` for labelled
            frames; ``asl_core.Region`` objects work too. A labelled frame that is missing is
            taken as labelled with no actor.

    Returns:
        :class:`PseudoBoxes` (no track at all if nothing is labelled).

    Raises:
        ValueError: if ``regions_by_frame`` has a frame that is not labelled (pseudo-labels must
            never come from ground truth), a track twice on one frame, or an invalid box.
    """
    lab = _labelled(num_frames, labelled)
    stray = sorted(set(map(int, regions_by_frame)) - set(lab.tolist()))
    if stray:
        raise ValueError(
            f"annotations given for unlabelled frames {stray[:10]}: pseudo-labels may only use "
            "human-labelled frames, never ground truth"
        )
    per_frame: list[dict[int, tuple[int, Box]]] = []
    for f in lab.tolist():
        seen: dict[int, tuple[int, Box]] = {}
        for region in regions_by_frame.get(f, ()):
            track, category, box = _region_fields(region)
            if track in seen:
                raise ValueError(f"track {track} appears twice on labelled frame {f}")
            seen[track] = (category, box)
        per_frame.append(seen)
    track_ids = sorted({t for seen in per_frame for t in seen})
    n, nt = lab.size, len(track_ids)
    # per track, on labelled frames only: shown?, box, category
    shown = np.zeros((nt, n), dtype=np.bool_)
    lab_boxes = np.full((nt, n, 4), np.nan)
    lab_cats = np.full((nt, n), -1, dtype=np.int64)
    row = {t: k for k, t in enumerate(track_ids)}
    for i, seen in enumerate(per_frame):
        for track, (category, box) in seen.items():
            shown[row[track], i] = True
            lab_boxes[row[track], i] = box
            lab_cats[row[track], i] = category

    present = np.zeros((nt, num_frames), dtype=np.bool_)
    boxes = np.full((nt, num_frames, 4), np.nan)
    cats = np.full((nt, num_frames), -1, dtype=np.int64)
    if nt:  # nt > 0 implies n > 0
        f = np.arange(num_frames, dtype=np.int64)
        near = _nearest_position(num_frames, lab)
        before = np.searchsorted(lab, f, side="right") - 1  # last labelled frame <= f
        a = np.clip(before, 0, n - 1)
        b = np.clip(before + 1, 0, n - 1)
        inside_gap = (lab[near] != f) & (before >= 0) & (before + 1 < n)
        for k in range(nt):
            present[k] = shown[k, near]
            use_interp = inside_gap & shown[k, a] & shown[k, b]
            idx = np.flatnonzero(shown[k])
            # a and b are consecutive labelled frames that both show k, hence consecutive in idx
            interp = interpolate_track_boxes(num_frames, lab[idx], lab_boxes[k, idx])
            boxes[k] = np.where(use_interp[:, None], interp, lab_boxes[k, near])
            cats[k] = lab_cats[k, near]
    return PseudoBoxes(
        num_frames=num_frames,
        labelled=lab,
        track_ids=np.asarray(track_ids, dtype=np.int64),
        present=present,
        boxes=boxes,
        categories=cats,
    )


def rasterize_boxes(boxes: ArrayLike, height: int, width: int) -> np.ndarray:
    """Binary mask of the union of boxes, testing pixel centres.

    Pixel ``(r, c)`` is inside box ``(x1, y1, x2, y2)`` iff ``x1 <= c + 0.5 < x2`` and
    ``y1 <= r + 0.5 < y2``. For integer corners this is columns ``x1 .. x2 - 1`` and rows
    ``y1 .. y2 - 1``, so a UCF ``x, y, w, h`` box is ``(x, y, x + w, y + h)``. Parts outside the
    image are cut off; rows containing NaN (absent boxes) cover nothing.

    Args:
        boxes: ``float[n, 4]`` (or a single ``float[4]``) ``(x1, y1, x2, y2)``.
        height, width: ``H``, ``W``.

    Returns:
        ``bool[H, W]``.
    """
    height, width = operator.index(height), operator.index(width)
    bx = np.asarray(boxes, dtype=np.float64)
    if bx.size == 0:
        return np.zeros((height, width), dtype=np.bool_)
    if bx.shape != (4,) and (bx.ndim != 2 or bx.shape[1] != 4):
        raise ValueError(f"boxes must have shape [n, 4], got {bx.shape}")
    bx = bx.reshape(-1, 4)
    cols = np.arange(width) + 0.5
    rows = np.arange(height) + 0.5
    in_x = (bx[:, 0:1] <= cols) & (cols < bx[:, 2:3])  # [n, W]
    in_y = (bx[:, 1:2] <= rows) & (rows < bx[:, 3:4])  # [n, H]
    # union over boxes = any_n(in_y[n, r] & in_x[n, c]): a boolean matrix product (exact counts)
    return (in_y.T.astype(np.float32) @ in_x.astype(np.float32)) > 0


# --------------------------------------------------------------------------- masks


class PseudoMasks:
    """Nearest-labelled-frame masks for every frame, without copying any mask.

    Holds read-only views of the labelled masks and the per-frame source index, so memory stays
    that of the labelled masks however long the video is.

    Attributes:
        source: ``int64[F]`` the labelled frame whose mask each frame uses.
        labelled: ``int64[n]`` the human-labelled frames.
    """

    __slots__ = ("_masks", "labelled", "source")

    def __init__(self, source: np.ndarray, labelled: np.ndarray, masks: dict[int, np.ndarray]):
        self.source = readonly_array(source, np.int64)
        self.labelled = readonly_array(labelled, np.int64)
        self._masks = masks

    def __len__(self) -> int:
        """``F``."""
        return self.source.size

    def __getitem__(self, frame: int) -> np.ndarray:
        """The (read-only) mask of ``frame``: that of its nearest labelled frame."""
        return self._masks[int(self.source[operator.index(frame)])]

    @property
    def human(self) -> np.ndarray:
        """``bool[F]``: True on human-labelled frames (their mask is their own label)."""
        return self.source == np.arange(self.source.size)

    def gather(self, frames: ArrayLike) -> np.ndarray:
        """Stack the masks of ``frames`` (e.g. one clip): ``[len(frames), H, W]``, a new array."""
        idx = np.asarray(frames, dtype=np.int64).ravel()
        return np.stack([self._masks[int(s)] for s in self.source[idx]])


def pseudo_masks(
    num_frames: int, labelled: ArrayLike, masks: Mapping[int, ArrayLike]
) -> PseudoMasks:
    """Mask labels for every frame: the mask of the nearest labelled frame (ties to the earlier).

    Args:
        num_frames: ``F``.
        labelled: ``int[n]``, ``n >= 1``, human-labelled frames (sorted and de-duplicated here).
        masks: ``{frame: bool[H, W]}`` for every labelled frame (an empty mask means "no
            actor"); entries for other frames are refused.

    Returns:
        :class:`PseudoMasks` (keeps read-only views of ``masks``, copies nothing).

    Raises:
        ValueError: if nothing is labelled, a labelled frame has no mask, a mask is given for an
            unlabelled frame (never use ground truth), or the masks' shapes differ.
    """
    lab = _labelled(num_frames, labelled)
    keys = set(map(int, masks))
    wanted = set(lab.tolist())
    if keys - wanted:
        raise ValueError(
            f"masks given for unlabelled frames {sorted(keys - wanted)[:10]}: pseudo-labels may "
            "only use human-labelled frames, never ground truth"
        )
    if wanted - keys:
        raise ValueError(f"labelled frames without a mask: {sorted(wanted - keys)[:10]}")
    views: dict[int, np.ndarray] = {}
    for f in lab.tolist():
        view = np.asarray(masks[f]).view()  # a view: the caller's array stays writable
        view.setflags(write=False)
        views[f] = view
    shapes = {v.shape for v in views.values()}
    if len(shapes) > 1:
        raise ValueError(f"labelled masks have different shapes: {sorted(shapes)}")
    return PseudoMasks(nearest_labelled(num_frames, lab), lab, views)
