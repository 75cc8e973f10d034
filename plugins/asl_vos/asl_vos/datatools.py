"""``asl-run data synth``, ``data stats`` and ``data check`` for the YouTube-VOS layout.

Two dataset tools (:class:`asl_core.DatasetTool`):

* ``youtube_vos`` (:class:`YouTubeVosDatasetTool`): ``stats`` and ``check`` of a dataset in the
  YouTube-VOS layout (reference specs §C.1; :mod:`.data`), and ``recognize``. Its parameters
  (:class:`YouTubeVosParams`, ``--cfg-options``) name the meta file, the frame and mask folders
  and the splits to walk.
* ``synthetic_vos`` (:class:`SyntheticVosDataset`): ``synthesize`` writes the synthetic dataset
  of :mod:`.synth` (parameters: :class:`.synth.SynthVosParams`); ``stats`` and ``check`` are
  those of ``youtube_vos`` with its defaults.

``check(root)`` walks ``root/train`` and ``root/valid`` (those that exist) and reports, video by
video, what is missing, does not decode or disagrees with ``meta.json``
(:class:`asl_core.DataProblem`):

=============  ==============================================================================
kind           found when
=============  ==============================================================================
missing        a video folder of ``meta.json``; a frame image ``meta.json`` lists; a video's
               mask folder; in train, the mask of a frame image (train annotates every sampled
               frame)
unreadable     a frame image or mask exists but does not decode
inconsistent   a mask of another size than its frame, a frame of another size than the video's
               first, a non-palette (colour) mask, mask ids ``meta.json`` does not list for the
               video, a mask without a frame image, an object with no listed frame that no
               mask holds
=============  ==============================================================================

Splits whose name starts with ``valid`` or ``test`` are annotated on first frames only (masks are
not required for every frame). Video folders that ``meta.json`` does not list are notes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from attrs import field, frozen

from asl_core import (
    ConfigError,
    Configurable,
    DataCheckReport,
    DataProblem,
    NullProgress,
    Progress,
)

from .data import VosObject, frame_sort_key, list_frame_files, read_meta
from .errors import VosDataError
from .pngio import read_mask
from .synth import SynthVosParams, generate_synthetic_vos

__all__ = ["SyntheticVosDataset", "YouTubeVosDatasetTool", "YouTubeVosParams"]

ProblemFn = Callable[[DataProblem], None]

#: split name prefixes annotated on first frames only
SPARSE_SPLITS = ("valid", "test")


def _names(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


@frozen
class YouTubeVosParams:
    """Where the parts of a YouTube-VOS dataset are.

    Attributes:
        meta_file: the meta file inside a split folder. Defaults to ``"meta.json"``.
        images_dir: the frames folder inside a split folder. Defaults to ``"JPEGImages"``.
        annotations_dir: the masks folder inside a split folder. Defaults to ``"Annotations"``.
        splits: the split folders ``check`` walks and ``recognize`` looks for, those that exist.
            Defaults to ``("train", "valid")``.
    """

    meta_file: str = field(default="meta.json", converter=str)
    images_dir: str = field(default="JPEGImages", converter=str)
    annotations_dir: str = field(default="Annotations", converter=str)
    splits: tuple[str, ...] = field(default=("train", "valid"), converter=_names)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _listed(objects: Sequence[VosObject]) -> set[str]:
    return {f for o in objects for f in o.frames}


# --------------------------------------------------------------------------- checking


class _Checker:
    """Checks the videos of one split folder against its ``meta.json``."""

    def __init__(
        self, params: YouTubeVosParams, meta_path: Path, quick: bool, on_problem: ProblemFn | None
    ) -> None:
        split_dir = meta_path.parent
        self.meta_path = meta_path
        self.images = split_dir / params.images_dir
        self.annotations = split_dir / params.annotations_dir
        self.sparse = split_dir.name.lower().startswith(SPARSE_SPLITS)
        self.quick = quick
        self.on_problem = on_problem
        self.problems: list[DataProblem] = []

    def report(self, kind: str, path: Path | str, message: str, video: str | None) -> None:
        problem = DataProblem(kind, str(path), message, video)
        self.problems.append(problem)
        if self.on_problem is not None:
            self.on_problem(problem)

    def report_many(self, kind: str, paths: Sequence[Path], message: str, video: str) -> None:
        """One problem for all of ``paths``, located at the first: ``message`` (which says how
        many) and ``(first: <name>)``."""
        if paths:
            self.report(kind, paths[0], f"{message} (first: {paths[0].name})", video)

    def video(self, vid: str, objects: Sequence[VosObject]) -> None:
        """Check one video: listing first, then (all, or with ``quick`` the first) pixels."""
        folder = self.images / vid
        if not folder.is_dir():
            self.report("missing", folder, f"missing frame folder (video {vid!r})", vid)
            return
        try:
            images = list_frame_files(folder)
        except VosDataError as exc:
            self.report("unreadable", folder, str(exc), vid)
            return
        mask_dir = self.annotations / vid
        pngs: dict[str, Path] = {}
        if mask_dir.is_dir():
            try:
                pngs = list_frame_files(mask_dir, (".png",))
            except VosDataError as exc:
                self.report("unreadable", mask_dir, str(exc), vid)
        else:
            self.report("missing", mask_dir, f"missing annotation folder (video {vid!r})", vid)
        listed = _listed(objects)
        if not images:
            self.report("missing", folder, f"video {vid!r} has no frame image", vid)
        missing = [
            folder / f"{n}.jpg" for n in sorted(listed, key=frame_sort_key) if n not in images
        ]
        self.report_many(
            "missing",
            missing,
            f"{len(missing)} of the {len(listed)} frames {self.meta_path.name} lists for video "
            f"{vid!r} have no image file",
            vid,
        )
        if mask_dir.is_dir() and not self.sparse:
            unmasked = [mask_dir / f"{n}.png" for n in images if n not in pngs]
            self.report_many(
                "missing",
                unmasked,
                f"{len(unmasked)} of the {len(images)} frames of video {vid!r} have no mask (a "
                "train split annotates every frame)",
                vid,
            )
        orphans = [p for n, p in pngs.items() if n not in images]
        self.report_many(
            "inconsistent",
            orphans,
            f"{len(orphans)} of the {len(pngs)} masks of video {vid!r} have no frame image",
            vid,
        )
        self._pixels(vid, objects, images, pngs)

    def _pixels(
        self,
        vid: str,
        objects: Sequence[VosObject],
        images: dict[str, Path],
        pngs: dict[str, Path],
    ) -> None:
        known = {0, *(o.id for o in objects)}
        seen_ids: set[int] = set()
        sizes: dict[str, tuple[int, int]] = {}
        unreadable: list[tuple[Path, str]] = []
        first: tuple[Path, tuple[int, int]] | None = None
        names = list(images)[:1] if self.quick else list(images)
        for name in names:
            size = _decoded_size(images[name])
            if isinstance(size, str):
                unreadable.append((images[name], size))
                continue
            sizes[name] = size
            if first is None:
                first = (images[name], size)
            elif size != first[1]:
                self.report(
                    "inconsistent",
                    images[name],
                    f"frame is {size[1]}x{size[0]} (WxH) but {first[0].name} of video {vid!r} is "
                    f"{first[1][1]}x{first[1][0]}",
                    vid,
                )
        masks = [n for n in pngs if n in images]
        for name in masks[:1] if self.quick else masks:
            path = pngs[name]
            ids = _decoded_mask(path)
            if isinstance(ids, tuple):
                kind, message = ids
                if kind == "unreadable":
                    unreadable.append((path, message))
                else:
                    self.report(kind, path, message, vid)
                continue
            image_size = sizes.get(name) or _header_size(images[name])
            if image_size is not None and ids.shape != image_size:
                self.report(
                    "inconsistent",
                    path,
                    f"mask is {ids.shape[1]}x{ids.shape[0]} (WxH) but its frame {images[name]} is "
                    f"{image_size[1]}x{image_size[0]}",
                    vid,
                )
            present = set(np.unique(ids).tolist())
            seen_ids |= present
            unknown = sorted(present - known)
            if unknown:
                self.report(
                    "inconsistent",
                    path,
                    f"mask holds object ids {unknown} that {self.meta_path} does not list for "
                    f"video {vid!r}",
                    vid,
                )
        if unreadable:
            path, message = unreadable[0]
            more = f" ({len(unreadable)} unreadable files in all)" if len(unreadable) > 1 else ""
            self.report("unreadable", path, message + more, vid)
        if not self.quick:
            for obj in objects:
                if not obj.frames and obj.id not in seen_ids:
                    self.report(
                        "inconsistent",
                        self.meta_path,
                        f"object {obj.id} of video {vid!r} has no annotated frame (none listed, "
                        "no mask holds it)",
                        vid,
                    )


def _header_size(path: Path) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return int(img.size[1]), int(img.size[0])
    except Exception:  # reported when the image itself is decoded
        return None


def _decoded_size(path: Path) -> tuple[int, int] | str:
    """``(H, W)`` of a fully decoded image, or why it does not decode."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()
            return int(img.size[1]), int(img.size[0])
    except Exception as exc:  # any decoder failure is a finding, not a crash
        return f"frame image does not decode ({type(exc).__name__}: {exc})"


def _decoded_mask(path: Path) -> np.ndarray | tuple[str, str]:
    """The ids of a mask, or ``(kind, message)`` when it is not a readable id mask."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            mode = img.mode
    except Exception as exc:
        return "unreadable", f"mask does not decode ({type(exc).__name__}: {exc})"
    if mode not in ("P", "L", "1", "I", "I;16", "I;16B", "I;16L"):
        return "inconsistent", f"a {mode} image is not an object-id (palette) mask"
    try:
        return read_mask(path)
    except VosDataError as exc:
        return "unreadable", str(exc)


# --------------------------------------------------------------------------- the tools


class YouTubeVosDatasetTool(Configurable):
    """``stats`` / ``check`` / ``recognize`` of datasets in the YouTube-VOS layout.

    Example::

        tool = YouTubeVosDatasetTool()
        report = tool.check(Path("data/youtube_vos"))
        doc = tool.stats([Path("data/youtube_vos/train/meta.json")])
    """

    Params = YouTubeVosParams
    params: YouTubeVosParams
    name = "youtube_vos"

    def recognize(self, root: Path) -> int:
        """2 when a split folder of ``root`` holds the meta file and the frames folder, else 0."""
        p = self.params
        root = Path(root)
        found = any(
            (root / s / p.meta_file).is_file() and (root / s / p.images_dir).is_dir()
            for s in p.splits
        )
        return 2 if found else 0

    def _meta_files(self, files: Sequence[Path]) -> list[Path]:
        """Meta files of ``files``: a meta file itself, a split folder's, or a dataset root's
        splits'."""
        out = []
        for f in files:
            f = Path(f).expanduser()
            if f.is_dir() and (f / self.params.meta_file).is_file():
                out.append(f / self.params.meta_file)
            elif f.is_dir():
                inner = [f / s / self.params.meta_file for s in self.params.splits]
                inner = [m for m in inner if m.is_file()]
                if not inner:
                    raise ConfigError(
                        f"{f}: holds no {self.params.meta_file} (nor {', '.join(self.params.splits)}"
                        f"/{self.params.meta_file})"
                    )
                out += inner
            else:
                out.append(f)
        return out

    def stats(self, files: Sequence[Path], progress: Progress | None = None) -> dict[str, Any]:
        """Videos, listed frames, objects, categories and mask files per split.

        Args:
            files: ``meta.json`` files, split folders or dataset roots (then the ``splits``
                that exist).
            progress: one step per video (mask folders are listed).

        Returns:
            ``{"dataset", "files", "rows", "notes"}``; one row per meta file with ``split`` (its
            folder's name), ``file``, ``videos``, ``frames`` (frames the meta file lists: the
            union over each video's objects), ``objects``, ``categories`` (distinct names),
            ``annotated_frames`` (mask files found for listed videos; ``None`` without a masks
            folder), and a ``total`` row when there are several.

        Raises:
            VosDataError: a missing or malformed meta file (naming it).
            ConfigError: a folder without a meta file.
        """
        progress = progress or NullProgress()
        metas = self._meta_files(files)
        parsed = [read_meta(m) for m in metas]
        progress.start(sum(len(m) for m in parsed), "videos")
        rows: list[dict[str, Any]] = []
        notes: list[str] = []
        all_categories: set[str] = set()
        for path, meta in zip(metas, parsed, strict=True):
            categories = {o.category for objs in meta.values() for o in objs if o.category}
            all_categories |= categories
            frames = sum(len(_listed(objs)) for objs in meta.values())
            masks_dir = path.parent / self.params.annotations_dir
            annotated: int | None = None
            if masks_dir.is_dir():
                annotated = 0
                for vid in meta:
                    folder = masks_dir / vid
                    if folder.is_dir():
                        annotated += sum(1 for p in folder.iterdir() if p.suffix.lower() == ".png")
                    progress.advance()
                if annotated < frames:
                    notes.append(
                        f"{path}: {annotated:,} mask files for {frames:,} listed frames (a split "
                        "annotated on first frames only, like YouTube-VOS valid, or missing masks)"
                    )
            else:
                progress.advance(len(meta))
                notes.append(f"{path}: no {self.params.annotations_dir}/ folder beside it")
            rows.append(
                {
                    "split": path.parent.name,
                    "file": str(path),
                    "videos": len(meta),
                    "frames": frames,
                    "objects": sum(len(objs) for objs in meta.values()),
                    "categories": len(categories),
                    "annotated_frames": annotated,
                }
            )
        if len(rows) > 1:
            total: dict[str, Any] = {"split": "total", "file": ""}
            for key in ("videos", "frames", "objects", "annotated_frames"):
                values = [r[key] for r in rows]
                total[key] = None if any(v is None for v in values) else sum(values)
            total["categories"] = len(all_categories)
            rows.append({key: total[key] for key in rows[0]})
        return {
            "dataset": self.name,
            "files": [str(m) for m in metas],
            "rows": rows,
            "notes": notes,
        }

    def check(
        self,
        root: Path,
        progress: Progress | None = None,
        *,
        annotations: Sequence[Path] = (),
        quick: bool = False,
        on_problem: ProblemFn | None = None,
    ) -> DataCheckReport:
        """Walk the splits of ``root`` and report every missing, unreadable or inconsistent
        video (module docstring).

        Args:
            root: the dataset root (holding ``train/``, ``valid/``).
            progress: one step per video.
            annotations: meta files (or split folders) to check instead of the ``splits`` of
                ``root``; each is checked against the folders beside it.
            quick: decode only the first frame and the first mask of each video (listing checks
                stay complete).
            on_problem: called with each problem as it is found.

        Returns:
            The report: problems in the order found; ``videos`` and ``frames`` count the videos
            and the frames the meta files list.

        Raises:
            ConfigError: ``root`` is not a folder or holds no split with a meta file.
            VosDataError: a meta file is missing or malformed (naming it).
        """
        root = Path(root).expanduser()
        if not root.is_dir():
            raise ConfigError(f"{root}: dataset folder not found (--root)")
        progress = progress or NullProgress()
        p = self.params
        if annotations:
            metas = self._meta_files(annotations)
        else:
            metas = [root / s / p.meta_file for s in p.splits if (root / s).is_dir()]
            if not metas:
                raise ConfigError(
                    f"{root}: no split folder ({', '.join(p.splits)}); give --annotations "
                    "META_FILE or --cfg-options splits=[...]"
                )
        parsed = [read_meta(m) for m in metas]
        progress.start(sum(len(m) for m in parsed), "videos")
        problems: list[DataProblem] = []
        notes: list[str] = []
        videos = frames = 0
        for meta_path, meta in zip(metas, parsed, strict=True):
            checker = _Checker(p, meta_path, quick, on_problem)
            for vid, objects in meta.items():
                checker.video(vid, objects)
                frames += len(_listed(objects))
                progress.advance()
            videos += len(meta)
            problems += checker.problems
            if checker.images.is_dir():
                unlisted = sorted(
                    d.name for d in checker.images.iterdir() if d.is_dir() and d.name not in meta
                )
                if unlisted:
                    notes.append(
                        f"{_plural(len(unlisted), 'video folder')} under {checker.images} "
                        f"{'is' if len(unlisted) == 1 else 'are'} not in {meta_path} "
                        f"(e.g. {unlisted[0]!r}); not checked, the loader skips them"
                    )
        return DataCheckReport(root, metas, videos, frames, problems, notes)


class SyntheticVosDataset(Configurable):
    """The synthetic VOS dataset (:mod:`.synth`) as a dataset tool: ``synthesize``, plus the
    ``stats`` and ``check`` of :class:`YouTubeVosDatasetTool`.

    Example::

        tool = SyntheticVosDataset(SynthVosParams(num_videos=10, seed=1))
        meta = tool.synthesize(Path("data/synthetic_vos"), NullProgress())
    """

    Params = SynthVosParams
    params: SynthVosParams

    def synthesize(self, out: Path, progress: Progress | None = None) -> Path:
        """Write the dataset to the new or empty folder ``out``; returns its
        ``train/meta.json`` (:func:`.synth.generate_synthetic_vos`)."""
        return generate_synthetic_vos(Path(out), self.params, progress)

    def stats(self, files: Sequence[Path], progress: Progress | None = None) -> dict[str, Any]:
        """:meth:`YouTubeVosDatasetTool.stats`, reported under this dataset's name."""
        return YouTubeVosDatasetTool().stats(files, progress) | {"dataset": "synthetic_vos"}

    def check(
        self,
        root: Path,
        progress: Progress | None = None,
        *,
        annotations: Sequence[Path] = (),
        quick: bool = False,
        on_problem: ProblemFn | None = None,
    ) -> DataCheckReport:
        """:meth:`YouTubeVosDatasetTool.check` with the layout's defaults."""
        return YouTubeVosDatasetTool().check(
            root, progress, annotations=annotations, quick=quick, on_problem=on_problem
        )
