"""Instrument work off the GUI thread: one worker thread runs bench actions in order.

Manual controls, connecting and querying identities talk to instruments that may take seconds to
answer; doing that in the GUI thread would freeze the window. One thread (not a pool) keeps the
actions in the order the user asked for them, and never lets two talk to a bench at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6 import QtCore

log = logging.getLogger(__name__)


class BenchWorker(QtCore.QObject):
    """Runs callables in a worker thread; their results come back to the GUI thread."""

    _done = QtCore.Signal(object, object, object)  # callback, result, exception
    busy_changed = QtCore.Signal(bool)

    def __init__(self, parent: QtCore.QObject | None = None, name: str = "bench") -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"memlab-{name}")
        self._pending = 0
        self._done.connect(self._deliver)

    @property
    def busy(self) -> bool:
        return self._pending > 0

    def submit(self, action: Callable[[], Any],
               on_done: Callable[[Any, BaseException | None], None] | None = None) -> Future:
        """Run ``action()`` in the worker; then ``on_done(result, exception)`` in the GUI thread."""
        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)

        def job() -> Any:
            try:
                result, error = action(), None
            except Exception as exc:  # reported to the caller, in the GUI thread
                result, error = None, exc
            self._done.emit(on_done, result, error)
            if error is not None:
                raise error
            return result

        return self._executor.submit(job)

    def _deliver(self, callback: Callable[[Any, BaseException | None], None] | None,
                 result: Any, error: BaseException | None) -> None:
        self._pending -= 1
        if self._pending == 0:
            self.busy_changed.emit(False)
        if callback is not None:
            callback(result, error)
        elif error is not None:
            log.error("%s", error)

    def call(self, action: Callable[[], Any], timeout_s: float = 30.0) -> Any:
        """Run ``action`` in the worker and wait for it (after queued actions): for shutdown."""
        return self.submit(action).result(timeout=timeout_s)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=False)
