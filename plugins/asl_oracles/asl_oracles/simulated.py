"""The simulated oracle: reveals ground truth from the task (benchmarks and paper tables).

Cost model (paper §4, "annotation cost"): ``C_frame = actors x clicks``, i.e. each region
costs ``clicks_per_region`` clicks (2 for a box: two corners), plus ``frame_overhead`` clicks
for looking at the frame at all (0 by default, as in the paper; set it to price frames with no
actor).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from attrs import field, frozen, validators

from asl_core import FrameAnnotation, FrameRef, OracleBase, Region, Task

__all__ = ["SimulatedOracle", "SimulatedOracleParams", "frame_cost"]


@frozen
class SimulatedOracleParams:
    """Parameters of :class:`SimulatedOracle`.

    Attributes:
        clicks_per_region: clicks per annotated actor/object. Defaults to 2.0.
        frame_overhead: clicks charged per frame regardless of its content. Defaults to 0.0.
    """

    clicks_per_region: float = field(default=2.0, converter=float, validator=validators.ge(0))
    frame_overhead: float = field(default=0.0, converter=float, validator=validators.ge(0))


def frame_cost(regions: Sequence[Region], clicks_per_region: float, frame_overhead: float) -> float:
    """Annotation cost of one frame: ``frame_overhead + len(regions) * clicks_per_region``."""
    return frame_overhead + len(regions) * clicks_per_region


class SimulatedOracle(OracleBase):
    """Answers every request with the task's ground truth, priced by :func:`frame_cost`."""

    Params = SimulatedOracleParams
    name = "simulated"

    def annotate(self, frames: Sequence[FrameRef], task: Task) -> Iterator[FrameAnnotation]:
        """One annotation per frame, in order, from ``task.ground_truth``."""
        frames = list(frames)
        truths = task.ground_truth(frames)
        if len(truths) != len(frames):
            raise ValueError(f"task returned {len(truths)} ground truths for {len(frames)} frames")
        p = self.params
        for ref, regions in zip(frames, truths, strict=True):
            yield FrameAnnotation(
                video=ref.video,
                frame=ref.frame,
                regions=tuple(regions),
                oracle=self.name,
                cost=frame_cost(regions, p.clicks_per_region, p.frame_overhead),
            )
