"""Live plots: one pane per plot hint of a procedure, fed batch by batch.

Cost model (what keeps a million-point run smooth):

- a batch is appended to growing buffers (cost: the new rows) and marks its curves dirty;
- a timer refreshes dirty curves at most :data:`REFRESH_INTERVAL_S` apart, so a flood of small
  batches costs one redraw per tick;
- a refresh hands pyqtgraph *views* of the buffers: when the whole run is in view, the
  incrementally kept min/max blocks (:class:`gui.buffers.PeakDecimation`, a few thousand points
  whatever the length); when zoomed in, only the raw points inside the view (found by bisection),
  which pyqtgraph further reduces with its auto-downsampling and clip-to-view;
- grouped curves (one I-V loop per cycle) only redraw the groups that grew.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from memlab.gui.buffers import GrowingBuffer, PeakDecimation
from memlab.gui.widgets import ElidedLabel
from memlab.procedures import PlotHint
from memlab.storage import StreamSpec

PANE_WIDTH = 420
"""Width (px) a plot pane needs to sit beside another; below twice this, panes stack."""
REFRESH_INTERVAL_S = 0.1
"""Shortest time between two redraws of a live plot."""
REFRESH_SLOTS = 4
"""Turns of the refresh timer per REFRESH_INTERVAL_S; each redraws at most one pane."""
STAGE_INTERVAL_S = 0.02
"""A run's panes after the first are built this far apart (see :meth:`PlotArea.setup`)."""
DECIMATE_ABOVE = 8192
"""A monotonic curve longer than this is drawn from its min/max blocks when fully in view."""
MAX_GROUP_CURVES = 24
"""Newest groups (e.g. cycles) drawn in colour; older ones merge into one grey curve."""
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#7f7f7f")
REFERENCE_PEN = pg.mkPen("#9e9e9e", width=1.5, style=QtCore.Qt.PenStyle.DashLine)


@dataclass
class ColumnInfo:
    name: str
    unit: str
    cell: tuple[int, ...] = ()


@dataclass
class StreamInfo:
    """Columns and units of a stream, from a procedure's declaration or from a run file."""

    name: str
    columns: dict[str, ColumnInfo] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: StreamSpec) -> StreamInfo:
        return cls(spec.name, {c.name: ColumnInfo(c.name, c.unit, tuple(c.shape)) for c in spec.columns})


class ColumnStore:
    """Every row of one stream received so far, column by column (cells of arrays flattened)."""

    def __init__(self, info: StreamInfo) -> None:
        self.info = info
        self.buffers = {name: GrowingBuffer() for name in info.columns}
        self.rows = 0

    def append(self, batch: Mapping[str, np.ndarray]) -> int:
        n = None
        for name, buffer in self.buffers.items():
            if name in batch:
                values = np.asarray(batch[name], dtype=np.float64)
                buffer.append(values)
                n = values.shape[0] if values.ndim else 1
        self.rows += n or 0
        return n or 0

    def column(self, name: str) -> np.ndarray:
        cell = self.info.columns[name].cell
        view = self.buffers[name].view()
        return view.reshape(-1, *cell) if cell else view


def pair_columns(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (x, y) of rows where either column may hold an array per row (flattened;
    a scalar per row is repeated for every element of the other's array)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim == 1 and y.ndim == 1:
        return x, y
    if x.ndim == 1:
        return np.repeat(x, y[0].size if len(y) else 0), y.reshape(-1)
    if y.ndim == 1:
        return x.reshape(-1), np.repeat(y, x[0].size if len(x) else 0)
    if x[0].size != y[0].size:
        raise ValueError(f"cannot pair cells of {x.shape[1:]} with {y.shape[1:]}")
    return x.reshape(-1), y.reshape(-1)


class LiveCurve:
    """One drawn curve: its points in growing buffers, its min/max blocks, its PlotDataItem."""

    def __init__(self, item: pg.PlotDataItem) -> None:
        self.item = item
        self.x, self.y = GrowingBuffer(), GrowingBuffer()
        self.decimation = PeakDecimation()
        self.monotonic = True
        self.dirty = False
        self.shown: tuple[Any, ...] = ()  # how the points were last handed to pyqtgraph
        item.setDownsampling(auto=True, method="peak")
        item.setClipToView(True)

    def __len__(self) -> int:
        return len(self.x)

    def append(self, x: np.ndarray, y: np.ndarray) -> None:
        if not x.size:
            return
        if self.monotonic:
            last = self.x.last() if len(self.x) else -math.inf
            steps_ok = x.size < 2 or bool(np.all(np.diff(x) >= 0))
            if not (steps_ok and x[0] >= last):  # NaN fails too: no bisection possible
                self.monotonic = False
                # pyqtgraph's downsampling and clipping assume increasing x as well
                self.item.setDownsampling(auto=False)
                self.item.setClipToView(False)
        self.x.append(x)
        self.y.append(y)
        if self.monotonic:
            self.decimation.update(self.x.view(), self.y.view())
        self.dirty = True

    def _wanted(self, view_box: pg.ViewBox, log_x: bool) -> tuple[Any, ...]:
        n = len(self.x)
        if not self.monotonic or n <= DECIMATE_ABOVE:
            return ("raw", n)
        if view_box.autoRangeEnabled()[0]:
            return ("blocks", n)
        left, right = view_box.viewRange()[0]
        if log_x:
            left, right = 10.0 ** left, 10.0 ** right
        x = self.x.view()
        start = max(0, int(np.searchsorted(x, left)) - 1)
        stop = min(n, int(np.searchsorted(x, right)) + 1)
        return ("clip", start, stop)

    def refresh(self, view_box: pg.ViewBox, log_x: bool, force: bool = False) -> bool:
        """Hand the points to pyqtgraph if they changed or the view needs others; True if it did."""
        wanted = self._wanted(view_box, log_x)
        if not (force or self.dirty or wanted != self.shown):
            return False
        x, y = self.x.view(), self.y.view()
        if wanted[0] == "blocks":
            x, y = self.decimation.display(x, y)
        elif wanted[0] == "clip":
            x, y = x[wanted[1]:wanted[2]], y[wanted[1]:wanted[2]]
        self.item.setData(x, y)
        self.shown, self.dirty = wanted, False
        return True

    def clear(self) -> None:
        self.x.clear()
        self.y.clear()
        self.decimation.clear()
        self.monotonic, self.dirty, self.shown = True, True, ()
        self.item.setDownsampling(auto=True, method="peak")
        self.item.setClipToView(True)


class ReadableAxis(pg.AxisItem):
    """An axis whose log scale labels decades only (1, 10, 100; or 0.1, 0.01) once the view spans
    more than one decade: pyqtgraph's default labels every minor tick, an unreadable column.

    A linear axis in seconds reads in s, min or h as the span grows (not "ks")."""

    time_axis = False

    def updateAutoSIPrefix(self) -> None:  # noqa: N802 - pyqtgraph's name
        if not self.time_axis or self.logMode or not self.label.isVisible():
            super().updateAutoSIPrefix()
            return
        span = max(abs(self.range[0]), abs(self.range[1])) * self.scale
        if span >= 2 * 3600:
            self.autoSIPrefixScale, self.labelUnits = 1 / 3600, "h"
        elif span >= 120:
            self.autoSIPrefixScale, self.labelUnits = 1 / 60, "min"
        else:  # seconds keep their SI prefixes (ms, µs)
            self.labelUnits = "s"
            super().updateAutoSIPrefix()
            return
        self.labelUnitPrefix = ""
        self._updateLabel()

    def logTickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        low, high = self.range if self.range is not None else (0.0, 0.0)
        low, high = min(low, high), max(low, high)
        wide = high - low > 1.2
        # fewer than two decades in view: label 1, 2 and 5 of each decade too, never a lone label
        decades_in_view = sum(1 for d in range(math.floor(low), math.ceil(high) + 1) if low <= d <= high)
        marks = (1.0,) if decades_in_view >= 2 else (1.0, 2.0, 5.0)
        strings = []
        for value in values:
            number = 10.0 ** float(value) * scale
            mantissa = 10.0 ** (float(value) - math.floor(float(value) + 1e-9))
            shown = any(abs(mantissa - m) < 1e-6 * m for m in marks)
            strings.append(f"{number:g}" if shown or not wide else "")
        return strings


def _label(info: ColumnInfo | None, name: str) -> tuple[str, str | None]:
    text = name.replace("_", " ")
    return text, (info.unit or None) if info else None


def new_plot_widget() -> pg.PlotWidget:
    """A fresh plot with memlab's axes. Building one costs tens of milliseconds (pyqtgraph makes its
    menus), so the plot area keeps a few built in advance (see :meth:`PlotArea.warm`)."""
    return pg.PlotWidget(axisItems={"left": ReadableAxis("left"), "bottom": ReadableAxis("bottom")})


class PlotPane(QtWidgets.QWidget):
    """One plot: a title bar with axis and scale choices over a pyqtgraph PlotWidget."""

    def __init__(self, hint: PlotHint, info: StreamInfo, parent: QtWidgets.QWidget | None = None,
                 plot: pg.PlotWidget | None = None) -> None:
        super().__init__(parent)
        self.hint, self.info = hint, info
        # a hint naming columns the stream lacks (a procedure's mistake) still gives a plot, and says so
        scalar = [name for name, column in info.columns.items() if not column.cell] or list(info.columns)
        missing = [name for name in (hint.x, hint.y) if name and name not in info.columns and hint.kind != "image"]
        self.x_name = hint.x if hint.x in info.columns or not scalar else scalar[0]
        self.y_name = hint.y if hint.y in info.columns or not scalar else scalar[-1]
        self.group_by = hint.group_by if hint.group_by in info.columns else None
        self.curves: dict[Any, LiveCurve] = {}
        self.earlier: LiveCurve | None = None
        self.references: list[pg.PlotDataItem] = []
        self.image: pg.ImageItem | None = None
        self._pending_image: np.ndarray | None = None
        self.colorbar: pg.ColorBarItem | None = None
        self.error: str | None = None
        self.rebuild_requested = False
        self._groups_seen = 0
        self._gaps = 0  # NaN separators in the 'earlier' curve, not data

        self.plot = plot if plot is not None else new_plot_widget()
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setMinimumSize(200, 110)
        self.legend = self.plot.addLegend(offset=(-8, 8), labelTextSize="8pt",
                                          brush=pg.mkBrush(255, 255, 255, 180), pen=pg.mkPen("#bdbdbd"))
        # the title gives way (elided, whole in its tooltip) before the axis controls when the pane is narrow
        self.title = ElidedLabel(hint.title or f"{hint.y} vs {hint.x}")
        self.title.setStyleSheet("font-weight: bold;")
        self.title.setMinimumWidth(40)
        self.x_box, self.y_box = QtWidgets.QComboBox(), QtWidgets.QComboBox()
        for box, current in ((self.x_box, self.x_name), (self.y_box, self.y_name)):
            box.addItems(list(info.columns))
            box.setCurrentText(current)
            box.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(4)
            box.currentTextChanged.connect(self._axes_changed)
        self.x_box.setToolTip("Column on the horizontal axis")
        self.y_box.setToolTip("Column on the vertical axis")
        # compact toggle buttons: several panes share a row, and their bars must not force it wider
        self.log_x, self.log_y = QtWidgets.QToolButton(), QtWidgets.QToolButton()
        self.abs_y = QtWidgets.QToolButton()
        for button, text in ((self.log_x, "log x"), (self.log_y, "log y"), (self.abs_y, "|y|")):
            button.setText(text)
            button.setCheckable(True)
            button.setAutoRaise(True)
            button.setStyleSheet("QToolButton {padding: 1px 4px; border: 1px solid #cfd8dc; border-radius: 3px;}"
                                 " QToolButton:checked {background: #bbdefb; border-color: #64b5f6;}")
        self.log_x.setToolTip("Logarithmic horizontal axis")
        self.log_y.setToolTip("Logarithmic vertical axis")
        self.abs_y.setToolTip("Plot the magnitude of y (e.g. currents of both polarities on a log scale)")
        self.log_x.setChecked(hint.log_x)
        self.log_y.setChecked(hint.log_y)
        self.abs_y.setChecked(hint.abs_y)
        self.log_x.toggled.connect(self._scale_changed)
        self.log_y.toggled.connect(self._scale_changed)
        self.abs_y.toggled.connect(self._axes_changed)

        bar = QtWidgets.QHBoxLayout()
        bar.setContentsMargins(2, 0, 2, 0)
        bar.addWidget(self.title, 1)
        if hint.kind != "image":
            for widget in (QtWidgets.QLabel("x"), self.x_box, QtWidgets.QLabel("y"), self.y_box,
                           self.log_x, self.log_y, self.abs_y):
                bar.addWidget(widget)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.plot, 1)
        self.empty_label = QtWidgets.QLabel("No data yet", self.plot)
        self.empty_label.setObjectName("no_data_label")
        self.empty_label.setStyleSheet("color: #9e9e9e; font-size: 13px; background: transparent;")
        self.empty_label.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.empty_label.adjustSize()
        self.identity_line: pg.InfiniteLine | None = None
        if hint.kind == "image":
            self._make_image()
        self._apply_labels()
        self._scale_changed()
        if missing:
            self._set_error(f"plot hint names {', '.join(missing)}, not in this stream "
                            f"({', '.join(info.columns)}): showing {self.y_name} vs {self.x_name}")

    # -- set-up ------------------------------------------------------------------------------
    def _make_image(self) -> None:
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.plot.getViewBox().invertY(True)
        self.plot.getViewBox().setAspectLocked(True)
        self.colorbar = pg.ColorBarItem(colorMap="viridis", interactive=False, width=14)
        self.colorbar.setImageItem(self.image, insert_in=self.plot.getPlotItem())

    def _apply_labels(self) -> None:
        plot = self.plot.getPlotItem()
        if self.hint.kind == "image":
            plot.setLabel("bottom", "column")
            plot.setLabel("left", "row")
            return
        x_text, x_unit = _label(self.info.columns.get(self.x_name), self.x_name)
        y_text, y_unit = _label(self.info.columns.get(self.y_name), self.y_name)
        if self.abs_y.isChecked():
            y_text = f"|{y_text}|"
        plot.setLabel("bottom", x_text, units=x_unit)
        plot.setLabel("left", y_text, units=y_unit)
        for side, unit in (("bottom", x_unit), ("left", y_unit)):
            axis = plot.getAxis(side)
            if isinstance(axis, ReadableAxis):
                axis.time_axis = unit == "s"
                axis.updateAutoSIPrefix()
        # measured against ideal (same unit, points): the y = x line shows the error at a glance
        # (it is y = x on log-log axes too)
        wanted = self.hint.kind == "scatter" and bool(x_unit) and x_unit == y_unit
        if wanted and self.identity_line is None:
            self.identity_line = pg.InfiniteLine(pos=(0, 0), angle=45, movable=False,
                                                 pen=pg.mkPen("#757575", width=1, style=QtCore.Qt.PenStyle.DotLine))
            self.identity_line.setZValue(-3)
            plot.addItem(self.identity_line, ignoreBounds=True)
        elif not wanted and self.identity_line is not None:
            plot.removeItem(self.identity_line)
            self.identity_line = None

    def _new_item(self, colour: str, name: str | None) -> pg.PlotDataItem:
        if self.hint.kind == "scatter":
            item = pg.PlotDataItem(pen=None, symbol="o", symbolSize=5, symbolPen=None,
                                   symbolBrush=pg.mkBrush(colour), name=name)
        else:
            item = pg.PlotDataItem(pen=pg.mkPen(colour, width=1), name=name)
        self.plot.addItem(item)
        return item

    # -- data --------------------------------------------------------------------------------
    def feed(self, batch: Mapping[str, np.ndarray]) -> None:
        """New rows of this pane's stream."""
        if self.hint.kind == "image":
            if self.y_name in batch and len(batch[self.y_name]):
                # drawn at the next refresh: a flood of maps costs one image and one re-level per redraw
                self._pending_image = np.asarray(batch[self.y_name][-1], dtype=np.float64)
            return
        if self.x_name not in batch or self.y_name not in batch:
            return
        try:
            x, y = pair_columns(batch[self.x_name], batch[self.y_name])
        except ValueError as exc:
            self._set_error(str(exc))
            return
        if self.abs_y.isChecked():
            y = np.abs(y)
        if self.group_by is None or self.group_by not in batch:
            self._curve(None).append(x, y)
            return
        groups = np.asarray(batch[self.group_by])
        if groups.ndim != 1 or groups.size * (x.size // max(groups.size, 1)) != x.size:
            self._curve(None).append(x, y)
            return
        per_row = x.size // max(groups.size, 1)
        # rows of one group usually come together: split at the changes, keep their order
        changes = np.flatnonzero(groups[1:] != groups[:-1]) + 1
        for start, stop in zip(np.r_[0, changes], np.r_[changes, groups.size]):
            key = groups[start].item()
            self._curve(key).append(x[start * per_row: stop * per_row], y[start * per_row: stop * per_row])

    def _curve(self, key: Any) -> LiveCurve:
        curve = self.curves.get(key)
        if curve is not None:
            return curve
        colour = PALETTE[self._groups_seen % len(PALETTE)]
        name = None
        if key is not None:
            self._groups_seen += 1
            # a legend of hundreds of cycles hides the plot: name the first few only
            name = f"{self.group_by} {key}" if self._groups_seen <= len(PALETTE) else None
        curve = LiveCurve(self._new_item(colour, name))
        self.curves[key] = curve
        if key is not None and len(self.curves) > MAX_GROUP_CURVES:
            self._retire_oldest()
        return curve

    def _retire_oldest(self) -> None:
        """Move the oldest group into the single grey 'earlier' curve (keeps the item count bounded)."""
        oldest = next(iter(self.curves))
        curve = self.curves.pop(oldest)
        if self.earlier is None:
            item = self._new_item("#b0b0b0", f"earlier {self.group_by}s")
            item.setZValue(-1)
            item.setData(connect="finite")
            self.earlier = LiveCurve(item)
        nan = np.array([np.nan])
        self.earlier.append(np.concatenate((nan, curve.x.view())), np.concatenate((nan, curve.y.view())))
        self._gaps += 1
        self.plot.removeItem(curve.item)
        if self.legend is not None:
            self.legend.removeItem(curve.item)

    def _show_image(self, cell: np.ndarray) -> None:
        if cell.ndim != 2 or self.image is None:
            return
        shown = cell
        positive = cell[np.isfinite(cell) & (cell > 0)]
        if self.hint.log_y and positive.size:
            with np.errstate(divide="ignore", invalid="ignore"):
                shown = np.where(cell > 0, np.log10(cell), np.nan)
        finite = shown[np.isfinite(shown)]
        self.image.setImage(shown, autoLevels=False)
        if finite.size:
            low, high = float(finite.min()), float(finite.max())
            if high <= low:
                high = low + 1e-12
            self.colorbar.setLevels((low, high))

    @property
    def has_data(self) -> bool:
        if self.hint.kind == "image":
            return self.image is not None and self.image.image is not None
        return self.points > 0

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._place_empty_label()

    def _place_empty_label(self) -> None:
        label = self.empty_label
        label.move(max(0, (self.plot.width() - label.width()) // 2), max(0, (self.plot.height() - label.height()) // 2))

    def refresh(self, force: bool = False) -> int:
        """Redraw the curves that changed; returns how many were handed new points."""
        shown_image = self._pending_image is not None
        if shown_image:
            self._show_image(self._pending_image)
            self._pending_image = None
        empty = not self.has_data
        if self.empty_label.isVisibleTo(self) != empty:
            self.empty_label.setVisible(empty)
            self._place_empty_label()
        view_box = self.plot.getViewBox()
        log_x = self.log_x.isChecked()
        changed = 0
        for curve in list(self.curves.values()) + ([self.earlier] if self.earlier else []):
            changed += curve.refresh(view_box, log_x, force)
        return changed + shown_image

    @property
    def points(self) -> int:
        earlier = len(self.earlier) - self._gaps if self.earlier else 0
        return sum(len(c) for c in self.curves.values()) + earlier

    def clear(self) -> None:
        for curve in self.curves.values():
            self.plot.removeItem(curve.item)
        if self.earlier is not None:
            self.plot.removeItem(self.earlier.item)
        self.curves, self.earlier, self._groups_seen, self._gaps = {}, None, 0, 0
        self._pending_image = None
        self.legend.clear()
        for item in self.references:
            self.legend.addItem(item, item.name())
        self._set_error(None)

    def _set_error(self, message: str | None) -> None:
        self.error = message
        self.plot.getPlotItem().setTitle(f"<span style='color:#d32f2f; font-size:8pt'>{message}</span>"
                                         if message else None)
        self.plot.setToolTip(message or "")

    # -- comparison with another run -----------------------------------------------------------
    def set_reference(self, label: str, columns: Mapping[str, np.ndarray] | None) -> None:
        """Draw ``columns`` (this pane's stream of another run) dashed grey behind the live data."""
        for item in self.references:
            self.plot.removeItem(item)
            self.legend.removeItem(item)
        self.references = []
        if not columns or self.hint.kind == "image" or self.x_name not in columns or self.y_name not in columns:
            return
        try:
            x, y = pair_columns(columns[self.x_name], columns[self.y_name])
        except ValueError:
            return
        if self.abs_y.isChecked():
            y = np.abs(y)
        if self.group_by in columns and len(columns[self.group_by]) == x.size:
            # separate the groups by a gap so one item draws them all
            groups = np.asarray(columns[self.group_by])
            breaks = np.flatnonzero(groups[1:] != groups[:-1]) + 1
            x = np.insert(x, breaks, np.nan)
            y = np.insert(y, breaks, np.nan)
        if self.hint.kind == "scatter":
            item = pg.PlotDataItem(pen=None, symbol="o", symbolSize=4, symbolPen=None,
                                   symbolBrush=pg.mkBrush(150, 150, 150, 140), name=label)
        else:
            item = pg.PlotDataItem(pen=REFERENCE_PEN, name=label)
        item.setZValue(-2)
        self.plot.addItem(item)  # before clip-to-view: pyqtgraph needs the item's view box for it
        item.setDownsampling(auto=True, method="peak")
        item.setClipToView(True)
        item.setData(x, y, connect="finite")
        self.references.append(item)

    # -- user changes ------------------------------------------------------------------------
    def _scale_changed(self, *args: Any) -> None:
        if self.hint.kind != "image":
            self.plot.getPlotItem().setLogMode(x=self.log_x.isChecked(), y=self.log_y.isChecked())

    def _axes_changed(self, *args: Any) -> None:
        self.x_name, self.y_name = self.x_box.currentText(), self.y_box.currentText()
        self._apply_labels()
        self.rebuild_requested = True


class PlotArea(QtWidgets.QWidget):
    """The panes of one run's plots in a grid, with the data of every stream kept for re-plotting."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, live: bool = True) -> None:
        super().__init__(parent)
        self.panes: list[PlotPane] = []
        self._cells: list[QtWidgets.QWidget] = []  # panes and the places kept for panes not built yet
        self._pending: list[tuple[PlotHint, QtWidgets.QWidget]] = []
        self.stores: dict[str, ColumnStore] = {}
        self.reference_label: str | None = None
        self.reference: dict[str, dict[str, np.ndarray]] = {}
        self.refreshes = 0
        self._columns = 0
        self._grid = QtWidgets.QGridLayout(self)
        self._grid.setContentsMargins(2, 2, 2, 2)
        self._placeholder = QtWidgets.QLabel("Start a run (or open one in the run browser) to see its plots here.")
        self._placeholder.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setWordWrap(True)
        self._placeholder.setStyleSheet("color: #757575;")
        self._grid.addWidget(self._placeholder, 0, 0)
        # the timer redraws one pane per turn of the event loop, each at most REFRESH_INTERVAL_S
        # apart: Qt paints every dirty pane of a window in one go, and three or four panes painted
        # together (tens of ms each, mostly their axes) would stall the window that long
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(int(REFRESH_INTERVAL_S * 1000 / REFRESH_SLOTS))
        self._timer.timeout.connect(self._refresh_next)
        self._next = 0
        self._refreshed_at: dict[int, float] = {}
        if live:
            self._timer.start()
        self._spare: list[pg.PlotWidget] = []  # plots built ahead, so a run's start does not build them
        self._stage_timer = QtCore.QTimer(self)  # a child: it dies with the area, pending panes too
        self._stage_timer.setSingleShot(True)
        self._stage_timer.setInterval(int(STAGE_INTERVAL_S * 1000))
        self._stage_timer.timeout.connect(self._build_next)

    def warm(self, count: int = 4) -> None:
        """Build plots ahead of need (at idle times: when the window opens, after a run). A run
        starting then takes them, instead of stalling the window while it builds them."""
        while len(self._spare) < count:
            self._spare.append(new_plot_widget())

    def setup(self, streams: Iterable[StreamInfo], plots: Sequence[PlotHint], staged: bool = False) -> None:
        """Start over with these streams and plot hints (the previous run's data is dropped).

        ``staged`` (a live run's start): the first pane now, each further one a turn of the event
        loop later (:data:`STAGE_INTERVAL_S`) in a place kept for it, given the rows received by
        then. Building a pane and its first paint take 10 to 25 ms of the GUI thread each; all of a
        run's panes at once stalled the window for their sum."""
        for cell in self._cells:
            self._grid.removeWidget(cell)
            cell.deleteLater()
        self.panes, self._cells, self._pending = [], [], []
        self._refreshed_at.clear()
        self._next = 0
        self.stores = {info.name: ColumnStore(info) for info in streams}
        hints = [h for h in plots if h.stream in self.stores] or default_hints(self.stores.values())
        self._placeholder.setVisible(not hints)
        for index, hint in enumerate(hints):
            if staged and index:
                slot = QtWidgets.QWidget()  # holds the pane's place: the others keep their size
                slot.setSizePolicy(self._cells[0].sizePolicy())
                slot.setMinimumSize(self._cells[0].minimumSizeHint())
                self._pending.append((hint, slot))
                self._cells.append(slot)
            else:
                self._cells.append(self._new_pane(hint))
        self._columns = 0
        self._arrange()
        if self.reference:
            self.set_reference(self.reference_label or "reference", self.reference)
        if self._pending:
            self._stage_timer.start()

    def _new_pane(self, hint: PlotHint) -> PlotPane:
        pane = PlotPane(hint, self.stores[hint.stream].info, plot=self._spare.pop() if self._spare else None)
        pane.setObjectName(f"plot_{hint.stream}_{hint.y}")
        self.panes.append(pane)
        return pane

    def _build_next(self, all_now: bool = False) -> None:
        """Build the next pane kept for later by a staged :meth:`setup` (or all of them)."""
        while self._pending:
            hint, slot = self._pending.pop(0)
            pane = self._new_pane(hint)
            store = self.stores[hint.stream]
            if store.rows:  # the rows that came before it
                pane.feed({name: store.column(name) for name in store.buffers})
            if self.reference:
                pane.set_reference(self.reference_label or "", self.reference.get(hint.stream))
            index = self._cells.index(slot)
            self._cells[index] = pane
            self._grid.replaceWidget(slot, pane)
            slot.deleteLater()
            if not all_now:
                break
        if self._pending:
            self._stage_timer.start()

    def _arrange(self) -> None:
        """Panes side by side where there is room for two (PANE_WIDTH each), else one above the
        other: more panes never make the area, and so the window, wider."""
        columns = 2 if len(self._cells) > 1 and self.width() >= 2 * PANE_WIDTH else 1
        if columns == self._columns:
            return
        self._columns = columns
        for cell in self._cells:
            self._grid.removeWidget(cell)
        for index, cell in enumerate(self._cells):
            self._grid.addWidget(cell, index // columns, index % columns)
        # equal shares whatever a cell holds: a place kept for a pane is as big as the pane will be
        for row in range(self._grid.rowCount()):
            self._grid.setRowStretch(row, 1 if row <= (len(self._cells) - 1) // columns else 0)
        for column in range(self._grid.columnCount()):
            self._grid.setColumnStretch(column, 1 if column < columns else 0)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._cells:
            self._arrange()

    def feed(self, stream: str, batch: Mapping[str, np.ndarray]) -> None:
        store = self.stores.get(stream)
        if store is None:
            return
        batch = with_row_axis(store.info, batch)
        store.append(batch)
        for pane in self.panes:
            if pane.hint.stream == stream:
                pane.feed(batch)

    def refresh(self) -> None:
        """Redraw every pane that changed, now."""
        for pane in self.panes:
            self._refresh_pane(pane)

    def _refresh_pane(self, pane: PlotPane) -> bool:
        self._refreshed_at[id(pane)] = time.monotonic()
        if pane.rebuild_requested:
            self._rebuild(pane)
        changed = bool(pane.refresh())
        self.refreshes += changed
        return changed

    def _refresh_next(self) -> None:
        """The timer's turn: redraw the next pane due (round robin) that has something new."""
        now = time.monotonic()
        count = len(self.panes)
        for step in range(count):
            index = (self._next + step) % count
            pane = self.panes[index]
            if now - self._refreshed_at.get(id(pane), -math.inf) < REFRESH_INTERVAL_S * 0.95:
                continue
            if self._refresh_pane(pane):
                self._next = index + 1
                return

    def _rebuild(self, pane: PlotPane) -> None:
        """The user changed a pane's columns: re-plot it from the stored rows (once)."""
        pane.rebuild_requested = False
        pane.clear()
        store = self.stores[pane.hint.stream]
        pane.feed({name: store.column(name) for name in store.buffers})
        pane.set_reference(self.reference_label or "", self.reference.get(pane.hint.stream))
        pane.refresh(force=True)

    def points(self, stream: str | None = None) -> int:
        """Rows received so far (of one stream, or of all)."""
        return sum(s.rows for name, s in self.stores.items() if stream in (None, name))

    def set_reference(self, label: str, streams: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        """Overlay another run (stream -> column -> array) on every pane that plots its streams."""
        self.reference_label, self.reference = label, {k: dict(v) for k, v in streams.items()}
        for pane in self.panes:
            pane.set_reference(label, self.reference.get(pane.hint.stream))

    def clear_reference(self) -> None:
        self.set_reference("", {})
        self.reference_label = None

    # -- saving --------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """The plots as shown, as a PNG (pixels) or SVG (vector) file chosen by the suffix."""
        path = Path(path)
        self._build_next(all_now=True)
        self.refresh()
        if path.suffix.lower() == ".svg":
            from PySide6 import QtGui, QtSvg

            generator = QtSvg.QSvgGenerator()
            generator.setFileName(str(path))
            generator.setSize(self.size())
            generator.setViewBox(self.rect())
            generator.setTitle("memlab plots")
            painter = QtGui.QPainter(generator)
            try:
                self.render(painter, QtCore.QPoint(0, 0))
            finally:
                painter.end()
        elif path.suffix.lower() == ".png":
            if not self.grab().save(str(path), "PNG"):
                raise OSError(f"cannot write {path}")
        else:
            raise ValueError(f"{path.name}: save plots as .png or .svg")
        return path

    def save_dialog(self, parent: QtWidgets.QWidget | None = None) -> Path | None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(parent or self, "Save plot", "plot.png",
                                                        "PNG image (*.png);;SVG drawing (*.svg)")
        if not path:
            return None
        try:
            return self.save(path)
        except (OSError, ValueError) as exc:
            QtWidgets.QMessageBox.warning(parent or self, "Save plot", str(exc))
            return None

    def export_csv(self, folder: str | Path, stem: str) -> list[Path]:
        """Every stream received so far as one CSV file each in ``folder`` (units in the header)."""
        written = []
        for name, store in self.stores.items():
            if store.rows:
                columns = {c: (store.column(c), store.info.columns[c].unit) for c in store.buffers}
                written.append(write_csv(Path(folder) / f"{stem}-{name}.csv", columns))
        return written


def write_csv(path: Path, columns: Mapping[str, tuple[np.ndarray, str]]) -> Path:
    """One stream as CSV: a column per scalar column (an array column as one per element),
    a header of names with units, e.g. ``time (s),value (V)``."""
    headers, flat_columns = [], []
    for name, (values, unit) in columns.items():
        values = np.asarray(values)
        flat = values.reshape(len(values), -1)
        for index in range(flat.shape[1]):
            suffix = f"[{index}]" if flat.shape[1] > 1 else ""
            headers.append(f"{name}{suffix}" + (f" ({unit})" if unit else ""))
            flat_columns.append(flat[:, index])
    table = np.column_stack(flat_columns) if flat_columns else np.empty((0, 0))
    np.savetxt(path, table, delimiter=",", header=",".join(headers), comments="", fmt="%.10g")
    return path


def with_row_axis(info: StreamInfo, batch: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
    """``batch`` with a leading row axis on every array column: a single row of a cell column
    (e.g. a whole 16 x 16 conductance map) may come without it, and must not be read as 16 rows."""
    fixed = None
    for name, values in batch.items():
        column = info.columns.get(name)
        if column is None or not column.cell:
            continue
        array = np.asarray(values)
        if array.ndim == len(column.cell):
            fixed = dict(batch) if fixed is None else fixed
            fixed[name] = array[np.newaxis]
    return batch if fixed is None else fixed


def default_hints(stores: Iterable[ColumnStore]) -> list[PlotHint]:
    """Plots for streams nobody declared hints for: the last scalar column against the first."""
    hints = []
    for store in stores:
        scalar = [c.name for c in store.info.columns.values() if not c.cell]
        if len(scalar) >= 2:
            hints.append(PlotHint(store.info.name, scalar[0], scalar[-1], store.info.name))
    return hints
