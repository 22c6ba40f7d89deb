"""Damaged and hostile run files, each made from a good one: the cases of issue 12 that
`memlab info`, `memlab analyze`, the loaders and the run browser must survive.

``CASES`` maps a case name to a function that damages a copy of a good run file in place. Each
must be refused with one line naming what is wrong (or, where marked in ``READABLE``, read as is).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from memlab.storage.format import PARAMETER_DTYPE

from memlab.procedures.synthetic import write_run


def write_good(path: Path, *, cycles: int = 2) -> Path:
    """A small finished iv-sweep run on device (0, 1), with one instrument and one parameter."""
    v = np.concatenate([np.linspace(0, 1, 11), np.linspace(1, -1, 21)[1:], np.linspace(-1, 0, 11)[1:]])
    data = {"iv": {"cycle": np.repeat(np.arange(cycles), len(v)), "voltage": np.tile(v, cycles),
                   "current": np.tile(v, cycles) * 1e-5, "time": np.arange(cycles * len(v)) * 1e-3}}
    return write_run(path.parent, "iv-sweep", data, devices=[(0, 1)],
                     name=path.name, parameters={"v_max": 1.0},
                     chip={"family": "prgo", "rows": 2, "cols": 2})


def _edit(fn: Callable[[h5py.File], None]) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        with h5py.File(path, "r+") as f:
            fn(f)
    return damage


def _delete(name: str) -> Callable[[Path], None]:
    def fn(f: h5py.File) -> None:
        del f[name]
    return _edit(fn)


def _del_attr(obj: str, attr: str) -> Callable[[Path], None]:
    def fn(f: h5py.File) -> None:
        del f[obj].attrs[attr]
    return _edit(fn)


def _set_attr(obj: str, attr: str, value) -> Callable[[Path], None]:
    def fn(f: h5py.File) -> None:
        f[obj].attrs[attr] = value
    return _edit(fn)


def _replace(name: str, make: Callable[[h5py.Group, str], None]) -> Callable[[Path], None]:
    def fn(f: h5py.File) -> None:
        parent, _, leaf = name.rpartition("/")
        group = f[parent] if parent else f
        del group[leaf]
        make(group, leaf)
    return _edit(fn)


def _truncate(size: int) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(data[:size])
    return damage


def _huge_rows(path: Path) -> None:
    with h5py.File(path, "r+") as f:
        for column in f["streams/iv"].values():
            column.resize((3_000_000_000, *column.shape[1:]))


def _interrupted_dead_writer(path: Path) -> None:
    with h5py.File(path, "r+") as f:
        f.attrs["status"] = "running"
        f.attrs["end_time"] = ""
        f.attrs["heartbeat_unix_s"] = time.time() - 3600.0
        f.attrs["writer_host"] = "elsewhere"


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8)


DEEP_JSON = "[" * 5000 + "]" * 5000

CASES: dict[str, Callable[[Path], None]] = {
    "no streams": _delete("streams"),
    "no parameters": _delete("parameters"),
    "no chip": _delete("chip"),
    "no chip/devices": _delete("chip/devices"),
    "no metadata": _del_attr("/", "metadata"),
    "no procedure": _del_attr("/", "procedure"),
    "no status": _del_attr("/", "status"),
    "no format_version": _del_attr("/", "format_version"),
    "format_version 99": _set_attr("/", "format_version", 99),
    "format_version text": _set_attr("/", "format_version", "one"),
    "no column": _delete("streams/iv/current"),
    "columns attr int": _set_attr("streams/iv", "columns", 7),
    "columns attr missing": _del_attr("streams/iv", "columns"),
    "units attr int array": _set_attr("streams/iv/current", "units", np.arange(3)),
    "units attr float": _set_attr("streams/iv/current", "units", 1.5),
    "units attr 2-D array": _set_attr("streams/iv/current", "units", np.zeros((2, 2))),
    "scalar column": _replace("streams/iv/current", lambda g, n: g.create_dataset(n, data=1.0)),
    "text column": _replace("streams/iv/current", lambda g, n: g.create_dataset(
        n, data=np.array([b"a", b"b"]), maxshape=(None,))),
    "column is a group": _replace("streams/iv/current", lambda g, n: g.create_group(n)),
    "stream is a dataset": _replace("streams/iv", lambda g, n: g.create_dataset(n, data=[1, 2])),
    "streams is a dataset": _replace("streams", lambda g, n: g.create_dataset(n, data=[1, 2])),
    "devices 3 columns": _replace("chip/devices", lambda g, n: g.create_dataset(
        n, data=np.zeros((2, 3), dtype="i4"))),
    "devices text": _replace("chip/devices", lambda g, n: g.create_dataset(n, data=b"0,1")),
    "devices float nan": _replace("chip/devices", lambda g, n: g.create_dataset(
        n, data=np.full((1, 2), np.nan))),
    "chip is a dataset": _replace("chip", lambda g, n: g.create_dataset(n, data=[1])),
    "parameters is a group": _replace("parameters", lambda g, n: g.create_group(n)),
    "parameters table of numbers": _replace("parameters", lambda g, n: g.create_dataset(n, data=[1])),
    "parameters 1e6 rows": _replace("parameters", lambda g, n: g.create_dataset(
        n, shape=(1_000_000,), dtype=PARAMETER_DTYPE)),
    "metadata not an object": _set_attr("/", "metadata", "[1, 2]"),
    "deep JSON metadata": _set_attr("/", "metadata", DEEP_JSON),
    "deep JSON chip attr": _set_attr("chip", "wiring", DEEP_JSON),
    "deep JSON root attr": _set_attr("/", "error", '{"a":' * 3000 + "1" + "}" * 3000),
    "soft link loop column": _replace("streams/iv/current", lambda g, n: g.__setitem__(
        n, h5py.SoftLink("/streams/iv/current"))),
    "soft link loop group": _replace("streams/iv", lambda g, n: g.__setitem__(
        n, h5py.SoftLink("/streams/iv"))),
    "soft link to nowhere": _replace("streams/iv/current", lambda g, n: g.__setitem__(
        n, h5py.SoftLink("/nowhere"))),
    "external link": _replace("streams/iv/current", lambda g, n: g.__setitem__(
        n, h5py.ExternalLink("elsewhere.h5", "/data"))),
    "status int": _set_attr("/", "status", 5),
    "status unknown": _set_attr("/", "status", "exploded"),
    "status array": _set_attr("/", "status", np.array(["completed", "running"], dtype=object)),
    "procedure int": _set_attr("/", "procedure", 12),
    "heartbeat text": _edit(lambda f: (f.attrs.__setitem__("status", "running"),
                                       f.attrs.__setitem__("heartbeat_unix_s", "yesterday"))),
    "heartbeat huge": _edit(lambda f: (f.attrs.__setitem__("status", "running"),
                                       f.attrs.__setitem__("heartbeat_unix_s", 1e308))),
    "pid text": _edit(lambda f: (f.attrs.__setitem__("status", "running"),
                                 f.attrs.__setitem__("heartbeat_unix_s", time.time()),
                                 f.attrs.__setitem__("writer_host", __import__("socket").gethostname()),
                                 f.attrs.__setitem__("writer_pid", "self"))),
    "pid huge": _edit(lambda f: (f.attrs.__setitem__("status", "running"),
                                 f.attrs.__setitem__("heartbeat_unix_s", time.time()),
                                 f.attrs.__setitem__("writer_host", __import__("socket").gethostname()),
                                 f.attrs.__setitem__("writer_pid", 2 ** 62))),
    "start_time garbage": _set_attr("/", "start_time", "not a time"),
    "start_time int": _set_attr("/", "start_time", 12),
    "truncated 2 KB": _truncate(2048),
    "truncated half": lambda p: _truncate(p.stat().st_size // 2)(p),
    "3e9 rows": _huge_rows,
    "garbage after signature": _garbage,
    "empty file": lambda p: p.write_bytes(b""),
}

READABLE = {"interrupted dead writer": _interrupted_dead_writer}
"""Damage that memlab reads through (after repair): not refused, but reported by status."""


def make_case(name: str, folder: Path, good: Path | None = None) -> Path:
    """A copy of a good run file (written once and reused if ``good`` is given) with damage ``name``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name.replace(" ", "_").replace("/", "_") + ".h5")
    if good is None:
        write_good(path)
    else:
        shutil.copyfile(good, path)
    (CASES.get(name) or READABLE[name])(path)
    return path
