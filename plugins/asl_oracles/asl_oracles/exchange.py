"""The exchange values, from the core's public API (``asl_core``): the format modules of this
package import them from here."""

from __future__ import annotations

from asl_core import (
    ExchangeFormatError,
    ExchangeRequest,
    ExchangeVideo,
    ImportedFrame,
    ImportResult,
    RequestedFrame,
    validate_import,
)

__all__ = [
    "ExchangeFormatError",
    "ExchangeRequest",
    "ExchangeVideo",
    "ImportResult",
    "ImportedFrame",
    "RequestedFrame",
    "validate_import",
]
