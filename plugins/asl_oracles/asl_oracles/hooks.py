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
    register(
        "exchange",
        "asl_oracles.exchange_oracle:ExchangeOracle",
        summary="people annotate in a tool: the run pauses for asl-run export / import (CVAT, Label Studio, COCO)",
    )
