"""Load run files: one file, a list, or a folder (a campaign) of them.

A :class:`Run` holds one file's metadata and reads its streams on demand, as numpy arrays or as a
pandas DataFrame (one row per point). :func:`load_runs` opens many files, filters them by
procedure, device, status or start time, and skips (with a :class:`SkippedRunWarning` naming the
file) those that cannot be analysed: corrupted files, HDF5 files that are not memlab runs, runs
whose writer died (interrupted) and runs still being written. A :class:`RunSet` concatenates a
stream of many runs into one DataFrame with the run metadata as columns.

Files are only read: analysis never repairs or modifies a run file (they may sit on a read-only
share), so an interrupted file keeps its writer flags until memlab's own tools open it.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from memlab.analysis.errors import MissingStreamError, SkippedRunWarning
from memlab.storage import INTERRUPTED, RUNNING, STATUSES, RunFileError, RunReader, Stream

__all__ = ["RUN_SUFFIXES", "Run", "RunSet", "find_run_files", "open_run", "load_runs", "RunFilter",
           "parse_device", "METADATA_COLUMNS"]

RUN_SUFFIXES = (".h5", ".hdf5")
"""Files with these suffixes are taken as run files when a folder is scanned."""

METADATA_COLUMNS = ("run", "procedure", "status", "start_time", "device_row", "device_col")
"""Columns :meth:`RunSet.frame` adds to every point: which run (file name), which procedure,
its final status, its start (UTC) and its device (NA when the run used several devices)."""

PathLike = str | Path


def _as_paths(paths: PathLike | Iterable[PathLike]) -> list[Path]:
    if isinstance(paths, (str, Path)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def find_run_files(paths: PathLike | Iterable[PathLike], *, recursive: bool = True) -> list[Path]:
    """Run files named by ``paths``: files as given, folders scanned for ``*.h5`` / ``*.hdf5``.

    A campaign's manifest and any other file in a folder is ignored. The result is sorted
    within each folder and has no duplicates.

    :raises FileNotFoundError: a path that does not exist (named in the message).
    """
    out: list[Path] = []
    seen: set[Path] = set()
    for path in _as_paths(paths):
        try:
            is_dir, is_file = path.is_dir(), path.is_file()
        except (OSError, ValueError) as exc:  # a NUL, a name too long for the file system
            raise FileNotFoundError(f"{path}: cannot be looked up ({exc})") from None
        if is_dir:
            found = sorted(_scan(path, recursive))
        elif is_file:
            found = [path]
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
        for p in found:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                out.append(p)
    return out


def _scan(folder: Path, recursive: bool) -> Iterator[Path]:
    """Run files under ``folder``. Sub-folders that cannot be listed (permissions, a vanished
    mount) are passed over, and symbolic links to folders are not followed (no loops)."""
    for root, dirs, files in os.walk(folder, onerror=lambda exc: None, followlinks=False):
        for name in files:
            candidate = Path(root) / name
            if candidate.suffix.lower() in RUN_SUFFIXES:
                try:
                    if candidate.is_file():
                        yield candidate
                except OSError:
                    continue
        if not recursive:
            dirs.clear()


def _timestamp(value: Any, name: str) -> pd.Timestamp | None:
    """A UTC timestamp from an ISO string, datetime or Timestamp (naive values are UTC)."""
    if value is None or value == "":
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}={value!r}: not a date/time; give ISO 8601, e.g. 2026-11-23T10:00") from exc
    if ts is pd.NaT:
        return None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def parse_device(value: Any) -> tuple[int, int]:
    """(row, col) from a pair or a string "row,col" / "r3c4"."""
    if isinstance(value, str):
        text = value.strip().lower().replace("r", "").replace("c", ",").replace(" ", "")
        parts = [p for p in text.split(",") if p]
    else:
        parts = list(value) if isinstance(value, Iterable) else []
    try:
        if len(parts) != 2:
            raise ValueError
        row, col = int(parts[0]), int(parts[1])
    except (ValueError, TypeError):
        raise ValueError(f"device={value!r}: give a device as (row, col), 'row,col' or 'r3c4'") from None
    if row < 0 or col < 0:
        raise ValueError(f"device={value!r}: row and col must be >= 0")
    return row, col


@dataclass(eq=False)  # runs are the same run when they are the same object (arrays inside)
class Run:
    """One run file's metadata; streams are read from the file when asked for."""

    path: Path
    procedure: str
    procedure_version: str
    status: str
    error: str
    start_time: pd.Timestamp | None
    end_time: pd.Timestamp | None
    operator: str
    chip: dict[str, Any]
    devices: np.ndarray
    """(N, 2) int array: the (row, col) of each device the run used."""
    parameters: dict[str, Any]
    parameter_units: dict[str, str]
    streams: dict[str, list[str]]
    """Stream name -> its columns, in file order."""
    units: dict[str, dict[str, str]]
    """Stream name -> column -> SI unit."""
    rows: dict[str, int] = field(default_factory=dict)
    """Stream name -> complete rows when the run was opened."""
    device_states: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    """(row, col) -> the device state the run recorded (storage's ``RunReader.device_states``)."""
    _reader: RunReader | None = field(default=None, init=False, repr=False)
    _streams: dict[str, Stream] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def open(cls, path: PathLike, *, keep_open: bool = False) -> Run:
        """Read a run file's metadata. :raises RunFileError: not a readable memlab run file.

        ``keep_open=True`` keeps the file open so that reading several streams costs one open
        (use ``with Run.open(path, keep_open=True) as run:``, or call :meth:`close`).
        """
        reader = RunReader(path, repair=False)
        try:
            run = cls.from_reader(reader)
        except BaseException:
            reader.close()
            raise
        if keep_open:
            run._reader = reader
        else:
            reader.close()
            run._streams = {}
        return run

    def close(self) -> None:
        """Close the file if :meth:`open` kept it open; reads then reopen it each time."""
        if self._reader is not None:
            self._reader.close()
        self._reader, self._streams = None, {}

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_reader"], state["_streams"] = None, {}  # open HDF5 handles do not travel
        return state

    @classmethod
    def from_reader(cls, reader: RunReader) -> Run:
        """A run's metadata from an open reader (the reader stays the caller's to close)."""
        try:
            streams, units, rows, handles = {}, {}, {}, {}
            for s in reader.streams():
                streams[s.name] = list(s.columns)
                units[s.name] = dict(s.units)
                rows[s.name] = len(s)
                handles[s.name] = s
            run = cls(
                path=reader.path, procedure=str(reader.procedure),
                procedure_version=str(reader.procedure_version), status=reader.status,
                error=str(reader.error), start_time=_timestamp(reader.start_time, "start_time"),
                end_time=_timestamp(reader.end_time, "end_time"), operator=str(reader.operator),
                chip=reader.chip, devices=np.asarray(reader.devices, dtype=int).reshape(-1, 2),
                parameters=reader.parameters, parameter_units=reader.parameter_units,
                streams=streams, units=units, rows=rows, device_states=reader.device_states,
            )
            run._streams = handles
            return run
        except (KeyError, OSError, RuntimeError, ValueError) as exc:
            if isinstance(exc, RunFileError):
                raise
            raise RunFileError(f"{reader.path}: damaged memlab run file ({type(exc).__name__}: {exc})") from exc

    # -- identity ----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The file name: how reports and tables name a run."""
        return self.path.name

    @property
    def device(self) -> tuple[int, int] | None:
        """The run's device when it used exactly one, else None."""
        if len(self.devices) == 1:
            return int(self.devices[0, 0]), int(self.devices[0, 1])
        return None

    def parameter(self, name: str, default: Any = None) -> Any:
        """A parameter's value as run (``default`` if the run has no such parameter or it was unset)."""
        value = self.parameters.get(name)
        return default if value is None else value

    # -- data ------------------------------------------------------------------------------
    def require(self, stream: str, columns: Sequence[str] = (), purpose: str = "this analysis") -> None:
        """Raise :class:`MissingStreamError` unless ``stream`` with ``columns`` is in the run."""
        if stream not in self.streams:
            raise MissingStreamError(self.path, self.procedure, stream, self.streams, purpose)
        missing = [c for c in columns if c not in self.streams[stream]]
        if missing:
            raise MissingStreamError(self.path, self.procedure, f"{stream}/{missing[0]}",
                                     [f"{stream}/{c}" for c in self.streams[stream]], purpose)

    def arrays(self, stream: str, columns: Sequence[str] | None = None, *,
               purpose: str = "this analysis") -> dict[str, np.ndarray]:
        """Columns of ``stream`` as numpy arrays cut to the complete rows (all columns if None)."""
        self.require(stream, columns or (), purpose)
        names = list(columns) if columns is not None else self.streams[stream]
        try:
            if self._reader is not None:
                s = self._streams[stream]
                if self.rows.get(stream, 0) <= 100_000:
                    # small: one pass over every column beats storage's per-column row count
                    data = s.arrays()
                    return {c: data[c] for c in names}
                n = len(s)
                return {c: s.column(c, 0, n) for c in names}
            with RunReader(self.path, repair=False) as reader:
                s = reader.stream(stream)
                n = len(s)
                return {c: s.column(c, 0, n) for c in names}
        except (OSError, RuntimeError, KeyError) as exc:
            if isinstance(exc, RunFileError):
                raise
            raise RunFileError(f"{self.path}: stream {stream!r} cannot be read ({exc})") from exc

    def frame(self, stream: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """``stream`` as a DataFrame, one row per point.

        A column holding an array per row (a map, a vector of inputs) becomes an object column
        of arrays; scalar columns keep their numpy dtype. ``df.attrs["units"]`` maps each
        column to its unit.
        """
        data = self.arrays(stream, columns)
        return _frame(data, {c: self.units[stream].get(c, "") for c in data})

    def __repr__(self) -> str:
        return f"Run({self.name!r}, {self.procedure}, {self.status}, devices={self.devices.tolist()})"


def _frame(data: dict[str, np.ndarray], units: dict[str, str]) -> pd.DataFrame:
    cols: dict[str, Any] = {}
    for name, arr in data.items():
        if arr.ndim == 1:
            cols[name] = arr
        else:
            cells = np.empty(len(arr), dtype=object)
            cells[:] = list(arr)
            cols[name] = cells
    df = pd.DataFrame(cols, copy=False)
    df.attrs["units"] = units
    return df


def open_run(path: PathLike) -> Run:
    """One run file's metadata (any status). :raises RunFileError: unreadable or not memlab."""
    return Run.open(path)


@dataclass(frozen=True)
class RunFilter:
    """Which runs to keep; None means any. Devices match if the run used any of them."""

    procedure: tuple[str, ...] | None = None
    device: tuple[tuple[int, int], ...] | None = None
    status: tuple[str, ...] | None = None
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None

    @classmethod
    def make(cls, procedure: str | Iterable[str] | None = None,
             device: Any = None, status: str | Iterable[str] | None = None,
             since: Any = None, until: Any = None) -> RunFilter:
        """Check and normalise filter values; a bad one raises naming it and what is allowed."""
        procs = (procedure,) if isinstance(procedure, str) else tuple(procedure) if procedure else None
        if device is None:
            devs = None
        elif isinstance(device, str) or (isinstance(device, Sequence) and len(device) == 2
                                          and all(isinstance(x, (int, np.integer)) for x in device)):
            devs = (parse_device(device),)
        else:
            devs = tuple(parse_device(d) for d in device)
        stats = (status,) if isinstance(status, str) else tuple(status) if status else None
        if stats:
            bad = [s for s in stats if s not in STATUSES]
            if bad:
                raise ValueError(f"status={bad[0]!r}: allowed {list(STATUSES)}")
        lo, hi = _timestamp(since, "since"), _timestamp(until, "until")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"since={since!r} is after until={until!r}")
        return cls(procs, devs, stats, lo, hi)

    def __call__(self, run: Run) -> bool:
        if self.procedure is not None and run.procedure not in self.procedure:
            return False
        if self.status is not None and run.status not in self.status:
            return False
        if self.device is not None:
            used = {(int(r), int(c)) for r, c in run.devices}
            if not used.intersection(self.device):
                return False
        if self.since is not None and (run.start_time is None or run.start_time < self.since):
            return False
        if self.until is not None and (run.start_time is None or run.start_time > self.until):
            return False
        return True


def skip_reason(run: Run) -> str | None:
    """Why a run cannot be analysed (interrupted, still being written), or None."""
    if run.status == INTERRUPTED:
        return "interrupted (its writer died before the run ended); rows up to then are in the file"
    if run.status == RUNNING:
        return "still being written (status running); analyse it when the run has ended"
    return None


def _skip(path: Path, reason: str, skipped: list[tuple[Path, str]]) -> None:
    skipped.append((path, reason))
    warnings.warn(SkippedRunWarning(f"skipped {path}: {reason}"), stacklevel=3)


class RunSet(Sequence[Run]):
    """Runs loaded together, and the files skipped on the way (``skipped``: (path, why))."""

    def __init__(self, runs: Iterable[Run], skipped: Iterable[tuple[Path, str]] = ()) -> None:
        self.runs = list(runs)
        self.skipped = list(skipped)

    def __len__(self) -> int:
        return len(self.runs)

    def __getitem__(self, index: int | slice) -> Any:  # a Run, or a RunSet for a slice
        if isinstance(index, slice):
            return RunSet(self.runs[index], self.skipped)
        return self.runs[index]

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs)

    def filter(self, procedure: str | Iterable[str] | None = None, device: Any = None,
               status: str | Iterable[str] | None = None, since: Any = None,
               until: Any = None) -> RunSet:
        """The runs that match every criterion given (see :class:`RunFilter`)."""
        keep = RunFilter.make(procedure, device, status, since, until)
        return RunSet([r for r in self.runs if keep(r)], self.skipped)

    @property
    def procedures(self) -> list[str]:
        return sorted({r.procedure for r in self.runs})

    def table(self) -> pd.DataFrame:
        """One row per run: file, procedure, status, times, operator, devices, streams."""
        rows = []
        for r in self.runs:
            dev = r.device
            rows.append({
                "run": r.name, "path": str(r.path), "procedure": r.procedure,
                "procedure_version": r.procedure_version, "status": r.status, "error": r.error,
                "start_time": r.start_time, "end_time": r.end_time, "operator": r.operator,
                "device_row": dev[0] if dev else pd.NA, "device_col": dev[1] if dev else pd.NA,
                "devices": len(r.devices), "streams": ",".join(r.streams),
            })
        df = pd.DataFrame(rows)
        if not df.empty:
            df["device_row"] = df["device_row"].astype("Int64")
            df["device_col"] = df["device_col"].astype("Int64")
        return df

    def frame(self, stream: str, columns: Sequence[str] | None = None,
              parameters: Sequence[str] = ()) -> pd.DataFrame:
        """``stream`` of every run that has it, concatenated: one row per point, with the
        :data:`METADATA_COLUMNS` and the ``parameters`` named as extra columns.

        Runs without the stream are left out; if none has it, :class:`MissingStreamError`.
        """
        with_stream = [r for r in self.runs if stream in r.streams]
        if not with_stream:
            available = sorted({s for r in self.runs for s in r.streams})
            raise MissingStreamError(Path("(runs)"), ",".join(self.procedures) or "no runs", stream,
                                     available, "this table")
        parts = []
        units: dict[str, str] = {}
        for r in with_stream:
            df = r.frame(stream, columns)
            units.update(df.attrs["units"])
            clash = [c for c in (*METADATA_COLUMNS, *parameters) if c in df.columns]
            if clash:
                raise ValueError(f"stream {stream!r} of {r.name} has a column {clash[0]!r} that "
                                 f"clashes with a metadata/parameter column; load it with Run.frame")
            dev = r.device
            df["run"] = r.name
            df["procedure"] = r.procedure
            df["status"] = r.status
            df["start_time"] = r.start_time
            df["device_row"] = pd.Series(dev[0] if dev else pd.NA, index=df.index, dtype="Int64")
            df["device_col"] = pd.Series(dev[1] if dev else pd.NA, index=df.index, dtype="Int64")
            for p in parameters:
                value = r.parameter(p, math.nan)
                df[p] = value
                units[p] = r.parameter_units.get(p, "")
            parts.append(df)
        out = pd.concat(parts, ignore_index=True)
        for c in ("run", "procedure", "status"):
            out[c] = out[c].astype("category")
        out.attrs["units"] = units
        return out


def load_runs(paths: PathLike | Iterable[PathLike], *, procedure: str | Iterable[str] | None = None,
              device: Any = None, status: str | Iterable[str] | None = None, since: Any = None,
              until: Any = None, recursive: bool = True) -> RunSet:
    """Open the run files named by ``paths`` (files and/or folders) and keep those matching.

    Files that cannot be analysed are skipped with a :class:`SkippedRunWarning` naming each:
    corrupted, not a memlab run, interrupted, or still being written. Their list is in
    ``RunSet.skipped``. Filters: see :class:`RunFilter` (``since``/``until`` compare the run's
    start time; ISO strings or datetimes, naive ones taken as UTC).
    """
    keep = RunFilter.make(procedure, device, status, since, until)
    runs: list[Run] = []
    skipped: list[tuple[Path, str]] = []
    for path in find_run_files(paths, recursive=recursive):
        try:
            run = Run.open(path)
        except RunFileError as exc:
            _skip(path, _reason(exc, path), skipped)
            continue
        reason = skip_reason(run)
        if reason is not None:
            _skip(path, reason, skipped)
            continue
        if keep(run):
            runs.append(run)
    runs.sort(key=lambda r: (r.start_time or pd.Timestamp(datetime.min, tz=timezone.utc), r.name))
    return RunSet(runs, skipped)


def _reason(exc: Exception, path: Path) -> str:
    """The RunFileError's message without the path it starts with (the warning adds it)."""
    text = str(exc)
    prefix = f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text

