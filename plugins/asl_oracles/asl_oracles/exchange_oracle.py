"""The ``exchange`` oracle: people annotate the selected frames in an annotation tool.

It never answers by itself: :meth:`ExchangeOracle.annotate` raises
:class:`asl_core.AwaitingAnnotations` for every frame it is asked for, which pauses the run
(state ``awaiting_annotations``, exit code 3). The team exports the frames (``asl-run export``:
CVAT for video 1.1 XML, Label Studio JSON or COCO), annotates them, and imports the file
(``asl-run import``), which validates it and appends the annotations to the ledger; ``asl-run
--resume`` then finds them there and only the frames still missing are asked for again.

Cost of an imported frame (:meth:`ExchangeOracle.frame_cost`): the seconds the tool measured
when it gives them and ``cost_unit="seconds"``, else the click model of issue 5 (``regions x
clicks_per_region + frame_overhead``, as the simulated oracle).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from attrs import field, frozen, validators

from asl_core import (
    AslUsageError,
    AwaitingAnnotations,
    ExchangeRequest,
    FrameAnnotation,
    FrameRef,
    ImportResult,
    OracleBase,
    Region,
    Task,
)

__all__ = ["ExchangeOracle", "ExchangeOracleParams"]


@frozen
class ExchangeOracleParams:
    """Parameters of :class:`ExchangeOracle`.

    Attributes:
        clicks_per_region: clicks per annotated object, for frames without a measured time.
            Defaults to 2.0 (a box).
        frame_overhead: clicks charged per frame whatever it shows. Defaults to 0.0.
        cost_unit: ``"clicks"`` (the click model for every frame, so costs compare with
            simulated runs) or ``"seconds"`` (the tool's measured time where it gives one, the
            click model elsewhere). Defaults to ``"clicks"``.
    """

    clicks_per_region: float = field(default=2.0, converter=float, validator=validators.ge(0))
    frame_overhead: float = field(default=0.0, converter=float, validator=validators.ge(0))
    cost_unit: str = field(default="clicks", validator=validators.in_(("clicks", "seconds")))


class ExchangeOracle(OracleBase):
    """Pauses the run until people's annotations are imported (see module doc)."""

    Params = ExchangeOracleParams
    name = "exchange"
    #: the file formats of ``asl-run export`` / ``import``
    formats = ("cvat", "labelstudio", "coco")

    def annotate(self, frames: Sequence[FrameRef], task: Task) -> Iterator[FrameAnnotation]:
        """Raise :class:`asl_core.AwaitingAnnotations` for ``frames`` (none is answered here)."""
        frames = list(frames)
        if frames:
            raise AwaitingAnnotations(
                frames, "export them for your annotation tool, annotate, and import the result"
            )
        yield from ()

    def frame_cost(self, regions: Sequence[Region], seconds: float | None) -> float:
        """The ledger cost of one imported frame (see module doc)."""
        p = self.params
        if p.cost_unit == "seconds" and seconds is not None:
            return float(seconds)
        return p.frame_overhead + len(regions) * p.clicks_per_region

    def write_request(self, fmt: str, request: ExchangeRequest, path: Path, **options: Any) -> None:
        """Write ``request`` as ``fmt`` (``asl-run export``). Options: ``mode`` (cvat:
        ``"tracks"`` or ``"frames"``), ``frames_dir`` and ``read_frame`` (coco: also write the
        frames as JPEGs)."""
        if fmt == "cvat":
            from .cvat import write_cvat

            write_cvat(request, path, mode=options.get("mode") or "tracks")
        elif fmt == "labelstudio":
            from .labelstudio import write_labelstudio

            write_labelstudio(request, path)
        elif fmt == "coco":
            from .coco import write_coco

            write_coco(
                request,
                path,
                frames_dir=options.get("frames_dir"),
                read_frame=options.get("read_frame"),
            )
        else:
            raise AslUsageError(f"unknown format {fmt!r}; choose one of {', '.join(self.formats)}")

    def read_file(self, fmt: str, path: Path, request: ExchangeRequest) -> ImportResult:
        """Read an annotated ``fmt`` file against ``request`` (``asl-run import``)."""
        if fmt == "cvat":
            from .cvat import read_cvat

            return read_cvat(path, request)
        if fmt == "labelstudio":
            from .labelstudio import read_labelstudio

            return read_labelstudio(path, request)
        if fmt == "coco":
            from .coco import read_coco

            return read_coco(path, request)
        raise AslUsageError(f"unknown format {fmt!r}; choose one of {', '.join(self.formats)}")
