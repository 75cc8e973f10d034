"""ASL — active sparse labeling of video.

The public API of the core. Plugins import only from here (and ``asl_core.testing`` in their
tests). Importing ``asl_core`` is cheap: it pulls in attrs, numpy and pluggy, never torch.
"""

from __future__ import annotations

from .errors import (
    AslError,
    AslUsageError,
    BudgetError,
    ConfigError,
    DuplicatePluginError,
    LedgerError,
    PluginContractError,
    PluginError,
    ResumeMismatchError,
    RunDirError,
    UnknownPluginError,
)
from .hookspecs import RegisterFn, hookimpl
from .interfaces import (
    KNOWN_OUTPUTS,
    MC_PROBS,
    DatasetTool,
    Evaluator,
    NullProgress,
    Oracle,
    OracleBase,
    Progress,
    Scorer,
    ScorerBase,
    Selector,
    SelectorBase,
    SparseLoss,
    SparseLossBase,
    Task,
)
from .params import Configurable, NoParams, parse_params
from .types import (
    CycleResult,
    DataCheckReport,
    DataProblem,
    FrameAnnotation,
    FrameRef,
    FrameStats,
    FrozenMap,
    LabelState,
    Region,
    Selection,
    VideoInfo,
    frame_array,
    readonly_array,
)

__version__ = "0.1.0"

__all__ = [
    "KNOWN_OUTPUTS",
    "MC_PROBS",
    "AslError",
    "AslUsageError",
    "BudgetError",
    "ConfigError",
    "Configurable",
    "CycleResult",
    "DataCheckReport",
    "DataProblem",
    "DatasetTool",
    "DuplicatePluginError",
    "Evaluator",
    "FrameAnnotation",
    "FrameRef",
    "FrameStats",
    "FrozenMap",
    "LabelState",
    "LedgerError",
    "NoParams",
    "NullProgress",
    "Oracle",
    "OracleBase",
    "PluginContractError",
    "PluginError",
    "Progress",
    "Region",
    "RegisterFn",
    "ResumeMismatchError",
    "RunDirError",
    "Scorer",
    "ScorerBase",
    "Selection",
    "Selector",
    "SelectorBase",
    "SparseLoss",
    "SparseLossBase",
    "Task",
    "UnknownPluginError",
    "VideoInfo",
    "__version__",
    "frame_array",
    "hookimpl",
    "parse_params",
    "readonly_array",
]
