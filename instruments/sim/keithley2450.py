"""Twin of the Keithley 2450 SourceMeter in its native SCPI mode (``*LANG?`` answers ``SCPI``).

What it models (see docs/simulator.md for the figures):

- source: voltage or current, level, range (auto or fixed), limit (``ILIM``/``VLIM``), source
  delay, read-back; output on/off. While the output is on, the device behind the SMU's terminal
  sits under the DC level (and is programmed by it when above threshold).
- measure: ``:SENS:FUNC "CURR"|"VOLT"|"RES"`` with per-function range, auto range, NPLC,
  autozero and count; ``:READ?``, ``:MEAS:<f>?``, ``:FETC?`` with optional buffer and elements.
- buffers: ``defbuffer1``/``defbuffer2`` and user buffers (``:TRAC:MAKE``), fill, clear, delete,
  resize, ``:TRAC:ACT?``, statistics and the bulk fetch ``:TRAC:DATA? s, e, "buf", elements``.
- trigger model: list sweeps (``:SOUR:LIST:VOLT`` + ``:SOUR:SWE:VOLT:LIST``), linear and log
  sweeps (``:SOUR:SWE:VOLT:LIN|LOG``), ``:TRIG:LOAD "SimpleLoop"``; run by ``:INIT``.
  A sweep drives the chip in one vectorised ``chip.sweep`` call.

Time charged: integration ``NPLC / line frequency`` (twice with autozero on), a source delay per point
(auto: by current range) and a fixed per-reading overhead; bus latency per message.
Sourcing current applies the voltage that drives the current through the device (clamped at
``VLIM``, where the device's own current then flows: compliance).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from memlab.instruments.sim.scpi import (
    Boolean,
    Choice,
    Command,
    Number,
    ScpiError,
    ScpiInstrument,
    ScpiParser,
    Text,
    unquote,
)
from memlab.instruments.sim.smu import (
    DcBias,
    OVERFLOW,
    pick_range,
    range_for_setting,
    readings,
    seeded_rng,
    terminal_voltages,
    voltage_driving,
)
from memlab.instruments.sim.world import SimWorld

CURRENT_RANGES_A = (10e-9, 100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0)
VOLTAGE_RANGES_V = (0.02, 0.2, 2.0, 20.0, 200.0)
RESISTANCE_RANGES_OHM = (20.0, 200.0, 2e3, 20e3, 200e3, 2e6, 20e6, 200e6)
#: trigger-model work per reading besides integration and delay (~3,100 readings/s at 0.01 PLC)
READING_OVERHEAD_S = 150e-6
#: parsing and answering a measurement query (not part of a sweep's per-point time)
QUERY_OVERHEAD_S = 300e-6
LIST_CHUNK = 100  # values per :SOUR:LIST command
LIST_MAX = 2500  # values in a source list
BUFFER_MAX = 7_500_000
DEFAULT_BUFFERS = ("defbuffer1", "defbuffer2")
# auto source delay by current measure range (the settling of the low ranges)
_AUTO_DELAY_S = {10e-9: 10e-3, 100e-9: 5e-3, 1e-6: 2e-3, 10e-6: 1e-3}

_FUNC_UNITS = {"CURR": "Amp DC", "VOLT": "Volt DC", "RES": "Ohm"}
_SENSE = {"CURR": ("CURRent", CURRENT_RANGES_A), "VOLT": ("VOLTage", VOLTAGE_RANGES_V),
          "RES": ("RESistance", RESISTANCE_RANGES_OHM)}
_ELEMENTS = Choice("READing|SOURce|RELative|SEConds|FRACtional|UNIT|SOURUNIT|STATus|"
                   "SOURSTATus|TSTamp|DATE|TIME")


class ReadingBuffer:
    """One reading buffer: readings, source values, time stamps and units; when full, the
    oldest readings make room (the default fill mode). Appends are amortised O(new points)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.clear()

    def clear(self) -> None:
        self._data = np.empty((3, 0))  # rows: readings, sources, times
        self._count = 0
        self._blocks: list[tuple[int, str, str]] = []  # (count, reading unit, source unit)

    def __len__(self) -> int:
        return self._count

    @property
    def readings(self) -> np.ndarray:
        return self._data[0, :self._count]

    @property
    def sources(self) -> np.ndarray:
        return self._data[1, :self._count]

    @property
    def times_s(self) -> np.ndarray:
        return self._data[2, :self._count]

    def append(self, values: np.ndarray, sources: np.ndarray, times_s: np.ndarray,
               unit: str, source_unit: str) -> None:
        new = np.vstack((values, sources, times_s))
        total = self._count + new.shape[1]
        self._blocks.append((new.shape[1], unit, source_unit))
        if total > self.capacity:
            self._data = np.concatenate((self._data[:, :self._count], new), axis=1)[:, -self.capacity:]
            self._count = self._data.shape[1]
            return
        if total > self._data.shape[1]:
            grown = np.empty((3, min(self.capacity, max(total, 2 * self._data.shape[1], 64))))
            grown[:, :self._count] = self._data[:, :self._count]
            self._data = grown
        self._data[:, self._count:total] = new
        self._count = total

    def unit_columns(self) -> tuple[list[str], list[str]]:
        units: list[str] = []
        sources: list[str] = []
        for count, unit, source_unit in self._blocks:
            units += [unit] * count
            sources += [source_unit] * count
        return units[-len(self):], sources[-len(self):]


@dataclass
class _Sweep:
    """A trigger model loaded by a sweep command or :TRIG:LOAD, run by :INIT."""

    levels: np.ndarray  # source level per point (one pass)
    delay_s: float | None  # None: auto delay
    count: int  # passes
    buffer: str
    source_func: str
    turns_output_on: bool = True  # sweeps do; a SimpleLoop measures at the present output state


class Keithley2450Twin(ScpiInstrument):
    """The 2450 twin; ``terminal`` is the world terminal its HI lead reaches (default: name)."""

    manufacturer = "KEITHLEY INSTRUMENTS"
    model = "MODEL 2450"
    firmware = "1.7.12b"
    default_serial = "04512345"
    error_queue_size = 100

    defaults = {
        "lang": "SCPI",
        "src_func": "VOLT",
        "src_VOLT": 0.0, "src_CURR": 0.0,
        "src_range_VOLT": 0.2, "src_range_CURR": 1e-8,
        "src_auto_VOLT": True, "src_auto_CURR": True,
        "ilim": 1.05e-4, "vlim": 2.1,
        "readback_VOLT": True, "readback_CURR": True,
        "delay_VOLT": 0.0, "delay_CURR": 0.0,
        "delay_auto_VOLT": True, "delay_auto_CURR": True,
        "sens_func": "CURR",
        "range_CURR": 1e-4, "range_VOLT": 0.02, "range_RES": 2e5,
        "auto_CURR": True, "auto_VOLT": True, "auto_RES": True,
        "nplc_CURR": 1.0, "nplc_VOLT": 1.0, "nplc_RES": 1.0,
        "azer_CURR": True, "azer_VOLT": True, "azer_RES": True,
        "rsense": False,
        "count": 1,
        "output": False,
        "terminals": "FRON",
        "format": "ASC",
    }

    def __init__(self, world: SimWorld, name: str = "smu", *, terminal: str | None = None,
                 line_frequency_hz: float = 50.0, serial: str | None = None) -> None:
        if line_frequency_hz not in (50.0, 60.0):
            raise ValueError(f"line_frequency_hz={line_frequency_hz!r}: allowed 50 or 60")
        self.line_frequency_hz = float(line_frequency_hz)
        self.terminal = terminal or name
        self.bias = DcBias(world, self.terminal)
        self.rng = seeded_rng(name)
        self.buffers: dict[str, ReadingBuffer] = {}
        self.source_lists: dict[str, np.ndarray] = {}
        self.sweep: _Sweep | None = None
        self._tripped = False
        super().__init__(world, name, serial=serial)

    # -- state ----------------------------------------------------------------------------------

    def reset(self) -> None:
        self.bias.set(on=False, voltage_v=0.0, compliance_a=None)
        super().reset()
        self.buffers = {name: ReadingBuffer(100_000) for name in DEFAULT_BUFFERS}
        self.source_lists = {"VOLT": np.empty(0), "CURR": np.empty(0)}
        self.sweep = None
        self._tripped = False

    def _apply_bias(self) -> None:
        """Push output state, level and limit to the DC bias the device sees."""
        state = self.state
        voltage = state["src_VOLT"] if state["src_func"] == "VOLT" else self._voltage_for_current()
        self.bias.set(on=state["output"], voltage_v=voltage, compliance_a=self._compliance_a())

    def _compliance_a(self) -> float:
        # Sourcing current, the current is the source level itself (within the voltage limit).
        return self.state["ilim"] if self.state["src_func"] == "VOLT" else abs(self.state["src_CURR"]) or 1e-12

    def _voltage_for_current(self, current_a: float | None = None) -> float:
        """The voltage that drives the current through the device (a current source finds it by
        feedback), clamped at VLIM: the limit when the device cannot carry it."""
        current = self.state["src_CURR"] if current_a is None else current_a
        return voltage_driving(self.world, self.terminal, float(current), self.state["vlim"])

    # -- measuring ------------------------------------------------------------------------------

    def _filter_count(self, func: str) -> int:
        """Readings the averaging filter averages into one (1 when it is off)."""
        return int(self.state[f"aver_count_{func}"]) if self.state[f"aver_{func}"] else 1

    def _integration_s(self) -> float:
        func = self.state["sens_func"]
        base = self.state["nplc_" + func] / self.line_frequency_hz
        # A repeating filter takes `count` fresh readings per reading; a moving one, once full,
        # one per reading.
        repeats = self._filter_count(func) if self.state[f"aver_tcon_{func}"] == "REP" else 1
        return base * (2.0 if self.state["azer_" + func] else 1.0) * repeats

    def _noise_nplc(self, func: str) -> float:
        """Integration that sets a reading's noise: averaging n readings is like n times the NPLC."""
        return self.state["nplc_" + func] * self._filter_count(func)

    def _auto_delay_s(self) -> float:
        measure_range = self.state["range_CURR"]
        return _AUTO_DELAY_S.get(measure_range, 50e-6)

    def _source_delay_s(self) -> float:
        func = self.state["src_func"]
        return self._auto_delay_s() if self.state["delay_auto_" + func] else self.state["delay_" + func]

    def _to_readings(self, programmed: np.ndarray, applied_v: np.ndarray,
                     currents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Source settings, the voltages on the device and its true currents -> (readings,
        source values) as the instrument reports them."""
        state = self.state
        func = state["sens_func"]
        if state["src_func"] == "VOLT":
            limit = state["ilim"]
            # In compliance the source gives way: the terminal sits at the voltage that drives
            # the limit current through the device (I*R into a short), and read-back reports it.
            applied_v = terminal_voltages(self.world, self.terminal, applied_v, currents, limit)
            sources = applied_v if state["readback_VOLT"] else programmed
        else:
            limit = max(float(np.max(np.abs(programmed))), 1e-12)
            sources = programmed
            # A current source forces its current (the device's noise shows in the voltage)
            # unless the voltage limit holds it back: then the device's current at the limit.
            held = np.abs(applied_v) >= state["vlim"] * (1 - 1e-9)
            currents = np.where(held, np.clip(currents, -np.abs(programmed), np.abs(programmed)), programmed)
        current_range = self._locked_range("CURR", programmed)
        if current_range is None:
            current_range = None if state["auto_CURR"] else state["range_CURR"]
        amps = readings(currents, compliance_a=limit, range_a=current_range,
                        ranges_a=CURRENT_RANGES_A, nplc=self._noise_nplc("CURR"), rng=self.rng)
        if state["src_func"] == "VOLT":
            self._tripped = bool(np.any(np.abs(currents) >= limit * (1 - 1e-9)))
        else:
            self._tripped = bool(np.any(np.abs(applied_v) >= state["vlim"] * (1 - 1e-9)))
        if func == "CURR":
            return amps, sources
        volts_range = self._locked_range("VOLT", programmed)
        if volts_range is None:
            volts_range = None if state["auto_VOLT"] else state["range_VOLT"]
        volts = readings(applied_v, compliance_a=210.0, range_a=volts_range,
                         ranges_a=VOLTAGE_RANGES_V, nplc=self._noise_nplc("VOLT"), rng=self.rng)
        if func == "VOLT":
            return volts, sources
        with np.errstate(divide="ignore", invalid="ignore"):
            ohms = np.where((amps == 0.0) | (amps == OVERFLOW), OVERFLOW, volts / amps)
        return ohms, sources

    def _locked_range(self, func: str, programmed: np.ndarray) -> float | None:
        """Measuring the sourced quantity, the measure range is the source range (fixed, or
        with source autorange the range of the largest level); None otherwise."""
        state = self.state
        if state["src_func"] != func:
            return None
        if not state["src_auto_" + func]:
            return float(state["src_range_" + func])
        ranges = VOLTAGE_RANGES_V if func == "VOLT" else CURRENT_RANGES_A
        peak = float(np.max(np.abs(programmed))) if len(programmed) else 0.0
        return pick_range(peak, ranges)

    def _measure_once(self) -> tuple[float, float]:
        """One reading at the present source level: (reading, source value)."""
        state = self.state
        self._apply_bias()
        integration = self._integration_s()
        current = self.bias.hold(integration)
        self.charge(integration + READING_OVERHEAD_S)
        on = state["output"]
        programmed = np.array([state["src_" + state["src_func"]] if on else 0.0])
        applied = np.array([self.bias.voltage_v if on else 0.0])
        values, sources = self._to_readings(programmed, applied, np.array([current]))
        return float(values[0]), float(sources[0])

    def _buffer(self, name: str) -> ReadingBuffer:
        buffer = self.buffers.get(name)
        if buffer is None:
            raise ScpiError(-224, "Illegal parameter value", f"no reading buffer named {name!r}")
        return buffer

    def _store(self, name: str, values: np.ndarray, sources: np.ndarray, times_s: np.ndarray) -> None:
        self._buffer(name).append(values, sources, times_s, _FUNC_UNITS[self.state["sens_func"]],
                                  "Volt DC" if self.state["src_func"] == "VOLT" else "Amp DC")

    def _buffer_and_elements(self, cmd: Command, start: int) -> tuple[str, list[str]]:
        name = unquote(cmd.args[start]) if len(cmd.args) > start else "defbuffer1"
        elements = [_ELEMENTS.parse(a) for a in cmd.args[start + 1:]] or ["READ"]
        return name, elements

    def _read(self, cmd: Command) -> str:
        name, elements = self._buffer_and_elements(cmd, 0)
        buffer = self._buffer(name)
        count = self.state["count"]
        if count == 1:
            value, source = self._measure_once()
            self._store(name, np.array([value]), np.array([source]), np.array([self.clock.now()]))
        else:
            # count readings at the present source level, computed at once as a SimpleLoop would
            func = self.state["src_func"]
            self._run(_Sweep(np.array([self.state["src_" + func]]), 0.0, count, name, func,
                             turns_output_on=False))
        self.charge(QUERY_OVERHEAD_S)
        return self._format_elements(buffer, len(buffer), len(buffer), elements)

    @staticmethod
    def _measure(func: str) -> Any:
        def handler(self: Keithley2450Twin, cmd: Command) -> str:
            self.state["sens_func"] = func
            return self._read(cmd)
        return handler

    def _fetch(self, cmd: Command) -> str:
        name, elements = self._buffer_and_elements(cmd, 0)
        buffer = self._buffer(name)
        if not len(buffer):
            raise ScpiError(-230, "Data corrupt or stale", f"buffer {name!r} is empty")
        return self._format_elements(buffer, len(buffer), len(buffer), elements)

    # -- buffers --------------------------------------------------------------------------------

    def _format_elements(self, buffer: ReadingBuffer, first: int, last: int,
                         elements: list[str]) -> str:
        """Elements of readings first..last (1-based, inclusive), interleaved per reading."""
        lo = first - 1
        columns: list[Any] = []
        numeric = True
        start_s = buffer.times_s[0] if len(buffer) else 0.0
        for element in elements:
            if element == "READ":
                columns.append(buffer.readings[lo:last])
            elif element == "SOUR":
                columns.append(buffer.sources[lo:last])
            elif element == "REL":
                columns.append(buffer.times_s[lo:last] - start_s)
            elif element == "SEC":
                columns.append(np.floor(buffer.times_s[lo:last]).astype(np.int64))
            elif element == "FRAC":
                columns.append(buffer.times_s[lo:last] % 1.0)
            elif element in ("STAT", "SOURSTAT"):
                columns.append(np.zeros(last - lo, dtype=np.int64))
            else:
                numeric = False
                columns.append(self._text_column(buffer, element, lo, last))
        if numeric and all(c.dtype.kind == "f" for c in columns):
            table = np.column_stack(columns).ravel()
            return (("%.6E," * len(table)) % tuple(table.tolist()))[:-1]
        rows = zip(*[self._as_text(c) for c in columns])
        return ",".join(",".join(row) for row in rows)

    def _as_text(self, column: Any) -> list[str]:
        if isinstance(column, list):
            return column
        if column.dtype.kind == "f":
            return [f"{v:.6E}" for v in column.tolist()]
        return [str(v) for v in column.tolist()]

    def _text_column(self, buffer: ReadingBuffer, element: str, lo: int, hi: int) -> list[str]:
        units, source_units = buffer.unit_columns()
        if element == "UNIT":
            return units[lo:hi]
        if element == "SOURUNIT":
            return source_units[lo:hi]
        times = buffer.times_s[lo:hi].tolist()
        if element == "DATE":
            return ["01/01/2026" for _ in times]
        if element == "TIME":
            return [f"{int(t // 3600) % 24:02d}:{int(t // 60) % 60:02d}:{t % 60:012.9f}" for t in times]
        return [f"01/01/2026 {int(t // 3600) % 24:02d}:{int(t // 60) % 60:02d}:{t % 60:012.9f}" for t in times]

    def _trace_data(self, cmd: Command) -> str:
        cmd.expect(2, 20)
        first = int(Number(1, BUFFER_MAX, 1, integer=True).parse(cmd.args[0]))
        last = int(Number(1, BUFFER_MAX, 1, integer=True).parse(cmd.args[1]))
        name, elements = self._buffer_and_elements(cmd, 2)
        buffer = self._buffer(name)
        if not first <= last <= len(buffer):
            raise ScpiError(-222, "Data out of range",
                            f"readings {first}..{last} requested, buffer {name!r} holds {len(buffer)}")
        return self._format_elements(buffer, first, last, elements)

    def _trace_make(self, cmd: Command) -> None:
        cmd.expect(2, 3)
        name = unquote(cmd.args[0])
        if name in self.buffers:
            raise ScpiError(-224, "Illegal parameter value", f"buffer {name!r} already exists")
        if not name or not name[0].isalpha() or not name.replace("_", "").isalnum() or len(name) > 31:
            raise ScpiError(-224, "Illegal parameter value", f"bad buffer name {name!r}")
        size = int(Number(10, BUFFER_MAX, 100_000, integer=True).parse(cmd.args[1]))
        self.buffers[name] = ReadingBuffer(size)

    def _trace_delete(self, cmd: Command) -> None:
        cmd.expect(1)
        name = unquote(cmd.args[0])
        if name in DEFAULT_BUFFERS:
            raise ScpiError(-224, "Illegal parameter value", f"{name!r} cannot be deleted")
        self._buffer(name)
        del self.buffers[name]

    def _trace_clear(self, cmd: Command) -> None:
        cmd.expect(0, 1)
        self._buffer(unquote(cmd.args[0]) if cmd.args else "defbuffer1").clear()

    def _trace_points(self, cmd: Command) -> str | None:
        if cmd.query:
            cmd.expect(0, 1)
            return str(self._buffer(unquote(cmd.args[0]) if cmd.args else "defbuffer1").capacity)
        cmd.expect(1, 2)
        size = int(Number(1, BUFFER_MAX, 100_000, integer=True).parse(cmd.args[0]))
        buffer = self._buffer(unquote(cmd.args[1]) if len(cmd.args) > 1 else "defbuffer1")
        buffer.capacity = size
        buffer.clear()
        return None

    @staticmethod
    def _trace_actual(part: str) -> Any:
        def handler(self: Keithley2450Twin, cmd: Command) -> str:
            cmd.expect(0, 1)
            buffer = self._buffer(unquote(cmd.args[0]) if cmd.args else "defbuffer1")
            count = len(buffer)
            return str({"count": count, "start": 1 if count else 0, "end": count}[part])
        return handler

    def _trace_trigger(self, cmd: Command) -> None:
        cmd.expect(0, 1)
        name = unquote(cmd.args[0]) if cmd.args else "defbuffer1"
        self._buffer(name)
        value, source = self._measure_once()
        self._store(name, np.array([value]), np.array([source]), np.array([self.clock.now()]))

    @staticmethod
    def _statistic(function: Any) -> Any:
        def handler(self: Keithley2450Twin, cmd: Command) -> str:
            cmd.expect(0, 1)
            buffer = self._buffer(unquote(cmd.args[0]) if cmd.args else "defbuffer1")
            if not len(buffer):
                return self.format_number(OVERFLOW)
            return self.format_number(float(function(buffer.readings)))
        return handler

    # -- source lists and sweeps ----------------------------------------------------------------

    @staticmethod
    def _source_limit(func: str) -> float:
        return 210.0 if func == "VOLT" else 1.05

    @staticmethod
    def _list(func: str, append: bool) -> Any:
        def handler(self: Keithley2450Twin, cmd: Command) -> str | None:
            if cmd.query:
                values = self.source_lists[func]
                return ",".join(self.format_number(v) for v in values.tolist())
            if not cmd.args:
                raise ScpiError(-109, "Missing parameter", cmd.header)
            if len(cmd.args) > LIST_CHUNK:
                raise ScpiError(-223, "Too much data",
                                f"{len(cmd.args)} values in one command; at most {LIST_CHUNK}, append the rest")
            values = cmd.numbers()
            limit = self._source_limit(func)
            if np.any(np.abs(values) > limit):
                raise ScpiError(-222, "Data out of range", f"source list values must be within +-{limit:g}")
            merged = np.concatenate((self.source_lists[func], values)) if append else values
            if len(merged) > LIST_MAX:
                raise ScpiError(-223, "Too much data", f"a source list holds at most {LIST_MAX} values")
            self.source_lists[func] = merged
            return None
        return handler

    @staticmethod
    def _list_points(func: str) -> Any:
        return lambda self, cmd: str(len(self.source_lists[func]))

    def _sweep_tail(self, cmd: Command, start: int) -> tuple[float | None, int, str]:
        """(delay, count, buffer) from the common tail of the sweep commands."""
        args = cmd.args
        delay: float | None = None
        if len(args) > start:
            value = float(Number(-1, 1e4, -1).parse(args[start]))
            if value != -1 and 0 < value < 50e-6:
                raise ScpiError(-222, "Data out of range", f"sweep delay {value:g} s: 0 or 50e-6 .. 1e4")
            delay = None if value == -1 else value
        count = 1
        if len(args) > start + 1:
            text = args[start + 1].strip().upper()
            count = 1 if text == "INF" else int(Number(1, 268_000_000, 1, integer=True).parse(text))
        buffer = unquote(args[-1]) if len(args) > start + 2 and args[-1].strip()[:1] in "'\"" else "defbuffer1"
        self._buffer(buffer)
        return delay, count, buffer

    @staticmethod
    def _sweep_list(func: str) -> Any:
        def handler(self: Keithley2450Twin, cmd: Command) -> None:
            cmd.expect(1, 5)
            values = self.source_lists[func]
            first = int(Number(1, max(1, len(values)), 1, integer=True).parse(cmd.args[0]))
            if not len(values):
                raise ScpiError(-221, "Settings conflict", "the source list is empty")
            delay, count, buffer = self._sweep_tail(cmd, 1)
            self._load_sweep(_Sweep(values[first - 1:].copy(), delay, count, buffer, func))
        return handler

    @staticmethod
    def _sweep_lin(func: str, kind: str) -> Any:
        def handler(self: Keithley2450Twin, cmd: Command) -> None:
            cmd.expect(3, 9)
            limit = self._source_limit(func)
            level = Number(-limit, limit, 0.0)
            start = level.parse(cmd.args[0])
            stop = level.parse(cmd.args[1])
            if kind == "STEP":
                step = Number(-2 * limit, 2 * limit, 0.0).parse(cmd.args[2])
                if step == 0 or (stop - start) / step < 0:
                    raise ScpiError(-222, "Data out of range", f"step {step:g} does not lead from {start:g} to {stop:g}")
                points = int(np.floor((stop - start) / step + 1e-9)) + 1
                levels = start + step * np.arange(points)
            else:
                points = int(Number(2, 1_000_000, 2, integer=True).parse(cmd.args[2]))
                if kind == "LOG":
                    if start * stop <= 0:
                        raise ScpiError(-222, "Data out of range", "a log sweep needs start and stop of one sign, not 0")
                    levels = np.sign(start) * np.geomspace(abs(start), abs(stop), points)
                else:
                    levels = np.linspace(start, stop, points)
            delay, count, buffer = self._sweep_tail(cmd, 3)
            dual = len(cmd.args) > 7 and _as_bool(cmd.args[7])
            if dual:
                levels = np.concatenate((levels, levels[::-1]))
            self._load_sweep(_Sweep(levels, delay, count, buffer, func))
        return handler

    @staticmethod
    def _check_sweep_size(points: int, count: int) -> None:
        """A trigger model whose readings would not fit the largest reading buffer is refused
        before anything is built (the twin computes every reading of a run at once)."""
        total = points * count
        if total > BUFFER_MAX:
            raise ScpiError(-223, "Too much data",
                            f"{points} points x count {count} = {total} readings; at most "
                            f"{BUFFER_MAX} (the largest reading buffer)")

    def _load_sweep(self, sweep: _Sweep) -> None:
        self._check_sweep_size(len(sweep.levels), sweep.count)
        if sweep.source_func != self.state["src_func"]:
            raise ScpiError(-221, "Settings conflict",
                            f"the sweep sources {sweep.source_func} but the source function is {self.state['src_func']}")
        self.sweep = sweep

    def _trigger_load(self, cmd: Command) -> None:
        cmd.expect(1, 4)
        model = unquote(cmd.args[0]).upper()
        if model == "EMPTY":
            self.sweep = None
            return
        if model != "SIMPLELOOP":
            raise ScpiError(-224, "Illegal parameter value",
                            f"trigger model template {unquote(cmd.args[0])!r}: supported SimpleLoop, Empty")
        cmd.expect(2, 4)
        count = int(Number(1, 268_000_000, 1, integer=True).parse(cmd.args[1]))
        delay = Number(0, 1e4, 0).parse(cmd.args[2]) if len(cmd.args) > 2 else 0.0
        buffer = unquote(cmd.args[3]) if len(cmd.args) > 3 else "defbuffer1"
        self._buffer(buffer)
        self._check_sweep_size(1, count)
        func = self.state["src_func"]
        level = self.state["src_" + func]
        self.sweep = _Sweep(np.array([level]), delay, count, buffer, func, turns_output_on=False)

    def _initiate(self, cmd: Command) -> None:
        sweep = self.sweep
        if sweep is None:
            # The empty trigger model takes nothing but a reading per :INIT.
            self._trace_trigger(Command(cmd.header, False, (), ()))
            return
        self._run(sweep)

    def _run(self, sweep: _Sweep) -> None:
        """Run a trigger model: every point in one vectorised pass over the chip."""
        state = self.state
        if sweep.turns_output_on:
            state["output"] = True
        self._apply_bias()
        self.bias.hold()
        # With the output off (a SimpleLoop may run so) the device sees nothing.
        levels = np.tile(sweep.levels, sweep.count) * (1.0 if state["output"] else 0.0)
        delay = self._source_delay_s() if sweep.delay_s is None else sweep.delay_s
        per_point = delay + self._integration_s() + READING_OVERHEAD_S
        start_s = self.clock.now()
        if sweep.source_func == "VOLT":
            currents = self.world.sweep(self.terminal, levels, per_point, state["ilim"])
            applied = levels
        elif len(levels) and np.all(levels == levels[0]):
            # One current throughout (repeated readings): one voltage, one vectorised pass.
            applied = np.full(len(levels), self._voltage_for_current(float(levels[0])))
            currents = self.world.sweep(self.terminal, applied, per_point, abs(float(levels[0])) or 1e-12)
        else:
            applied = np.array([self._voltage_for_current(i) for i in levels])
            currents = np.array([self.world.source_voltage(self.terminal, v, per_point, abs(i) or 1e-12)
                                 for v, i in zip(applied, levels)])
            currents = np.clip(currents, -np.abs(levels), np.abs(levels))
        self.charge(per_point * len(levels))
        times = start_s + per_point * np.arange(1, len(levels) + 1)
        values, sources = self._to_readings(levels, applied, currents)
        self._store(sweep.buffer, values, sources, times)
        self.bias.restart()

    # -- settings with side effects -------------------------------------------------------------

    @staticmethod
    def _set_level(func: str) -> Any:
        limit = 210.0 if func == "VOLT" else 1.05
        param = Number(-limit, limit, 0.0, unit="V" if func == "VOLT" else "A")
        key = "src_" + func

        def handler(self: Keithley2450Twin, cmd: Command) -> str | None:
            if cmd.query:
                special = cmd.special(0)
                return self.format_number(param.parse(special) if special else self.state[key])
            cmd.expect(1)
            value = param.parse(cmd.args[0])
            if not self.state["src_auto_" + func]:
                src_range = self.state["src_range_" + func]
                if abs(value) > src_range * 1.05:
                    raise ScpiError(-222, "Data out of range",
                                    f"{value:g} is beyond the fixed source range {src_range:g}")
            self.state[key] = value
            self._apply_bias()
            return None
        return handler

    @staticmethod
    def _set_range(key: str, ranges: tuple[float, ...], auto_key: str | None) -> Any:
        param = Number(-ranges[-1] * 1.05, ranges[-1] * 1.05, ranges[0])

        def handler(self: Keithley2450Twin, cmd: Command) -> str | None:
            if cmd.query:
                special = cmd.special(0)
                if special:
                    return self.format_number(range_for_setting(param.parse(special), ranges, key))
                return self.format_number(self.state[key])
            cmd.expect(1)
            value = param.parse(cmd.args[0])
            self.state[key] = range_for_setting(value, ranges, key)
            if auto_key:
                self.state[auto_key] = False
            self._apply_bias()
            return None
        return handler

    def _autozero_once(self, cmd: Command) -> None:
        """A fresh reference and zero measurement: the time of one integration."""
        func = self.state["sens_func"]
        self.charge(self.state["nplc_" + func] / self.line_frequency_hz)

    def _after_bias(self, cmd: Command, value: Any) -> None:
        self._apply_bias()

    def _set_sense_func(self, cmd: Command) -> str | None:
        param = Choice("CURRent|VOLTage|RESistance", quoted=True,
                       reply={"CURR": "CURR:DC", "VOLT": "VOLT:DC", "RES": "RES"})
        if cmd.query:
            return param.format(self.state["sens_func"], self)
        cmd.expect(1)
        text = unquote(cmd.args[0]).upper().replace(":DC", "")
        self.state["sens_func"] = param.parse(text)
        return None

    def _set_lang(self, cmd: Command) -> str | None:
        if cmd.query:
            return self.state["lang"]
        cmd.expect(1)
        # Takes effect at the next power cycle, as on the instrument.
        self.state["lang"] = Choice("SCPI|SCPI2400|TSP").parse(cmd.args[0])
        return None

    # -- the command table ----------------------------------------------------------------------

    @classmethod
    def commands(cls, p: ScpiParser) -> None:
        super().commands(p)
        K = Keithley2450Twin
        p.add("*LANG", set=K._set_lang, query=K._set_lang)
        p.add("SYSTem:LFRequency", query=lambda i, c: f"{i.line_frequency_hz:g}")
        p.add("SYSTem:CLEar", set=lambda i, c: i.clear_status())
        p.add("SYSTem:BEEPer[:IMMediate]", set=lambda i, c: c.expect(2))
        p.setting(":ROUTe:TERMinals", "terminals", Choice("FRONt|REAR"))
        p.setting(":FORMat[:DATA]", "format", Choice("ASCii"))
        p.setting(":SOURce[1]:FUNCtion[:MODE]", "src_func", Choice("VOLTage|CURRent"), after=K._after_bias)
        p.setting(":OUTPut[1][:STATe]", "output", Boolean(), after=K._after_bias)
        for func, word, limit_word, limit in (("VOLT", "VOLTage", "ILIMit", (1e-9, 1.05, 1.05e-4)),
                                              ("CURR", "CURRent", "VLIMit", (0.02, 210.0, 2.1))):
            ranges = VOLTAGE_RANGES_V if func == "VOLT" else CURRENT_RANGES_A
            base = f":SOURce[1]:{word}"
            p.add(f"{base}[:LEVel][:IMMediate][:AMPLitude]", set=K._set_level(func), query=K._set_level(func))
            p.add(f"{base}:RANGe", set=K._set_range(f"src_range_{func}", ranges, f"src_auto_{func}"),
                  query=K._set_range(f"src_range_{func}", ranges, f"src_auto_{func}"))
            p.setting(f"{base}:RANGe:AUTO", f"src_auto_{func}", Boolean())
            p.setting(f"{base}:{limit_word}[:LEVel]", "ilim" if func == "VOLT" else "vlim",
                      Number(*limit, unit="A" if func == "VOLT" else "V"), after=K._after_bias)
            p.setting(f"{base}:READ:BACK", f"readback_{func}", Boolean())
            p.setting(f"{base}:DELay", f"delay_{func}", Number(0.0, 1e4, 0.0, unit="S"))
            p.setting(f"{base}:DELay:AUTO", f"delay_auto_{func}", Boolean())
            p.add(f":SOURce[1]:LIST:{word}", set=K._list(func, False), query=K._list(func, False))
            p.add(f":SOURce[1]:LIST:{word}:APPend", set=K._list(func, True))
            p.add(f":SOURce[1]:LIST:{word}:POINts", query=K._list_points(func))
            p.add(f":SOURce[1]:SWEep:{word}:LIST", set=K._sweep_list(func))
            p.add(f":SOURce[1]:SWEep:{word}:LINear", set=K._sweep_lin(func, "LIN"))
            p.add(f":SOURce[1]:SWEep:{word}:LINear:STEP", set=K._sweep_lin(func, "STEP"))
            p.add(f":SOURce[1]:SWEep:{word}:LOG", set=K._sweep_lin(func, "LOG"))
        p.add(":SENSe[1]:FUNCtion[:ON]", set=K._set_sense_func, query=K._set_sense_func)
        for func, (word, ranges) in _SENSE.items():
            base = f":SENSe[1]:{word}[:DC]"
            p.add(f"{base}:RANGe[:UPPer]", set=K._set_range(f"range_{func}", ranges, f"auto_{func}"),
                  query=K._set_range(f"range_{func}", ranges, f"auto_{func}"))
            p.setting(f"{base}:RANGe:AUTO", f"auto_{func}", Boolean())
            p.setting(f"{base}:NPLCycles", f"nplc_{func}", Number(0.01, 10.0, 1.0))
            p.setting(f"{base}:AZERo[:STATe]", f"azer_{func}", Boolean())
            p.add(f":MEASure:{word}[:DC]", query=K._measure(func))
        for func, (word, ranges) in _SENSE.items():
            base = f":SENSe[1]:{word}[:DC]"
            # The averaging filter: modelled as less noise (and, repeating, more time).
            p.stored(f"{base}:AVERage[:STATe]", f"aver_{func}", Boolean(), False)
            p.stored(f"{base}:AVERage:COUNt", f"aver_count_{func}", Number(1, 100, 10, integer=True), 10)
            p.stored(f"{base}:AVERage:TCONtrol", f"aver_tcon_{func}", Choice("REPeat|MOVing"), "REP")
            p.stored(f"{base}:DELay:USER[n]", f"sense_user_delay_{func}_{{1}}", Number(0.0, 1e4, 0.0, unit="S"), 0.0)
            p.stored(f"{base}:UNIT", f"unit_{func}", Choice({"CURR": "AMP", "VOLT": "VOLT", "RES": "OHM"}[func]),
                     {"CURR": "AMP", "VOLT": "VOLT", "RES": "OHM"}[func])
            p.stored(f"{base}:RANGe:AUTO:LLIMit", f"auto_low_{func}", Number(0.0, 1e9, ranges[0]), ranges[0])
            p.stored(f"{base}:RANGe:AUTO:ULIMit", f"auto_high_{func}", Number(0.0, 1e9, ranges[-1]), ranges[-1])
        p.add(":SENSe[1]:AZERo:ONCE", set=K._autozero_once)
        p.add(":SOURce[1]:VOLTage:ILIMit[:LEVel]:TRIPped", query=lambda i, c: "1" if i._tripped and i.state["src_func"] == "VOLT" else "0")
        p.add(":SOURce[1]:CURRent:VLIMit[:LEVel]:TRIPped", query=lambda i, c: "1" if i._tripped and i.state["src_func"] == "CURR" else "0")
        for word, func in (("VOLTage", "VOLT"), ("CURRent", "CURR")):
            p.stored(f":SOURce[1]:{word}:DELay:USER[n]", f"source_user_delay_{func}_{{1}}", Number(0.0, 1e4, 0.0, unit="S"), 0.0)
            p.stored(f":SOURce[1]:{word}:PROTection[:LEVel]", f"protection_{func}",
                     Choice("PROT2|PROT5|PROT10|PROT20|PROT40|PROT60|PROT80|PROT100|PROT120|PROT140|"
                            "PROT160|PROT180|NONE"), "NONE")
            # Output-off state (HIMP/NORMal/ZERO/GUARd): an output that is off sources nothing here.
            p.stored(f":OUTPut[1]:{word}:SMODe", f"smode_{func}", Choice("HIMPedance|NORMal|ZERO|GUARd"), "NORM")
        p.stored(":OUTPut[1]:INTerlock:STATe", "interlock", Boolean(), False)
        p.add(":OUTPut[1]:INTerlock:TRIPped", query=lambda i, c: "0")
        p.stored(":DISPlay:LIGHt:STATe", "display_light", Choice("ON100|ON75|ON50|ON25|OFF|BLACkout"), "ON50")
        p.stored(":DISPlay:SCReen", "display_screen", Choice("HOME|HOME_LARGe_reading|READing_table|GRAPh|"
                                                             "HISTogram|FRONt|SWIPE_USER|SWIPE_GRAPh|"
                                                             "SWIPE_SETTings|SWIPE_SOURce|SWIPE_STATistics|"
                                                             "PROCessing|SOURce|TRIGger"), "HOME")
        for word in ("CURRent", "VOLTage", "RESistance"):
            p.stored(f":DISPlay:{word}:DIGits", f"display_digits_{word[:4]}", Number(3, 6, 6, integer=True), 6)
        p.add(":DISPlay:USER[n]:TEXT[:DATA]", set=lambda i, c: c.expect(1))
        p.add(":DISPlay:CLEar", set=lambda i, c: None)
        p.stored(":SYSTem:AZERo[:STATe]", "system_autozero", Boolean(), True)
        p.setting(":SENSe[1]:CURRent:RSENse", "rsense", Boolean())
        p.setting(":SENSe[1]:VOLTage:RSENse", "rsense", Boolean())
        p.setting(":SENSe[1]:RESistance:RSENse", "rsense", Boolean())
        p.setting(":SENSe[1]:COUNt", "count", Number(1, 300_000, 1, integer=True))
        p.add(":READ", query=K._read)
        p.add(":MEASure", query=K._read)
        p.add(":FETCh", query=K._fetch)
        p.add(":TRACe:MAKE", set=K._trace_make)
        p.add(":TRACe:DELete", set=K._trace_delete)
        p.add(":TRACe:CLEar", set=K._trace_clear)
        p.add(":TRACe:POINts", set=K._trace_points, query=K._trace_points)
        p.add(":TRACe:ACTual", query=K._trace_actual("count"))
        p.add(":TRACe:ACTual:STARt", query=K._trace_actual("start"))
        p.add(":TRACe:ACTual:END", query=K._trace_actual("end"))
        p.add(":TRACe:DATA", query=K._trace_data)
        p.add(":TRACe:TRIGger", set=K._trace_trigger)
        p.add(":TRACe:STATistics:AVERage", query=K._statistic(np.mean))
        p.add(":TRACe:STATistics:MAXimum", query=K._statistic(np.max))
        p.add(":TRACe:STATistics:MINimum", query=K._statistic(np.min))
        p.add(":TRACe:STATistics:STDDev", query=K._statistic(np.std))
        p.add(":TRIGger:LOAD", set=K._trigger_load)
        p.add(":TRIGger:STATe", query=lambda i, c: "IDLE;IDLE;0")
        p.add(":INITiate[:IMMediate]", set=K._initiate)
        p.add(":ABORt", set=lambda i, c: None)  # every run has finished before the next command


def _as_bool(token: str) -> bool:
    return Boolean().parse(token)
