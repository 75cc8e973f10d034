"""``asl-run data stats``, ``data check`` and ``data labels`` for the action-detection datasets.

Three dataset tools (:class:`asl_core.DatasetTool`), one per format of :mod:`.layouts`:
``ucf101_24``, ``jhmdb21`` and ``act``. Their parameters are a :class:`.layouts.DatasetLayout`
with the format's defaults (``--cfg-options frames_dir=... videos_dir=...``).

``stats(files)`` counts videos, frames, tubes and actors per split of annotation files.
``labels(files)`` turns annotation files into the pool of ``asl-run select`` (lengths, labelled
frames, actors per frame; :mod:`.annotation_pool`), with no video needed.
``check(root)`` walks a dataset folder and reports, video by video, what is missing, does not
decode or disagrees with the annotations (:class:`asl_core.DataProblem`):

=============  ==============================================================================
kind           found when
=============  ==============================================================================
missing        a frame folder, a frame file, a video file or a puppet-mask file is absent
unreadable     a frame file, video file or mask file exists but does not decode
inconsistent   a folder holds frames beyond the annotated length, a video decodes to another
               number of frames, a frame or mask has another size than the annotations say,
               or a video is shorter than its last annotated frame
=============  ==============================================================================

Masks with fewer slices than frames (a known J-HMDB quirk that the loader handles by repeating
the last slice) and folders that no annotation mentions are notes, not problems.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from attrs import evolve, frozen

from asl_core import (
    ConfigError,
    Configurable,
    DataCheckReport,
    DataProblem,
    NullProgress,
    Progress,
)

from .annotations import TubeAnnotations, read_video_list, split_by_list, tube_stats
from .dataset import MASK_FILE, ActGroundTruth, load_act_gt, load_pickle, read_part_mask
from .errors import DatasetError
from .layouts import DatasetLayout, source_of
from .video import FrameFolders, VideoFiles, decode_image

__all__ = ["ActDatasetTool", "Jhmdb21DatasetTool", "Ucf101DatasetTool"]

log = logging.getLogger(__name__)

ProblemFn = Callable[[DataProblem], None]

#: annotation files a UCF-101-24 folder may hold, in the order ``check`` looks for them
UCF_FILE_GROUPS = (
    ("finalAnnots.mat",),
    ("trainAnnot.mat", "testAnnot.mat"),
    ("UCF101v2-GT.pkl",),
    ("training_annots.pkl", "testing_annots.pkl"),
)


# --------------------------------------------------------------------------- what to expect


@frozen
class _Expected:
    """What the annotations say about one video."""

    video: str
    frames: int | None  # None: the file stores no length
    last_annotated: int  # 0-based last frame of any tube, -1 without tubes
    resolution: tuple[int, int] | None
    source: str


def _from_gt(gt: ActGroundTruth) -> list[_Expected]:
    return [
        _Expected(
            v,
            n,
            max((t.end for t in gt.tubes.get(v, ())), default=-1),
            gt.resolution[v],
            gt.source,
        )
        for v, n in gt.nframes.items()
    ]


def _from_tubes(ann: TubeAnnotations) -> list[_Expected]:
    return [
        _Expected(
            v,
            None if ann.nframes is None else ann.nframes[v],
            max((t.end for t in tubes), default=-1),
            ann.resolution,
            ann.source,
        )
        for v, tubes in ann.tubes.items()
    ]


def _read_pickle_kind(path: Path) -> str:
    """``"act"`` for an ACT ground-truth dict, ``"asl"`` for anything else."""
    return "act" if isinstance(load_pickle(path, "annotation file"), dict) else "asl"


def _stats_rows_gt(gt: ActGroundTruth) -> list[dict[str, Any]]:
    rows = []
    for k, (train, test) in enumerate(zip(gt.train_videos, gt.test_videos, strict=True), 1):
        prefix = f"split {k} " if gt.num_splits > 1 else ""
        for name, videos in (("train", train), ("test", test)):
            rows.append(
                {"split": prefix + name, "file": gt.source}
                | tube_stats(gt.tubes, videos, gt.nframes)
            )
    return rows


def _split_name(path: Path) -> str:
    name = path.name.lower()
    return "train" if "train" in name else "test" if "test" in name else "all"


def _total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {"split": "total", "file": ""}
    for key in rows[0]:
        if key in total:
            continue
        values = [r.get(key) for r in rows]
        if any(v is None for v in values):
            total[key] = None
        else:
            total[key] = max(values) if key == "max_actors" else sum(values)
    return total


def _document(
    dataset: str, files: Sequence[Path], rows: list[dict[str, Any]], notes: list[str]
) -> dict[str, Any]:
    if len(rows) > 1 and not any(r["split"].startswith("split ") for r in rows):
        rows = [*rows, _total(rows)]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    rows = [{c: row.get(c) for c in columns} for row in rows]
    return {"dataset": dataset, "files": [str(f) for f in files], "rows": rows, "notes": notes}


# --------------------------------------------------------------------------- checking videos


class _Checker:
    """Checks the videos of one dataset folder against what the annotations expect."""

    def __init__(
        self,
        root: Path,
        source: FrameFolders | VideoFiles,
        masks: Path | None,
        quick: bool,
        on_problem: ProblemFn | None,
    ) -> None:
        self.root, self.source, self.masks, self.quick = root, source, masks, quick
        self.on_problem = on_problem
        self.problems: list[DataProblem] = []
        self.sizes: dict[str, tuple[int, ...]] = {}  # first frame size of videos without one
        self.short_masks: list[str] = []
        self.long_masks: list[str] = []

    def report(self, kind: str, path: Path | str, message: str, video: str | None) -> None:
        problem = DataProblem(kind, str(path), message, video)
        self.problems.append(problem)
        if self.on_problem is not None:
            self.on_problem(problem)

    def _size_problem(self, exp: _Expected, arr: np.ndarray, path: Path, what: str) -> None:
        """Compare a decoded frame's or mask's size with the annotations' resolution or, when
        they give none (J-HMDB's split files), with the video's first frame."""
        size = tuple(arr.shape[:2])
        want = exp.resolution or self.sizes.get(exp.video)
        if want is None:
            self.sizes[exp.video] = size
            return
        if size != tuple(want):
            basis = (
                f"{exp.source} gives video {exp.video!r}"
                if exp.resolution
                else f"the frames of video {exp.video!r} are"
            )
            self.report(
                "inconsistent",
                path,
                f"{what} is {size[1]}x{size[0]}, but {basis} {want[1]}x{want[0]}",
                exp.video,
            )

    def _length_problem(self, exp: _Expected, count: int, path: Path, how: str) -> None:
        if exp.frames is not None and count != exp.frames:
            self.report(
                "inconsistent",
                path,
                f"{how} {count} frames, but {exp.source} gives video {exp.video!r} {exp.frames}",
                exp.video,
            )
        elif exp.frames is None and count <= exp.last_annotated:
            self.report(
                "inconsistent",
                path,
                f"{how} {count} frames, but {exp.source} annotates video {exp.video!r} up to "
                f"frame {exp.last_annotated} (0-based)",
                exp.video,
            )

    def frames(self, exp: _Expected) -> int | None:
        """Check one video's frames; returns its length on disk (``None`` when unknown)."""
        if isinstance(self.source, VideoFiles):
            return self._video_file(exp)
        return self._frame_folder(exp)

    def _frame_folder(self, exp: _Expected) -> int | None:
        source = self.source
        assert isinstance(source, FrameFolders)
        folder = source.location(exp.video)
        if not folder.is_dir():
            self.report("missing", folder, f"missing frame folder (video {exp.video!r})", exp.video)
            return None
        try:
            numbers = source.frame_numbers(exp.video, exp.frames or exp.last_annotated + 1)
        except DatasetError as exc:
            self.report("unreadable", folder, str(exc), exp.video)
            return None
        length = exp.frames
        if length is None:
            length = int(np.sum(numbers == np.arange(1, numbers.size + 1)))
            self._length_problem(exp, length, source.location(exp.video), "the folder holds")
        else:
            missing = np.setdiff1d(np.arange(1, length + 1), numbers)
            if missing.size:
                first = source.frame_path(exp.video, int(missing[0]) - 1)
                self.report(
                    "missing",
                    first,
                    f"{missing.size} of the {length} frames {exp.source} gives video "
                    f"{exp.video!r} are missing (first: {first.name})",
                    exp.video,
                )
            extra = int(np.sum(numbers > length))
            if extra:
                self.report(
                    "inconsistent",
                    source.location(exp.video),
                    f"the folder holds {numbers.size} frames, {extra} beyond the {length} that "
                    f"{exp.source} gives video {exp.video!r}",
                    exp.video,
                )
        present = numbers[numbers <= length]
        unreadable: list[tuple[Path, str]] = []
        sized = False
        for n in present if not self.quick else present[:1]:
            path = source.frame_path(exp.video, int(n) - 1)
            try:
                arr = decode_image(path)
            except DatasetError as exc:
                cause = exc.__cause__
                why = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
                unreadable.append((path, f"frame file does not decode ({why})"))
                continue
            if not sized:
                self._size_problem(exp, arr, path, "frame file")
                sized = True
        if unreadable:
            path, message = unreadable[0]
            more = (
                f" ({len(unreadable)} unreadable frame files in all)" if len(unreadable) > 1 else ""
            )
            self.report("unreadable", path, message + more, exp.video)
        return length

    def _video_file(self, exp: _Expected) -> int | None:
        source = self.source
        assert isinstance(source, VideoFiles)
        path = source.location(exp.video)
        if not path.is_file():
            self.report("missing", path, f"missing video file (video {exp.video!r})", exp.video)
            return None
        try:
            count = source.header_count(exp.video) if self.quick else 0
            if count:
                how = "the header says"
                first = next(iter(source.frames(exp.video)), None)  # the size, from one frame
                if first is not None:
                    self._size_problem(exp, first, path, "video file")
            else:
                how = "the file decodes to"
                for count, arr in enumerate(source.frames(exp.video), start=1):
                    if count == 1:
                        self._size_problem(exp, arr, path, "video file")
        except DatasetError as exc:
            self.report("unreadable", path, str(exc), exp.video)
            return None
        self._length_problem(exp, count, path, how)
        return count

    def mask(self, exp: _Expected, length: int | None) -> None:
        """Check one video's puppet mask (existence only when ``quick``)."""
        if self.masks is None:
            return
        path = self.masks / exp.video / MASK_FILE
        if not path.is_file():
            self.report("missing", path, f"missing mask file (video {exp.video!r})", exp.video)
            return
        if self.quick:
            return
        try:
            part = read_part_mask(path)
        except DatasetError as exc:
            self.report("unreadable", path, str(exc), exp.video)
            return
        self._size_problem(exp, part, path, "mask")
        if length is not None and part.shape[2] < length:
            self.short_masks.append(exp.video)
        elif length is not None and part.shape[2] > length:
            self.long_masks.append(exp.video)


def _unlisted(source: FrameFolders | VideoFiles, known: set[str]) -> list[str]:
    """``<class>/<video>`` entries under the source folder that no annotation names."""
    found = []
    try:
        classes = sorted(p for p in source.folder.iterdir() if p.is_dir())
    except OSError:
        return []
    for cls in classes:
        for entry in sorted(cls.iterdir()):
            if isinstance(source, VideoFiles):
                if entry.is_file() and entry.name.endswith(source.ext):
                    name = f"{cls.name}/{entry.name[: -len(source.ext)]}"
                else:
                    continue
            elif entry.is_dir():
                name = f"{cls.name}/{entry.name}"
            else:
                continue
            if name not in known:
                found.append(name)
    return found


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _have(items: Sequence[Any], one: str = "has", many: str = "have") -> str:
    return one if len(items) == 1 else many


def _check_videos(
    root: Path,
    expected: Iterable[_Expected],
    files: Sequence[Path],
    source: FrameFolders | VideoFiles,
    masks: Path | None,
    *,
    quick: bool,
    progress: Progress,
    on_problem: ProblemFn | None,
    notes: Sequence[str] = (),
) -> DataCheckReport:
    """Check every expected video under ``root`` (see the module docstring)."""
    by_video: dict[str, _Expected] = {}
    checker = _Checker(root, source, masks, quick, on_problem)
    for exp in expected:
        seen = by_video.get(exp.video)
        if seen is None:
            by_video[exp.video] = exp
        elif seen.frames is not None and exp.frames is not None and seen.frames != exp.frames:
            checker.report(
                "inconsistent",
                exp.source,
                f"video {exp.video!r} has {exp.frames} frames here but {seen.frames} in "
                f"{seen.source}",
                exp.video,
            )
        elif seen.frames is None and exp.frames is not None:
            by_video[exp.video] = exp
    progress.start(len(by_video), "videos")
    for exp in by_video.values():
        length = checker.frames(exp)
        checker.mask(exp, length)
        progress.advance(1)
    out = list(notes)
    if checker.short_masks:
        out.append(
            f"{_plural(len(checker.short_masks), 'video')} {_have(checker.short_masks)} fewer "
            f"mask slices than frames (e.g. {checker.short_masks[0]!r}); the loader repeats the "
            "last slice"
        )
    if checker.long_masks:
        out.append(
            f"{_plural(len(checker.long_masks), 'video')} {_have(checker.long_masks)} more mask "
            f"slices than frames (e.g. {checker.long_masks[0]!r}); the loader ignores the extra "
            "slices"
        )
    unlisted = _unlisted(source, set(by_video))
    if unlisted:
        out.append(
            f"{_plural(len(unlisted), 'video')} under {source.folder} {_have(unlisted, 'is', 'are')} "
            "in no annotation file "
            f"(e.g. {unlisted[0]!r}); not checked"
        )
    frames = sum(e.frames for e in by_video.values() if e.frames is not None)
    return DataCheckReport(root, files, len(by_video), frames, checker.problems, out)


# --------------------------------------------------------------------------- the tools


class _DatasetTool(Configurable):
    """Shared parts of the three tools; ``name`` picks the layout defaults."""

    name: ClassVar[str] = "act"
    #: ``(layout key, folder)`` a release uses when the layout's frames folder is absent
    fallback: ClassVar[tuple[str, str] | None] = None
    Params = DatasetLayout
    params: DatasetLayout

    def __init__(self, params: DatasetLayout | None = None) -> None:
        super().__init__(params if params is not None else DatasetLayout.for_dataset(self.name))

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None = None, *, where: str = "") -> Any:
        """Build the tool from ``--cfg-options`` (layout keys over the format's defaults)."""
        return cls(DatasetLayout.for_dataset(cls.name, config))

    # subclasses: which files a folder holds, and what they expect
    def find_annotations(self, root: Path) -> list[Path]:
        raise NotImplementedError

    def expectations(self, files: Sequence[Path]) -> tuple[list[_Expected], list[str]]:
        raise NotImplementedError

    def pool_parts(self, files: Sequence[Path]) -> list[ActGroundTruth | TubeAnnotations]:
        """The annotation files loaded for :meth:`labels`, in the order given."""
        raise NotImplementedError

    def labels(self, files: Sequence[Path], progress: Progress | None = None) -> dict[str, Any]:
        """The selection pool of annotation files, without videos (``asl-run data labels``).

        Args:
            files: annotation files; a video may be in several (e.g. an ASL pickle for the
                labelled frames and the ``.mat`` for the lengths).
            progress: unused (loading takes seconds).

        Returns:
            ``{"videos": {id: {"num_frames": F, "labelled": [...], "actors": [...]}},
            "notes": [...]}`` (:func:`.annotation_pool.pool_document`).

        Raises:
            ConfigError: when no file gives some video's length (an ASL pickle alone).
            DatasetError: when a file is unreadable or two files disagree (naming them).
        """
        from .annotation_pool import pool_document

        return pool_document(self.pool_parts(files), split=self.params.split)

    def _in_root(self, root: Path, name: str | None) -> Path | None:
        if name is None:
            return None
        path = Path(name).expanduser()
        path = path if path.is_absolute() else root / path
        return path if path.exists() else None

    def _layout(self, root: Path) -> DatasetLayout:
        """The layout to check ``root`` with: without ``videos_dir`` and without the frames
        folder, the release's own folder of :attr:`fallback` when ``root`` has it."""
        p = self.params
        if self.fallback is None or p.videos_dir is not None or (root / p.frames_dir).is_dir():
            return p
        key, folder = self.fallback
        return evolve(p, **{key: folder}) if (root / folder).is_dir() else p

    def _source(self, root: Path) -> FrameFolders | VideoFiles:
        source = source_of(root, self._layout(root))
        if not source.folder.is_dir():
            key = "videos_dir" if isinstance(source, VideoFiles) else "frames_dir"
            raise ConfigError(
                f"{source.folder}: folder not found; set --cfg-options {key}=DIR (frame folders: "
                "frames_dir and frame_pattern; video files: videos_dir)"
            )
        return source

    def check(
        self,
        root: Path,
        progress: Progress | None = None,
        *,
        annotations: Sequence[Path] = (),
        quick: bool = False,
        on_problem: ProblemFn | None = None,
    ) -> DataCheckReport:
        """Walk ``root`` and report every missing, unreadable or inconsistent video.

        Args:
            root: the dataset folder.
            progress: one step per video.
            annotations: annotation files to check against (default: those found in ``root``,
                see :meth:`find_annotations`).
            quick: skip decoding every frame: existence, frame counts, the first frame's size
                (video files: the header's frame count) and mask existence only.
            on_problem: called with each problem as it is found.

        Returns:
            The report (problems in the order found, notes, counts).

        Raises:
            ConfigError: when ``root`` or the frames folder is missing, or no annotation file is
                found.
            DatasetError: when an annotation file is unreadable or invalid (naming it).
        """
        root = Path(root).expanduser()
        if not root.is_dir():
            raise ConfigError(f"{root}: dataset folder not found (--root)")
        files = [Path(f) for f in annotations] or self.find_annotations(root)
        expected, notes = self.expectations(files)
        source = self._source(root)
        masks = None
        if self.params.masks_dir is not None and (root / self.params.masks_dir).is_dir():
            masks = root / self.params.masks_dir
        return _check_videos(
            root,
            expected,
            files,
            source,
            masks,
            quick=quick,
            progress=progress or NullProgress(),
            on_problem=on_problem,
            notes=notes,
        )


class ActDatasetTool(_DatasetTool):
    """``stats`` / ``check`` of any folder in the ACT layout (an ACT ground-truth pickle).

    Example::

        tool = ActDatasetTool.from_config({"gt_file": "JHMDB-GT.pkl"})
        report = tool.check(Path("/data/JHMDB"))
    """

    name = "act"

    def recognize(self, root: Path) -> int:
        """1 when ``root`` holds a ``*-GT.pkl`` file, else 0."""
        return int(any(Path(root).glob("*-GT.pkl")))

    def find_annotations(self, root: Path) -> list[Path]:
        """``gt_file`` if set, else the single ``*-GT.pkl`` in ``root``."""
        if self.params.gt_file is not None:
            path = self._in_root(root, self.params.gt_file)
            if path is None:
                raise ConfigError(f"{root / self.params.gt_file}: not found (gt_file)")
            return [path]
        found = sorted(root.glob("*-GT.pkl"))
        if len(found) != 1:
            raise ConfigError(
                f"{root}: {'no' if not found else 'more than one'} *-GT.pkl file; give "
                "--annotations FILE or --cfg-options gt_file=NAME"
            )
        return found

    def expectations(self, files: Sequence[Path]) -> tuple[list[_Expected], list[str]]:
        """Every video of the ACT pickles, with its length and resolution."""
        out: list[_Expected] = []
        for f in files:
            out += _from_gt(load_act_gt(f, clip_boxes=False))
        return out, []

    def pool_parts(self, files: Sequence[Path]) -> list[ActGroundTruth | TubeAnnotations]:
        """The ACT pickles (the pool: their training videos of ``split``)."""
        return [load_act_gt(f, clip_boxes=False) for f in files]

    def stats(self, files: Sequence[Path], progress: Progress | None = None) -> dict[str, Any]:
        """Videos, frames, tubes and actors per split of ACT ground-truth pickles."""
        rows: list[dict[str, Any]] = []
        for f in files:
            rows += _stats_rows_gt(load_act_gt(f, clip_boxes=False))
        return _document(self.name, files, rows, [])


class Ucf101DatasetTool(_DatasetTool):
    """``stats`` / ``check`` of UCF-101-24: corrected ``.mat`` annotations, ASL pickles or
    ``UCF101v2-GT.pkl``, with ``rgb-images`` frame folders or ``.avi`` files (``videos_dir``).

    Example::

        tool = Ucf101DatasetTool()
        doc = tool.stats([Path("trainAnnot.mat"), Path("testAnnot.mat")])
    """

    name = "ucf101_24"
    # the ASL release reads .avi files from UCF101_Videos/
    fallback = ("videos_dir", "UCF101_Videos")

    def recognize(self, root: Path) -> int:
        """2 when ``root`` holds one of UCF-101-24's annotation files, else 0."""
        return 2 * int(any((Path(root) / n).is_file() for g in UCF_FILE_GROUPS for n in g))

    def find_annotations(self, root: Path) -> list[Path]:
        """The layout's ``train_annotations`` + ``test_annotations`` when both exist, else the
        first group of :data:`UCF_FILE_GROUPS` present in ``root``, else ``gt_file``."""
        p = self.params
        pair = [self._in_root(root, p.train_annotations), self._in_root(root, p.test_annotations)]
        if all(pair):
            return [f for f in pair if f is not None]
        for group in UCF_FILE_GROUPS:
            found = [root / n for n in group if (root / n).is_file()]
            if found:
                return found
        gt = self._in_root(root, p.gt_file)
        if gt is not None:
            return [gt]
        names = ", ".join(n for g in UCF_FILE_GROUPS for n in g)
        raise ConfigError(f"{root}: no UCF-101-24 annotation file ({names}); give --annotations")

    def _parts(self, files: Sequence[Path]) -> list[ActGroundTruth | TubeAnnotations]:
        from .ucf101 import load_ucf_annotations

        parts: list[ActGroundTruth | TubeAnnotations] = []
        for f in files:
            f = Path(f)
            if f.suffix.lower() in (".pkl", ".pickle") and _read_pickle_kind(f) == "act":
                parts.append(load_act_gt(f, clip_boxes=False))
            else:
                parts.append(load_ucf_annotations(f, resolution=self.params.resolution))
        return parts

    def pool_parts(self, files: Sequence[Path]) -> list[ActGroundTruth | TubeAnnotations]:
        """The ``.mat`` files, ASL pickles (no lengths; labelled frames) and ACT pickles."""
        return self._parts(files)

    def expectations(self, files: Sequence[Path]) -> tuple[list[_Expected], list[str]]:
        """Every video of the files; ASL pickles give no lengths (checked against their last
        annotated frame)."""
        out: list[_Expected] = []
        notes = []
        for part in self._parts(files):
            if isinstance(part, ActGroundTruth):
                out += _from_gt(part)
            else:
                out += _from_tubes(part)
                if part.nframes is None:
                    notes.append(
                        f"{part.source} stores no video lengths: its videos were checked against "
                        "their last annotated frame only"
                    )
        return out, notes

    def _split_list_for(self, path: Path) -> Path | None:
        if self.params.split_list is not None:
            return Path(self.params.split_list).expanduser()
        beside = path.parent / "testlist01.txt"
        if path.name.lower().startswith("final") and beside.is_file():
            return beside
        return None

    def stats(self, files: Sequence[Path], progress: Progress | None = None) -> dict[str, Any]:
        """Videos, frames, tubes and actors per file (``trainAnnot.mat`` → train...).

        A ``finalAnnots.mat`` is split into train and test by ``split_list`` or, when absent, by
        a ``testlist01.txt`` beside it. ASL pickles store no video lengths (``frames`` is
        ``None``) but count their annotated frames (``labelled_frames``).
        """
        rows: list[dict[str, Any]] = []
        notes: list[str] = []
        for f, part in zip(files, self._parts(files), strict=True):
            f = Path(f)
            if isinstance(part, ActGroundTruth):
                rows += _stats_rows_gt(part)
                continue
            split_list = self._split_list_for(f) if part.nframes is not None else None
            if split_list is not None:
                pieces = split_by_list(part, read_video_list(split_list), str(split_list))
                named = list(zip(("train", "test"), pieces, strict=True))
                notes.append(f"{f.name} split into train and test by {split_list}")
            else:
                named = [(_split_name(f), part)]
            for name, piece in named:
                rows.append(
                    {"split": name, "file": str(f)}
                    | tube_stats(piece.tubes, piece.videos, piece.nframes, piece.labelled)
                )
            if part.nframes is None:
                notes.append(
                    f"{f.name} stores no video lengths (frames: n/a); labelled_frames counts its "
                    "annotated-frame lists"
                )
        return _document(self.name, files, rows, notes)


class Jhmdb21DatasetTool(_DatasetTool):
    """``stats`` / ``check`` of J-HMDB-21: ``JHMDB-GT.pkl`` or the release's split files, PNG
    frame folders (``Frames`` or the release's ``Rename_Images``) and puppet masks.

    Example::

        report = Jhmdb21DatasetTool().check(Path("/data/JHMDB"))
    """

    name = "jhmdb21"
    # the official release unpacks its frames as Rename_Images/
    fallback = ("frames_dir", "Rename_Images")

    def recognize(self, root: Path) -> int:
        """2 when ``root`` holds ``JHMDB-GT.pkl`` or both ``splits`` and ``puppet_mask``."""
        root = Path(root)
        raw = (root / self.params.splits_dir).is_dir() and (root / "puppet_mask").is_dir()
        return 2 * int((root / "JHMDB-GT.pkl").is_file() or raw)

    def find_annotations(self, root: Path) -> list[Path]:
        """``gt_file`` (``JHMDB-GT.pkl``) if present, else the ``splits`` folder."""
        gt = self._in_root(root, self.params.gt_file)
        if gt is not None:
            return [gt]
        splits = root / self.params.splits_dir
        if splits.is_dir():
            return [splits]
        raise ConfigError(
            f"{root}: neither {self.params.gt_file} nor a {self.params.splits_dir}/ folder; "
            "give --annotations"
        )

    def expectations(self, files: Sequence[Path]) -> tuple[list[_Expected], list[str]]:
        """Videos of ``JHMDB-GT.pkl`` (lengths, resolution) or of the split files (lengths from
        the frames; masks checked against them)."""
        from .jhmdb import read_splits

        out: list[_Expected] = []
        for f in files:
            f = Path(f)
            if f.is_dir():
                videos: dict[str, None] = {}
                for train, test in read_splits(f):
                    videos.update(dict.fromkeys(train + test))
                # the split files give no size: masks are compared with the frames instead
                out += [_Expected(v, None, -1, None, str(f)) for v in videos]
            else:
                out += _from_gt(load_act_gt(f, clip_boxes=False))
        return out, []

    def pool_parts(self, files: Sequence[Path]) -> list[ActGroundTruth | TubeAnnotations]:
        """``JHMDB-GT.pkl`` files; the release's split files are refused (no lengths, no
        actors: both come from the frames and masks)."""
        parts: list[ActGroundTruth | TubeAnnotations] = []
        for f in files:
            f = Path(f)
            if f.is_dir():
                raise ConfigError(
                    f"{f}: J-HMDB's split files store no video lengths and no actors (those come "
                    "from the frames and puppet masks); give JHMDB-GT.pkl, which stores both"
                )
            parts.append(load_act_gt(f, clip_boxes=False))
        return parts

    def stats(self, files: Sequence[Path], progress: Progress | None = None) -> dict[str, Any]:
        """Videos, frames, tubes and actors per split of ``JHMDB-GT.pkl``; for a ``splits``
        folder, the videos per split only."""
        from .jhmdb import read_splits

        rows: list[dict[str, Any]] = []
        notes = []
        for f in files:
            f = Path(f)
            if not f.is_dir():
                rows += _stats_rows_gt(load_act_gt(f, clip_boxes=False))
                continue
            for k, (train, test) in enumerate(read_splits(f), start=1):
                for name, videos in (("train", train), ("test", test)):
                    rows.append(
                        {"split": f"split {k} {name}", "file": str(f), "videos": len(videos)}
                    )
            notes.append(f"{f}: split files list videos only (frames, tubes: from JHMDB-GT.pkl)")
        return _document(self.name, files, rows, notes)
