"""Fuzz run files: flipped bytes, cuts, and structural damage (each case of issue 12 and random
attributes of hostile types) applied to valid run files written once per module: a synthetic one
and one from a short simulated run.

Each damaged file goes to RunReader (metadata, every stream, the log), to the analysis (one file
of a folder) and to `memlab info`, in a worker process, so that a crash or a hang inside HDF5 is
caught and named instead of taking the suite down. Every file must be either refused with one
line (RunFileError; info exits 2 with one line; the analysis skips it) or read in full: all of the
original rows present, and the file opening with plain h5py afterwards (repair on sight).
"""

from __future__ import annotations

import json
import random
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "storage"))
from hostile_run_files import CASES, DEEP_JSON, make_case, write_good  # noqa: E402

DEFAULT_INPUTS = 80
LARGE_INPUTS = 1500
PER_INPUT_S = 20.0

WORKER = r'''
import contextlib, io, json, sys, time, warnings
warnings.simplefilter("ignore")
from memlab.storage import RunFileError, RunReader
from memlab.analysis.parallel import summarize_chunk
from memlab.cli import main
print("ready", flush=True)
for line in sys.stdin:
    path = line.strip()
    out = {"path": path}
    t0 = time.monotonic()
    out["stage"] = "metadata"
    try:
        with RunReader(path) as reader:
            reader.summary()
            out["stage"] = "data"
            out["rows"] = {s.name: len(s) for s in reader.streams()}
            for s in reader.streams():
                s.arrays()
            reader.log()
            out["status"] = reader.status
        out["verdict"] = "ok"
    except RunFileError as exc:
        out["verdict"], out["message"] = "refused", str(exc)
    except BaseException as exc:
        out["verdict"], out["message"] = "error", f"RunReader: {type(exc).__name__}: {exc}"
    try:
        summaries = summarize_chunk([path], None)
        out["analysis"] = "skipped" if summaries and summaries[0].skipped else "analysed"
    except BaseException as exc:
        out["verdict"], out["message"] = "error", f"analysis: {type(exc).__name__}: {exc}"
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            out["info_rc"] = main(["info", path])
    except BaseException as exc:
        out["verdict"], out["message"] = "error", f"info: {type(exc).__name__}: {exc}"
    out["info_err"] = err.getvalue()
    out["elapsed"] = time.monotonic() - t0
    print(json.dumps(out), flush=True)
'''


class Worker:
    """A reader process fed one path at a time; restarted after a crash or a hang."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self._line(120) == "ready"

    def _line(self, timeout: float) -> str | None:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        return self.proc.stdout.readline().strip() or None

    def read(self, path: Path) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        line = self._line(PER_INPUT_S)
        if line is None:
            crashed = self.proc.poll() is not None
            self.stop()
            return {"verdict": "error", "message": "worker crashed (e.g. a segfault in HDF5)" if crashed
                    else f"no answer within {PER_INPUT_S:.0f} s (a hang)"}
        return json.loads(line)

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> list[Path]:
    """Valid run files: a synthetic one and one written by a short simulated run."""
    from memlab.instruments.bench import load_bench
    from memlab.procedures import get_procedure, run_procedure

    folder = tmp_path_factory.mktemp("fuzz_sources")
    synthetic = write_good(folder / "synthetic.h5", cycles=4)
    with load_bench(None) as bench:
        result = run_procedure(get_procedure("clock-check")(samples=300), bench, folder / "sim")
    assert result.ok
    return [synthetic, Path(result.path)]


def rows_of(path: Path) -> dict[str, int]:
    with h5py.File(path, "r") as f:
        return {name: min(ds.shape[0] for ds in group.values()) for name, group in f["streams"].items()}


HOSTILE_ATTRS = [5, -1, 2 ** 62, 1.5, float("inf"), float("nan"), 1e308, "", "x" * 100_000, b"\xff\xfe",
                 "running", "completed", "interrupted", "not a time", DEEP_JSON, '{"a": [1, {"b": 2}]}',
                 np.arange(4), np.array([b"a", b"b"]), np.zeros((2, 2)), True]
ATTR_KEYS = ["status", "procedure", "format_version", "heartbeat_unix_s", "writer_pid", "writer_host",
             "start_time", "end_time", "operator", "error", "columns", "units", "settings", "is_none"]


def random_attribute(rng: random.Random, path: Path) -> None:
    with h5py.File(path, "r+") as f:
        objects = ["/"]
        f.visit(objects.append)
        name = rng.choice(objects)
        key = rng.choice(ATTR_KEYS + list(f[name].attrs))
        f[name].attrs[key] = rng.choice(HOSTILE_ATTRS)


def random_resize(rng: random.Random, path: Path) -> None:
    with h5py.File(path, "r+") as f:
        columns = [ds for group in f["streams"].values() for ds in group.values()]
        ds = rng.choice(columns)
        ds.resize((rng.choice([0, 1, ds.shape[0] + 1, 10 ** rng.randint(3, 10)]), *ds.shape[1:]))


def flip_bytes(rng: random.Random, path: Path) -> None:
    raw = bytearray(path.read_bytes())
    for _ in range(rng.randint(1, 4)):
        raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(raw))


def kill_writer(rng: random.Random, path: Path) -> None:
    """A writer killed mid-run: status running, an old heartbeat, SWMR flags left set."""
    from memlab.storage.recovery import lookup3

    with h5py.File(path, "r+") as f:
        f.attrs["status"] = "running"
        f.attrs["end_time"] = ""
        f.attrs["heartbeat_unix_s"] = time.time() - rng.choice([60, 3600, 86400])
        f.attrs["writer_host"] = "elsewhere"
    raw = bytearray(path.read_bytes())
    size = 12 + 4 * raw[9]
    raw[11] = 0x05
    raw[size:size + 4] = lookup3(bytes(raw[:size])).to_bytes(4, "little")
    path.write_bytes(bytes(raw))


def damage(rng: random.Random, source: Path, path: Path) -> str:
    shutil.copyfile(source, path)
    kind = rng.choice(["flip", "flip", "cut", "case", "attribute", "attribute", "resize", "killed"])
    if kind == "flip":
        flip_bytes(rng, path)
    elif kind == "cut":
        path.write_bytes(path.read_bytes()[:rng.randrange(path.stat().st_size)])
    elif kind == "case":
        CASES[rng.choice(sorted(CASES))](path)
    elif kind == "attribute":
        for _ in range(rng.randint(1, 3)):
            random_attribute(rng, path)
    elif kind == "resize":
        random_resize(rng, path)
    else:
        kill_writer(rng, path)
    return kind


def judge(result: dict, original_rows: dict[str, int], path: Path, kind: str) -> str | None:
    """None if the outcome is clean, else why not."""
    verdict = result["verdict"]
    if verdict == "error":
        return result["message"]
    if result.get("elapsed", 0) > PER_INPUT_S / 2:
        return f"took {result['elapsed']:.1f} s"
    info_lines = [line for line in result["info_err"].splitlines() if "WARNING" not in line]
    if "Traceback" in result["info_err"] or "internal error" in result["info_err"]:
        return f"memlab info: {result['info_err'][-300:]}"
    if verdict == "refused":
        if "\n" in result["message"]:
            return f"refusal not one line: {result['message'][:300]!r}"
        # memlab info reads the metadata only: it must refuse what the metadata check refused
        if result["stage"] == "metadata" and (result["info_rc"] != 2 or len(info_lines) != 1):
            return f"memlab info on a refused file: exit {result['info_rc']}, {info_lines[:3]}"
        if result["info_rc"] not in (0, 2) or len(info_lines) > 1:
            return f"memlab info: exit {result['info_rc']}, {info_lines[:3]}"
        if result["analysis"] != "skipped" and result["stage"] == "metadata":
            return "the analysis used a file the reader refused"
        return None
    if result["info_rc"] != 0:
        return f"memlab info on a readable file: exit {result['info_rc']} {info_lines[:2]}"
    # (the listed cases may shorten a column themselves: tests/storage checks each of them)
    if kind in ("attribute", "killed") and result["rows"] != original_rows:
        return f"rows lost: {result['rows']} of {original_rows}"
    try:  # read in full, memlab has seen it: any HDF5 reader opens it now
        h5py.File(path, "r").close()
    except OSError as exc:
        return f"plain h5py cannot open a file memlab read: {exc}"
    return None


def fuzz(sources: list[Path], folder: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    originals = {s: rows_of(s) for s in sources}
    worker = Worker()
    failures: list[str] = []
    kinds: dict[str, int] = {}
    verdicts: dict[str, int] = {}
    try:
        for n in range(count):
            source = rng.choice(sources)
            path = folder / f"fuzz{n % 8}.h5"
            try:
                kind = damage(rng, source, path)
            except (OSError, KeyError, ValueError, TypeError) as exc:  # h5py refused the damage itself
                kind = f"unmakeable ({type(exc).__name__})"
                shutil.copyfile(source, path)
                flip_bytes(rng, path)
            kinds[kind] = kinds.get(kind, 0) + 1
            result = worker.read(path)
            verdicts[result["verdict"]] = verdicts.get(result["verdict"], 0) + 1
            why = judge(result, originals[source], path, kind)
            if why:
                failures.append(f"{kind} of {source.name} (input {n}): {why}")
                keep = folder / f"failure{len(failures)}.h5"
                shutil.copyfile(path, keep) if path.exists() else None
    finally:
        worker.stop()
    print(f"\nfuzz run file: {count} inputs tried, {count - len(failures)} clean, {len(failures)} "
          f"failures; damage {kinds}; outcomes {verdicts}")
    assert not failures, "\n".join(failures[:20])


def test_fuzz_run_file_default(sources, tmp_path):
    fuzz(sources, tmp_path, DEFAULT_INPUTS, seed=12)


@pytest.mark.fuzz_large
def test_fuzz_run_file_large(sources, tmp_path):
    fuzz(sources, tmp_path, LARGE_INPUTS, seed=1212)


def test_every_listed_case_in_one_folder(sources, tmp_path):
    """All of issue 12's damaged files beside two good ones: the good ones are analysed."""
    from memlab.analysis.parallel import summarize

    good = write_good(tmp_path / "good.h5")
    for name in CASES:
        make_case(name, tmp_path, good)
    shutil.copyfile(sources[1], tmp_path / "sim.h5")
    with pytest.warns(UserWarning):
        summary = summarize(tmp_path, scheduler="serial", progress=False)
    analysed = set(summary.runs["run"])
    assert {"good.h5", "sim.h5"} <= analysed
    assert len(summary.skipped) >= len(CASES) - 1  # the text column is still analysable
