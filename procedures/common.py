"""What the instrument procedures share: device addressing, reads and pulses through the
instruments' fast paths, and the parameters every one of them declares."""

from __future__ import annotations

import logging
import re
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from memlab.errors import MemlabError
from memlab.procedures.context import BenchContext, ExecutionContext
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.storage import canonical

if TYPE_CHECKING:
    from memlab.instruments.interfaces import SweepResult

log = logging.getLogger(__name__)

# -- shared parameter declarations ----------------------------------------------------------
ROW = Parameter("row", int, 0, "", 0, 4095, help="Chip row of the device")
COL = Parameter("col", int, 0, "", 0, 4095, help="Chip column of the device")
READ_V = Parameter(canonical.READ_V, float, 0.2, "V", -2.0, 2.0,
                   help="Read voltage: well below the switching threshold so reads do not disturb")
COMPLIANCE_A = Parameter(canonical.COMPLIANCE_A, float, 1e-3, "A", 1e-9, 0.1,
                         help="Current compliance of the source-measure unit")
NPLC = Parameter("nplc", float, 0.01, "", 0.001, 10.0,
                 help="Integration time of each reading, in power-line cycles")
READS = Parameter("reads", int, 1, "", 1, 1000, help="Readings averaged per read")
WIDTH_S = Parameter("width_s", float, 100e-9, "s", 1e-9, 1.0, help="Width of each programming pulse")
DEVICE_PARAMS = (ROW, COL)
READ_PARAMS = (READ_V, COMPLIANCE_A, NPLC, READS)

SHORTED_ABOVE_S = 1e-4
"""A read showing more than this conductance (10 kohm), or at the SMU's compliance, means a
shorted device: ten times the top of any analog window memlab's device families have."""


class DeviceFault(MemlabError, RuntimeError):
    """The device under test is broken (shorted); the run fails so a campaign can skip it."""


_DEVICE_RE = re.compile(r"^\s*(\d+)\s*,\s*(\d+)\s*$")


def parse_devices(text: str, rows: int | None = None, cols: int | None = None,
                  name: str = "devices") -> list[tuple[int, int]]:
    """``"0,0;1,2"`` -> [(0, 0), (1, 2)]; ``"all"`` needs the chip size."""
    if text.strip().lower() == "all":
        if rows is None or cols is None:
            raise ParameterError(name, text, "'all' needs the chip size; list devices as 'r,c;r,c'")
        return [(r, c) for r in range(rows) for c in range(cols)]
    devices = []
    for part in text.split(";"):
        if not part.strip():
            continue
        m = _DEVICE_RE.match(part)
        if not m:
            raise ParameterError(name, text, "devices as 'row,col;row,col' (e.g. '0,0;1,2') or 'all'")
        devices.append((int(m.group(1)), int(m.group(2))))
    if not devices:
        raise ParameterError(name, text, "at least one device, as 'row,col;row,col' or 'all'")
    return devices


def check_pulse_amplitudes(bench: BenchContext, name: str, *amplitudes_v: float) -> None:
    """Refuse pulse amplitudes beyond the bench's limit before anything is switched on."""
    limit = bench.limits.max_pulse_voltage_v
    for value in amplitudes_v:
        if abs(value) > limit:
            raise ParameterError(name, value, f"|value| <= {limit:g} V (the bench's max_pulse_voltage_v)")


def check_voltages(bench: BenchContext, name: str, *voltages_v: float) -> None:
    limit = bench.limits.max_voltage_v
    for value in voltages_v:
        if abs(value) > limit:
            raise ParameterError(name, value, f"|value| <= {limit:g} V (the bench's max_voltage_v)")


def check_compliance(bench: BenchContext, compliance_a: float) -> None:
    if compliance_a > bench.limits.max_current_a:
        raise ParameterError("compliance_a", compliance_a,
                             f"<= {bench.limits.max_current_a:g} A (the bench's max_current_a)")


def check_superposition(bench: BenchContext) -> None:
    """Refuse a chip on which single-device reads do not add up to the column current of all rows
    driven (superposition): a passive array whose reads collect sneak currents.

    A 1T1R array has no sneak paths. A passive array whose read bias holds the other rows at the
    sense column's potential ("grounded", "v/2-columns") lets a single-device read sense that
    device alone, and with all rows driven every device sees its own row's voltage, so the column
    current is the sum of the single-device currents, as in 1T1R. A V/2 or V/3 read bias adds
    the half-selected rows' currents to every read (a term set by the other rows' states, not by
    the inputs): refused."""
    from memlab.instruments.sim.chip.bias import SNEAK_FREE_READ_BIASES

    chip = bench.chip_info()
    array = chip.get("array", "1t1r")
    read_bias = chip.get("read_bias")
    if array != "1t1r" and read_bias not in SNEAK_FREE_READ_BIASES:
        allowed = " or ".join(repr(b) for b in SNEAK_FREE_READ_BIASES)
        raise ParameterError("bench", f"{array} array, read_bias {read_bias!r}",
                             f"a 1T1R array, or a passive one with read_bias = {allowed}: the product is "
                             "measured by superposition of single-device reads, which the sneak currents of "
                             f"a {read_bias} read bias would corrupt")


def line_frequency_hz(bench: BenchContext) -> float:
    """The bench's mains frequency (SMU integration times are in power-line cycles)."""
    return float(bench.config.line_frequency_hz)


class RowBatch:
    """Rows gathered one at a time, appended to ``stream`` as one batch of arrays every ``size`` rows
    (and by :meth:`flush`): a file write and a plot update per batch, not per point."""

    def __init__(self, ctx: ExecutionContext, stream: str, columns: tuple[str, ...], size: int = 64) -> None:
        self.ctx, self.stream, self.columns, self.size = ctx, stream, columns, size
        self._rows: list[tuple] = []

    def add(self, *values: Any) -> None:
        if len(values) != len(self.columns):
            raise ValueError(f"{self.stream}: a row needs {len(self.columns)} values {self.columns}, "
                             f"got {len(values)}")
        self._rows.append(values)
        if len(self._rows) >= self.size:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            rows, self._rows = self._rows, []
            self.ctx.append(self.stream, {name: np.asarray(col) for name, col in zip(self.columns, zip(*rows))})

    def __enter__(self) -> RowBatch:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        """Flush what was measured, also when the run is aborted or fails on the way."""
        if exc_type is None:
            self.flush()
            return
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - the error already on its way up matters more
            log.exception("%s: could not record the last rows", self.stream)


# The pulse each pulse generator was last set up for. Kept per generator, not per Device: the
# devices of a procedure share one generator, and a shape cached on one Device would fire
# another Device's last pulse (e.g. a RESET where a SET was asked).
_PULSE_SHAPES: weakref.WeakKeyDictionary[Any, tuple] = weakref.WeakKeyDictionary()


class RouteConflict(MemlabError, RuntimeError):
    """A run tried to route a device while another run still holds a route on the same switch."""


# Which Devices hold a closed route, per switch matrix. A campaign interleaves runs; only the
# run that holds the instruments may have routes closed, so each route is checked against them.
_ROUTES_HELD: weakref.WeakKeyDictionary[Any, set[Device]] = weakref.WeakKeyDictionary()


def forget_pulse_shape(pulser: Any) -> None:
    """After a safe shutdown the generator's output is off: the next pulse configures it again."""
    if pulser is not None:
        _PULSE_SHAPES.pop(pulser, None)


def release_routes(ctx: ExecutionContext) -> None:
    """Open every route the devices of run ``ctx`` hold (before another run takes the instruments)."""
    for device in list(ctx.devices_in_use or ()):
        device.release()


def forget_routes(ctx: ExecutionContext) -> None:
    """Bookkeeping after a safe shutdown, which opened every relay: ``ctx``'s devices hold none."""
    for device in list(ctx.devices_in_use or ()):
        held = _ROUTES_HELD.get(device.bench.switch) if device.bench.switch is not None else None
        if held is not None:
            held.discard(device)
        device._routed = None


#: the terminals a Device drives, by instrument (the bench file's default terminal names)
SOURCE_TERMINALS = ("smu", "pulse")


class Device:
    """One device of the chip, reached through the switch matrix (when the bench has one).

    The SMU and the pulse generator take turns on the device's pads, as the wiring's ``routing``
    allows. Exclusive routing: routing one terminal releases the other first, so two instruments
    are never joined. Shared or bias-tee routing: both terminals are closed onto the device at once
    and stay closed while this Device is in use; the generator's output is switched off after each
    burst and the SMU's is off outside its sweeps, so only one source drives the device at a time.
    Routes stay closed until :meth:`release` or until another terminal needs the pads.
    Reads use the SMU's list sweep (one bulk fetch for all readings); pulses use the pulse
    generator's triggered bursts. A route is refused (:class:`RouteConflict`) while a device of
    another run holds one on the same switch.
    """

    def __init__(self, ctx: ExecutionContext, row: int, col: int, *, read_v: float, compliance_a: float,
                 nplc: float, reads: int = 1) -> None:
        self.ctx = ctx
        self.bench: BenchContext = ctx.bench
        self.row, self.col = row, col
        self.read_v, self.compliance_a, self.nplc, self.reads = read_v, compliance_a, nplc, reads
        self._routed: str | None = None  # the terminal routed here, or "joined" for all of them
        in_use = ctx.devices_in_use
        self._tracked = in_use is not None  # a run's device (manual controls have no run)
        if in_use is not None:
            in_use.append(self)
        # With shared routing another Device may take the pads between two calls of this one; the
        # switch driver remembers its last join and re-joins only when it changed.
        switch = self.bench.switch
        self.routing = "direct" if switch is None else switch.wiring.routing
        """``"exclusive"``, ``"shared"``, ``"bias_tee"`` (the switch's wiring) or ``"direct"`` (no switch:
        the wiring fixes the routes; the idle instrument is kept off as with shared routing)."""

    def route(self, terminal: str) -> None:
        switch = self.bench.switch
        if switch is None or self._routed == terminal:
            return
        held = _ROUTES_HELD.setdefault(switch, set())
        others = [d for d in held if d.ctx is not self.ctx and d._routed is not None]
        if others:
            other = others[0]
            raise RouteConflict(f"device ({self.row},{self.col}): cannot route {terminal!r} while another run "
                                f"({getattr(getattr(other.ctx, 'procedure', None), 'name', '?')}) holds "
                                f"{other._routed!r} on device ({other.row},{other.col}); one run drives "
                                "the switch at a time")
        if self.routing == "exclusive":
            if self._routed is not None:
                switch.disconnect(self._routed)
                self._routed = None
                held.discard(self)
            switch.connect(terminal, self.row, self.col)
            self._routed = terminal
        else:
            terminals = [t for t in SOURCE_TERMINALS if t in switch.wiring.terminals]
            if terminal not in terminals:
                terminals.append(terminal)
            if self._routed is None:
                self._quiet_outputs()
            switch.join(terminals, self.row, self.col)
            self._routed = "joined"
        if self._tracked:
            held.add(self)

    def _quiet_outputs(self) -> None:
        """Both instruments off before their terminals are joined on a device: whatever a previous
        user of the bench left on must not meet the other source there."""
        for instrument in (self.bench.pulser, self.bench.smu):
            if instrument is not None and instrument.output_enabled():
                instrument.output_off()

    def release(self) -> None:
        switch = self.bench.switch
        if switch is not None and self._routed is not None:
            if self._routed == "joined":
                switch.disconnect(*[t for t in SOURCE_TERMINALS if t in switch.wiring.terminals])
            else:
                switch.disconnect(self._routed)
            _ROUTES_HELD.get(switch, set()).discard(self)
        self._routed = None

    # -- reads ----------------------------------------------------------------------------
    def read_currents(self, count: int | None = None, voltage_v: float | None = None) -> np.ndarray:
        """``count`` readings at the read voltage, in one list sweep and one bulk fetch."""
        self.route("smu")
        n = count or self.reads
        v = self.read_v if voltage_v is None else voltage_v
        currents = self.bench.smu.list_sweep(np.full(n, v), self.compliance_a, self.nplc).current_a
        worst = float(np.max(np.abs(currents)))
        if v and (worst >= 0.98 * self.compliance_a or worst / abs(v) > SHORTED_ABOVE_S):
            raise DeviceFault(f"device ({self.row},{self.col}) reads {worst:.3g} A at {v:g} V "
                              f"({worst / abs(v):.3g} S; compliance {self.compliance_a:g} A): shorted")
        return currents

    def read_conductance(self, count: int | None = None) -> float:
        """Mean apparent conductance I / V at the read voltage, in siemens."""
        return float(np.mean(self.read_currents(count)) / self.read_v)

    def sweep(self, voltages_v: np.ndarray, delay_s: float = 0.0):
        """A list sweep on the device, split into the SMU's longest list; returns SweepResult parts."""
        self.route("smu")
        smu = self.bench.smu
        size = smu.max_sweep_points
        parts = [smu.list_sweep(voltages_v[i:i + size], self.compliance_a, self.nplc, delay_s)
                 for i in range(0, len(voltages_v), size)]
        return parts

    # -- pulses ---------------------------------------------------------------------------
    def pulse(self, amplitude_v: float, width_s: float, count: int = 1, period_s: float | None = None) -> None:
        """``count`` pulses of ``amplitude_v`` (negative for RESET/depression) from 0 V.

        With exclusive routing the generator keeps its output on (at 0 V) between bursts: its terminal
        is routed away before the SMU reaches the device. Otherwise it shares the device with the SMU
        and switches its output off after every burst."""
        self.route("pulse")
        pulser = self.bench.pulser
        period = period_s if period_s is not None else max(2 * width_s, width_s + 1e-6)
        shape = (amplitude_v, width_s, period, count)
        stays_on = self.routing == "exclusive"
        if _PULSE_SHAPES.get(pulser) != shape:  # reconfigure only when the pulse changes
            _PULSE_SHAPES.pop(pulser, None)  # unknown until configured: a failure leaves no stale shape
            pulser.configure_pulse(amplitude_v, width_s, period, burst_count=count)
            if stays_on and not pulser.output_enabled():
                pulser.output_on()
            _PULSE_SHAPES[pulser] = shape
        if stays_on:
            pulser.trigger()
        else:
            pulser.fire_burst()

    def bipolar_burst(self, high_v: float, high_width_s: float, low_v: float, low_width_s: float,
                      periods: int, max_burst: int = 1_000_000) -> None:
        """``periods`` periods of ``high_width_s`` at ``high_v`` then ``low_width_s`` at ``low_v`` (a SET
        and a RESET per period): pulses to ``high_v`` on a base of ``low_v``, in bursts of at most
        ``max_burst``. Between bursts the generator holds its base, so its output is on only for them."""
        self.route("pulse")
        pulser = self.bench.pulser
        _PULSE_SHAPES.pop(pulser, None)  # the generator holds another pulse from now on
        if pulser.output_enabled():
            pulser.output_off()
        left = periods
        while left > 0:
            count = min(left, max_burst)
            pulser.configure_pulse(high_v, high_width_s, high_width_s + low_width_s, burst_count=count, base_v=low_v)
            pulser.output_on()
            try:
                pulser.trigger()
            finally:
                pulser.output_off()
            left -= count

    def smu_pulse(self, amplitude_v: float, width_s: float, count: int = 1,
                  period_s: float | None = None) -> SweepResult:
        """``count`` pulses of ``amplitude_v`` from 0 V by the SMU, under ``compliance_a``, each
        measured during the pulse; returns the SweepResult (one row per pulse). The period defaults
        to twice the width: a whole multiple, which SMUs that pulse by list sweep need."""
        self.route("smu")
        period = period_s if period_s is not None else 2.0 * width_s
        return self.bench.smu.pulse(amplitude_v, width_s, period, count, compliance_a=self.compliance_a)
