"""Analysis speed: summarising a folder of small runs (serial and Dask), loading a big stream.

    python benchmarks/bench_analysis.py            # readable table
    python benchmarks/bench_analysis.py --json     # one JSON object of figures
    python benchmarks/bench_analysis.py --quick    # smaller sizes (a smoke run)

Figures: files per second for the per-device summary of a folder of small runs of five
procedures (iv-sweep, forming, potentiation-depression, write-verify, endurance), serially and
through Dask's local process pool (including its start-up, also given alone); and the time to load a 10^7-row
stream into a pandas DataFrame, against reading the same columns with raw h5py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memlab.analysis import open_run, summarize  # noqa: E402
from memlab.procedures.synthetic import write_run  # noqa: E402
from memlab.storage import canonical  # noqa: E402


def small_runs(folder: Path, n: int) -> None:
    """``n`` small finished runs, one procedure after another, on devices of a 32 x 32 chip."""
    rng = np.random.default_rng(0)
    up = np.round(np.arange(0, 1.5 + 1e-9, 0.05), 10)
    loop = np.concatenate((up, up[::-1][1:], -up[1:], -up[::-1][1:-1]))
    g = np.where((np.arange(loop.size) > 20) & (np.arange(loop.size) < 80), 1e-4, 1e-6)
    iv = {"iv": {"cycle": np.repeat([0, 1, 2], loop.size), "voltage": np.tile(loop, 3),
                 "current": np.tile(g * loop, 3), "time": np.arange(3 * loop.size) * 1e-3}}
    volts = np.round(np.arange(0.5, 3.51, 0.1), 10)
    res = np.where(volts >= 3.0, 1e5, 1e9)
    forming = {"forming": {"attempt": np.zeros(volts.size), "step": np.arange(volts.size), "voltage": volts,
                           "width": np.full(volts.size, 1e-3), "current": 0.1 / res, "resistance": res,
                           "step_current": np.minimum(volts / res, 1e-4), "time": np.arange(volts.size) * 1e-3},
               "result": {"formed": 1, "forming_voltage": 3.0, "forming_current": 1e-6,
                          "final_resistance": 1e5, "attempts": 1}}
    p = np.arange(1, 51)
    up_g = 10e-6 - 9.5e-6 * 0.97 ** p
    down_g = 0.5e-6 + (up_g[-1] - 0.5e-6) * 0.97 ** p
    branch = np.concatenate((up_g, down_g))
    pulses = {"pulses": {"repeat": np.repeat([0, 1], 100), "pulse": np.tile(np.concatenate((p, p)), 2),
                         "polarity": np.tile(np.repeat([1, -1], 50), 2), "amplitude": np.tile(np.repeat([2.0, -2.0], 50), 2),
                         "conductance": np.tile(branch, 2) * (1 + 0.01 * rng.standard_normal(200)),
                         "time": np.arange(200) * 1e-6}}
    targets = np.tile(np.linspace(1e-6, 8e-6, 8), 3)
    final = targets * (1 + 0.01 * rng.standard_normal(targets.size))
    levels = {"verify": {"level": np.tile(np.arange(8), 3), "pulse": np.ones(24), "amplitude": np.ones(24),
                         "conductance": final, "target": targets, "time": np.arange(24) * 1e-3},
              "levels": {"level": np.tile(np.arange(8), 3), "target": targets, "final": final,
                         "error": final / targets - 1, "pulses": np.full(24, 5), "success": np.ones(24)}}
    cycles = np.unique(np.round(np.logspace(0, 6, 60))).astype(int)
    window = 20 * (1 - np.clip(cycles / 1e5, 0, 1)) + 1
    endurance = {"endurance": {"cycle": cycles, "conductance_set": window * 1e-6, "conductance_reset": np.full(cycles.size, 1e-6),
                               "window": window, "time": cycles * 1e-6},
                 "result": {"failed": 1, "failure_cycle": 1e5, "reason_code": 1}}
    kinds = [("iv-sweep", iv), ("forming", forming), ("potentiation-depression", pulses),
             ("write-verify", levels), ("endurance", endurance)]
    params = {canonical.READ_V: 0.2}
    for k in range(n):
        proc, data = kinds[k % len(kinds)]
        dev = ((k // len(kinds)) // 32 % 32, (k // len(kinds)) % 32)
        write_run(folder, proc, data, devices=[dev], parameters=params,
                  name=f"run{k:05d}_{proc}.h5")


def files_per_second(folder: Path, n: int, scheduler: str, workers: int) -> float:
    t0 = time.perf_counter()
    s = summarize(folder, scheduler=scheduler, workers=workers, progress=False)
    elapsed = time.perf_counter() - t0
    assert s.files == n and not s.skipped and not s.errors, (s.skipped[:3], s.errors[:3])
    return n / elapsed


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def cpu_speedup(workers: int) -> float:
    """Speed-up of ``workers`` processes over one on pure-Python work: what the machine (shared,
    perhaps busy) can give any parallel scheme, to read the Dask figure against."""
    from concurrent.futures import ProcessPoolExecutor

    times = []
    for w in (1, workers):
        t0 = time.perf_counter()
        with ProcessPoolExecutor(w) as pool:
            list(pool.map(_spin, [2_000_000] * (2 * workers)))
        times.append(time.perf_counter() - t0)
    return times[0] / times[1]


def big_stream(folder: Path, rows: int) -> Path:
    data = {"iv": {"cycle": np.repeat(np.arange(rows // 1000 + 1), 1000)[:rows],
                   "voltage": np.sin(np.arange(rows) * 1e-3), "current": np.cos(np.arange(rows) * 1e-3) * 1e-6,
                   "time": np.arange(rows) * 1e-6}}
    return write_run(folder, "iv-sweep", data, devices=[(0, 0)], name="big.h5")


def load_times(path: Path, repeats: int) -> tuple[float, float]:
    """Median seconds: raw h5py reading every column, and analysis' Run.frame (interleaved)."""
    raw, frame = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        with h5py.File(path, "r") as f:
            group = f["streams/iv"]
            columns = {c: group[c][()] for c in group.attrs["columns"]}
        raw.append(time.perf_counter() - t0)
        del columns
        t0 = time.perf_counter()
        df = open_run(path).frame("iv")
        frame.append(time.perf_counter() - t0)
        del df
    return statistics.median(raw), statistics.median(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    args = parser.parse_args()
    n_files = 100 if args.quick else 1000
    rows = 100_000 if args.quick else 10_000_000
    workers = min(2, os.cpu_count() or 1)
    tmp = Path(tempfile.mkdtemp(prefix="bench_analysis_"))
    try:
        folder = tmp / "runs"
        t0 = time.perf_counter()
        small_runs(folder, n_files)
        write_s = time.perf_counter() - t0
        serial = files_per_second(folder, n_files, "serial", 1)
        dask = files_per_second(folder, n_files, "processes", workers)
        tiny = tmp / "tiny"
        small_runs(tiny, 2)
        t0 = time.perf_counter()
        summarize(tiny, scheduler="processes", workers=workers, progress=False)
        overhead_s = time.perf_counter() - t0  # starting the worker processes dominates
        speedup = cpu_speedup(workers)
        path = big_stream(tmp, rows)
        raw_s, frame_s = load_times(path, 3)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    fig = {
        f"summary_serial_files_per_s_{n_files}_runs": round(serial, 1),
        f"summary_dask_{workers}_workers_files_per_s_{n_files}_runs": round(dask, 1),
        f"dask_{workers}_workers_startup_s": round(overhead_s, 2),
        f"reference_cpu_speedup_{workers}_processes": round(speedup, 2),
        f"load_{rows}_rows_raw_h5py_s": round(raw_s, 3),
        f"load_{rows}_rows_dataframe_s": round(frame_s, 3),
        "load_dataframe_over_raw_h5py_ratio": round(frame_s / raw_s, 2),
    }
    if args.json:
        print(json.dumps(fig))
        return
    print(f"analysis benchmark ({n_files} small runs written in {write_s:.1f} s; "
          f"{rows:,}-row stream, 4 columns)")
    print(f"{'figure':<52}{'value':>12}")
    for name, value in fig.items():
        print(f"{name:<52}{value:>12}")


if __name__ == "__main__":
    main()
