"""Errors of the action-detection plugin's data loaders."""

from __future__ import annotations

from asl_core import AslError

__all__ = ["DatasetError"]


class DatasetError(AslError):
    """A dataset file is missing, unreadable or inconsistent; the message names the file."""
