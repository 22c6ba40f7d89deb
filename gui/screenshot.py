"""Render the dashboard mid-run, offscreen, to a PNG (the picture in docs/ and the README).

    QT_QPA_PLATFORM=offscreen python -m gui.screenshot docs/dashboard.png

On the built-in simulated bench: a readout of part of the chip fills the chip map, then an I-V
sweep starts on a device selected there, and the picture is taken while it runs. "Mid-run" is
made deterministic by a listener that holds the run's worker thread at a chosen batch until the
window has been drawn, so the picture never depends on how fast this machine is.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtCore, QtWidgets  # noqa: E402

from memlab.procedures import RunListener  # noqa: E402


class HoldAtBatch(RunListener):
    """Holds the run's worker thread once ``batches`` batches of ``stream`` went by, until released."""

    def __init__(self, stream: str, batches: int, timeout_s: float = 30.0) -> None:
        self.stream, self.batches, self.timeout_s = stream, batches, timeout_s
        self.seen = 0
        self.reached = threading.Event()
        self.release = threading.Event()

    def on_batch(self, stream: str, batch: object) -> None:
        if stream != self.stream:
            return
        self.seen += 1
        if self.seen == self.batches:
            self.reached.set()
            self.release.wait(self.timeout_s)


def wait_for(condition, timeout_s: float = 30.0) -> None:
    timer = QtCore.QElapsedTimer()
    timer.start()
    while not condition():
        if timer.elapsed() > timeout_s * 1000:
            raise TimeoutError("the dashboard did not reach the state to photograph")
        QtWidgets.QApplication.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="PNG file to write")
    parser.add_argument("--size", default="1600x1000", help="window size WIDTHxHEIGHT (default 1600x1000)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))

    from memlab.gui.main_window import MainWindow
    from memlab.instruments.bench import load_bench

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    output = args.output.resolve()
    home = Path.cwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # the picture shows the run folder as "runs", not this machine's temp path
        settings = QtCore.QSettings(str(Path(tmp) / "dashboard.ini"), QtCore.QSettings.Format.IniFormat)
        window = MainWindow(bench=load_bench(None), out_dir=Path("runs"), settings=settings,
                            connect=False, operator="technician")
        window.confirm = lambda title, text: True
        window.resize(width, height)
        window.show()
        controller, panel, chip = window.controller, window.procedure_panel, window.chip_map

        # 1. a readout of the top-left 8 x 8 devices, so the chip map has something to show
        chip.select([(r, c) for r in range(8) for c in range(8)])
        panel.select_procedure("readout")
        panel.form.set_values({"reads": 3})
        panel.start()
        wait_for(lambda: not controller.running and controller.last_result is not None)
        chip.mark((6, 2), "failed")
        chip.mark((1, 6), "stuck")

        # 2. an I-V sweep on device (3, 4), photographed during its fourth loop
        chip.select([(3, 4)])
        panel.select_procedure("iv-sweep")
        panel.form.set_values({"cycles": 8, "v_max": 1.5, "v_min": -1.5, "step_v": 0.02})
        hold = HoldAtBatch("iv", 4)
        controller.extra_listeners = [hold]
        panel.add_to_queue()  # shows the queue with something waiting
        panel.form.set_values({"cycles": 8})
        panel.start()
        wait_for(hold.reached.is_set)
        wait_for(lambda: window.live.plots.points("iv") >= hold.seen * 10)
        for _ in range(5):  # let the refresh timer draw and the layout settle
            wait_for(lambda: True)
            QtCore.QThread.msleep(120)
            app.processEvents()
        window.grab().save(str(output))
        hold.release.set()
        controller.clear_queue()
        window.close()
        os.chdir(home)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
