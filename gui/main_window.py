"""The dashboard's main window: live plots in the middle, dockable panels around them.

Layout and last-used settings (procedure, parameter values, folders, chip-map quantity, log level)
are saved with QSettings when the window closes and restored when it opens.
"""

from __future__ import annotations

import gc
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from memlab.gui.bench_panel import ALL_OFF_STYLE, BenchPanel
from memlab.gui.bridge import QtLogHandler
from memlab.gui.campaign_panel import CampaignPanel
from memlab.gui.chip_map import ChipMap
from memlab.gui.controller import Controller, queue_from_json, queue_to_json, values_for_settings
from memlab.gui.live_plots import PlotArea, StreamInfo
from memlab.gui.log_panel import LogPanel
from memlab.gui.procedure_panel import ProcedurePanel
from memlab.gui.run_browser import RunBrowser, device_history, load_run
from memlab.gui.units import format_quantity
from memlab.gui.widgets import ElidedLabel, scrolling
from memlab.storage import StreamSpec

SETTINGS_VERSION = 2
GIL_SWITCH_INTERVAL_S = 0.0002
"""While the dashboard is open, Python switches threads at least this often (default 5 ms): the GUI
thread then waits less behind a simulated run, which is pure Python in a worker thread (a switch is
forced only when another thread waits, so a run alone is not slowed). Measured with
benchmarks/bench_gui.py: 1 ms left p99 lateness of 50-420 ms, 0.2 ms brings it to about 15-70 ms."""
"""Bump when docks are renamed, so an old saved layout is not applied to new panels."""
STATUS_TEXT = {"completed": "#2e7d32", "aborted": "#ef6c00", "failed": "#c62828", "running": "#1565c0"}


def configure_pyqtgraph() -> None:
    """Dark-on-white plots (readable in print and in the docs); no antialiasing, for speed."""
    pg.setConfigOptions(background="w", foreground="k", antialias=False)


class LivePanel(QtWidgets.QWidget):
    """The central area: what runs now, its plots, and a run to compare with."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = ElidedLabel("Live plots - no run yet")  # a long file name never widens the window
        self.title.setObjectName("live_title")
        self.title.setStyleSheet("font-weight: bold;")
        self.compare_button = QtWidgets.QPushButton("Compare…")
        self.compare_button.setToolTip("Compare with a run file: overlay a previous run (dashed grey) on these plots")
        self.clear_button = QtWidgets.QPushButton("Clear")
        self.clear_button.setToolTip("Remove the overlaid run")
        self.clear_button.setEnabled(False)
        self.save_button = QtWidgets.QPushButton("Save plot…")
        self.save_button.setObjectName("save_plot_button")
        self.save_button.setToolTip("Save these plots as PNG or SVG")
        self.export_button = QtWidgets.QPushButton("Export CSV…")
        self.export_button.setObjectName("export_data_button")
        self.export_button.setToolTip("Write the run's data so far as CSV files (one per stream)")
        self.plots = PlotArea()
        self.plots.setObjectName("live_plots")
        self.save_button.clicked.connect(lambda: self.plots.save_dialog(self))
        self.export_button.clicked.connect(self._export)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.title, 1)
        for button in (self.compare_button, self.clear_button, self.save_button, self.export_button):
            top.addWidget(button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.plots, 1)
        self.file_stem = "run"

    def _export(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder for the CSV files")
        if folder:
            written = self.plots.export_csv(folder, self.file_stem)
            logging.getLogger("memlab.gui").info("exported %d CSV file(s) to %s", len(written), folder)


_GUI_THREAD_COLLECTOR: Any = None


def collect_garbage_in_the_gui_thread() -> None:
    """Python's cycle collector runs in whichever thread happens to allocate. Freeing a Qt widget
    from a run's thread deadlocks against the GUI thread (seen in the test suite), so automatic
    collection is switched off and pyqtgraph's collector runs it from the event loop instead."""
    global _GUI_THREAD_COLLECTOR
    if _GUI_THREAD_COLLECTOR is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _GUI_THREAD_COLLECTOR = GarbageCollector(interval=1.0)
    gc.disable()


class MainWindow(QtWidgets.QMainWindow):
    """See the module docstring.

    :param bench: an opened bench to use (e.g. in tests); otherwise the window connects to
        ``bench_path`` (None: the built-in simulated bench) in the background when it opens.
    :param settings: where layout and settings live (default: the user's memlab settings).
    :param run_mode: where runs execute (:data:`~memlab.gui.controller.RUN_MODES`; default: a worker
        process for a simulated bench, a thread for a real one).
    """

    def __init__(self, *, bench: Any = None, bench_path: str | None = None, out_dir: str | Path | None = None,
                 settings: QtCore.QSettings | None = None, connect: bool = True, operator: str | None = None,
                 family: str | None = None, run_mode: str = "auto") -> None:
        super().__init__()
        configure_pyqtgraph()
        collect_garbage_in_the_gui_thread()
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, GIL_SWITCH_INTERVAL_S))
        self.settings = settings if settings is not None else QtCore.QSettings("memlab", "dashboard")
        saved_out = self.settings.value("runs/out_dir", "", type=str)
        self.controller = Controller(bench, bench_path=bench_path,
                                     out_dir=out_dir if out_dir is not None else (saved_out or "runs"),
                                     operator=operator, run_mode=run_mode, parent=self)
        self.controller.family = family  # chip family for Connect (None: as the bench file says)
        self.confirm = self._ask  # replaced by tests to answer the close question
        self._closed = False
        self._warmed_on_open = False
        self.setWindowTitle("memlab dashboard")

        self.live = LivePanel()
        self.central = QtWidgets.QTabWidget()
        self.central.setObjectName("central_tabs")
        self.central.setDocumentMode(True)
        self.setCentralWidget(self.central)
        self.bench_panel = BenchPanel(self.controller)
        self.chip_map = ChipMap(1, 1)
        self.procedure_panel = ProcedurePanel(self.controller)
        self.browser = RunBrowser(self.controller.out_dir)
        self.log_panel = LogPanel()

        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        # the side docks take the full height; the log sits under the plots only
        self.setCorner(QtCore.Qt.Corner.BottomLeftCorner, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(QtCore.Qt.Corner.BottomRightCorner, QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        self._add_dock("chip", "Chip map", self.chip_map, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, scroll=False)
        self._add_dock("bench", "Bench", self.bench_panel, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea)
        # the procedure panel scrolls its own form
        self._add_dock("procedure", "Procedure", self.procedure_panel, QtCore.Qt.DockWidgetArea.RightDockWidgetArea,
                       scroll=False)
        self._add_dock("log", "Log", self.log_panel, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, scroll=False)
        # the run browser needs room: a full-size tab beside the live plots, not a strip of a dock
        self.central.addTab(self.live, "Live")
        self.central.addTab(self.browser, "Run browser")
        self.campaign_panel = CampaignPanel(
            self.controller, self.settings,
            current_form=lambda: (self.procedure_panel.name, self.procedure_panel.form.raw_values()),
            selected_devices=lambda: list(self.chip_map.selected))
        self.central.addTab(self.campaign_panel, "Campaign")

        self._make_toolbar()
        self._make_menus()
        self.status_label = ElidedLabel()
        self.status_label.setMinimumWidth(200)
        self.statusBar().addWidget(self.status_label, 1)
        self._default_state = self.saveState(SETTINGS_VERSION)

        self.log_handler = QtLogHandler()
        self.log_handler.emitter.record.connect(self.log_panel.add_record)
        logging.getLogger().addHandler(self.log_handler)

        c = self.controller
        c.message.connect(lambda level, source, text: self.log_panel.add(level, source, text))
        c.bench_changed.connect(self._bench_changed)
        c.run_started.connect(self._run_started)
        c.run_batch.connect(self._run_batch)
        c.run_finished.connect(self._run_finished)
        c.running_changed.connect(self._running_changed)
        self.chip_map.selection_changed.connect(self._selection_changed)
        self.chip_map.device_clicked.connect(self.show_device_history)
        c.queue_changed.connect(self._save_queue)
        self.campaign_panel.campaign_ended.connect(lambda _status, folder: self.browser.refresh())
        self.campaign_panel.device_state.connect(lambda device, state: self.chip_map.mark(device, state))
        self.browser.compare_requested.connect(self.compare_with)
        self.browser.chip_map_requested.connect(self._chip_from_run)
        self.live.compare_button.clicked.connect(self._compare_file)
        self.live.clear_button.clicked.connect(self.clear_comparison)

        self.resize(self._fitting_size(1600, 1000))
        self.live.plots.warm()  # now, while nothing runs: a run's start then takes ready-made plots
        self._layout_pending = True  # default dock sizes, unless a saved layout is restored
        self._restore()
        self._restore_queue()
        self._bench_changed(c.bench)
        self.browser.open_folder(self.settings.value("browser/folder", "", type=str) or c.out_dir)
        if c.bench is None and connect:
            c.connect_bench()

    # -- construction ----------------------------------------------------------------------------
    def _fitting_size(self, width: int, height: int) -> QtCore.QSize:
        """At most ``width`` x ``height``, and never more than the screen has room for."""
        screen = self.screen() or QtGui.QGuiApplication.primaryScreen()
        if screen is not None:
            room = screen.availableGeometry()
            width, height = min(width, room.width()), min(height, room.height())
        return QtCore.QSize(width, height)

    def _add_dock(self, key: str, title: str, widget: QtWidgets.QWidget, area: QtCore.Qt.DockWidgetArea,
                  scroll: bool = True) -> None:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(f"dock_{key}")  # saveState/restoreState find docks by name
        dock.setWidget(scrolling(widget) if scroll else widget)  # a small screen scrolls the dock
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        self.docks[key] = dock

    def _make_toolbar(self) -> None:
        bar = self.addToolBar("Run")
        bar.setObjectName("toolbar_run")
        bar.setMovable(False)
        bar.toggleViewAction().setEnabled(False)  # the emergency button must not be hidden by mistake
        self.all_off_button = QtWidgets.QPushButton("■  ALL OUTPUTS OFF")
        self.all_off_button.setObjectName("all_off_button")
        self.all_off_button.setStyleSheet(ALL_OFF_STYLE)
        self.all_off_button.setToolTip("Abort any run, hold the queue, set every source to 0 V / off "
                                       "and the laser off (Ctrl+Shift+X)")
        self.all_off_button.clicked.connect(self.all_outputs_off)
        self.shortcuts = {
            "Ctrl+R": ("Start the run in the procedure form", self.procedure_panel.start),
            "Ctrl+.": ("Abort the run", self.controller.abort),
            "Ctrl+E": ("Add the form's run to the queue", self.procedure_panel.add_to_queue),
            "Ctrl+Shift+X": ("ALL OUTPUTS OFF: abort, hold the queue, every source and the laser off",
                             self.all_outputs_off),
        }
        for keys, (_, action) in self.shortcuts.items():
            shortcut = QtGui.QShortcut(QtGui.QKeySequence(keys), self)
            shortcut.setContext(QtCore.Qt.ShortcutContext.ApplicationShortcut)
            shortcut.activated.connect(action)
        self.toolbar_abort = QtWidgets.QPushButton("Abort run")
        self.toolbar_abort.setEnabled(False)
        self.toolbar_abort.clicked.connect(self.controller.abort)
        self.run_state = ElidedLabel("idle")
        self.run_state.setMinimumWidth(160)
        self.run_state.setObjectName("run_state")
        bar.addWidget(self.all_off_button)
        bar.addSeparator()
        bar.addWidget(self.toolbar_abort)
        bar.addSeparator()
        bar.addWidget(self.run_state)

    def _make_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction("Open run folder…", self.browser._browse)
        file_menu.addAction("Compare with run file…", self._compare_file)
        file_menu.addSeparator()
        file_menu.addAction("Close dashboard", self.close)
        view = self.menuBar().addMenu("&View")
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        view.addAction("Live plots", lambda: self.central.setCurrentWidget(self.live))
        view.addAction("Run browser", lambda: self.central.setCurrentWidget(self.browser))
        view.addAction("Campaign", lambda: self.central.setCurrentWidget(self.campaign_panel))
        view.addSeparator()
        view.addAction("Reset layout", self.default_layout)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction("Keyboard shortcuts", self.show_shortcuts)

    def shortcuts_text(self) -> str:
        return "\n".join(f"{keys}\t{what}" for keys, (what, _) in self.shortcuts.items())

    def show_shortcuts(self) -> None:
        QtWidgets.QMessageBox.information(self, "Keyboard shortcuts", self.shortcuts_text())

    # -- reactions -------------------------------------------------------------------------------
    def _bench_changed(self, bench: Any) -> None:
        if bench is None:
            self.status_label.setText("bench: not connected")
            return
        chip = bench.chip_info() if hasattr(bench, "chip_info") else {}
        rows, cols = int(chip.get("rows", 1)), int(chip.get("cols", 1))
        if (rows, cols) != (self.chip_map.rows, self.chip_map.cols):
            self.chip_map.resize_chip(rows, cols)
        kind = "simulated" if getattr(bench, "simulated", False) else "real"
        name = getattr(getattr(bench, "config", None), "name", "bench")
        self.status_label.setText(f"bench: {name} ({kind}), chip {chip.get('family', '?')} {rows} x {cols}")
        self.browser.live_chip = (rows, cols)
        self.campaign_panel.show_saved_progress()
        self.setWindowTitle(f"memlab dashboard - {name}")

    def _selection_changed(self, devices: list) -> None:
        self.procedure_panel.set_devices(devices, self.chip_map.all_selected)
        if devices:
            self.bench_panel.set_device(devices[0])

    def show_device_history(self, device: tuple) -> None:
        """A clicked device's runs (from the run browser's listing) and its latest figures."""
        runs = device_history(self.browser.rows, device)
        row, col = int(device[0]), int(device[1])
        g = self.chip_map.conductance_s[row, col] if row < self.chip_map.rows and col < self.chip_map.cols else np.nan
        figure = f"G = {format_quantity(float(g), 'S')}" if np.isfinite(g) else "not read in this session"
        if not runs:
            text = f"({row},{col}): no runs in {self.browser.folder.name or self.browser.folder}; {figure}"
            tip = text
        else:
            latest = runs[0]
            when = latest.start_time.replace("T", " ")[:16]
            counts = {}
            for run in runs:
                counts[run.procedure] = counts.get(run.procedure, 0) + 1
            text = (f"({row},{col}): {len(runs)} runs ({', '.join(f'{n} {p}' for p, n in counts.items())}); "
                    f"latest {latest.procedure} {latest.status} {when}; {figure}")
            tip = "\n".join(f"{r.start_time.replace('T', ' ')[:19]}  {r.procedure:<22} {r.status:<10} {r.path.name}"
                            for r in runs[:30])
        self.chip_map.history.setText(text)
        self.chip_map.history.setToolTip(tip)

    def _run_started(self, info: dict) -> None:
        streams = [StreamInfo.from_spec(s) for s in info.get("streams", ()) if isinstance(s, StreamSpec)]
        self.live.plots.setup(streams, tuple(info.get("plots", ())), staged=True)
        path = Path(info.get("path", ""))
        self._set_title(info.get("procedure", ""), "running", "", path.name)
        self.live.file_stem = path.stem or "run"
        self.browser.live_procedure = info.get("procedure")
        if self.central.currentWidget() is self.browser:  # a run started: show it (a campaign's grid stays)
            self.central.setCurrentWidget(self.live)
        self.run_state.setText(f"running {info.get('procedure', '')}")

    def _run_batch(self, stream: str, batch: dict) -> None:
        self.live.plots.feed(stream, batch)
        devices = [tuple(d) for d in self.controller.run_info.get("devices", [])]
        self.chip_map.update_from_batch(stream, batch, devices, live=True)

    def _run_finished(self, status: str, error: str, path: str) -> None:
        self.live.plots.refresh()
        QtCore.QTimer.singleShot(500, self._warm_plots)
        self.chip_map.flush()
        self._set_title(self.controller.run_info.get("procedure", ""), status,
                        error if status != "completed" else "", Path(path).name)
        self.run_state.setText(f"last run {status}")
        if path and Path(path).parent.resolve() == self.browser.folder.resolve():
            self.browser.refresh()

    def _warm_plots(self) -> None:
        """Build the next run's plots ahead, one per event-loop pause and only while nothing runs
        (building one takes tens of milliseconds of the GUI thread)."""
        plots = self.live.plots
        if self._closed or self.controller.running or len(plots._spare) >= 4:
            return
        plots.warm(len(plots._spare) + 1)
        QtCore.QTimer.singleShot(100, self._warm_plots)

    def _set_title(self, procedure: str, status: str, error: str, filename: str) -> None:
        """The live pane's one-line title, coloured by status; a long error is elided (whole in the tooltip)."""
        detail = f" ({error})" if error else ""
        self.live.title.setText(f"{procedure} - {status}{detail} - {filename}")
        self.live.title.setStyleSheet(f"font-weight: bold; color: {STATUS_TEXT.get(status, '#000000')};")

    def _running_changed(self, running: bool) -> None:
        self.toolbar_abort.setEnabled(running)
        if not running and self.run_state.text().startswith("running"):
            self.run_state.setText("idle")

    def all_outputs_off(self) -> None:
        self.controller.all_outputs_off()
        self.bench_panel.outputs_off_shown()

    # -- comparison ------------------------------------------------------------------------------
    def compare_with(self, label: str, streams: dict) -> None:
        self.live.plots.set_reference(label, streams)
        self.live.clear_button.setEnabled(True)
        self.log_panel.add(logging.INFO, "plots", f"comparing with {label}")

    def clear_comparison(self) -> None:
        self.live.plots.clear_reference()
        self.live.clear_button.setEnabled(False)

    def _compare_file(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Run to compare with", str(self.browser.folder),
                                                        "Run files (*.h5 *.hdf5)")
        if path:
            self.compare_path(path)

    def compare_path(self, path: str | Path) -> None:
        """Overlay the run in ``path`` (read in the background) on the live plots."""
        def done(data: Any, error: BaseException | None) -> None:
            if error is not None:
                self.log_panel.add(logging.ERROR, "plots", f"cannot compare with {Path(path).name}: {error}")
            else:
                self.compare_with(f"{Path(path).stem} ({data.summary.get('status', '')})", data.arrays)

        self.browser.worker.submit(lambda: load_run(Path(path)), done)

    def _chip_from_run(self, stream: str, columns: dict, devices: list) -> None:
        self.chip_map.update_from_batch(stream, columns, devices)

    # -- settings --------------------------------------------------------------------------------
    def _save_queue(self) -> None:
        """The run queue is written at every change: a crash or a restart does not lose it."""
        self.settings.setValue("queue/runs", queue_to_json(self.controller.queue))

    def _restore_queue(self) -> None:
        items, problems = queue_from_json(self.settings.value("queue/runs", "", type=str))
        for problem in problems:
            self.log_panel.add(logging.WARNING, "queue", f"a saved queued run was dropped: {problem}")
        if items:
            self.controller.queue_held = True  # a restarted dashboard waits for a person to go on
            self.controller.queue.extend(items)
            self.controller.queue_changed.emit()
            self.log_panel.add(logging.INFO, "queue", f"{len(items)} queued run(s) restored from the last "
                                                      "session; press Run queue to go on")

    def _restore(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry")
        if isinstance(geometry, (QtCore.QByteArray, bytes)):
            self.restoreGeometry(geometry)
        state = s.value("window/state")
        if isinstance(state, (QtCore.QByteArray, bytes)) and self.restoreState(state, SETTINGS_VERSION):
            self._layout_pending = False
        for name in self.procedure_panel.procedures:
            saved = s.value(f"procedure/values/{name}", "", type=str)
            if saved:
                try:
                    self.procedure_panel.form_for(name).set_values(json.loads(saved))
                except (ValueError, TypeError):
                    pass  # an unreadable old entry: keep the defaults
        current = s.value("procedure/current", "", type=str)
        if current in self.procedure_panel.procedures:
            self.procedure_panel.select_procedure(current)
        quantity = self.chip_map.quantity.findData(s.value("chip/quantity", "conductance", type=str))
        if quantity >= 0:
            self.chip_map.quantity.setCurrentIndex(quantity)
        level = self.log_panel.level.findText(s.value("log/level", "INFO", type=str))
        if level >= 0:
            self.log_panel.level.setCurrentIndex(level)

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState(SETTINGS_VERSION))
        s.setValue("procedure/current", self.procedure_panel.name)
        for name, form in self.procedure_panel.forms.items():
            if form.valid:
                s.setValue(f"procedure/values/{name}", json.dumps(values_for_settings(form.make().values)))
        s.setValue("runs/out_dir", str(self.controller.out_dir))
        s.setValue("browser/folder", str(self.browser.folder))
        s.setValue("chip/quantity", self.chip_map.quantity.currentData())
        s.setValue("log/level", self.log_panel.level.currentText())
        s.sync()

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        if not self._warmed_on_open:  # the first run's plots are built while the window is idle
            self._warmed_on_open = True
            QtCore.QTimer.singleShot(300, self._warm_plots)
        if self._layout_pending:  # dock sizes only take effect once the window has a size
            self._layout_pending = False
            self.default_layout()

    def default_layout(self) -> None:
        """Bench and chip map left, procedure right, plots in the middle, log and browser below."""
        self.restoreState(self._default_state, SETTINGS_VERSION)
        width = self.width()
        self.resizeDocks([self.docks["chip"], self.docks["procedure"]],
                         [max(330, int(width * 0.25)), max(360, int(width * 0.27))], QtCore.Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["chip"], self.docks["bench"]], [int(self.height() * 0.56), int(self.height() * 0.44)],
                         QtCore.Qt.Orientation.Vertical)
        self.resizeDocks([self.docks["log"]], [int(self.height() * 0.16)], QtCore.Qt.Orientation.Vertical)

    # -- closing ---------------------------------------------------------------------------------
    def _ask(self, title: str, text: str) -> bool:
        answer = QtWidgets.QMessageBox.question(
            self, title, text, QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.No,
            QtWidgets.QMessageBox.StandardButton.No)
        return answer == QtWidgets.QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        if self._closed:
            event.accept()
            return
        if self.controller.running and not self.confirm(
                "A run is in progress",
                "A run is in progress. Abort it, switch every output off and close the dashboard?"):
            event.ignore()
            return
        self.save_settings()
        self.setEnabled(False)
        self.statusBar().showMessage("Aborting and switching outputs off…")
        problems = self.controller.shutdown()
        for problem in problems:
            logging.getLogger("memlab.gui").error("closing: %s", problem)
        self.browser.shutdown()
        logging.getLogger().removeHandler(self.log_handler)
        sys.setswitchinterval(self._switch_interval)
        self._closed = True
        event.accept()
