"""UCF-101-24 annotation readers: the corrected annotations (``.mat``) and the ASL pickles.

Two formats (reference specs §A.3, §A.4), both converted to :class:`.annotations.TubeAnnotations`
in this package's conventions:

**Corrected annotations** (G. Singh's ``corrected-UCF101-Annots``: ``trainAnnot.mat`` with 2,284
videos, ``testAnnot.mat`` with 910, ``finalAnnots.mat`` with all 3,194; ``testlist01.txt`` names
the test videos). MATLAB struct array ``annot`` (1 x N), fields ``num_imgs`` (frame count),
``name`` (``"Basketball/v_Basketball_g08_c01"``) and ``tubes`` (struct array, fields ``sf``,
``ef``, ``class``, ``boxes``).

=====================  =========================  ===========================================
field                  file convention            converted to
=====================  =========================  ===========================================
``sf``, ``ef``         1-based, inclusive         ``ActorTube.frames = sf-1 .. ef-1``
``class``              1-based (1..24)            0-based label ``class - 1``
``boxes`` (per frame)  ``x y w h``, uint8/uint16  inclusive ``x, y, x + w - 1, y + h - 1``
``num_imgs``           frame count                ``nframes`` (frames ``0..F-1``)
=====================  =========================  ===========================================

MATLAB stored every integer in the smallest type that holds it (uint8 for most tubes, uint16
for some), so ``x + w`` overflows unless cast first: everything is cast to ``int64`` before any
arithmetic. Box pixels are rows ``y .. y + h - 1`` and columns ``x .. x + w - 1`` of a 320 x 240
frame (how the ASL code rasterises them; on the real files ``x, y >= 1`` and ``x + w <= 320``,
``y + h <= 240``).

**ASL pickles** (the official ASL release's ``training_annots.pkl`` / ``testing_annots.pkl``):
a list of ``(video, [(start, end, label, boxes_xywh, annotated_frames[, flag]), ...])`` with
0-based inclusive ``start``/``end``, 0-based ``label``, int32 ``boxes`` of ``end - start + 1``
rows of ``x y w h`` and ``annotated_frames`` the 0-based frames labelled in that round (exposed
as :attr:`.annotations.TubeAnnotations.labelled`). The pickles hold no video lengths. They are
read with the restricted unpickler (:mod:`.safe_pickle`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from asl_core import FrameRef, FrozenMap, LabelState

from .annotations import TubeAnnotations
from .dataset import ActorTube, load_pickle
from .errors import DatasetError

__all__ = [
    "UCF101_24_CLASSES",
    "UCF_RESOLUTION",
    "load_asl_pickle",
    "load_ucf_annotations",
    "load_ucf_mat",
    "xywh_to_inclusive",
]

log = logging.getLogger(__name__)

#: The 24 classes in label order (class id = position; the .mat's ``class`` minus 1).
UCF101_24_CLASSES: tuple[str, ...] = (
    "Basketball",
    "BasketballDunk",
    "Biking",
    "CliffDiving",
    "CricketBowling",
    "Diving",
    "Fencing",
    "FloorGymnastics",
    "GolfSwing",
    "HorseRiding",
    "IceDancing",
    "LongJump",
    "PoleVault",
    "RopeClimbing",
    "SalsaSpin",
    "SkateBoarding",
    "Skiing",
    "Skijet",
    "SoccerJuggling",
    "Surfing",
    "TennisSwing",
    "TrampolineJumping",
    "VolleyballSpiking",
    "WalkingWithDog",
)

#: ``(height, width)`` of every UCF-101 video.
UCF_RESOLUTION: tuple[int, int] = (240, 320)

MAT_FIELDS = ("num_imgs", "name", "tubes")
TUBE_FIELDS = ("sf", "ef", "class", "boxes")


def xywh_to_inclusive(boxes: Any) -> np.ndarray:
    """Convert ``x y w h`` boxes (any integer dtype, uint8 included) to inclusive corners.

    Args:
        boxes: ``[n, 4]`` top-left ``x, y``, width, height.

    Returns:
        ``int64[n, 4]`` ``x1, y1, x2, y2`` with ``x2 = x + w - 1``, ``y2 = y + h - 1``
        (computed in int64: uint8 ``x + w`` would wrap at 256).
    """
    b = np.asarray(boxes).astype(np.int64).reshape(-1, 4)
    return np.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2] - 1, b[:, 1] + b[:, 3] - 1], axis=1)


def _checked_boxes(
    xywh: Any, rows: int, resolution: tuple[int, int], source: str, video: str
) -> tuple[np.ndarray, int]:
    """Validate ``rows`` boxes of one tube; returns inclusive boxes clipped to the frame and the
    number of boxes that needed clipping."""
    try:
        arr = np.asarray(xywh)
        if arr.dtype.kind not in "iuf" or arr.ndim != 2 or arr.shape[1] != 4:
            raise ValueError(f"shape {arr.shape}, dtype {arr.dtype}")
    except (TypeError, ValueError) as exc:
        raise DatasetError(
            f"{source}: video {video!r}: boxes must be an (n, 4) numeric array of x y w h ({exc})"
        ) from exc
    if arr.shape[0] != rows:
        raise DatasetError(
            f"{source}: video {video!r}: a tube of {rows} frames has {arr.shape[0]} boxes"
        )
    if arr.dtype.kind == "f" and not (
        np.isfinite(arr).all() and np.array_equal(arr, np.round(arr))
    ):
        raise DatasetError(f"{source}: video {video!r}: box coordinates must be whole pixels")
    boxes = xywh_to_inclusive(arr)
    if np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1]):
        raise DatasetError(f"{source}: video {video!r}: a box has a width or height below 1")
    h, w = resolution
    if np.any(boxes[:, 0] >= w) or np.any(boxes[:, 1] >= h) or np.any(boxes[:, 2:] < 0):
        raise DatasetError(
            f"{source}: video {video!r}: a box lies entirely outside the {w}x{h} frame"
        )
    clipped = boxes.copy()
    clipped[:, [0, 2]] = np.clip(clipped[:, [0, 2]], 0, w - 1)
    clipped[:, [1, 3]] = np.clip(clipped[:, [1, 3]], 0, h - 1)
    changed = int(np.any(clipped != boxes, axis=1).sum())
    return clipped.astype(np.float32), changed


def _warn_clipped(source: str, clipped: dict[str, int], resolution: tuple[int, int]) -> None:
    if clipped:
        video, n = next(iter(clipped.items()))
        log.warning(
            "%s: clipped %d box(es) of %d video(s) that extend outside the %dx%d frame "
            "(first: %r, %d box(es))",
            source,
            sum(clipped.values()),
            len(clipped),
            resolution[1],
            resolution[0],
            video,
            n,
        )


# --------------------------------------------------------------------------- .mat


def _scalar(value: Any, what: str, source: str) -> int:
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "iuf":
        raise DatasetError(f"{source}: {what} must be one number, got {arr.dtype} {arr.shape}")
    v = arr.reshape(-1)[0]
    if not float(v).is_integer():
        raise DatasetError(f"{source}: {what} must be an integer, got {v!r}")
    return int(v)


def _name(value: Any, source: str, index: int) -> str:
    arr = np.asarray(value).reshape(-1)
    if arr.size != 1 or arr.dtype.kind != "U" or not str(arr[0]):
        raise DatasetError(
            f"{source}: annot({index + 1}).name must be a video id like 'Class/v_..'"
        )
    return str(arr[0]).replace("\\", "/")


def _load_mat(path: Path) -> dict[str, Any]:
    from scipy.io import loadmat

    if not path.is_file():
        raise DatasetError(f"annotation file not found: {path}")
    try:
        return loadmat(path)
    except NotImplementedError as exc:  # MATLAB v7.3 (HDF5)
        raise DatasetError(
            f"cannot read {path}: MATLAB v7.3 files are not supported, save it with -v7 ({exc})"
        ) from exc
    except Exception as exc:  # truncated or foreign files raise many types
        raise DatasetError(
            f"cannot read {path} as a MATLAB file: {type(exc).__name__}: {exc}"
        ) from exc


def load_ucf_mat(
    path: str | Path,
    *,
    labels: Sequence[str] = UCF101_24_CLASSES,
    resolution: tuple[int, int] = UCF_RESOLUTION,
) -> TubeAnnotations:
    """Read UCF-101-24's corrected annotations (``trainAnnot.mat``, ``testAnnot.mat``,
    ``finalAnnots.mat``).

    Args:
        path: the ``.mat`` file (MATLAB v5/v7, variable ``annot``).
        labels: class names in id order (the 24 UCF-101-24 classes).
        resolution: ``(H, W)`` of the frames; boxes reaching outside are clipped with one
            warning per file.

    Returns:
        The converted annotations (see the module docstring), with video lengths.

    Raises:
        DatasetError: when the file is missing, truncated or not a MATLAB file, lacks the
            variable ``annot`` or one of its fields, or holds an inconsistent tube (frames outside
            the video, a class outside ``1..len(labels)``, a box count other than
            ``ef - sf + 1``, an empty box, a repeated video). Messages name the file and video.
    """
    path = Path(path)
    source = str(path)
    data = _load_mat(path)
    if "annot" not in data:
        found = sorted(k for k in data if not k.startswith("__"))
        raise DatasetError(f"{source}: no variable 'annot' (found: {found or 'none'})")
    annot = np.asarray(data["annot"])
    names = annot.dtype.names or ()
    missing = [f for f in MAT_FIELDS if f not in names]
    if missing:
        raise DatasetError(
            f"{source}: annot lacks field(s) {missing}; the corrected annotations have "
            f"{list(MAT_FIELDS)}"
        )
    labels = tuple(labels)
    tubes: dict[str, tuple[ActorTube, ...]] = {}
    nframes: dict[str, int] = {}
    clipped: dict[str, int] = {}
    for i, entry in enumerate(annot.reshape(-1)):
        video = _name(entry["name"], source, i)
        if video in tubes:
            raise DatasetError(f"{source}: video {video!r} appears twice")
        n = _scalar(entry["num_imgs"], f"num_imgs of video {video!r}", source)
        if n < 1:
            raise DatasetError(f"{source}: video {video!r} has num_imgs = {n}")
        raw = np.asarray(entry["tubes"])
        if raw.size and raw.dtype.names is None:
            raise DatasetError(f"{source}: tubes of video {video!r} must be a struct array")
        if raw.size:
            absent = [f for f in TUBE_FIELDS if f not in raw.dtype.names]
            if absent:
                raise DatasetError(
                    f"{source}: tubes of video {video!r} lack field(s) {absent}; a tube has "
                    f"{list(TUBE_FIELDS)}"
                )
        found: list[ActorTube] = []
        for tube in raw.reshape(-1):
            sf = _scalar(tube["sf"], f"sf of video {video!r}", source)
            ef = _scalar(tube["ef"], f"ef of video {video!r}", source)
            cls = _scalar(tube["class"], f"class of video {video!r}", source)
            if not 1 <= sf <= ef <= n:
                raise DatasetError(
                    f"{source}: video {video!r}: tube frames sf={sf}..ef={ef} (1-based) do not "
                    f"fit its {n} frames"
                )
            if not 1 <= cls <= len(labels):
                raise DatasetError(
                    f"{source}: video {video!r}: class {cls} is not in 1..{len(labels)}"
                )
            boxes, n_clipped = _checked_boxes(tube["boxes"], ef - sf + 1, resolution, source, video)
            if n_clipped:
                clipped[video] = clipped.get(video, 0) + n_clipped
            found.append(ActorTube(cls - 1, np.arange(sf - 1, ef), boxes))
        tubes[video] = tuple(found)
        nframes[video] = n
    if not tubes:
        raise DatasetError(f"{source}: annot holds no video")
    _warn_clipped(source, clipped, resolution)
    return TubeAnnotations(
        source=source,
        labels=labels,
        tubes=FrozenMap(tubes),
        nframes=FrozenMap(nframes),
        resolution=tuple(resolution),  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- ASL pickle


def _int(value: Any, what: str, source: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise DatasetError(f"{source}: {what} must be an integer, got {value!r}")
    return int(value)


def load_asl_pickle(
    path: str | Path,
    *,
    labels: Sequence[str] = UCF101_24_CLASSES,
    resolution: tuple[int, int] = UCF_RESOLUTION,
) -> TubeAnnotations:
    """Read an annotation pickle in the official ASL layout (``training_annots.pkl``...).

    Args:
        path: the pickle (read with the restricted unpickler).
        labels: class names in id order.
        resolution: ``(H, W)`` of the frames; boxes reaching outside are clipped with a warning.

    Returns:
        The converted annotations without video lengths (``nframes`` is ``None``) and with the
        annotated-frame lists as :attr:`~.annotations.TubeAnnotations.labelled` (human labels).

    Raises:
        DatasetError: when the file is missing, unsafe or corrupt, not a list of
            ``(video, tubes)`` pairs, or a tube is inconsistent (``end < start``, a label outside
            ``0..len(labels)-1``, a box count other than ``end - start + 1``, an annotated frame
            outside ``start..end``, a repeated video). Messages name the file and video.
    """
    path = Path(path)
    source = str(path)
    raw = load_pickle(path, "annotation file")
    if isinstance(raw, dict):
        hint = " (this is an ACT ground-truth pickle: use task.gt_file)" if "gttubes" in raw else ""
        raise DatasetError(
            f"{source}: an ASL annotation pickle is a list of (video, tubes) pairs, got a dict{hint}"
        )
    if not isinstance(raw, (list, tuple)) or not raw:
        raise DatasetError(
            f"{source}: an ASL annotation pickle is a non-empty list of (video, tubes) pairs, "
            f"got {type(raw).__name__}"
        )
    labels = tuple(labels)
    tubes: dict[str, tuple[ActorTube, ...]] = {}
    annotated: list[FrameRef] = []
    clipped: dict[str, int] = {}
    for i, item in enumerate(raw):
        if not isinstance(item, (list, tuple)) or len(item) != 2 or not isinstance(item[0], str):
            raise DatasetError(f"{source}: item {i} is not a (video name, tubes) pair")
        video = str(item[0]).replace("\\", "/")
        if video in tubes:
            raise DatasetError(f"{source}: video {video!r} appears twice")
        if not isinstance(item[1], (list, tuple)):
            raise DatasetError(f"{source}: video {video!r}: the tubes must be a list")
        found = []
        for k, tube in enumerate(item[1]):
            if not isinstance(tube, (list, tuple)) or len(tube) < 5:
                raise DatasetError(
                    f"{source}: video {video!r}: tube {k} must be (start, end, label, boxes, "
                    f"annotated_frames[, flag])"
                )
            start = _int(tube[0], f"video {video!r} tube {k} start", source)
            end = _int(tube[1], f"video {video!r} tube {k} end", source)
            label = _int(tube[2], f"video {video!r} tube {k} label", source)
            if not 0 <= start <= end:
                raise DatasetError(
                    f"{source}: video {video!r}: tube {k} frames {start}..{end} (0-based, "
                    f"inclusive) are not a range"
                )
            if not 0 <= label < len(labels):
                raise DatasetError(
                    f"{source}: video {video!r}: label {label} is not in 0..{len(labels) - 1}"
                )
            boxes, n_clipped = _checked_boxes(tube[3], end - start + 1, resolution, source, video)
            if n_clipped:
                clipped[video] = clipped.get(video, 0) + n_clipped
            marks = tube[4]
            if not isinstance(marks, (list, tuple, np.ndarray)):
                raise DatasetError(
                    f"{source}: video {video!r}: tube {k} annotated frames must be a list"
                )
            frames = [_int(f, f"video {video!r} annotated frame", source) for f in marks]
            outside = [f for f in frames if not start <= f <= end]
            if outside:
                raise DatasetError(
                    f"{source}: video {video!r}: annotated frame {outside[0]} lies outside its "
                    f"tube's frames {start}..{end}"
                )
            annotated += [FrameRef(video, f) for f in frames]
            found.append(ActorTube(label, np.arange(start, end + 1), boxes))
        tubes[video] = tuple(found)
    _warn_clipped(source, clipped, resolution)
    return TubeAnnotations(
        source=source,
        labels=labels,
        tubes=FrozenMap(tubes),
        nframes=None,
        resolution=tuple(resolution),  # type: ignore[arg-type]
        labelled=LabelState.from_frames(annotated),
    )


def load_ucf_annotations(
    path: str | Path,
    *,
    labels: Sequence[str] = UCF101_24_CLASSES,
    resolution: tuple[int, int] = UCF_RESOLUTION,
) -> TubeAnnotations:
    """Read a UCF-101-24 annotation file by its suffix: ``.mat`` (corrected annotations) or
    ``.pkl`` / ``.pickle`` (ASL layout).

    Raises:
        DatasetError: for another suffix, or anything :func:`load_ucf_mat` /
            :func:`load_asl_pickle` reject.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".mat":
        return load_ucf_mat(path, labels=labels, resolution=resolution)
    if suffix in (".pkl", ".pickle"):
        return load_asl_pickle(path, labels=labels, resolution=resolution)
    raise DatasetError(
        f"{path}: unknown annotation format {suffix or '(no suffix)'!r}; expected the corrected "
        "annotations (.mat) or an ASL annotation pickle (.pkl)"
    )
