"""Registration hooks of the built-in strategies (entry point ``strategies`` of group ``asl``).

Only lazy ``"module:Class"`` strings are registered, so loading this module to list plugins
imports no strategy implementation.
"""

from __future__ import annotations

from asl_core import RegisterFn as Register
from asl_core import hookimpl


@hookimpl
def register_scorers(register: Register) -> None:
    """Register the paper's APU scorer (§3.1, eq. 1-3) and the baselines of §4.1."""
    register(
        "apu",
        "asl_strategies.scorers.apu:ApuScorer",
        summary="adaptive proximity-aware uncertainty (eq. 1-3): uncertain frames far from labels",
    )
    register(
        "gal",
        "asl_strategies.scorers.gal:GalScorer",
        summary="MC-dropout uncertainty U alone (Gal & Ghahramani), no distance term",
    )
    register(
        "aghdam",
        "asl_strategies.scorers.aghdam:AghdamScorer",
        summary="pixel entropy (Aghdam et al.), frames within +-w of a label filtered out",
    )
    register(
        "random",
        "asl_strategies.scorers.random:RandomScorer",
        summary="uniformly random frames; needs no model inference",
    )
    register(
        "equidistant",
        "asl_strategies.scorers.equidistant:EquidistantScorer",
        summary="frames farthest from labelled frames (even spacing); needs no model inference",
    )


@hookimpl
def register_selectors(register: Register) -> None:
    """Register the global, local and whole-video selectors (paper §3.1, §4.4)."""
    register(
        "global",
        "asl_strategies.selectors.global_greedy:GlobalSelector",
        summary="exact greedy over all frames of the pool, re-scoring the picked video",
    )
    register(
        "local",
        "asl_strategies.selectors.local:LocalSelector",
        summary="the budget split evenly over videos, greedy within each video",
    )
    register(
        "video",
        "asl_strategies.selectors.video:VideoSelector",
        summary="whole videos ranked by mean frame score (sample-level baseline)",
    )


@hookimpl
def register_losses(register: Register) -> None:
    """Register the sparse-label frame weightings of paper §3.2."""
    register(
        "masking",
        "asl_strategies.losses.masking:MaskingLoss",
        summary="loss on labelled frames only",
    )
    register(
        "interpolation",
        "asl_strategies.losses.interpolation:InterpolationLoss",
        summary="equal weight on every frame (pseudo-labels everywhere)",
    )
    register(
        "mgw",
        "asl_strategies.losses.mgw:MGWLoss",
        summary="max-Gaussian weighted loss (eq. 4), weight decays away from labelled frames",
    )
