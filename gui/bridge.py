"""Bridges from worker threads to the GUI thread: a run listener and a logging handler.

The Recorder calls its listeners in the run's worker thread; Qt widgets may only be touched in
the GUI thread. :class:`QtRunListener` queues what the run reports and emits *one* queued signal
when the queue goes from empty to non-empty, so a procedure appending ten thousand single rows a
second costs the GUI one wake-up per event-loop turn, not ten thousand slot calls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6 import QtCore

from memlab.procedures import RunListener


@dataclass(frozen=True)
class RunEvent:
    """One thing a run reported: ``kind`` is start, batch, log, progress or finish."""

    kind: str
    args: tuple[Any, ...]


class QtRunListener(QtCore.QObject, RunListener):
    """Collects a run's events in its worker thread; the GUI thread takes them with :meth:`drain`
    when :attr:`ready` fires."""

    ready = QtCore.Signal()

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        QtCore.QObject.__init__(self, parent)
        self._lock = threading.Lock()
        self._events: list[RunEvent] = []

    def _put(self, kind: str, *args: Any) -> None:
        with self._lock:
            self._events.append(RunEvent(kind, args))
            first = len(self._events) == 1
        if first:
            self.ready.emit()

    def drain(self) -> list[RunEvent]:
        with self._lock:
            events, self._events = self._events, []
        return events

    def put_back(self, events: list[RunEvent]) -> None:
        """Return events taken but not handled yet, ahead of any that came meanwhile (the taker
        handles them later; no :attr:`ready` is emitted for them)."""
        if events:
            with self._lock:
                self._events[:0] = events

    # RunListener, called in the worker thread
    def on_start(self, info: Mapping[str, Any]) -> None:
        self._put("start", dict(info))

    def on_batch(self, stream: str, batch: Mapping[str, np.ndarray]) -> None:
        # a procedure may reuse its arrays for the next batch: keep our own copy of the new rows
        self._put("batch", stream, {name: np.array(values, copy=True) for name, values in batch.items()})
        # offer the interpreter lock to the GUI thread now, rather than making it wait for the
        # next forced switch: a simulated run is pure Python and would otherwise hold it
        time.sleep(0)

    def on_log(self, level: int, message: str) -> None:
        self._put("log", level, message)

    def on_progress(self, done: float, total: float, eta_s: float | None) -> None:
        self._put("progress", done, total, eta_s)

    def on_finish(self, status: str, error: str, path: str) -> None:
        self._put("finish", status, error, path)


class QtLogHandler(logging.Handler):
    """A logging handler that hands records to the GUI thread through a queued signal.

    Messages of a run reach the log panel from the run's own listener (with the run's context),
    so the runner's logger, which repeats them, is left out here.
    """

    class _Emitter(QtCore.QObject):
        record = QtCore.Signal(float, int, str, str)  # unix time, level, logger name, message

    def __init__(self, skip_loggers: tuple[str, ...] = ("memlab.run",), level: int = logging.INFO) -> None:
        super().__init__(level)
        self.emitter = self._Emitter()
        self.skip_loggers = skip_loggers

    def emit(self, record: logging.LogRecord) -> None:
        if record.name in self.skip_loggers:
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            self.emitter.record.emit(record.created, record.levelno, record.name, message)
        except RuntimeError:  # the emitter was deleted with the window; nothing to show it on
            pass
