"""ASL — active sparse labeling of video.

The public API of the core. Plugins import only from here (and ``asl_core.testing`` in their
tests). Importing ``asl_core`` is cheap: it pulls in attrs, numpy and pluggy, never torch.
"""

from __future__ import annotations

from .distributed import DistContext, PeerFailed
from .distributed import current as dist_context
from .errors import (
    AslError,
    AslUsageError,
    AwaitingAnnotations,
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
from .exchange import (
    ExchangeFormatError,
    ExchangeRequest,
    ExchangeVideo,
    ImportedFrame,
    ImportResult,
    RequestedFrame,
    validate_import,
)
from .hookspecs import RegisterFn, hookimpl
from .interfaces import (
    KNOWN_OUTPUTS,
    MC_PROBS,
    OUTPUT_FRAME_AXIS,
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
from .paths import is_path_like
from .types import (
    CycleResult,
    DataCheckReport,
    DataProblem,
    FrameAnnotation,
    FrameRef,
    FrameStats,
    FrozenMap,
    LabelState,
    OutputChunk,
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
    "OUTPUT_FRAME_AXIS",
    "AslError",
    "AslUsageError",
    "AwaitingAnnotations",
    "BudgetError",
    "ConfigError",
    "Configurable",
    "CycleResult",
    "DataCheckReport",
    "DataProblem",
    "DatasetTool",
    "DistContext",
    "DuplicatePluginError",
    "Evaluator",
    "ExchangeFormatError",
    "ExchangeRequest",
    "ExchangeVideo",
    "FrameAnnotation",
    "FrameRef",
    "FrameStats",
    "FrozenMap",
    "ImportResult",
    "ImportedFrame",
    "LabelState",
    "LedgerError",
    "NoParams",
    "NullProgress",
    "Oracle",
    "OracleBase",
    "OutputChunk",
    "PeerFailed",
    "PluginContractError",
    "PluginError",
    "Progress",
    "Region",
    "RegisterFn",
    "RequestedFrame",
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
    "dist_context",
    "frame_array",
    "hookimpl",
    "is_path_like",
    "parse_params",
    "readonly_array",
    "validate_import",
]
