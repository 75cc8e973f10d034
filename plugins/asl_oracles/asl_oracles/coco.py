"""COCO JSON exchange: the requested frames as images out, boxes and masks back (issue 8).

Format relied on (the COCO "Data format" page, cocodataset.org/#format-data, object detection
section, and the pycocotools ``mask`` API):

- one JSON object with ``images`` (``id``, ``file_name``, ``width``, ``height``),
  ``annotations`` (``id``, ``image_id``, ``category_id``, ``bbox`` = ``[x, y, width, height]``
  in pixels from the top-left corner, ``segmentation``, ``area``, ``iscrowd``) and
  ``categories`` (``id``, ``name``, ``supercategory``);
- ``segmentation`` is either polygons (a list of ``[x1, y1, x2, y2, ...]`` lists) or an RLE
  ``{"size": [h, w], "counts": ...}`` whose runs go down the columns (column-major), start with
  background, and are stored either uncompressed (a list of ints) or compressed (a string: each
  run in 5-bit groups offset by 48, bit 0x20 = more groups follow, bit 0x10 of the last group =
  sign, runs from the fourth on stored as the difference to the run two places back).
  The COCO page pairs RLE with ``iscrowd=1``; pycocotools (``COCO.annToRLE``) reads an RLE
  segmentation whatever ``iscrowd`` says, and RLE with ``iscrowd=0`` is what is written here
  (one object, not a crowd).

Conventions of this exchange:

- **Export** (:func:`write_coco`): one image per requested frame, in request order, ``id`` 1, 2,
  ...; ``file_name`` is ``"<video id>/<frame name>"`` (``ExchangeVideo.frame_name``); extra
  fields ``video_id`` (str), ``frame_index`` (0-based task frame) and ``asl_score`` (the
  selection score). Annotations are the model's predictions for those frames (the requested
  frames only; COCO has no notion of context frames): ``bbox`` from the region's box
  ``(x1, y1, x2, y2)`` (``x2, y2`` exclusive, so ``width = x2 - x1``), or from the mask when the
  region has none; ``segmentation`` the compressed RLE when the region has a mask, else ``[]``;
  ``area`` the mask's pixel count, else ``width * height``; ``iscrowd`` 0; ``category_id`` =
  category index + 1; ``track_id`` = ``Region.track_id``. ``info`` names the run and cycle.
  With ``frames_dir`` and ``read_frame``, each image is also written at
  ``frames_dir/<file_name>`` (JPEG, quality 95, for ``.jpg``/``.jpeg`` names, i.e. the
  default ``00005.jpg`` names; a frame whose dataset name has another image extension, e.g.
  ``.png``, is written in that format so that ``file_name`` stays the frame's real name).
- **Import** (:func:`read_coco`): every image is a human frame (COCO has no interpolation);
  an image without annotations is a frame annotated as empty. Images map to frames by
  ``video_id`` + ``frame_index`` when both are present, else by parsing ``file_name`` as
  ``"<video id>/<frame name>"`` (split at the last ``/``; video ids may contain ``/``).
  ``bbox`` becomes the box (derived from the mask when ``bbox`` is absent); ``segmentation``
  becomes a compressed RLE mask (uncompressed RLE and polygons converted with pycocotools
  ``frPyObjects``, several polygons merged). Categories map through the file's own
  ``categories`` names to the request's category names; ``iscrowd`` and ``area`` are not
  used. ``track_id`` is kept; an annotation
  without one (drawn by the annotator) gets a new track id: per video, one more than the largest
  track id known for that video (request and file), in annotation order.

Readers only parse; the run-level rules (known video, range, requested, clipping) are
:func:`asl_oracles.exchange.validate_import`'s. pycocotools and Pillow are imported lazily,
only by the functions that need them.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from asl_core import FrameRef, Region, is_path_like

from .exchange import (
    ExchangeFormatError,
    ExchangeRequest,
    ExchangeVideo,
    ImportedFrame,
    ImportResult,
)

__all__ = [
    "image_file_name",
    "is_path_like",
    "read_coco",
    "rle_area",
    "rle_box",
    "rle_counts",
    "rle_mask",
    "write_coco",
]

#: Pillow format per frame-name extension for the frames written by :func:`write_coco`.
_IMAGE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP"}


# --------------------------------------------------------------------------- shared helpers


def read_json(path: Path) -> Any:
    """The parsed JSON of ``path``.

    Raises:
        ExchangeFormatError: the file is missing or unreadable, not UTF-8, not JSON (e.g.
            truncated), or uses ``NaN``/``Infinity``; the message names the file.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExchangeFormatError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExchangeFormatError(f"{path}: cannot read the file: {exc}") from None

    def reject(constant: str) -> Any:
        raise ExchangeFormatError(f"{path}: {constant} is not a number JSON allows")

    try:
        return json.loads(text, parse_constant=reject)
    except json.JSONDecodeError as exc:
        raise ExchangeFormatError(
            f"{path}: not valid JSON (truncated or corrupt?): {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        ) from None


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through ``<path>.partial`` and a rename, so a reader never
    sees half a file; creates the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def finite_number(value: Any) -> float | None:
    """``float(value)`` for a finite JSON number (not a bool), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def integer(value: Any) -> int | None:
    """``value`` as an int when it is a JSON integer (or an integral float), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def max_track_id(request: ExchangeRequest, video: str) -> int:
    """Largest track id of ``video`` in the request's context and predictions (-1 if none)."""
    best = -1
    for table in (request.context, request.predictions):
        for ref, regions in table.items():
            if ref.video == video:
                for region in regions:
                    best = max(best, region.track_id)
    return best


# --------------------------------------------------------------------------- RLE


def _decode_counts_string(text: str) -> list[int]:
    # the compressed form of the COCO API (see the module docstring)
    counts: list[int] = []
    pos = 0
    while pos < len(text):
        value = 0
        shift = 0
        while True:
            if pos >= len(text):
                raise ValueError("the RLE string ends inside a run length")
            code = ord(text[pos]) - 48
            if not 0 <= code < 64:
                raise ValueError(f"character {text[pos]!r} is not an RLE character")
            pos += 1
            value |= (code & 0x1F) << shift
            shift += 5
            if not code & 0x20:
                if code & 0x10:
                    value -= 1 << shift  # negative: sign-extend the groups read so far
                break
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def rle_counts(rle: Mapping[str, Any]) -> list[int]:
    """Run lengths of a COCO RLE, background run first (column-major order).

    Args:
        rle: ``{"size": (h, w), "counts": str | bytes | sequence of int}``.

    Raises:
        ValueError: a malformed compressed string, or a negative run.
    """
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    if isinstance(counts, str):
        runs = _decode_counts_string(counts)
    else:
        runs = [int(c) for c in counts]
    if any(c < 0 for c in runs):
        raise ValueError("negative run length")
    return runs


def rle_mask(rle: Mapping[str, Any]) -> np.ndarray:
    """The mask of a COCO RLE as ``bool[h, w]``.

    Raises:
        ValueError: the runs do not add up to ``h * w`` (or are malformed).
    """
    h, w = (int(v) for v in rle["size"])
    runs = rle_counts(rle)
    if sum(runs) != h * w:
        raise ValueError(f"the runs cover {sum(runs)} pixels, the {h}x{w} mask has {h * w}")
    values = np.zeros(len(runs), dtype=bool)
    values[1::2] = True
    return np.repeat(values, runs).reshape(w, h).T


def rle_box(rle: Mapping[str, Any]) -> tuple[float, float, float, float] | None:
    """Tight box ``(x1, y1, x2, y2)`` (``x2, y2`` exclusive) of an RLE mask; ``None`` when
    the mask is empty."""
    mask = rle_mask(rle)
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))


def rle_area(rle: Mapping[str, Any]) -> int:
    """Foreground pixels of an RLE (the sum of its odd runs)."""
    return int(sum(rle_counts(rle)[1::2]))


def _compressed_counts(rle: Mapping[str, Any]) -> str:
    counts = rle["counts"]
    if isinstance(counts, bytes):
        return counts.decode("ascii")
    if isinstance(counts, str):
        return counts
    from pycocotools import mask as mask_utils

    h, w = (int(v) for v in rle["size"])
    out = mask_utils.frPyObjects({"size": [h, w], "counts": [int(c) for c in counts]}, h, w)
    return out["counts"].decode("ascii")


# --------------------------------------------------------------------------- export


def image_file_name(video: ExchangeVideo, frame: int) -> str:
    """``"<video id>/<frame name>"``: the ``file_name`` of a frame's image."""
    return f"{video.id}/{video.frame_name(frame)}"


def _annotation(region: Region, ann_id: int, image_id: int) -> dict[str, Any] | None:
    mask = dict(region.mask) if region.mask is not None else None
    box = region.box if region.box is not None else rle_box(mask) if mask is not None else None
    if box is None:
        return None  # an empty mask without a box: nothing to draw
    x1, y1, x2, y2 = box
    segmentation: Any = []
    if mask is not None:
        segmentation = {"size": [int(v) for v in mask["size"]], "counts": _compressed_counts(mask)}
        area = float(rle_area(mask))
    else:
        area = (x2 - x1) * (y2 - y1)
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": region.category + 1,
        "bbox": [x1, y1, x2 - x1, y2 - y1],
        "segmentation": segmentation,
        "area": area,
        "iscrowd": 0,
        "track_id": region.track_id,
    }


def _write_frames(
    request: ExchangeRequest,
    frames_dir: Path,
    read_frame: Callable[[str, int], np.ndarray],
) -> None:
    from PIL import Image

    root = Path(frames_dir).resolve()
    for item in request.requested:
        ref = item.ref
        video = request.videos[ref.video]
        frame_name = video.frame_name(ref.frame)
        name = image_file_name(video, ref.frame)
        if is_path_like(ref.video) or is_path_like(frame_name) or re.search(r"[\\/]", frame_name):
            raise ExchangeFormatError(
                f"{frames_dir}: refusing to write frame image {name!r}: the name looks like a path"
            )
        target = Path(frames_dir) / name
        if not target.resolve().is_relative_to(root):
            raise ExchangeFormatError(
                f"{frames_dir}: refusing to write frame image {name!r}: it lies outside the folder"
            )
        fmt = _IMAGE_FORMATS.get(target.suffix.lower())
        if fmt is None:
            raise ExchangeFormatError(
                f"{frames_dir}: cannot write frame image {name!r}: unknown image extension "
                f"(known: {', '.join(sorted(_IMAGE_FORMATS))})"
            )
        pixels = np.asarray(read_frame(ref.video, ref.frame))
        if pixels.dtype != np.uint8 or pixels.shape != (video.height, video.width, 3):
            raise ValueError(
                f"read_frame({ref.video!r}, {ref.frame}) gave {pixels.dtype}{list(pixels.shape)}, "
                f"expected uint8[{video.height}, {video.width}, 3]"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".partial")
        options = {"quality": 95} if fmt == "JPEG" else {}
        Image.fromarray(pixels).save(tmp, format=fmt, **options)
        os.replace(tmp, target)


def write_coco(
    request: ExchangeRequest,
    path: Path,
    *,
    frames_dir: Path | None = None,
    read_frame: Callable[[str, int], np.ndarray] | None = None,
) -> None:
    """Write the requested frames of ``request`` as a COCO JSON file (see the module docstring).

    Args:
        request: what the cycle asks for.
        path: the JSON file to write (replaced atomically).
        frames_dir: when given (with ``read_frame``), also write each requested frame's image
            at ``frames_dir/<file_name>``.
        read_frame: ``(video id, 0-based frame) -> uint8[H, W, 3]`` RGB pixels of the frame.

    Raises:
        ExchangeFormatError: a frame image name looks like a path (``..``, absolute).
        ValueError: only one of ``frames_dir`` / ``read_frame`` given, or ``read_frame`` gave
            an array of the wrong shape or type.
    """
    if (frames_dir is None) != (read_frame is None):
        raise ValueError("write_coco: give both frames_dir and read_frame, or neither")
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id, item in enumerate(request.requested, start=1):
        ref = item.ref
        video = request.videos[ref.video]
        images.append(
            {
                "id": image_id,
                "file_name": image_file_name(video, ref.frame),
                "width": video.width,
                "height": video.height,
                "video_id": video.id,
                "frame_index": ref.frame,
                "asl_score": item.score,
            }
        )
        for region in request.predictions.get(ref, ()):
            ann = _annotation(region, len(annotations) + 1, image_id)
            if ann is not None:
                annotations.append(ann)
    document = {
        "info": {
            "description": f"ASL run {request.run}, frames to annotate for cycle {request.cycle}",
            "asl_run": request.run,
            "asl_cycle": request.cycle,
        },
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": i + 1, "name": name, "supercategory": "object"}
            for i, name in enumerate(request.categories)
        ],
    }
    if frames_dir is not None and read_frame is not None:
        _write_frames(request, frames_dir, read_frame)
    write_text_atomic(path, json.dumps(document, indent=1, allow_nan=False) + "\n")


# --------------------------------------------------------------------------- import


def _categories(doc: Mapping[str, Any], request: ExchangeRequest, path: Path) -> dict[int, int]:
    raw = doc.get("categories")
    if not isinstance(raw, list):
        raise ExchangeFormatError(f"{path}: 'categories' must be a list of {{id, name}} objects")
    out: dict[int, int] = {}
    for k, cat in enumerate(raw):
        where = f"{path}: category {k}"
        if not isinstance(cat, dict):
            raise ExchangeFormatError(f"{where}: not an object")
        cat_id = integer(cat.get("id"))
        name = cat.get("name")
        if cat_id is None or not isinstance(name, str):
            raise ExchangeFormatError(f"{where}: needs an integer 'id' and a string 'name'")
        if cat_id in out:
            raise ExchangeFormatError(f"{where}: category id {cat_id} appears twice")
        if name not in request.categories:
            raise ExchangeFormatError(
                f"{where} (id {cat_id}): unknown category name {name!r} "
                f"(the run knows {list(request.categories)})"
            )
        out[cat_id] = request.categories.index(name)
    return out


def _image_ref(image: Mapping[str, Any], request: ExchangeRequest, where: str) -> FrameRef:
    video_id = image.get("video_id")
    frame_index = image.get("frame_index")
    if video_id is not None and frame_index is not None:
        index = integer(frame_index)
        if not isinstance(video_id, str) or index is None:
            raise ExchangeFormatError(
                f"{where}: 'video_id' must be a string and 'frame_index' an integer"
            )
        if is_path_like(video_id):
            raise ExchangeFormatError(f"{where}: video id {video_id!r} looks like a path")
        if video_id not in request.videos:
            raise ExchangeFormatError(f"{where}: unknown video {video_id!r} (not in this run)")
        if index < 0:
            raise ExchangeFormatError(f"{where}: negative frame_index {index}")
        return FrameRef(video_id, index)
    file_name = image.get("file_name")
    if not isinstance(file_name, str):
        raise ExchangeFormatError(
            f"{where}: needs 'video_id' and 'frame_index', or a 'file_name' '<video>/<frame name>'"
        )
    if is_path_like(file_name):
        raise ExchangeFormatError(f"{where}: file_name {file_name!r} looks like a path")
    video_id, _, frame_name = file_name.rpartition("/")
    video = request.videos.get(video_id)
    if video is None:
        raise ExchangeFormatError(
            f"{where}: file_name {file_name!r} does not name a video of this run "
            "('<video>/<frame name>' expected)"
        )
    if video.frame_names:
        try:
            return FrameRef(video_id, video.frame_names.index(frame_name))
        except ValueError:
            pass
    else:
        match = re.fullmatch(r"(\d+)\.jpg", frame_name)
        if match and video.frame_name(int(match.group(1))) == frame_name:
            return FrameRef(video_id, int(match.group(1)))
    raise ExchangeFormatError(
        f"{where}: file_name {file_name!r}: {frame_name!r} is not a frame name of video "
        f"{video_id!r}"
    )


def _mask(seg: Any, video: ExchangeVideo, where: str) -> dict[str, Any] | None:
    if seg is None or (isinstance(seg, (list, dict)) and not seg):
        return None
    h, w = video.height, video.width
    if isinstance(seg, dict):
        size = seg.get("size")
        counts = seg.get("counts")
        if not isinstance(size, list) or [integer(v) for v in size] != [h, w]:
            raise ExchangeFormatError(
                f"{where}: RLE size {size!r} is not the video's [height, width] = [{h}, {w}]"
            )
        if isinstance(counts, list):
            if any(integer(c) is None for c in counts):
                raise ExchangeFormatError(f"{where}: RLE counts must be integers")
            counts = [integer(c) for c in counts]
        elif not isinstance(counts, str):
            raise ExchangeFormatError(f"{where}: RLE counts must be a string or a list of ints")
        try:
            rle_mask({"size": (h, w), "counts": counts})  # checks the runs before pycocotools
        except ValueError as exc:
            raise ExchangeFormatError(f"{where}: malformed RLE: {exc}") from None
        return {"size": (h, w), "counts": _compressed_counts({"size": (h, w), "counts": counts})}
    if isinstance(seg, list):
        polygons: list[list[float]] = []
        for p, poly in enumerate(seg):
            coords = [finite_number(v) for v in poly] if isinstance(poly, list) else [None]
            if any(v is None for v in coords) or len(coords) < 6 or len(coords) % 2:
                raise ExchangeFormatError(
                    f"{where}: polygon {p} must be a list of at least 3 (x, y) number pairs"
                )
            polygons.append([float(v) for v in coords])  # type: ignore[arg-type]
        from pycocotools import mask as mask_utils

        merged = mask_utils.merge(mask_utils.frPyObjects(polygons, h, w))
        return {"size": (h, w), "counts": merged["counts"].decode("ascii")}
    raise ExchangeFormatError(f"{where}: 'segmentation' must be polygons or an RLE object")


def _box(ann: Mapping[str, Any], mask: Mapping[str, Any] | None, where: str) -> Any:
    bbox = ann.get("bbox")
    if bbox is None:
        return rle_box(mask) if mask is not None else None
    values = [finite_number(v) for v in bbox] if isinstance(bbox, list) else []
    if len(values) != 4 or any(v is None for v in values):
        raise ExchangeFormatError(f"{where}: 'bbox' must be 4 numbers [x, y, width, height]")
    x, y, bw, bh = values  # type: ignore[misc]
    if bw < 0 or bh < 0:
        raise ExchangeFormatError(f"{where}: 'bbox' {bbox} has a negative width or height")
    return (x, y, x + bw, y + bh)


def read_coco(path: Path, request: ExchangeRequest) -> ImportResult:
    """Read a COCO JSON file back as human frames of ``request`` (see the module docstring).

    Returns:
        One :class:`ImportedFrame` per image (``human=True``, ``seconds=None``), in file order,
        regions in annotation order.

    Raises:
        ExchangeFormatError: the file is missing or not JSON, the schema is wrong, an image
            cannot be mapped to a frame of a known video (or names a path-like one), an
            annotation refers to an unknown image or category, or has a malformed ``bbox`` or
            ``segmentation``; the message names the file and the image / annotation id.
    """
    path = Path(path)
    doc = read_json(path)
    if not isinstance(doc, dict):
        raise ExchangeFormatError(f"{path}: a COCO file is one JSON object")
    images = doc.get("images")
    annotations = doc.get("annotations", [])
    if not isinstance(images, list) or not isinstance(annotations, list):
        raise ExchangeFormatError(f"{path}: 'images' and 'annotations' must be lists")
    categories = _categories(doc, request, path)

    refs: dict[int, FrameRef] = {}
    for k, image in enumerate(images):
        if not isinstance(image, dict):
            raise ExchangeFormatError(f"{path}: image {k}: not an object")
        image_id = integer(image.get("id"))
        if image_id is None:
            raise ExchangeFormatError(f"{path}: image {k}: needs an integer 'id'")
        where = f"{path}: image id {image_id}"
        if image_id in refs:
            raise ExchangeFormatError(f"{where}: the id appears twice")
        ref = _image_ref(image, request, where)
        video = request.videos[ref.video]
        for key, expected in (("width", video.width), ("height", video.height)):
            if key in image and integer(image[key]) != expected:
                raise ExchangeFormatError(
                    f"{where}: {key} {image[key]!r} differs from video {ref.video!r}'s {expected}"
                )
        refs[image_id] = ref

    # (track id or None, category, box, mask) per image, in annotation order
    found: dict[int, list[tuple[int | None, int, Any, Any, str]]] = {i: [] for i in refs}
    file_tracks: dict[str, int] = {}
    for k, ann in enumerate(annotations):
        if not isinstance(ann, dict):
            raise ExchangeFormatError(f"{path}: annotation {k}: not an object")
        where = f"{path}: annotation id {ann.get('id', f'? (index {k})')}"
        image_id = integer(ann.get("image_id"))
        if image_id not in refs:
            raise ExchangeFormatError(f"{where}: unknown image_id {ann.get('image_id')!r}")
        category = categories.get(integer(ann.get("category_id")))  # type: ignore[arg-type]
        if category is None:
            raise ExchangeFormatError(
                f"{where}: category_id {ann.get('category_id')!r} is not in 'categories'"
            )
        track: int | None = None
        if ann.get("track_id") is not None:
            track = integer(ann["track_id"])
            if track is None or track < 0:
                raise ExchangeFormatError(
                    f"{where}: track_id {ann['track_id']!r} is not an integer >= 0"
                )
            video_id = refs[image_id].video
            file_tracks[video_id] = max(file_tracks.get(video_id, -1), track)
        video = request.videos[refs[image_id].video]
        mask = _mask(ann.get("segmentation"), video, where)
        box = _box(ann, mask, where)
        if box is None and mask is None:
            raise ExchangeFormatError(f"{where}: needs a 'bbox' or a non-empty 'segmentation'")
        found[image_id].append((track, category, box, mask, where))

    next_track = {
        v: max(max_track_id(request, v), file_tracks.get(v, -1)) + 1 for v in request.videos
    }
    frames: list[ImportedFrame] = []
    for image_id, ref in refs.items():
        regions: list[Region] = []
        used: set[int] = set()
        for track, category, box, mask, where in found[image_id]:
            if track is None:
                track = next_track[ref.video]
                next_track[ref.video] += 1
            if track in used:
                raise ExchangeFormatError(
                    f"{where}: track {track} appears twice on image {image_id}"
                )
            used.add(track)
            regions.append(Region(track, category, box, mask))
        frames.append(ImportedFrame(ref, tuple(regions), human=True, seconds=None))
    return ImportResult(frames)
