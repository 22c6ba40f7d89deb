"""Keithley drivers: 2450 SourceMeter (native SCPI), 2600B SourceMeter (TSP), 707B switch matrix (TSP).

Command strings follow ``reference/instruments.md``; each class lists at the top of its docstring the
exact commands it sends, which its simulated twin under ``instruments/sim/`` must understand.
Numbers are written with up to 9 significant digits (``0.001``, ``1e-09``, ``-0.5``).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Sequence

import numpy as np
from pymeasure.instruments import Instrument
from pymeasure.instruments.keithley import Keithley2450 as _PymeasureKeithley2450

from .checks import check_line_frequency, pulse_aperture, sweep_voltages
from .limits import LimitError, SafetyLimits, require_bool, require_choice, require_range
from .plumbing import (
    MAX_QUEUED_ERRORS,
    DriverMixin,
    InstrumentConnectionError,
    InstrumentError,
    choice,
    driver,
    flag,
    fmt,
    on_off,
    setting,
)
from .roles import SweepResult, SwitchMatrix
from .source_meter import SourceMeterDriver, source_meter_settings
from .wiring import CrossbarWiring, WiringError

log = logging.getLogger(__name__)

_OVERHEAD_PER_POINT_S = 2e-3
"""Generous per-point overhead (autorange, trigger model) used only to size timeouts."""


@driver(model="Keithley 2450", role="smu", twin="memlab.instruments.sim.keithley2450:Keithley2450Twin")
class Keithley2450(SourceMeterDriver, _PymeasureKeithley2450):
    """Keithley 2450 SourceMeter in its native SCPI mode (``*LANG?`` answers ``SCPI``).

    Commands sent (``<..>`` a number, ``N`` the point count):

    - set_voltage: ``:SOUR:FUNC VOLT``, ``:SOUR:VOLT:ILIM <A>``, ``:SOUR:VOLT <V>``
    - set_current: ``:SOUR:FUNC CURR``, ``:SOUR:CURR:VLIM <V>``, ``:SOUR:CURR <A>``
    - measure: ``:MEAS:CURR?``, ``:MEAS:VOLT?``
    - nplc: ``:SENS:CURR:NPLC <n>``, ``:SENS:CURR:NPLC?``
    - output_on: ``SYST:ERR?`` (until ``0,...``), ``:OUTP ON``; output_off: ``:OUTP OFF``; state ``:OUTP?``
    - list_sweep: ``:SOUR:FUNC VOLT``, ``:SOUR:VOLT:ILIM <A>``, ``:SOUR:VOLT 0``, ``:SENS:FUNC "CURR"``,
      ``:SENS:CURR:RANG:AUTO ON``, ``:SENS:CURR:NPLC <n>``, ``:SENS:CURR:AZER OFF`` (``ON`` with
      ``autozero=True``), then once per driver
      ``:TRAC:MAKE "memlab", 100000`` + ``SYST:ERR?`` (an error whose message says the buffer already
      exists is accepted), ``:TRAC:CLE "memlab"``, ``:SOUR:LIST:VOLT <up to 100 values>``,
      ``:SOUR:LIST:VOLT:APP <next 100>``..., ``:SOUR:SWE:VOLT:LIST 1,<delay>,1,OFF,"memlab"``,
      ``SYST:ERR?``, ``:OUTP ON``, ``:INIT;*OPC?``, ``:SOUR:VOLT 0``, ``:OUTP OFF``,
      ``:TRAC:DATA? 1, N, "memlab", SOUR, READ, REL`` (reply ``v,i,t,v,i,t,...``), ``SYST:ERR?``;
      if ``*OPC?`` times out: ``:ABOR``, ``:OUTP OFF``, ``SYST:ERR?`` (to report why). The same
      sweep again, with no other command sent since, skips the set-up and the error check the
      set-up needed before the output goes on: ``:TRAC:CLE "memlab"``, ``:OUTP ON``, ``:INIT;*OPC?``...
      as above (the error check after the fetch still runs)
    - pulse: a list sweep of ``[level, base x (m-1)] x count`` with ``m = period/width``, delay
      ``width - aperture``, nplc ``aperture * line frequency``; the 2450 has no pulse mode, so periods
      must be whole multiples (>= 2) of the width
    - shutdown: ``:ABOR``, ``:OUTP OFF``, ``:SOUR:VOLT 0``, ``:SOUR:CURR 0``
    - identity: ``*IDN?``

    ``autozero`` (default False): autozero during list sweeps and pulse trains. On, the 2450 takes a
    reference and a zero reading with every point, doubling its integration time; fast
    characterisation wants it off. The setting stays on the instrument after the sweep.

    pymeasure's own properties that set levels or compliances (``source_voltage``, ``source_current``,
    ``compliance_current``, ``compliance_voltage``) are overridden to honour the safety limits and the
    native command strings; its buffer helpers (2400-mode commands) are left as pymeasure has them and
    are not used by memlab.
    """

    max_sweep_points: ClassVar[int] = 2500
    buffer_name: ClassVar[str] = "memlab"
    buffer_size: ClassVar[int] = 100_000
    max_voltage_v: ClassVar[float] = 210.0
    max_current_a: ClassVar[float] = 1.05

    (source_function, source_voltage, source_current, compliance_current, compliance_voltage, nplc,
     output_state) = source_meter_settings(
        function=(":SOUR:FUNC?", ":SOUR:FUNC %s"), function_values={"voltage": "VOLT", "current": "CURR"},
        voltage=(":SOUR:VOLT?", ":SOUR:VOLT %s"), current=(":SOUR:CURR?", ":SOUR:CURR %s"),
        compliance_current=(":SOUR:VOLT:ILIM?", ":SOUR:VOLT:ILIM %s"),
        compliance_voltage=(":SOUR:CURR:VLIM?", ":SOUR:CURR:VLIM %s"),
        nplc=(":SENS:CURR:NPLC?", ":SENS:CURR:NPLC %s"), output=(":OUTP?", ":OUTP %s"))
    sense_function = setting(':SENS:FUNC "%s"', "Set what is measured: 'CURR' or 'VOLT'.",
                             validator=choice("sense_function"),
                             values=("CURR", "VOLT"))
    current_autorange = setting(":SENS:CURR:RANG:AUTO %s", "Set current auto-ranging on or off.",
                                validator=flag("current_autorange"), set_process=on_off)
    autozero_enabled = setting(":SENS:CURR:AZER %s", "Set autozero of current readings on or off.",
                               key="autozero", validator=flag("autozero"), set_process=on_off)

    def __init__(
        self,
        adapter: Any,
        name: str | None = None,
        *,
        limits: SafetyLimits | None = None,
        line_frequency_hz: float = 50.0,
        autozero: bool = False,
        **kwargs: Any,
    ) -> None:
        self.line_frequency_hz = check_line_frequency(line_frequency_hz)
        self.autozero = require_bool("autozero", autozero)
        self._buffer_ready = False
        self._loaded_sweep: tuple | None = None  # what the instrument's list sweep holds, if known
        self._running_sweep = False
        super().__init__(adapter, name, limits=limits, **kwargs)

    def ready_for_output(self) -> None:
        # A held sweep run again: its set-up was checked error-free before it first ran, and the
        # queue was empty after its last fetch; since then only the buffer was cleared.
        if not (self._running_sweep and self._loaded_sweep is not None):
            super().ready_for_output()

    def write(self, command: str, **kwargs: Any) -> None:
        # Any command outside a sweep's own run may change what the loaded sweep would do (a
        # limit, the source function, *RST): the next sweep loads everything again. A single
        # query changes nothing.
        if not self._running_sweep and (";" in command or not command.rstrip().endswith("?")):
            self._loaded_sweep = None
        super().write(command, **kwargs)

    def nplc_range(self) -> tuple[float, float]:
        return 0.01, 10.0

    def measure_current_a(self) -> float:
        return self._ask_float(":MEAS:CURR?")

    def measure_voltage_v(self) -> float:
        return self._ask_float(":MEAS:VOLT?")

    def enable_source(self) -> None:
        """pymeasure's name for :meth:`output_on` (same checks, native command)."""
        self.output_on()

    def disable_source(self) -> None:
        """pymeasure's name for :meth:`output_off`."""
        self.output_off()

    def reset(self) -> None:
        """``*RST`` (pymeasure's reset); user buffers are gone afterwards, so the next sweep remakes one."""
        super().reset()
        self._buffer_ready = False
        self.forget_settings()  # *RST restored the instrument's defaults

    # -- list sweeps --------------------------------------------------------------------------------

    def _make_buffer(self) -> None:
        if self._buffer_ready:
            return
        self.write(f':TRAC:MAKE "{self.buffer_name}", {self.buffer_size}')
        try:
            self.check_errors()
        except InstrumentError as exc:
            # A buffer left by an earlier session is fine; any other error is not.
            if not exc.errors or not all("exist" in message.lower() for _, message in exc.errors):
                raise
        self._buffer_ready = True

    def _run_list(self, voltages: np.ndarray, compliance_a: float, nplc: float, delay_s: float) -> SweepResult:
        """Load, run and fetch one list sweep; arguments already checked.

        The same sweep again (a read repeated between pulses) only clears the buffer and runs: the
        instrument still holds it, with its limit, at 0 V, as long as nothing else was sent since
        (see :meth:`write`)."""
        n = voltages.size
        buffer = self.buffer_name
        sweep = (voltages.tobytes(), compliance_a, nplc, delay_s, self.autozero)
        if sweep != self._loaded_sweep:
            self.source_function = "voltage"
            self.compliance_current = compliance_a
            self.source_voltage = 0.0
            self.sense_function = "CURR"
            self.current_autorange = True
            self.nplc = nplc
            self.autozero_enabled = self.autozero
            self._make_buffer()
            self.write(f':TRAC:CLE "{buffer}"')
            for start in range(0, n, 100):
                chunk = ",".join(fmt(v) for v in voltages[start:start + 100])
                self.write(f":SOUR:LIST:VOLT {chunk}" if start == 0 else f":SOUR:LIST:VOLT:APP {chunk}")
            self.write(f':SOUR:SWE:VOLT:LIST 1,{fmt(delay_s)},1,OFF,"{buffer}"')
        expected_s = n * (delay_s + nplc / self.line_frequency_hz + _OVERHEAD_PER_POINT_S)
        self._running_sweep = True
        try:
            if sweep == self._loaded_sweep:
                self.write(f':TRAC:CLE "{buffer}"')
            data = self._run_and_fetch(":INIT", ":ABOR", expected_s, lambda: setattr(self, "source_voltage", 0.0),
                                       f':TRAC:DATA? 1, {n}, "{buffer}", SOUR, READ, REL', n)
        except BaseException:
            self._loaded_sweep = None
            raise
        finally:
            self._running_sweep = False
        self._loaded_sweep = sweep
        return SweepResult(data[:, 0], data[:, 1], data[:, 2] - data[0, 2])

    def list_sweep(
        self, voltages_v: Sequence[float] | np.ndarray, compliance_a: float, nplc: float, delay_s: float = 0.0
    ) -> SweepResult:
        voltages = sweep_voltages(self.limits, voltages_v, self.max_sweep_points, self.max_voltage_v, self.model)
        compliance = self.check("compliance_a", compliance_a, "compliance_current")
        nplc_value = self.check("nplc", nplc, "nplc")
        delay = self._sweep_delay(delay_s)
        return self._run_list(voltages, compliance, nplc_value, delay)

    @staticmethod
    def _sweep_delay(delay_s: float) -> float:
        delay = require_range("delay_s", delay_s, 0.0, 10e3, "s", "Keithley 2450 range")
        if 0.0 < delay < 50e-6:
            raise LimitError("delay_s", delay_s, "0 s or 50 us .. 10 ks", "Keithley 2450 range")
        return delay

    def pulse(
        self,
        level_v: float,
        width_s: float,
        period_s: float,
        count: int,
        base_v: float = 0.0,
        *,
        compliance_a: float,
    ) -> SweepResult:
        level, width, period, base, n, compliance = self._pulse_train(
            level_v, width_s, period_s, count, base_v, compliance_a)
        # No pulse mode: every list point lasts delay + aperture = width, so the period is m points.
        m = round(period / width)
        if m < 2 or abs(m * width - period) > 1e-6 * period:
            raise LimitError(
                "period_s", period_s, f"a whole multiple (>= 2) of width_s = {width:g} s (the {self.model} pulses "
                "by list sweep)", f"{self.model} range",
            )
        if m * n > self.max_sweep_points:
            raise LimitError(
                "count", count, f"1 .. {self.max_sweep_points // m} at this period/width", f"{self.model} list length"
            )
        nplc = pulse_aperture(width, self.line_frequency_hz, 0.01, self.model)
        delay = self._sweep_delay(width - nplc / self.line_frequency_hz)
        points = np.tile(np.r_[level, np.full(m - 1, base)], n)
        result = self._run_list(points, compliance, nplc, delay)
        keep = slice(0, None, m)
        return SweepResult(result.source_v[keep], result.current_a[keep], result.time_s[keep])

    def shutdown(self) -> None:
        self._safe_state(
            lambda: self.write(":ABOR"),
            self.output_off,
            lambda: setattr(self, "source_voltage", 0.0),
            lambda: setattr(self, "source_current", 0.0),
        )


class _TspMixin(DriverMixin):
    """Error queue and clearing for Keithley's TSP (Lua) instruments."""

    def check_errors(self) -> list:
        """``print(errorqueue.count)`` then ``print(errorqueue.next())`` per error (code, message, ...)."""
        count = int(self._ask_float("print(errorqueue.count)"))
        errors: list[tuple[int, str]] = []
        for _ in range(min(count, MAX_QUEUED_ERRORS)):
            reply = self.ask("print(errorqueue.next())").strip()  # type: ignore[attr-defined]
            parts = reply.split("\t")
            try:
                code = int(float(parts[0]))
            except ValueError:
                raise InstrumentError(self.label(), f"unexpected reply {reply!r} to errorqueue.next()") from None
            errors.append((code, parts[1].strip() if len(parts) > 1 else ""))
        if errors:
            listed = "; ".join(f"{code} {message}" for code, message in errors)
            raise InstrumentError(self.label(), f"reported {listed} (clear with .clear() once understood)", errors)
        return []

    def clear(self) -> None:
        """Empty the error queue: ``errorqueue.clear()``."""
        self.write("errorqueue.clear()")


@driver(model="Keithley 2600B", role="smu", twin="memlab.instruments.sim.keithley2600:Keithley2600BTwin")
class Keithley2600B(_TspMixin, SourceMeterDriver, Instrument):
    """Keithley 2600B System SourceMeter (2601B/2602B/2611B/...), one channel, over TSP.

    Commands sent (``smua`` for channel "a", ``smub`` for "b"; one Lua statement per message):

    - set_voltage: ``smua.source.func = smua.OUTPUT_DCVOLTS``, ``smua.source.limiti = <A>``,
      ``smua.source.levelv = <V>``
    - set_current: ``smua.source.func = smua.OUTPUT_DCAMPS``, ``smua.source.limitv = <V>``, ``smua.source.leveli = <A>``
    - measure: ``print(smua.measure.i())``, ``print(smua.measure.v())``
    - nplc: ``smua.measure.nplc = <n>``, ``print(smua.measure.nplc)``
    - output_on: ``print(errorqueue.count)`` (+ ``print(errorqueue.next())`` per error),
      ``smua.source.output = smua.OUTPUT_ON``; off ``smua.source.output = smua.OUTPUT_OFF``; state
      ``print(smua.source.output)``
    - list_sweep / pulse: the error queue as for output_on (nothing may be pending), then a script,
      one message per line::

          loadandrunscript
          smua.source.func = smua.OUTPUT_DCVOLTS
          smua.source.limiti = <A>
          smua.measure.nplc = <n>
          smua.measure.autozero = smua.AUTOZERO_ONCE      -- AUTOZERO_AUTO with autozero=True
          smua.nvbuffer1.clear()
          smua.nvbuffer1.collecttimestamps = 1
          smua.nvbuffer1.collectsourcevalues = 1
          smua.source.output = smua.OUTPUT_ON
          SweepVListMeasureI(smua, {v1, v2, ...}, <delay>, N)        -- N <= 100
            (N > 100: memlab_v = {} then per 100 values
             for _, x in ipairs({...}) do table.insert(memlab_v, x) end
             and SweepVListMeasureI(smua, memlab_v, <delay>, N))
          PulseVMeasureI(smua, <base>, <level>, <width>, <period - width>, <count>)   -- pulse instead
          smua.source.levelv = 0
          smua.source.output = smua.OUTPUT_OFF
          endscript

      then ``format.data = format.REAL32``, ``format.byteorder = format.LITTLEENDIAN``,
      ``printbuffer(1, N, smua.nvbuffer1.sourcevalues, smua.nvbuffer1.readings, smua.nvbuffer1.timestamps)``
      (reply ``#0`` + 3N little-endian float32, interleaved per point, + ``\\n``),
      ``format.data = format.ASCII``, then the error queue as above (also asked when the buffer never
      comes, to report a script error instead of a bare timeout)
    - shutdown: ``smua.source.output = smua.OUTPUT_OFF``, ``smua.source.levelv = 0``, ``smua.source.leveli = 0``
    - identity: ``*IDN?``; clear: ``errorqueue.clear()``

    ``autozero`` (default False): sweeps and pulse trains zero once at their start
    (``AUTOZERO_ONCE``) instead of with every reading (``AUTOZERO_AUTO``, the instrument's default,
    which doubles each point's integration time).
    """

    max_sweep_points: ClassVar[int] = 50_000
    max_voltage_v: ClassVar[float] = 200.0
    max_current_a: ClassVar[float] = 1.5
    min_compliance_a: ClassVar[float] = 10e-12

    # Commands name the channel's Lua object: "{smu}" is smua or smub (see command_fields).
    (source_function, source_voltage, source_current, compliance_current, compliance_voltage, nplc,
     output_state) = source_meter_settings(
        function=("print({smu}.source.func)", "{smu}.source.func = {smu}.OUTPUT_DC%s"),
        function_values={"voltage": "VOLTS", "current": "AMPS"},
        voltage=("print({smu}.source.levelv)", "{smu}.source.levelv = %s"),
        current=("print({smu}.source.leveli)", "{smu}.source.leveli = %s"),
        compliance_current=("print({smu}.source.limiti)", "{smu}.source.limiti = %s"),
        compliance_voltage=("print({smu}.source.limitv)", "{smu}.source.limitv = %s"),
        nplc=("print({smu}.measure.nplc)", "{smu}.measure.nplc = %s"),
        output=("print({smu}.source.output)", "{smu}.source.output = {smu}.OUTPUT_%s"))
    autozero_mode = setting("{smu}.measure.autozero = {smu}.AUTOZERO_%s",
                            "Set autozero: 'AUTO' (every reading), 'ONCE' or 'OFF'.", key="autozero",
                            validator=choice("autozero"),
                            values=("AUTO", "ONCE", "OFF"))

    def __init__(
        self,
        adapter: Any,
        name: str | None = None,
        *,
        limits: SafetyLimits | None = None,
        channel: str = "a",
        line_frequency_hz: float = 50.0,
        autozero: bool = False,
        **kwargs: Any,
    ) -> None:
        self.smu = f"smu{require_choice('channel', channel, ('a', 'b'), 'Keithley 2600B channels')}"
        self.line_frequency_hz = check_line_frequency(line_frequency_hz)
        self.autozero = require_bool("autozero", autozero)
        kwargs.setdefault("includeSCPI", False)
        super().__init__(adapter, name, limits=limits, **kwargs)

    def command_fields(self) -> dict[str, Any]:
        return {"smu": self.smu}

    def nplc_range(self) -> tuple[float, float]:
        return 0.001, 25.0

    def measure_current_a(self) -> float:
        return self._ask_float(f"print({self.smu}.measure.i())")

    def measure_voltage_v(self) -> float:
        return self._ask_float(f"print({self.smu}.measure.v())")

    # -- scripts and the binary buffer -----------------------------------------------------------

    def _run_script(
        self, compliance_a: float, nplc: float, action: list[str], n: int, expected_s: float
    ) -> SweepResult:
        """Run ``action`` (Lua lines) in a script that sets up and tears down the source, then fetch N points."""
        buffer = f"{self.smu}.nvbuffer1"
        self.check_errors()  # nothing pending before the output goes on
        # Inside loadandrunscript every write is a script line: the declared settings write their
        # own lines (and are recorded), the buffer and the action are plain Lua.
        self.write("loadandrunscript")
        self.source_function = "voltage"
        self.compliance_current = compliance_a
        self.nplc = nplc
        self.autozero_mode = "AUTO" if self.autozero else "ONCE"
        for line in (f"{buffer}.clear()", f"{buffer}.collecttimestamps = 1", f"{buffer}.collectsourcevalues = 1"):
            self.write(line)
        self.output_state = True
        for line in action:
            self.write(line)
        self.source_voltage = 0.0
        self.output_state = False
        self.write("endscript")
        self.write("format.data = format.REAL32")
        self.write("format.byteorder = format.LITTLEENDIAN")
        self.write(f"printbuffer(1, {n}, {buffer}.sourcevalues, {buffer}.readings, {buffer}.timestamps)")
        try:
            with self._allow(2.0 * expected_s + 1.0):
                raw = self.read_bytes(2 + 12 * n + 1)
        except InstrumentConnectionError as exc:
            # Usually a script error: the buffer never filled, and the error queue says why.
            self._quietly(lambda: self.write("format.data = format.ASCII"))
            raise self._diagnosed(exc) from exc
        self.write("format.data = format.ASCII")
        data = self._parse_real32(raw, 3 * n).reshape(n, 3)
        self.check_errors()
        return SweepResult(data[:, 0], data[:, 1], data[:, 2] - data[0, 2])

    def _parse_real32(self, raw: bytes, count: int) -> np.ndarray:
        """``#0`` + ``count`` little-endian float32 + ``\\n`` -> float64 array."""
        expected = 2 + 4 * count + 1
        if len(raw) != expected or raw[:2] != b"#0" or raw[-1:] != b"\n":
            raise InstrumentError(
                self.label(),
                f"malformed binary buffer: {len(raw)} bytes starting {raw[:8]!r}, expected {expected} bytes "
                "'#0' + float32 data + newline",
            )
        return np.frombuffer(raw, dtype="<f4", count=count, offset=2).astype(np.float64)

    def list_sweep(
        self, voltages_v: Sequence[float] | np.ndarray, compliance_a: float, nplc: float, delay_s: float = 0.0
    ) -> SweepResult:
        voltages = sweep_voltages(self.limits, voltages_v, self.max_sweep_points, self.max_voltage_v, self.model)
        compliance = self.check("compliance_a", compliance_a, "compliance_current")
        nplc_value = self.check("nplc", nplc, "nplc")
        delay = require_range("delay_s", delay_s, 0.0, 1e4, "s", f"{self.model} range")
        n = voltages.size
        smu = self.smu
        if n <= 100:
            values = ", ".join(fmt(v) for v in voltages)
            action = [f"SweepVListMeasureI({smu}, {{{values}}}, {fmt(delay)}, {n})"]
        else:
            # Long lists are built 100 values per line: TSP input lines have a length limit.
            action = ["memlab_v = {}"]
            for start in range(0, n, 100):
                values = ", ".join(fmt(v) for v in voltages[start:start + 100])
                action.append(f"for _, x in ipairs({{{values}}}) do table.insert(memlab_v, x) end")
            action.append(f"SweepVListMeasureI({smu}, memlab_v, {fmt(delay)}, {n})")
        expected_s = n * (delay + nplc_value / self.line_frequency_hz + _OVERHEAD_PER_POINT_S)
        return self._run_script(compliance, nplc_value, action, n, expected_s)

    def pulse(
        self,
        level_v: float,
        width_s: float,
        period_s: float,
        count: int,
        base_v: float = 0.0,
        *,
        compliance_a: float,
    ) -> SweepResult:
        level, width, period, base, n, compliance = self._pulse_train(
            level_v, width_s, period_s, count, base_v, compliance_a)
        if n > self.max_sweep_points:
            raise LimitError("count", count, f"1 .. {self.max_sweep_points}", f"{self.model} buffer")
        nplc = pulse_aperture(width, self.line_frequency_hz, 0.001, self.model)
        action = [f"PulseVMeasureI({self.smu}, {fmt(base)}, {fmt(level)}, {fmt(width)}, {fmt(period - width)}, {n})"]
        return self._run_script(compliance, nplc, action, n, n * (period + _OVERHEAD_PER_POINT_S))

    def shutdown(self) -> None:
        self._safe_state(
            self.output_off,
            lambda: setattr(self, "source_voltage", 0.0),
            lambda: setattr(self, "source_current", 0.0),
        )


@driver(model="Keithley 707B", role="switch", twin="memlab.instruments.sim.keithley707b:Keithley707BTwin")
class Keithley707B(_TspMixin, SwitchMatrix, Instrument):
    """Keithley 707B (or 708B) switching matrix, over TSP, routing terminals to a crossbar chip.

    Channel names are ``<slot><row letter><two-digit column>`` (``"1A01"``); the map from chip
    devices to channels is the :class:`~memlab.instruments.wiring.CrossbarWiring` given as ``wiring``.

    Commands sent:

    - closed: ``print(channel.getclose("allslots"))`` (reply ``1A02;1B01``, or ``nil`` when none)
    - connect: ``print(channel.getclose("allslots"))``, then if the terminal held other channels
      ``channel.open("1A02,1B06")``, then (unless already closed) ``channel.close("1A01,1B05")``, ``*OPC?``;
      then ``print(errorqueue.count)`` (+ ``print(errorqueue.next())`` per error)
    - join (shared or bias-tee routing): nothing when the last join() put these terminals on this
      device and nothing else switched through this driver since; else ``print(channel.getclose("allslots"))``,
      nothing more when the terminals are already on the device; else ``channel.exclusiveclose("1A01,1B05,1C01,1D05")`` (one
      operation) when nothing else is closed, or ``channel.open(...)`` + ``channel.close(...)``; ``*OPC?``
      and the error check
    - disconnect: ``print(channel.getclose("allslots"))``, ``channel.open("<its channels>")``, ``*OPC?``
    - open_all / shutdown: ``channel.open("allslots")``, ``*OPC?``
    - snapshot: ``*IDN?``, ``print(channel.getclose("allslots"))`` (the connections, as the relays are)
    - identity: ``*IDN?``; clear: ``errorqueue.clear()``

    The matrix's state is which relays are closed, and the snapshot asks for that instead of
    remembering what was sent. ``relay_settle_s`` (bench file: ``options.relay_settle_s``) is the
    cards' actuation plus settling per switching operation: a real matrix settles before ``*OPC?``
    answers, so the driver records it in the snapshot; the simulated twin charges it.
    """

    def __init__(
        self,
        adapter: Any,
        name: str | None = None,
        *,
        wiring: CrossbarWiring,
        limits: SafetyLimits | None = None,
        relay_settle_s: float = 3e-3,
        **kwargs: Any,
    ) -> None:
        if not isinstance(wiring, CrossbarWiring):
            raise TypeError(f"wiring must be a CrossbarWiring, got {type(wiring).__name__}")
        self.wiring = wiring
        # The cards settle before *OPC? answers; the figure is recorded in every run file's snapshot.
        self.relay_settle_s = require_range("relay_settle_s", relay_settle_s, 0.0, 1.0)
        # What the last join() closed, forgotten by any other switching through this driver: a
        # procedure alternating SMU and pulse generator on one device then costs no query at all.
        self._joined: tuple[frozenset[str], int, int] | None = None
        kwargs.setdefault("includeSCPI", False)
        super().__init__(adapter, name, limits=limits, **kwargs)

    def closed(self) -> list[str]:
        reply = self.ask('print(channel.getclose("allslots"))').strip()
        if reply in ("", "nil"):
            return []
        return [channel.strip() for channel in reply.split(";") if channel.strip()]

    def _refuse_held_pads(self, what: str, wanted: set[str], closed: list[str], ours: set[str],
                          row: int, col: int) -> None:
        """Refuse when a pad ``wanted`` needs is held through a channel that is not ``ours``: another
        terminal there would join two instruments (or two devices) on one chip line."""
        pads = {self.wiring.pad_of(ch) for ch in wanted}
        for ch in closed:
            if ch not in ours and self.wiring.pad_of(ch) in pads:
                holder = self.wiring.terminal_of(ch) or "an unwired matrix row"
                raise InstrumentError(
                    self.label(),
                    f"cannot connect {what} to device ({row}, {col}): pad {self.wiring.pad_of(ch)} is held by "
                    f"{holder} through {ch}; disconnect({holder!r}) or open_all() first",
                )

    def connect(self, terminal: str, row: int, col: int) -> None:
        self._joined = None
        wanted = set(self.wiring.channels(terminal, row, col))
        closed = self.closed()
        stale = [ch for ch in closed if terminal in self.wiring.terminals_of(ch) and ch not in wanted]
        ours = wanted | set(stale)
        if self.wiring.routing != "exclusive":
            # Shared routing: another terminal already on this very device may stay (its instrument idles
            # with the output off); one on another device sharing a chip line may not.
            for other in self.wiring.terminals:
                theirs = set(self.wiring.channels(other, row, col))
                if theirs <= set(closed):
                    ours |= theirs
        self._refuse_held_pads(repr(terminal), wanted, closed, ours, row, col)
        if stale:
            self.write(f'channel.open("{",".join(stale)}")')
        if not wanted <= set(closed) or stale:
            self.write(f'channel.close("{",".join(sorted(wanted))}")')
            self.ask("*OPC?")
        self.check_errors()

    def join(self, terminals: Sequence[str], row: int, col: int) -> None:
        terminals = list(terminals)
        if self.wiring.routing == "exclusive":
            raise WiringError(f"join{tuple(terminals)}: wiring routing='exclusive' keeps one terminal on a device; "
                              "use connect(), or set routing = 'shared' or 'bias_tee' in the bench file's [wiring]")
        if not terminals:
            raise WiringError("join: terminals is empty; name at least one wired terminal")
        key = (frozenset(terminals), int(row), int(col))
        if self._joined == key:
            return
        self._joined = None
        wanted: set[str] = set()
        for terminal in terminals:
            wanted |= set(self.wiring.channels(terminal, row, col))
        letters = {letter for terminal in terminals for letter in self.wiring.terminals[terminal]}
        closed = self.closed()
        ours = {ch for ch in closed if len(ch) >= 2 and ch[1] in letters}
        if ours == wanted:
            self._joined = key
            return  # already there: no relay moves
        self._refuse_held_pads(f"{tuple(terminals)}", wanted, closed, ours, row, col)
        if ours == set(closed):
            # Nothing else is closed: one break-before-make operation moves every terminal.
            self.write(f'channel.exclusiveclose("{",".join(sorted(wanted))}")')
        else:
            if ours - wanted:
                self.write(f'channel.open("{",".join(sorted(ours - wanted))}")')
            self.write(f'channel.close("{",".join(sorted(wanted))}")')
        self.ask("*OPC?")
        self.check_errors()
        self._joined = key

    def disconnect(self, terminal: str, *more: str) -> None:
        self._joined = None
        for name in (terminal, *more):
            if name not in self.wiring.terminals:
                raise ValueError(f"terminal={name!r} is not wired; wired terminals: {sorted(self.wiring.terminals)}")
        own = [ch for ch in self.closed() if self.wiring.terminals_of(ch) & {terminal, *more}]
        if own:
            self.write(f'channel.open("{",".join(own)}")')
            self.ask("*OPC?")

    def open_all(self) -> None:
        self._joined = None
        self.write('channel.open("allslots")')
        self.ask("*OPC?")

    def connections(self) -> dict[str, list[int]]:
        """terminal -> [row, col] of the device it reaches, from the relays the matrix reports closed."""
        found: dict[str, dict[str, int]] = {}
        for channel in self.closed():
            pad = self.wiring.pad_of(channel)
            for terminal in self.wiring.terminals_of(channel):
                hi, lo = self.wiring.terminals[terminal]
                if channel[1] == hi and pad in self.wiring.row_pads:
                    found.setdefault(terminal, {})["row"] = self.wiring.row_pads.index(pad)
                elif channel[1] == lo and pad in self.wiring.col_pads:
                    found.setdefault(terminal, {})["col"] = self.wiring.col_pads.index(pad)
        return {t: [ends["row"], ends["col"]] for t, ends in found.items() if {"row", "col"} <= set(ends)}

    def settings(self) -> dict[str, Any]:
        return {"connections": self.connections(), "relay_settle_s": self.relay_settle_s}

    def snapshot(self) -> dict[str, Any]:
        snap = super().snapshot()
        snap["wiring"] = self.wiring.to_dict()
        return snap

    def shutdown(self) -> None:
        self._safe_state(self.open_all)
