"""Entry point registering task ``fake``: the tiny numpy task used by tests and the demo."""

from __future__ import annotations

from asl_core import RegisterFn, hookimpl


@hookimpl
def register_tasks(register: RegisterFn) -> None:
    register(
        "fake",
        "asl_core.testing:FakeTask",
        summary="tiny numpy-only actor-localisation task (tests, smoke runs; no torch)",
    )
