"""CVAT XML 1.1 exchange: "CVAT for video" tracks (default) and a "CVAT for images" frame list.

Writing (:func:`write_cvat`)
----------------------------
CVAT holds one video per task, so there is one XML file per video that has requested frames:

* ``path`` ending in ``.xml``: that one file; the request must have exactly one such video.
* any other ``path``: a folder (created when missing) with one ``<video id>.xml`` per video.

``mode="tracks"`` writes the CVAT for video 1.1 layout: ``<meta><task>`` (``<name>`` = the video
id, ``<mode>interpolation</mode>``, ``<size>``, ``<start_frame>0``, the labels =
``request.categories``, ``<original_size>``) and one ``<track id label source>`` per
``(Region.track_id, category)`` of the video, numbered 0.. in that order. A track has a
``keyframe="1"`` box on every context (already labelled) frame and every requested frame where
it has a region (the model's prediction pre-fills requested frames; a requested frame without a
prediction for a track gets nothing: the annotator adds it). ``outside="1"`` keyframes close
the track after its last box (on the first later frame that is not requested) and on context
frames inside its span where it is absent, so CVAT does not interpolate through a frame known
to lack it. Requested frames never carry a written ``outside`` keyframe.

``mode="frames"`` writes the CVAT for images 1.1 layout with only the requested frames:
``<image id name width height>`` (``name`` = ``ExchangeVideo.frame_name``) holding the
predicted boxes, each with an ``<attribute name="track_id">`` (declared in the labels as an
immutable text attribute) so identities survive when the CVAT labels declare it too.

Both modes add ``<meta><asl run cycle video mode>`` with one ``<frame index name role score>``
per requested and context frame, for people and for reading the written file directly; CVAT
drops it on its own export. Boxes are ``xtl ytl xbr ybr`` = ``Region.box`` (CVAT coordinates
are continuous, so ``xbr`` is the exclusive pixel edge, as in :class:`asl_core.Region`),
written with 2 decimals as CVAT does. A region with only a mask is written as the tight box of
the mask (masks are not exported); a mask with no pixel is left out.

Reading (:func:`read_cvat`)
---------------------------
``path`` is one XML file or a folder whose ``*.xml`` files are all read (one video each). The
XML is parsed with expat, refusing any ``<!DOCTYPE>`` (hence every entity declaration, internal
or external) before anything in it is expanded.

Which video a file is for comes from, in order of strength and all required to agree: our
``<meta><asl video>``, the CVAT task name (``<meta><task|job><name>`` equal to a video id), the
``<source>`` when it is a plain file name ``<video id>.<ext>``, and the file name
``<video id>.xml``; when none names a video and the request has one video, it is that one.
Video and image names that look like paths (``..`` parts, absolute, backslashes, drive
letters) are refused. A file is read as an images file when it has ``<image>`` elements (or no
``<track>`` and ``<mode>annotation</mode>``), else as a tracks file.

Tracks files: only shapes with ``keyframe="1"`` and ``outside="0"`` make a frame human; a requested
frame where the annotator set a track ``outside`` (a ``keyframe="1" outside="1"`` shape, never
written by :func:`write_cvat`) is human too, which is how an annotator says a requested frame has
no object. Every other frame with a visible (``outside="0"``) shape is returned with
``human=False`` (CVAT's interpolated ``keyframe="0"`` frames). A human frame's regions are all
shapes visible on it, interpolated ones included (the annotator saw and kept them). Boxes and
polygons are read (a polygon becomes an RLE mask over the video's frame size and its tight box);
rotated boxes and other shapes are refused. CVAT renumbers tracks on export, so tracks are mapped
back to ``Region.track_id`` by their shapes: a track takes the context or predicted track of the
same category whose boxes it overlaps best (IoU >= 0.5 on the same frames; sum of IoUs, context and
predictions alike, one-to-one, ties to the earlier file track and the lower id); tracks that match
nothing get new ids above every id the request knows for the video, in file order.

Image files (``<image>`` elements): an image is matched to a frame by its ``name`` (exact frame
name, else the last part of a relative name). A requested frame's image is human even when it holds
no shape (the annotator found nothing), so import a frames task only when it is finished; another
image is human when it holds a shape, and skipped otherwise. A shape's track id is its ``track_id``
attribute, else the predicted region of the same category on that frame it overlaps best (IoU >=
0.5), else a new id.

Context frames found in a file are never returned; a warning says so when the file's regions
on one differ from the run's labels (by more than 0.01 px). CVAT XML has no annotation timing:
``seconds`` is ``None``. Range, requested-ness and clipping are checked afterwards by
:func:`validate_import` (``asl_oracles.exchange``).

What annotators must keep: one task per video made from all of its frames in order (start
frame 0, no frame step), named after the video id (or the exported ``annotations.xml`` saved as
``<video id>.xml``); the label names; and, to mark a requested frame empty in a tracks task, an
``outside`` keyframe on it (an empty requested frame of a video with no track at all cannot be
said in a tracks task: use ``mode="frames"``). Pre-filled boxes on requested frames are
keyframes already, so a requested frame left as pre-filled is imported as annotated.
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple
from xml.parsers import expat

from asl_core import FrameRef, Region

from .exchange import (
    ExchangeFormatError,
    ExchangeRequest,
    ExchangeVideo,
    ImportedFrame,
    ImportResult,
)

__all__ = ["CVAT_MODES", "read_cvat", "write_cvat"]

#: the layouts :func:`write_cvat` can write
CVAT_MODES = ("tracks", "frames")

_VERSION = "1.1"
_MIN_IOU = 0.5
_SHAPES = ("box", "polygon")
_OTHER_SHAPES = frozenset(
    {"polyline", "points", "cuboid", "cuboid_3d", "ellipse", "mask", "skeleton"}
)
_DRIVE = re.compile(r"^[A-Za-z]:")
Box = tuple[float, float, float, float]


# --------------------------------------------------------------------------- names


def _looks_like_path(name: str) -> bool:
    """True for names that could point outside a folder: absolute (``/x``, ``C:x``), with a
    backslash, a ``..`` part, or control characters."""
    return (
        name.startswith("/")
        or "\\" in name
        or bool(_DRIVE.match(name))
        or ".." in name.split("/")
        or any(ord(c) < 32 for c in name)
    )


# --------------------------------------------------------------------------- geometry


def _mask_box(mask: Mapping[str, Any]) -> Box | None:
    """Tight ``(x1, y1, x2, y2)`` box (exclusive ends) of a COCO RLE, ``None`` if empty."""
    from pycocotools import mask as mask_util

    counts = mask["counts"]
    rle = {"size": [int(v) for v in mask["size"]]}
    if isinstance(counts, str):
        rle["counts"] = counts.encode("ascii")
    else:  # uncompressed run lengths
        rle = mask_util.frPyObjects({"size": rle["size"], "counts": list(counts)}, *rle["size"])
    if mask_util.area(rle) == 0:
        return None
    x, y, w, h = (float(v) for v in mask_util.toBbox(rle))
    return (x, y, x + w, y + h)


def _region_box(region: Region) -> Box | None:
    """The box a region is drawn with: its box, else its mask's tight box."""
    if region.box is not None:
        return region.box
    assert region.mask is not None  # Region guarantees a box or a mask
    return _mask_box(region.mask)


def _iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes; 0 when both are empty."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(iw, 0.0) * max(ih, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _polygon_region(
    points: Sequence[tuple[float, float]], video: ExchangeVideo
) -> tuple[Box, dict[str, Any]] | None:
    """Rasterize a polygon over the video's frame: ``(tight box, RLE)``, ``None`` if empty."""
    from pycocotools import mask as mask_util

    flat = [float(v) for p in points for v in p]
    rles = mask_util.frPyObjects([flat], video.height, video.width)
    rle = mask_util.merge(rles)
    if mask_util.area(rle) == 0:
        return None
    x, y, w, h = (float(v) for v in mask_util.toBbox(rle))
    counts = rle["counts"]
    mask = {
        "size": (video.height, video.width),
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
    }
    return (x, y, x + w, y + h), mask


# --------------------------------------------------------------------------- writing


def _fmt(value: float) -> str:
    return f"{value:.2f}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    node = ET.SubElement(parent, tag, attrib)
    if text is not None:
        node.text = text
    return node


def _box_attrib(box: Box) -> dict[str, str]:
    return {"xtl": _fmt(box[0]), "ytl": _fmt(box[1]), "xbr": _fmt(box[2]), "ybr": _fmt(box[3])}


def _video_frames(request: ExchangeRequest, video: str) -> tuple[list[int], dict[int, float]]:
    """Requested frames of ``video`` (sorted) and their scores."""
    scores = {r.ref.frame: r.score for r in request.requested if r.ref.video == video}
    return sorted(scores), scores


def _context_frames(request: ExchangeRequest, video: str) -> dict[int, tuple[Region, ...]]:
    """Context frames of ``video`` that are not also requested (a requested frame is asked
    again, so it is treated as requested everywhere)."""
    wanted = request.requested_refs()
    return {
        ref.frame: tuple(regions)
        for ref, regions in request.context.items()
        if ref.video == video and ref not in wanted
    }


def _meta(
    root: ET.Element,
    request: ExchangeRequest,
    video: ExchangeVideo,
    mode: str,
    requested: Sequence[int],
    scores: Mapping[int, float],
    context: Iterable[int],
) -> None:
    meta = _sub(root, "meta")
    task = _sub(meta, "task")
    _sub(task, "name", video.id)
    size = len(requested) if mode == "frames" else video.num_frames
    _sub(task, "size", str(size))
    _sub(task, "mode", "annotation" if mode == "frames" else "interpolation")
    _sub(task, "overlap", "0")
    _sub(task, "bugtracker", "")
    _sub(task, "flipped", "False")
    if mode == "tracks":
        _sub(task, "start_frame", "0")
        _sub(task, "stop_frame", str(video.num_frames - 1))
        _sub(task, "frame_filter", "")
    labels = _sub(task, "labels")
    for name in request.categories:
        label = _sub(labels, "label")
        _sub(label, "name", name)
        _sub(label, "type", "any")
        attributes = _sub(label, "attributes")
        if mode == "frames":
            attribute = _sub(attributes, "attribute")
            _sub(attribute, "name", "track_id")
            _sub(attribute, "mutable", "False")
            _sub(attribute, "input_type", "text")
            _sub(attribute, "default_value", "")
            _sub(attribute, "values", "")
    if mode == "tracks":
        original = _sub(task, "original_size")
        _sub(original, "width", str(video.width))
        _sub(original, "height", str(video.height))
    asl = _sub(meta, "asl", run=request.run, cycle=str(request.cycle), video=video.id, mode=mode)
    for f in requested:
        _sub(
            asl,
            "frame",
            index=str(f),
            name=video.frame_name(f),
            role="requested",
            score=repr(float(scores[f])),
        )
    for f in sorted(context):
        _sub(asl, "frame", index=str(f), name=video.frame_name(f), role="context")


def _tracks_document(request: ExchangeRequest, video: ExchangeVideo) -> ET.Element:
    requested, scores = _video_frames(request, video.id)
    context = _context_frames(request, video.id)
    root = ET.Element("annotations")
    _sub(root, "version", _VERSION)
    _meta(root, request, video, "tracks", requested, scores, context)

    # (track_id, category) -> {frame: box}; and which tracks hold context boxes
    tracks: dict[tuple[int, int], dict[int, Box]] = {}
    manual: set[tuple[int, int]] = set()
    sources = [(f, context[f], True) for f in context]
    sources += [(f, request.predictions.get(FrameRef(video.id, f), ()), False) for f in requested]
    for frame, regions, is_context in sources:
        for region in regions:
            box = _region_box(region)
            if box is None:
                continue
            key = (region.track_id, region.category)
            tracks.setdefault(key, {})[frame] = box
            if is_context:
                manual.add(key)
    wanted = set(requested)
    for cvat_id, key in enumerate(sorted(tracks)):
        boxes = tracks[key]
        first, last = min(boxes), max(boxes)
        shapes: dict[int, tuple[Box, bool]] = {f: (b, False) for f, b in boxes.items()}
        for f in context:
            if first < f < last and f not in boxes:
                shapes[f] = (boxes[max(g for g in boxes if g < f)], True)
        close = last + 1
        while close in wanted:
            close += 1
        if close < video.num_frames:
            shapes[close] = (boxes[last], True)
        track = _sub(
            root,
            "track",
            id=str(cvat_id),
            label=request.categories[key[1]],
            source="manual" if key in manual else "auto",
        )
        for f in sorted(shapes):
            box, outside = shapes[f]
            _sub(
                track,
                "box",
                frame=str(f),
                **_box_attrib(box),
                outside="1" if outside else "0",
                occluded="0",
                keyframe="1",
                z_order="0",
            )
    return root


def _frames_document(request: ExchangeRequest, video: ExchangeVideo) -> ET.Element:
    requested, scores = _video_frames(request, video.id)
    root = ET.Element("annotations")
    _sub(root, "version", _VERSION)
    _meta(root, request, video, "frames", requested, scores, _context_frames(request, video.id))
    for image_id, f in enumerate(requested):
        image = _sub(
            root,
            "image",
            id=str(image_id),
            name=video.frame_name(f),
            width=str(video.width),
            height=str(video.height),
        )
        for region in request.predictions.get(FrameRef(video.id, f), ()):
            box = _region_box(region)
            if box is None:
                continue
            shape = _sub(
                image,
                "box",
                label=request.categories[region.category],
                source="auto",
                occluded="0",
                **_box_attrib(box),
                z_order="0",
            )
            _sub(shape, "attribute", str(region.track_id), name="track_id")
    return root


def _write_atomic(root: ET.Element, target: Path) -> None:
    ET.indent(root)
    partial = target.with_name(target.name + ".partial")
    # CVAT writes empty elements as <x></x>; so do we, to look like its exports
    ET.ElementTree(root).write(
        partial, encoding="utf-8", xml_declaration=True, short_empty_elements=False
    )
    os.replace(partial, target)


def write_cvat(request: ExchangeRequest, path: Path, *, mode: str = "tracks") -> None:
    """Write ``request`` as CVAT XML 1.1, one file per video with requested frames.

    Args:
        request: what to annotate.
        path: ``*.xml`` (one video) or a folder that gets ``<video id>.xml`` files (module doc).
        mode: ``"tracks"`` (CVAT for video: whole videos, context and requested frames as
            keyframes) or ``"frames"`` (CVAT for images: only the requested frames).

    Raises:
        ExchangeFormatError: unknown mode, nothing requested, several videos for one ``.xml``
            file, a requested frame of an unknown video or out of range, a region of an unknown
            category, or a video id that cannot be a file name. Nothing is written then.
    """
    path = Path(path)
    if mode not in CVAT_MODES:
        raise ExchangeFormatError(f"{path}: unknown CVAT mode {mode!r}; use one of {CVAT_MODES}")
    names: list[str] = []
    for item in request.requested:
        video = request.videos.get(item.ref.video)
        if video is None:
            raise ExchangeFormatError(
                f"{path}: requested frame {item.ref.frame} of video {item.ref.video!r}, which "
                "the request does not describe"
            )
        if not 0 <= item.ref.frame < video.num_frames:
            raise ExchangeFormatError(
                f"{path}: requested frame {item.ref.frame} of video {video.id!r} is out of "
                f"range (0..{video.num_frames - 1})"
            )
        if video.id not in names:
            names.append(video.id)
    if not names:
        raise ExchangeFormatError(f"{path}: the request has no frame to annotate")
    for regions in (*request.context.values(), *request.predictions.values()):
        for region in regions:
            if not 0 <= region.category < len(request.categories):
                raise ExchangeFormatError(
                    f"{path}: a region has category {region.category}, but the request has "
                    f"{len(request.categories)} categories"
                )
    if path.suffix.lower() == ".xml":
        if len(names) != 1:
            raise ExchangeFormatError(
                f"{path}: the request has {len(names)} videos and CVAT holds one video per "
                "task: give a folder instead of an .xml file (one <video>.xml each)"
            )
        targets = {names[0]: path}
    else:
        for name in names:
            if not name or "/" in name or name in (".", "..") or _looks_like_path(name):
                raise ExchangeFormatError(f"{path}: video id {name!r} cannot be a file name")
        targets = {name: path / f"{name}.xml" for name in sorted(names)}
    documents = {
        name: (_tracks_document if mode == "tracks" else _frames_document)(
            request, request.videos[name]
        )
        for name in targets
    }
    if path.suffix.lower() != ".xml":
        path.mkdir(parents=True, exist_ok=True)
    for name, target in targets.items():
        _write_atomic(documents[name], target)


# --------------------------------------------------------------------------- safe parsing


class _Node:
    """One parsed element: tag, attributes, text, children and the line it starts on."""

    __slots__ = ("attrib", "children", "line", "parts", "tag")

    def __init__(self, tag: str, attrib: dict[str, str], line: int) -> None:
        self.tag = tag
        self.attrib = attrib
        self.line = line
        self.children: list[_Node] = []
        self.parts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self.parts).strip()

    def find(self, tag: str) -> _Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def findall(self, tag: str) -> list[_Node]:
        return [c for c in self.children if c.tag == tag]


def _parse_xml(path: Path) -> _Node:
    """Parse ``path`` into :class:`_Node` s with expat, refusing DTDs and entities.

    A ``<!DOCTYPE`` is refused as soon as expat meets it, before its internal subset (where
    entities would be declared) is read; external entities are never fetched
    (``XML_PARAM_ENTITY_PARSING_NEVER`` and a refusing external-entity handler). Undeclared
    entity references are expat errors.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExchangeFormatError(f"{path}: cannot read the file ({exc.strerror})") from None
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True

    def refuse(what: str) -> Any:
        def handler(*_args: Any) -> Any:
            raise ExchangeFormatError(
                f"{path}: line {parser.CurrentLineNumber}: {what} are not allowed in an "
                "exchange file (refused for safety; nothing was read)"
            )

        return handler

    parser.StartDoctypeDeclHandler = refuse("DOCTYPE declarations")
    parser.EntityDeclHandler = refuse("entity declarations")
    parser.UnparsedEntityDeclHandler = refuse("entity declarations")
    parser.ExternalEntityRefHandler = refuse("external entities")
    parser.NotationDeclHandler = refuse("notation declarations")

    stack: list[_Node] = []
    roots: list[_Node] = []

    def start(tag: str, attrib: dict[str, str]) -> None:
        node = _Node(tag, attrib, parser.CurrentLineNumber)
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)

    def end(_tag: str) -> None:
        stack.pop()

    def data_(text: str) -> None:
        if stack:
            stack[-1].parts.append(text)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data_
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise ExchangeFormatError(
            f"{path}: line {exc.lineno}, column {exc.offset}: not well-formed XML (truncated "
            f"or broken): {expat.ErrorString(exc.code)}"
        ) from None
    return roots[0]


# --------------------------------------------------------------------------- reading helpers


class _Shape(NamedTuple):
    """One box or polygon of a tracks file: where, whether a keyframe / outside, and its
    geometry (``box``, plus ``mask`` for polygons; both ``None`` for outside shapes)."""

    frame: int
    keyframe: bool
    outside: bool
    box: Box | None
    mask: dict[str, Any] | None


class _Track(NamedTuple):
    """One ``<track>``: its category index and shapes in file order."""

    category: int
    shapes: tuple[_Shape, ...]


def _where(path: Path, node: _Node) -> str:
    return f"{path}: line {node.line}: <{node.tag}>"


def _attr(path: Path, node: _Node, name: str) -> str:
    value = node.attrib.get(name)
    if value is None:
        raise ExchangeFormatError(f"{_where(path, node)} has no {name!r} attribute")
    return value


def _int_attr(path: Path, node: _Node, name: str) -> int:
    text = _attr(path, node, name)
    try:
        value = int(text.strip(), 10)
    except ValueError:
        raise ExchangeFormatError(
            f"{_where(path, node)}: {name}={text!r} is not an integer"
        ) from None
    if value < 0:
        raise ExchangeFormatError(f"{_where(path, node)}: {name}={text!r} is negative")
    return value


def _flag_attr(path: Path, node: _Node, name: str) -> bool:
    text = _attr(path, node, name).strip()
    if text not in ("0", "1"):
        raise ExchangeFormatError(f"{_where(path, node)}: {name}={text!r} is not 0 or 1")
    return text == "1"


def _float(path: Path, node: _Node, name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ExchangeFormatError(
            f"{_where(path, node)}: {name}={text!r} is not a number"
        ) from None
    if not math.isfinite(value):
        raise ExchangeFormatError(f"{_where(path, node)}: {name}={text!r} is not finite")
    return value


def _geometry(path: Path, node: _Node, video: ExchangeVideo) -> tuple[Box, dict[str, Any] | None]:
    """The box (and polygon mask) of a ``<box>`` / ``<polygon>`` element."""
    if node.tag == "box":
        x1, y1, x2, y2 = (
            _float(path, node, k, _attr(path, node, k)) for k in ("xtl", "ytl", "xbr", "ybr")
        )
        rotation = node.attrib.get("rotation")
        if rotation is not None and _float(path, node, "rotation", rotation) % 360.0 != 0.0:
            raise ExchangeFormatError(
                f"{_where(path, node)}: rotated boxes (rotation={rotation!r}) are not supported"
            )
        if x2 < x1 or y2 < y1:
            raise ExchangeFormatError(
                f"{_where(path, node)}: box ({x1}, {y1}, {x2}, {y2}) has xbr < xtl or ybr < ytl"
            )
        return (x1, y1, x2, y2), None
    points: list[tuple[float, float]] = []
    for pair in _attr(path, node, "points").split(";"):
        xy = pair.split(",")
        if len(xy) != 2:
            raise ExchangeFormatError(f"{_where(path, node)}: point {pair!r} is not 'x,y'")
        points.append((_float(path, node, "points", xy[0]), _float(path, node, "points", xy[1])))
    if len(points) < 3:
        raise ExchangeFormatError(
            f"{_where(path, node)}: a polygon needs at least 3 points, got {len(points)}"
        )
    raster = _polygon_region(points, video)
    if raster is None:
        raise ExchangeFormatError(f"{_where(path, node)}: the polygon covers no pixel")
    return raster


def _label(path: Path, node: _Node, categories: Mapping[str, int]) -> int:
    name = _attr(path, node, "label")
    if name not in categories:
        raise ExchangeFormatError(
            f"{_where(path, node)}: unknown label {name!r} (the run's categories: "
            f"{', '.join(categories)})"
        )
    return categories[name]


def _unsupported(path: Path, node: _Node) -> ExchangeFormatError:
    return ExchangeFormatError(
        f"{_where(path, node)}: {node.tag} shapes are not supported (use boxes or polygons)"
    )


def _resolve_video(path: Path, root: _Node, request: ExchangeRequest) -> ExchangeVideo:
    """Which video of ``request`` a file is for (module doc)."""
    found: list[tuple[str, str]] = []
    meta = root.find("meta")
    if meta is not None:
        asl = meta.find("asl")
        if asl is not None and "video" in asl.attrib:
            name = asl.attrib["video"]
            if _looks_like_path(name):
                raise ExchangeFormatError(f"{_where(path, asl)}: video {name!r} looks like a path")
            if name not in request.videos:
                raise ExchangeFormatError(
                    f"{_where(path, asl)}: unknown video {name!r} (not in this run)"
                )
            found.append(("<asl video>", name))
        task = meta.find("task")
        if task is None:
            task = meta.find("job")
        if task is not None:
            name_node = task.find("name")
            if name_node is not None and name_node.text:
                name = name_node.text
                if _looks_like_path(name):
                    raise ExchangeFormatError(
                        f"{_where(path, name_node)}: task name {name!r} looks like a path"
                    )
                if name in request.videos:
                    found.append(("task name", name))
            source = task.find("source")
            if source is not None and source.text and "/" not in source.text:
                stem = PurePosixPath(source.text).stem
                if not _looks_like_path(source.text) and stem in request.videos:
                    found.append(("task source", stem))
    if path.stem in request.videos:
        found.append(("file name", path.stem))
    names = {name for _, name in found}
    if len(names) > 1:
        said = ", ".join(f"{how} says {name!r}" for how, name in found)
        raise ExchangeFormatError(f"{path}: cannot tell which video this file is for: {said}")
    if names:
        return request.videos[names.pop()]
    if len(request.videos) == 1:
        return next(iter(request.videos.values()))
    raise ExchangeFormatError(
        f"{path}: cannot tell which video this file is for: name the CVAT task (or the file, "
        f"<video>.xml) after one of the run's videos: {', '.join(sorted(request.videos))}"
    )


def _check_task_meta(path: Path, root: _Node, video: ExchangeVideo, tracks: bool) -> None:
    """Refuse a video task whose frames cannot be this video's frames 0.. in order."""
    meta = root.find("meta")
    task = meta.find("task") if meta is not None else None
    if task is None or not tracks:
        return
    start = task.find("start_frame")
    if start is not None and start.text not in ("", "0"):
        raise ExchangeFormatError(
            f"{_where(path, start)}: the task starts at frame {start.text}; make the CVAT task "
            "from all frames of the video (start frame 0)"
        )
    frame_filter = task.find("frame_filter")
    if frame_filter is not None and frame_filter.text:
        raise ExchangeFormatError(
            f"{_where(path, frame_filter)}: the task uses frame filter {frame_filter.text!r}; "
            "make the CVAT task from all frames of the video (no frame step)"
        )
    size = task.find("size")
    if size is not None and size.text and size.text != str(video.num_frames):
        raise ExchangeFormatError(
            f"{_where(path, size)}: the task has {size.text} frames but video {video.id!r} has "
            f"{video.num_frames}"
        )
    original = task.find("original_size")
    if original is not None:
        width, height = original.find("width"), original.find("height")
        got = (width.text if width is not None else "", height.text if height is not None else "")
        if got != (str(video.width), str(video.height)):
            raise ExchangeFormatError(
                f"{_where(path, original)}: frames of {got[0]}x{got[1]} pixels but video "
                f"{video.id!r} is {video.width}x{video.height}"
            )


def _known_ids(request: ExchangeRequest, video: str) -> set[int]:
    ids = {r.track_id for regions in _context_frames(request, video).values() for r in regions}
    for ref, regions in request.predictions.items():
        if ref.video == video:
            ids.update(r.track_id for r in regions)
    return ids


def _assign_tracks(tracks: Sequence[_Track], request: ExchangeRequest, video: str) -> list[int]:
    """``Region.track_id`` of each file track (module doc: best summed IoU, one-to-one)."""
    tables = [_context_frames(request, video)]
    wanted = {r.ref.frame for r in request.requested if r.ref.video == video}
    tables.append({f: request.predictions.get(FrameRef(video, f), ()) for f in wanted})
    votes: dict[tuple[int, int], float] = {}
    for ti, track in enumerate(tracks):
        for shape in track.shapes:
            if shape.outside or shape.box is None:
                continue
            for table in tables:
                for region in table.get(shape.frame, ()):
                    box = _region_box(region)
                    if region.category != track.category or box is None:
                        continue
                    iou = _iou(shape.box, box)
                    if iou >= _MIN_IOU:
                        votes[(ti, region.track_id)] = votes.get((ti, region.track_id), 0.0) + iou
    ids: dict[int, int] = {}
    taken: set[int] = set()
    for (ti, tid), _score in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0])):
        if ti not in ids and tid not in taken:
            ids[ti] = tid
            taken.add(tid)
    fresh = max(_known_ids(request, video) | taken, default=-1) + 1
    out = []
    for ti in range(len(tracks)):
        if ti not in ids:
            ids[ti] = fresh
            fresh += 1
        out.append(ids[ti])
    return out


def _same_regions(a: Iterable[Region], b: Iterable[Region]) -> bool:
    def key(regions: Iterable[Region]) -> list[tuple[int, int, Box | None]]:
        return sorted(
            ((r.track_id, r.category, _region_box(r)) for r in regions),
            key=lambda k: (k[0], k[1], k[2] or (0.0, 0.0, 0.0, 0.0)),
        )

    ka, kb = key(a), key(b)
    if len(ka) != len(kb):
        return False
    for (ta, ca, ba), (tb, cb, bb) in zip(ka, kb, strict=True):
        if (ta, ca) != (tb, cb) or (ba is None) != (bb is None):
            return False
        if (
            ba is not None
            and bb is not None
            and max(abs(u - v) for u, v in zip(ba, bb, strict=True)) > 0.01 + 1e-9
        ):
            return False
    return True


def _context_warning(path: Path, video: str, frame: int) -> str:
    return (
        f"{path}: frame {frame} of {video!r} is already labelled and was changed in the file; "
        "the change is ignored (labelled frames are never re-imported)"
    )


# --------------------------------------------------------------------------- reading


def _read_tracks(
    path: Path, root: _Node, request: ExchangeRequest, video: ExchangeVideo
) -> tuple[list[ImportedFrame], list[str]]:
    categories = _category_index(request)
    tracks: list[_Track] = []
    for node in root.findall("track"):
        category = _label(path, node, categories)
        shapes: list[_Shape] = []
        frames: set[int] = set()
        for child in node.children:
            if child.tag in _OTHER_SHAPES:
                raise _unsupported(path, child)
            if child.tag not in _SHAPES:
                continue
            frame = _int_attr(path, child, "frame")
            if frame in frames:
                raise ExchangeFormatError(
                    f"{_where(path, child)}: track {node.attrib.get('id', '?')} has two shapes "
                    f"on frame {frame}"
                )
            frames.add(frame)
            keyframe = _flag_attr(path, child, "keyframe")
            outside = _flag_attr(path, child, "outside")
            box, mask = (None, None) if outside else _geometry(path, child, video)
            shapes.append(_Shape(frame, keyframe, outside, box, mask))
        tracks.append(_Track(category, tuple(shapes)))

    ids = _assign_tracks(tracks, request, video.id)
    wanted = {r.ref.frame for r in request.requested if r.ref.video == video.id}
    context = _context_frames(request, video.id)
    regions: dict[int, list[Region]] = {}
    human: set[int] = set()
    for tid, track in zip(ids, tracks, strict=True):
        for shape in track.shapes:
            if shape.keyframe and (not shape.outside or shape.frame in wanted):
                human.add(shape.frame)
            if not shape.outside:
                regions.setdefault(shape.frame, []).append(
                    Region(tid, track.category, shape.box, shape.mask)
                )
    frames: list[ImportedFrame] = []
    warnings: list[str] = []
    for f in sorted(set(regions) | human | set(context)):
        found = sorted(regions.get(f, ()), key=lambda r: (r.track_id, r.category))
        if f in context:
            if not _same_regions(found, context[f]):
                warnings.append(_context_warning(path, video.id, f))
            continue
        if f in human or found:
            frames.append(ImportedFrame(FrameRef(video.id, f), tuple(found), f in human))
    return frames, warnings


def _image_frame(path: Path, node: _Node, video: ExchangeVideo, names: Mapping[str, int]) -> int:
    name = _attr(path, node, "name")
    if not name or _looks_like_path(name):
        raise ExchangeFormatError(f"{_where(path, node)}: image name {name!r} looks like a path")
    index = names.get(name, names.get(PurePosixPath(name).name))
    if index is None:
        raise ExchangeFormatError(
            f"{_where(path, node)}: image {name!r} is not a frame of video {video.id!r}"
        )
    for key, want in (("width", video.width), ("height", video.height)):
        if key in node.attrib and _int_attr(path, node, key) != want:
            raise ExchangeFormatError(
                f"{_where(path, node)}: image {name!r} has {key} {node.attrib[key]} but the "
                f"frames of video {video.id!r} are {video.width}x{video.height}"
            )
    return index


def _read_images(
    path: Path, root: _Node, request: ExchangeRequest, video: ExchangeVideo
) -> tuple[list[ImportedFrame], list[str]]:
    categories = _category_index(request)
    names: dict[str, int] = {}
    for i in range(video.num_frames):
        names.setdefault(video.frame_name(i), i)
    wanted = {r.ref.frame for r in request.requested if r.ref.video == video.id}
    context = _context_frames(request, video.id)
    parsed: list[tuple[int, list[tuple[int, int | None, Box, dict[str, Any] | None, _Node]]]] = []
    explicit: set[int] = set()
    for node in root.findall("image"):
        frame = _image_frame(path, node, video, names)
        shapes = []
        for child in node.children:
            if child.tag in _OTHER_SHAPES:
                raise _unsupported(path, child)
            if child.tag not in _SHAPES:
                continue
            category = _label(path, child, categories)
            box, mask = _geometry(path, child, video)
            tid: int | None = None
            for attribute in child.findall("attribute"):
                if attribute.attrib.get("name") == "track_id" and attribute.text:
                    tid = _track_id_text(path, attribute)
                    explicit.add(tid)
            shapes.append((category, tid, box, mask, child))
        parsed.append((frame, shapes))

    fresh = max(_known_ids(request, video.id) | explicit, default=-1) + 1
    frames: list[ImportedFrame] = []
    warnings: list[str] = []
    for frame, shapes in parsed:
        # identities come from the regions the run knows on that frame: the predictions of a
        # requested frame, or the labels of a context frame (compared below)
        known = context.get(frame) or request.predictions.get(FrameRef(video.id, frame), ())
        ids: dict[int, int] = {i: s[1] for i, s in enumerate(shapes) if s[1] is not None}
        pairs = []
        for i, (category, tid, box, _mask, _node) in enumerate(shapes):
            if tid is not None:
                continue
            for region in known:
                rbox = _region_box(region)
                if region.category == category and rbox is not None:
                    iou = _iou(box, rbox)
                    if iou >= _MIN_IOU:
                        pairs.append((-iou, i, region.track_id))
        for _neg, i, tid in sorted(pairs):
            if i not in ids and tid not in ids.values():
                ids[i] = tid
        for i in range(len(shapes)):
            if i not in ids:
                ids[i] = fresh
                fresh += 1
        seen: dict[int, _Node] = {}
        regions = []
        for i, (category, _tid, box, mask, node) in enumerate(shapes):
            if ids[i] in seen:
                raise ExchangeFormatError(
                    f"{_where(path, node)}: track_id {ids[i]} is used twice on frame {frame}"
                )
            seen[ids[i]] = node
            regions.append(Region(ids[i], category, box, mask))
        regions.sort(key=lambda r: (r.track_id, r.category))
        if frame in context:
            if not _same_regions(regions, context[frame]):
                warnings.append(_context_warning(path, video.id, frame))
            continue
        if frame in wanted or regions:
            frames.append(ImportedFrame(FrameRef(video.id, frame), tuple(regions), True))
    return frames, warnings


def _track_id_text(path: Path, node: _Node) -> int:
    text = node.text
    if not (text.isascii() and text.isdigit()):
        raise ExchangeFormatError(
            f"{_where(path, node)}: track_id {text!r} is not a non-negative integer"
        )
    return int(text)


def _category_index(request: ExchangeRequest) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, name in enumerate(request.categories):
        index.setdefault(name, i)
    return index


def _read_file(
    path: Path, request: ExchangeRequest
) -> tuple[ExchangeVideo, list[ImportedFrame], list[str]]:
    root = _parse_xml(path)
    if root.tag != "annotations":
        raise ExchangeFormatError(
            f"{_where(path, root)}: the root element must be <annotations> (CVAT XML 1.1)"
        )
    version = root.find("version")
    if version is None or version.text != _VERSION:
        got = "no <version>" if version is None else f"version {version.text!r}"
        raise ExchangeFormatError(
            f"{path}: {got}; expected CVAT XML version {_VERSION} (export as 'CVAT for video "
            "1.1' or 'CVAT for images 1.1')"
        )
    warnings: list[str] = []
    for child in root.children:
        if child.tag not in ("version", "meta", "track", "image", "tag"):
            warnings.append(f"{_where(path, child)}: ignored (not part of CVAT XML 1.1)")
    has_tracks, has_images = bool(root.findall("track")), bool(root.findall("image"))
    if has_tracks and has_images:
        raise ExchangeFormatError(
            f"{path}: holds both <track> and <image> elements; a CVAT 1.1 file is either "
            "'for video' (tracks) or 'for images'"
        )
    # an images task whose images carry no shape may still be exported without <image>s
    meta = root.find("meta")
    task = meta.find("task") if meta is not None else None
    mode = task.find("mode") if task is not None else None
    images = has_images or (not has_tracks and mode is not None and mode.text == "annotation")
    video = _resolve_video(path, root, request)
    _check_task_meta(path, root, video, tracks=not images)
    read = _read_images if images else _read_tracks
    frames, more = read(path, root, request, video)
    return video, frames, warnings + more


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".xml" and p.is_file())
        if not files:
            raise ExchangeFormatError(f"{path}: the folder holds no .xml file")
        return files
    if not path.is_file():
        raise ExchangeFormatError(f"{path}: no such file or folder")
    return [path]


def read_cvat(path: Path, request: ExchangeRequest) -> ImportResult:
    """Read CVAT XML 1.1 (a file or a folder of them) back against ``request``.

    See the module doc for how videos, frames, human flags and track ids are found. Frames come
    video by video in file order, then by frame index; ``seconds`` is always ``None``.

    Raises:
        ExchangeFormatError: a missing, unsafe (DTD, entities), truncated or malformed file, a
            wrong root or version, an unknown label / video / image name, a name that looks like
            a path, a shape without usable coordinates or frame, an unsupported shape, task
            metadata that does not fit the video, or two files for one video. The message names
            the file and, where it can, the line.
    """
    path = Path(path)
    frames: list[ImportedFrame] = []
    warnings: list[str] = []
    owner: dict[str, Path] = {}
    for file in _files(path):
        video, found, more = _read_file(file, request)
        if video.id in owner:
            raise ExchangeFormatError(
                f"{file}: video {video.id!r} is also in {owner[video.id]}; give one file per video"
            )
        owner[video.id] = file
        frames.extend(found)
        warnings.extend(more)
    return ImportResult(tuple(frames), tuple(warnings))
