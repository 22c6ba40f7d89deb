"""Errors and warnings of the analysis package."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from memlab.errors import MemlabError


class AnalysisError(MemlabError, ValueError):
    """Data that a figure of merit cannot be computed from; the message says which and why."""


class MissingStreamError(AnalysisError, KeyError):
    """A run lacks a stream (or a column) that a figure of merit needs."""

    def __init__(self, path: str | Path, procedure: str, needed: str, available: Iterable[str],
                 purpose: str) -> None:
        self.path = Path(path)
        self.needed = needed
        message = (f"{self.path.name} ({procedure}): no stream {needed!r}, needed for {purpose}; "
                   f"it has {sorted(available)}")
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class SkippedRunWarning(UserWarning):
    """A file in a folder or list was skipped (corrupted, not a memlab run, interrupted, still
    being written); the message names the file and why."""


class FigureWarning(UserWarning):
    """A run's figures of merit could not be computed (e.g. a stream it needs is missing); the
    message names the run and why."""
