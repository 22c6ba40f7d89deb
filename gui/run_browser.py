"""The run browser: list the run files of a folder, open one to re-plot it, see its metadata and log.

Reading files happens in a worker thread (a folder of hundreds of runs, or a million-row stream,
must not freeze the window). A corrupted or foreign file becomes a row saying so, never an
exception. A file still being written is followed: its new rows are read as it grows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from memlab.gui.live_plots import ColumnInfo, PlotArea, StreamInfo
from memlab.gui.tasks import BenchWorker
from memlab.procedures import PlotHint, get_procedure
from memlab.storage import RunFileError, RunReader

RUN_SUFFIXES = (".h5", ".hdf5")
FOLLOW_INTERVAL_S = 1.0
"""How often a run file still being written is checked for new rows (the writer flushes about
once a second, so reading more often finds nothing new)."""
STATUS_COLOURS = {"completed": "#2e7d32", "aborted": "#ef6c00", "failed": "#c62828",
                  "interrupted": "#c62828", "running": "#1565c0", "unreadable": "#c62828"}


@dataclass
class RunRow:
    path: Path
    procedure: str = ""
    devices: str = ""
    start_time: str = ""
    status: str = ""
    error: str = ""


@dataclass
class RunData:
    """What the browser shows of one run file."""

    path: Path
    summary: dict[str, Any]
    log: list[tuple[float, int, str]]
    streams: dict[str, StreamInfo]
    arrays: dict[str, dict[str, np.ndarray]]
    rows: dict[str, int] = field(default_factory=dict)
    plots: tuple[PlotHint, ...] = ()


def describe_devices(devices: Any) -> str:
    devices = np.asarray(devices).reshape(-1, 2) if np.size(devices) else np.empty((0, 2))
    if len(devices) == 0:
        return "-"
    if len(devices) <= 3:
        return "; ".join(f"({int(r)},{int(c)})" for r, c in devices)
    return f"{len(devices)} devices"


def scan_folder(folder: Path) -> list[RunRow]:
    """A row per run file in ``folder``, newest first; unreadable files say why."""
    paths = [p for p in folder.iterdir() if p.suffix.lower() in RUN_SUFFIXES and p.is_file()]
    paths.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    rows = []
    for path in paths:
        try:
            with RunReader(path) as reader:
                rows.append(RunRow(path, reader.procedure, describe_devices(reader.devices),
                                   reader.start_time, reader.status, reader.error))
        except (RunFileError, OSError, KeyError, ValueError) as exc:
            rows.append(RunRow(path, "?", "", "", "unreadable", str(exc)))
    return rows


def load_run(path: Path, start_rows: Mapping[str, int] | None = None) -> RunData:
    """Everything about a run; with ``start_rows`` only the rows past those counts (following)."""
    with RunReader(path) as reader:
        summary = reader.summary()
        streams, arrays, rows = {}, {}, {}
        for stream in reader.streams():
            info = StreamInfo(stream.name, {c: ColumnInfo(c, stream.units.get(c, ""), stream.shape(c)[1:])
                                            for c in stream.columns})
            streams[stream.name] = info
            start = (start_rows or {}).get(stream.name, 0)
            arrays[stream.name] = stream.arrays(start)
            rows[stream.name] = start + len(next(iter(arrays[stream.name].values()), ()))
        log = reader.log()
    try:
        plots = tuple(get_procedure(summary["procedure"]).plots)
    except Exception:  # noqa: BLE001 - a procedure this memlab does not know: default plots
        plots = ()
    return RunData(Path(path), summary, log, streams, arrays, rows, plots)


class RunBrowser(QtWidgets.QWidget):
    """See the module docstring."""

    compare_requested = QtCore.Signal(str, dict)    # label, stream -> column -> array
    chip_map_requested = QtCore.Signal(str, dict, list)  # stream, columns, devices

    def __init__(self, folder: str | Path = "runs", parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = Path(folder)
        self.worker = BenchWorker(self, name="files")
        self.rows: list[RunRow] = []
        self.current: RunData | None = None
        self._scanning = False
        self._rescan = False

        self.folder_edit = QtWidgets.QLineEdit(str(self.folder))
        self.folder_edit.setObjectName("browser_folder")
        self.folder_edit.editingFinished.connect(lambda: self.open_folder(self.folder_edit.text()))
        browse = QtWidgets.QPushButton("Open folder…")
        browse.clicked.connect(self._browse)
        refresh = QtWidgets.QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)

        self.table = QtWidgets.QTableWidget(0, 5)
        self.table.setObjectName("run_table")
        self.table.setHorizontalHeaderLabels(["file", "procedure", "device", "started", "status"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        for column in range(1, 5):
            header.setSectionResizeMode(column, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(60)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.open_run(self.rows[row].path))

        self.open_button = QtWidgets.QPushButton("Open")
        self.open_button.clicked.connect(self._open_selected)
        self.compare_button = QtWidgets.QPushButton("Compare with live plots")
        self.compare_button.setToolTip("Overlay this run, dashed grey, on the live plots of the current run")
        self.compare_button.clicked.connect(self._compare)
        self.chip_button = QtWidgets.QPushButton("Show on chip map")
        self.chip_button.setToolTip("Put this run's conductance reads on the chip map")
        self.chip_button.clicked.connect(self._to_chip_map)
        for button in (self.compare_button, self.chip_button):
            button.setEnabled(False)
        self.state = QtWidgets.QLabel("")
        self.state.setObjectName("browser_state")
        self.state.setWordWrap(True)

        self.plots = PlotArea()
        self.metadata = QtWidgets.QTreeWidget()
        self.metadata.setHeaderLabels(["key", "value"])
        self.metadata.setColumnWidth(0, 220)
        self.log_view = QtWidgets.QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(self.plots, "Plots")
        self.tabs.addTab(self.metadata, "Metadata")
        self.tabs.addTab(self.log_view, "Log")

        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Folder"))
        top.addWidget(self.folder_edit, 1)
        top.addWidget(browse)
        top.addWidget(refresh)
        left = QtWidgets.QWidget()
        left_layout = QtWidgets.QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(top)
        left_layout.addWidget(self.table, 1)
        actions = QtWidgets.QHBoxLayout()
        for button in (self.open_button, self.compare_button, self.chip_button):
            actions.addWidget(button)
        actions.addStretch(1)
        left_layout.addLayout(actions)
        left_layout.addWidget(self.state)
        splitter = QtWidgets.QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        self.watcher = QtCore.QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(lambda _: self._debounce.start())
        self._debounce = QtCore.QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(500)
        self._debounce.timeout.connect(self.refresh)
        self.follow_timer = QtCore.QTimer(self)
        self.follow_timer.setInterval(int(FOLLOW_INTERVAL_S * 1000))
        self.follow_timer.timeout.connect(self._follow)
        self._following = False

    # -- the list --------------------------------------------------------------------------------
    def open_folder(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder_edit.setText(str(self.folder))
        if self.watcher.directories():
            self.watcher.removePaths(self.watcher.directories())
        if self.folder.is_dir():
            self.watcher.addPath(str(self.folder))
        self.refresh()

    def _browse(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder of run files", str(self.folder))
        if folder:
            self.open_folder(folder)

    def refresh(self) -> None:
        """List the folder again (in the worker thread)."""
        if self._scanning:
            self._rescan = True
            return
        if not self.folder.is_dir():
            self.rows = []
            self.table.setRowCount(0)
            self.state.setText(f"{self.folder} is not a folder (yet): runs will appear once it exists.")
            return
        self._scanning = True
        self.state.setText(f"Reading {self.folder} …")
        self.worker.submit(lambda folder=self.folder: scan_folder(folder), self._listed)

    def _listed(self, rows: list[RunRow] | None, error: BaseException | None) -> None:
        self._scanning = False
        if error is not None:
            self.state.setText(f"Cannot list {self.folder}: {error}")
            rows = []
        self.rows = rows or []
        self.table.setRowCount(len(self.rows))
        for index, row in enumerate(self.rows):
            started = row.start_time.replace("T", " ")[:19] if row.start_time else ""
            cells = [row.path.name, row.procedure, row.devices, started, row.status]
            for column, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                tip = f"{row.path}\n{row.status}" + (f": {row.error}" if row.error else "")
                item.setToolTip(tip)
                if column == 4 and row.status in STATUS_COLOURS:
                    item.setForeground(QtGui.QColor(STATUS_COLOURS[row.status]))
                self.table.setItem(index, column, item)
        unreadable = sum(r.status == "unreadable" for r in self.rows)
        if error is None:
            self.state.setText(f"{len(self.rows)} run files" + (f", {unreadable} unreadable (hover for why)"
                                                                  if unreadable else ""))
        if self._rescan:
            self._rescan = False
            self.refresh()

    def row_of(self, path: str | Path) -> RunRow | None:
        name = Path(path).resolve()
        return next((r for r in self.rows if r.path.resolve() == name), None)

    # -- one run ---------------------------------------------------------------------------------
    def _open_selected(self) -> None:
        index = self.table.currentRow()
        if 0 <= index < len(self.rows):
            self.open_run(self.rows[index].path)

    def open_run(self, path: str | Path) -> None:
        """Read a run in the worker thread and show it; an unreadable file is reported."""
        path = Path(path)
        self.follow_timer.stop()
        self.state.setText(f"Opening {path.name} …")
        self.worker.submit(lambda: load_run(path), lambda data, error: self._show(path, data, error))

    def _show(self, path: Path, data: RunData | None, error: BaseException | None) -> None:
        if error is not None or data is None:
            self.current = None
            self.compare_button.setEnabled(False)
            self.chip_button.setEnabled(False)
            self.metadata.clear()
            self.log_view.setPlainText("")
            self.plots.setup([], [])
            self.state.setText(f"<span style='color:#c62828'>Cannot open {path.name}: {error}</span>")
            logging.getLogger("memlab.gui").warning("cannot open %s: %s", path, error)
            return
        self.current = data
        self.plots.setup(data.streams.values(), data.plots)
        for name, arrays in data.arrays.items():
            self.plots.feed(name, arrays)
        self.plots.refresh()
        self._fill_metadata(data.summary)
        self.log_view.setPlainText("\n".join(
            f"{datetime.fromtimestamp(t).strftime('%H:%M:%S')} {logging.getLevelName(level):8s} {message}"
            for t, level, message in data.log))
        status = data.summary.get("status", "")
        self.compare_button.setEnabled(True)
        self.chip_button.setEnabled(any("conductance" in a or "resistance" in a for a in data.arrays.values()))
        self.state.setText(f"{path.name}: {data.summary.get('procedure')} - {status}"
                           + (f" ({data.summary.get('error')})" if data.summary.get("error") else "")
                           + (" - following the file as it is written" if status == "running" else ""))
        self._following = status == "running"
        if self._following:
            self.follow_timer.start()

    def _follow(self) -> None:
        data = self.current
        if data is None or self._following is False or self.worker.busy:
            return
        self.worker.submit(lambda: load_run(data.path, data.rows), self._followed)

    def _followed(self, new: RunData | None, error: BaseException | None) -> None:
        data = self.current
        if data is None or new is None or error is not None or new.path != data.path:
            return
        for name, arrays in new.arrays.items():
            if arrays and len(next(iter(arrays.values()))):
                self.plots.feed(name, arrays)
                previous = data.arrays.get(name, {})
                data.arrays[name] = {c: np.concatenate((previous[c], v)) if c in previous else v
                                     for c, v in arrays.items()}
        data.rows, data.summary, data.log = new.rows, new.summary, new.log
        status = new.summary.get("status", "")
        if status != "running":
            self.follow_timer.stop()
            self._following = False
            self._fill_metadata(new.summary)
            self.state.setText(f"{data.path.name}: {new.summary.get('procedure')} - {status}")
            self.refresh()

    def _fill_metadata(self, summary: Mapping[str, Any]) -> None:
        self.metadata.clear()

        def add(parent: QtWidgets.QTreeWidgetItem | QtWidgets.QTreeWidget, key: str, value: Any) -> None:
            item = QtWidgets.QTreeWidgetItem([key, ""])
            if isinstance(parent, QtWidgets.QTreeWidget):
                parent.addTopLevelItem(item)
            else:
                parent.addChild(item)
            if isinstance(value, Mapping):
                if set(value) == {"value", "unit"}:  # a parameter: show value with its unit
                    item.setText(1, f"{value['value']} {value['unit']}".strip())
                    return
                for k, v in value.items():
                    add(item, str(k), v)
            elif isinstance(value, list) and value and isinstance(value[0], (list, dict)):
                for index, v in enumerate(value):
                    add(item, str(index), v)
            else:
                item.setText(1, str(value))
                item.setToolTip(1, str(value))

        for key, value in summary.items():
            add(self.metadata, key, value)
        for index in range(self.metadata.topLevelItemCount()):
            item = self.metadata.topLevelItem(index)
            if item.text(0) in ("parameters", "chip"):
                item.setExpanded(True)

    def _compare(self) -> None:
        if self.current is not None:
            label = f"{self.current.path.stem} ({self.current.summary.get('status', '')})"
            self.compare_requested.emit(label, self.current.arrays)

    def _to_chip_map(self) -> None:
        data = self.current
        if data is None:
            return
        devices = [tuple(d) for d in data.summary.get("devices", [])]
        for name, arrays in data.arrays.items():
            if "conductance" in arrays or "resistance" in arrays:
                self.chip_map_requested.emit(name, arrays, devices)

    def shutdown(self) -> None:
        self.follow_timer.stop()
        self.worker.shutdown()

