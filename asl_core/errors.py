"""Exceptions raised by the ASL core.

Every error the toolkit raises on purpose derives from :class:`AslError`. The CLI maps
:class:`AslUsageError` (bad command line, config or plugin name) to exit code 2,
:class:`AwaitingAnnotations` (a run paused for people to annotate) to exit code 3, and every
other :class:`AslError` (a run directory, a ledger or a plugin that fails at run time) to exit
code 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


class AslError(Exception):
    """Base class of all errors raised on purpose by ASL."""


class AslUsageError(AslError):
    """The user asked for something that cannot be done as asked (exit code 2)."""


class ConfigError(AslUsageError):
    """A config file, a ``--cfg-options`` override or a plugin parameter is invalid."""


class BudgetError(ConfigError):
    """A budget setting (percentages, cycle counts) is out of range."""


class PluginError(AslError):
    """A plugin could not be loaded, registered or built."""


class UnknownPluginError(PluginError, AslUsageError):
    """No plugin of the requested kind is registered under the requested name."""


class DuplicatePluginError(PluginError):
    """Two distributions register the same name for the same kind (or the same entry point)."""


class PluginContractError(PluginError):
    """A plugin returned something that breaks its interface (wrong shape, NaN, bad frame...)."""


class RunDirError(AslError):
    """A run directory is missing, damaged, locked, or belongs to a different configuration."""


class ResumeMismatchError(RunDirError, AslUsageError):
    """``--resume`` was combined with options that differ from the run's stored configuration."""


class LedgerError(RunDirError):
    """The annotation ledger cannot be read safely."""


class AwaitingAnnotations(AslError):
    """The oracle is a person: the frames must be annotated outside the toolkit first.

    An oracle raises it from ``annotate`` for the frames it cannot answer yet (an annotation-tool
    exchange). The loop keeps every annotation received before it, records the run as
    ``awaiting_annotations`` and re-raises it with the cycle and run directory filled in; the
    CLI then says what to export and import and exits with code 3. ``--resume`` continues once
    the annotations are in the ledger.

    Attributes:
        frames: the frames still waiting (``FrameRef`` values, in selection order).
        detail: the oracle's own words (e.g. how to hand the frames over), or ``""``.
        cycle: the cycle that waits, when known.
        run: the run directory, when known.
    """

    def __init__(
        self,
        frames: Sequence[Any],
        message: str = "",
        *,
        cycle: int | None = None,
        run: Path | None = None,
    ) -> None:
        self.frames = tuple(frames)
        self.detail = message
        self.cycle = cycle
        self.run = run
        where = f"cycle {cycle} of {run}" if run is not None else "the run"
        text = f"{where} waits for annotations of {len(self.frames)} frames"
        super().__init__(f"{text}: {message}" if message else text)
