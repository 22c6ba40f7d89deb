"""RunWriter: one HDF5 file per run, streamed in single-writer/multiple-reader mode.

Every dataset is created when the run starts; the file then switches to SWMR mode and is only
appended to. Rows are gathered in small numpy buffers and written in blocks, so appending one
row costs a few Python operations, and a background thread flushes buffers and the file at
least once every ``flush_interval_s`` (one second by default), so a killed writer loses at most
the last second of rows.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import h5py
import numpy as np

try:
    import resource
except ImportError:  # pragma: no cover - not on Windows: only the free disk space counts there
    resource = None  # type: ignore[assignment]

from memlab.errors import MemlabError
from memlab.storage.format import (
    FAILED,
    FINAL_STATUSES,
    FORMAT_NAME,
    FORMAT_VERSION,
    LOG_MESSAGE_BYTES,
    PARAMETER_DTYPE,
    RUNNING,
    StreamSpec,
)
from memlab.storage.recovery import clear_writer_flags, process_start_token

log = logging.getLogger(__name__)

_CHUNK_BYTES = 1 << 16
_BUFFER_BYTES = 1 << 20
_LOG_CHUNK_ROWS = 256
#: bytes of one trace entry's text: fixed-size, so gzip compresses the text itself (variable-length
#: strings live in HDF5's global heap, which no filter compresses: about 50 bytes an entry)
TRACE_TEXT_BYTES = 256
_TRACE_CHUNK_ROWS = 256
#: gzip's fastest level: a third less time than the default, 5 % more bytes on SCPI text
_TRACE_GZIP_LEVEL = 1
#: room kept free for closing the file with its final status: HDF5 cannot recover from a write
#: that fails (it crashes the process at exit), so memlab stops writing before the disk is full
CLOSE_RESERVE_BYTES = 1 << 19


class RunWriteError(MemlabError, OSError):
    """Writing or flushing the run file failed (a full disk, a file-size limit, a lost drive).

    The run must end at once: every later append raises this too, and :meth:`RunWriter.close`
    records the run as failed if the file can still take it."""


class TraceSource(Protocol):
    """What the writer needs of a command trace (``memlab.instruments.trace.CommandTrace``)."""

    instruments: list[str]
    kinds: tuple[str, ...]
    dropped: int

    @property
    def pending(self) -> int: ...

    def take_columns(self) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class ParameterRecord:
    """A parameter's value as run, with its unit and help text, for the file."""

    value: Any
    unit: str = ""
    help: str = ""


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _plain(value: Any) -> Any:
    """A value as JSON can hold it: numpy scalars and arrays as Python numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _json_text_decoded(value: Any) -> Any:
    """A container a caller passed already as JSON text, decoded, so it is stored once as JSON."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _json_default(value: Any) -> Any:
    plain = _plain(value)
    return str(value) if plain is value else plain


class _StreamBuffer:
    """Rows of one stream waiting to be written: one preallocated array per column."""

    def __init__(self, spec: StreamSpec, datasets: list[h5py.Dataset]) -> None:
        self.spec = spec
        self.datasets = datasets
        row_bytes = sum(np.dtype(c.dtype).itemsize * int(np.prod(c.shape)) for c in spec.columns)
        self.row_bytes = row_bytes
        self.chunk_bytes = sum(ds.chunks[0] * np.dtype(c.dtype).itemsize * int(np.prod(c.shape))
                               for ds, c in zip(datasets, spec.columns))
        self.capacity = max(16, _BUFFER_BYTES // max(row_bytes, 1))
        self.arrays = [np.empty((self.capacity, *c.shape), dtype=c.dtype) for c in spec.columns]
        self.count = 0
        self.written = 0
        self.unflushed_bytes = 0  # handed to HDF5 since the last flush: its file space may lag

    def write_block(self, arrays: Sequence[np.ndarray], n: int) -> None:
        start, stop = self.written, self.written + n
        self.unflushed_bytes += n * self.row_bytes + self.chunk_bytes
        for dataset, values in zip(self.datasets, arrays):
            _append(dataset, start, values[:n] if len(values) != n else values)
        self.written = stop

    def drain(self) -> bool:
        if not self.count:
            return False
        self.write_block(self.arrays, self.count)
        self.count = 0
        return True


def _append(dataset: h5py.Dataset, start: int, values: np.ndarray) -> None:
    """Grow ``dataset`` to ``start + len(values)`` rows and write ``values`` there, through h5py's
    low-level calls: a quarter of the time of ``resize`` and a slice assignment, which matters
    as a run file takes about fifteen such writes. ``values`` has the dataset's dtype."""
    n = len(values)
    if not n:
        return
    values = np.ascontiguousarray(values)
    dsid = dataset.id
    dsid.set_extent((start + n, *values.shape[1:]))
    file_space = dsid.get_space()
    file_space.select_hyperslab((start,) + (0,) * (values.ndim - 1), values.shape)
    dsid.write(h5py.h5s.create_simple(values.shape), file_space, values, mtype=dsid.get_type())


def _cut_utf8(text: bytes, limit: int) -> bytes:
    """``text`` cut to at most ``limit`` bytes at a character boundary, ending in "..."."""
    return text[:limit - 3].decode("utf-8", "ignore").encode("utf-8") + b"..."


_LOG_COLUMNS = (("time_unix_s", "f8", "s"), ("level", "i2", ""),
                ("message", h5py.string_dtype("utf-8", LOG_MESSAGE_BYTES), ""))
_TRACE_COLUMNS = (("time_s", "f8", "s", "bench time (virtual on a simulated bench)"),
                  ("wall_time_s", "f8", "s", "seconds since 1970 (UTC)"),
                  ("instrument", "u2", "", "index into the group's instruments attribute"),
                  ("kind", "u1", "", "index into the group's kinds attribute"),
                  ("text", h5py.string_dtype("utf-8", TRACE_TEXT_BYTES), "",
                   f"the message, UTF-8, cut to {TRACE_TEXT_BYTES} bytes"))
#: skeletons kept per process: one per shape of run (procedure, streams, counts)
_SKELETON_CACHE_SIZE = 32
_skeletons: dict[tuple, bytes] = {}
_skeletons_lock = threading.Lock()


def _skeleton_image(procedure: str, specs: tuple[StreamSpec, ...], n_parameters: int,
                    n_devices: int, trace: tuple[tuple[str, ...], tuple[str, ...]] | None) -> bytes:
    """The bytes of an empty run file of this shape: every group, dataset and attribute created,
    with placeholders where each run's values go.

    Creating an HDF5 object or attribute costs about 0.1 ms, and a run file has about fifty, so
    the skeleton is built once in memory per shape and each run starts from a copy of its bytes,
    then writes its own values into the placeholders (:meth:`RunWriter._write_header`). The
    trace's instrument names are part of the shape: a bench's are the same run after run."""
    key = (procedure, specs, n_parameters, n_devices, trace)
    with _skeletons_lock:
        image = _skeletons.get(key)
    if image is not None:
        return image
    f = h5py.File(f"memlab-skeleton-{id(key)}", "w", driver="core", backing_store=False,
                  libver="latest")
    try:
        _create_skeleton(f, procedure, specs, n_parameters, n_devices, trace)
        f.flush()
        image = f.id.get_file_image()
    finally:
        f.close()
    with _skeletons_lock:
        if len(_skeletons) >= _SKELETON_CACHE_SIZE:
            _skeletons.pop(next(iter(_skeletons)))
        _skeletons[key] = image
    return image


def _dataset(f: h5py.File, path: str) -> h5py.Dataset:
    """A dataset of the skeleton by path: opened directly, without the high-level lookup's type
    checks (a third of the time; a run file's start opens about fifteen)."""
    return h5py.Dataset(h5py.h5d.open(f.id, path.encode()))


def _create_skeleton(f: h5py.File, procedure: str, specs: Iterable[StreamSpec], n_parameters: int,
                     n_devices: int, trace: tuple[tuple[str, ...], tuple[str, ...]] | None) -> None:
    """``trace``: the command trace's instrument names and kinds, or None when none is taken."""
    # The run's description goes into one JSON attribute and the parameters into one table
    # (docs/hdf5-format.md, format version 2). Attributes that change later are created now with
    # their final type (strings and floats): SWMR mode allows modifying attributes, not creating.
    a = f.attrs
    a["memlab_format"] = FORMAT_NAME
    a["format_version"] = FORMAT_VERSION
    a["procedure"] = procedure
    a["metadata"] = ""
    a["status"] = RUNNING
    a["end_time"] = ""
    a["error"] = ""
    a["safety_failure"] = ""
    a["heartbeat_unix_s"] = 0.0
    a["device_states"] = "[]"  # filled at close: what the run learnt of its devices' states
    f.create_dataset("parameters", shape=(n_parameters,), dtype=PARAMETER_DTYPE)
    ds = f.create_dataset("chip/devices", shape=(n_devices, 2), dtype="i4")
    ds.attrs["columns"] = ["row", "col"]
    for spec in specs:
        group = f.create_group(f"streams/{spec.name}")
        group.attrs["columns"] = list(spec.column_names)
        if spec.description:
            group.attrs["description"] = spec.description
        for col in spec.columns:
            cell_bytes = np.dtype(col.dtype).itemsize * int(np.prod(col.shape))
            chunk_rows = max(1, _CHUNK_BYTES // cell_bytes)
            ds = group.create_dataset(col.name, shape=(0, *col.shape), maxshape=(None, *col.shape),
                                      dtype=col.dtype, chunks=(chunk_rows, *col.shape))
            ds.attrs["units"] = col.unit
            if col.description:
                ds.attrs["description"] = col.description
    group = f.create_group("log")
    for name, dtype, unit in _LOG_COLUMNS:
        ds = group.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype,
                                  chunks=(_LOG_CHUNK_ROWS,))
        ds.attrs["units"] = unit
    # The instruments' command conversation: created empty (SWMR creates nothing later) and
    # appended to at every flush from the trace source, if any.
    group = f.create_group("trace")
    for name, dtype, unit, description in _TRACE_COLUMNS:
        ds = group.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype,
                                  chunks=(_TRACE_CHUNK_ROWS,), compression="gzip",
                                  compression_opts=_TRACE_GZIP_LEVEL)
        ds.attrs["units"] = unit
        ds.attrs["description"] = description
    group.attrs["enabled"] = trace is not None
    # JSON strings, as every list in the file: they can still change in SWMR mode
    instruments, kinds = trace if trace is not None else ((), ())
    group.attrs["instruments"] = json.dumps(list(instruments))
    group.attrs["kinds"] = json.dumps(list(kinds))
    group.attrs["dropped"] = np.int64(0)
    group.attrs["safe_shutdown_row"] = np.int64(-1)


class RunWriter:
    """Write one run to ``path``.

    ``streams`` are created at once; :meth:`append` / :meth:`append_row` add rows;
    :meth:`log` adds a timestamped message; :meth:`close` records the final status.
    Use as a context manager: leaving the block with an exception records ``failed``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        procedure: str,
        procedure_version: str,
        streams: Iterable[StreamSpec],
        parameters: Mapping[str, ParameterRecord] | None = None,
        chip: Mapping[str, Any] | None = None,
        devices: Sequence[tuple[int, int]] = (),
        instruments: Mapping[str, Mapping[str, Any]] | None = None,
        operator: str = "",
        software_version: str = "",
        extra: Mapping[str, Any] | None = None,
        flush_interval_s: float = 1.0,
        trace: TraceSource | None = None,
    ) -> None:
        if flush_interval_s <= 0 or flush_interval_s > 1.0:
            raise ValueError(f"flush_interval_s={flush_interval_s!r}: allowed 0 < value <= 1 s")
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"{self.path} exists; a run file is never overwritten")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.specs = {spec.name: spec for spec in streams}
        self.flush_interval_s = flush_interval_s
        self._lock = threading.RLock()
        self._closed = False
        self._log_pending: list[tuple[float, int, str]] = []
        self.write_error: BaseException | None = None
        self._log_unflushed_bytes = 0
        self.status_written = False  # the final status reached the file
        self._trace = trace
        self._trace_rows = 0
        self._trace_unflushed_bytes = 0
        self._device_states: dict[tuple[int, int], dict[str, Any]] = {}

        # Built under a temporary name and renamed once in SWMR mode, so a file with the run's
        # name is always one that any reader can open, even if the writer dies while creating it.
        creating = self.path.with_name(f".{self.path.name}.creating")
        parameters = parameters or {}
        f = None
        try:
            image = _skeleton_image(procedure, tuple(self.specs.values()), len(parameters), len(devices),
                                    None if trace is None else (tuple(trace.instruments), tuple(trace.kinds)))
            with open(creating, "wb") as out:
                out.write(image)
            f = self._file = h5py.File(creating, "r+", libver="latest")
            self._write_header(procedure_version, parameters, chip or {}, devices, instruments or {},
                               operator, software_version, extra or {})
            self._buffers = {name: _StreamBuffer(spec, [_dataset(f, f"streams/{name}/{c.name}")
                                                        for c in spec.columns])
                             for name, spec in self.specs.items()}
            self._log_datasets = [_dataset(f, f"log/{name}") for name, _, _ in _LOG_COLUMNS]
            self._trace_group = f["trace"]
            self._trace_datasets = {name: _dataset(f, f"trace/{name}") for name, *_ in _TRACE_COLUMNS}
            f.swmr_mode = True
            f.flush()
            if self.path.exists():
                raise FileExistsError(f"{self.path} exists; a run file is never overwritten")
            os.rename(creating, self.path)
        except BaseException:
            if f is not None:
                f.close()
            creating.unlink(missing_ok=True)
            raise
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name=f"flush {self.path.name}",
                                         daemon=True)
        self._flusher.start()

    # -- creation --------------------------------------------------------------------------
    def _write_header(self, procedure_version, parameters, chip, devices, instruments,
                      operator, software_version, extra) -> None:
        """Fill the skeleton's placeholders with this run's description: a few writes, since
        every object and attribute exists already (see :func:`_skeleton_image`)."""
        now = time.time()
        metadata = {
            **{key: _plain(_json_text_decoded(value)) for key, value in extra.items()},
            "procedure_version": procedure_version,
            "software_version": software_version,
            "operator": operator,
            "start_time": utc_now_iso(),
            "start_time_unix_s": now,
            "writer_host": socket.gethostname(),
            "writer_pid": os.getpid(),
            # With host and pid, tells this process from a later one that reuses the pid.
            "writer_process_start": process_start_token(os.getpid()),
            # numpy values, paths and other mappings are made plain by _json_default as met
            "chip": dict(chip),
            "instruments": {role: dict(snap) for role, snap in instruments.items()},
        }
        a = self._file.attrs
        a.modify("metadata", json.dumps(metadata, default=_json_default, sort_keys=True))
        a.modify("heartbeat_unix_s", now)
        if parameters:
            rows = [(name, json.dumps(_plain(record.value), default=_json_default), record.unit,
                     record.help) for name, record in parameters.items()]
            _dataset(self._file, "parameters").id.write(h5py.h5s.ALL, h5py.h5s.ALL,
                                                        np.array(rows, dtype=PARAMETER_DTYPE))
        if len(devices):
            _dataset(self._file, "chip/devices").id.write(
                h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(np.asarray(devices, dtype="i4").reshape(-1, 2)))

    # -- appending -------------------------------------------------------------------------
    def append(self, stream: str, data: Mapping[str, Any]) -> int:
        """Append a batch: ``data`` maps every column of ``stream`` to equal-length arrays
        (scalars count as one row). Returns the number of rows appended."""
        buf = self._buffer(stream)
        spec = buf.spec
        missing = [c for c in spec.column_names if c not in data]
        unknown = [k for k in data if k not in spec.column_names]
        if missing or unknown:
            raise KeyError(f"stream {stream!r}: missing columns {missing}, unknown columns {unknown}; "
                           f"declared: {list(spec.column_names)}")
        arrays = []
        for col in spec.columns:
            arr = np.asarray(data[col.name], dtype=col.dtype)
            if arr.shape == col.shape:
                arr = arr.reshape((1, *col.shape))
            if arr.shape[1:] != col.shape:
                raise ValueError(f"stream {stream!r} column {col.name!r}: rows of shape "
                                 f"{arr.shape[1:]} given, declared {col.shape}")
            arrays.append(arr)
        n = len(arrays[0])
        if any(len(a) != n for a in arrays):
            raise ValueError(f"stream {stream!r}: columns of unequal length "
                             f"{ {c.name: len(a) for c, a in zip(spec.columns, arrays)} }")
        with self._lock:
            self._check_open()
            try:
                if buf.count + n > buf.capacity:
                    self._ensure_room(self._bytes_to_write(buf.count, buf))
                    buf.drain()
                if n >= buf.capacity:
                    self._ensure_room(self._bytes_to_write(n, buf))
                    buf.write_block(arrays, n)
                    return n
            except Exception as exc:
                raise self._failed_writing(exc) from exc
            for target, values in zip(buf.arrays, arrays):
                target[buf.count:buf.count + n] = values
            buf.count += n
        return n

    def append_row(self, stream: str, values: Sequence[Any]) -> None:
        """Append one row given as values in the stream's column order (the fast path)."""
        buf = self._buffer(stream)
        if len(values) != len(buf.arrays):
            raise ValueError(f"stream {stream!r}: {len(values)} values given, columns are "
                             f"{list(buf.spec.column_names)}")
        with self._lock:
            self._check_open()
            if buf.count == buf.capacity:
                try:
                    self._ensure_room(self._bytes_to_write(buf.count, buf))
                    buf.drain()
                except Exception as exc:
                    raise self._failed_writing(exc) from exc
            i = buf.count
            for target, value in zip(buf.arrays, values):
                target[i] = value
            buf.count = i + 1

    def log(self, message: str, level: int = logging.INFO) -> None:
        """Add a timestamped message to the run's log (queued even after a write failure, so
        the reasons of the failure still reach the file if it can take them at close)."""
        encoded = message.encode("utf-8")
        if len(encoded) > LOG_MESSAGE_BYTES:
            message = encoded[:LOG_MESSAGE_BYTES - 3].decode("utf-8", "ignore") + "..."
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.path} is closed; nothing more can be appended")
            self._log_pending.append((time.time(), int(level), message))

    def record_device_state(self, row: int, col: int, **facts: Any) -> None:
        """What the run knows of device (row, col)'s state (``formed_at_start``, ``formed_at_end``:
        True, False, or None for unknown; ``evidence``: how it knows). Written at :meth:`close`
        into the ``device_states`` attribute; a later fact replaces an earlier one, None never
        replaces a known value."""
        with self._lock:
            entry = self._device_states.setdefault((int(row), int(col)), {"row": int(row), "col": int(col)})
            for key, value in facts.items():
                if value is not None or key not in entry:
                    entry[key] = _plain(value)

    def mark_safe_shutdown(self) -> None:
        """Note in the trace where the safe shutdown's conversation begins (the row before it is
        the last of the run itself: after a failure, the failing command's neighbourhood)."""
        with self._lock:
            if self._closed or self._trace is None:
                return
            row = self._trace_rows + self._trace.pending
            try:
                self._trace_group.attrs.modify("safe_shutdown_row", np.int64(row))
            except Exception as exc:  # noqa: BLE001 - a lost mark must not stop the shutdown
                log.warning("%s: cannot mark the trace: %s", self.path, exc)

    @property
    def trace_rows(self) -> int:
        """Trace entries written to the file so far."""
        return self._trace_rows

    def rows(self, stream: str) -> int:
        """Rows appended to ``stream`` so far (written or buffered)."""
        buf = self._buffer(stream)
        return buf.written + buf.count

    # -- flushing and closing --------------------------------------------------------------
    def flush(self) -> None:
        """Write buffered rows and log lines, and flush the file so readers see them."""
        with self._lock:
            if self._closed:
                return
            self.check_writable()
            try:
                self._ensure_room(self._pending_bytes())
                self._write_pending()
                self._file.attrs.modify("heartbeat_unix_s", time.time())
                self._file.flush()
            except Exception as exc:
                raise self._failed_writing(exc) from exc
            self._mark_flushed()

    def _write_pending(self) -> None:
        for buf in self._buffers.values():
            buf.drain()
        if self._log_pending:
            times, levels, messages = zip(*self._log_pending)
            n0 = self._log_datasets[0].shape[0]
            for ds, values in zip(self._log_datasets, (times, levels,
                                                       [m.encode("utf-8") for m in messages])):
                values = np.asarray(values, dtype=ds.dtype)  # keeps h5py's UTF-8 string tag
                _append(ds, n0, values)
                self._log_unflushed_bytes += values.nbytes + _LOG_CHUNK_ROWS * values.dtype.itemsize
            self._log_pending.clear()
        self._write_trace()

    def _write_trace(self) -> None:
        trace = self._trace
        if trace is None or not trace.pending:
            return
        columns = trace.take_columns()
        n = len(columns["time_s"])
        if not n:
            return
        n0 = self._trace_rows
        texts = [t if len(t) <= TRACE_TEXT_BYTES else _cut_utf8(t, TRACE_TEXT_BYTES) for t in columns["text"]]
        for name, ds in self._trace_datasets.items():
            values = np.asarray(texts if name == "text" else columns[name], dtype=ds.dtype)
            _append(ds, n0, values)
            self._trace_unflushed_bytes += values.nbytes
        self._trace_rows = n0 + n
        attrs = self._trace_group.attrs
        attrs.modify("dropped", np.int64(trace.dropped))
        names = json.dumps(list(trace.instruments))
        if attrs["instruments"] != names:  # an instrument first heard from after the start
            attrs.modify("instruments", names)

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.flush_interval_s):
            try:
                self.flush()
            except RunWriteError:  # recorded in write_error: the next append ends the run
                return
            except Exception:  # noqa: BLE001 - a failing flush must not kill the thread
                log.exception("flushing %s failed", self.path)

    def close(self, status: str, error: str = "", safety_failure: str = "") -> None:
        """Write what is buffered, record the final status and close the file. Idempotent.

        ``safety_failure`` (an output not verified off) goes to its own attribute. After a write
        failure the run is recorded as failed if the file can still take it; the file is closed
        in any case and left openable by any HDF5 reader with the rows written before the
        failure. Raises :class:`RunWriteError` if the final status could not be written."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"status={status!r}: allowed {list(FINAL_STATUSES)}")
        if self._closed:
            return
        self._stop.set()
        if self._flusher is not threading.current_thread():
            self._flusher.join()
        with self._lock:
            try:
                if self.write_error is None:
                    try:
                        self._ensure_room(self._pending_bytes())
                        self._write_pending()
                    except Exception as exc:  # noqa: BLE001 - recorded below, the status still tried
                        self._failed_writing(exc)
                if self.write_error is not None:
                    status = FAILED
                    if self.write_error_message not in error:
                        error = "; ".join(e for e in (self.write_error_message, error) if e)
                try:
                    a = self._file.attrs
                    a.modify("end_time", utc_now_iso())
                    if error:  # both start empty: most runs need not write them
                        a.modify("error", error)
                    if safety_failure:
                        a.modify("safety_failure", safety_failure)
                    a.modify("heartbeat_unix_s", time.time())
                    if self._device_states:
                        a.modify("device_states", json.dumps(list(self._device_states.values()),
                                                             default=_json_default, sort_keys=True))
                    a.modify("status", status)
                    self._file.flush()
                except Exception as exc:  # noqa: BLE001
                    status_error = exc
                else:
                    status_error = None
                    self.status_written = True
            finally:
                self._closed = True
                self._close_file()
            if status_error is not None:
                raise RunWriteError(f"{self.path}: could not record the final status {status!r} "
                                    f"({type(status_error).__name__}: {status_error})") from status_error

    @property
    def write_error_message(self) -> str:
        """Why writing failed, for the run's error (empty while all is well)."""
        if self.write_error is None:
            return ""
        return f"writing the run file failed ({type(self.write_error).__name__}: {self.write_error})"

    @staticmethod
    def _bytes_to_write(rows: int, buf: _StreamBuffer) -> int:
        """An upper bound of the bytes that writing ``rows`` rows of ``buf`` adds to the file."""
        return rows * buf.row_bytes + buf.chunk_bytes if rows else 0

    def _pending_bytes(self) -> int:
        total = sum(self._bytes_to_write(buf.count, buf) for buf in self._buffers.values())
        if self._log_pending:
            total += (len(self._log_pending) + _LOG_CHUNK_ROWS) * (LOG_MESSAGE_BYTES + 10)
        if self._trace is not None and (pending := self._trace.pending):
            # uncompressed, an upper bound; a partly filled chunk may be written anew
            total += (pending + _TRACE_CHUNK_ROWS) * (TRACE_TEXT_BYTES + 19)
        return total

    def room_bytes(self) -> float:
        """Bytes this file may still grow by: the file-size limit of the process
        (``ulimit -f``) and the free space of the disk, whichever is less."""
        size = float(self._file.id.get_filesize())  # HDF5's end of allocation: >= the size on disk
        room = float("inf")
        if resource is not None:
            soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
            if soft != resource.RLIM_INFINITY:
                room = soft - size
        try:
            disk = os.statvfs(self.path.parent)
            room = min(room, float(disk.f_bavail) * disk.f_frsize)
        except (OSError, AttributeError):
            pass
        return room

    def _ensure_room(self, nbytes: int) -> None:
        """Refuse a write that could fill the disk or pass the file-size limit, while the file
        can still be closed cleanly with its status."""
        if not nbytes:
            return
        # HDF5 allocates file space when it writes a chunk out of its cache, so the file may
        # still grow by everything handed to it since the last flush
        unflushed = self._unflushed_bytes()
        room = self.room_bytes()
        if room >= nbytes + unflushed + CLOSE_RESERVE_BYTES:
            return
        if unflushed and room >= unflushed + CLOSE_RESERVE_BYTES:
            self._file.flush()  # settle what HDF5 holds, then count again exactly
            self._mark_flushed()
            room = self.room_bytes()
            if room >= nbytes + CLOSE_RESERVE_BYTES:
                return
        raise OSError(errno.ENOSPC, f"no room to write {nbytes} more bytes: {max(room, 0):.0f} bytes "
                                    f"left under the disk's free space and the file-size limit, "
                                    f"{CLOSE_RESERVE_BYTES} of them kept for closing the file")

    def _unflushed_bytes(self) -> int:
        return (sum(buf.unflushed_bytes for buf in self._buffers.values()) + self._log_unflushed_bytes
                + self._trace_unflushed_bytes)

    def _mark_flushed(self) -> None:
        for buf in self._buffers.values():
            buf.unflushed_bytes = 0
        self._log_unflushed_bytes = 0
        self._trace_unflushed_bytes = 0

    def _failed_writing(self, exc: BaseException) -> RunWriteError:
        """Remember the first write failure; the error every later append raises."""
        if self.write_error is None:
            self.write_error = exc
            log.error("%s: %s; the run stops", self.path, self.write_error_message)
        return RunWriteError(f"{self.path}: {self.write_error_message}")

    def check_writable(self) -> None:
        """Raise :class:`RunWriteError` once writing the file has failed."""
        if self.write_error is not None:
            raise RunWriteError(f"{self.path}: {self.write_error_message}")

    def _close_file(self) -> None:
        """Close the HDF5 file; if that cannot finish (a full disk), clear the writer flags it
        leaves, so that plain h5py still opens the rows written so far."""
        try:
            self._file.close()
            return
        except Exception as exc:  # noqa: BLE001
            log.error("%s: closing failed: %s", self.path, exc)
        try:
            clear_writer_flags(self.path)
        except (OSError, ValueError) as exc:
            log.error("%s: cannot clear the writer flags: %s", self.path, exc)

    @property
    def closed(self) -> bool:
        return self._closed

    def _buffer(self, stream: str) -> _StreamBuffer:
        try:
            return self._buffers[stream]
        except KeyError:
            raise KeyError(f"no stream {stream!r}; declared: {list(self._buffers)}") from None

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{self.path} is closed; nothing more can be appended")
        self.check_writable()

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._closed:
            if exc is None:
                self.close("completed")
            else:
                self.close("failed", f"{type(exc).__name__}: {exc}")
