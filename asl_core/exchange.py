"""Format-neutral values of the annotation-tool exchange (``asl-run export`` / ``import``).

A cycle that waits for people hands an :class:`ExchangeRequest` to a format writer (CVAT for
video 1.1 XML, Label Studio JSON, COCO JSON: ``asl_oracles.cvat``, ``.labelstudio``, ``.coco``)
and takes an :class:`ImportResult` back from the matching reader. Readers only parse and map the
file onto the request's videos and frames; whether a frame may become a label (known video, in
range, requested, boxes inside the image) is decided afterwards, in one place, by
:func:`validate_import`, so the three formats follow the same rules.

Coordinates are pixels of the frame as the task stores it, ``x2, y2`` exclusive (the
:class:`asl_core.Region` convention); frames are 0-based indices into the task's frames of the
video, whatever the file names of the frames are (``ExchangeVideo.frame_names``).
"""

from __future__ import annotations

import math
from typing import Any

from attrs import field, frozen

from .errors import AslUsageError
from .types import FrameRef, FrozenMap, Region

__all__ = [
    "ExchangeFormatError",
    "ExchangeRequest",
    "ExchangeVideo",
    "ImportResult",
    "ImportedFrame",
    "RequestedFrame",
    "validate_import",
]


class ExchangeFormatError(AslUsageError):
    """An exchange file is missing, unsafe, malformed or does not fit the run; the message
    names the file (and where in it) and the problem."""


def _frozen_map(value: Any) -> FrozenMap:
    return value if isinstance(value, FrozenMap) else FrozenMap(dict(value))


@frozen
class ExchangeVideo:
    """One video of the run as an annotation tool sees it.

    Attributes:
        id: the task's video id.
        num_frames: frames of the video (0-based indices ``0 .. num_frames - 1``).
        width, height: frame size in pixels.
        frame_names: the file name of each frame (``len == num_frames``), e.g. ``"00005.jpg"``,
            for formats that list images; ``()`` when the task has none (names are then made
            up as ``f"{index:05d}.jpg"``).
    """

    id: str
    num_frames: int = field(converter=int)
    width: int = field(converter=int)
    height: int = field(converter=int)
    frame_names: tuple[str, ...] = field(default=(), converter=tuple)

    def frame_name(self, index: int) -> str:
        """File name of frame ``index``."""
        return self.frame_names[index] if self.frame_names else f"{index:05d}.jpg"


@frozen
class RequestedFrame:
    """A frame the run asks people to annotate, with its selection score (higher first)."""

    ref: FrameRef
    score: float = field(converter=float)


@frozen
class ExchangeRequest:
    """What one cycle hands to the annotators.

    Attributes:
        run: run name (for file and task titles).
        cycle: the cycle that will train on these annotations.
        videos: every video a requested or context frame belongs to, by id.
        categories: class names, index = ``Region.category``.
        requested: the frames to annotate, in selection order.
        context: already labelled frames of those videos and their regions (shown as
            keyframes so annotators see what exists; never imported as new labels).
        predictions: the model's regions for requested frames, to pre-fill (may be empty).
    """

    run: str
    cycle: int = field(converter=int)
    videos: FrozenMap[str, ExchangeVideo] = field(converter=_frozen_map)
    categories: tuple[str, ...] = field(converter=tuple)
    requested: tuple[RequestedFrame, ...] = field(converter=tuple)
    context: FrozenMap[FrameRef, tuple[Region, ...]] = field(
        factory=FrozenMap, converter=_frozen_map
    )
    predictions: FrozenMap[FrameRef, tuple[Region, ...]] = field(
        factory=FrozenMap, converter=_frozen_map
    )

    def requested_refs(self) -> frozenset[FrameRef]:
        """The requested frames as a set."""
        return frozenset(r.ref for r in self.requested)


@frozen
class ImportedFrame:
    """One frame read back from a tool file.

    Attributes:
        ref: the frame.
        regions: the annotated regions on it (boxes and/or RLE masks).
        human: True for a frame a person annotated (CVAT ``keyframe="1"``, a Label Studio frame
            not marked ``auto``, every COCO image); False for frames the tool interpolated.
        seconds: annotation time the tool measured for this frame (Label Studio ``lead_time``
            shared over the task's human frames, CVAT timing), or ``None``.
    """

    ref: FrameRef
    regions: tuple[Region, ...] = field(converter=tuple)
    human: bool = True
    seconds: float | None = None


@frozen
class ImportResult:
    """What a reader found in a file: frames (any order) and warnings (clipped boxes...)."""

    frames: tuple[ImportedFrame, ...] = field(converter=tuple)
    warnings: tuple[str, ...] = field(default=(), converter=tuple)


def validate_import(
    result: ImportResult,
    request: ExchangeRequest,
    *,
    source: str,
    accept_extra: bool = False,
) -> tuple[list[ImportedFrame], list[str]]:
    """Check an import against the request before anything is written.

    Rules: every frame belongs to a video of the request and lies in its range; a human frame
    was requested, unless ``accept_extra``; no frame appears twice; categories are known;
    boxes are finite, and are clipped to the image with a warning when they stick out (a box
    entirely outside is an error). Interpolated (non-human) frames are dropped here: they are
    never purchased labels.

    Returns:
        The human frames to add (request order first, then extras), with clipped boxes, and the
        warnings (the reader's and the clipping ones).

    Raises:
        ExchangeFormatError: the first violation, naming ``source`` and the frame.
    """
    warnings = list(result.warnings)
    seen: set[FrameRef] = set()
    wanted = request.requested_refs()
    keep: list[ImportedFrame] = []
    for item in result.frames:
        ref = item.ref
        video = request.videos.get(ref.video)
        if video is None:
            raise ExchangeFormatError(f"{source}: unknown video {ref.video!r} (not in this run)")
        if not 0 <= ref.frame < video.num_frames:
            raise ExchangeFormatError(
                f"{source}: frame {ref.frame} of video {ref.video!r} is out of range "
                f"(0..{video.num_frames - 1})"
            )
        if ref in seen:
            raise ExchangeFormatError(f"{source}: frame {ref.frame} of {ref.video!r} appears twice")
        seen.add(ref)
        if not item.human:
            continue
        if ref not in wanted and not accept_extra:
            raise ExchangeFormatError(
                f"{source}: frame {ref.frame} of {ref.video!r} was not requested; pass "
                "--accept-extra to buy it anyway"
            )
        regions = []
        for region in item.regions:
            if not 0 <= region.category < len(request.categories):
                raise ExchangeFormatError(
                    f"{source}: frame {ref.frame} of {ref.video!r}: unknown category index "
                    f"{region.category} ({len(request.categories)} categories)"
                )
            regions.append(_clip(region, video, ref, source, warnings))
        keep.append(ImportedFrame(ref, tuple(regions), True, item.seconds))
    order = {r.ref: i for i, r in enumerate(request.requested)}
    keep.sort(key=lambda f: (order.get(f.ref, len(order)), f.ref.video, f.ref.frame))
    return keep, warnings


def _clip(
    region: Region, video: ExchangeVideo, ref: FrameRef, source: str, warnings: list[str]
) -> Region:
    if region.box is None:
        return region
    x1, y1, x2, y2 = region.box
    if not all(math.isfinite(v) for v in region.box):
        raise ExchangeFormatError(f"{source}: frame {ref.frame} of {ref.video!r}: box {region.box}")
    cx1, cy1 = min(max(x1, 0.0), video.width), min(max(y1, 0.0), video.height)
    cx2, cy2 = min(max(x2, 0.0), video.width), min(max(y2, 0.0), video.height)
    if cx2 <= cx1 or cy2 <= cy1:
        raise ExchangeFormatError(
            f"{source}: frame {ref.frame} of {ref.video!r}: box {region.box} lies outside the "
            f"{video.width}x{video.height} image"
        )
    if (cx1, cy1, cx2, cy2) != (x1, y1, x2, y2):
        warnings.append(
            f"{source}: frame {ref.frame} of {ref.video!r}: box {region.box} clipped to the "
            f"{video.width}x{video.height} image"
        )
    return Region(region.track_id, region.category, (cx1, cy1, cx2, cy2), region.mask)
