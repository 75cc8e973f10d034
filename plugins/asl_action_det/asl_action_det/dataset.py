"""Loader of action-detection datasets in the ACT / J-HMDB on-disk layout.

The layout (reference specs §A.1, §A.5), as written by the real datasets' tools and by
:mod:`asl_action_det.synth`::

    <root>/<frames_dir>/<class>/<video>/00001.png ...   frames, numbered from 1
    <root>/<masks_dir>/<class>/<video>/puppet_mask.mat  optional: part_mask, H x W x T, > 0 = actor
    <root>/<gt_file>                                    ACT ground-truth pickle (six keys)

Frames may also come from video files (``<root>/<videos_dir>/<class>/<video>.avi``, decoded
with PyAV; :mod:`.video`), and the ground truth from UCF-101-24's corrected annotations or the
official ASL pickles (:mod:`.ucf101`) or J-HMDB-21's raw split and mask files (:mod:`.jhmdb`):
:func:`.layouts.open_dataset` converts all of them into the :class:`ActGroundTruth` this module
validates.

Conventions:

* Frame indices are **0-based** in this module's API (``read_frames``, ``ActorTube.frames``,
  ``frame_regions``), as everywhere in the core; the pickle's 1-based frame numbers are converted
  on load.
* :class:`ActorTube` boxes keep ACT's convention: ``x1, y1, x2, y2`` in 0-based pixels with
  **inclusive** ``x2, y2`` (the last pixel of the box). :class:`asl_core.Region` boxes, returned by
  :meth:`ActionDataset.frame_regions`, are continuous pixel coordinates with ``x2 = last pixel + 1``
  (so ``x2 - x1`` is the width): the conversion adds 1 to ``x2`` and ``y2``.
* The pixels of a box are those whose indices lie in ``round(x1)..round(x2)`` and
  ``round(y1)..round(y2)`` (inclusive); this is how boxes are filled when no mask exists.

Ground-truth pickles are untrusted input: they are read with :mod:`.safe_pickle`, never
``pickle.load``.
"""

from __future__ import annotations

import collections
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from attrs import cmp_using, field, frozen

from asl_core import (
    ConfigError,
    FrozenMap,
    LabelState,
    Region,
    VideoInfo,
    is_path_like,
    readonly_array,
)

from . import safe_pickle
from .errors import DatasetError
from .video import FrameFolders, VideoFiles

__all__ = [
    "ActGroundTruth",
    "ActionDataset",
    "ActorTube",
    "DatasetError",
    "VideoRecord",
    "as_frame_size",
    "load_act_gt",
    "read_part_mask",
    "resize_masks",
    "scale_boxes",
]

log = logging.getLogger(__name__)

GT_KEYS = ("labels", "gttubes", "nframes", "train_videos", "test_videos", "resolution")
MASK_FILE = "puppet_mask.mat"
MASK_VARIABLE = "part_mask"


# --------------------------------------------------------------------------- records


def _frames(value: Any) -> np.ndarray:
    return readonly_array(np.asarray(value).reshape(-1), dtype=np.int64)


def _boxes(value: Any) -> np.ndarray:
    return readonly_array(np.asarray(value, dtype=np.float32).reshape(-1, 4), dtype=np.float32)


@frozen
class ActorTube:
    """One actor's action instance: a box on each of a run of consecutive frames.

    Attributes:
        label: 0-based action class.
        frames: ``int64[n]`` 0-based, consecutive frame indices.
        boxes: ``float32[n, 4]`` ``x1, y1, x2, y2`` per frame in 0-based pixels, inclusive
            ``x2, y2`` (ACT convention).
    """

    label: int = field(converter=int)
    frames: np.ndarray = field(converter=_frames, eq=cmp_using(eq=np.array_equal), hash=False)
    boxes: np.ndarray = field(converter=_boxes, eq=cmp_using(eq=np.array_equal), hash=False)

    def __attrs_post_init__(self) -> None:
        if self.frames.size == 0 or self.boxes.shape[0] != self.frames.size:
            raise ValueError(
                f"tube needs n >= 1 frames and n boxes, got {self.frames.size} frames and "
                f"{self.boxes.shape[0]} boxes"
            )

    @property
    def start(self) -> int:
        """First frame (0-based)."""
        return int(self.frames[0])

    @property
    def end(self) -> int:
        """Last frame (0-based, inclusive)."""
        return int(self.frames[-1])

    def box_at(self, frame: int) -> np.ndarray | None:
        """The ``float32[4]`` inclusive box on 0-based ``frame``, or ``None`` outside the tube."""
        i = int(frame) - self.start
        return self.boxes[i] if 0 <= i < self.frames.size else None


@frozen
class VideoRecord:
    """One video of the dataset.

    Attributes:
        id: video id ``"<class>/<video>"``.
        label: 0-based class: the label of the last tube (ACT's rule), ``None`` without tubes.
        num_frames: ``F``; frames are ``0..F-1``.
        height, width: frame size in pixels.
        tubes: the actors' tubes, in the ground-truth file's order (a tube's position is its
            track id).
        split: ``"train"`` or ``"test"`` in the chosen split, ``None`` when in neither.
    """

    id: str
    label: int | None
    num_frames: int
    height: int
    width: int
    tubes: tuple[ActorTube, ...] = field(converter=tuple)
    split: str | None = None

    @property
    def info(self) -> VideoInfo:
        """The core's :class:`asl_core.VideoInfo` of this video."""
        return VideoInfo(self.id, self.num_frames, self.label, self.split or "train")


@frozen
class ActGroundTruth:
    """A validated ACT ground-truth pickle.

    Attributes:
        source: the file it was read from (for messages).
        labels: class names; a class's index is its position.
        nframes: ``{video: F}``.
        resolution: ``{video: (height, width)}``.
        tubes: ``{video: (ActorTube, ...)}``, every video of ``nframes`` (empty tuple: no actor).
        train_videos, test_videos: one tuple of video ids per split (split ``k`` is index
            ``k - 1``).
    """

    source: str
    labels: tuple[str, ...]
    nframes: FrozenMap[str, int]
    resolution: FrozenMap[str, tuple[int, int]]
    tubes: FrozenMap[str, tuple[ActorTube, ...]]
    train_videos: tuple[tuple[str, ...], ...]
    test_videos: tuple[tuple[str, ...], ...]

    @property
    def num_splits(self) -> int:
        """Number of train/test splits."""
        return len(self.train_videos)


# --------------------------------------------------------------------------- reading the pickle


def load_pickle(path: str | Path, what: str) -> Any:
    """Unpickle a user file through the restricted unpickler.

    Raises:
        DatasetError: ``"<what> not found: <path>"`` for a missing file, or the unpickler's
            message (naming the file) for an unsafe or corrupt one.
    """
    try:
        return safe_pickle.load(path)
    except FileNotFoundError as exc:
        raise DatasetError(f"{what} not found: {path}") from exc
    except safe_pickle.UnsafePickleError as exc:
        raise DatasetError(str(exc)) from exc


def _text(value: Any, what: str, source: str) -> str:
    if isinstance(value, bytes):
        return value.decode("latin1")
    if isinstance(value, str):
        return value
    raise DatasetError(f"{source}: {what} must be a string, got {type(value).__name__}")


def _integer(value: Any, what: str, source: str) -> int:
    if isinstance(value, bool):
        raise DatasetError(f"{source}: {what} must be an integer, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    raise DatasetError(f"{source}: {what} must be an integer, got {value!r}")


def _mapping(value: Any, what: str, source: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise DatasetError(f"{source}: {what} must be a dict, got {type(value).__name__}")
    return value


def _splits(
    value: Any, key: str, nframes: Mapping[str, int], source: str
) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise DatasetError(
            f"{source}: {key} must be a non-empty list of splits (lists of video ids)"
        )
    out = []
    for k, split in enumerate(value):
        if not isinstance(split, (list, tuple)):
            raise DatasetError(f"{source}: {key}[{k}] must be a list of video ids")
        ids = tuple(_text(v, f"{key}[{k}] entry", source) for v in split)
        for vid in ids:
            if vid not in nframes:
                raise DatasetError(f"{source}: video {vid!r} of {key}[{k}] is not in nframes")
        out.append(ids)
    return tuple(out)


def _tube(
    raw: Any,
    label: int,
    video: str,
    num_frames: int,
    size: tuple[int, int],
    source: str,
    clip: bool = True,
) -> tuple[ActorTube, int]:
    """Validate one ACT tube array; returns the tube and how many boxes were clipped (0 when
    ``clip`` is False)."""
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DatasetError(
            f"{source}: video {video!r}: a tube is not a numeric array ({exc})"
        ) from exc
    if arr.ndim != 2 or arr.shape[1] != 5 or arr.shape[0] == 0:
        raise DatasetError(
            f"{source}: video {video!r}: a tube must be an (n, 5) array with n >= 1 "
            f"(frame x1 y1 x2 y2), got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise DatasetError(f"{source}: video {video!r}: a tube holds NaN or infinite values")
    frames = arr[:, 0]
    if not np.array_equal(frames, np.round(frames)):
        raise DatasetError(f"{source}: video {video!r}: tube frame numbers must be integers")
    if frames.min() < 1 or frames.max() > num_frames:
        raise DatasetError(
            f"{source}: video {video!r}: tube frames {int(frames.min())}..{int(frames.max())} fall "
            f"outside the video's frames 1..{num_frames}"
        )
    # ACT's evaluation slices tubes by first and last frame, so gaps or disorder would corrupt it
    if frames.size > 1 and not np.all(np.diff(frames) == 1):
        raise DatasetError(
            f"{source}: video {video!r}: tube frames must be consecutive and increasing, got "
            f"{frames.astype(int).tolist()[:10]}..."
        )
    boxes = arr[:, 1:]
    if np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1]):
        raise DatasetError(f"{source}: video {video!r}: a box has x2 < x1 or y2 < y1")
    if not clip:
        return ActorTube(label, frames.astype(np.int64) - 1, boxes), 0
    h, w = size
    clipped = boxes.copy()
    clipped[:, [0, 2]] = np.clip(clipped[:, [0, 2]], 0, w - 1)
    clipped[:, [1, 3]] = np.clip(clipped[:, [1, 3]], 0, h - 1)
    changed = int(np.any(clipped != boxes, axis=1).sum())
    return ActorTube(label, frames.astype(np.int64) - 1, clipped), changed


def load_act_gt(path: str | Path, *, clip_boxes: bool = True) -> ActGroundTruth:
    """Read and validate an ACT ground-truth pickle (``UCF101v2-GT.pkl``, ``JHMDB-GT.pkl``...).

    The file is read with the restricted unpickler (numpy arrays and builtins only, latin-1 for
    Python-2 pickles). Boxes outside the image are clipped to it, with one warning per video,
    unless ``clip_boxes`` is False.

    Args:
        path: the pickle.
        clip_boxes: clip boxes to the image (what training needs). The box-AP evaluation
            (:mod:`.act_eval`) passes False: the reference metrics score the boxes as stored.

    Returns:
        The validated ground truth, frame numbers converted to 0-based indices.

    Raises:
        DatasetError: when the file is missing, unsafe or corrupt, a key is missing or mistyped,
            a video has no frames, a tube's frames fall outside its video or are not consecutive,
            or a box is inverted. The message names the file and, where it applies, the video.
    """
    source = str(path)
    raw = load_pickle(path, "ground-truth file")
    gt = _mapping(raw, "the ground-truth object", source)
    keys = {_text(k, "a top-level key", source) for k in gt}
    missing = [k for k in GT_KEYS if k not in keys]
    if missing:
        raise DatasetError(
            f"{source}: missing key(s) {missing}; an ACT ground truth has {list(GT_KEYS)}"
        )
    if keys - set(GT_KEYS):
        log.info("%s: ignoring extra keys %s", source, sorted(keys - set(GT_KEYS)))

    labels_raw = gt["labels"]
    if not isinstance(labels_raw, (list, tuple)) or not labels_raw:
        raise DatasetError(f"{source}: labels must be a non-empty list of class names")
    labels = tuple(_text(v, "a label", source) for v in labels_raw)

    nframes: dict[str, int] = {}
    for key, value in _mapping(gt["nframes"], "nframes", source).items():
        video = _text(key, "a video id", source)
        n = _integer(value, f"nframes of video {video!r}", source)
        if n < 1:
            raise DatasetError(f"{source}: video {video!r} is empty (nframes = {n})")
        nframes[video] = n

    resolution: dict[str, tuple[int, int]] = {}
    res_raw = {
        _text(k, "a video id", source): v
        for k, v in _mapping(gt["resolution"], "resolution", source).items()
    }
    for video in nframes:
        if video not in res_raw:
            raise DatasetError(f"{source}: video {video!r} has no resolution")
        value = res_raw[video]
        if not isinstance(value, (list, tuple, np.ndarray)) or len(value) != 2:
            raise DatasetError(
                f"{source}: video {video!r}: resolution must be (height, width), got {value!r}"
            )
        h, w = (_integer(v, f"resolution of video {video!r}", source) for v in value)
        if h < 1 or w < 1:
            raise DatasetError(
                f"{source}: video {video!r}: resolution must be positive, got {(h, w)}"
            )
        resolution[video] = (h, w)

    train = _splits(gt["train_videos"], "train_videos", nframes, source)
    test = _splits(gt["test_videos"], "test_videos", nframes, source)
    if len(train) != len(test):
        raise DatasetError(f"{source}: {len(train)} train splits but {len(test)} test splits")

    tubes: dict[str, tuple[ActorTube, ...]] = dict.fromkeys(nframes, ())
    for key, per_label in _mapping(gt["gttubes"], "gttubes", source).items():
        video = _text(key, "a video id", source)
        if video not in nframes:
            raise DatasetError(f"{source}: video {video!r} has tubes but is not in nframes")
        found: list[ActorTube] = []
        clipped = 0
        for label_key, arrays in _mapping(per_label, f"gttubes of video {video!r}", source).items():
            label = _integer(label_key, f"a label of video {video!r}", source)
            if not 0 <= label < len(labels):
                raise DatasetError(
                    f"{source}: video {video!r}: label {label} is not in 0..{len(labels) - 1}"
                )
            if not isinstance(arrays, (list, tuple)):
                arrays = [arrays]  # some writers store a single array instead of a list
            for raw_tube in arrays:
                tube, n_clipped = _tube(
                    raw_tube, label, video, nframes[video], resolution[video], source, clip_boxes
                )
                found.append(tube)
                clipped += n_clipped
        if clipped:
            log.warning(
                "%s: video %r: clipped %d box(es) that extend outside the %dx%d image",
                source,
                video,
                clipped,
                resolution[video][1],
                resolution[video][0],
            )
        tubes[video] = tuple(found)

    return ActGroundTruth(
        source=source,
        labels=labels,
        nframes=FrozenMap(nframes),
        resolution=FrozenMap(resolution),
        tubes=FrozenMap(tubes),
        train_videos=train,
        test_videos=test,
    )


# --------------------------------------------------------------------------- geometry and masks


def as_frame_size(value: Any) -> tuple[int, int] | None:
    """Convert ``(height, width)`` (a list from a config) to a tuple; ``None`` stays ``None``.

    Raises:
        ValueError: for anything but two sizes >= 1.
    """
    if value is None:
        return None
    try:
        size = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"frame_size must be (height, width) or None, got {value!r}") from None
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"frame_size must be (height, width) with sizes >= 1, got {value!r}")
    return size  # type: ignore[return-value]


def scale_boxes(boxes: np.ndarray, native: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Scale inclusive ``x1, y1, x2, y2`` boxes from a ``native`` to a resized frame.

    A box covers the pixel edges ``x1 .. x2 + 1``; those edges are scaled and the inclusive
    ``x2`` is the scaled right edge minus 1 (never left of ``x1``), clipped to the new frame.

    Args:
        boxes: ``float[n, 4]`` inclusive boxes in ``native`` pixels.
        native: ``(H, W)`` of the files.
        size: ``(H', W')`` of the resized frames.

    Returns:
        ``float32[n, 4]`` inclusive boxes in ``size`` pixels.
    """
    (h, w), (nh, nw) = native, size
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    sx, sy = nw / w, nh / h
    out = np.empty_like(b)
    out[:, 0], out[:, 1] = b[:, 0] * sx, b[:, 1] * sy
    out[:, 2] = np.maximum((b[:, 2] + 1) * sx - 1, out[:, 0])
    out[:, 3] = np.maximum((b[:, 3] + 1) * sy - 1, out[:, 1])
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, nw - 1)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, nh - 1)
    return out.astype(np.float32)


def resize_masks(masks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of ``bool[F, H, W]`` masks to ``bool[F, H', W']``.

    Output pixel ``i`` takes input pixel ``floor((i + 0.5) * H / H')`` (pixel centres).
    """
    _, h, w = masks.shape
    if (h, w) == tuple(size):
        return masks
    rows = np.minimum(((np.arange(size[0]) + 0.5) * h / size[0]).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(size[1]) + 0.5) * w / size[1]).astype(np.int64), w - 1)
    return np.ascontiguousarray(masks[:, rows][:, :, cols])


def read_part_mask(path: str | Path) -> np.ndarray:
    """Read a J-HMDB puppet mask: MATLAB variable ``part_mask``, ``H x W x T``.

    Args:
        path: ``puppet_mask/<class>/<video>/puppet_mask.mat``.

    Returns:
        ``bool[H, W, T]`` (``> 0`` is the actor); slice ``t`` is 0-based frame ``t``. A 2-D
        variable is one slice.

    Raises:
        DatasetError: when the file is missing, unreadable (MATLAB v7.3 included), has no
            ``part_mask`` or an array of another rank; the message names the file.
    """
    from scipy.io import loadmat

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"missing mask file {path}")
    try:
        data = loadmat(path, variable_names=[MASK_VARIABLE])
    except NotImplementedError as exc:  # MATLAB v7.3 (HDF5) files
        raise DatasetError(
            f"cannot read mask file {path}: MATLAB v7.3 files are not supported ({exc})"
        ) from exc
    except Exception as exc:
        raise DatasetError(f"cannot read mask file {path}: {type(exc).__name__}: {exc}") from exc
    if MASK_VARIABLE not in data:
        raise DatasetError(f"mask file {path} has no variable {MASK_VARIABLE!r}")
    part = np.asarray(data[MASK_VARIABLE])
    if part.ndim == 2:
        part = part[:, :, None]
    if part.ndim != 3 or part.shape[2] == 0 or part.dtype.kind not in "biuf":
        raise DatasetError(
            f"mask file {path}: {MASK_VARIABLE} must be H x W x T with H x W = the video's size "
            f"and T >= 1, got {part.shape}"
        )
    return part > 0


# --------------------------------------------------------------------------- the dataset


class _LruCache:
    """Least-recently-used cache bounded by the total bytes of its values."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = int(max_bytes)
        self._items: collections.OrderedDict[str, tuple[Any, int]] = collections.OrderedDict()
        self._bytes = 0

    def get(self, key: str) -> Any:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: str, value: Any, nbytes: int) -> bool:
        """Store ``value``; returns False (and stores nothing) when it alone exceeds the bound."""
        if nbytes > self.max_bytes:
            return False
        if key in self._items:
            self._bytes -= self._items.pop(key)[1]
        while self._items and self._bytes + nbytes > self.max_bytes:
            self._bytes -= self._items.popitem(last=False)[1][1]
        self._items[key] = (value, nbytes)
        self._bytes += nbytes
        return True

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0


class ActionDataset:
    """An action-detection dataset: frames (or video files), tubes and (optionally) masks.

    Build it with :meth:`from_act_layout`, or with :func:`.layouts.open_dataset` for the
    UCF-101-24 and J-HMDB-21 layouts. Decoded frames and masks are kept in LRU caches of whole
    videos, bounded in bytes; every method returns fresh arrays, so callers may modify them.

    Frame counts are checked against the annotations on a video's first use: a frame folder
    must hold exactly the files ``1..F``, a video file must decode to exactly ``F`` frames; a
    difference raises :class:`DatasetError` naming the file (``asl-run data check`` finds them
    all beforehand).

    With ``frame_size`` every frame is resized (bilinear) to ``H x W``, masks with nearest
    neighbours and boxes scaled to match, so the whole task (training, scoring, metrics, the
    simulated oracle) works at that size. Records report the resized size; ``gt.resolution``
    keeps the files' size.

    Attributes:
        root: the dataset folder.
        gt: the validated ground truth (boxes at the files' resolution).
        split: the 1-based train/test split in use.
        source: where frames come from (:class:`.video.FrameFolders` or
            :class:`.video.VideoFiles`).
        frame_size: ``(H, W)`` every frame is resized to, or ``None`` (the files' size).
        initial_labels: frames the annotation file marks as labelled (the official ASL
            pickles' annotated-frame lists), or ``None`` when the file has no such lists.
    """

    def __init__(
        self,
        root: str | Path,
        gt: ActGroundTruth,
        *,
        split: int = 1,
        frames_dir: str = "Frames",
        frame_pattern: str = "{:05d}.png",
        masks_dir: str | None = "puppet_mask",
        source: FrameFolders | VideoFiles | None = None,
        frame_size: Sequence[int] | None = None,
        initial_labels: LabelState | None = None,
        cache_bytes: int = 512 * 2**20,
    ) -> None:
        """Wrap validated ground truth; see :meth:`from_act_layout` for the arguments.

        ``source`` replaces ``frames_dir`` / ``frame_pattern`` when given.
        """
        self.root = Path(root)
        self.gt = gt
        if not 1 <= int(split) <= gt.num_splits:
            raise ConfigError(
                f"{gt.source}: split {split} does not exist; choose 1..{gt.num_splits}"
            )
        self.split = int(split)
        self.frames_dir = frames_dir
        self.frame_pattern = frame_pattern
        self.source = (
            source if source is not None else FrameFolders(self.root / frames_dir, frame_pattern)
        )
        self.masks_dir = masks_dir
        try:
            self.frame_size = as_frame_size(frame_size)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self.initial_labels = initial_labels
        self._frames = _LruCache(cache_bytes)
        self._masks = _LruCache(max(cache_bytes // 4, 1))
        self._counted: set[str] = set()  # videos whose frame count was checked
        self._mask_warned: set[str] = set()
        self._records: dict[str, VideoRecord] = {}
        train = set(gt.train_videos[self.split - 1])
        test = set(gt.test_videos[self.split - 1])
        for video, n in gt.nframes.items():
            if is_path_like(video):
                # ids become frame-folder and video-file paths: none may leave the dataset
                raise DatasetError(
                    f"{gt.source}: video id {video!r} is not a relative name inside the dataset "
                    "folder (absolute, empty, or with a '.' / '..' component); refusing it"
                )
            tubes = gt.tubes.get(video, ())
            split_name = "train" if video in train else "test" if video in test else None
            native = gt.resolution[video]
            h, w = self.frame_size or native
            if (h, w) != native:
                tubes = tuple(
                    ActorTube(t.label, t.frames, scale_boxes(t.boxes, native, (h, w)))
                    for t in tubes
                )
            label = tubes[-1].label if tubes else None
            self._records[video] = VideoRecord(video, label, n, h, w, tubes, split_name)

    @classmethod
    def from_act_layout(
        cls,
        root: str | Path,
        gt_file: str | Path,
        *,
        split: int = 1,
        frames_dir: str = "Frames",
        frame_pattern: str = "{:05d}.png",
        masks_dir: str | None = "puppet_mask",
        frame_size: Sequence[int] | None = None,
        cache_bytes: int = 512 * 2**20,
    ) -> ActionDataset:
        """Open a dataset folder in the ACT layout.

        Args:
            root: the dataset folder.
            gt_file: the ACT ground-truth pickle, relative to ``root`` or absolute.
            split: 1-based train/test split (UCF101-24 has 1, J-HMDB-21 has 3).
            frames_dir: folder under ``root`` holding ``<video>/<frame files>``.
            frame_pattern: frame file name from the 1-based frame number (``"{:05d}.jpg"`` for
                UCF101-24 in the ACT layout).
            masks_dir: folder under ``root`` holding ``<video>/puppet_mask.mat``; ``None`` or a
                missing folder means a box-only dataset (masks are then filled boxes).
            frame_size: ``(H, W)`` to resize every frame to; ``None`` keeps the files' size.
            cache_bytes: bound of the decoded-frames cache (masks get a quarter of it).

        Returns:
            The dataset.

        Raises:
            DatasetError: when the ground truth is missing, unsafe or invalid (see
                :func:`load_act_gt`).
            ConfigError: when ``split`` does not exist or ``frame_pattern`` is not a pattern.
        """
        root = Path(root)
        gt_path = Path(gt_file) if Path(gt_file).is_absolute() else root / gt_file
        return cls(
            root,
            load_act_gt(gt_path),
            split=split,
            frames_dir=frames_dir,
            frame_pattern=frame_pattern,
            masks_dir=masks_dir,
            frame_size=frame_size,
            cache_bytes=cache_bytes,
        )

    # ------------------------------------------------------------------ records

    @property
    def labels(self) -> tuple[str, ...]:
        """Class names in label order."""
        return self.gt.labels

    def videos(self, split: Literal["train", "test"]) -> list[VideoRecord]:
        """The videos of ``split`` in the chosen split, in the ground-truth file's order."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        ids = (self.gt.train_videos if split == "train" else self.gt.test_videos)[self.split - 1]
        return [self._records[v] for v in ids]

    def video(self, video_id: str) -> VideoRecord:
        """The record of one video.

        Raises:
            KeyError: when the ground truth has no such video.
        """
        try:
            return self._records[video_id]
        except KeyError:
            raise KeyError(f"{self.gt.source} has no video {video_id!r}") from None

    def frame_path(self, video_id: str, frame: int) -> Path:
        """The file of 0-based ``frame`` of ``video_id`` (frame-folder sources only).

        Raises:
            ValueError: when the frames come from video files.
        """
        if not isinstance(self.source, FrameFolders):
            raise ValueError(f"{self.source!r} stores whole videos, not frame files")
        return self.source.frame_path(video_id, frame)

    def video_path(self, video_id: str) -> Path:
        """The frame folder or the video file of ``video_id``."""
        return self.source.location(video_id)

    def mask_path(self, video_id: str) -> Path | None:
        """The puppet-mask file of ``video_id`` (``None`` for a box-only dataset)."""
        if self.masks_dir is None:
            return None
        return self.root / self.masks_dir / video_id / MASK_FILE

    # ------------------------------------------------------------------ frames

    def _indices(
        self, record: VideoRecord, frames: Sequence[int] | np.ndarray | None
    ) -> np.ndarray:
        if frames is None:
            return np.arange(record.num_frames)
        idx = np.asarray(frames).reshape(-1)
        if idx.size and idx.dtype.kind not in "iu":
            raise TypeError(f"frame indices must be integers, got dtype {idx.dtype}")
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= record.num_frames):
            raise IndexError(
                f"video {record.id!r} has frames 0..{record.num_frames - 1}, asked for "
                f"{int(idx.min())}..{int(idx.max())}"
            )
        return idx

    def _fit(self, record: VideoRecord, arr: np.ndarray, path: Path, what: str) -> np.ndarray:
        """Check a decoded frame's size against the ground truth, then resize it if asked."""
        native = self.gt.resolution[record.id]
        if arr.shape[:2] != native:
            raise DatasetError(
                f"{what} {path} is {arr.shape[1]}x{arr.shape[0]}, but {self.gt.source} gives "
                f"video {record.id!r} a resolution of {native[1]}x{native[0]}"
            )
        if arr.shape[:2] != (record.height, record.width):
            from PIL import Image

            resized = Image.fromarray(arr).resize((record.width, record.height), Image.BILINEAR)
            arr = np.asarray(resized)
        return arr

    def _check_count(self, record: VideoRecord) -> None:
        if record.id in self._counted or not isinstance(self.source, FrameFolders):
            return  # video files are counted while they decode
        self.source.check_count(record.id, record.num_frames, self.gt.source)
        self._counted.add(record.id)

    def _load(self, record: VideoRecord, wanted: np.ndarray) -> np.ndarray:
        """Decode the sorted, unique 0-based frames ``wanted`` as ``uint8[n, H, W, 3]``."""
        out = np.empty((wanted.size, record.height, record.width, 3), dtype=np.uint8)
        if isinstance(self.source, FrameFolders):
            for i, f in enumerate(wanted):
                path = self.source.frame_path(record.id, int(f))
                out[i] = self._fit(record, self.source.read(record.id, int(f)), path, "frame file")
            return out
        path = self.source.location(record.id)
        slot = np.full(record.num_frames, -1, dtype=np.int64)
        slot[wanted] = np.arange(wanted.size)
        n = 0
        for n, frame in enumerate(self.source.frames(record.id), start=1):
            if n > record.num_frames:
                raise DatasetError(
                    f"video file {path} has more than the {record.num_frames} frames "
                    f"{self.gt.source} gives video {record.id!r}"
                )
            if slot[n - 1] >= 0:
                out[slot[n - 1]] = self._fit(record, frame, path, "video file")
        if n != record.num_frames:
            raise DatasetError(
                f"video file {path} decodes to {n} frames, but {self.gt.source} gives video "
                f"{record.id!r} {record.num_frames}"
            )
        return out

    def read_frames(
        self, video_id: str, frames: Sequence[int] | np.ndarray | None = None
    ) -> np.ndarray:
        """Decode frames of a video as RGB.

        Frame folders are read file by file (only the missing frames of the cached video);
        a video file is decoded whole on first use. To go through a whole long video without
        caching it, use :meth:`stream_frames`.

        Args:
            video_id: the video.
            frames: 0-based frame indices, in any order, repeats allowed; ``None`` = all frames.

        Returns:
            ``uint8[n, H, W, 3]`` (``frame_size`` when set), a new array.

        Raises:
            KeyError: for an unknown video.
            IndexError: for a frame index outside ``0..F-1``.
            DatasetError: when a frame file or the video file is missing, unreadable, of the
                wrong size, or holds a different number of frames than the annotations (the
                message names the file).
        """
        record = self.video(video_id)
        idx = self._indices(record, frames)
        shape = (record.num_frames, record.height, record.width, 3)
        self._check_count(record)
        whole = not isinstance(self.source, FrameFolders)
        entry = self._frames.get(video_id)
        if entry is None:
            entry = (np.empty(shape, dtype=np.uint8), np.zeros(record.num_frames, dtype=bool))
            if not self._frames.put(video_id, entry, math.prod(shape)):
                # too large to cache: decode just what was asked
                wanted, inverse = np.unique(idx, return_inverse=True)
                return self._load(record, wanted)[inverse.reshape(-1)]
        pixels, loaded = entry
        todo = np.flatnonzero(~loaded) if whole else np.unique(idx[~loaded[idx]])
        if todo.size:
            pixels[todo] = self._load(record, todo)
            loaded[todo] = True
        return pixels[idx]

    def stream_frames(self, video_id: str, chunk: int) -> Iterator[np.ndarray]:
        """Decode a whole video as consecutive chunks of frames, holding one chunk at a time.

        Chunk ``k`` holds frames ``[k * chunk, min((k + 1) * chunk, F))``. Nothing is added to the
        frame cache, so a video far larger than memory streams in bounded space:

        * frame folders read only each chunk's files (frames already in the cache are copied
          from it instead, but a cached video is never filled in);
        * a video file is decoded once, sequentially (PyAV); when the whole video is already
          cached it is sliced instead. The last chunk comes after the decoder has ended, so a
          file with more or fewer frames than the annotations raises before the video's last
          frames are handed out.

        Args:
            video_id: the video.
            chunk: frames per chunk, ``>= 1``.

        Yields:
            ``uint8[n, H, W, 3]`` (``frame_size`` when set), new arrays; ``n == chunk`` except
            for the last chunk.

        Raises:
            KeyError: for an unknown video.
            ValueError: for ``chunk < 1``.
            DatasetError: as :meth:`read_frames` (a missing, unreadable or wrongly sized frame,
                a frame count that differs from the annotations).
        """
        record = self.video(video_id)
        if int(chunk) < 1:
            raise ValueError(f"chunk must be >= 1 frame, got {chunk}")
        chunk = int(chunk)
        n = record.num_frames
        self._check_count(record)
        entry = self._frames.get(video_id)
        if isinstance(self.source, FrameFolders):
            for start in range(0, n, chunk):
                wanted = np.arange(start, min(start + chunk, n))
                if entry is None:
                    yield self._load(record, wanted)
                    continue
                pixels, loaded = entry
                out = pixels[wanted]  # a copy; frames not loaded yet are overwritten below
                todo = ~loaded[wanted]
                if todo.any():
                    out[todo] = self._load(record, wanted[todo])
                yield out
            return
        if entry is not None and entry[1].all():
            for start in range(0, n, chunk):
                yield entry[0][start : start + chunk].copy()
            return
        yield from self._stream_video_file(record, chunk)

    def _stream_video_file(self, record: VideoRecord, chunk: int) -> Iterator[np.ndarray]:
        """Decode a video file once, in order, yielding ``chunk`` frames at a time."""
        path = self.source.location(record.id)
        shape = (record.height, record.width, 3)
        buf = np.empty((min(chunk, record.num_frames), *shape), dtype=np.uint8)
        filled = 0
        n = 0
        decoded = self.source.frames(record.id)
        try:
            for n, frame in enumerate(decoded, start=1):
                if n > record.num_frames:
                    raise DatasetError(
                        f"video file {path} has more than the {record.num_frames} frames "
                        f"{self.gt.source} gives video {record.id!r}"
                    )
                buf[filled] = self._fit(record, frame, path, "video file")
                filled += 1
                # the video's last chunk waits for the decoder's end (frame-count check)
                if filled == buf.shape[0] and n < record.num_frames:
                    yield buf
                    buf = np.empty((min(chunk, record.num_frames - n), *shape), dtype=np.uint8)
                    filled = 0
        finally:
            decoded.close()  # closes the container even when the caller stops early
        if n != record.num_frames:
            raise DatasetError(
                f"video file {path} decodes to {n} frames, but {self.gt.source} gives video "
                f"{record.id!r} {record.num_frames}"
            )
        yield buf

    # ------------------------------------------------------------------ masks

    def _mask(self, record: VideoRecord) -> np.ndarray:
        """The cached ``bool[F, H, W]`` actor mask (do not modify)."""
        cached = self._masks.get(record.id)
        if cached is not None:
            return cached
        path = self.mask_path(record.id)
        if path is None or not (self.root / str(self.masks_dir)).is_dir():
            mask = self._box_mask(record)
        elif not path.is_file():
            if record.id not in self._mask_warned:
                self._mask_warned.add(record.id)
                log.warning(
                    "missing mask file %s: using the boxes of video %r as its mask", path, record.id
                )
            mask = self._box_mask(record)
        else:
            mask = self._read_mask(record, path)
        mask.setflags(write=False)
        self._masks.put(record.id, mask, mask.nbytes)
        return mask

    def _box_mask(self, record: VideoRecord) -> np.ndarray:
        mask = np.zeros((record.num_frames, record.height, record.width), dtype=bool)
        for tube in record.tubes:
            for f, (x1, y1, x2, y2) in zip(
                tube.frames, np.rint(tube.boxes).astype(np.int64), strict=True
            ):
                mask[f, y1 : y2 + 1, x1 : x2 + 1] = True
        return mask

    def _read_mask(self, record: VideoRecord, path: Path) -> np.ndarray:
        part = read_part_mask(path)
        native = self.gt.resolution[record.id]
        if part.shape[:2] != native:
            raise DatasetError(
                f"mask file {path}: {MASK_VARIABLE} must be H x W x T with H x W = "
                f"{native[0]} x {native[1]} and T >= 1, got {part.shape}"
            )
        slices = part.shape[2]
        if slices != record.num_frames and record.id not in self._mask_warned:
            # J-HMDB quirk: a few videos have fewer mask slices than frames; reuse the last one.
            # Once per video: an LRU eviction re-reads the file but says nothing new.
            self._mask_warned.add(record.id)
            log.warning(
                "mask file %s has %d slices for the %d frames of video %r; %s",
                path,
                slices,
                record.num_frames,
                record.id,
                "repeating the last slice"
                if slices < record.num_frames
                else "ignoring the extra slices",
            )
        index = np.minimum(np.arange(record.num_frames), slices - 1)
        mask = np.ascontiguousarray(np.transpose(part, (2, 0, 1))[index])
        return resize_masks(mask, (record.height, record.width))

    def gt_mask(self, video_id: str) -> np.ndarray:
        """The actor mask of every frame: the puppet mask if there is one, else filled boxes.

        Args:
            video_id: the video.

        Returns:
            ``bool[F, H, W]``, a new array; True on pixels of any actor.

        Raises:
            KeyError: for an unknown video.
            DatasetError: when the mask file is unreadable or has the wrong size.
        """
        return self._mask(self.video(video_id)).copy()

    def frame_regions(self, video_id: str, frame: int) -> tuple[Region, ...]:
        """The ground-truth actors on one frame, as the core's :class:`asl_core.Region` values.

        One region per tube that covers ``frame``: ``track_id`` is the tube's position in the
        video, ``category`` its label, ``box`` the tube's box in Region convention (``x2, y2`` =
        last pixel + 1) and ``mask`` the COCO RLE of the video's actor mask restricted to that box.

        Args:
            video_id: the video.
            frame: 0-based frame index.

        Returns:
            The regions (an empty tuple on a frame with no actor).

        Raises:
            KeyError: for an unknown video.
            IndexError: for a frame outside the video.
            DatasetError: when the mask file is unreadable.
        """
        record = self.video(video_id)
        frame = int(self._indices(record, [frame])[0])
        present = [(k, tube, tube.box_at(frame)) for k, tube in enumerate(record.tubes)]
        present = [(k, tube, box) for k, tube, box in present if box is not None]
        if not present:
            return ()
        try:
            from pycocotools import mask as mask_utils
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise ImportError("frame_regions needs pycocotools: pip install pycocotools") from exc
        mask = self._mask(record)[frame]
        regions = []
        for k, tube, box in present:
            x1, y1, x2, y2 = (int(v) for v in np.rint(box))
            actor = np.zeros((record.height, record.width), dtype=np.uint8, order="F")
            actor[y1 : y2 + 1, x1 : x2 + 1] = mask[y1 : y2 + 1, x1 : x2 + 1]
            rle = mask_utils.encode(actor)
            b = [float(v) for v in box]
            regions.append(Region(k, tube.label, (b[0], b[1], b[2] + 1.0, b[3] + 1.0), rle))
        return tuple(regions)

    # ------------------------------------------------------------------ checks

    def verify(self, split: Literal["train", "test"] | None = None) -> None:
        """Check that every frame file or video file (and mask file, when masks exist) of the
        videos is there.

        Only file existence is checked, so it is fast; decoding errors and frame counts surface
        when read (or with ``asl-run data check``).

        Args:
            split: check only this part of the chosen split; ``None`` = every video.

        Raises:
            DatasetError: naming the first missing file and how many are missing.
        """
        records = self.videos(split) if split else list(self._records.values())
        missing: list[Path] = []
        masks_exist = self.masks_dir is not None and (self.root / self.masks_dir).is_dir()
        for record in records:
            if isinstance(self.source, FrameFolders):
                missing += [
                    p
                    for f in range(record.num_frames)
                    if not (p := self.source.frame_path(record.id, f)).is_file()
                ]
            elif not (p := self.source.location(record.id)).is_file():
                missing.append(p)
            mask = self.mask_path(record.id)
            if masks_exist and mask is not None and not mask.is_file():
                missing.append(mask)
        if missing:
            raise DatasetError(
                f"{len(missing)} dataset file(s) missing under {self.root}, e.g. {missing[0]}"
            )

    def clear_cache(self) -> None:
        """Drop every decoded frame and mask."""
        self._frames.clear()
        self._masks.clear()
