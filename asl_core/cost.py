"""The annotation cost of a selection, from the number of actors on each selected frame.

The paper's cost model (§4, "annotation cost"): annotating a frame costs ``actors x clicks``
(a box is two clicks, one per corner), plus an optional fixed overhead per frame looked at.
It is the formula of the simulated oracle (``asl_oracles.simulated.frame_cost``, whose
parameters ``clicks_per_region`` and ``frame_overhead`` default to 2 and 0), so a selection priced
here costs what a run buying the same frames from the simulated oracle is charged. The core
cannot import that plugin, so the formula is restated here; a test keeps the two equal.

``asl-run select`` prices its selection with it when the labels file gives the actors of every
frame (``"actors"``, written by ``asl-run data labels``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from attrs import frozen

from .errors import AslUsageError
from .types import FrameRef

__all__ = [
    "DEFAULT_CLICKS_PER_ACTOR",
    "DEFAULT_FRAME_OVERHEAD",
    "CostModel",
    "SelectionCost",
    "selection_cost",
]

#: clicks per actor: a box's two corners (the simulated oracle's ``clicks_per_region``)
DEFAULT_CLICKS_PER_ACTOR = 2.0
#: clicks per frame whatever it shows (the simulated oracle's ``frame_overhead``; 0 in the paper)
DEFAULT_FRAME_OVERHEAD = 0.0


def _clicks(value: Any, flag: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number >= 0):
        raise AslUsageError(f"{flag} {value!r}: must be a finite number >= 0 (clicks)")
    return number


def _number(x: float) -> str:
    """``8,024`` or ``8,024.5``: thousands separated, no exponent, no trailing zeros."""
    return f"{x:,.3f}".rstrip("0").rstrip(".")


@frozen
class CostModel:
    """What one frame costs: ``frame_overhead + actors * clicks_per_actor`` (paper §4).

    Attributes:
        clicks_per_actor: clicks per annotated actor. Defaults to 2 (a box: two corners).
        frame_overhead: clicks per frame regardless of its content. Defaults to 0 (the paper).
    """

    clicks_per_actor: float = DEFAULT_CLICKS_PER_ACTOR
    frame_overhead: float = DEFAULT_FRAME_OVERHEAD

    @classmethod
    def from_flags(cls, clicks_per_actor: Any = None, frame_overhead: Any = None) -> CostModel:
        """The model of ``--clicks-per-actor`` and ``--frame-overhead`` (``None``: the default).

        Raises:
            AslUsageError: for a value that is not a finite number >= 0, naming the flag.
        """
        return cls(
            DEFAULT_CLICKS_PER_ACTOR
            if clicks_per_actor is None
            else _clicks(clicks_per_actor, "--clicks-per-actor"),
            DEFAULT_FRAME_OVERHEAD
            if frame_overhead is None
            else _clicks(frame_overhead, "--frame-overhead"),
        )

    def frame_cost(self, actors: int) -> float:
        """Cost of one frame showing ``actors`` actors."""
        return self.frame_overhead + actors * self.clicks_per_actor


@frozen
class SelectionCost:
    """The annotation cost of a selection.

    Attributes:
        model: the cost model.
        frames: selected frames.
        actor_boxes: actors over all selected frames (the boxes an annotator draws).
        frames_without_actor: selected frames that show no actor (they cost only the overhead).
        total: the sum of the frames' costs, ``frames * frame_overhead + actor_boxes *
            clicks_per_actor``.
    """

    model: CostModel
    frames: int
    actor_boxes: int
    frames_without_actor: int
    total: float

    def as_dict(self) -> dict[str, Any]:
        """The ``"cost"`` object of ``asl-run select``'s output."""
        return {
            "clicks_per_actor": self.model.clicks_per_actor,
            "frame_overhead": self.model.frame_overhead,
            "frames": self.frames,
            "actor_boxes": self.actor_boxes,
            "frames_without_actor": self.frames_without_actor,
            "total": self.total,
        }

    def summary(self) -> str:
        """One human phrase, e.g. ``cost 8,024 clicks (4,012 actors x 2 clicks; 700 frames
        without actor)``."""
        m = self.model
        overhead = (
            f" + {self.frames:,} frames x {_number(m.frame_overhead)}" if m.frame_overhead else ""
        )
        return (
            f"cost {_number(self.total)} clicks ({self.actor_boxes:,} actors x "
            f"{_number(m.clicks_per_actor)} clicks{overhead}; {self.frames_without_actor:,} selected "
            f"frame{'s' if self.frames_without_actor != 1 else ''} without actor)"
        )


def selection_cost(
    frames: Sequence[FrameRef], actors: Mapping[str, np.ndarray], model: CostModel
) -> SelectionCost:
    """Price selected frames by their actors.

    Args:
        frames: the selected frames.
        actors: ``{video: int[F]}`` actors on each frame of every video of ``frames``.
        model: the cost model.

    Returns:
        The cost; ``total`` is the exactly rounded sum (``math.fsum``) of each frame's
        :meth:`CostModel.frame_cost`.

    Raises:
        KeyError: for a video without actor counts. IndexError: for a frame outside its video.
    """
    counts = [int(actors[ref.video][ref.frame]) for ref in frames]
    return SelectionCost(
        model=model,
        frames=len(counts),
        actor_boxes=sum(counts),
        frames_without_actor=sum(1 for n in counts if n == 0),
        total=math.fsum(model.frame_cost(n) for n in counts),
    )
