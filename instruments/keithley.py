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

from .interfaces import (
    MAX_QUEUED_ERRORS,
    CrossbarWiring,
    DriverMixin,
    InstrumentConnectionError,
    InstrumentError,
    SourceMeter,
    SweepResult,
    SwitchMatrix,
    check_line_frequency,
    fmt,
    pulse_aperture,
    sweep_voltages,
)
from .limits import LimitError, SafetyLimits, require_range

log = logging.getLogger(__name__)

_OVERHEAD_PER_POINT_S = 2e-3
"""Generous per-point overhead (autorange, trigger model) used only to size timeouts."""


def _check_bool(parameter: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{parameter}={value!r}: allowed True or False")
    return value


class Keithley2450(DriverMixin, SourceMeter, _PymeasureKeithley2450):
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
      ``SYST:ERR?``, ``:OUTP ON``, ``:INIT``, ``*OPC?``, ``:SOUR:VOLT 0``, ``:OUTP OFF``,
      ``:TRAC:DATA? 1, N, "memlab", SOUR, READ, REL`` (reply ``v,i,t,v,i,t,...``), ``SYST:ERR?``;
      if ``*OPC?`` times out: ``:ABOR``, ``:OUTP OFF``, ``SYST:ERR?`` (to report why)
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

    model = "Keithley 2450"
    max_sweep_points: ClassVar[int] = 2500
    buffer_name: ClassVar[str] = "memlab"
    buffer_size: ClassVar[int] = 100_000
    max_voltage_v: ClassVar[float] = 210.0
    max_current_a: ClassVar[float] = 1.05

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
        self.autozero = _check_bool("autozero", autozero)
        self._buffer_ready = False
        super().__init__(adapter, name, limits=limits, **kwargs)

    # -- levels and compliances, always within the limits -----------------------------------------

    @property
    def source_voltage(self) -> float:
        """Programmed source voltage (V); setting it checks the safety limits."""
        return self._ask_float(":SOUR:VOLT?")

    @source_voltage.setter
    def source_voltage(self, voltage_v: float) -> None:
        value = self._voltage(voltage_v, "voltage_v")
        self.write(f":SOUR:VOLT {fmt(value)}")
        self._settings["voltage_v"] = value

    @property
    def source_current(self) -> float:
        """Programmed source current (A); setting it checks the safety limits."""
        return self._ask_float(":SOUR:CURR?")

    @source_current.setter
    def source_current(self, current_a: float) -> None:
        value = self.limits.check_current(current_a)
        self.write(f":SOUR:CURR {fmt(value)}")
        self._settings["current_a"] = value

    @property
    def compliance_current(self) -> float:
        """Current limit while sourcing voltage (A); setting it checks the safety limits."""
        return self._ask_float(":SOUR:VOLT:ILIM?")

    @compliance_current.setter
    def compliance_current(self, compliance_a: float) -> None:
        value = self._compliance_a(compliance_a)
        self.write(f":SOUR:VOLT:ILIM {fmt(value)}")
        self._settings["compliance_a"] = value

    @property
    def compliance_voltage(self) -> float:
        """Voltage limit while sourcing current (V); setting it checks the safety limits."""
        return self._ask_float(":SOUR:CURR:VLIM?")

    @compliance_voltage.setter
    def compliance_voltage(self, compliance_v: float) -> None:
        value = self.limits.check_voltage_compliance(compliance_v)
        value = require_range("compliance_v", value, 0.02, self.max_voltage_v, "V", f"{self.model} range")
        self.write(f":SOUR:CURR:VLIM {fmt(value)}")
        self._settings["compliance_v"] = value

    def set_voltage(self, voltage_v: float, compliance_a: float) -> None:
        value = self._voltage(voltage_v, "voltage_v")
        compliance = self._compliance_a(compliance_a)
        self.write(":SOUR:FUNC VOLT")
        self._settings.update(source_function="voltage")
        self.compliance_current = compliance
        self.source_voltage = value

    def set_current(self, current_a: float, compliance_v: float) -> None:
        value = self.limits.check_current(current_a)
        compliance = self.limits.check_voltage_compliance(compliance_v)
        require_range("compliance_v", compliance, 0.02, self.max_voltage_v, "V", f"{self.model} range")
        self.write(":SOUR:FUNC CURR")
        self._settings.update(source_function="current")
        self.compliance_voltage = compliance
        self.source_current = value

    def measure_current_a(self) -> float:
        return self._ask_float(":MEAS:CURR?")

    def measure_voltage_v(self) -> float:
        return self._ask_float(":MEAS:VOLT?")

    _nplc = Instrument.control(
        ":SENS:CURR:NPLC?", ":SENS:CURR:NPLC %s",
        """Control the current-measurement integration time in power-line cycles (0.01 .. 10).""",
        validator=lambda value, values: fmt(require_range("nplc", value, *values, "", "Keithley 2450 range")),
        values=(0.01, 10.0),
    )

    @property
    def nplc(self) -> float:
        return float(self._nplc)

    @nplc.setter
    def nplc(self, value: float) -> None:
        self._nplc = value
        self._settings["nplc"] = float(value)

    def output_on(self) -> None:
        self.check_errors()
        self.write(":OUTP ON")
        self._settings["output"] = True

    def output_off(self) -> None:
        self.write(":OUTP OFF")
        self._settings["output"] = False

    def output_enabled(self) -> bool:
        return bool(self._ask_float(":OUTP?"))

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
        """Load, run and fetch one list sweep; arguments already checked."""
        n = voltages.size
        buffer = self.buffer_name
        self.write(":SOUR:FUNC VOLT")
        self._settings.update(source_function="voltage")
        self.compliance_current = compliance_a
        self.source_voltage = 0.0
        self.write(':SENS:FUNC "CURR"')
        self.write(":SENS:CURR:RANG:AUTO ON")
        self.nplc = nplc
        self.write(f":SENS:CURR:AZER {'ON' if self.autozero else 'OFF'}")
        self._settings["autozero"] = self.autozero
        self._make_buffer()
        self.write(f':TRAC:CLE "{buffer}"')
        for start in range(0, n, 100):
            chunk = ",".join(fmt(v) for v in voltages[start:start + 100])
            self.write(f":SOUR:LIST:VOLT {chunk}" if start == 0 else f":SOUR:LIST:VOLT:APP {chunk}")
        self.write(f':SOUR:SWE:VOLT:LIST 1,{fmt(delay_s)},1,OFF,"{buffer}"')
        self.output_on()
        expected_s = n * (delay_s + nplc / self.line_frequency_hz + _OVERHEAD_PER_POINT_S)
        try:
            self.write(":INIT")
            with self._allow(2.0 * expected_s + 1.0):
                self.ask("*OPC?")
        except InstrumentConnectionError as exc:
            self._quietly(lambda: self.write(":ABOR"), self.output_off)
            raise self._diagnosed(exc) from exc
        except BaseException:
            self._quietly(lambda: self.write(":ABOR"), self.output_off)
            raise
        self.source_voltage = 0.0
        self.output_off()
        reply = self.ask(f':TRAC:DATA? 1, {n}, "{buffer}", SOUR, READ, REL')
        self.check_errors()
        try:
            data = np.array(reply.strip().split(","), dtype=np.float64)
        except ValueError:
            raise InstrumentError(self.label(), f"unparsable buffer data: {reply[:80]!r}...") from None
        if data.size != 3 * n:
            raise InstrumentError(
                self.label(), f"buffer returned {data.size} values, expected {3 * n} (3 x {n} points)"
            )
        data = data.reshape(n, 3)
        return SweepResult(data[:, 0], data[:, 1], data[:, 2] - data[0, 2])

    def list_sweep(
        self, voltages_v: Sequence[float] | np.ndarray, compliance_a: float, nplc: float, delay_s: float = 0.0
    ) -> SweepResult:
        voltages = sweep_voltages(self.limits, voltages_v, self.max_sweep_points, self.max_voltage_v, self.model)
        compliance = self._compliance_a(compliance_a)
        nplc_value = require_range("nplc", nplc, 0.01, 10.0, "", f"{self.model} range")
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
            lambda: self.write(":SOUR:VOLT 0"),
            lambda: self.write(":SOUR:CURR 0"),
        )
        self._settings.update(voltage_v=0.0, current_a=0.0)


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


class Keithley2600B(_TspMixin, SourceMeter, Instrument):
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

    model = "Keithley 2600B"
    max_sweep_points: ClassVar[int] = 50_000
    max_voltage_v: ClassVar[float] = 200.0
    max_current_a: ClassVar[float] = 1.5
    min_compliance_a: ClassVar[float] = 10e-12

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
        if channel not in ("a", "b"):
            raise ValueError(f"channel={channel!r} is not a 2600B channel; allowed: 'a', 'b'")
        self.smu = f"smu{channel}"
        self.line_frequency_hz = check_line_frequency(line_frequency_hz)
        self.autozero = _check_bool("autozero", autozero)
        kwargs.setdefault("includeSCPI", False)
        super().__init__(adapter, name, limits=limits, **kwargs)

    def set_voltage(self, voltage_v: float, compliance_a: float) -> None:
        value = self._voltage(voltage_v, "voltage_v")
        compliance = self._compliance_a(compliance_a)
        smu = self.smu
        self.write(f"{smu}.source.func = {smu}.OUTPUT_DCVOLTS")
        self.write(f"{smu}.source.limiti = {fmt(compliance)}")
        self.write(f"{smu}.source.levelv = {fmt(value)}")
        self._settings.update(source_function="voltage", compliance_a=compliance, voltage_v=value)

    def set_current(self, current_a: float, compliance_v: float) -> None:
        value = self.limits.check_current(current_a)
        compliance = self.limits.check_voltage_compliance(compliance_v)
        require_range("compliance_v", compliance, 0.02, self.max_voltage_v, "V", f"{self.model} range")
        smu = self.smu
        self.write(f"{smu}.source.func = {smu}.OUTPUT_DCAMPS")
        self.write(f"{smu}.source.limitv = {fmt(compliance)}")
        self.write(f"{smu}.source.leveli = {fmt(value)}")
        self._settings.update(source_function="current", compliance_v=compliance, current_a=value)

    def measure_current_a(self) -> float:
        return self._ask_float(f"print({self.smu}.measure.i())")

    def measure_voltage_v(self) -> float:
        return self._ask_float(f"print({self.smu}.measure.v())")

    @property
    def nplc(self) -> float:
        return self._ask_float(f"print({self.smu}.measure.nplc)")

    @nplc.setter
    def nplc(self, value: float) -> None:
        nplc = require_range("nplc", value, 0.001, 25.0, "", f"{self.model} range")
        self.write(f"{self.smu}.measure.nplc = {fmt(nplc)}")
        self._settings["nplc"] = nplc

    def output_on(self) -> None:
        self.check_errors()
        self.write(f"{self.smu}.source.output = {self.smu}.OUTPUT_ON")
        self._settings["output"] = True

    def output_off(self) -> None:
        self.write(f"{self.smu}.source.output = {self.smu}.OUTPUT_OFF")
        self._settings["output"] = False

    def output_enabled(self) -> bool:
        return bool(self._ask_float(f"print({self.smu}.source.output)"))

    # -- scripts and the binary buffer -----------------------------------------------------------

    def _run_script(
        self, compliance_a: float, nplc: float, action: list[str], n: int, expected_s: float
    ) -> SweepResult:
        """Run ``action`` (Lua lines) in a script that sets up and tears down the source, then fetch N points."""
        smu = self.smu
        buffer = f"{smu}.nvbuffer1"
        lines = [
            "loadandrunscript",
            f"{smu}.source.func = {smu}.OUTPUT_DCVOLTS",
            f"{smu}.source.limiti = {fmt(compliance_a)}",
            f"{smu}.measure.nplc = {fmt(nplc)}",
            f"{smu}.measure.autozero = {smu}.AUTOZERO_{'AUTO' if self.autozero else 'ONCE'}",
            f"{buffer}.clear()",
            f"{buffer}.collecttimestamps = 1",
            f"{buffer}.collectsourcevalues = 1",
            f"{smu}.source.output = {smu}.OUTPUT_ON",
            *action,
            f"{smu}.source.levelv = 0",
            f"{smu}.source.output = {smu}.OUTPUT_OFF",
            "endscript",
        ]
        self.check_errors()  # nothing pending before the output goes on
        for line in lines:
            self.write(line)
        self._settings.update(
            source_function="voltage", compliance_a=compliance_a, nplc=nplc, voltage_v=0.0, output=False,
            autozero=self.autozero,
        )
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
        compliance = self._compliance_a(compliance_a)
        nplc_value = require_range("nplc", nplc, 0.001, 25.0, "", f"{self.model} range")
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
        smu = self.smu
        self._safe_state(
            self.output_off,
            lambda: self.write(f"{smu}.source.levelv = 0"),
            lambda: self.write(f"{smu}.source.leveli = 0"),
        )
        self._settings.update(voltage_v=0.0, current_a=0.0)


class Keithley707B(_TspMixin, SwitchMatrix, Instrument):
    """Keithley 707B (or 708B) switching matrix, over TSP, routing terminals to a crossbar chip.

    Channel names are ``<slot><row letter><two-digit column>`` (``"1A01"``); the map from chip
    devices to channels is the :class:`~instruments.interfaces.CrossbarWiring` given as ``wiring``.

    Commands sent:

    - closed: ``print(channel.getclose("allslots"))`` (reply ``1A02;1B01``, or ``nil`` when none)
    - connect: ``print(channel.getclose("allslots"))``, then if the terminal held other channels
      ``channel.open("1A02,1B06")``, then ``channel.close("1A01,1B05")``, ``*OPC?``,
      ``print(errorqueue.count)`` (+ ``print(errorqueue.next())`` per error)
    - disconnect: ``print(channel.getclose("allslots"))``, ``channel.open("<its channels>")``, ``*OPC?``
    - open_all / shutdown: ``channel.open("allslots")``, ``*OPC?``
    - identity: ``*IDN?``; clear: ``errorqueue.clear()``
    """

    model = "Keithley 707B"

    def __init__(
        self,
        adapter: Any,
        name: str | None = None,
        *,
        wiring: CrossbarWiring,
        limits: SafetyLimits | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(wiring, CrossbarWiring):
            raise TypeError(f"wiring must be a CrossbarWiring, got {type(wiring).__name__}")
        self.wiring = wiring
        kwargs.setdefault("includeSCPI", False)
        super().__init__(adapter, name, limits=limits, **kwargs)
        self._settings["connections"] = {}

    def closed(self) -> list[str]:
        reply = self.ask('print(channel.getclose("allslots"))').strip()
        if reply in ("", "nil"):
            return []
        return [channel.strip() for channel in reply.split(";") if channel.strip()]

    def connect(self, terminal: str, row: int, col: int) -> None:
        wanted = self.wiring.channels(terminal, row, col)
        closed = self.closed()
        stale = [ch for ch in closed if self.wiring.terminal_of(ch) == terminal and ch not in wanted]
        pads = {self.wiring.pad_of(ch) for ch in wanted}
        for ch in closed:
            if ch not in wanted and ch not in stale and self.wiring.pad_of(ch) in pads:
                holder = self.wiring.terminal_of(ch) or "an unwired matrix row"
                raise InstrumentError(
                    self.label(),
                    f"cannot connect {terminal!r} to device ({row}, {col}): pad {self.wiring.pad_of(ch)} is held by "
                    f"{holder} through {ch}; disconnect({holder!r}) or open_all() first",
                )
        if stale:
            self.write(f'channel.open("{",".join(stale)}")')
        self.write(f'channel.close("{",".join(wanted)}")')
        self.ask("*OPC?")
        self.check_errors()
        self._settings["connections"][terminal] = [int(row), int(col)]

    def disconnect(self, terminal: str) -> None:
        if terminal not in self.wiring.terminals:
            raise ValueError(f"terminal={terminal!r} is not wired; wired terminals: {sorted(self.wiring.terminals)}")
        own = [ch for ch in self.closed() if self.wiring.terminal_of(ch) == terminal]
        if own:
            self.write(f'channel.open("{",".join(own)}")')
            self.ask("*OPC?")
        self._settings["connections"].pop(terminal, None)

    def open_all(self) -> None:
        self.write('channel.open("allslots")')
        self.ask("*OPC?")
        self._settings["connections"] = {}

    def snapshot(self) -> dict[str, Any]:
        snap = super().snapshot()
        snap["settings"]["connections"] = dict(self._settings["connections"])
        snap["wiring"] = self.wiring.to_dict()
        return snap

    def shutdown(self) -> None:
        self._safe_state(self.open_all)
