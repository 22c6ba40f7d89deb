"""The command conversation of each instrument, recorded at the pymeasure Adapter level.

A :class:`CommandTrace` wraps the adapter of every driver of a bench (:meth:`CommandTrace.attach`)
and records each write, each read and each transport error with the bench time, the wall-clock
time and the instrument's name. When a run fails overnight, the last commands before the fault are
in the trace; the run writer stores :meth:`CommandTrace.to_columns` as a compact dataset.

The trace is bounded: it keeps the newest ``max_records`` entries in memory, and texts are cut at
``max_text`` characters; binary blocks are recorded by size and their first bytes. A run writer
collects new entries about once a second (:meth:`CommandTrace.take_columns`), so the file gets
the whole conversation; entries that leave memory before that are counted in
:attr:`CommandTrace.dropped`. The runner (:mod:`memlab.procedures.runner`) attaches a trace to
every instrument for the length of a run, unless the bench file says ``trace = false``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count, islice
from typing import Any

import numpy as np
from pymeasure.adapters import Adapter

_wall_time = time.time

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

    A run writer collects the entries as they come with :meth:`take_columns` (each entry once),
    so the file holds the whole conversation while memory holds only the newest entries.
    """

    def __init__(self, clock: Callable[[], float] | None = None, *, max_records: int = 200_000,
                 max_text: int = 200) -> None:
        if not isinstance(max_records, int) or max_records < 1:
            raise ValueError(f"max_records={max_records!r}: allowed an integer >= 1")
        if not isinstance(max_text, int) or max_text < 8:
            raise ValueError(f"max_text={max_text!r}: allowed an integer >= 8")
        self._clock = clock or time.time
        # Recording sits on every instrument command, so it takes no lock and builds no object:
        # an entry is a tuple (time_s, wall_time_s, instrument index, kind, text, sequence number)
        # appended to a bounded deque (atomic), numbered by an itertools counter (atomic too).
        self._records: deque[tuple[float, float, int, int, str, int]] = deque(maxlen=max_records)
        self._append = self._records.append
        self._sequence = count()
        self._lock = threading.Lock()  # among readers, and for registering instruments
        self.max_text = max_text
        #: instrument names, in the order they were attached: the ``instrument`` column indexes it
        self.instruments: list[str] = []
        self._index: dict[str, int] = {}
        self._taken = 0  # sequence number of the first entry take_columns has not handed out
        self._lost = 0  # entries that left memory untaken, counted at earlier takes
        self._attached: list[tuple[Any, Adapter]] = []

    #: what the ``kind`` column's values mean (its index)
    kinds = KINDS

    # -- recording ----------------------------------------------------------------------------------

    def instrument_index(self, instrument: str) -> int:
        """The ``instrument`` column's value for ``instrument`` (registered on first use)."""
        with self._lock:
            index = self._index.get(instrument)
            if index is None:
                index = self._index[instrument] = len(self.instruments)
                self.instruments.append(instrument)
            return index

    def record(self, instrument: str | int, kind: int, text: str) -> None:
        """Add an entry; ``instrument`` is a name or its :meth:`instrument_index`."""
        if len(text) > self.max_text:
            text = text[: self.max_text - 3] + "..."
        try:
            now = self._clock()
        except Exception:  # noqa: BLE001 - a trace must never break the conversation it records
            now = float("nan")
        if not isinstance(instrument, int):
            instrument = self.instrument_index(instrument)
        self._append((now, _wall_time(), instrument, kind, text, next(self._sequence)))

    def adapter(self, inner: Adapter, instrument: str) -> TracingAdapter:
        """``inner`` wrapped so that its conversation lands here under ``instrument``."""
        return TracingAdapter(inner, self, instrument)

    def attach(self, driver: Any, instrument: str) -> None:
        """Wrap a pymeasure instrument's adapter in place (its channels use it through the parent);
        :meth:`detach` puts the original back."""
        adapter = getattr(driver, "adapter", None)
        if adapter is None:
            raise ValueError(f"{instrument}: the driver has no adapter to trace")
        if isinstance(adapter, TracingAdapter):
            if adapter.trace is self:
                return
            adapter = adapter.inner  # another trace's wrapper: this trace takes over
        self.instrument_index(instrument)
        driver.adapter = self.adapter(adapter, instrument)
        self._attached.append((driver, adapter))

    def detach(self) -> None:
        """Give every attached driver its own adapter back (the trace keeps what it recorded)."""
        while self._attached:
            driver, adapter = self._attached.pop()
            current = getattr(driver, "adapter", None)
            if isinstance(current, TracingAdapter) and current.trace is self:
                driver.adapter = adapter

    # -- reading it back ----------------------------------------------------------------------------

    def _record(self, entry: tuple[float, float, int, int, str, int]) -> TraceRecord:
        return TraceRecord(float(entry[0]), entry[1], self.instruments[entry[2]], entry[3], entry[4])

    def records(self) -> list[TraceRecord]:
        """The entries still in memory, oldest first."""
        return [self._record(e) for e in self._records.copy()]

    def last(self, count: int = 20) -> list[str]:
        """The newest ``count`` entries as text lines (for a log or an error message)."""
        entries = list(islice(reversed(self._records.copy()), count))[::-1]
        return [str(self._record(e)) for e in entries]

    def _ends(self) -> tuple[int, int] | None:
        """Sequence numbers of the oldest and newest entry in memory (None: none yet)."""
        try:
            return self._records[0][5], self._records[-1][5]
        except IndexError:
            return None

    @property
    def recorded(self) -> int:
        """Entries recorded so far (including those no longer in memory)."""
        ends = self._ends()
        return ends[1] + 1 if ends else 0

    @property
    def pending(self) -> int:
        """Entries in memory that :meth:`take_columns` has not handed out yet."""
        ends = self._ends()
        return max(0, ends[1] + 1 - max(self._taken, ends[0])) if ends else 0

    @property
    def dropped(self) -> int:
        """Entries that left memory before :meth:`take_columns` handed them out: they reach no
        file (with no taker, every entry that left memory)."""
        ends = self._ends()
        return self._lost + (max(0, ends[0] - self._taken) if ends else 0)

    def to_columns(self) -> dict[str, np.ndarray]:
        """Columns for a compact dataset: ``time_s``, ``wall_time_s`` (float64), ``instrument``
        (uint16 index into ``instruments``), ``kind`` (uint8 index into :data:`KINDS`),
        ``text`` (UTF-8 bytes, variable length as an object array) and ``instruments``; of every
        entry still in memory."""
        entries = list(self._records.copy())
        with self._lock:
            names = list(self.instruments)
        return {**_columns(entries), "instruments": np.array(names, dtype=object)}

    def take_columns(self) -> dict[str, np.ndarray]:
        """The entries recorded since the last call, as :meth:`to_columns` gives them (without
        ``instruments``): a writer appends them to its file as they come."""
        with self._lock:
            records = self._records.copy()  # a consistent snapshot while recording goes on
            if not records:
                return _columns([])
            first = max(self._taken, records[0][5])
            self._lost += first - self._taken
            entries = list(islice(reversed(records), records[-1][5] + 1 - first))[::-1]
            self._taken = records[-1][5] + 1
        return _columns(entries)


def _columns(entries: list[tuple[float, float, int, int, str, int]]) -> dict[str, np.ndarray]:
    if not entries:
        return {"time_s": np.empty(0, np.float64), "wall_time_s": np.empty(0, np.float64),
                "instrument": np.empty(0, np.uint16), "kind": np.empty(0, np.uint8),
                "text": np.empty(0, dtype=object)}
    times, walls, instruments, kinds, texts, _ = zip(*entries)
    return {
        "time_s": np.array(times, dtype=np.float64),
        "wall_time_s": np.array(walls, dtype=np.float64),
        "instrument": np.array(instruments, dtype=np.uint16),
        "kind": np.array(kinds, dtype=np.uint8),
        "text": np.array([t.encode("utf-8", "replace") for t in texts], dtype=object),
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
        self._trace_index = trace.instrument_index(instrument)

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes this adapter lacks: the inner adapter's.
        if name in ("inner", "trace", "trace_name", "_trace_index"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _failed(self, exc: Exception) -> None:
        self.trace.record(self._trace_index, ERROR, f"{type(exc).__name__}: {exc}")

    # The public methods are overridden, against pymeasure's advice for real adapters, because
    # this one only relays: the inner adapter's own write/read log each message once, and a
    # second pass through the base class's logging would cost every command twice.
    def write(self, command: str, **kwargs: Any) -> None:
        self.trace.record(self._trace_index, WRITE, command)
        try:
            self.inner.write(command, **kwargs)
        except Exception as exc:
            self._failed(exc)
            raise

    def write_bytes(self, content: bytes, **kwargs: Any) -> None:
        self.trace.record(self._trace_index, WRITE, _describe_bytes(content))
        try:
            self.inner.write_bytes(content, **kwargs)
        except Exception as exc:
            self._failed(exc)
            raise

    def read(self, **kwargs: Any) -> str:
        try:
            reply = self.inner.read(**kwargs)
        except Exception as exc:
            self._failed(exc)
            raise
        self.trace.record(self._trace_index, READ, reply)
        return reply

    def read_bytes(self, count: int = -1, break_on_termchar: bool = False, **kwargs: Any) -> bytes:
        try:
            data = self.inner.read_bytes(count, break_on_termchar=break_on_termchar, **kwargs)
        except Exception as exc:
            self._failed(exc)
            raise
        self.trace.record(self._trace_index, READ, _describe_bytes(data))
        return data

    # what the base class's public methods would call
    def _write(self, command: str, **kwargs: Any) -> None:
        self.write(command, **kwargs)

    def _write_bytes(self, content: bytes, **kwargs: Any) -> None:
        self.write_bytes(content, **kwargs)

    def _read(self, **kwargs: Any) -> str:
        return self.read(**kwargs)

    def _read_bytes(self, count: int, break_on_termchar: bool, **kwargs: Any) -> bytes:
        return self.read_bytes(count, break_on_termchar, **kwargs)

    def flush_read_buffer(self) -> None:
        self.inner.flush_read_buffer()

    def __del__(self) -> None:
        """The inner adapter owns the connection: dropping the wrapper leaves it open."""

    def close(self) -> None:
        self.inner.close()

    def __repr__(self) -> str:
        return f"TracingAdapter({self.inner!r}, {self.trace_name!r})"
