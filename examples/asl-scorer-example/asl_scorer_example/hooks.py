"""Entry point ``scorer_example`` of group ``asl``: registers the ``motion_margin`` scorer.

Imports only ``asl_core`` and registers a lazy ``"module:Class"`` string, so ``asl-run
plugins`` lists the scorer without importing its implementation; it is imported when a config
selects ``motion_margin``.
"""

from __future__ import annotations

from asl_core import RegisterFn, hookimpl


@hookimpl
def register_scorers(register: RegisterFn) -> None:
    """Register ``motion_margin`` (:class:`asl_scorer_example.motion_margin.MotionMarginScorer`)."""
    register(
        "motion_margin",
        "asl_scorer_example.motion_margin:MotionMarginScorer",
        summary="margin uncertainty weighted by the prediction change to neighbour frames, "
        "far from labels (APU's eq. 2 distance)",
    )
