"""Live-plot refresh cost against points so far: memlab's dashboard beside a PyMeasure-style re-read;
and the dashboard's event-loop latency while each procedure of ``memlab demo`` runs.

    python benchmarks/bench_gui.py            # readable tables
    python benchmarks/bench_gui.py --json     # one JSON object of figures
    python benchmarks/bench_gui.py --quick    # 10k and 100k points only (a smoke run)
    python benchmarks/bench_gui.py --latency-only   # the event-loop latency table only
    python benchmarks/bench_gui.py --latency-only --in-thread   # runs in a thread of the GUI process
    python benchmarks/bench_gui.py --latency-only --procedures vmm,relaxation   # only these
    python benchmarks/bench_gui.py --latency-only --procedures campaign   # the campaign row only

Event-loop latency: a 10 ms timer in the dashboard's GUI thread records how late each of its
ticks comes, while the procedure runs on the simulated bench (the demo's chips and parameters) and
its batches are plotted live in a 1366 x 768 window. The dashboard runs a simulated bench's
procedures in a worker process (what is measured by default); ``--in-thread`` runs them in a
thread of the GUI process instead, as a real bench's are, for comparison. The last row is a whole
campaign (the prGO demo's plan, 20 runs) started from the Campaign tab, likewise in a worker
process or, ``--in-thread``, in a thread.

Each window is left idle for a second after it opens (as a person would before pressing Start;
the window builds the first run's plots ahead meanwhile), then the run starts. A late tick is a window that does not repaint
or answer a click for that long. Target: p99 <= 50 ms and max <= 200 ms for every procedure.

One refresh = what a live plot does each time new rows arrive (here 1000 rows, e.g. 0.1 s of a
10 kHz run), measured once 10k, 100k and 1M rows are already on the plot:

- memlab: append the batch to the growing buffers and hand the curve its new view
  (``PlotArea.feed`` + ``refresh``); "with paint" adds redrawing the plot (800 x 500 px, offscreen).
- PyMeasure-style: the data a PyMeasure live plot gets per refresh from its CSV file, with
  pymeasure's own ``Results``: ``reload()`` re-reads the whole file (what peers.md measured), and
  ``data`` reads the rows added since (skipping the file's earlier lines and re-concatenating
  every row so far). Neither includes drawing.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BATCH = 1000
REPEATS = 15


def _median_ms(samples: list[float]) -> float:
    return float(np.median(samples) * 1e3)


def memlab_refresh(sizes: list[int]) -> dict[str, float]:
    from PySide6 import QtWidgets

    from memlab.gui.live_plots import PlotArea, StreamInfo
    from memlab.gui.main_window import configure_pyqtgraph
    from memlab.procedures import PlotHint
    from memlab.storage import Column, StreamSpec

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    configure_pyqtgraph()
    area = PlotArea()
    area._timer.stop()  # refreshes are driven by hand here
    area.resize(800, 500)
    area.show()
    spec = StreamSpec("signal", (Column("time", "s"), Column("value", "V")))
    area.setup([StreamInfo.from_spec(spec)], [PlotHint("signal", "time", "value", "signal")])
    pane = area.panes[0]
    rng = np.random.default_rng(0)
    figures: dict[str, float] = {}
    n = 0

    def batch(rows: int) -> dict[str, np.ndarray]:
        t = np.arange(n, n + rows) * 1e-4
        return {"time": t, "value": np.sin(2 * np.pi * t) + rng.normal(0, 0.05, rows)}

    for size in sizes:
        while n < size:
            rows = min(100_000, size - n)
            area.feed("signal", batch(rows))
            n += rows
        area.refresh()
        pane.plot.viewport().repaint()
        app.processEvents()
        data_only, with_paint = [], []
        for _ in range(REPEATS):
            new = batch(BATCH)
            t0 = time.perf_counter()
            area.feed("signal", new)
            area.refresh()
            t1 = time.perf_counter()
            pane.plot.viewport().repaint()  # paint now (the plot's scene draws on its viewport)
            t2 = time.perf_counter()
            n += BATCH
            data_only.append(t1 - t0)
            with_paint.append(t2 - t0)
            app.processEvents()
        label = _size_label(size)
        figures[f"memlab_refresh_ms_at_{label}"] = _median_ms(data_only)
        figures[f"memlab_refresh_with_paint_ms_at_{label}"] = _median_ms(with_paint)
        figures[f"memlab_points_drawn_at_{label}"] = float(pane.curves[None].item.getData()[0].size)
    area.close()
    return figures


def pymeasure_refresh(sizes: list[int], tmp: Path) -> dict[str, float]:
    try:
        from pymeasure.experiment import Procedure, Results
    except ImportError:
        return {}

    class Signal(Procedure):
        DATA_COLUMNS = ["time", "value"]

        def execute(self) -> None:  # the file is written directly below
            raise NotImplementedError("only its Results are used")

    figures: dict[str, float] = {}
    rng = np.random.default_rng(0)
    for size in sizes:
        path = tmp / f"pymeasure_{size}.csv"
        results = Results(Signal(), str(path))
        with open(path, "a", newline="", encoding="utf-8") as handle:
            t = np.arange(size) * 1e-4
            csv.writer(handle).writerows(zip(t, np.sin(t)))
        results.reload()
        reread, incremental = [], []
        n = size
        for _ in range(REPEATS):
            with open(path, "a", newline="", encoding="utf-8") as handle:
                t = np.arange(n, n + BATCH) * 1e-4
                csv.writer(handle).writerows(zip(t, rng.normal(size=BATCH)))
            n += BATCH
            t0 = time.perf_counter()
            _ = results.data  # the rows added since: pymeasure's default refresh
            t1 = time.perf_counter()
            results.reload()  # the whole file again (force_reload, as peers.md measured)
            _ = results.data
            t2 = time.perf_counter()
            incremental.append(t1 - t0)
            reread.append(t2 - t1)
        label = _size_label(size)
        figures[f"pymeasure_reread_ms_at_{label}"] = _median_ms(reread)
        figures[f"pymeasure_incremental_ms_at_{label}"] = _median_ms(incremental)
    return figures


LATENCY_TICK_S = 0.010


CAMPAIGN_JOB = "campaign demo-prgo"
"""The last row: the prGO demo's plan (4 devices x 5 steps) run from the Campaign tab."""


def event_loop_latency(in_thread: bool = False, only: set[str] | None = None) -> dict[str, dict[str, float]]:
    """Per procedure of the demo plans: p50, p99 and max lateness (ms) of a 10 ms timer, ticks,
    and the run's wall time; runs in a worker process (the dashboard's way on a simulated bench)
    or, ``in_thread``, in a thread of this process."""
    from PySide6 import QtCore, QtWidgets

    from memlab.gui.main_window import MainWindow
    from memlab.procedures.demo import DEMO_PLANS, demo_bench, demo_plan

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = QtCore.QSettings(str(Path(tmp) / "bench.ini"), QtCore.QSettings.Format.IniFormat)
        # first a baseline: the same window with nothing running, for as long as a short run
        # (on a shared, loaded machine the baseline shows what the scheduler alone costs)
        jobs = [("(idle, no run)", None, "prgo", False)]
        for plan_file, family, unformed in DEMO_PLANS:
            for step in demo_plan(plan_file).steps:
                if all(step.procedure.name != job[0] for job in jobs) and (
                        not only or step.procedure.name in only):
                    jobs.append((step.procedure.name, step, family, unformed))
        if not only or "campaign" in only:  # a whole campaign from the Campaign tab: the prGO demo's plan
            jobs.append((CAMPAIGN_JOB, "campaign", "prgo", True))
        if not in_thread:  # the workers' fork server starts once, before anything is measured
            from memlab.procedures.process_run import prepare_workers

            warm = demo_bench("prgo", True)
            prepare_workers(warm)
            warm.close()
        for name, step, family, unformed in jobs:
            # forming needs an unformed chip; the other steps run on formed devices, as in the demo
            bench = demo_bench(family, unformed and name in ("forming", CAMPAIGN_JOB))
            window = MainWindow(bench=bench, out_dir=Path(tmp) / "runs", settings=settings, connect=False,
                                run_mode="thread" if in_thread else "process")
            window.resize(1366, 768)
            window.show()
            # as a person would, start once the opened window is idle (it builds plots ahead meanwhile)
            settle = time.perf_counter()
            while time.perf_counter() - settle < 1.0:
                app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
            late: list[float] = []
            at: list[float] = []
            last = [time.perf_counter()]

            def tick() -> None:
                now = time.perf_counter()
                late.append(max(0.0, now - last[0] - LATENCY_TICK_S))
                at.append(now - t0)
                last[0] = now

            timer = QtCore.QTimer()
            timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
            timer.setInterval(int(LATENCY_TICK_S * 1000))
            timer.timeout.connect(tick)
            t0 = time.perf_counter()
            last[0] = t0
            timer.start()
            if step is None:
                while time.perf_counter() - t0 < 1.0:
                    app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
            elif step == "campaign":
                panel = window.campaign_panel
                panel.set_plan_text(resources.files("memlab.procedures.plans").joinpath("demo-prgo.yaml").read_text())
                panel.out_edit.setText(str(Path(tmp) / "campaign"))
                panel.run()
                while window.controller.running:
                    app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
                campaign_status = panel.state.text().rsplit(": ", 1)[-1]
            else:
                window.controller.start(step.make((0, 0)))
                while window.controller.running:
                    app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
            wall = time.perf_counter() - t0
            timer.stop()
            if step == "campaign":
                status = campaign_status
            else:
                status = (window.controller.last_result[0] if window.controller.last_result else "?") \
                    if step is not None else "completed"
            samples = np.array(late or [0.0]) * 1e3
            results[name] = {"p50_ms": float(np.percentile(samples, 50)), "p99_ms": float(np.percentile(samples, 99)),
                             "max_ms": float(samples.max()), "ticks": float(len(late)), "wall_s": wall,
                             "max_at_s": float(at[int(np.argmax(samples))]) if at else 0.0,
                             "completed": float(status == "completed")}
            window.confirm = lambda title, text: True
            window.close()
            bench.close()
            app.processEvents()
    return results


def _size_label(size: int) -> str:
    return f"{size // 1_000_000}M" if size >= 1_000_000 else f"{size // 1000}k"


def _print_latency(latency: dict[str, dict[str, float]], in_thread: bool = False) -> None:
    where = "in a thread of the GUI process (--in-thread)" if in_thread else "in a worker process"
    print(f"Event-loop latency while each demo procedure runs {where} (a {LATENCY_TICK_S * 1e3:.0f} ms timer's "
          "lateness, ms; target p99 <= 50, max <= 200)\n")
    header = (f"{'procedure':<26} | {'p50':>6} | {'p99':>7} | {'max':>7} | {'max at s':>8} | {'ticks':>6} | "
              f"{'run wall s':>10} | ok")
    print(header)
    print("-" * len(header))
    for name, row in latency.items():
        ok = "yes" if row["p99_ms"] <= 50 and row["max_ms"] <= 200 else "NO"
        print(f"{name:<26} | {row['p50_ms']:>6.1f} | {row['p99_ms']:>7.1f} | {row['max_ms']:>7.1f} | "
              f"{row['max_at_s']:>8.2f} | "
              f"{row['ticks']:>6.0f} | {row['wall_s']:>10.2f} | {ok}"
              + ("" if row["completed"] else "  (run did not complete)"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures")
    parser.add_argument("--quick", action="store_true", help="10k and 100k points only")
    parser.add_argument("--latency-only", action="store_true", help="only the event-loop latency per procedure")
    parser.add_argument("--in-thread", action="store_true",
                        help="run the procedures in a thread of the GUI process, not in a worker process")
    parser.add_argument("--procedures", default="",
                        help="comma-separated procedure names: measure only these (default: every one)")
    args = parser.parse_args(argv)

    from memlab.gui import qt_problem

    problem = qt_problem()
    if problem is not None:
        print(f"bench_gui: cannot run: {problem}", file=sys.stderr)
        return 2
    only = {name.strip() for name in args.procedures.split(",") if name.strip()}
    latency = event_loop_latency(args.in_thread, only or None)
    runs = {name: row for name, row in latency.items() if not name.startswith("(")}
    latency_figures = {f"event_loop_{stat}_{name.replace('-', '_')}": value for name, row in runs.items()
                       for stat, value in row.items() if stat in ("p99_ms", "max_ms")}
    latency_figures["event_loop_p99_ms_worst"] = max(r["p99_ms"] for r in runs.values())
    latency_figures["event_loop_max_ms_worst"] = max(r["max_ms"] for r in runs.values())
    idle = latency.get("(idle, no run)")
    if idle is not None:
        latency_figures["event_loop_p99_ms_idle"] = idle["p99_ms"]
    if args.latency_only:
        if args.json:
            print(json.dumps({k: round(v, 3) for k, v in latency_figures.items()}))
        else:
            _print_latency(latency, args.in_thread)
        return 0
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    figures = memlab_refresh(sizes)
    with tempfile.TemporaryDirectory() as tmp:
        figures.update(pymeasure_refresh(sizes, Path(tmp)))
    figures.update(latency_figures)
    if args.json:
        print(json.dumps({k: round(v, 4) for k, v in figures.items()}))
        return 0
    _print_latency(latency, args.in_thread)
    print()
    print(f"Live-plot refresh with {BATCH} new rows, median of {REPEATS} (ms)\n")
    header = (f"{'points so far':>14} | {'memlab data':>11} | {'memlab + paint':>14} | {'points drawn':>12} | "
              f"{'PyMeasure re-read':>17} | {'PyMeasure incremental':>21}")
    print(header)
    print("-" * len(header))
    for size in sizes:
        label = _size_label(size)
        py_reread = figures.get(f"pymeasure_reread_ms_at_{label}")
        py_inc = figures.get(f"pymeasure_incremental_ms_at_{label}")
        print(f"{size:>14,} | {figures[f'memlab_refresh_ms_at_{label}']:>11.2f} | "
              f"{figures[f'memlab_refresh_with_paint_ms_at_{label}']:>14.2f} | "
              f"{figures[f'memlab_points_drawn_at_{label}']:>12,.0f} | "
              f"{py_reread if py_reread is not None else float('nan'):>17.2f} | "
              f"{py_inc if py_inc is not None else float('nan'):>21.2f}")
    print("\nmemlab data: append to growing buffers + hand pyqtgraph the new view (min/max blocks when the"
          "\nwhole run is in view). PyMeasure columns: pymeasure.experiment.Results on a CSV, data only.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
