"""RunReader: open a finished run file, or one still being written, with h5py alone."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from memlab.errors import MemlabError
from memlab.storage.format import FORMAT_NAME, FORMAT_VERSION, INTERRUPTED, PARAMETER_DTYPE, RUNNING, STATUSES
from memlab.storage.recovery import clear_writer_flags, truncation, writer_flags, writer_process_state

log = logging.getLogger(__name__)

STALE_HEARTBEAT_S = 30.0
"""A running file whose writer has not flushed for this long is taken as interrupted."""


MAX_JSON_DEPTH = 64
"""Containers stored as JSON attributes nest a few levels; deeper is damage, not data."""
MAX_READ_BYTES = 4 * 2 ** 30
"""The largest column (or stream slice) read into memory at once; larger asks are refused."""
READ_BLOCK_BYTES = 64 * 2 ** 20
"""Columns larger than this are read block by block (bounded HDF5 conversion buffers)."""
MAX_DEVICES = 1_000_000
MAX_PARAMETER_VALUES = 4096
_COLUMN_KINDS = "biufS"
"""Column dtype kinds a memlab run holds: booleans, integers, floats, fixed-size text."""
_SPARSE_FACTOR = 16
_SPARSE_MIN_BYTES = 64 * 2 ** 20
"""A column declaring over this many bytes, and over this factor more than the file stores for
it, is damage: memlab writes uncompressed, so declared rows are (nearly) all stored."""


class RunFileError(MemlabError, OSError):
    """A file that is not a readable memlab run file; the message says why."""


class _Damage(ValueError):
    """What is wrong inside a run file, without the path (RunReader adds it)."""


def _json_depth(text: str) -> int:
    """The nesting depth of JSON text, counted without parsing it (brackets in strings ignored)."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return 0  # cannot be too deep: skip the scan (settings can be long)
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _decode(value: Any, where: str = "attribute") -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str) and value[:1] in "[{":
        if _json_depth(value) > MAX_JSON_DEPTH:
            raise _Damage(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def _attrs(obj: h5py.HLObject) -> dict[str, Any]:
    out = {}
    for key in obj.attrs:
        where = f"{obj.name.lstrip('/') or '/'} attribute {key!r}"
        try:
            value = obj.attrs[key]
        except (OSError, KeyError, TypeError, ValueError) as exc:  # an unreadable type
            raise _Damage(f"{where} cannot be read ({exc})") from None
        out[key] = _decode(value, where)
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text_attr(attrs: dict[str, Any], key: str, where: str = "root") -> None:
    if key in attrs and not isinstance(attrs[key], str):
        raise _Damage(f"{where} attribute {key}={_short(attrs[key])}: expected text")


def _short(value: Any) -> str:
    text = " ".join(repr(value).split())  # one line: arrays repr over several
    return text if len(text) <= 60 else text[:60] + "..."


def _member(group: h5py.Group, name: str, kind: type, path: str) -> Any:
    """``group[name]`` checked to be a hard link to a ``kind`` (h5py.Group or h5py.Dataset):
    soft and external links are refused before anything follows them (link loops, other files)."""
    link = group.get(name, getlink=True)
    if link is None:
        raise _Damage(f"no {path} ({'group' if kind is h5py.Group else 'dataset'}); "
                      f"memlab format {FORMAT_VERSION} has one")
    if not isinstance(link, h5py.HardLink):
        target = getattr(link, "path", "")
        kind = "an external link" if isinstance(link, h5py.ExternalLink) else "a soft link"
        raise _Damage(f"{path} is {kind} to {target!r}; a run file holds no links")
    try:
        obj = group[name]
    except (KeyError, OSError, RuntimeError, ValueError) as exc:
        raise _Damage(f"{path} cannot be opened ({exc})") from None
    if not isinstance(obj, kind):
        raise _Damage(f"{path} is a {type(obj).__name__.lower()}; expected a "
                      f"{'group' if kind is h5py.Group else 'dataset'}")
    return obj


def _nbytes(rows: int, ds: h5py.Dataset) -> int:
    return int(rows) * int(np.prod(ds.shape[1:], dtype=np.int64)) * ds.dtype.itemsize


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n} B"


def _check_root(attrs: dict[str, Any]) -> None:
    version = attrs.get("format_version")
    if version is None:
        raise _Damage("no format_version attribute")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _Damage(f"format_version={_short(version)}: expected an integer")
    if not 1 <= version <= FORMAT_VERSION:
        raise _Damage(f"format_version={version}: this memlab reads versions 1 to {FORMAT_VERSION}"
                      + ("; a newer memlab wrote it" if version > FORMAT_VERSION else ""))
    if "procedure" not in attrs:
        raise _Damage("no procedure attribute")
    if not isinstance(attrs["procedure"], str) or not attrs["procedure"]:
        raise _Damage(f"procedure={_short(attrs['procedure'])}: expected a procedure name")
    if "status" not in attrs:
        raise _Damage("no status attribute")
    if not isinstance(attrs["status"], str) or attrs["status"] not in STATUSES:
        raise _Damage(f"status={_short(attrs['status'])}: expected one of {list(STATUSES)}")
    for key in ("procedure_version", "software_version", "operator", "start_time", "end_time",
                "error", "writer_host", "title"):
        if key in attrs and _is_number(attrs[key]) and key.endswith("version"):
            continue  # a version written as a number is still a version
        _text_attr(attrs, key)
    for key in ("start_time", "end_time"):
        if attrs.get(key):
            try:
                datetime.fromisoformat(attrs[key].replace("Z", "+00:00"))
            except ValueError:
                raise _Damage(f"{key}={_short(attrs[key])}: expected an ISO 8601 time") from None
    for key in ("heartbeat_unix_s", "start_time_unix_s"):
        if key in attrs and not (_is_number(attrs[key]) and np.isfinite(attrs[key])
                                 and 0 <= attrs[key] < 1e11):
            raise _Damage(f"{key}={_short(attrs[key])}: expected seconds since 1970")
    if "writer_pid" in attrs:
        pid = attrs["writer_pid"]
        if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid < 2 ** 31:
            raise _Damage(f"writer_pid={_short(pid)}: expected a process id")


def check_structure(file: h5py.File) -> None:
    """Check a memlab run file's layout and types against its format version (docs/hdf5-format.md)
    before anything reads its data. Raises :class:`_Damage` naming what is wrong."""
    root = _attrs(file)
    metadata = root.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _Damage(f"metadata={_short(metadata)}: expected a JSON object")
    _check_root(_run_attrs(file))
    if root["format_version"] >= 2:
        if metadata is None:
            raise _Damage("no metadata attribute; memlab format 2 has one")
        table = _member(file, "parameters", h5py.Dataset, "parameters")
        if table.dtype.names != PARAMETER_DTYPE.names or table.ndim != 1:
            raise _Damage(f"parameters is {table.dtype} {table.shape}; expected one row "
                          f"{PARAMETER_DTYPE.names} per parameter")
        if table.size > MAX_PARAMETER_VALUES:
            raise _Damage(f"parameters holds {table.size} rows; at most {MAX_PARAMETER_VALUES}")
    else:
        parameters = _member(file, "parameters", h5py.Group, "parameters")
        for name in parameters:
            ds = _member(parameters, name, h5py.Dataset, f"parameters/{name}")
            if ds.size > MAX_PARAMETER_VALUES:
                raise _Damage(f"parameters/{name} holds {ds.size} values; a parameter is one value")
            _attrs(ds)
        instruments = _member(file, "instruments", h5py.Group, "instruments")
        for role in instruments:
            _attrs(_member(instruments, role, h5py.Group, f"instruments/{role}"))
    chip = _member(file, "chip", h5py.Group, "chip")
    _attrs(chip)
    devices = _member(chip, "devices", h5py.Dataset, "chip/devices")
    if devices.dtype.kind not in "iu" or devices.ndim != 2 or devices.shape[1] != 2:
        raise _Damage(f"chip/devices is {devices.dtype} {devices.shape}; expected integers (N, 2): "
                      "a (row, col) per device")
    if devices.shape[0] > MAX_DEVICES:
        raise _Damage(f"chip/devices declares {devices.shape[0]} devices; at most {MAX_DEVICES}")
    streams = _member(file, "streams", h5py.Group, "streams")
    for name in streams:
        _check_stream(_member(streams, name, h5py.Group, f"streams/{name}"), f"streams/{name}")
    if "log" in file:
        log_group = _member(file, "log", h5py.Group, "log")
        for name in ("time_unix_s", "level", "message"):
            ds = _member(log_group, name, h5py.Dataset, f"log/{name}")
            if ds.ndim != 1:
                raise _Damage(f"log/{name} has shape {ds.shape}; expected one value per line")


def _check_stream(group: h5py.Group, path: str) -> None:
    attrs = _attrs(group)
    columns = attrs.get("columns")
    if columns is None:
        raise _Damage(f"{path} has no columns attribute")
    if isinstance(columns, np.ndarray):
        columns = [_decode(c) for c in columns.tolist()]
    if (not isinstance(columns, list) or not columns
            or not all(isinstance(c, str) and c for c in columns)):
        raise _Damage(f"{path} attribute columns={_short(columns)}: expected the column names")
    for column in columns:
        where = f"{path}/{column}"
        ds = _member(group, column, h5py.Dataset, where)
        if ds.ndim < 1:
            raise _Damage(f"{where} is a scalar; a column has one entry per row")
        if ds.dtype.kind not in _COLUMN_KINDS or ds.dtype.names is not None:
            raise _Damage(f"{where} has dtype {ds.dtype}; allowed: numbers, booleans or fixed-size text")
        units = _attrs(ds).get("units", "")
        if not isinstance(units, str):
            raise _Damage(f"{where} attribute units={_short(units)}: expected text such as 'V' or ''")
        declared = _nbytes(ds.shape[0], ds)
        if declared > _SPARSE_MIN_BYTES:
            stored = ds.id.get_storage_size()
            if declared > _SPARSE_FACTOR * stored + _SPARSE_MIN_BYTES:
                raise _Damage(f"{where} declares {ds.shape[0]} rows ({_size(declared)}) but the file "
                              f"stores {_size(stored)} of it: damaged")


def _run_attrs(f: h5py.File) -> dict[str, Any]:
    """The run's attributes: version 2 keeps most in the JSON attribute ``metadata`` (its chip
    and instruments are read apart); a root attribute of the same name wins over it."""
    attrs = _attrs(f)
    metadata = attrs.pop("metadata", None)
    if isinstance(metadata, dict):
        attrs = {**{k: v for k, v in metadata.items() if k not in ("chip", "instruments")}, **attrs}
    return attrs


def _writer_alive(attrs: dict[str, Any]) -> bool:
    """Whether the process that wrote a 'running' file is still writing it.

    On the writer's host only the process decides (host, pid and its start time): a writer
    that is suspended or busy and has not flushed for a while is alive. From another host,
    where the process cannot be seen, a heartbeat older than STALE_HEARTBEAT_S means dead.
    """
    alive = writer_process_state(attrs.get("writer_host"), attrs.get("writer_pid"),
                                 attrs.get("writer_process_start"))
    if alive is not None:
        return alive
    try:
        heartbeat = float(attrs.get("heartbeat_unix_s", 0.0))
    except (TypeError, ValueError):
        return False
    return time.time() - heartbeat <= STALE_HEARTBEAT_S


_READ_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError)
"""What h5py raises when stored bytes are damaged (a failed checksum, a bad message)."""


def _damaged(path: Any, what: str, exc: BaseException) -> RunFileError:
    if isinstance(exc, RunFileError):
        return exc
    text = " ".join(str(exc).split())
    return RunFileError(f"{path}: damaged memlab run file: {what} cannot be read ({text})")


def _reading(what: str):
    """Turn an h5py failure inside a reader method into a RunFileError naming the file and what."""
    def wrap(method):
        def guarded(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except _READ_ERRORS as exc:
                raise _damaged(self.path, what, exc) from None
        guarded.__name__, guarded.__doc__ = method.__name__, method.__doc__
        return guarded
    return wrap


class Stream:
    """One stream of a run: columns read lazily, each as a numpy array.

    ``len(stream)`` is the number of complete rows: while a file is being written its columns
    may differ by the rows of one block, and only rows present in every column count.
    """

    def __init__(self, group: h5py.Group) -> None:
        self.name = group.name.rsplit("/", 1)[-1]
        self.path = group.file.filename
        self.columns: list[str] = [_decode(c) for c in group.attrs["columns"]]
        self._datasets = {c: group[c] for c in self.columns}
        self.units: dict[str, str] = {c: _decode(d.attrs.get("units", "")) for c, d in self._datasets.items()}

    def _read(self, name: str, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) of a column; the size is checked before anything is allocated, and
        a large column is read block by block."""
        try:
            return self._read_checked(name, start, stop)
        except _READ_ERRORS as exc:
            raise _damaged(self.path, f"streams/{self.name}/{name}", exc) from None

    def _read_checked(self, name: str, start: int, stop: int) -> np.ndarray:
        ds = self._datasets[name]
        start, stop = max(0, start), max(start, stop)
        nbytes = _nbytes(stop - start, ds)
        if nbytes > MAX_READ_BYTES:
            raise RunFileError(f"{self.path}: streams/{self.name}/{name}: {stop - start} rows "
                               f"({_size(nbytes)}) is more than memlab reads at once "
                               f"({_size(MAX_READ_BYTES)}); read it in slices (start, stop)")
        if nbytes <= READ_BLOCK_BYTES:
            return ds[start:stop]
        out = np.empty((stop - start, *ds.shape[1:]), dtype=ds.dtype)
        step = max(1, READ_BLOCK_BYTES // max(1, _nbytes(1, ds)))
        for lo in range(start, stop, step):
            hi = min(stop, lo + step)
            ds.read_direct(out, np.s_[lo:hi], np.s_[lo - start:hi - start])
        return out

    def blocks(self, name: str, rows: int = 1_000_000) -> Iterator[np.ndarray]:
        """A column ``rows`` at a time: for columns too large to hold in memory."""
        n = len(self)
        for lo in range(0, n, rows):
            yield self._read(name, lo, min(n, lo + rows))

    def __len__(self) -> int:
        return min(d.shape[0] for d in self._datasets.values())

    def __getitem__(self, column: str) -> np.ndarray:
        return self.column(column)

    def __contains__(self, column: str) -> bool:
        return column in self.columns

    def column(self, name: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        if name not in self.columns:
            raise KeyError(f"stream {self.name!r} has no column {name!r}; it has {self.columns}")
        n = len(self)
        stop = n if stop is None else min(stop, n)
        return self._read(name, start, stop)

    def shape(self, column: str) -> tuple[int, ...]:
        return (len(self), *self._datasets[column].shape[1:])

    def arrays(self, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
        """Every column, cut to the same complete rows."""
        n = len(self)
        stop = n if stop is None else min(stop, n)
        return {c: self._read(c, start, stop) for c in self._datasets}

    def refresh(self) -> None:
        for d in self._datasets.values():
            d.refresh()


class RunReader:
    """Read a memlab run file.

    Opens in single-writer/multiple-reader mode, so a file being written can be followed:
    call :meth:`refresh` to see rows flushed since. A file whose writer died is reported as
    ``interrupted``; the flags the dead writer left are cleared (``repair=True``) so that plain
    ``h5py.File(path)`` opens it too.
    """

    def __init__(self, path: str | Path, repair: bool = True) -> None:
        self.path = Path(path)
        self._streams: dict[str, Stream] = {}
        if not self.path.is_file():
            raise RunFileError(f"{self.path}: no such file")
        try:
            is_hdf5 = h5py.is_hdf5(self.path)
        except OSError as exc:  # unreadable (permissions, I/O error)
            raise RunFileError(f"{self.path}: cannot be read ({exc})") from exc
        if not is_hdf5:
            raise RunFileError(f"{self.path}: not an HDF5 file")
        # Before HDF5 opens it: a cut file makes HDF5's SWMR reader retry its metadata for
        # minutes. A live writer's file is never shorter than its superblock says.
        why = truncation(self.path)
        if why is not None:
            raise RunFileError(f"{self.path}: {why}")
        self._file = self._open()
        try:
            try:
                memlab_format = _decode(self._file.attrs.get("memlab_format"))
            except (OSError, KeyError, TypeError, ValueError, RuntimeError):
                memlab_format = None
            if memlab_format != FORMAT_NAME:
                raise RunFileError(f"{self.path}: an HDF5 file, but not a memlab run file "
                                   f"(no memlab_format={FORMAT_NAME!r} attribute)")
            try:
                check_structure(self._file)
            except _Damage as exc:
                raise RunFileError(f"{self.path}: damaged memlab run file: {exc}") from None
            except (OSError, RuntimeError, KeyError) as exc:  # HDF5 failed to read its metadata
                raise RunFileError(f"{self.path}: damaged memlab run file ({exc})") from None
            self.attrs = _run_attrs(self._file)
            if repair and self.status == INTERRUPTED and writer_flags(self.path):
                self._file.close()
                self._repair()
                self._file = self._open()
        except BaseException:
            self._file.close()
            raise

    def _open(self) -> h5py.File:
        # SWMR only while a writer may hold the file: a SWMR reader retries every metadata read
        # that fails its checksum (~100 times, with pauses), so a damaged finished file would
        # take minutes to refuse; without SWMR the first failed checksum ends the read.
        swmr = bool(writer_flags(self.path))
        try:
            return h5py.File(self.path, "r", swmr=swmr, libver="latest")
        except (OSError, RuntimeError) as exc:  # h5py raises either for a damaged file
            raise RunFileError(f"{self.path}: damaged, cannot be opened as HDF5 ({exc})") from exc

    def _repair(self) -> None:
        try:
            if clear_writer_flags(self.path):
                log.warning("%s: its writer died; cleared the writer flags so any HDF5 reader "
                            "can open it", self.path)
        except (OSError, ValueError) as exc:
            log.warning("%s: writer died, but its flags could not be cleared: %s", self.path, exc)

    # -- metadata --------------------------------------------------------------------------
    @property
    def status(self) -> str:
        """completed, aborted, failed, running, or interrupted (the writer died)."""
        status = self.attrs.get("status", RUNNING)
        if status == RUNNING and not _writer_alive(self.attrs):
            return INTERRUPTED
        return status

    @property
    def error(self) -> str:
        return self.attrs.get("error", "")

    @property
    def procedure(self) -> str:
        return self.attrs["procedure"]

    @property
    def procedure_version(self) -> str:
        return self.attrs.get("procedure_version", "")

    @property
    def start_time(self) -> str:
        return self.attrs.get("start_time", "")

    @property
    def end_time(self) -> str:
        return self.attrs.get("end_time", "")

    @property
    def operator(self) -> str:
        return self.attrs.get("operator", "")

    @property
    @_reading("parameters")
    def parameters(self) -> dict[str, Any]:
        """Parameter values as run (None where the parameter was unset)."""
        params = self._file["parameters"]
        if isinstance(params, h5py.Dataset):  # format 2: one table, values as JSON text
            return {_decode(row["name"]): json.loads(_decode(row["value"])) for row in params[()]}
        out = {}
        for name, ds in params.items():
            out[name] = None if ds.attrs.get("is_none", False) else _decode(ds[()])
        return out

    @property
    def parameter_units(self) -> dict[str, str]:
        params = self._file["parameters"]
        if isinstance(params, h5py.Dataset):
            return {_decode(row["name"]): _decode(row["units"]) for row in params[()]}
        return {name: _decode(ds.attrs.get("units", "")) for name, ds in params.items()}

    @property
    def device_states(self) -> dict[tuple[int, int], dict[str, Any]]:
        """(row, col) -> what the run recorded of that device's state (``formed_at_start``,
        ``formed_at_end``: True, False or None = unknown; ``evidence``). Empty for files written
        before memlab recorded it, and for runs that learnt nothing."""
        entries = self.attrs.get("device_states", [])
        out: dict[tuple[int, int], dict[str, Any]] = {}
        for e in entries if isinstance(entries, list) else []:
            if isinstance(e, dict) and isinstance(e.get("row"), int) and isinstance(e.get("col"), int):
                out[(e["row"], e["col"])] = e
        return out

    def _metadata(self, key: str) -> dict[str, Any] | None:
        metadata = _decode(self._file.attrs.get("metadata", ""))
        return metadata.get(key, {}) if isinstance(metadata, dict) else None

    @property
    def chip(self) -> dict[str, Any]:
        chip = self._metadata("chip")
        return _attrs(self._file["chip"]) if chip is None else chip

    @property
    @_reading("chip/devices")
    def devices(self) -> np.ndarray:
        """(N, 2) array of the (row, col) of each device the run used."""
        return self._file["chip/devices"][()]

    @property
    def instruments(self) -> dict[str, dict[str, Any]]:
        instruments = self._metadata("instruments")
        if instruments is None:
            return {role: _attrs(group) for role, group in self._file["instruments"].items()}
        return instruments

    @_reading("log")
    def log(self) -> list[tuple[float, int, str]]:
        """(unix time, logging level, message) of every log line written so far."""
        group = self._file["log"]
        for ds in group.values():
            ds.refresh()
        n = min(ds.shape[0] for ds in group.values())
        times, levels, messages = group["time_unix_s"][:n], group["level"][:n], group["message"][:n]
        return [(float(t), int(lv), m.decode("utf-8", "replace")) for t, lv, m in zip(times, levels, messages)]

    # -- data ------------------------------------------------------------------------------
    @property
    def stream_names(self) -> list[str]:
        return list(self._file["streams"].keys())

    def stream(self, name: str) -> Stream:
        if name not in self._streams:
            if name not in self._file["streams"]:
                raise KeyError(f"{self.path.name}: no stream {name!r}; it has {self.stream_names}")
            try:
                self._streams[name] = Stream(self._file["streams"][name])
            except _READ_ERRORS as exc:
                raise _damaged(self.path, f"streams/{name}", exc) from None
        return self._streams[name]

    def streams(self) -> Iterator[Stream]:
        for name in self.stream_names:
            yield self.stream(name)

    def refresh(self) -> None:
        """See rows and status a live writer has flushed since the file was opened."""
        for stream in self._streams.values():
            stream.refresh()
        try:
            attrs = _run_attrs(self._file)
            _check_root(attrs)
        except _Damage as exc:
            raise RunFileError(f"{self.path}: damaged memlab run file: {exc}") from None
        self.attrs = attrs

    def trace(self, start: int = 0, stop: int | None = None) -> dict[str, Any] | None:
        """The instruments' command conversation (``/trace``, docs/hdf5-format.md), None in a file
        without one. Rows ``start:stop`` (negative counts from the end: ``-20`` is the last 20) as
        ``time_s``, ``wall_time_s`` (arrays), ``instrument``, ``kind``, ``text`` (lists of str),
        with ``rows`` (all of them), ``stored_bytes``, ``enabled``, ``dropped``,
        ``safe_shutdown_row`` (-1: no shutdown yet), ``instruments`` and ``kinds``."""
        group = self._file.get("trace")
        if not isinstance(group, h5py.Group):
            return None
        names = ("time_s", "wall_time_s", "instrument", "kind", "text")
        try:
            datasets = {name: group[name] for name in names}
            for ds in datasets.values():
                ds.refresh()
            attrs = _attrs(group)
            instruments, kinds = list(attrs.get("instruments", [])), list(attrs.get("kinds", []))
            rows = min(ds.shape[0] for ds in datasets.values())
            first, last, _ = slice(start, stop).indices(rows)
            columns = {name: datasets[name][first:max(first, last)] for name in names}
            label = lambda table, k: table[k] if 0 <= k < len(table) else f"#{k}"  # noqa: E731
            return {
                "rows": rows,
                "stored_bytes": sum(ds.id.get_storage_size() for ds in datasets.values()),
                "enabled": bool(attrs.get("enabled", True)),
                "dropped": int(attrs.get("dropped", 0)),
                "safe_shutdown_row": int(attrs.get("safe_shutdown_row", -1)),
                "instruments": instruments,
                "kinds": kinds,
                "time_s": columns["time_s"],
                "wall_time_s": columns["wall_time_s"],
                "instrument": [label(instruments, int(k)) for k in columns["instrument"]],
                "kind": [label(kinds, int(k)) for k in columns["kind"]],
                "text": [t.decode("utf-8", "replace") for t in columns["text"]],
            }
        except (KeyError, TypeError, ValueError, AttributeError, OSError) as exc:
            raise RunFileError(f"{self.path}: /trace is damaged ({type(exc).__name__}: {exc})") from exc

    @_reading("metadata")
    def summary(self) -> dict[str, Any]:
        """Metadata, status and the shape and units of each stream, as plain data."""
        return {
            "path": str(self.path),
            "procedure": self.procedure,
            "procedure_version": self.procedure_version,
            "status": self.status,
            "error": self.error,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "operator": self.operator,
            "software_version": self.attrs.get("software_version", ""),
            "chip": self.chip,
            "devices": self.devices.tolist(),
            "parameters": {k: {"value": v, "unit": self.parameter_units.get(k, "")}
                           for k, v in self.parameters.items()},
            "instruments": self.instruments,
            "streams": {s.name: {c: {"shape": list(s.shape(c)), "units": s.units[c]} for c in s.columns}
                        for s in self.streams()},
        }

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RunReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
