"""Loader of video-object-segmentation datasets in the YouTube-VOS layout (reference specs §C.1).

The layout, as released (2018/2019) and as written by :mod:`asl_vos.synth`::

    <root>/<split>/JPEGImages/<video>/<frame>.jpg     sampled frames (every 5th frame of the clip)
    <root>/<split>/Annotations/<video>/<frame>.png    palette masks: pixel value = object id
    <root>/<split>/meta.json                          objects, categories, frames per object
    <root>/all_frames/valid_all_frames/JPEGImages/<video>/<frame>.jpg    optional: every frame

Conventions:

* A frame is named by its 5-digit zero-padded index in the original clip (``"00005"``); names
  need not start at ``"00000"`` and the sampled ones are every 5th. Frames are ordered by that
  index, and every array this module returns indexes frames in :attr:`VosVideo.frames` order
  (0-based positions, not the names).
* Masks hold one object id per pixel, ``0`` = background; ids are the keys of ``meta.json``'s
  ``objects`` and need not be contiguous. Masks are the **visible** pixels of each object.
* Train: every sampled frame has a PNG and ``meta.json`` lists, per object, the frames where it
  is annotated. Valid: PNGs exist only where some object first appears, and ``meta.json`` lists
  the frames to predict per object, from its first frame on (``require_masks=False``).
* ``meta.json`` is ``{"videos": {id: {"objects": {"<id>": {"category": str, "frames": [str]}}}}}``;
  ``category`` may be absent (valid).

Validation: the listing and ``meta.json`` are checked when :class:`YouTubeVos` is built; pixel
content (sizes, ids) when a video is first read. Every problem raises :class:`VosDataError`
naming the file or folder and what is wrong.

Everything here needs numpy and Pillow only (no torch).
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from attrs import field, frozen

from asl_core import ConfigError, is_path_like

from .errors import VosDataError
from .pngio import read_image, read_mask

__all__ = [
    "IMAGE_EXTENSIONS",
    "HoldoutSplit",
    "VosObject",
    "VosVideo",
    "YouTubeVos",
    "frame_sort_key",
    "holdout_split",
    "list_frame_files",
    "read_meta",
]

log = logging.getLogger(__name__)

#: frame file extensions, in order of preference when a frame exists under several
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png")


# --------------------------------------------------------------------------- records


@frozen
class VosObject:
    """One object of a video, as ``meta.json`` describes it.

    Attributes:
        id: the object's pixel value in the masks (1..255).
        category: its category name, ``None`` when ``meta.json`` gives none (valid split).
        frames: frame names ``meta.json`` lists for it, sorted (train: where it is annotated;
            valid: the frames to predict, from its first frame on). When ``meta.json`` lists
            none, the loader fills in the frames whose PNG holds the id.
    """

    id: int
    category: str | None
    frames: tuple[str, ...] = field(converter=tuple)


@frozen
class VosVideo:
    """One video of a :class:`YouTubeVos` split.

    Attributes:
        id: the video id (its folder name).
        frames: sorted names of the frames the loader reads: those with a frame image and, when
            masks are required, a PNG. With an all-frames folder, the sampled frames (those of the
            split's own ``JPEGImages``, plus any ``meta.json`` lists) that exist there.
        height, width: size of what :meth:`YouTubeVos.read_frames` returns (after resizing).
        objects: the objects of ``meta.json``, sorted by id.
        all_frames: with an all-frames folder, the names of every frame in it, sorted; else
            empty.
    """

    id: str
    frames: tuple[str, ...] = field(converter=tuple)
    height: int
    width: int
    objects: tuple[VosObject, ...] = field(converter=tuple)
    all_frames: tuple[str, ...] = field(default=(), converter=tuple)

    @property
    def object_ids(self) -> tuple[int, ...]:
        """The object ids, ascending."""
        return tuple(o.id for o in self.objects)

    def object(self, object_id: int) -> VosObject:
        """The object with id ``object_id``.

        Raises:
            KeyError: when the video has no such object.
        """
        for obj in self.objects:
            if obj.id == object_id:
                return obj
        raise KeyError(f"video {self.id!r} has no object {object_id} (ids: {self.object_ids})")

    def first_frame(self, object_id: int) -> int:
        """Position in :attr:`frames` of the object's first annotated frame (the first of its
        listed frames that the video holds).

        Raises:
            KeyError: when the video has no such object or none of its frames is in
                :attr:`frames`.
        """
        index = {name: i for i, name in enumerate(self.frames)}
        for name in self.object(object_id).frames:
            if name in index:
                return index[name]
        raise KeyError(f"video {self.id!r}: object {object_id} has no frame among the frames read")


# --------------------------------------------------------------------------- meta.json and folders


def frame_sort_key(name: str) -> tuple[int, int, str]:
    """Sort key of frame names: numeric names by their number, others after them by name."""
    return (0, int(name), name) if name.isdigit() else (1, 0, name)


def list_frame_files(folder: Path, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> dict[str, Path]:
    """``{frame name: file}`` of the image files directly in ``folder``, sorted by name.

    A frame stored under several extensions is read from the first of ``extensions``.

    Raises:
        VosDataError: when the folder cannot be listed.
    """
    rank = {ext: i for i, ext in enumerate(extensions)}
    found: dict[str, tuple[int, Path]] = {}
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise VosDataError(f"{folder}: cannot list the folder ({exc})") from None
    for path in entries:
        ext = path.suffix.lower()
        if ext not in rank or not path.is_file():
            continue
        seen = found.get(path.stem)
        if seen is None or rank[ext] < seen[0]:
            found[path.stem] = (rank[ext], path)
    return {name: found[name][1] for name in sorted(found, key=frame_sort_key)}


def _object_id(key: Any, where: str) -> int:
    if isinstance(key, str) and key.strip().isdigit() and 1 <= int(key) <= 255:
        return int(key)
    raise VosDataError(f"{where}: object id {key!r} is not an integer 1..255 (a mask pixel value)")


def read_meta(path: Path) -> dict[str, tuple[VosObject, ...]]:
    """Read and validate a YouTube-VOS ``meta.json``.

    Returns:
        ``{video id: objects sorted by id}``, videos sorted by id; each object's frames sorted
        by :func:`frame_sort_key` without duplicates (an object may list none).

    Raises:
        VosDataError: the file is missing, not JSON, or not of the schema
            ``{"videos": {id: {"objects": {"<1..255>": {"category": str, "frames": [str]}}}}}``
            (the message names the file and the offending entry).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VosDataError(f"{path}: meta file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise VosDataError(f"{path}: cannot read the meta file ({exc})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise VosDataError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("videos"), dict):
        raise VosDataError(f'{path}: expected an object with a "videos" object at the top level')
    out: dict[str, tuple[VosObject, ...]] = {}
    for vid in sorted(doc["videos"]):
        entry = doc["videos"][vid]
        where = f"{path}: video {vid!r}"
        if is_path_like(vid) or "/" in vid or "\\" in vid:
            raise VosDataError(f"{where}: not a folder name")
        if not isinstance(entry, dict) or not isinstance(entry.get("objects"), dict):
            raise VosDataError(f'{where}: expected an object with an "objects" object')
        objects = []
        for key, obj in entry["objects"].items():
            oid = _object_id(key, where)
            if not isinstance(obj, dict):
                raise VosDataError(f"{where}, object {key}: expected an object, got {obj!r}")
            category = obj.get("category")
            if category is not None and not isinstance(category, str):
                raise VosDataError(f"{where}, object {key}: category must be a string")
            frames = obj.get("frames", [])
            if not isinstance(frames, list) or not all(
                not is_path_like(f) and "/" not in f and "\\" not in f for f in frames
            ):
                raise VosDataError(f"{where}, object {key}: frames must be a list of frame names")
            names = tuple(sorted(set(frames), key=frame_sort_key))
            objects.append(VosObject(oid, category, names))
        out[vid] = tuple(sorted(objects, key=lambda o: o.id))
    return out


def _image_size(path: Path) -> tuple[int, int]:
    """``(height, width)`` of an image file, from its header."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            width, height = img.size
    except FileNotFoundError:
        raise VosDataError(f"{path}: file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise VosDataError(f"{path}: unreadable image ({exc})") from None
    return int(height), int(width)


def _resize_nearest(ids: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of ``uint8[h, w]`` ids to ``[height, width]`` (pixel centres:
    output pixel ``i`` takes input pixel ``floor((i + 0.5) * h / height)``), so no new id
    appears."""
    h, w = ids.shape
    if (h, w) == (height, width):
        return ids
    rows = np.minimum(((np.arange(height) + 0.5) * h / height).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * w / width).astype(np.int64), w - 1)
    return ids[rows[:, None], cols[None, :]]


def _resize_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bicubic resize of ``uint8[h, w, 3]`` to ``[height, width, 3]`` (Pillow, antialiased when
    shrinking)."""
    if image.shape[:2] == (height, width):
        return image
    from PIL import Image

    resized = Image.fromarray(image).resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(resized, dtype=np.uint8)


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


# --------------------------------------------------------------------------- the loader


@frozen
class _Files:
    """Where one video's pixels are."""

    frames: tuple[Path, ...]  # image of each VosVideo.frames entry
    masks: tuple[Path | None, ...]  # its PNG, None when absent
    all_frames: tuple[Path, ...]  # every frame of the all-frames folder (or empty)
    complete: bool  # every sampled frame image of the video has a PNG


class YouTubeVos:
    """One split of a dataset in the YouTube-VOS layout (module docstring).

    Example::

        train = YouTubeVos(Path("data/youtube_vos"), "train", size=(240, 432))
        video = train.videos[0]
        frames = train.read_frames(video.id)   # uint8[F, 240, 432, 3]
        masks = train.read_masks(video.id)     # uint8[F, 240, 432]

    Args:
        root: the dataset root (holding ``<split>/``).
        split: the split folder, e.g. ``"train"`` or ``"valid"``.
        meta_file: the meta file inside the split folder.
        images_dir: the frames folder inside the split folder.
        annotations_dir: the masks folder inside the split folder.
        size: ``(H, W)`` every frame and mask is resized to (frames bicubic, masks nearest);
            ``None`` keeps the files' size (then all frames of a video must share it).
        all_frames_dir: a folder relative to ``root`` holding every frame of each video
            (e.g. ``"all_frames/valid_all_frames/JPEGImages"``); the frames are then read from
            there and :attr:`VosVideo.all_frames` lists them.
        videos: read only these video ids (an unknown one is an error).
        require_masks: keep only frames with a PNG and require one for every frame
            ``meta.json`` lists (train). ``False`` for the valid split, whose PNGs are first
            frames only.
        cache_videos: how many videos' decoded arrays to keep (least recently used first out;
            also capped at ``cache_bytes``); 0 disables the cache.
        cache_bytes: the most bytes of decoded arrays the cache holds.

    Raises:
        VosDataError: a missing root, split, meta file or frame folder, a malformed meta file,
            frames that ``meta.json`` lists but that are missing, a video without frames, an
            object that no listed frame and no PNG holds, or an unknown id in ``videos``.
    """

    def __init__(
        self,
        root: Path,
        split: str = "train",
        *,
        meta_file: str = "meta.json",
        images_dir: str = "JPEGImages",
        annotations_dir: str = "Annotations",
        size: tuple[int, int] | None = None,
        all_frames_dir: str | None = None,
        videos: Sequence[str] | None = None,
        require_masks: bool = True,
        cache_videos: int = 8,
        cache_bytes: int = 1 << 30,
    ) -> None:
        self.root = Path(root).expanduser()
        self.split = split
        if size is not None:
            size = (int(size[0]), int(size[1]))
            if min(size) < 1:
                raise ValueError(f"size must be a positive (H, W), got {size}")
        self.size = size
        self.require_masks = require_masks
        self.cache_videos = max(0, int(cache_videos))
        self.cache_bytes = max(0, int(cache_bytes))
        if not self.root.is_dir():
            raise VosDataError(f"{self.root}: dataset root not found")
        self.split_dir = self.root / split
        if not self.split_dir.is_dir():
            raise VosDataError(f"{self.split_dir}: split folder {split!r} not found")
        self.meta_path = self.split_dir / meta_file
        self.images_dir = self.split_dir / images_dir
        self.annotations_dir = self.split_dir / annotations_dir
        self.all_frames_dir = self.root / all_frames_dir if all_frames_dir is not None else None
        meta = read_meta(self.meta_path)
        self.categories: tuple[str, ...] = tuple(
            sorted({o.category for objs in meta.values() for o in objs if o.category is not None})
        )
        source = self.all_frames_dir if self.all_frames_dir is not None else self.images_dir
        if not source.is_dir():
            raise VosDataError(f"{source}: frames folder of split {split!r} not found")
        self._warn_unlisted(source, meta)

        if videos is not None:
            unknown = sorted(set(videos) - set(meta))
            if unknown:
                raise VosDataError(
                    f"{self.meta_path}: unknown video ids {unknown[:5]}"
                    + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
                )
            chosen = sorted(set(videos))
        else:
            chosen = list(meta)
        self.videos: list[VosVideo] = []
        self._by_id: dict[str, VosVideo] = {}
        self._files: dict[str, _Files] = {}
        for vid in chosen:
            video, files = self._build(vid, meta[vid])
            self.videos.append(video)
            self._by_id[vid] = video
            self._files[vid] = files
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._cached_bytes = 0

    def __repr__(self) -> str:
        return f"YouTubeVos({str(self.root)!r}, {self.split!r}, {len(self.videos)} videos)"

    def __len__(self) -> int:
        return len(self.videos)

    # ------------------------------------------------------------------ construction

    def _warn_unlisted(self, source: Path, meta: Mapping[str, Any]) -> None:
        try:
            folders = sorted(p.name for p in source.iterdir() if p.is_dir())
        except OSError as exc:
            raise VosDataError(f"{source}: cannot list the folder ({exc})") from None
        unlisted = [f for f in folders if f not in meta]
        if unlisted:
            log.warning(
                "%s: %d video folder(s) not in %s, skipped (e.g. %r)",
                source,
                len(unlisted),
                self.meta_path,
                unlisted[0],
            )

    def _build(self, vid: str, objects: tuple[VosObject, ...]) -> tuple[VosVideo, _Files]:
        """Check one video's listing against ``meta.json`` and record where its pixels are."""
        image_dir = self.images_dir / vid
        if self.all_frames_dir is not None:
            source_dir = self.all_frames_dir / vid
        else:
            source_dir = image_dir
        if not source_dir.is_dir():
            raise VosDataError(
                f"{source_dir}: frame folder of video {vid!r} (listed in {self.meta_path}) not found"
            )
        images = list_frame_files(source_dir)
        mask_dir = self.annotations_dir / vid
        if mask_dir.is_dir():
            pngs = list_frame_files(mask_dir, (".png",))
        elif self.require_masks:
            raise VosDataError(
                f"{mask_dir}: annotation folder of video {vid!r} not found (masks are required; "
                "pass require_masks=False for a split without them)"
            )
        else:
            pngs = {}
        listed = {f for o in objects for f in o.frames}
        if self.all_frames_dir is not None:
            # the sampled frames: the split's own frame folder when it exists, else what the
            # annotations name; always those meta.json lists
            sampled = set(list_frame_files(image_dir)) if image_dir.is_dir() else set(pngs)
            names = [n for n in images if n in sampled | listed]
        else:
            names = list(images)
        for name in sorted(listed, key=frame_sort_key):
            if name not in images:
                raise VosDataError(
                    f"{source_dir / (name + '.jpg')}: frame {name} of video {vid!r} is listed in "
                    f"{self.meta_path} but has no image file"
                )
            if self.require_masks and name not in pngs:
                raise VosDataError(
                    f"{mask_dir / (name + '.png')}: frame {name} of video {vid!r} is listed in "
                    f"{self.meta_path} but has no mask (pass require_masks=False for a split "
                    "annotated on first frames only)"
                )
        orphans = [n for n in pngs if n not in images]
        if orphans:
            log.warning(
                "%s: %d mask(s) without a frame image, ignored (e.g. %s.png)",
                mask_dir,
                len(orphans),
                orphans[0],
            )
        # whether every frame the video samples has a mask, before masks filter the frames
        complete = all(n in pngs for n in names)
        if self.require_masks:
            unmasked = [n for n in names if n not in pngs]
            if unmasked:
                log.warning(
                    "%s: %d frame(s) of video %r have no mask and are skipped (e.g. %s)",
                    mask_dir,
                    len(unmasked),
                    vid,
                    unmasked[0],
                )
            names = [n for n in names if n in pngs]
        if not names:
            extra = " with a mask" if self.require_masks and images else ""
            raise VosDataError(f"{source_dir}: video {vid!r} has no frames{extra}")
        objects = self._fill_unlisted(vid, objects, names, pngs)
        if self.size is not None:
            height, width = self.size
        else:
            height, width = _image_size(images[names[0]])
        all_names = tuple(images) if self.all_frames_dir is not None else ()
        files = _Files(
            frames=tuple(images[n] for n in names),
            masks=tuple(pngs.get(n) for n in names),
            all_frames=tuple(images[n] for n in all_names),
            complete=complete,
        )
        return VosVideo(vid, names, height, width, objects, all_names), files

    def _fill_unlisted(
        self,
        vid: str,
        objects: tuple[VosObject, ...],
        names: Sequence[str],
        pngs: Mapping[str, Path],
    ) -> tuple[VosObject, ...]:
        """Objects that ``meta.json`` lists no frame for get the frames whose PNG holds them."""
        empty = [o for o in objects if not o.frames]
        if not empty:
            return objects
        found: dict[int, list[str]] = {o.id: [] for o in empty}
        for name in names:
            if name in pngs:
                present = set(np.unique(read_mask(pngs[name])).tolist())
                for oid, frames in found.items():
                    if oid in present:
                        frames.append(name)
        out = []
        for obj in objects:
            if not obj.frames:
                if not found[obj.id]:
                    raise VosDataError(
                        f"{self.meta_path}: object {obj.id} of video {vid!r} has no annotated "
                        f"frame (no frames listed, and no mask under {self.annotations_dir / vid} "
                        "holds its id)"
                    )
                obj = VosObject(obj.id, obj.category, found[obj.id])
            out.append(obj)
        return tuple(out)

    # ------------------------------------------------------------------ access

    def video(self, video_id: str) -> VosVideo:
        """The video ``video_id``.

        Raises:
            KeyError: when the split (or the ``videos`` restriction) has no such video.
        """
        try:
            return self._by_id[video_id]
        except KeyError:
            raise KeyError(f"{self.split_dir}: no video {video_id!r}") from None

    def has_mask(self, video_id: str) -> np.ndarray:
        """``bool[F]``: which of the video's frames have a PNG (all of them when masks are
        required)."""
        self.video(video_id)
        return np.array([m is not None for m in self._files[video_id].masks], dtype=bool)

    def full_annotations(self) -> bool:
        """True when every frame image of every video has a PNG (the train layout); False e.g.
        for valid, annotated on first frames only."""
        return all(f.complete for f in self._files.values())

    def read_frames(self, video_id: str, *, all_frames: bool = False) -> np.ndarray:
        """The video's RGB frames, ``uint8[F, H, W, 3]`` (read-only; ``F = len(frames)``, or
        ``len(all_frames)`` when ``all_frames``), resized bicubically to ``size``.

        Raises:
            KeyError: unknown video; ValueError: ``all_frames`` without an all-frames folder.
            VosDataError: an unreadable frame file, or (without ``size``) frames of different
                sizes (naming both files and sizes).
        """
        video = self.video(video_id)
        if all_frames and self.all_frames_dir is None:
            raise ValueError("all_frames=True needs the loader's all_frames_dir")
        kind = "all" if all_frames else "frames"
        cached = self._cache_get(video_id, kind)
        if cached is not None:
            return cached
        paths = self._files[video_id].all_frames if all_frames else self._files[video_id].frames
        return self._cache_put(video_id, kind, _readonly(self._decode(video, paths)))

    def read_frames_at(
        self, video_id: str, indices: Sequence[int] | np.ndarray, *, all_frames: bool = False
    ) -> np.ndarray:
        """Some frames of the video, ``uint8[len(indices), H, W, 3]`` (a new, writable array),
        as :meth:`read_frames` gives them.

        Decodes only those frames unless the whole video is already in the cache (then it is
        sliced): what scoring a long video chunk by chunk uses, so that the video never has to
        exist whole in memory. Nothing is added to the cache.

        Raises:
            KeyError: unknown video; IndexError: an index outside ``0..F-1``; otherwise as
                :meth:`read_frames`.
        """
        video = self.video(video_id)
        if all_frames and self.all_frames_dir is None:
            raise ValueError("all_frames=True needs the loader's all_frames_dir")
        kind = "all" if all_frames else "frames"
        paths = self._files[video_id].all_frames if all_frames else self._files[video_id].frames
        index = np.asarray(indices, dtype=np.int64).reshape(-1)
        bad = index[(index < 0) | (index >= len(paths))]
        if bad.size:
            raise IndexError(
                f"frame {int(bad[0])} outside video {video_id!r} (0..{len(paths) - 1})"
            )
        cached = self._cache_get(video_id, kind)
        if cached is not None:
            return cached[index]
        return self._decode(video, [paths[int(i)] for i in index])

    def _decode(self, video: VosVideo, paths: Sequence[Path]) -> np.ndarray:
        """``uint8[len(paths), H, W, 3]``: the frame files of ``video``, resized to its size."""
        out = np.empty((len(paths), video.height, video.width, 3), dtype=np.uint8)
        for i, path in enumerate(paths):
            image = read_image(path)
            if self.size is None and image.shape[:2] != (video.height, video.width):
                # the video's size was read from the header of its first (sampled) frame
                raise VosDataError(
                    f"{path}: frame is {image.shape[1]}x{image.shape[0]} (WxH) but "
                    f"{self._files[video.id].frames[0]} of the same video is "
                    f"{video.width}x{video.height}"
                )
            out[i] = _resize_image(image, video.height, video.width)
        return out

    def read_masks(self, video_id: str) -> np.ndarray:
        """The video's object ids, ``uint8[F, H, W]`` (read-only), resized nearest to ``size``;
        frames without a PNG are all 0 (see :meth:`has_mask`).

        Raises:
            KeyError: unknown video.
            VosDataError: an unreadable or non-palette (RGB) mask, a mask whose size differs from
                its frame's (naming both files and sizes) or that holds ids ``meta.json`` does not
                list for the video (naming the PNG and the ids).
        """
        video = self.video(video_id)
        cached = self._cache_get(video_id, "masks")
        if cached is not None:
            return cached
        files = self._files[video_id]
        known = {0, *video.object_ids}
        out = np.zeros((len(video.frames), video.height, video.width), dtype=np.uint8)
        for i, (image_path, mask_path) in enumerate(zip(files.frames, files.masks, strict=True)):
            if mask_path is None:
                continue
            ids = read_mask(mask_path)
            image_size = _image_size(image_path)
            if ids.shape != image_size:
                raise VosDataError(
                    f"{mask_path}: mask is {ids.shape[1]}x{ids.shape[0]} (WxH) but its frame "
                    f"{image_path} is {image_size[1]}x{image_size[0]}"
                )
            unknown = sorted(set(np.unique(ids).tolist()) - known)
            if unknown:
                raise VosDataError(
                    f"{mask_path}: mask holds object ids {unknown} that {self.meta_path} does not "
                    f"list for video {video_id!r} (its objects: {list(video.object_ids)})"
                )
            out[i] = _resize_nearest(ids, video.height, video.width)
        return self._cache_put(video_id, "masks", _readonly(out))

    # ------------------------------------------------------------------ cache

    def _cache_get(self, video_id: str, kind: str) -> np.ndarray | None:
        key = (video_id, kind)
        arr = self._cache.get(key)
        if arr is not None:
            self._cache.move_to_end(key)
        return arr

    def _cache_put(self, video_id: str, kind: str, arr: np.ndarray) -> np.ndarray:
        """Keep ``arr`` unless it alone exceeds the byte cap; evict the least recently used
        entries beyond ``cache_videos`` videos or ``cache_bytes`` bytes."""
        if self.cache_videos == 0 or arr.nbytes > self.cache_bytes:
            return arr
        key = (video_id, kind)
        old = self._cache.pop(key, None)
        if old is not None:
            self._cached_bytes -= old.nbytes
        self._cache[key] = arr
        self._cached_bytes += arr.nbytes
        while (
            self._cached_bytes > self.cache_bytes or len(self._cached_videos()) > self.cache_videos
        ):
            (_, _), evicted = self._cache.popitem(last=False)
            self._cached_bytes -= evicted.nbytes
        return arr

    def _cached_videos(self) -> set[str]:
        return {vid for vid, _ in self._cache}


# --------------------------------------------------------------------------- held-out split


@frozen
class HoldoutSplit:
    """Train videos split into a local train and validation part (:func:`holdout_split`).

    Attributes:
        train: video ids to train on, sorted.
        val: video ids to evaluate on, sorted.
        unseen: the categories that no train video holds (the picked ones, plus any that only
            occur beside them); an object is "unseen" iff its category is in this set
            (reference specs §C.1).
    """

    train: tuple[str, ...] = field(converter=tuple)
    val: tuple[str, ...] = field(converter=tuple)
    unseen: frozenset[str] = field(converter=frozenset)

    def is_unseen(self, obj: VosObject) -> bool:
        """Whether ``obj`` belongs to an unseen category."""
        return obj.category is not None and obj.category in self.unseen


def _categories_of(video: VosVideo) -> set[str]:
    return {o.category for o in video.objects if o.category is not None}


def holdout_split(
    videos: Sequence[VosVideo],
    *,
    val_videos: int,
    unseen_categories: int | Sequence[str],
    rng: np.random.Generator,
) -> HoldoutSplit:
    """Hold out part of the train split for local evaluation with seen and unseen categories.

    YouTube-VOS's valid ground truth beyond first frames is not public (specs §C.1), so local
    scores come from held-out train videos:

    1. Pick the unseen categories: ``unseen_categories`` names them, or is a count drawn with
       ``rng`` (without replacement) from the sorted categories of ``videos``.
    2. Every video with an object of an unseen category goes to val (all of them, with a
       warning, when they are more than ``val_videos``). A category that occurs only in such
       videos becomes unseen too (the returned :attr:`HoldoutSplit.unseen` is exactly the
       categories without a train video).
    3. Other videos, in an order drawn with ``rng``, join val until it holds ``val_videos``;
       a video is skipped when it holds the last train video of some category, so every
       category outside ``unseen`` stays seen (has a train video).
    4. The rest is train.

    Deterministic for a given ``rng`` state. Videos are identified by :attr:`VosVideo.id`;
    objects without a category never make a video unseen.

    Raises:
        ConfigError: unknown category names, more unseen categories than exist, a negative
            ``val_videos``, or an empty train part.
    """
    if val_videos < 0:
        raise ConfigError(f"val_videos must be >= 0, got {val_videos}")
    ids = [v.id for v in videos]
    if len(set(ids)) != len(ids):
        raise ConfigError("holdout_split: duplicate video ids")
    categories = sorted(set().union(*(_categories_of(v) for v in videos)))
    if isinstance(unseen_categories, (int, np.integer)):
        count = int(unseen_categories)
        if not 0 <= count <= len(categories):
            raise ConfigError(
                f"unseen_categories={count}: the videos have {len(categories)} categories"
            )
        picked = rng.choice(len(categories), size=count, replace=False) if count else []
        unseen = frozenset(categories[int(i)] for i in picked)
    else:
        names = [unseen_categories] if isinstance(unseen_categories, str) else unseen_categories
        unknown = sorted(set(names) - set(categories))
        if unknown:
            raise ConfigError(f"unknown unseen categories {unknown}; the videos have {categories}")
        unseen = frozenset(names)

    ordered = sorted(videos, key=lambda v: v.id)
    val = {v.id for v in ordered if _categories_of(v) & unseen}
    if len(val) > val_videos:
        log.warning(
            "holdout_split: %d videos hold unseen categories, more than val_videos=%d; all go to val",
            len(val),
            val_videos,
        )
    rest = [v for v in ordered if v.id not in val]
    train_count: dict[str, int] = {}
    for v in rest:
        for c in _categories_of(v):
            train_count[c] = train_count.get(c, 0) + 1
    for i in rng.permutation(len(rest)) if rest else []:
        if len(val) >= val_videos:
            break
        video = rest[int(i)]
        cats = _categories_of(video)
        if any(train_count[c] <= 1 for c in cats):
            continue  # it would turn a seen category unseen
        val.add(video.id)
        for c in cats:
            train_count[c] -= 1
    if len(val) < val_videos and len(val) < len(ordered):
        log.warning(
            "holdout_split: only %d of the %d val videos could be held out without leaving a "
            "seen category without train videos",
            len(val),
            val_videos,
        )
    train = [v.id for v in ordered if v.id not in val]
    # a category seen only beside unseen ones left train with them: it is unseen too (§C.1:
    # "seen" means present among the training categories)
    in_train = set().union(*(_categories_of(v) for v in ordered if v.id not in val))
    unseen = frozenset(categories) - in_train
    if not train:
        raise ConfigError(
            f"holdout_split: no train video left ({len(ordered)} videos, {len(val)} held out; "
            f"unseen categories {sorted(unseen)})"
        )
    return HoldoutSplit(train, sorted(val), unseen)
