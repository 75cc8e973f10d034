"""Frozen value types that cross plugin boundaries.

Everything a plugin receives from the core or returns to it is one of these immutable attrs values.
attrs' ``frozen`` stops attribute assignment but not writes into a numpy array, so every array
field is copied on construction and made read-only (``setflags(write=False)``); arrays compare with
``numpy.array_equal`` and such values are not hashable. Mappings are :class:`FrozenMap`, a read-only,
picklable mapping.

Frame indices are **0-based** everywhere in the core (loaders convert 1-based dataset formats).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

import numpy as np
from attrs import cmp_using, field, frozen, validators

K = TypeVar("K")
V = TypeVar("V")

__all__ = [
    "DATA_PROBLEM_KINDS",
    "CycleResult",
    "DataCheckReport",
    "DataProblem",
    "FrameAnnotation",
    "FrameRef",
    "FrameStats",
    "FrozenMap",
    "LabelState",
    "OutputChunk",
    "Region",
    "Selection",
    "VideoInfo",
    "frame_array",
    "readonly_array",
]


# --------------------------------------------------------------------------- helpers


def readonly_array(a: Any, dtype: Any = None) -> np.ndarray:
    """Return a read-only copy of ``a`` (optionally cast to ``dtype``)."""
    arr = np.array(a, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


def frame_array(frames: Any) -> np.ndarray:
    """Return frame indices as a sorted, duplicate-free, read-only ``int64`` array.

    Raises:
        ValueError: if an index is negative or not an integer.
    """
    arr = np.asarray(frames)
    if arr.size == 0:
        return readonly_array(np.empty(0, dtype=np.int64))
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"frame indices must be integers, got dtype {arr.dtype}")
    arr = np.unique(arr.astype(np.int64).ravel())
    if arr[0] < 0:
        raise ValueError(f"frame indices must be >= 0, got {int(arr[0])}")
    arr.setflags(write=False)
    return arr


def _value_eq(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    return bool(a == b)


class FrozenMap(Mapping[K, V], Generic[K, V]):
    """A read-only, picklable mapping that compares numpy values with ``array_equal``.

    ``types.MappingProxyType`` is read-only too but cannot be pickled, and plugins' values must
    survive pickling (process pools, ``torch.distributed``).
    """

    __slots__ = ("_data",)
    _data: dict[K, V]

    def __init__(self, data: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        object.__setattr__(self, "_data", dict(data))

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("FrozenMap is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        if self.keys() != other.keys():
            return False
        return all(_value_eq(self._data[k], other[k]) for k in self._data)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (self._data,))

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


def _frozen_map(m: Mapping[Any, Any] | Iterable[tuple[Any, Any]] | None) -> FrozenMap[Any, Any]:
    if isinstance(m, FrozenMap):
        return m
    return FrozenMap(m or ())


def _frames_map(m: Mapping[str, Any] | None) -> FrozenMap[str, np.ndarray]:
    """Convert ``{video: frames}`` to a FrozenMap of sorted read-only arrays, dropping empties."""
    out: dict[str, np.ndarray] = {}
    for video, frames in (m or {}).items():
        arr = frame_array(frames)
        if arr.size:
            out[str(video)] = arr
    return FrozenMap(out)


def _readonly_arrays(m: Mapping[str, Any] | None) -> FrozenMap[str, np.ndarray]:
    """Copy every value into a read-only numpy array (dtype kept)."""
    return FrozenMap({str(k): readonly_array(v) for k, v in (m or {}).items()})


_EMPTY_FRAMES = frame_array([])


# --------------------------------------------------------------------------- pool


@frozen
class VideoInfo:
    """One video of a task's pool.

    Attributes:
        id: unique video id, e.g. ``"Basketball/v_Basketball_g01_c01"``.
        num_frames: number of frames ``F`` (frames are indexed ``0..F-1``).
        label: 0-based action class of the video, or ``None`` when the task has none.
        split: ``"train"`` for the active-learning pool, ``"test"`` for evaluation.
    """

    id: str = field(validator=validators.instance_of(str))
    num_frames: int = field(converter=int)
    label: int | None = field(default=None)
    split: str = "train"

    @num_frames.validator
    def _check_frames(self, _attr: Any, value: int) -> None:
        if value < 1:
            raise ValueError(f"video {self.id!r}: num_frames must be >= 1, got {value}")


@frozen(order=True)
class FrameRef:
    """A frame of a video: ``(video, frame)`` with a 0-based frame index."""

    video: str
    frame: int = field(converter=int)

    @frame.validator
    def _check_frame(self, _attr: Any, value: int) -> None:
        if value < 0:
            raise ValueError(f"frame index must be >= 0, got {value} for video {self.video!r}")


# --------------------------------------------------------------------------- labels


@frozen
class LabelState:
    """Which frames of which videos carry labels. Immutable; grow it with :meth:`with_added`.

    Human (purchased) labels and pseudo-labels are kept apart: only ``human`` frames count
    towards the budget and are excluded from selection; ``pseudo`` frames (e.g. interpolated
    frames imported from an annotation tool) may help training but are never counted as bought.

    Attributes:
        human: ``{video: int64[n]}`` sorted frame indices labelled by an oracle.
        pseudo: ``{video: int64[m]}`` sorted frame indices with pseudo-labels only.
    """

    human: FrozenMap[str, np.ndarray] = field(factory=FrozenMap, converter=_frames_map)
    pseudo: FrozenMap[str, np.ndarray] = field(factory=FrozenMap, converter=_frames_map)

    @classmethod
    def from_frames(cls, frames: Iterable[FrameRef], *, pseudo: bool = False) -> LabelState:
        """Build a state from frame references."""
        return cls().with_added(frames, pseudo=pseudo)

    def labelled(self, video: str) -> np.ndarray:
        """Sorted 0-based indices of the human-labelled frames of ``video`` (may be empty)."""
        return self.human.get(video, _EMPTY_FRAMES)

    def pseudo_labelled(self, video: str) -> np.ndarray:
        """Sorted 0-based indices of the pseudo-labelled frames of ``video`` (may be empty)."""
        return self.pseudo.get(video, _EMPTY_FRAMES)

    def is_labelled(self, ref: FrameRef) -> bool:
        """True when ``ref`` carries a human label."""
        frames = self.labelled(ref.video)
        i = int(np.searchsorted(frames, ref.frame))
        return i < frames.size and int(frames[i]) == ref.frame

    @property
    def num_labelled(self) -> int:
        """Total number of human-labelled frames over all videos."""
        return int(sum(a.size for a in self.human.values()))

    def with_added(
        self, frames: Iterable[FrameRef] | Selection, *, pseudo: bool = False
    ) -> LabelState:
        """Return a new state with ``frames`` added (to ``pseudo`` when ``pseudo=True``).

        A frame that becomes human-labelled is removed from the pseudo set.
        """
        refs = frames.frames if isinstance(frames, Selection) else tuple(frames)
        added: dict[str, list[int]] = {}
        for ref in refs:
            added.setdefault(ref.video, []).append(ref.frame)
        human = dict(self.human)
        pseudo_map = dict(self.pseudo)
        target = pseudo_map if pseudo else human
        for video, new in added.items():
            old = target.get(video, _EMPTY_FRAMES)
            target[video] = np.concatenate([old, np.asarray(new, dtype=np.int64)])
        if not pseudo:
            for video in added:
                if video in pseudo_map:
                    pseudo_map[video] = np.setdiff1d(pseudo_map[video], human[video])
        else:
            for video in added:
                if video in human:
                    pseudo_map[video] = np.setdiff1d(pseudo_map[video], human[video])
        return LabelState(human=human, pseudo=pseudo_map)


# --------------------------------------------------------------------------- scoring


@frozen
class FrameStats:
    """Per-frame statistics of one video, produced by ``Scorer.frame_stats``.

    Attributes:
        video: the video id.
        num_frames: ``F``.
        values: named arrays whose first axis has length ``F`` (e.g. ``{"u": float[F]}``).
    """

    video: str
    num_frames: int = field(converter=int)
    values: FrozenMap[str, np.ndarray] = field(factory=FrozenMap, converter=_readonly_arrays)

    @values.validator
    def _check_values(self, _attr: Any, value: Any) -> None:
        for name, arr in value.items():
            if not isinstance(arr, np.ndarray) or arr.ndim == 0 or arr.shape[0] != self.num_frames:
                shape = getattr(arr, "shape", type(arr).__name__)
                raise ValueError(
                    f"FrameStats for video {self.video!r}: {name!r} must have first axis "
                    f"{self.num_frames}, got {shape}"
                )

    @classmethod
    def of(cls, video: str, num_frames: int, **arrays: Any) -> FrameStats:
        """Build stats from keyword arrays, copying each into a read-only ``float64`` array."""
        return cls(
            video=video,
            num_frames=num_frames,
            values={k: readonly_array(v, dtype=np.float64) for k, v in arrays.items()},
        )


@frozen
class OutputChunk:
    """Model outputs of frames ``[start, stop)`` of one video: what ``Task.predict`` may yield
    instead of a whole video's outputs, so that scoring a long video holds one chunk at a time.

    A task yields the chunks of a video in frame order, contiguous and covering ``0..F-1``,
    before the next video's. Each output keeps its usual layout with only the frame axis cut
    (:data:`asl_core.interfaces.OUTPUT_FRAME_AXIS`, axis 1 of ``mc_probs``). The arrays are
    **not** copied (they can be large; the task hands them over and must not modify them).

    Attributes:
        video: the video id.
        start, stop: the frames covered, ``0 <= start < stop <= num_frames``.
        num_frames: the video's ``F``.
        outputs: named arrays of the chunk, e.g. ``{"mc_probs": float32[T, stop-start, C, H, W]}``.
    """

    video: str = field(validator=validators.instance_of(str))
    start: int = field(converter=int)
    stop: int = field(converter=int)
    num_frames: int = field(converter=int)
    outputs: FrozenMap[str, np.ndarray] = field(factory=FrozenMap, converter=_frozen_map)

    @stop.validator
    def _check_range(self, _attr: Any, value: int) -> None:
        if not 0 <= self.start < value <= self.num_frames:
            raise ValueError(
                f"OutputChunk of {self.video!r}: frames [{self.start}, {value}) are not a "
                f"non-empty range inside 0..{self.num_frames}"
            )

    @property
    def last(self) -> bool:
        """True for the chunk that ends the video."""
        return self.stop == self.num_frames


@frozen
class Selection:
    """Frames chosen by a Selector, in pick order.

    Attributes:
        frames: the chosen frames, in the order they were picked.
        scores: ``float64[len(frames)]``, each frame's score at the moment it was picked.
    """

    frames: tuple[FrameRef, ...] = field(converter=tuple)
    scores: np.ndarray = field(
        converter=lambda a: readonly_array(a, dtype=np.float64),
        eq=cmp_using(eq=np.array_equal),
        hash=False,
    )

    @scores.validator
    def _check_scores(self, _attr: Any, value: np.ndarray) -> None:
        if value.shape != (len(self.frames),):
            raise ValueError(
                f"Selection: {len(self.frames)} frames but scores of shape {value.shape}"
            )

    @classmethod
    def empty(cls) -> Selection:
        """A selection with no frame."""
        return cls(frames=(), scores=np.empty(0))

    def __len__(self) -> int:
        return len(self.frames)

    def by_video(self) -> dict[str, list[int]]:
        """``{video: [frame, ...]}`` in pick order."""
        out: dict[str, list[int]] = {}
        for ref in self.frames:
            out.setdefault(ref.video, []).append(ref.frame)
        return out


# --------------------------------------------------------------------------- annotations


def _box(value: Any) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    box = tuple(float(v) for v in value)
    if len(box) != 4:
        raise ValueError(f"box must have 4 numbers (x1, y1, x2, y2), got {len(box)}")
    return box  # type: ignore[return-value]


def _rle(value: Any) -> FrozenMap[str, Any] | None:
    if value is None:
        return None
    size = [int(v) for v in value["size"]]
    counts = value["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    elif not isinstance(counts, str):
        # uncompressed RLE (a list of run lengths) is kept as a tuple of ints
        counts = tuple(int(c) for c in counts)
    return FrozenMap({"size": tuple(size), "counts": counts})


@frozen
class Region:
    """One annotated actor or object in a frame.

    Attributes:
        track_id: identity of the actor/object across frames of the video (0-based).
        category: 0-based class index.
        box: ``(x1, y1, x2, y2)`` in pixels, or ``None`` when only a mask is given.
        mask: a COCO RLE ``{"size": (h, w), "counts": str}`` (pycocotools), or ``None``.
    """

    track_id: int = field(converter=int)
    category: int = field(converter=int)
    box: tuple[float, float, float, float] | None = field(default=None, converter=_box)
    mask: FrozenMap[str, Any] | None = field(default=None, converter=_rle)

    def __attrs_post_init__(self) -> None:
        if self.box is None and self.mask is None:
            raise ValueError(f"region of track {self.track_id}: needs a box or a mask")
        if self.box is not None:
            x1, y1, x2, y2 = self.box
            if not all(math.isfinite(v) for v in self.box) or x2 < x1 or y2 < y1:
                raise ValueError(f"region of track {self.track_id}: invalid box {self.box}")


@frozen
class FrameAnnotation:
    """The annotation of one frame, as bought from an oracle and kept in the ledger.

    A frame with no actor is a valid annotation with ``regions == ()``.

    Attributes:
        video, frame: which frame (0-based).
        regions: the actors/objects in the frame.
        oracle: name of the oracle that produced it (``"simulated"``, ``"cvat"``...).
        cost: annotation cost in the oracle's unit (clicks, seconds...).
        pseudo: True for a pseudo-label (never counted as purchased).
    """

    video: str
    frame: int = field(converter=int)
    regions: tuple[Region, ...] = field(factory=tuple, converter=tuple)
    oracle: str = "unknown"
    cost: float = field(default=0.0, converter=float)
    pseudo: bool = False

    @property
    def ref(self) -> FrameRef:
        """The annotated frame."""
        return FrameRef(self.video, self.frame)


# --------------------------------------------------------------------------- results


@frozen
class CycleResult:
    """What one active-learning cycle did and measured.

    Attributes:
        cycle: cycle number (0 = the initial random labels).
        labelled_frames: human-labelled frames after this cycle's purchase.
        total_frames: frames in the pool.
        bought_frames: frames bought in this cycle.
        cost: annotation cost of this cycle's purchase.
        metrics: evaluation of the model trained on this cycle's labels.
        seconds: wall-clock seconds of each phase run for this cycle (``annotate``, ``train``,
            ``evaluate``, ``score``/``predict``, ``select``), as far as they have run; a phase
            done in an earlier session of a resumed run keeps the time it took then.
    """

    cycle: int
    labelled_frames: int
    total_frames: int
    bought_frames: int
    cost: float
    metrics: FrozenMap[str, float] = field(factory=FrozenMap, converter=_frozen_map)
    seconds: FrozenMap[str, float] = field(factory=FrozenMap, converter=_frozen_map)

    @property
    def labelled_pct(self) -> float:
        """Percentage of pool frames that carry a human label."""
        return 100.0 * self.labelled_frames / max(self.total_frames, 1)


# --------------------------------------------------------------------------- dataset checks

DATA_PROBLEM_KINDS = ("missing", "unreadable", "inconsistent")


@frozen
class DataProblem:
    """One problem ``asl-run data check`` found in a dataset folder.

    Attributes:
        kind: ``"missing"`` (a frame folder, frame, video or mask file is absent),
            ``"unreadable"`` (a file exists but does not decode) or ``"inconsistent"`` (it
            decodes but disagrees with the annotations: frame count, frame size, mask size).
        path: the file or folder concerned.
        message: what is wrong, in one sentence.
        video: the video id, when the problem belongs to one video.
    """

    kind: str = field(validator=validators.in_(DATA_PROBLEM_KINDS))
    path: str = field(converter=str)
    message: str
    video: str | None = None


@frozen
class DataCheckReport:
    """The outcome of ``asl-run data check`` (:class:`asl_core.interfaces.DatasetTool`).

    Attributes:
        root: the dataset folder checked.
        annotations: the annotation files the videos were checked against.
        videos: number of videos checked.
        frames: frames the annotations give those videos (where they give lengths).
        problems: every problem found, in the order found.
        notes: observations that are not problems (e.g. masks with fewer slices than frames,
            which the loader handles, or folders that no annotation mentions).
    """

    root: str = field(converter=str)
    annotations: tuple[str, ...] = field(converter=lambda v: tuple(str(x) for x in v))
    videos: int
    frames: int
    problems: tuple[DataProblem, ...] = field(default=(), converter=tuple)
    notes: tuple[str, ...] = field(default=(), converter=tuple)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def counts(self) -> dict[str, int]:
        """``{kind: number of problems}`` for every kind, in :data:`DATA_PROBLEM_KINDS` order."""
        return {k: sum(p.kind == k for p in self.problems) for k in DATA_PROBLEM_KINDS}
