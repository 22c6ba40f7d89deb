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

from memlab.gui.live_plots import ColumnInfo, PlotArea, StreamInfo, write_csv
from memlab.gui.tasks import BenchWorker
from memlab.gui.widgets import ElidedLabel
from memlab.procedures import PlotHint, get_procedure
from memlab.storage import RunFileError, RunReader

RUN_SUFFIXES = (".h5", ".hdf5")
FOLLOW_INTERVAL_S = 1.0
"""How often a run file still being written is checked for new rows (the writer flushes about
once a second, so reading more often finds nothing new)."""
STATUS_COLOURS = {"completed": "#2e7d32", "aborted": "#ef6c00", "failed": "#c62828",
                  "interrupted": "#c62828", "running": "#1565c0", "unreadable": "#c62828"}


COLUMNS = ("file", "procedure", "device", "chip", "started", "status", "key parameters")
_NOT_KEY = {"row", "col", "devices"}  # already in the device column


@dataclass
class RunRow:
    path: Path
    procedure: str = ""
    devices: str = ""
    start_time: str = ""
    status: str = ""
    error: str = ""
    chip: str = ""
    chip_size: tuple[int, int] | None = None
    parameters: str = ""
    folder: str = ""  # the subfolder (e.g. a campaign's) relative to the browsed folder
    device_list: tuple[tuple[int, int], ...] = ()

    def cells(self) -> list[str]:
        started = self.start_time.replace("T", " ")[:19] if self.start_time else ""
        name = f"{self.folder}/{self.path.name}" if self.folder else self.path.name
        return [name, self.procedure, self.devices, self.chip, started, self.status, self.parameters]

    def matches(self, text: str) -> bool:
        """Every word of ``text`` appears in some column (case-insensitive)."""
        haystack = " ".join(self.cells()).lower()
        return all(word in haystack for word in text.lower().split())


def key_parameters(parameters: Mapping[str, Any], units: Mapping[str, str], limit: int = 4) -> str:
    """The first few parameters of a run, with units, for a table column: "v_max=1.5 V, cycles=3"."""
    parts = []
    for name, value in parameters.items():
        if name in _NOT_KEY or len(parts) >= limit:
            continue
        unit = units.get(name, "")
        if isinstance(value, float):
            from memlab.gui.units import format_quantity
            text = format_quantity(value, unit) if unit else f"{value:g}"
        else:
            text = f"{value} {unit}".strip()
        parts.append(f"{name}={text}")
    return ", ".join(parts)


def describe_chip(chip: Mapping[str, Any]) -> tuple[str, tuple[int, int] | None]:
    rows, cols = chip.get("rows"), chip.get("cols")
    size = (int(rows), int(cols)) if rows is not None and cols is not None else None
    text = " ".join(str(x) for x in (chip.get("family", ""), f"{rows}x{cols}" if size else "") if x)
    return text, size


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


def device_history(rows: list[RunRow], device: tuple[int, int]) -> list[RunRow]:
    """The runs (newest first, as listed) that touched ``device``."""
    device = (int(device[0]), int(device[1]))
    return [row for row in rows if device in row.device_list]


def run_files(folder: Path) -> list[Path]:
    """The run files in ``folder`` and its subfolders (campaigns write theirs in one each)."""
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder).parts
        if any(part.startswith(".") for part in relative):
            continue
        if path.suffix.lower() in RUN_SUFFIXES and path.is_file():
            found.append(path)
    return found


def scan_folder(folder: Path, known: dict[Path, tuple[tuple[float, int], RunRow]] | None = None) -> list[RunRow]:
    """A row per run file in ``folder`` and below, newest first; a damaged or foreign file is
    listed as unreadable with the reason (it never fails the listing). ``known`` (path -> (stat,
    row)) keeps the rows of files unchanged since the last scan, so a rescan after each run reads
    only the new file, not the whole night's; it is updated in place."""
    stamped = []
    for path in run_files(folder):
        try:
            stat = path.stat()
            stamped.append((stat.st_mtime, stat.st_size, path))
        except OSError:
            continue  # deleted while listing
    stamped.sort(key=lambda item: item[0], reverse=True)
    rows = []
    for mtime, size, path in stamped:
        cached = known.get(path) if known is not None else None
        if cached is not None and cached[0] == (mtime, size) and cached[1].status != "running":
            rows.append(cached[1])
            continue
        sub = path.parent.relative_to(folder).as_posix()
        sub = "" if sub == "." else sub
        try:
            with RunReader(path) as reader:
                chip_text, chip_size = describe_chip(reader.chip or {})
                rows.append(RunRow(path, reader.procedure, describe_devices(reader.devices),
                                   reader.start_time, reader.status, reader.error, chip_text, chip_size,
                                   key_parameters(reader.parameters, reader.parameter_units), sub,
                                   tuple((int(r), int(c)) for r, c in np.asarray(reader.devices).reshape(-1, 2))))
        except Exception as exc:  # noqa: BLE001 - any damage: a row saying why, never a failed listing
            rows.append(RunRow(path, "?", "", "", "unreadable", f"{type(exc).__name__}: {exc}", folder=sub))
        if known is not None:
            known[path] = ((mtime, size), rows[-1])
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
        self._closed = False
        self._known: dict[Path, tuple[tuple[float, int], RunRow]] = {}  # the file worker's scan cache
        self._known_folder: Path | None = None

        self.folder_edit = QtWidgets.QLineEdit(str(self.folder))
        self.folder_edit.setObjectName("browser_folder")
        self.folder_edit.editingFinished.connect(lambda: self.open_folder(self.folder_edit.text()))
        browse = QtWidgets.QPushButton("Open folder…")
        browse.clicked.connect(self._browse)
        refresh = QtWidgets.QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)

        self.filter_edit = QtWidgets.QLineEdit()
        self.filter_edit.setObjectName("browser_filter")
        self.filter_edit.setPlaceholderText("Filter: words from any column (procedure, device, chip, date…)")
        self.filter_edit.setClearButtonEnabled(True)
        self.procedure_filter = QtWidgets.QComboBox()
        self.procedure_filter.setObjectName("browser_procedure_filter")
        self.status_filter = QtWidgets.QComboBox()
        self.status_filter.setObjectName("browser_status_filter")
        for box, everything in ((self.procedure_filter, "all procedures"), (self.status_filter, "all statuses")):
            box.addItem(everything, "")
            box.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(6)
            box.currentIndexChanged.connect(self._apply_filter)
        self.filter_edit.textChanged.connect(self._apply_filter)

        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("run_table")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSortingEnabled(True)  # click a header to sort by it
        self.table.setWordWrap(False)
        self.table.setTextElideMode(QtCore.Qt.TextElideMode.ElideMiddle)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((200, 110, 80, 110, 130, 80, 200)):
            self.table.setColumnWidth(column, width)
        self.table.setMinimumSize(200, 60)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        self.table.cellDoubleClicked.connect(lambda row, _col: self._open_row(row))

        self.open_button = QtWidgets.QPushButton("Open")
        self.open_button.setToolTip("Plot the selected run (or double-click it)")
        self.open_button.clicked.connect(self._open_selected)
        self.compare_button = QtWidgets.QPushButton("Compare live")
        self.compare_button.setToolTip("Overlay this run, dashed grey, on the live plots of the current run")
        self.compare_button.clicked.connect(self._compare)
        self.chip_button = QtWidgets.QPushButton("To chip map")
        self.chip_button.setToolTip("Put this run's conductance reads on the chip map")
        self.chip_button.clicked.connect(self._to_chip_map)
        self.save_plot_button = QtWidgets.QPushButton("Save plot…")
        self.save_plot_button.setToolTip("Save the plots shown as PNG or SVG")
        self.save_plot_button.clicked.connect(lambda: self.plots.save_dialog(self))
        self.export_button = QtWidgets.QPushButton("Export CSV…")
        self.export_button.setToolTip("Write this run's streams as CSV files (one per stream)")
        self.export_button.clicked.connect(self._export)
        for button in (self.compare_button, self.chip_button, self.save_plot_button, self.export_button):
            button.setEnabled(False)
        self.state = ElidedLabel("")
        self.state.setObjectName("browser_state")
        self.live_chip: tuple[int, int] | None = None  # the connected chip's size, for the mismatch warning
        self.live_procedure: str | None = None  # what the live plots show, for refusing comparisons

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
        filters = QtWidgets.QHBoxLayout()
        filters.addWidget(self.filter_edit, 1)
        filters.addWidget(self.procedure_filter)
        filters.addWidget(self.status_filter)
        left_layout.addLayout(filters)
        left_layout.addWidget(self.table, 1)
        actions = QtWidgets.QHBoxLayout()
        for button in (self.open_button, self.compare_button, self.chip_button, self.save_plot_button,
                       self.export_button):
            actions.addWidget(button)
        actions.addStretch(1)
        left_layout.addLayout(actions)
        left_layout.addWidget(self.state)
        # the list above the plots: both get the tab's whole width, and it never needs more
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        splitter.addWidget(left)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
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
        if self._closed:
            return
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
        if self._known_folder != self.folder:
            self._known, self._known_folder = {}, self.folder
        known = self._known
        self.worker.submit(lambda folder=self.folder: scan_folder(folder, known), self._listed)

    def _listed(self, rows: list[RunRow] | None, error: BaseException | None) -> None:
        self._scanning = False
        if error is not None:
            self.state.setText(f"Cannot list {self.folder}: {error}")
            rows = []
        self.rows = rows or []
        self.table.setSortingEnabled(False)  # fill first, then sort once
        self.table.setRowCount(len(self.rows))
        status_column = COLUMNS.index("status")
        for index, row in enumerate(self.rows):
            tip = f"{row.path}\n{row.status}" + (f": {row.error}" if row.error else "")
            for column, text in enumerate(row.cells()):
                item = QtWidgets.QTableWidgetItem(text)
                item.setToolTip(tip)
                item.setData(QtCore.Qt.ItemDataRole.UserRole, index)
                if column == status_column and row.status in STATUS_COLOURS:
                    item.setForeground(QtGui.QColor(STATUS_COLOURS[row.status]))
                self.table.setItem(index, column, item)
        self.table.setSortingEnabled(True)
        self._fill_filter(self.procedure_filter, sorted({r.procedure for r in self.rows if r.procedure != "?"}))
        self._fill_filter(self.status_filter, sorted({r.status for r in self.rows}))
        self._apply_filter()
        skipped = sum(r.status == "unreadable" for r in self.rows)
        if error is None:
            folders = len({r.folder for r in self.rows if r.folder})
            self.state.setText(f"{len(self.rows) - skipped} run files"
                               + (f" (in {folders} subfolders too)" if folders else "")
                               + (f"; {skipped} skipped as unreadable (hover a row for why)" if skipped else ""))
        if self._rescan:
            self._rescan = False
            self.refresh()

    @staticmethod
    def _fill_filter(box: QtWidgets.QComboBox, values: list[str]) -> None:
        current = box.currentData()
        box.blockSignals(True)
        while box.count() > 1:
            box.removeItem(1)
        for value in values:
            box.addItem(value, value)
        index = box.findData(current)
        box.setCurrentIndex(index if index >= 0 else 0)
        box.blockSignals(False)

    def _apply_filter(self, *args: Any) -> None:
        """Hide the rows the filter text, procedure or status choice leave out."""
        text, procedure, status = self.filter_edit.text(), self.procedure_filter.currentData(), self.status_filter.currentData()
        for table_row in range(self.table.rowCount()):
            row = self._row_at(table_row)
            shown = row is not None and row.matches(text) and (not procedure or row.procedure == procedure) \
                and (not status or row.status == status)
            self.table.setRowHidden(table_row, not shown)

    def _row_at(self, table_row: int) -> RunRow | None:
        """The run in a table row (the table may be sorted differently from ``rows``)."""
        item = self.table.item(table_row, 0)
        if item is None:
            return None
        index = item.data(QtCore.Qt.ItemDataRole.UserRole)
        return self.rows[index] if isinstance(index, int) and 0 <= index < len(self.rows) else None

    def visible_rows(self) -> list[RunRow]:
        """The runs shown, in the table's order."""
        return [r for i in range(self.table.rowCount()) if not self.table.isRowHidden(i) and (r := self._row_at(i))]

    def _open_row(self, table_row: int) -> None:
        row = self._row_at(table_row)
        if row is not None:
            self.open_run(row.path)

    def row_of(self, path: str | Path) -> RunRow | None:
        name = Path(path).resolve()
        return next((r for r in self.rows if r.path.resolve() == name), None)

    # -- one run ---------------------------------------------------------------------------------
    def _open_selected(self) -> None:
        self._open_row(self.table.currentRow())

    def open_run(self, path: str | Path) -> None:
        """Read a run in the worker thread and show it; an unreadable file is reported."""
        path = Path(path)
        self.follow_timer.stop()
        self.state.setText(f"Opening {path.name} …")
        self.worker.submit(lambda: load_run(path), lambda data, error: self._show(path, data, error))

    def _show(self, path: Path, data: RunData | None, error: BaseException | None) -> None:
        if error is not None or data is None:
            self.current = None
            for button in (self.compare_button, self.chip_button, self.save_plot_button, self.export_button):
                button.setEnabled(False)
            self.metadata.clear()
            self.log_view.setPlainText("")
            self.plots.setup([], [])
            self.state.setText(f"Cannot open {path.name}: {error}")
            self.state.setStyleSheet("color: #c62828;")
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
        self.state.setStyleSheet("")
        for button in (self.compare_button, self.save_plot_button, self.export_button):
            button.setEnabled(True)
        self.chip_button.setEnabled(any("conductance" in a or "resistance" in a for a in data.arrays.values()))
        self.state.setText(f"{path.name}: {data.summary.get('procedure')} - {status}"
                           + (f" ({data.summary.get('error')})" if data.summary.get("error") else "")
                           + (" - following the file as it is written" if status == "running" else "")
                           + self._chip_warning(data.summary))
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

    def _chip_warning(self, summary: Mapping[str, Any]) -> str:
        """A warning when the run's chip is not the size of the connected one (its map would mislead)."""
        _, size = describe_chip(summary.get("chip") or {})
        if size is not None and self.live_chip is not None and size != self.live_chip:
            return (f" - WARNING: this run's chip is {size[0]} x {size[1]}, the connected chip "
                    f"{self.live_chip[0]} x {self.live_chip[1]}")
        return ""

    def comparison_problem(self, data: RunData | None) -> str | None:
        """Why ``data`` cannot be overlaid on the live plots (None: it can)."""
        if data is None:
            return "open a run first"
        procedure = data.summary.get("procedure", "")
        if self.live_procedure and procedure != self.live_procedure:
            return (f"{data.path.name} is a {procedure} run and the live plots show {self.live_procedure}: "
                    "their streams and axes differ, so nothing would overlay")
        if not any(len(next(iter(a.values()), ())) for a in data.arrays.values()):
            return f"{data.path.name} holds no data points to overlay"
        return None

    def _compare(self) -> None:
        problem = self.comparison_problem(self.current)
        if problem is not None:
            self.state.setText(f"Cannot compare: {problem}")
            self.state.setStyleSheet("color: #c62828;")
            return
        label = f"{self.current.path.stem} ({self.current.summary.get('status', '')})"
        self.compare_requested.emit(label, self.current.arrays)

    def _export(self) -> None:
        if self.current is None:
            return
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder for the CSV files", str(self.current.path.parent))
        if folder:
            written = export_csv(self.current, Path(folder))
            self.state.setText(f"Exported {len(written)} CSV file(s) to {folder}")

    def _to_chip_map(self) -> None:
        data = self.current
        if data is None:
            return
        devices = [tuple(d) for d in data.summary.get("devices", [])]
        for name, arrays in data.arrays.items():
            if "conductance" in arrays or "resistance" in arrays:
                self.chip_map_requested.emit(name, arrays, devices)

    def shutdown(self) -> None:
        """Stop every timer and the folder watcher first: none may schedule a read after the worker
        is gone (that raised "cannot schedule new futures after shutdown")."""
        self._closed = True
        self.follow_timer.stop()
        self._debounce.stop()
        self.watcher.directoryChanged.disconnect()
        if self.watcher.directories():
            self.watcher.removePaths(self.watcher.directories())
        self.worker.shutdown()


def export_csv(data: RunData, folder: Path) -> list[Path]:
    """One CSV file per stream of ``data`` in ``folder`` (array columns flattened), units in the header."""
    written = []
    for name, arrays in data.arrays.items():
        if not arrays:
            continue
        info = data.streams.get(name)
        columns = {c: (v, info.columns[c].unit if info is not None and c in info.columns else "")
                   for c, v in arrays.items()}
        written.append(write_csv(folder / f"{data.path.stem}-{name}.csv", columns))
    return written
