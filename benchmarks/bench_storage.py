"""Storage speed and memory: memlab's Recorder/RunWriter beside PyMeasure's Worker and raw h5py.

    python benchmarks/bench_storage.py            # readable table
    python benchmarks/bench_storage.py --json     # one JSON object of figures
    python benchmarks/bench_storage.py --quick    # smaller sizes (a smoke run)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memlab.procedures.recorder import Recorder  # noqa: E402
from memlab.storage import Column, RunReader, RunWriter, StreamSpec  # noqa: E402

FOUR = StreamSpec("data", tuple(Column(n, "V") for n in ("a", "b", "c", "d")))


def new_writer(path: Path, spec: StreamSpec = FOUR) -> RunWriter:
    return RunWriter(path, procedure="bench", procedure_version="1", streams=[spec])


def run_start(tmp: Path, runs: int) -> tuple[float, float]:
    """Creating the file of a default iv-sweep run on the default simulated bench (its parameters,
    chip, instrument snapshots and streams), to closing it: median and best, in seconds."""
    from memlab.instruments.bench import load_bench
    from memlab.procedures import get_procedure
    from memlab.storage import ParameterRecord

    procedure = get_procedure("iv-sweep")()
    declared = {p.name: p for p in procedure.parameters}
    with load_bench(None) as bench:
        chip, snapshot = bench.chip_info(), bench.snapshot()
    parameters = {name: ParameterRecord(value, declared[name].unit, declared[name].help)
                  for name, value in procedure.values.items()}
    times = []
    for i in range(runs):
        t0 = time.perf_counter()
        writer = RunWriter(tmp / f"start{i}.h5", procedure=procedure.name, procedure_version=procedure.version,
                           streams=procedure.streams, parameters=parameters, chip=chip,
                           devices=procedure.devices(), instruments=snapshot, operator="bench",
                           software_version="0", extra={"title": procedure.title})
        times.append(time.perf_counter() - t0)
        writer.close("completed")
    return float(np.median(times)), min(times)


def scalar_rows_memlab(tmp: Path, n: int) -> float:
    writer = new_writer(tmp / "scalar.h5")
    recorder = Recorder(writer)
    t0 = time.perf_counter()
    for i in range(n):
        x = float(i)
        recorder.append_row("data", (x, x, x, x))
    writer.close("completed")
    return (time.perf_counter() - t0) / n


def scalar_rows_pymeasure(tmp: Path, n: int) -> float | None:
    try:
        from pymeasure.experiment import Procedure, Results, Worker
        from pymeasure.experiment.parameters import IntegerParameter
    except ImportError:
        return None

    class Emit(Procedure):
        rows = IntegerParameter("rows", default=n)
        DATA_COLUMNS = ["a", "b", "c", "d"]

        def execute(self):
            for i in range(self.rows):
                x = float(i)
                self.emit("results", {"a": x, "b": x, "c": x, "d": x})

    results = Results(Emit(), str(tmp / "pymeasure.csv"))
    worker = Worker(results)
    t0 = time.perf_counter()
    worker.start()
    worker.join()
    # the Worker's recorder thread writes the file; wait until every row is on disk
    deadline = time.time() + 600
    while time.time() < deadline:
        with open(tmp / "pymeasure.csv") as f:
            lines = sum(1 for line in f if line and line[0] not in "#a\n")
        if lines >= n:
            break
        time.sleep(0.05)
    return (time.perf_counter() - t0) / n


def batches_raw_h5py(tmp: Path, batches: int, rows: int) -> float:
    block = np.random.default_rng(0).random((rows,))
    with h5py.File(tmp / "raw.h5", "w", libver="latest") as f:
        ds = [f.create_dataset(n, shape=(0,), maxshape=(None,), chunks=(8192,), dtype="f8")
              for n in "abcd"]
        t0 = time.perf_counter()
        for b in range(batches):
            for d in ds:
                d.resize((b + 1) * rows, axis=0)
                d[b * rows:] = block
        f.flush()
        return batches * rows / (time.perf_counter() - t0)


def batches_memlab(tmp: Path, batches: int, rows: int) -> float:
    block = np.random.default_rng(0).random((rows,))
    writer = new_writer(tmp / "batches.h5")
    recorder = Recorder(writer)
    data = {n: block for n in "abcd"}
    t0 = time.perf_counter()
    for _ in range(batches):
        recorder.append("data", data)
    writer.close("completed")
    return batches * rows / (time.perf_counter() - t0)


def long_run_child(path: str, rows: int) -> None:
    """Runs in a subprocess so its peak memory can be read alone."""
    spec = StreamSpec("signal", (Column("time_s", "s"), Column("value", "V")))
    writer = new_writer(Path(path), spec)
    batch = 100_000
    t = np.arange(batch, dtype="f8")
    for start in range(0, rows, batch):
        writer.append("signal", {"time_s": t + start, "value": t})
    writer.close("completed")


def long_run(tmp: Path, rows: int) -> tuple[float, float]:
    path = tmp / "long.h5"
    t0 = time.perf_counter()
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / 'benchmarks')!r});"
            f"import bench_storage as b; b.long_run_child({str(path)!r}, {rows})")
    subprocess.run([sys.executable, "-c", code], check=True)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    path.unlink()
    return peak_mb, wall


def load_column(tmp: Path, rows: int) -> tuple[float, float]:
    path = tmp / "load.h5"
    writer = new_writer(path, StreamSpec("s", (Column("x", "V"),)))
    writer.append("s", {"x": np.arange(rows, dtype="f8")})
    writer.close("completed")
    best_raw = best_ours = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        with h5py.File(path, "r") as f:
            f["streams/s/x"][:]
        best_raw = min(best_raw, time.perf_counter() - t0)
        t0 = time.perf_counter()
        with RunReader(path) as r:
            r.stream("s")["x"]
        best_ours = min(best_ours, time.perf_counter() - t0)
    return best_ours, best_raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    scalar_n = 20_000 if args.quick else 200_000
    long_rows = 10**6 if args.quick else 10**8
    load_rows = 10**6 if args.quick else 10**7
    fig: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        fig["run_file_creation_median_ms"], fig["run_file_creation_best_ms"] = (
            1e3 * t for t in run_start(tmp, 30 if args.quick else 200))
        fig["scalar_row_memlab_us"] = scalar_rows_memlab(tmp, scalar_n) * 1e6
        peer = scalar_rows_pymeasure(tmp, scalar_n)
        if peer is not None:
            fig["scalar_row_pymeasure_worker_csv_us"] = peer * 1e6
            fig["scalar_row_ratio_memlab_over_pymeasure"] = fig["scalar_row_memlab_us"] / fig["scalar_row_pymeasure_worker_csv_us"]
        fig["batch_raw_h5py_rows_per_s"] = batches_raw_h5py(tmp, 200, 10_000)
        fig["batch_memlab_rows_per_s"] = batches_memlab(tmp, 200, 10_000)
        fig["batch_ratio_memlab_over_raw"] = fig["batch_memlab_rows_per_s"] / fig["batch_raw_h5py_rows_per_s"]
        peak, wall = long_run(tmp, long_rows)
        fig["long_run_rows"] = float(long_rows)
        fig["long_run_peak_rss_mb"] = peak
        fig["long_run_wall_s"] = wall
        ours, raw = load_column(tmp, load_rows)
        fig["load_column_rows"] = float(load_rows)
        fig["load_column_memlab_s"] = ours
        fig["load_column_raw_h5py_s"] = raw
        fig["load_column_ratio_memlab_over_raw"] = ours / raw
    if args.json:
        print(json.dumps(fig))
        return
    targets = {
        "scalar_row_ratio_memlab_over_pymeasure": "<= 0.5",
        "batch_ratio_memlab_over_raw": ">= 0.8",
        "long_run_peak_rss_mb": "< 300, flat",
        "load_column_ratio_memlab_over_raw": "<= 2",
        "run_file_creation_median_ms": "<= 5",
    }
    print(f"{'figure':<42} {'value':>14}  target")
    for key, value in fig.items():
        print(f"{key:<42} {value:>14.4g}  {targets.get(key, '')}")


if __name__ == "__main__":
    main()
