"""The Recorder: fans every batch of a run out to the run file and to live listeners."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from memlab.storage import RunWriter

log = logging.getLogger(__name__)


class RunListener:
    """Receives a run as it happens (the dashboard, a progress bar).

    Every method is a no-op here so a listener overrides only what it shows. Called in the
    thread that runs the procedure: a GUI listener must hand data to its own thread (Qt signals).
    """

    def on_start(self, info: Mapping[str, Any]) -> None:
        """The run started: procedure, parameters, streams, devices, path."""

    def on_batch(self, stream: str, batch: Mapping[str, np.ndarray]) -> None:
        """New rows of ``stream``: column name -> array of the new rows only."""

    def on_log(self, level: int, message: str) -> None:
        """A log line of the run."""

    def on_progress(self, done: float, total: float, eta_s: float | None) -> None:
        """Progress in the procedure's own units, and the estimated seconds left."""

    def on_finish(self, status: str, error: str, path: str) -> None:
        """The run ended with ``status``; the file at ``path`` is closed."""


class Recorder:
    """Writes batches to the RunWriter and passes them to every listener.

    A listener that raises is logged and dropped, never allowed to fail the run: a crashing
    plot must not cost a measurement.
    """

    def __init__(self, writer: RunWriter, listeners: Iterable[RunListener] = ()) -> None:
        self.writer = writer
        self.listeners = list(listeners)

    def _notify(self, method: str, *args: Any) -> None:
        for listener in list(self.listeners):
            try:
                getattr(listener, method)(*args)
            except Exception:
                log.exception("listener %r failed in %s; it is dropped from this run", listener, method)
                self.listeners.remove(listener)

    def append(self, stream: str, batch: Mapping[str, Any]) -> None:
        """Record a batch of rows (column -> array; scalars are one row)."""
        self.writer.append(stream, batch)
        if self.listeners:
            arrays = {k: np.atleast_1d(np.asarray(v)) for k, v in batch.items()}
            self._notify("on_batch", stream, arrays)

    def append_row(self, stream: str, values: Sequence[Any]) -> None:
        """Record one row, values in the stream's column order (fast path)."""
        self.writer.append_row(stream, values)
        if self.listeners:
            names = self.writer.specs[stream].column_names
            self._notify("on_batch", stream, {k: np.atleast_1d(v) for k, v in zip(names, values)})

    def log(self, message: str, level: int = logging.INFO) -> None:
        self.writer.log(message, level)
        self._notify("on_log", level, message)

    def start(self, info: Mapping[str, Any]) -> None:
        self._notify("on_start", info)

    def progress(self, done: float, total: float, eta_s: float | None = None) -> None:
        self._notify("on_progress", done, total, eta_s)

    def finish(self, status: str, error: str, path: str) -> None:
        self._notify("on_finish", status, error, path)
