"""Live-plot refresh cost against points so far: memlab's dashboard beside a PyMeasure-style re-read.

    python benchmarks/bench_gui.py            # readable table
    python benchmarks/bench_gui.py --json     # one JSON object of figures
    python benchmarks/bench_gui.py --quick    # 10k and 100k points only (a smoke run)

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


def _size_label(size: int) -> str:
    return f"{size // 1_000_000}M" if size >= 1_000_000 else f"{size // 1000}k"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures")
    parser.add_argument("--quick", action="store_true", help="10k and 100k points only")
    args = parser.parse_args(argv)

    from memlab.gui import qt_problem

    problem = qt_problem()
    if problem is not None:
        print(f"bench_gui: cannot run: {problem}", file=sys.stderr)
        return 2
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    figures = memlab_refresh(sizes)
    with tempfile.TemporaryDirectory() as tmp:
        figures.update(pymeasure_refresh(sizes, Path(tmp)))
    if args.json:
        print(json.dumps({k: round(v, 4) for k, v in figures.items()}))
        return 0
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
