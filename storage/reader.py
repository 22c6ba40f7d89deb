"""RunReader: open a finished run file, or one still being written, with h5py alone."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from memlab.errors import MemlabError
from memlab.storage.format import FORMAT_NAME, INTERRUPTED, RUNNING
from memlab.storage.recovery import clear_writer_flags, truncation, writer_flags, writer_process_state

log = logging.getLogger(__name__)

STALE_HEARTBEAT_S = 30.0
"""A running file whose writer has not flushed for this long is taken as interrupted."""


class RunFileError(MemlabError, OSError):
    """A file that is not a readable memlab run file; the message says why."""


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _attrs(obj: h5py.HLObject) -> dict[str, Any]:
    return {key: _decode(value) for key, value in obj.attrs.items()}


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


class Stream:
    """One stream of a run: columns read lazily, each as a numpy array.

    ``len(stream)`` is the number of complete rows: while a file is being written its columns
    may differ by the rows of one block, and only rows present in every column count.
    """

    def __init__(self, group: h5py.Group) -> None:
        self.name = group.name.rsplit("/", 1)[-1]
        self.columns: list[str] = [_decode(c) for c in group.attrs["columns"]]
        self._datasets = {c: group[c] for c in self.columns}
        self.units: dict[str, str] = {c: _decode(d.attrs.get("units", "")) for c, d in self._datasets.items()}

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
        return self._datasets[name][start:stop]

    def shape(self, column: str) -> tuple[int, ...]:
        return (len(self), *self._datasets[column].shape[1:])

    def arrays(self, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
        """Every column, cut to the same complete rows."""
        n = len(self)
        stop = n if stop is None else min(stop, n)
        return {c: d[start:stop] for c, d in self._datasets.items()}

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
        if not h5py.is_hdf5(self.path):
            raise RunFileError(f"{self.path}: not an HDF5 file")
        self._file = self._open()
        try:
            self.attrs = _attrs(self._file)
            if self.attrs.get("memlab_format") != FORMAT_NAME:
                raise RunFileError(f"{self.path}: an HDF5 file, but not a memlab run file "
                                   f"(no memlab_format={FORMAT_NAME!r} attribute)")
            if self.status not in (RUNNING, INTERRUPTED):  # a live writer's superblock may lag
                why = truncation(self.path)
                if why is not None:
                    raise RunFileError(f"{self.path}: {why}")
            if repair and self.status == INTERRUPTED and writer_flags(self.path):
                self._file.close()
                self._repair()
                self._file = self._open()
        except BaseException:
            self._file.close()
            raise

    def _open(self) -> h5py.File:
        try:
            return h5py.File(self.path, "r", swmr=True, libver="latest")
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
    def parameters(self) -> dict[str, Any]:
        """Parameter values as run (None where the parameter was unset)."""
        out = {}
        for name, ds in self._file["parameters"].items():
            out[name] = None if ds.attrs.get("is_none", False) else _decode(ds[()])
        return out

    @property
    def parameter_units(self) -> dict[str, str]:
        return {name: _decode(ds.attrs.get("units", "")) for name, ds in self._file["parameters"].items()}

    @property
    def chip(self) -> dict[str, Any]:
        return _attrs(self._file["chip"])

    @property
    def devices(self) -> np.ndarray:
        """(N, 2) array of the (row, col) of each device the run used."""
        return self._file["chip/devices"][()]

    @property
    def instruments(self) -> dict[str, dict[str, Any]]:
        return {role: _attrs(group) for role, group in self._file["instruments"].items()}

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
            self._streams[name] = Stream(self._file["streams"][name])
        return self._streams[name]

    def streams(self) -> Iterator[Stream]:
        for name in self.stream_names:
            yield self.stream(name)

    def refresh(self) -> None:
        """See rows and status a live writer has flushed since the file was opened."""
        for stream in self._streams.values():
            stream.refresh()
        self.attrs = _attrs(self._file)

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
