"""The bench panel: instruments and their state, connect/disconnect, manual controls.

Every manual value is checked against the bench's safety limits (``bench.limits``) at the field,
before anything is sent; the drivers check again. Instrument work runs in the controller's bench
worker thread, never in the GUI thread.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6 import QtCore, QtWidgets

from memlab.gui.capabilities import families
from memlab.gui.controller import Controller
from memlab.gui.forms import QuantityField
from memlab.gui.units import format_quantity
from memlab.gui.widgets import ElidedLabel
from memlab.procedures.common import NPLC, Device

ROLE_TITLES = {"smu": "SMU", "pulser": "pulser", "laser": "laser", "switch": "switch",
               "power_meter": "power meter"}
ALL_OFF_STYLE = ("QPushButton {background: #c62828; color: white; font-weight: bold; padding: 6px 14px;"
                 " border-radius: 4px;} QPushButton:hover {background: #b71c1c;}"
                 " QPushButton:disabled {background: #e57373;}")


def _roles(bench: Any) -> dict[str, Any]:
    if bench is None:
        return {}
    if hasattr(bench, "instruments"):
        return dict(bench.instruments())
    return {role: getattr(bench, role) for role in ROLE_TITLES if getattr(bench, role, None) is not None}


def short_identity(identity: str | None) -> str:
    """The serial number of an ``*IDN?`` reply ("maker,model,serial,firmware"): the model has its
    own column, and the full reply (with the firmware) is in the tooltip."""
    if not identity:
        return ""
    parts = [p.strip() for p in str(identity).split(",")]
    if len(parts) == 4:
        return f"SN {parts[2]}"
    return str(identity)


def outputs_text(states: dict[str, bool | None]) -> str:
    """Rich text naming each source and whether its output is on (on in bold red)."""
    parts = []
    for role, on in states.items():
        title = ROLE_TITLES.get(role, role)
        parts.append(f"<b style='color:#c62828'>{title} ON</b>" if on
                     else f"{title} ?" if on is None else f"<span style='color:#2e7d32'>{title} off</span>")
    return ", ".join(parts) or "-"


class _ManualContext:
    """What :class:`~memlab.procedures.common.Device` needs of a run context: the bench."""

    def __init__(self, bench: Any) -> None:
        self.bench = bench
        self.devices_in_use = None  # not a run: no campaign pauses it


def _limit_check(controller: Controller, method: str, parameter: str):
    """A field check calling ``bench.limits.<method>`` (nothing to check without a bench)."""

    def check(value: float) -> None:
        limits = getattr(controller.bench, "limits", None)
        if limits is not None:
            getattr(limits, method)(value, parameter)

    return check


class BenchPanel(QtWidgets.QWidget):
    """See the module docstring."""

    def __init__(self, controller: Controller, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.device: tuple[int, int] = (0, 0)
        self._held: Device | None = None  # the device the SMU was left on at ("leave on"); worker thread only

        self.header = QtWidgets.QLabel("No bench connected.")
        self.header.setWordWrap(True)
        self.header.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.table = QtWidgets.QTableWidget(0, 5)
        self.table.setObjectName("instrument_table")
        self.table.setHorizontalHeaderLabels(["role", "model", "identity", "kind", "state"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        for column in (0, 3, 4):
            header.setSectionResizeMode(column, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        for column in (1, 2):  # model and identity give way (elided; full text on hover)
            header.setSectionResizeMode(column, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.table.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setTextElideMode(QtCore.Qt.TextElideMode.ElideRight)
        self.table.setColumnHidden(2, True)  # the serial number and *IDN? reply are in every cell's tooltip
        self.table.setWordWrap(False)
        self.table.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._fit_table()

        self.connect_button = QtWidgets.QPushButton("Connect")
        self.connect_button.setObjectName("connect_button")
        self.connect_button.clicked.connect(self._toggle_connection)
        self.refresh_button = QtWidgets.QPushButton("Query instruments")
        self.refresh_button.setToolTip("Ask every instrument for its identity (checks the connections)")
        self.refresh_button.clicked.connect(self.refresh_instruments)

        # which bench and which chip: a bench file, or the built-in simulated bench with a chip family
        self.bench_source = ElidedLabel(self._source_text())
        self.bench_source.setObjectName("bench_source")
        self.bench_file_button = QtWidgets.QPushButton("Bench file…")
        self.bench_file_button.setToolTip("Open a bench file (TOML): real or simulated instruments, wiring, limits")
        self.bench_file_button.clicked.connect(self._choose_file)
        self.builtin_button = QtWidgets.QPushButton("Built-in")
        self.builtin_button.setToolTip("The built-in simulated bench")
        self.builtin_button.clicked.connect(lambda: self.choose_bench(None, self.family.currentData()))
        self.family = QtWidgets.QComboBox()
        self.family.setObjectName("chip_family")
        self.family.addItem("chip as the bench says", None)
        for family in families():
            self.family.addItem(f"{family} chip", family)
        self.family.setCurrentIndex(max(0, self.family.findData(controller.family)))
        self.family.setToolTip("The chip family of the simulated chip (from the chip presets); "
                               "choosing one reconnects the bench")
        self.family.activated.connect(lambda _index: self.choose_bench(self.controller.bench_path, self.family.currentData()))

        # manual controls
        self.device_label = QtWidgets.QLabel()
        self.voltage = QuantityField("V", 0.1, check=_limit_check(controller, "check_voltage", "voltage_v"),
                                     help_text="Voltage to source (within the bench's max_voltage_v)")
        self.compliance = QuantityField("A", 100e-6, check=_limit_check(controller, "check_compliance", "compliance_a"),
                                        help_text="Current compliance of the reading and of SMU pulses "
                                                  "(within the bench's max_current_a)")
        self.keep_on = QtWidgets.QCheckBox("leave on")
        self.keep_on.setToolTip("Leave the SMU output on after Set & read (otherwise it goes off right after the reading)")
        self.read_button = QtWidgets.QPushButton("Set && read")
        self.read_button.setObjectName("read_button")
        self.read_button.clicked.connect(self.set_and_read)
        self.reading = QtWidgets.QLabel("Results show here.")
        self.reading.setObjectName("reading_label")
        self.reading.setWordWrap(True)

        self.pulse_v = QuantityField("V", 1.0, check=_limit_check(controller, "check_pulse_voltage", "amplitude_v"),
                                     help_text="Pulse amplitude (within the bench's max_pulse_voltage_v)")
        self.pulse_width = QuantityField("s", 1e-3, check=_limit_check(controller, "check_pulse_width", "width_s"),
                                         help_text="Pulse width (at least the bench's min_pulse_width_s)")
        self.pulse_button = QtWidgets.QPushButton("Fire pulse")
        self.pulse_button.setToolTip("One pulse of this amplitude and width on the device")
        self.pulse_button.setObjectName("pulse_button")
        self.pulse_button.clicked.connect(self.fire_pulse)

        self.laser_power = QuantityField("W", 1e-3, check=_limit_check(controller, "check_laser_power", "power_w"),
                                         help_text="Optical power (within the bench's max_laser_power_w)")
        self.laser_on_button = QtWidgets.QPushButton("Laser on")
        self.laser_on_button.setObjectName("laser_on_button")
        self.laser_on_button.clicked.connect(lambda: self.set_laser(True))
        self.laser_off_button = QtWidgets.QPushButton("Laser off")
        self.laser_off_button.clicked.connect(lambda: self.set_laser(False))
        self.laser_state = QtWidgets.QLabel("off")

        # lasting indicators: what is on stays visible whatever the user does elsewhere
        self.outputs_label = QtWidgets.QLabel("Outputs: -")
        self.outputs_label.setObjectName("outputs_label")
        self.outputs_label.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.outputs_label.setToolTip("Which sources are on, as the instruments report it "
                                      "(checked after every manual action and every run)")
        self.power_label = QtWidgets.QLabel("Power meter: -")
        self.power_label.setObjectName("power_label")
        self.power_button = QtWidgets.QPushButton("Read power")
        self.power_button.setToolTip("Read the optical power meter")
        self.power_button.clicked.connect(self.read_power)

        manual = QtWidgets.QGroupBox("Manual control")
        grid = QtWidgets.QGridLayout(manual)
        grid.setVerticalSpacing(4)
        grid.addWidget(self.device_label, 0, 0, 1, 5)
        grid.addWidget(QtWidgets.QLabel("Voltage"), 1, 0)
        grid.addWidget(self.voltage, 1, 1)
        grid.addWidget(QtWidgets.QLabel("Compl."), 1, 2)
        grid.addWidget(self.compliance, 1, 3)
        grid.addWidget(self.read_button, 1, 4)
        grid.addWidget(QtWidgets.QLabel("Pulse"), 2, 0)
        grid.addWidget(self.pulse_v, 2, 1)
        grid.addWidget(QtWidgets.QLabel("Width"), 2, 2)
        grid.addWidget(self.pulse_width, 2, 3)
        grid.addWidget(self.pulse_button, 2, 4)
        grid.addWidget(self.keep_on, 3, 0, 1, 2)
        grid.addWidget(self.reading, 3, 2, 1, 3)
        grid.addWidget(QtWidgets.QLabel("Laser"), 4, 0)
        grid.addWidget(self.laser_power, 4, 1)
        grid.addWidget(self.laser_state, 4, 2)
        laser_buttons = QtWidgets.QHBoxLayout()
        laser_buttons.addWidget(self.laser_on_button)
        laser_buttons.addWidget(self.laser_off_button)
        grid.addLayout(laser_buttons, 4, 3, 1, 2)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self.manual_box = manual

        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.connect_button)
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        choice = QtWidgets.QGridLayout()
        choice.addWidget(self.bench_source, 0, 0, 1, 2)
        choice.addWidget(self.bench_file_button, 1, 0)
        choice.addWidget(self.builtin_button, 1, 1)
        choice.addWidget(self.family, 2, 0, 1, 2)
        layout.addLayout(choice)
        layout.addWidget(self.outputs_label)
        power_row = QtWidgets.QHBoxLayout()
        power_row.addWidget(self.power_label, 1)
        power_row.addWidget(self.power_button)
        layout.addLayout(power_row)
        layout.addWidget(manual)
        layout.addStretch(1)

        controller.bench_changed.connect(self._bench_changed)
        controller.running_changed.connect(self._running_changed)
        controller.bench_busy.connect(lambda _: self._update_enabled())
        for field in (self.voltage, self.compliance, self.pulse_v, self.pulse_width, self.laser_power):
            field.value_changed.connect(self._update_enabled)
        self.set_device((0, 0))
        self._bench_changed(controller.bench)

    # -- bench state -----------------------------------------------------------------------------
    def _bench_changed(self, bench: Any) -> None:
        self._held = None
        self.table.setRowCount(0)
        if bench is None:
            self.header.setText("<b>No bench connected.</b> Press Connect to open it.")
        else:
            chip = bench.chip_info() if hasattr(bench, "chip_info") else {}
            name = getattr(getattr(bench, "config", None), "name", "") or "bench"
            kind = "simulated" if getattr(bench, "simulated", False) else "real hardware"
            clock = "virtual clock" if getattr(bench.clock, "virtual", False) else "wall clock"
            self.header.setText(
                f"<b>{name}</b> ({kind}, {clock})<br>chip: {chip.get('family', '?')}, "
                f"{chip.get('rows', '?')} x {chip.get('cols', '?')} {chip.get('array', '')}")
            errors = getattr(bench, "errors", {}) or {}
            for role, driver in _roles(bench).items():
                self._set_row(role, {"model": getattr(driver, "model", type(driver).__name__)}, None)
            for role, message in errors.items():
                self._set_row(role, {"model": "?"}, message)
            self.refresh_instruments()
            self.refresh_outputs()
        for field in (self.voltage, self.compliance, self.pulse_v, self.pulse_width, self.laser_power):
            field._validate()  # the limits came with the bench
        self._update_enabled()

    def _set_row(self, role: str, info: dict[str, Any], error: str | None) -> None:
        row = next((r for r in range(self.table.rowCount()) if self.table.item(r, 0).data(QtCore.Qt.ItemDataRole.UserRole) == role), None)
        if row is None:
            row = self.table.rowCount()
            self.table.insertRow(row)
        simulated = info.get("simulated")
        state = "error" if error else ("connected" if info.get("identity") else "…")
        cells = [ROLE_TITLES.get(role, role), str(info.get("model") or ""), short_identity(info.get("identity")) or error or "",
                 "simulated" if simulated else ("real" if simulated is False else ""), state]
        for column, text in enumerate(cells):
            item = QtWidgets.QTableWidgetItem(text)
            item.setToolTip(f"{role} at {info.get('address', '')}\n{error or info.get('identity') or ''}".strip())
            if column == 4:
                item.setForeground(QtCore.Qt.GlobalColor.darkGreen if state == "connected"
                                   else QtCore.Qt.GlobalColor.red if error else QtCore.Qt.GlobalColor.gray)
            self.table.setItem(row, column, item)
        self.table.item(row, 0).setData(QtCore.Qt.ItemDataRole.UserRole, role)

    def _fit_table(self) -> None:
        # every instrument visible at once, no scrolling: benches have five roles at most
        rows = max(self.table.rowCount(), len(ROLE_TITLES))
        height = self.table.horizontalHeader().sizeHint().height() + rows * self.table.verticalHeader().defaultSectionSize()
        self.table.setFixedHeight(height + 2 * self.table.frameWidth())

    def refresh_instruments(self) -> None:
        """Ask each instrument who it is (in the bench worker); rows show connected or the error."""
        bench = self.controller.bench
        if bench is None or self.controller.running:
            return
        roles = _roles(bench)

        def query(_bench: Any) -> dict[str, tuple[dict[str, Any], str | None]]:
            found = {}
            for role, driver in roles.items():
                try:
                    found[role] = (dict(driver.snapshot()), None)
                except Exception as exc:  # noqa: BLE001 - one silent instrument must not hide the rest
                    found[role] = ({"model": getattr(driver, "model", "")}, f"{type(exc).__name__}: {exc}")
            return found

        def show(found: dict[str, tuple[dict[str, Any], str | None]] | None, error: BaseException | None) -> None:
            for role, (info, problem) in (found or {}).items():
                if hasattr(bench, "config") and role in getattr(bench.config, "instruments", {}):
                    info.setdefault("simulated", bench.config.instruments[role].simulated)
                self._set_row(role, info, problem)
            laser = roles.get("laser")
            if laser is not None and found and "laser" in found and not found["laser"][1]:
                settings = found["laser"][0].get("settings", {})
                if "output" in settings:
                    self.laser_state.setText("ON" if settings["output"] else "off")

        self.controller.manual("query instruments", query, show, quiet=True)

    def _source_text(self) -> str:
        path = self.controller.bench_path
        family = self.controller.family
        return ("Bench: " + (path or "built-in simulated bench") + (f", {family} chip" if family else ""))

    def choose_bench(self, path: str | None, family: str | None) -> None:
        """Open another bench file and/or chip family (reconnects a connected bench)."""
        try:
            self.controller.choose_bench(path, family)
        except RuntimeError as exc:
            self.controller.message.emit(logging.WARNING, "bench", str(exc))
            return
        self.bench_source.setText(self._source_text())
        index = self.family.findData(family)
        self.family.setCurrentIndex(max(index, 0))

    def _choose_file(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open a bench file", "", "Bench files (*.toml)")
        if path:
            self.choose_bench(path, self.family.currentData())

    def _running_changed(self, running: bool) -> None:
        if running:
            self._held = None  # the run's own shutdown switches the SMU off and opens the switch
            self.outputs_label.setText("Outputs: <b>a run is using the bench</b>")
        self._update_enabled()
        if not running:
            self.refresh_outputs()

    def refresh_outputs(self) -> None:
        """Ask each source whether its output is on (in the bench worker); show it until the next check."""
        bench = self.controller.bench
        if bench is None or self.controller.running:
            self.outputs_label.setText("Outputs: -")
            return
        roles = _roles(bench)

        def query(_bench: Any) -> dict[str, bool | None]:
            states: dict[str, bool | None] = {}
            for role in ("smu", "pulser", "laser"):
                driver = roles.get(role)
                if driver is None:
                    continue
                try:
                    states[role] = bool(driver.output_enabled())
                except Exception:  # noqa: BLE001 - unknown is shown as such
                    states[role] = None
            return states

        def show(states: dict[str, bool | None] | None, error: BaseException | None) -> None:
            self.outputs_label.setText("Outputs: " + outputs_text(states or {}))

        try:
            self.controller.manual("output states", query, show, quiet=True)
        except RuntimeError:
            pass  # a run started meanwhile: its end triggers the next check

    def read_power(self) -> None:
        def act(bench: Any) -> float:
            return float(bench.power_meter.read_power_w())

        def done(power: Any, error: BaseException | None) -> None:
            self.power_label.setText(f"Power meter: <span style='color:#d32f2f'>{error}</span>" if error is not None
                                     else f"Power meter: <b>{format_quantity(power, 'W')}</b>")

        try:
            self.controller.manual("read power", act, done, quiet=True)
        except RuntimeError as exc:
            self.power_label.setText(str(exc))

    def _toggle_connection(self) -> None:
        try:
            if self.controller.bench is None:
                self.controller.connect_bench()
            else:
                self.controller.disconnect_bench()
        except RuntimeError as exc:
            self.controller.message.emit(logging.WARNING, "bench", str(exc))

    def _update_enabled(self, *args: Any) -> None:
        bench = self.controller.bench
        free = bench is not None and not self.controller.running
        self.connect_button.setText("Disconnect" if bench is not None else "Connect")
        self.connect_button.setEnabled(not self.controller.running)
        self.refresh_button.setEnabled(free)
        for widget in (self.bench_file_button, self.builtin_button, self.family):
            widget.setEnabled(not self.controller.running)
        roles = _roles(bench)
        self.manual_box.setEnabled(free)
        self.manual_box.setTitle("Manual control" if free or bench is None
                                 else "Manual control (a run is using the bench)")
        self.read_button.setEnabled(free and "smu" in roles and self.voltage.error is None
                                    and self.compliance.error is None)
        self.pulse_button.setEnabled(free and ("pulser" in roles or "smu" in roles)
                                     and self.pulse_v.error is None and self.pulse_width.error is None)
        self.laser_on_button.setEnabled(free and "laser" in roles and self.laser_power.error is None)
        self.laser_off_button.setEnabled(free and "laser" in roles)
        self.power_button.setEnabled(free and "power_meter" in roles)

    # -- manual controls -------------------------------------------------------------------------
    def set_device(self, device: tuple[int, int]) -> None:
        """The device manual controls act on (the first one selected on the chip map)."""
        self.device = (int(device[0]), int(device[1]))
        self.device_label.setText(f"Device: row {self.device[0]}, col {self.device[1]} "
                                  "<span style='color:#757575'>(select it on the chip map)</span>")

    def _device(self, bench: Any, row: int, col: int, compliance_a: float, read_v: float = 0.0) -> Device:
        """The procedures' own device actions (route, read, pulse, release) for the manual controls.

        Runs in the bench worker. A device whose SMU output was left on by "leave on" is switched
        to 0 V, off and released first: relays switch with the sources off, and two instruments
        never share a device's pads."""
        held, self._held = self._held, None
        if held is not None:
            try:
                bench.smu.set_voltage(0.0, held.compliance_a)
                bench.smu.output_off()
            finally:
                held.release()
        return Device(_ManualContext(bench), row, col, read_v=read_v, compliance_a=compliance_a,
                      nplc=NPLC.default, reads=1)

    def set_and_read(self) -> None:
        voltage, compliance, keep = self.voltage.value(), self.compliance.value(), self.keep_on.isChecked()
        row, col = self.device
        if voltage is None or compliance is None:
            return

        def act(bench: Any) -> str:
            bench.limits.check_voltage(voltage, "voltage_v")
            bench.limits.check_compliance(compliance, "compliance_a")
            device = self._device(bench, row, col, compliance, read_v=voltage)
            try:
                current = float(device.read_currents(1, voltage)[0])
                if keep:  # hold the bias on the routed device until the next manual action
                    bench.smu.set_voltage(voltage, compliance)
                    bench.smu.output_on()
                    self._held = device
            finally:
                if self._held is not device:
                    device.release()
            resistance = voltage / current if current else float("inf")
            return (f"({row},{col}) at {format_quantity(voltage, 'V')}: I = {format_quantity(current, 'A')}, "
                    f"R = {format_quantity(resistance, 'Ω')}" + ("; output left ON" if keep else ""))

        self._run(f"set {format_quantity(voltage, 'V')} and read", act, self.reading)

    def fire_pulse(self) -> None:
        amplitude, width = self.pulse_v.value(), self.pulse_width.value()
        compliance = self.compliance.value()
        row, col = self.device
        if amplitude is None or width is None:
            return

        def act(bench: Any) -> str:
            bench.limits.check_pulse_voltage(amplitude, "amplitude_v")
            bench.limits.check_pulse_width(width, "width_s")
            device = self._device(bench, row, col, compliance or bench.limits.max_current_a)
            try:
                if bench.pulser is not None:
                    try:
                        device.pulse(amplitude, width, 1)
                    finally:
                        bench.pulser.output_off()
                    return f"pulse of {format_quantity(amplitude, 'V')}, {format_quantity(width, 's')} on ({row},{col})"
                result = device.smu_pulse(amplitude, width, 1)
            finally:
                device.release()
            return (f"SMU pulse of {format_quantity(amplitude, 'V')}, {format_quantity(width, 's')} on ({row},{col}): "
                    f"I = {format_quantity(float(result.current_a[0]), 'A')}")

        self._run("fire one pulse", act, self.reading)

    def set_laser(self, on: bool) -> None:
        power = self.laser_power.value()
        if on and power is None:
            return

        def act(bench: Any) -> str:
            if not on:
                bench.laser.output_off()
                return "laser off"
            bench.limits.check_laser_power(power, "power_w")
            bench.laser.set_power(power)
            bench.laser.output_on()
            return f"laser on at {format_quantity(power, 'W')}"

        def done(result: Any, error: BaseException | None) -> None:
            if error is None:
                self.laser_state.setText(f"ON, {format_quantity(power, 'W')}" if on else "off")
                self.laser_state.setStyleSheet("color: #c62828; font-weight: bold;" if on else "")
            else:
                self.laser_state.setText(f"error: {error}")
            self.refresh_outputs()

        try:
            self.controller.manual("laser on" if on else "laser off", act, done)
        except RuntimeError as exc:
            self.laser_state.setText(str(exc))

    def _run(self, what: str, act: Any, label: QtWidgets.QLabel) -> None:
        label.setText("…")

        def done(result: Any, error: BaseException | None) -> None:
            label.setText(f"<span style='color:#d32f2f'>{error}</span>" if error is not None else str(result))
            label.setToolTip(label.text())
            self.refresh_outputs()

        try:
            self.controller.manual(what, act, done)
        except RuntimeError as exc:
            label.setText(str(exc))

    def outputs_off_shown(self) -> None:
        """After "all outputs off": the laser indicator goes back to off."""
        self._held = None
        self.laser_state.setText("off")
        self.laser_state.setStyleSheet("")
        if not self.controller.running:
            QtCore.QTimer.singleShot(0, self.refresh_outputs)
