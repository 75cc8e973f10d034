"""Built-in ASL strategies: scorers, selectors and sparse losses (paper §3.1, §3.2, §4.4).

The entry point ``strategies`` names :mod:`asl_strategies.hooks`, which registers every strategy
as a lazy ``"module:Class"`` string. This package therefore imports nothing at import time: a
strategy module (and numpy) is loaded only when a config selects it.

Modules:

* ``scorers.apu``: the paper's scorer (§3.1, eq. 1-3); ``scorers.gal`` (MC-dropout uncertainty
  alone) and ``scorers.aghdam`` (pixel entropy with a fixed distance filter): the §4.1
  uncertainty baselines; ``scorers._mc_probs``: their shared, chunked reading of ``mc_probs``.
* ``scorers.random``, ``scorers.equidistant``: the paper's §4.1 baselines (no model inference).
* ``selectors.global_greedy``, ``selectors.local``, ``selectors.video``: global, per-video and
  whole-video selection (§3.1 "informative frame selection", §4.4).
* ``losses.masking``, ``losses.interpolation``, ``losses.mgw``: frame weights of §3.2 (eq. 4).
"""

from __future__ import annotations
