"""Hook specifications of the ``asl`` plugin system (pluggy project and entry-point group ``asl``).

A plugin is a module named by an entry point in the ``asl`` group. It implements one or more of
the registration hooks below, each of which receives a ``register`` callable::

    register(name, factory, summary="...")

``factory`` is a class (or any callable) or, better, a lazy ``"package.module:Attr"`` string that
is imported only when a config selects ``name`` — so listing plugins never imports torch.
The factory is built with ``factory.from_config(params)`` when it has that classmethod (see
:class:`asl_core.params.Configurable`), else with ``factory(**params)``.

Rules: do not give hookimpl parameters default values (pluggy never passes them); a plugin
module should import nothing heavy at module level.

Importing this module is cheap (pluggy only).
"""

from __future__ import annotations

from typing import Any, Protocol

import pluggy

PROJECT = "asl"
ENTRY_POINT_GROUP = "asl"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["ENTRY_POINT_GROUP", "PROJECT", "RegisterFn", "hookimpl", "hookspec"]


class RegisterFn(Protocol):
    """The ``register`` callable handed to every registration hook."""

    def __call__(self, name: str, factory: Any, *, summary: str = "") -> None:
        """Register ``factory`` under ``name`` (lowercase snake case, unique per kind)."""


# --------------------------------------------------------------------------- registration hooks


@hookspec
def register_scorers(register: RegisterFn) -> None:
    """Register Scorer factories (see :class:`asl_core.interfaces.Scorer`).

    Example::

        from asl_core import hookimpl

        @hookimpl
        def register_scorers(register):
            register("margin", "my_pkg.margin:MarginScorer", summary="top-2 margin uncertainty")
    """


@hookspec
def register_selectors(register: RegisterFn) -> None:
    """Register Selector factories (see :class:`asl_core.interfaces.Selector`).

    Example::

        from asl_core import hookimpl

        @hookimpl
        def register_selectors(register):
            register("topk", "my_pkg.topk:TopKSelector", summary="top-k without re-scoring")
    """


@hookspec
def register_losses(register: RegisterFn) -> None:
    """Register SparseLoss factories (see :class:`asl_core.interfaces.SparseLoss`).

    Example::

        from asl_core import hookimpl

        @hookimpl
        def register_losses(register):
            register("linear", "my_pkg.linear:LinearDecayLoss", summary="linear decay weights")
    """


@hookspec
def register_tasks(register: RegisterFn) -> None:
    """Register Task factories (see :class:`asl_core.interfaces.Task`).

    Example::

        from asl_core import hookimpl

        @hookimpl
        def register_tasks(register):
            register("my_task", "my_pkg.task:MyTask", summary="my dataset and model")
    """


@hookspec
def register_oracles(register: RegisterFn) -> None:
    """Register Oracle factories (see :class:`asl_core.interfaces.Oracle`).

    Example::

        from asl_core import hookimpl

        @hookimpl
        def register_oracles(register):
            register("my_tool", "my_pkg.oracle:MyToolOracle", summary="my annotation tool")
    """


@hookspec
def register_datasets(register: RegisterFn) -> None:
    """Register dataset tools used by ``asl-run data ...`` (see :class:`asl_core.interfaces.DatasetTool`).

    Example::

        from asl_core import hookimpl

        @hookimpl
        def register_datasets(register):
            register("my_synth", "my_pkg.synth:MySynthDataset", summary="writes a toy dataset")
    """


@hookspec
def register_evaluators(register: RegisterFn) -> None:
    """Register evaluators used by ``asl-run eval`` (see :class:`asl_core.interfaces.Evaluator`).

    An evaluator scores a detector's output files against ground-truth files, whatever model
    produced them.

    Example::

        from asl_core import hookimpl

        @hookimpl
        def register_evaluators(register):
            register("coco_box", "my_pkg.coco_eval:CocoBoxEvaluator", summary="COCO box AP")
    """


#: hook name → plugin kind, in listing order.
KINDS: dict[str, str] = {
    "register_scorers": "scorer",
    "register_selectors": "selector",
    "register_losses": "loss",
    "register_tasks": "task",
    "register_oracles": "oracle",
    "register_datasets": "dataset",
    "register_evaluators": "evaluator",
}
