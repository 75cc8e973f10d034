"""Built-in ASL strategies: scorers, selectors and sparse losses (paper §3.1, §3.2, §4.4).

The entry point ``strategies`` names :mod:`asl_strategies.hooks`, which registers every strategy
as a lazy ``"module:Class"`` string. This package therefore imports nothing at import time: a
strategy module (and numpy) is loaded only when a config selects it.

Modules:

* ``scorers.random``, ``scorers.equidistant``: the paper's §4.1 baselines (no model inference).
* ``selectors.global_greedy``, ``selectors.local``, ``selectors.video``: global, per-video and
  whole-video selection (§3.1 "informative frame selection", §4.4).
* ``losses.masking``, ``losses.interpolation``, ``losses.mgw``: frame weights of §3.2 (eq. 4).
"""

from __future__ import annotations
