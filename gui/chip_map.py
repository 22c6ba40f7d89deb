"""The chip map: the array as a colour map of the last read conductance (or resistance).

Log colour scale with a colour bar; hover tells the device and its value; click selects a device,
drag a rectangle, Ctrl adds to the selection. Devices marked failed or stuck carry a symbol. The
map is fed from run batches (any stream with row/col and conductance or resistance columns, the
``map`` stream of a readout, or the conductance reads of a single-device run).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from memlab.gui.units import format_quantity

Device = tuple[int, int]
OK, FAILED, STUCK = "ok", "failed", "stuck"
REDRAW_S = 0.2
"""Shortest time between two redraws of the map while a run streams reads."""
MARK_SYMBOLS = {FAILED: ("x", "#d32f2f"), STUCK: ("s", "#ff9800")}


class _CellImage(pg.ImageItem):
    """The map's image; turns mouse events into device coordinates for :class:`ChipMap`."""

    def __init__(self, owner: ChipMap) -> None:
        super().__init__(axisOrder="row-major")
        self.owner = owner
        self.setAcceptHoverEvents(True)

    def _device(self, pos: QtCore.QPointF) -> Device | None:
        row, col = int(np.floor(pos.y())), int(np.floor(pos.x()))
        if 0 <= row < self.owner.rows and 0 <= col < self.owner.cols:
            return row, col
        return None

    def hoverEvent(self, ev: Any) -> None:
        self.owner._hover(None if ev.isExit() else self._device(ev.pos()))

    def mouseClickEvent(self, ev: Any) -> None:
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        device = self._device(ev.pos())
        if device is not None:
            ev.accept()
            additive = bool(ev.modifiers() & QtCore.Qt.KeyboardModifier.ControlModifier)
            self.owner.select([device], additive=additive, toggle=additive)
            self.owner.device_clicked.emit(device)

    def mouseDragEvent(self, ev: Any) -> None:
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        start, end = self._device(ev.buttonDownPos()), self._device(ev.pos())
        if start is None:
            return
        if end is None:  # dragged off the chip: clamp to its edge (a selection, not a value)
            end = (min(max(int(np.floor(ev.pos().y())), 0), self.owner.rows - 1),
                   min(max(int(np.floor(ev.pos().x())), 0), self.owner.cols - 1))
        self.owner._drag(start, end, ev.isFinish(),
                         bool(ev.modifiers() & QtCore.Qt.KeyboardModifier.ControlModifier))


class ChipMap(QtWidgets.QWidget):
    """Colour map of a rows x cols chip; emits :attr:`selection_changed` with the devices."""

    selection_changed = QtCore.Signal(list)
    device_clicked = QtCore.Signal(tuple)  # (row, col): e.g. to show its history

    def __init__(self, rows: int = 1, cols: int = 1, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows, self.cols = 0, 0
        self.conductance_s = np.full((1, 1), np.nan)
        self.marks: dict[Device, str] = {}
        self.selected: list[Device] = []
        self._drag_preview: list[Device] | None = None
        self._drag_base: list[Device] = []
        self._hovered: Device | None = None
        self._label_quantity = ""
        # live batches can come many times a second: the map redraws at most every REDRAW_S
        self._redraw_timer = QtCore.QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(int(REDRAW_S * 1000))
        self._redraw_timer.timeout.connect(self._redraw)
        self._deferred = False

        self.quantity = QtWidgets.QComboBox()
        self.quantity.addItem("conductance (S)", "conductance")
        self.quantity.addItem("resistance (Ω)", "resistance")
        self.quantity.setToolTip("Colour the map by the last read conductance or resistance (log scale)")
        self.quantity.currentIndexChanged.connect(self._redraw)
        self.select_all_button = QtWidgets.QPushButton("Select all")
        self.select_all_button.clicked.connect(self.select_all)
        self.clear_button = QtWidgets.QPushButton("Clear map")
        self.clear_button.setToolTip("Forget the values shown (they come back with the next read)")
        self.clear_button.clicked.connect(self.clear_values)

        self.view = pg.GraphicsLayoutWidget()
        self.view.setMinimumSize(200, 170)
        self.plot = self.view.addPlot()
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        box = self.plot.getViewBox()
        box.setMouseEnabled(x=False, y=False)
        box.invertY(True)
        box.setAspectLocked(True)
        # outside the chip stays white; the chip itself is a grey area (unread devices, NaN, show it)
        # inside a dark outline, so its edge is visible whatever the colours
        self.chip_area = QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
        self.chip_area.setBrush(pg.mkBrush("#d6d6d6"))
        self.chip_area.setPen(pg.mkPen(None))
        self.chip_area.setZValue(-10)
        self.chip_edge = QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
        self.chip_edge.setPen(pg.mkPen("#37474f", width=2, cosmetic=True))
        self.chip_edge.setBrush(pg.mkBrush(None))
        self.chip_edge.setZValue(20)
        self.plot.setLabel("bottom", "column")
        self.plot.setLabel("left", "row")
        self.image = _CellImage(self)
        self.plot.addItem(self.chip_area)
        self.plot.addItem(self.image)
        self.plot.addItem(self.chip_edge)
        self.colorbar = pg.ColorBarItem(colorMap="viridis", interactive=False, width=14,
                                        label="conductance (S)")
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        self.colorbar.axis.setWidth(64)  # room for "400 nS"; pyqtgraph drops labels that do not fit
        self.marks_item = pg.ScatterPlotItem(size=11, pxMode=True)
        # an outline in a colour the viridis map never uses, thin enough to leave the cell's colour visible
        self.selection_item = pg.ScatterPlotItem(symbol="s", size=1, pxMode=False,
                                                 pen=pg.mkPen("#ff1744", width=2, cosmetic=True), brush=None)
        self.selection_item.setZValue(15)
        self.plot.addItem(self.marks_item)
        self.plot.addItem(self.selection_item)

        self.status = QtWidgets.QLabel("Hover a device to see its value; click or drag to select.")
        self.status.setObjectName("chip_status")
        self.status.setWordWrap(True)
        # a fixed height: text changing under the mouse must not resize the map it describes
        self.status.setFixedHeight(2 * self.status.fontMetrics().lineSpacing() + 4)
        self.status.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        self.legend = QtWidgets.QLabel(
            "<span style='color:#d32f2f'>✕</span> failed &nbsp; <span style='color:#ff9800'>□</span> stuck"
            " &nbsp; <b style='color:#ff1744'>▢</b> selected &nbsp; <span style='color:#9e9e9e'>grey</span>: not read yet")
        self.history = QtWidgets.QLabel("Click a device to see its runs.")
        self.history.setObjectName("device_history")
        self.history.setWordWrap(True)
        self.history.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.history.setFixedHeight(3 * self.history.fontMetrics().lineSpacing() + 4)
        self.history.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Show"))
        top.addWidget(self.quantity)
        top.addStretch(1)
        top.addWidget(self.select_all_button)
        top.addWidget(self.clear_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.legend)
        layout.addWidget(self.status)
        layout.addWidget(self.history)
        self.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.resize_chip(rows, cols)

    # -- shape and values --------------------------------------------------------------------
    def resize_chip(self, rows: int, cols: int) -> None:
        """A new chip: forget values, marks and selection."""
        if rows < 1 or cols < 1:
            raise ValueError(f"chip size rows={rows!r}, cols={cols!r}: both must be >= 1")
        self.rows, self.cols = int(rows), int(cols)
        self.conductance_s = np.full((self.rows, self.cols), np.nan)
        self.marks.clear()
        self.selected = []
        self.plot.getViewBox().setRange(xRange=(0, self.cols), yRange=(0, self.rows), padding=0.02)
        for item in (self.chip_area, self.chip_edge):
            item.setRect(QtCore.QRectF(0, 0, self.cols, self.rows))
        self._set_axis_ticks()
        self._redraw()
        self._draw_selection()

    def clear_values(self) -> None:
        self.conductance_s[:] = np.nan
        self._redraw()

    def set_conductance(self, devices: Iterable[Device], conductance_s: Iterable[float]) -> None:
        """Last read conductance (S) of devices; NaN or non-positive values are ignored."""
        changed = False
        for (row, col), value in zip(devices, conductance_s):
            row, col, value = int(row), int(col), float(value)
            if 0 <= row < self.rows and 0 <= col < self.cols and np.isfinite(value) and value > 0:
                self.conductance_s[row, col] = value
                changed = True
        if changed:
            self._redraw()

    def set_map(self, conductance_s: np.ndarray) -> None:
        """A whole map (rows, cols); NaN where not read keeps the previous value."""
        values = np.asarray(conductance_s, dtype=np.float64)
        if values.shape != (self.rows, self.cols):
            return
        fresh = np.isfinite(values) & (values > 0)
        self.conductance_s[fresh] = values[fresh]
        self._redraw()

    def mark(self, device: Device, state: str) -> None:
        """Mark a device ok, failed or stuck (shown with a symbol)."""
        if state not in (OK, FAILED, STUCK):
            raise ValueError(f"state={state!r}: allowed {OK!r}, {FAILED!r}, {STUCK!r}")
        if state == OK:
            self.marks.pop(tuple(device), None)
        else:
            self.marks[(int(device[0]), int(device[1]))] = state
        self._draw_marks()

    def update_from_batch(self, stream: str, batch: Mapping[str, np.ndarray],
                          run_devices: Sequence[Device], live: bool = False) -> None:
        """Take what a run batch says about devices: reads, maps, failures. ``live``: redraw at
        most every REDRAW_S (a run's batches), not at once."""
        self._deferred = live
        try:
            self._take_batch(stream, batch, run_devices)
        finally:
            self._deferred = False

    def flush(self) -> None:
        """Draw now what live batches brought (e.g. when the run ends)."""
        if self._redraw_timer.isActive():
            self._redraw()

    def _take_batch(self, stream: str, batch: Mapping[str, np.ndarray], run_devices: Sequence[Device]) -> None:
        values = _conductance(batch)
        if stream == "map" and values is not None and values.ndim in (2, 3):
            self.set_map(values[-1] if values.ndim == 3 else values)  # a single map may come without its row axis
            return
        if "row" in batch and "col" in batch and values is not None and values.ndim == 1:
            self.set_conductance(zip(batch["row"], batch["col"]), values)
        elif values is not None and values.ndim == 1 and len(run_devices) == 1 and len(values):
            finite = values[np.isfinite(values)]
            if finite.size:
                self.set_conductance([run_devices[0]], [finite[-1]])
        if stream == "result":
            self._marks_from_result(batch, run_devices)

    def _marks_from_result(self, batch: Mapping[str, np.ndarray], run_devices: Sequence[Device]) -> None:
        if "failed" in batch and len(batch["failed"]):  # endurance: reason 2 means stuck
            failed = bool(batch["failed"][-1])
            stuck = "reason_code" in batch and int(batch["reason_code"][-1]) == 2
            for device in run_devices:
                self.mark(device, STUCK if failed and stuck else FAILED if failed else OK)
        elif "formed" in batch and len(batch["formed"]):  # forming
            for device in run_devices:
                self.mark(device, OK if bool(batch["formed"][-1]) else FAILED)

    # -- selection ---------------------------------------------------------------------------
    def select(self, devices: Iterable[Device], additive: bool = False, toggle: bool = False) -> None:
        devices = [(int(r), int(c)) for r, c in devices if 0 <= r < self.rows and 0 <= c < self.cols]
        chosen = list(self.selected) if additive else []
        for device in devices:
            if toggle and device in chosen:
                chosen.remove(device)
            elif device not in chosen:
                chosen.append(device)
        self.selected = chosen
        self._draw_selection()
        self.selection_changed.emit(list(self.selected))

    def select_all(self) -> None:
        self.select([(r, c) for r in range(self.rows) for c in range(self.cols)])

    @property
    def all_selected(self) -> bool:
        return len(self.selected) == self.rows * self.cols

    def _drag(self, start: Device, end: Device, finished: bool, additive: bool) -> None:
        if self._drag_preview is None:
            self._drag_base = list(self.selected) if additive else []
        rows = range(min(start[0], end[0]), max(start[0], end[0]) + 1)
        cols = range(min(start[1], end[1]), max(start[1], end[1]) + 1)
        box = [(r, c) for r in rows for c in cols]
        self._drag_preview = self._drag_base + [d for d in box if d not in self._drag_base]
        self.status.setText(f"Selecting rows {rows.start}-{rows.stop - 1}, "
                            f"columns {cols.start}-{cols.stop - 1} ({len(box)} devices)")
        if finished:
            chosen, self._drag_preview = self._drag_preview, None
            self.select(chosen)
        else:
            self._draw_selection(self._drag_preview)

    # -- drawing -----------------------------------------------------------------------------
    def _shown(self) -> np.ndarray:
        g = self.conductance_s
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(1.0 / g) if self.quantity.currentData() == "resistance" else np.log10(g)

    def _redraw(self) -> None:
        if self._deferred:  # during a live batch: once the timer fires, not per batch
            if not self._redraw_timer.isActive():
                self._redraw_timer.start()
            return
        self._redraw_timer.stop()
        shown = self._shown()
        unit = "Ω" if self.quantity.currentData() == "resistance" else "S"
        finite = shown[np.isfinite(shown)]
        label = f"{self.quantity.currentData()} ({unit})"
        if label != self._label_quantity:  # relabelling relays the axis out: only on a change
            self.colorbar.getAxis("left").setLabel(label)
            self._label_quantity = label
        if not finite.size:
            self.colorbar.axis.setTicks([[], []])  # no scale to show, not a made-up 0 .. 1
        self.image.setImage(shown, autoLevels=False)
        self.image.setRect(QtCore.QRectF(0, 0, self.cols, self.rows))
        if finite.size:
            low, high = float(finite.min()), float(finite.max())
            if high - low < 0.1:  # one value (or nearly): give the colour bar a readable span
                low, high = low - 0.5, high + 0.5
            self.colorbar.setLevels((low, high))
            self.colorbar.axis.setTicks(log_ticks(low, high, unit))
        if self._hovered is not None:  # the hover text follows the new values, never stale
            self.status.setText(self.describe(self._hovered))

    def _set_axis_ticks(self) -> None:
        # label the centres of cells, every few lines on big chips
        for axis, count in (("bottom", self.cols), ("left", self.rows)):
            step = next(s for s in (1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 50, 64, 100, 128, 256, 500, 1000)
                        if count / s <= 6 or s == 1000)
            major = [(i + 0.5, str(i)) for i in range(0, count, step)]
            self.plot.getAxis(axis).setTicks([major, []])

    def _draw_selection(self, devices: Sequence[Device] | None = None) -> None:
        devices = self.selected if devices is None else devices
        self.selection_item.setData([c + 0.5 for _, c in devices], [r + 0.5 for r, _ in devices],
                                    size=0.92)

    def _draw_marks(self) -> None:
        spots = [{"pos": (c + 0.5, r + 0.5), "symbol": MARK_SYMBOLS[state][0],
                  "brush": None if state == STUCK else pg.mkBrush(MARK_SYMBOLS[state][1]),
                  "pen": pg.mkPen(MARK_SYMBOLS[state][1], width=2.5)}
                 for (r, c), state in self.marks.items()]
        self.marks_item.setData(spots)

    def describe(self, device: Device) -> str:
        row, col = device
        g = self.conductance_s[row, col]
        text = f"row {row}, col {col}: "
        text += (f"G = {format_quantity(g, 'S')}, R = {format_quantity(1 / g, 'Ω')}"
                 if np.isfinite(g) else "not read yet")
        if device in self.marks:
            text += f" - marked {self.marks[device]}"
        return text

    def _hover(self, device: Device | None) -> None:
        self._hovered = device
        if self._drag_preview is not None:
            return
        if device is None:
            self.status.setText(self._selection_text())
            QtWidgets.QToolTip.hideText()
            return
        text = self.describe(device)
        self.status.setText(text)
        self.image.setToolTip(text)

    def _selection_text(self) -> str:
        if not self.selected:
            return "No device selected: click a device, or drag over several."
        if self.all_selected:
            return f"All {len(self.selected)} devices selected."
        shown = ", ".join(f"({r},{c})" for r, c in self.selected[:6])
        more = f" and {len(self.selected) - 6} more" if len(self.selected) > 6 else ""
        return f"Selected {len(self.selected)}: {shown}{more}"

    def _context_menu(self, pos: QtCore.QPoint) -> None:
        if not self.selected:
            return
        menu = QtWidgets.QMenu(self)
        for state, text in ((FAILED, "Mark selected as failed"), (STUCK, "Mark selected as stuck"),
                            (OK, "Clear marks of selected")):
            action = menu.addAction(text)
            action.triggered.connect(lambda _=False, s=state: [self.mark(d, s) for d in self.selected])
        menu.exec(self.mapToGlobal(pos))

    def device_position(self, device: Device) -> QtCore.QPoint:
        """Where ``device``'s centre is in the view's viewport (for tests and tools)."""
        scene = self.image.mapToScene(QtCore.QPointF(device[1] + 0.5, device[0] + 0.5))
        return self.view.mapFromScene(scene)


def _conductance(batch: Mapping[str, np.ndarray]) -> np.ndarray | None:
    if "conductance" in batch:
        return np.asarray(batch["conductance"], dtype=np.float64)
    for name in ("resistance", "final_resistance"):
        if name in batch:
            with np.errstate(divide="ignore"):
                return 1.0 / np.asarray(batch[name], dtype=np.float64)
    return None


def log_ticks(low: float, high: float, unit: str) -> list[list[tuple[float, str]]]:
    """Colour-bar ticks for log10 values: decades (or 1-2-5 steps within one decade), in SI."""
    decades = range(int(np.floor(low)), int(np.ceil(high)) + 1)
    for steps in ((1.0,), (1.0, 2.0, 5.0), tuple(float(m) for m in range(1, 10))):
        ticks = [(float(np.log10(m * 10.0 ** d)), format_quantity(m * 10.0 ** d, unit, digits=3))
                 for d in decades for m in steps if low - 1e-9 <= np.log10(m * 10.0 ** d) <= high + 1e-9]
        if len(ticks) >= 3 or (steps[-1] == 9.0 and len(ticks) >= 2):
            return [ticks, []]
    # a narrow span: label its ends
    return [[(low, format_quantity(10.0 ** low, unit, digits=3)), (high, format_quantity(10.0 ** high, unit, digits=3))], []]


def format_devices(devices: Sequence[Device], all_selected: bool) -> str:
    """The ``devices`` parameter text for a selection: "all" or "0,0;1,2"."""
    if all_selected:
        return "all"
    return ";".join(f"{r},{c}" for r, c in devices)
