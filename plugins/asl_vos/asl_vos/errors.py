"""Errors of the video-object-segmentation plugin."""

from __future__ import annotations

from asl_core import AslError

__all__ = ["VosDataError"]


class VosDataError(AslError):
    """A VOS dataset or mask file is missing, unreadable or inconsistent; the message names the
    file (or folder) and the problem."""
