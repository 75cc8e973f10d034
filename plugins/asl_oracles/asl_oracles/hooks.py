"""Entry point of the built-in oracles: lazy factories only (nothing heavy is imported)."""

from __future__ import annotations

from asl_core import RegisterFn, hookimpl


@hookimpl
def register_oracles(register: RegisterFn) -> None:
    register(
        "simulated",
        "asl_oracles.simulated:SimulatedOracle",
        summary="reveals the task's ground truth; cost = regions x clicks (paper §4)",
    )
