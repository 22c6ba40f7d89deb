"""The procedure panel: pick a procedure, fill its generated form, start, abort and queue runs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from memlab.gui.capabilities import missing_for
from memlab.gui.chip_map import format_devices
from memlab.gui.controller import Controller, QueuedRun
from memlab.gui.forms import ParameterForm, check_instrument_limits
from memlab.gui.widgets import ElidedLabel
from memlab.gui.units import format_quantity
from memlab.procedures import ParameterError, Procedure, all_procedures


PROGRESS_S = 0.25
"""Shortest time between two updates of the progress bar and the time left."""


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return "?"
    seconds = max(0.0, float(seconds))
    if seconds < 1e-3:
        return format_quantity(seconds, "s", digits=2)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


class ProcedurePanel(QtWidgets.QWidget):
    """See the module docstring. Forms are kept per procedure, so switching back keeps values."""

    def __init__(self, controller: Controller, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.procedures: dict[str, type[Procedure]] = all_procedures()
        self.forms: dict[str, ParameterForm] = {}
        self.devices: list[tuple[int, int]] = []
        self.all_devices = False

        self.picker = QtWidgets.QComboBox()
        self.picker.setObjectName("procedure_picker")
        self.picker.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.picker.setMinimumContentsLength(24)
        for name, cls in self.procedures.items():
            self.picker.addItem(f"{cls.title or name}  ({name})", name)
        self.description = ElidedLabel()  # one line; the whole description on hover
        self.description.setStyleSheet("color: #555555;")
        self.stack = QtWidgets.QStackedWidget()
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.stack)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setMinimumHeight(120)
        scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.devices_label = ElidedLabel()
        self.estimate = ElidedLabel()
        self.estimate.setStyleSheet("color: #555555;")

        self.out_dir = QtWidgets.QLineEdit(str(controller.out_dir))
        self.out_dir.setObjectName("out_dir")
        self.out_dir.setToolTip("Folder the run files are written to")
        self.out_dir.editingFinished.connect(self._out_dir_changed)
        browse = QtWidgets.QPushButton("…")
        browse.setToolTip("Choose the folder for run files")
        browse.setFixedWidth(32)
        browse.clicked.connect(self._browse_out_dir)

        self.start_button = QtWidgets.QPushButton("▶  Start")
        self.start_button.setObjectName("start_button")
        self.start_button.setStyleSheet("QPushButton {font-weight: bold; padding: 5px 12px;}")
        self.start_button.clicked.connect(self.start)
        self.queue_button = QtWidgets.QPushButton("Add to queue")
        self.queue_button.setObjectName("queue_button")
        self.queue_button.clicked.connect(self.add_to_queue)
        self.start_reason = ElidedLabel()
        self.start_reason.setObjectName("start_reason")
        self.start_reason.setStyleSheet("color: #d32f2f;")
        self.abort_button = QtWidgets.QPushButton("Abort")
        self.abort_button.setObjectName("abort_button")
        self.abort_button.clicked.connect(controller.abort)

        self.progress = QtWidgets.QProgressBar()
        self.progress.setObjectName("run_progress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.progress.setTextVisible(True)
        self.time_left = ElidedLabel(" ")
        self.time_left.setObjectName("time_left")

        self.queue_list = QtWidgets.QListWidget()
        self.queue_list.setObjectName("queue_list")
        self.queue_list.setToolTip("Runs waiting their turn. Double-click one to load it into the form.")
        self.queue_list.itemDoubleClicked.connect(self._load_queued)
        self.queue_list.setMinimumHeight(44)
        self.queue_list.setMaximumHeight(110)
        self.queue_state = QtWidgets.QLabel()
        self.queue_state.setWordWrap(True)
        self.running_now = ElidedLabel("Running now: nothing")
        self.running_now.setObjectName("running_now")
        controller.current_changed.connect(
            lambda what: self.running_now.setText(f"Running now: {what}" if what else "Running now: nothing"))
        self.hold_check = QtWidgets.QCheckBox("Hold the queue when a run fails")
        self.hold_check.setObjectName("hold_on_failure")
        self.hold_check.setToolTip("Checked: a failed or aborted run stops the queue until someone presses Run queue.\n"
                                   "Unchecked: the queue goes on with the next run (e.g. overnight).")
        self.hold_check.setChecked(controller.hold_on_failure)
        self.hold_check.toggled.connect(lambda on: setattr(controller, "hold_on_failure", on))
        queue_buttons = QtWidgets.QGridLayout()
        self.run_queue_button = QtWidgets.QPushButton("Run queue")
        self.run_queue_button.clicked.connect(controller.run_queue)
        up, down = QtWidgets.QPushButton("↑"), QtWidgets.QPushButton("↓")
        up.setToolTip("Move the selected run earlier")
        down.setToolTip("Move the selected run later")
        for button in (up, down):
            button.setFixedWidth(28)
        up.clicked.connect(lambda: self._move(-1))
        down.clicked.connect(lambda: self._move(1))
        self.update_button = QtWidgets.QPushButton("Update")
        self.update_button.setToolTip("Replace the selected queued run by the form's values")
        self.update_button.clicked.connect(self._update_queued)
        remove = QtWidgets.QPushButton("Remove")
        remove.clicked.connect(self._remove_queued)
        clear = QtWidgets.QPushButton("Clear")
        clear.clicked.connect(controller.clear_queue)
        for index, widget in enumerate((self.run_queue_button, self.update_button, remove, clear)):
            queue_buttons.addWidget(widget, 0, index)
        arrows = QtWidgets.QHBoxLayout()
        arrows.addWidget(up)
        arrows.addWidget(down)
        arrows.addStretch(1)
        queue_buttons.addLayout(arrows, 1, 0, 1, 4)
        queue_buttons.setSpacing(3)

        form_box = QtWidgets.QWidget()
        form_layout = QtWidgets.QVBoxLayout(form_box)
        form_layout.setContentsMargins(0, 0, 0, 0)
        form_layout.addWidget(self.picker)
        form_layout.addWidget(self.description)
        form_layout.addWidget(scroll, 1)
        form_layout.addWidget(self.devices_label)
        folder = QtWidgets.QHBoxLayout()
        folder.addWidget(QtWidgets.QLabel("Save to"))
        folder.addWidget(self.out_dir, 1)
        folder.addWidget(browse)
        form_layout.addLayout(folder)
        form_layout.addWidget(self.estimate)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.queue_button)
        buttons.addWidget(self.start_reason, 1)
        buttons.addWidget(self.abort_button)
        form_layout.addLayout(buttons)
        form_layout.addWidget(self.progress)
        form_layout.addWidget(self.time_left)

        queue_box = QtWidgets.QGroupBox("Queue")
        queue_layout = QtWidgets.QVBoxLayout(queue_box)
        queue_layout.addWidget(self.running_now)
        queue_layout.addWidget(self.queue_list, 1)
        queue_layout.addWidget(self.queue_state)
        queue_layout.addWidget(self.hold_check)
        queue_layout.addLayout(queue_buttons)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(form_box, 1)
        layout.addWidget(queue_box)

        self._latest_progress: tuple | None = None
        self._progress_timer = QtCore.QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(int(PROGRESS_S * 1000))
        self._progress_timer.timeout.connect(self._show_progress)
        self.picker.currentIndexChanged.connect(self._procedure_changed)
        controller.running_changed.connect(self._running_changed)
        controller.bench_changed.connect(self._bench_changed)
        controller.queue_changed.connect(self._queue_changed)
        controller.run_progress.connect(self._progress)
        controller.run_started.connect(self._started)
        controller.run_finished.connect(self._finished)
        self._mark_procedures(controller.bench)
        self._procedure_changed()
        self._queue_changed()

    # -- the form --------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.picker.currentData()

    @property
    def form(self) -> ParameterForm:
        return self.forms[self.name]

    def select_procedure(self, name: str) -> None:
        index = self.picker.findData(name)
        if index < 0:
            raise KeyError(f"no procedure {name!r}; known: {list(self.procedures)}")
        self.picker.setCurrentIndex(index)

    def form_for(self, name: str) -> ParameterForm:
        """The form of procedure ``name`` (made on first use)."""
        if name not in self.forms:
            form = ParameterForm(self.procedures[name], check=self._check_on_bench)
            form.changed.connect(self._update_buttons)
            self.forms[name] = form
            self.stack.addWidget(form)
        return self.forms[name]

    def _check_on_bench(self, procedure: Procedure) -> None:
        # the procedure's own check reads only limits and chip size: no instrument is touched
        if self.controller.bench is not None:
            reason = missing_for(type(procedure), self.controller.bench)
            if reason:
                raise ParameterError("procedure", procedure.name, reason)
            procedure.check(self.controller.bench)
            check_instrument_limits(procedure, self.controller.bench)

    def _bench_changed(self, bench: Any) -> None:
        for form in self.forms.values():
            form.revalidate()
        self._mark_procedures(bench)
        self._update_buttons()

    def _mark_procedures(self, bench: Any) -> None:
        """Procedures this bench or chip cannot run: marked in the list, the reason on hover."""
        for index in range(self.picker.count()):
            name = self.picker.itemData(index)
            cls = self.procedures[name]
            reason = missing_for(cls, bench)
            self.picker.setItemText(index, ("⚠ " if reason else "") + f"{cls.title or name}  ({name})")
            self.picker.setItemData(index, reason or cls.description or "", QtCore.Qt.ItemDataRole.ToolTipRole)
            self.picker.setItemData(index, QtGui.QColor("#9e9e9e") if reason else None,
                                    QtCore.Qt.ItemDataRole.ForegroundRole)

    def _procedure_changed(self, *args: Any) -> None:
        name = self.name
        if name is None:
            return
        self.stack.setCurrentWidget(self.form_for(name))
        cls = self.procedures[name]
        self.description.setText(cls.description or cls.title or name)
        self._apply_devices()
        self._update_buttons()

    def set_devices(self, devices: Sequence[tuple[int, int]], all_selected: bool = False) -> None:
        """The chip-map selection: sets row/col or devices of the current form (and of forms
        chosen later)."""
        self.devices, self.all_devices = list(devices), all_selected
        self._apply_devices()

    def _apply_devices(self) -> None:
        form = self.form
        if form.has("devices") and self.devices:
            form.set_values({"devices": format_devices(self.devices, self.all_devices)})
            self.devices_label.setText(f"Devices: {len(self.devices)} from the chip map selection.")
        elif form.has("row") and form.has("col") and self.devices:
            row, col = self.devices[0]
            form.set_values({"row": row, "col": col})
            extra = (f" ({len(self.devices) - 1} more selected: this procedure takes one device;"
                     " queue one run per device with Add to queue)") if len(self.devices) > 1 else ""
            self.devices_label.setText(f"Device: row {row}, col {col} from the chip map.{extra}")
        elif form.has("devices") or form.has("row"):
            self.devices_label.setText("Select devices on the chip map (click, or drag over several).")
        else:
            self.devices_label.setText("This procedure uses no chip device.")

    def _update_buttons(self, *args: Any) -> None:
        form = self.form
        bench, running = self.controller.bench, self.controller.running
        self.start_button.setEnabled(form.valid and bench is not None and not running)
        self.queue_button.setEnabled(form.valid)
        self.update_button.setEnabled(form.valid)
        self.abort_button.setEnabled(running)
        reason = ""
        if not form.valid:
            reason = f"Fix: {form.error}"
            self.start_button.setToolTip(f"Fix the flagged field first: {form.error}")
        elif bench is None:
            reason = "Connect the bench first"
            self.start_button.setToolTip("Connect the bench first (bench panel)")
        elif running:
            self.start_button.setToolTip("A run is in progress: add this one to the queue")
        else:
            self.start_button.setToolTip("Start this run now (Ctrl+R)")
        self.start_reason.setText(reason)
        self.estimate.setText(self._estimate_text() if form.valid else "")

    def _estimate_text(self) -> str:
        bench = self.controller.bench
        if bench is None:
            return ""
        try:
            procedure = self.form.make()
            procedure.check(bench)  # e.g. "all" devices: the chip's size is known from here on
            seconds = procedure.estimate_s(bench)
        except Exception:  # noqa: BLE001 - an estimate is a courtesy, never a blocker
            return ""
        if seconds is None:
            return "Instrument time: not known in advance"
        clock = "on the virtual bench clock" if getattr(bench.clock, "virtual", False) else ""
        return f"Estimated instrument time: {format_duration(seconds)} {clock}".strip()

    # -- actions ---------------------------------------------------------------------------------
    def start(self) -> None:
        if not self.form.valid:
            return
        try:
            procedure = self.form.make()
            self.controller.start(procedure)
        except ParameterError as exc:  # e.g. a device outside this bench's chip
            self.form.show_error(exc.name, str(exc))
            self.start_reason.setText(str(exc))
            self.controller.message.emit(logging.ERROR, "run", str(exc))
        except RuntimeError as exc:
            self.controller.message.emit(logging.WARNING, "run", str(exc))

    def add_to_queue(self) -> None:
        """Queue the form's run; with several devices selected and a single-device procedure,
        queue one run per device."""
        if not self.form.valid:
            return
        values = self.form.make().values
        if self.form.has("row") and self.form.has("col") and len(self.devices) > 1:
            items = [QueuedRun(self.name, {**values, "row": r, "col": c}) for r, c in self.devices]
        else:
            items = [QueuedRun(self.name, dict(values))]
        try:
            for item in items:
                self.controller.enqueue(item)
        except ParameterError as exc:
            self.controller.message.emit(logging.ERROR, "queue", str(exc))

    def _selected_index(self) -> int | None:
        row = self.queue_list.currentRow()
        return row if 0 <= row < len(self.controller.queue) else None

    def _move(self, offset: int) -> None:
        index = self._selected_index()
        if index is not None:
            self.controller.move(index, offset)
            self.queue_list.setCurrentRow(index + offset)

    def _remove_queued(self) -> None:
        index = self._selected_index()
        if index is not None:
            self.controller.remove(index)

    def _load_queued(self, *args: Any) -> None:
        index = self._selected_index()
        if index is None:
            return
        item = self.controller.queue[index]
        self.select_procedure(item.procedure)
        self.form.set_values(item.values)

    def _update_queued(self) -> None:
        index = self._selected_index()
        if index is None or not self.form.valid:
            return
        self.controller.replace(index, QueuedRun(self.name, dict(self.form.make().values)))
        self.queue_list.setCurrentRow(index)

    def _out_dir_changed(self) -> None:
        text = self.out_dir.text().strip()
        if text:
            self.controller.out_dir = Path(text)

    def _browse_out_dir(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder for run files", self.out_dir.text())
        if folder:
            self.out_dir.setText(folder)
            self._out_dir_changed()

    # -- run state -------------------------------------------------------------------------------
    def _queue_changed(self) -> None:
        current = self.queue_list.currentRow()
        self.queue_list.clear()
        for index, item in enumerate(self.controller.queue):
            self.queue_list.addItem(f"{index + 1}. {item.describe()}")
        self.queue_list.setCurrentRow(min(current, self.queue_list.count() - 1))
        count = len(self.controller.queue)
        total = self._queue_estimate()
        total_text = f", about {format_duration(total)} of instrument time in all" if total else ""
        if not count:
            self.queue_state.setText("Empty. Runs added here start one after another.")
        elif self.controller.queue_held:
            self.queue_state.setText(f"{count} waiting{total_text} - held (press Run queue to go on).")
        else:
            self.queue_state.setText(f"{count} waiting{total_text} - each starts when the previous one ends.")
        self.run_queue_button.setEnabled(bool(count) and (self.controller.queue_held or not self.controller.running))

    def _queue_estimate(self) -> float:
        bench = self.controller.bench
        if bench is None:
            return 0.0
        total = 0.0
        for item in self.controller.queue:
            try:
                total += float(item.make().estimate_s(bench) or 0.0)
            except Exception:  # noqa: BLE001 - an estimate is a courtesy
                continue
        return total

    def _running_changed(self, running: bool) -> None:
        self.picker.setEnabled(True)
        self._update_buttons()
        self._queue_changed()

    def _started(self, info: dict) -> None:
        self.progress.setValue(0)
        self.progress.setFormat(f"{info.get('procedure', '')}: starting")
        self.time_left.setText("Time left: estimating…")

    def _progress(self, done: float, total: float, eta_s: Any, wall_s: float) -> None:
        """Runs report progress up to hundreds of times a second; the bar and label show it at most
        every PROGRESS_S (each change relays the panel out)."""
        self._latest_progress = (done, total, eta_s, wall_s)
        if not self._progress_timer.isActive():
            self._progress_timer.start()

    def _show_progress(self) -> None:
        if self._latest_progress is None:
            return
        done, total, eta_s, wall_s = self._latest_progress
        self._latest_progress = None
        fraction = min(1.0, done / total) if total > 0 else 0.0
        self.progress.setValue(int(round(fraction * 1000)))
        self.progress.setFormat(f"{self.controller.run_info.get('procedure', '')}: {fraction * 100:.0f} %")
        if 0 < fraction < 1:
            wall_left = wall_s * (1 - fraction) / fraction
            bench_left = f" ({format_duration(eta_s)} on the bench clock)" if eta_s is not None else ""
            self.time_left.setText(f"Time left: about {format_duration(wall_left)}{bench_left}")
        elif fraction >= 1:
            self.time_left.setText("Time left: finishing")

    def _finished(self, status: str, error: str, path: str) -> None:
        self._progress_timer.stop()
        self._latest_progress = None
        if status == "completed":
            self.progress.setValue(1000)
        self.progress.setFormat(f"{self.controller.run_info.get('procedure', '')}: {status}")
        name = Path(path).name if path else ""
        self.time_left.setText(f"Last run {status}{': ' + error if error and status != 'completed' else ''}"
                               f"{' - ' + name if name else ''}")
        self.time_left.setToolTip(path)
