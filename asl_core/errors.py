"""Exceptions raised by the ASL core.

Every error the toolkit raises on purpose derives from :class:`AslError`. The CLI maps
:class:`AslUsageError` (bad command line, config or plugin name) to exit code 2 and every other
:class:`AslError` (a run directory, a ledger or a plugin that fails at run time) to exit code 1.
"""

from __future__ import annotations


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
