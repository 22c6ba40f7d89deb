"""Stop signals during runs and campaigns: Ctrl-C, SIGTERM and SIGHUP all stop the work safely.

Within :class:`StopSignals` (main thread only; elsewhere it does nothing), SIGINT, SIGTERM and
SIGHUP raise :class:`Interrupted`, a ``KeyboardInterrupt``, so every path that handles Ctrl-C
(safe shutdown, final status, manifest) handles a ``kill`` or a closed terminal too. Each
signal is also remembered, so a Ctrl-C swallowed on its way up (e.g. inside a simulated
instrument's Lua interpreter) still aborts the run. Inside :meth:`StopSignals.deferred` the
signals are only remembered: the safe shutdown and the final writes run to the end however
often Ctrl-C is pressed, and one ``Interrupted`` is raised afterwards. The previous handlers
are restored on leaving.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

log = logging.getLogger("memlab.run")

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def signal_name(signum: int) -> str:
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived: Ctrl-C (SIGINT), SIGTERM or SIGHUP."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal_name(signum)}")


def stop_reason(exc: BaseException) -> str:
    """How a KeyboardInterrupt stopped a run: "aborted by Ctrl-C" (or another stop signal), or the
    reason a KeyboardInterrupt subclass raised on purpose carries (a dashboard's abort of a campaign)."""
    if isinstance(exc, Interrupted) or type(exc) is KeyboardInterrupt or not str(exc):
        return f"aborted by {signal_name(getattr(exc, 'signum', signal.SIGINT))}"
    return str(exc)


class StopSignals:
    """Install the stop-signal handlers for a block (see the module docstring)."""

    def __init__(self) -> None:
        self.received: int | None = None  # the first stop signal seen, if any
        self._pending: int | None = None
        self._deferring = 0
        self._previous: dict[int, Any] = {}

    @property
    def active(self) -> bool:
        return bool(self._previous)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                try:
                    self._previous[signum] = signal.signal(signum, self._handle)
                except (ValueError, OSError):  # e.g. an embedded interpreter without signals
                    continue
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
        if self._deferring:
            if self._pending is None:
                log.warning("%s: switching the outputs off and closing the files first", signal_name(signum))
            self._pending = self._pending or signum
            return
        raise Interrupted(signum)

    def check(self) -> None:
        """Raise Interrupted if a stop signal arrived (and was swallowed on its way up)."""
        if self.received is not None and not self._deferring:
            raise Interrupted(self.received)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Run the block to its end; a stop signal meanwhile is raised once afterwards."""
        self._deferring += 1
        interrupted = False
        try:
            yield
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            self._deferring -= 1
            pending, self._pending = self._pending, None
            if pending is not None and not self._deferring and not interrupted and self.active:
                raise Interrupted(pending)
