"""The command conversation of each instrument, recorded at the pymeasure Adapter level.

A :class:`CommandTrace` wraps the adapter of every driver of a bench (:meth:`CommandTrace.attach`)
and records each write, each read and each transport error with the bench time, the wall-clock
time and the instrument's name. When a run fails overnight, the last commands before the fault are
in the trace; the run writer stores :meth:`CommandTrace.to_columns` as a compact dataset.

The trace is bounded: it keeps the newest ``max_records`` entries (older ones are counted in
:attr:`CommandTrace.dropped`), and texts are cut at ``max_text`` characters; binary blocks are
recorded by size and their first bytes.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pymeasure.adapters import Adapter

#: what a record is: index into KINDS is the ``kind`` column
KINDS = ("write", "read", "error")
WRITE, READ, ERROR = range(3)


@dataclass(frozen=True)
class TraceRecord:
    time_s: float  #: bench time (virtual in simulation)
    wall_time_s: float  #: seconds since the epoch
    instrument: str
    kind: int  #: WRITE, READ or ERROR
    text: str

    def __str__(self) -> str:
        return f"{self.time_s:.6f} {self.instrument} {KINDS[self.kind]}: {self.text}"


class CommandTrace:
    """Writes, reads and errors of the instruments of one run (see the module docstring).

    :param clock: the bench time (``bench.clock.now``); the wall clock when None.
    :param max_records: entries kept (the newest).
    :param max_text: characters kept of each message.
    """

    def __init__(self, clock: Callable[[], float] | None = None, *, max_records: int = 200_000,
                 max_text: int = 200) -> None:
        if not isinstance(max_records, int) or max_records < 1:
            raise ValueError(f"max_records={max_records!r}: allowed an integer >= 1")
        if not isinstance(max_text, int) or max_text < 8:
            raise ValueError(f"max_text={max_text!r}: allowed an integer >= 8")
        self._clock = clock or time.time
        self._records: deque[TraceRecord] = deque(maxlen=max_records)
        self._lock = threading.Lock()
        self.max_text = max_text
        self.dropped = 0

    # -- recording ----------------------------------------------------------------------------------

    def record(self, instrument: str, kind: int, text: str) -> None:
        if len(text) > self.max_text:
            text = text[: self.max_text - 3] + "..."
        try:
            now = float(self._clock())
        except Exception:  # noqa: BLE001 - a trace must never break the conversation it records
            now = float("nan")
        entry = TraceRecord(now, time.time(), instrument, kind, text)
        with self._lock:
            if len(self._records) == self._records.maxlen:
                self.dropped += 1
            self._records.append(entry)

    def adapter(self, inner: Adapter, instrument: str) -> TracingAdapter:
        """``inner`` wrapped so that its conversation lands here under ``instrument``."""
        return TracingAdapter(inner, self, instrument)

    def attach(self, driver: Any, instrument: str) -> None:
        """Wrap a pymeasure instrument's adapter in place (its channels use it through the parent)."""
        adapter = getattr(driver, "adapter", None)
        if adapter is None:
            raise ValueError(f"{instrument}: the driver has no adapter to trace")
        if isinstance(adapter, TracingAdapter):
            return
        driver.adapter = self.adapter(adapter, instrument)

    # -- reading it back ----------------------------------------------------------------------------

    def records(self) -> list[TraceRecord]:
        with self._lock:
            return list(self._records)

    def last(self, count: int = 20) -> list[str]:
        """The newest ``count`` entries as text lines (for a log or an error message)."""
        return [str(r) for r in self.records()[-count:]]

    def to_columns(self) -> dict[str, np.ndarray]:
        """Columns for a compact dataset: ``time_s``, ``wall_time_s`` (float64), ``instrument``
        (uint16 index into ``instruments``), ``kind`` (uint8 index into :data:`KINDS`),
        ``text`` (UTF-8 bytes, variable length as an object array) and ``instruments``."""
        records = self.records()
        names = sorted({r.instrument for r in records})
        index = {name: k for k, name in enumerate(names)}
        return {
            "time_s": np.array([r.time_s for r in records], dtype=np.float64),
            "wall_time_s": np.array([r.wall_time_s for r in records], dtype=np.float64),
            "instrument": np.array([index[r.instrument] for r in records], dtype=np.uint16),
            "kind": np.array([r.kind for r in records], dtype=np.uint8),
            "text": np.array([r.text.encode("utf-8", "replace") for r in records], dtype=object),
            "instruments": np.array(names, dtype=object),
        }


def _describe_bytes(data: bytes) -> str:
    head = data[:16].hex(" ")
    return f"<{len(data)} bytes: {head}{' ...' if len(data) > 16 else ''}>"


class TracingAdapter(Adapter):
    """A pymeasure Adapter that passes everything to ``inner`` and records it in a trace.

    Attributes it does not have itself (``connection``, ``resource_name``, ``simulated``, ...)
    are the inner adapter's, so drivers that look at their adapter see the real one."""

    def __init__(self, inner: Adapter, trace: CommandTrace, instrument: str) -> None:
        super().__init__()
        self.inner = inner
        self.trace = trace
        self.trace_name = instrument

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes this adapter lacks: the inner adapter's.
        if name in ("inner", "trace", "trace_name"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _call(self, kind: int, text: str, action: Callable[[], Any]) -> Any:
        if kind == WRITE:
            self.trace.record(self.trace_name, WRITE, text)
        try:
            result = action()
        except Exception as exc:
            self.trace.record(self.trace_name, ERROR, f"{type(exc).__name__}: {exc}")
            raise
        if kind == READ:
            self.trace.record(self.trace_name, READ,
                              result if isinstance(result, str) else _describe_bytes(result))
        return result

    def _write(self, command: str, **kwargs: Any) -> None:
        self._call(WRITE, command, lambda: self.inner.write(command, **kwargs))

    def _write_bytes(self, content: bytes, **kwargs: Any) -> None:
        self._call(WRITE, _describe_bytes(content), lambda: self.inner.write_bytes(content, **kwargs))

    def _read(self, **kwargs: Any) -> str:
        return self._call(READ, "", lambda: self.inner.read(**kwargs))

    def _read_bytes(self, count: int, break_on_termchar: bool, **kwargs: Any) -> bytes:
        return self._call(READ, "", lambda: self.inner.read_bytes(
            count, break_on_termchar=break_on_termchar, **kwargs))

    def flush_read_buffer(self) -> None:
        self.inner.flush_read_buffer()

    def __del__(self) -> None:
        """The inner adapter owns the connection: dropping the wrapper leaves it open."""

    def close(self) -> None:
        self.inner.close()

    def __repr__(self) -> str:
        return f"TracingAdapter({self.inner!r}, {self.trace_name!r})"
