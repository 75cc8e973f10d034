"""Region similarity J and boundary F-measure of video object segmentation (specs §C.2).

The definitions are those of the DAVIS Python evaluation (``davis2017/metrics.py``), written
here from the specification, numpy and scipy only:

* **J** (:func:`region_j`): ``|M ∩ G| / |M ∪ G|`` over the non-void pixels; an empty union
  gives 1.
* **F** (:func:`boundary_f`): both masks (void pixels removed) become 1-pixel boundary maps
  (:func:`seg2bmap`); a boundary pixel of one map is matched when a boundary pixel of the other
  lies within the tolerance disk (:func:`disk`, radius :func:`tolerance_radius`: ``ceil(0.008 ×
  image diagonal)``, 8 px at 480x854, 12 px at 720x1280); precision and recall are the matched
  fractions, F their harmonic mean. **No thinning** of the boundaries (as the Python reference).
  Special cases: no predicted boundary but a GT one → P = 1, R = 0 (F = 0); a predicted boundary
  but none in the GT → P = 0, R = 1 (F = 0); neither → F = 1; F = 0 when P + R = 0.

:func:`boundary_f` finds the matches with a k-d tree over the boundary pixels (cost grows with
the boundary length, not the image size, and with no dependence on the radius);
:func:`naive_boundary_f` is the by-the-book version that dilates each boundary map with the disk
(``scipy.ndimage.binary_dilation``). The two agree exactly (tests), because a pixel lies in the
dilation of a map by ``disk(r)`` exactly when some pixel of the map is at integer offset
``(dy, dx)`` with ``dy² + dx² <= r²``.

Per video, :func:`score_video` scores every object on the frames after its given (first) frame,
and :func:`summarize` averages objects (per-object mean over frames first, the YouTube-VOS
convention) into J, F, J&F, seen / unseen groups and the YouTube-VOS "overall" score.
:func:`recall` and :func:`decay` are the DAVIS per-object statistics.

Masks are ``bool[H, W]`` (row = y, column = x); id maps are integer ``[H, W]`` or ``[F, H, W]``
with 0 = background.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from attrs import field, frozen, validators
from numpy.typing import ArrayLike

__all__ = [
    "DEFAULT_BOUND_TH",
    "ObjectScore",
    "boundary_f",
    "boundary_precision_recall",
    "decay",
    "disk",
    "naive_boundary_f",
    "recall",
    "region_j",
    "score_frame",
    "score_video",
    "seg2bmap",
    "summarize",
    "tolerance_radius",
]

#: The DAVIS boundary tolerance: a fraction of the image diagonal (values >= 1 are pixels).
DEFAULT_BOUND_TH = 0.008


# --------------------------------------------------------------------------- helpers


def _as_mask(a: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D mask, got shape {arr.shape}")
    return arr.astype(bool, copy=False)


def _masks(
    pred: ArrayLike, gt: ArrayLike, void: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    p = _as_mask(pred, "pred")
    g = _as_mask(gt, "gt")
    if p.shape != g.shape:
        raise ValueError(f"pred and gt masks differ in shape: {p.shape} vs {g.shape}")
    v = None
    if void is not None:
        v = _as_mask(void, "void")
        if v.shape != g.shape:
            raise ValueError(f"void mask shape {v.shape} differs from the masks' {g.shape}")
    return p, g, v


# --------------------------------------------------------------------------- J


def region_j(pred: ArrayLike, gt: ArrayLike, void: ArrayLike | None = None) -> float:
    """Region similarity (Jaccard index) of two ``bool[H, W]`` masks, in ``[0, 1]``.

    ``J = |pred ∩ gt| / |pred ∪ gt|`` counting only pixels outside ``void`` (``bool[H, W]``,
    e.g. DAVIS label 255). An empty union (both masks empty there) gives 1.

    Raises:
        ValueError: the arrays are not 2-D or differ in shape.
    """
    p, g, v = _masks(pred, gt, void)
    inter = p & g
    union = p | g
    if v is not None:
        inter &= ~v
        union &= ~v
    n_union = int(np.count_nonzero(union))
    if n_union == 0:
        return 1.0
    return int(np.count_nonzero(inter)) / n_union


# --------------------------------------------------------------------------- F


def seg2bmap(seg: ArrayLike) -> np.ndarray:
    """The 1-pixel-wide boundary map ``bool[H, W]`` of a ``bool[H, W]`` mask (DAVIS
    ``_seg2bmap`` at the mask's own size).

    A pixel is on the boundary when it differs from its east, south or south-east neighbour
    (neighbours beyond the border count as 0). In the last row only the east neighbour is
    compared, in the last column only the south one, and the bottom-right pixel is always 0, so
    a mask touching the right or bottom border gets no boundary along that border. The boundary
    therefore sits on the object's last pixels to the east/south and on the background pixels
    just before it to the north/west: offset half a pixel toward the origin.

    Example: the 2x2 square at rows 1-2, columns 1-2 of a 4x4 image gives::

        1 1 1 0
        1 0 1 0
        1 1 1 0
        0 0 0 0
    """
    s = _as_mask(seg, "seg")
    h, w = s.shape
    east = np.zeros_like(s)
    south = np.zeros_like(s)
    south_east = np.zeros_like(s)
    east[:, :-1] = s[:, 1:]
    south[:-1, :] = s[1:, :]
    south_east[:-1, :-1] = s[1:, 1:]
    b = (s ^ east) | (s ^ south) | (s ^ south_east)
    # the border rows/columns have no real south / east neighbour: comparing against the zero
    # padding would mark every object pixel on the border, so they use the other direction only
    b[-1, :] = s[-1, :] ^ east[-1, :]
    b[:, -1] = s[:, -1] ^ south[:, -1]
    b[h - 1, w - 1] = False
    return b


def disk(radius: int) -> np.ndarray:
    """The disk structuring element ``bool[2r+1, 2r+1]``: offsets ``(dy, dx)`` from the centre
    with ``dy² + dx² <= r²`` (the same set as ``skimage.morphology.disk(r)``).

    ``disk(0)`` is ``[[True]]``; ``disk(1)`` is the 3x3 plus; ``disk(2)`` the 13-pixel diamond.

    Raises:
        ValueError: ``radius`` is negative or not an integer.
    """
    if isinstance(radius, bool) or int(radius) != radius or radius < 0:
        raise ValueError(f"disk radius must be a non-negative integer, got {radius!r}")
    r = int(radius)
    offsets = np.arange(-r, r + 1)
    return offsets[:, None] ** 2 + offsets[None, :] ** 2 <= r * r


def tolerance_radius(shape: tuple[int, ...], bound_th: float = DEFAULT_BOUND_TH) -> int:
    """The boundary tolerance in pixels for an image of ``shape = (H, W)``.

    ``bound_th >= 1`` is the radius itself (it must then be an integer); ``0 < bound_th < 1`` is
    a fraction of the diagonal: ``ceil(bound_th * sqrt(H² + W²))`` (480x854 → 8, 720x1280 → 12).

    Raises:
        ValueError: ``bound_th`` is not positive, or is a non-integer >= 1.
    """
    if not math.isfinite(bound_th) or bound_th <= 0:
        raise ValueError(f"bound_th must be positive, got {bound_th!r}")
    if bound_th >= 1:
        if int(bound_th) != bound_th:
            raise ValueError(
                f"bound_th >= 1 is a radius in pixels and must be an integer: {bound_th}"
            )
        return int(bound_th)
    h, w = int(shape[0]), int(shape[1])
    return math.ceil(bound_th * math.sqrt(h * h + w * w))


def _pr_from_counts(
    n_pred: int, n_gt: int, pred_matched: int, gt_matched: int
) -> tuple[float, float]:
    if n_pred == 0 and n_gt > 0:
        return 1.0, 0.0
    if n_pred > 0 and n_gt == 0:
        return 0.0, 1.0
    if n_pred == 0 and n_gt == 0:
        return 1.0, 1.0
    return pred_matched / n_pred, gt_matched / n_gt


def _f_from_pr(precision: float, recall_: float) -> float:
    if precision + recall_ == 0:
        return 0.0
    return 2.0 * precision * recall_ / (precision + recall_)


def _boundaries(
    pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    if void is not None:
        pred = pred & ~void
        gt = gt & ~void
    return seg2bmap(pred), seg2bmap(gt)


def _crop_box(*masks: np.ndarray) -> tuple[slice, slice] | None:
    """Rows/columns of the union bounding box grown by one pixel each side (clipped to the
    image), or None when all masks are empty. :func:`seg2bmap` of the crop equals the crop of
    :func:`seg2bmap`: it looks only east/south, the extra row/column above/left holds the
    background pixels that border the object, and an edge of the crop that is not the image
    edge has only background next to it."""
    any_on = np.logical_or.reduce(masks)
    rows = np.flatnonzero(any_on.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(any_on.any(axis=0))
    h, w = any_on.shape
    return (
        slice(max(rows[0] - 1, 0), min(rows[-1] + 2, h)),
        slice(max(cols[0] - 1, 0), min(cols[-1] + 2, w)),
    )


def _matched(points: np.ndarray, others: np.ndarray, radius: int) -> int:
    """How many of ``points`` (``int[N, 2]``) have a point of ``others`` within ``radius``."""
    from scipy.spatial import cKDTree  # lazy: scipy.spatial costs ~0.1 s to import

    dist, _ = cKDTree(others).query(points, k=1, distance_upper_bound=radius + 0.5)
    found = np.isfinite(dist)
    # squared distances between integer pixels are integers: compare them exactly, so that a
    # pixel at distance exactly r counts, as in the disk
    sq = np.rint(dist[found] ** 2)
    return int(np.count_nonzero(sq <= radius * radius))


def boundary_precision_recall(
    pred: ArrayLike,
    gt: ArrayLike,
    void: ArrayLike | None = None,
    bound_th: float = DEFAULT_BOUND_TH,
) -> tuple[float, float]:
    """Boundary precision and recall of ``pred`` against ``gt`` (``bool[H, W]``), with the
    special cases of the module docstring. Void pixels are removed from both masks before their
    boundaries are taken (as DAVIS). The tolerance uses the full image size.

    Raises:
        ValueError: bad shapes or ``bound_th`` (see :func:`tolerance_radius`).
    """
    p, g, v = _masks(pred, gt, void)
    radius = tolerance_radius(g.shape, bound_th)
    box = _crop_box(p, g)
    if box is None:
        return 1.0, 1.0
    bp, bg = _boundaries(p[box], g[box], None if v is None else v[box])
    pts_p = np.argwhere(bp)
    pts_g = np.argwhere(bg)
    if len(pts_p) == 0 or len(pts_g) == 0:
        return _pr_from_counts(len(pts_p), len(pts_g), 0, 0)
    return _pr_from_counts(
        len(pts_p), len(pts_g), _matched(pts_p, pts_g, radius), _matched(pts_g, pts_p, radius)
    )


def boundary_f(
    pred: ArrayLike,
    gt: ArrayLike,
    void: ArrayLike | None = None,
    bound_th: float = DEFAULT_BOUND_TH,
) -> float:
    """Boundary F-measure of two ``bool[H, W]`` masks, in ``[0, 1]`` (specs §C.2).

    ``F = 2PR / (P + R)`` (0 when ``P + R = 0``) of :func:`boundary_precision_recall`; equal to
    :func:`naive_boundary_f` exactly.
    """
    return _f_from_pr(*boundary_precision_recall(pred, gt, void, bound_th))


def naive_boundary_f(
    pred: ArrayLike,
    gt: ArrayLike,
    void: ArrayLike | None = None,
    bound_th: float = DEFAULT_BOUND_TH,
) -> float:
    """:func:`boundary_f` computed as the definition reads: dilate each full-size boundary map
    with ``disk(r)`` (``scipy.ndimage.binary_dilation``) and count the boundary pixels of the
    other map inside it. Slow at full resolution (about 0.25 s per dilation at 720x1280, r = 12);
    the reference for tests."""
    from scipy.ndimage import binary_dilation

    p, g, v = _masks(pred, gt, void)
    radius = tolerance_radius(g.shape, bound_th)
    bp, bg = _boundaries(p, g, v)
    n_p = int(np.count_nonzero(bp))
    n_g = int(np.count_nonzero(bg))
    if n_p == 0 or n_g == 0:
        return _f_from_pr(*_pr_from_counts(n_p, n_g, 0, 0))
    selem = disk(radius)
    p_matched = int(np.count_nonzero(bp & binary_dilation(bg, structure=selem)))
    g_matched = int(np.count_nonzero(bg & binary_dilation(bp, structure=selem)))
    return _f_from_pr(*_pr_from_counts(n_p, n_g, p_matched, g_matched))


# --------------------------------------------------------------------------- per video


def score_frame(
    gt: ArrayLike,
    pred: ArrayLike,
    object_ids: Iterable[int],
    *,
    void_id: int | None = None,
    bound_th: float = DEFAULT_BOUND_TH,
) -> dict[int, tuple[float, float]]:
    """J and F of each object in one frame: id → ``(J, F)``.

    Args:
        gt: ground-truth ids ``int[H, W]``.
        pred: predicted ids ``int[H, W]``; an object absent from it has an empty mask.
        object_ids: the objects to score (ids >= 1).
        void_id: ground-truth pixels with this id are void (left out of J and of both masks'
            boundaries); ``None``: no void.
        bound_th: boundary tolerance (:func:`tolerance_radius`).

    Raises:
        ValueError: the id maps are not 2-D or differ in shape.
    """
    g_ids = np.asarray(gt)
    p_ids = np.asarray(pred)
    if g_ids.ndim != 2 or g_ids.shape != p_ids.shape:
        raise ValueError(
            f"gt and pred must be 2-D id maps of one shape: {g_ids.shape} vs {p_ids.shape}"
        )
    void = None if void_id is None else g_ids == void_id
    if void is not None and not void.any():
        void = None
    out: dict[int, tuple[float, float]] = {}
    for obj in object_ids:
        g = g_ids == obj
        p = p_ids == obj
        out[int(obj)] = (region_j(p, g, void), boundary_f(p, g, void, bound_th))
    return out


def score_video(
    gt: ArrayLike,
    pred: ArrayLike,
    objects: Mapping[int, int],
    *,
    scored: ArrayLike | None = None,
    void_id: int | None = None,
    bound_th: float = DEFAULT_BOUND_TH,
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per-frame J and F of every object of a video.

    Args:
        gt: ground-truth ids ``int[F, H, W]`` (0 = background).
        pred: predicted ids ``int[F, H, W]``; an object missing from a frame of ``pred`` is
            scored as an empty mask (zero-filled, as DAVIS).
        objects: object id → index of its given (first) frame. That frame and the frames
            before it are not scored for the object.
        scored: optional ``bool[F]``: only these frames are scored (e.g. the frames that have
            ground truth).
        void_id: ground-truth id of void pixels (DAVIS 255), or ``None``.
        bound_th: boundary tolerance (:func:`tolerance_radius`).

    Returns:
        id → ``(J, F)``, two ``float64[n]`` over the object's scored frames in frame order
        (``n`` may be 0).

    Raises:
        ValueError: shapes differ, an object id is not in 1..255 or its first frame is out of
            range.
    """
    g = np.asarray(gt)
    p = np.asarray(pred)
    if g.ndim != 3 or g.shape != p.shape:
        raise ValueError(
            f"gt and pred must be [F, H, W] id arrays of one shape: {g.shape} vs {p.shape}"
        )
    n_frames = g.shape[0]
    mask = np.ones(n_frames, dtype=bool) if scored is None else np.asarray(scored, dtype=bool)
    if mask.shape != (n_frames,):
        raise ValueError(f"scored must be bool[{n_frames}], got shape {mask.shape}")
    for obj, first in objects.items():
        if not 1 <= int(obj) <= 255:
            raise ValueError(f"object ids lie in 1..255, got {obj}")
        if not 0 <= int(first) < n_frames:
            raise ValueError(f"object {obj}: first frame {first} outside 0..{n_frames - 1}")
    values: dict[int, tuple[list[float], list[float]]] = {int(o): ([], []) for o in objects}
    for t in np.flatnonzero(mask):
        active = [int(o) for o, first in objects.items() if t > int(first)]
        if not active:
            continue
        for obj, (j, f) in score_frame(
            g[t], p[t], active, void_id=void_id, bound_th=bound_th
        ).items():
            values[obj][0].append(j)
            values[obj][1].append(f)
    return {
        obj: (np.asarray(js, dtype=np.float64), np.asarray(fs, dtype=np.float64))
        for obj, (js, fs) in values.items()
    }


# --------------------------------------------------------------------------- DAVIS statistics


def _values(values: ArrayLike) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError("no per-frame values")
    if not np.isfinite(arr).all():
        raise ValueError("per-frame values must be finite")
    return arr


def recall(values: ArrayLike, threshold: float = 0.5) -> float:
    """DAVIS "Recall" of one object's per-frame J or F: the fraction of frames whose value is
    strictly above ``threshold`` (0.5).

    Raises:
        ValueError: ``values`` is empty or not finite.
    """
    arr = _values(values)
    return float(np.count_nonzero(arr > threshold)) / arr.size


def decay(values: ArrayLike) -> float:
    """DAVIS "Decay" of one object's per-frame J or F: the mean of the first quarter minus the
    mean of the last quarter of the frames, a positive number when quality drops over time.

    The ``n`` frames are split into 4 bins by the boundaries ``b_i = round(1 + i (n - 1) / 4)
    - 1`` for ``i = 0..4`` (0-based frame indices, halves rounded up, computed exactly in
    integers); bin ``i`` holds frames ``b_i .. b_{i+1}`` inclusive, so neighbouring bins share
    their boundary frame. ``n = 8``: first bin frames 0-2, last bin frames 5-7. One frame gives
    0.

    Raises:
        ValueError: ``values`` is empty or not finite.
    """
    arr = _values(values)
    n = arr.size
    # round(x) half up for x = (4 + i (n - 1)) / 4 is floor((4 + i (n - 1) + 2) / 4)
    bounds = [(4 + i * (n - 1) + 2) // 4 - 1 for i in range(5)]
    first = arr[bounds[0] : bounds[1] + 1]
    last = arr[bounds[3] : bounds[4] + 1]
    return float(first.mean() - last.mean())


# --------------------------------------------------------------------------- summary


def _unit_or_nan(_inst: Any, attribute: Any, value: float) -> None:
    if not (math.isnan(value) or 0.0 <= value <= 1.0):
        raise ValueError(
            f"{attribute.name} must lie in [0, 1] (or be NaN when unscored), got {value}"
        )


@frozen
class ObjectScore:
    """One object's scores over its scored frames.

    Attributes:
        j: mean J over the object's scored frames (NaN when ``frames == 0``).
        f: mean F over the same frames (NaN when ``frames == 0``).
        seen: the object's category occurs in training (YouTube-VOS "seen").
        category: the category name, if known.
        frames: the number of scored frames (0: only the given frame was annotated; the object
            is then left out of every mean).
    """

    j: float = field(converter=float, validator=_unit_or_nan)
    f: float = field(converter=float, validator=_unit_or_nan)
    seen: bool = field(default=True, validator=validators.instance_of(bool))
    category: str | None = field(
        default=None, validator=validators.optional(validators.instance_of(str))
    )
    frames: int = field(default=1, converter=int)

    def __attrs_post_init__(self) -> None:
        if self.frames < 0:
            raise ValueError(f"frames must be >= 0, got {self.frames}")
        if self.frames > 0 and (math.isnan(self.j) or math.isnan(self.f)):
            raise ValueError("an object with scored frames needs finite j and f")

    @classmethod
    def from_frames(
        cls,
        j: ArrayLike,
        f: ArrayLike,
        *,
        seen: bool = True,
        category: str | None = None,
    ) -> ObjectScore:
        """The score of per-frame ``J`` and ``F`` (``float[n]``, same length; empty → NaN
        means and ``frames = 0``)."""
        ja = np.asarray(j, dtype=np.float64).ravel()
        fa = np.asarray(f, dtype=np.float64).ravel()
        if ja.shape != fa.shape:
            raise ValueError(f"J and F need one value per frame each: {ja.shape} vs {fa.shape}")
        if ja.size == 0:
            return cls(math.nan, math.nan, seen=seen, category=category, frames=0)
        return cls(float(ja.mean()), float(fa.mean()), seen=seen, category=category, frames=ja.size)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _group(scores: list[ObjectScore]) -> dict[str, Any]:
    j = _mean([s.j for s in scores])
    f = _mean([s.f for s in scores])
    jf = None if j is None or f is None else (j + f) / 2.0
    return {"J": j, "F": f, "J&F": jf, "objects": len(scores)}


def summarize(per_object: Mapping[str, ObjectScore]) -> dict[str, Any]:
    """Average object scores into the YouTube-VOS / DAVIS summary (JSON-ready, no NaN).

    Each object counts once, with its mean over its frames (per-object mean first, then the
    mean over objects). Objects with ``frames == 0`` are left out and counted in
    ``skipped_objects``.

    Returns::

        {"J": mean J, "F": mean F, "J&F": (J + F) / 2,
         "seen": {"J", "F", "J&F", "objects": n}, "unseen": {...},
         "overall": mean of (J_seen, F_seen, J_unseen, F_unseen),
         "objects": n scored, "skipped_objects": n skipped}

    A group without objects has ``None`` for J, F and J&F; ``overall`` then averages the J and
    F of the groups that have objects (e.g. with no unseen object it is the seen J&F), and is
    ``None`` when no object is scored at all.
    """
    scored = [s for s in per_object.values() if s.frames > 0]
    seen = [s for s in scored if s.seen]
    unseen = [s for s in scored if not s.seen]
    total = _group(scored)
    groups = {"seen": _group(seen), "unseen": _group(unseen)}
    parts = [g[k] for g in groups.values() if g["objects"] for k in ("J", "F")]
    return {
        "J": total["J"],
        "F": total["F"],
        "J&F": total["J&F"],
        "seen": groups["seen"],
        "unseen": groups["unseen"],
        "overall": float(np.mean(parts)) if parts else None,
        "objects": len(scored),
        "skipped_objects": len(per_object) - len(scored),
    }
