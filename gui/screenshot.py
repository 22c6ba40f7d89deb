"""Render the dashboard offscreen at 1366 x 768 (a laptop screen) into the pictures of docs/dashboard.md.

    QT_QPA_PLATFORM=offscreen python -m memlab.gui.screenshot docs

writes four PNG files into the folder:

- ``dashboard-idle.png``: connected to the built-in simulated bench, nothing run yet;
- ``dashboard.png``: an I-V sweep running on a device selected on the chip map, after a readout
  of part of the chip (also the README's picture);
- ``dashboard-campaign.png``: the campaign tab mid-campaign, its devices x steps grid;
- ``dashboard-browser.png``: the run browser with the session's runs, one opened.

"Mid-run" is made deterministic by a listener that holds the run (in its worker process, or a
campaign's) at a chosen batch until the window has been drawn, so the pictures never
depend on how fast this machine is.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

from memlab.gui.holds import HoldAtBatch  # noqa: E402 - works in the worker process too

SIZE = (1366, 768)


def wait_for(condition, timeout_s: float = 60.0) -> None:
    timer = QtCore.QElapsedTimer()
    timer.start()
    while not condition():
        if timer.elapsed() > timeout_s * 1000:
            raise TimeoutError("the dashboard did not reach the state to photograph")
        QtWidgets.QApplication.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)


def settle(app: QtWidgets.QApplication, turns: int = 5) -> None:
    """Let the refresh timers draw and the layout settle."""
    for _ in range(turns):
        QtCore.QThread.msleep(120)
        app.processEvents()


def save(window: QtWidgets.QWidget, path: Path) -> None:
    image = window.grab().toImage()
    if not image.save(str(path), "PNG", 0):  # 0: the strongest compression, keeps the docs small
        raise OSError(f"cannot write {path}")
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder for the PNG files (e.g. docs)")
    args = parser.parse_args(argv)

    from memlab.gui.main_window import MainWindow
    from memlab.instruments.bench import load_bench

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setFont(QtGui.QFont("DejaVu Sans", 9))
    folder = args.folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    home = Path.cwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # the pictures show the run folder as "runs", not this machine's temp path
        settings = QtCore.QSettings(str(Path(tmp) / "dashboard.ini"), QtCore.QSettings.Format.IniFormat)
        window = MainWindow(bench=load_bench(None), out_dir=Path("runs"), settings=settings,
                            connect=False, operator="technician")
        window.confirm = lambda title, text: True
        window.resize(*SIZE)
        window.show()
        window.default_layout()
        controller, panel, chip = window.controller, window.procedure_panel, window.chip_map
        panel.select_procedure("iv-sweep")
        chip.select([(3, 4)])
        settle(app)
        save(window, folder / "dashboard-idle.png")

        # a readout of the top-left 8 x 8 devices, so the chip map has something to show
        chip.select([(r, c) for r in range(8) for c in range(8)])
        panel.select_procedure("readout")
        panel.form.set_values({"reads": 3})
        panel.start()
        wait_for(lambda: not controller.running and controller.last_result is not None)
        chip.mark((6, 2), "failed")
        chip.mark((1, 6), "stuck")

        # an I-V sweep on device (3, 4), photographed during its fourth loop
        chip.select([(3, 4)])
        panel.select_procedure("iv-sweep")
        panel.form.set_values({"cycles": 8, "v_max": 1.5, "v_min": -1.5, "step_v": 0.02})
        hold = HoldAtBatch("iv", 4)
        controller.extra_listeners = [hold]
        panel.add_to_queue()  # shows the queue with something waiting
        panel.start()
        wait_for(hold.reached.is_set)
        wait_for(lambda: window.live.plots.points("iv") >= 4 * 10)
        settle(app)
        save(window, folder / "dashboard.png")
        hold.release.set()
        wait_for(lambda: not controller.running)
        controller.clear_queue()

        # a campaign over four devices, photographed during its fifth run
        campaign = window.campaign_panel
        campaign.new_plan()
        panel.select_procedure("readout")
        panel.form.set_values({"reads": 2})
        campaign.add_current_step()
        panel.select_procedure("iv-sweep")
        panel.form.set_values({"cycles": 2, "v_max": 1.2, "v_min": -1.2, "step_v": 0.02})
        campaign.add_current_step()
        panel.select_procedure("retention")
        campaign.add_current_step()
        chip.select([(r, c) for r in (10, 11) for c in (2, 3)])
        campaign.use_selected_devices()
        campaign.name_edit.setText("night-1")
        campaign.name_edit.editingFinished.emit()
        campaign.check()
        hold = HoldAtBatch("iv", 2, run=5)  # the second device's I-V sweep
        controller.extra_listeners = [hold]
        window.central.setCurrentWidget(campaign)
        campaign.run()
        wait_for(hold.reached.is_set)
        settle(app)
        save(window, folder / "dashboard-campaign.png")
        hold.release.set()
        wait_for(lambda: campaign.runner is None, timeout_s=120)
        controller.extra_listeners = []

        # the run browser: every run of the session (the campaign's in its subfolder), one opened
        browser = window.browser
        window.central.setCurrentWidget(browser)
        browser.refresh()
        wait_for(lambda: len(browser.rows) >= 10)
        target = next(r for r in browser.rows if r.procedure == "iv-sweep" and r.status == "completed")
        browser.open_run(target.path)
        wait_for(lambda: browser.current is not None)
        settle(app)
        save(window, folder / "dashboard-browser.png")
        window.close()
        os.chdir(home)
    return 0


if __name__ == "__main__":
    sys.exit(main())
