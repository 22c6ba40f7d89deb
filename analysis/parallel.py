"""Figures of merit over thousands of run files, in parallel through Dask.

Files are summarised in chunks (one Dask task per chunk, so a folder of 10^4 small runs is a few
hundred tasks, not 10^4). Where the work runs:

- ``scheduler="processes"``: Dask's local process pool, one worker per core (the default for
  more than :data:`SERIAL_BELOW` files: below that, starting the workers costs more than it saves);
- ``scheduler="serial"``: a plain loop in this process (no Dask; small folders, debugging);
- a dask.distributed scheduler address (``"tcp://host:8786"``): that cluster's workers, which
  need memlab installed and the files at the same path.

Dask is imported only when it is used, so ``import memlab.analysis`` stays light. Its local processes
are *spawned*: a script that calls :func:`summarize` must guard its top level with
``if __name__ == "__main__":``.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from memlab.analysis.errors import FigureWarning, SkippedRunWarning
from memlab.analysis.loading import PathLike, RunFilter, find_run_files
from memlab.analysis.summary import RunSummary, chip_table, device_table, run_table, summarize_file

__all__ = ["Summary", "summarize", "summarize_chunk", "SCHEDULERS", "SERIAL_BELOW"]

SERIAL_BELOW = 64
"""With no scheduler named, folders with fewer files than this are summarised serially."""

SCHEDULERS = ("processes", "serial")
"""Named schedulers; anything else given must be a dask.distributed address (``tcp://...``)."""


CONNECT_TIMEOUT_S = 5.0
"""How long to wait for a dask.distributed scheduler before saying it does not answer."""


def summarize_chunk(paths: Sequence[str], keep: RunFilter | None) -> list[RunSummary]:
    """Summarise a chunk of files (one Dask task): filtered-out files are dropped.

    One file never sinks the others: whatever goes wrong with it (a damaged file the reader's
    checks did not foresee, a figure that trips over odd data) skips that file, named with why.
    """
    out = []
    for p in paths:
        try:
            s = summarize_file(p, keep)
        except MemoryError:
            s = RunSummary(os.path.basename(p), str(p), skipped="too large to analyse in memory")
        except Exception as exc:  # noqa: BLE001 - reported per file, see above
            s = RunSummary(os.path.basename(p), str(p),
                           skipped=f"cannot be analysed ({type(exc).__name__}: {exc})")
        if s is not None:
            out.append(s)
    return out


@dataclass
class Summary:
    """Figures of merit of a set of run files."""

    runs: pd.DataFrame
    """One row per (run, device) with every figure, see :func:`memlab.analysis.summary.run_table`."""
    devices: pd.DataFrame
    """One row per device, see :func:`memlab.analysis.summary.device_table`."""
    chip: pd.DataFrame
    """Figures over devices, see :func:`memlab.analysis.summary.chip_table`."""
    summaries: list[RunSummary] = field(repr=False)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(path, why) of every file skipped: corrupted, not memlab, interrupted, being written."""
    errors: list[tuple[str, str]] = field(default_factory=list)
    """(run, why) of runs whose figures could not be computed."""
    files: int = 0


def _check_scheduler(scheduler: str | None, files: int) -> str:
    if scheduler is None:
        return "serial" if files < SERIAL_BELOW else "processes"
    name = scheduler
    if name in SCHEDULERS:
        return name
    if "://" in name:
        _check_address(name)
        return name
    raise ValueError(f"scheduler={scheduler!r}: allowed {', '.join(SCHEDULERS)} or a dask.distributed "
                     "address such as tcp://host:8786")


def _check_address(address: str) -> None:
    """A scheduler address must name a host and a port: refuse a malformed one before connecting."""
    from urllib.parse import urlsplit

    allowed = "a dask.distributed address such as tcp://host:8786"
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError:
        raise ValueError(f"scheduler={address!r}: not an address; allowed: {allowed}") from None
    if parts.scheme == "inproc":  # an in-process cluster: inproc://host/pid/n
        if parts.hostname:
            return
    elif parts.scheme in ("tcp", "tls", "ws", "wss", "ucx") and parts.hostname and port is not None:
        return
    raise ValueError(f"scheduler={address!r}: needs a protocol, a host and a port; allowed: {allowed}")


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _progress(total: int, enabled: bool | None, desc: str) -> Any:
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="file", file=sys.stderr, disable=enabled is False,
                dynamic_ncols=True, leave=False, mininterval=0.2)


def _run_processes(chunks: list[list[str]], keep: RunFilter | None, workers: int,
                   advance: Callable[[int], None]) -> list[list[RunSummary]]:
    import dask
    from dask.callbacks import Callback

    class _Advance(Callback):
        def _posttask(self, key, result, dsk, state, worker_id) -> None:  # noqa: ANN001
            if isinstance(result, list):
                advance(len(sizes.get(key, ())))

    tasks = [dask.delayed(summarize_chunk, pure=True)(c, keep) for c in chunks]
    sizes = {t.key: c for t, c in zip(tasks, chunks)}
    with _Advance():
        return list(dask.compute(*tasks, scheduler="processes", num_workers=workers))


def _run_distributed(address: str, chunks: list[list[str]], keep: RunFilter | None,
                     advance: Callable[[int], None]) -> list[list[RunSummary]]:
    from distributed import Client, as_completed

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"scheduler={address!r}: no dask scheduler answered within "
                         f"{CONNECT_TIMEOUT_S:g} s ({type(exc).__name__}); start one there or use "
                         "--scheduler processes") from None
    with client:  # the default client while it lasts: as_completed needs one
        futures = client.map(summarize_chunk, chunks, keep=keep, pure=False)
        sizes = {f.key: len(c) for f, c in zip(futures, chunks)}
        results = {}
        for fut in as_completed(futures):
            results[fut.key] = fut.result()
            advance(sizes[fut.key])
        return [results[f.key] for f in futures]


def summarize(paths: PathLike | Iterable[PathLike], *, procedure: Any = None, device: Any = None,
              status: Any = None, since: Any = None, until: Any = None,
              scheduler: str | None = None, workers: int | None = None, chunk_size: int | None = None,
              progress: bool | None = None, confidence: float = 0.99) -> Summary:
    """Figures of merit of every run file under ``paths`` (files and/or folders).

    :param procedure, device, status, since, until: keep only matching runs (see
        :class:`analysis.loading.RunFilter`).
    :param scheduler: "processes", "serial", or a dask.distributed address; None: processes
        for :data:`SERIAL_BELOW` files or more, else serial.
    :param workers: local worker processes (default: the CPU count).
    :param chunk_size: files per task (default: enough for ~8 tasks per worker, at most 64).
    :param progress: show a tqdm bar on stderr (None: only when stderr is a terminal).
    :param confidence: for distinguishable levels.

    Skipped files and runs whose figures failed are warned about by name
    (:class:`SkippedRunWarning`, :class:`FigureWarning`) and listed in the result.
    """
    keep = RunFilter.make(procedure, device, status, since, until)
    files = [str(p) for p in find_run_files(paths)]
    sched = _check_scheduler(scheduler, len(files))
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"workers={workers!r}: allowed >= 1")
    if chunk_size is None:
        chunk_size = max(1, min(64, math.ceil(len(files) / (workers * 8))))
    elif chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size!r}: allowed >= 1")
    if progress is None:
        progress = sys.stderr.isatty()
    bar = _progress(len(files), progress, "analysing")
    try:
        if sched == "serial" or not files:
            nested = []
            for p in files:
                nested.append(summarize_chunk([p], keep))
                bar.update(1)
        else:
            chunks = _chunks(files, chunk_size)
            if sched == "processes":
                nested = _run_processes(chunks, keep, workers, bar.update)
            else:
                nested = _run_distributed(sched, chunks, keep, bar.update)
    finally:
        bar.close()
    summaries = [s for part in nested for s in part]
    skipped = [(s.path, s.skipped) for s in summaries if s.skipped]
    errors = [(s.run, s.error) for s in summaries if s.error]
    for path, why in skipped:
        warnings.warn(SkippedRunWarning(f"skipped {path}: {why}"), stacklevel=2)
    for run, why in errors:
        warnings.warn(FigureWarning(f"{run}: no figures: {why}"), stacklevel=2)
    runs = run_table(summaries)
    devices = device_table(runs)
    return Summary(runs=runs, devices=devices, chip=chip_table(runs, devices, summaries, confidence=confidence),
                   summaries=[s for s in summaries if not s.skipped], skipped=skipped, errors=errors,
                   files=len(files))
