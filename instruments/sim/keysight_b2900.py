"""Twin of the Keysight B2900 precision SMUs (B2901A/B2902A/B2911A/B2912A).

What it models (per channel; see docs/simulator.md):

- source: ``:SOUR:FUNC:MODE VOLT|CURR``, DC or pulse shape, immediate level (the pulse base),
  triggered level (the pulse peak), FIX/LIST/SWE modes with a list of up to 100,000 values or a
  linear sweep, pulse delay and width (50 us .. 100,000 s); limits ``:SENS:CURR:PROT`` /
  ``:SENS:VOLT:PROT``; output on/off.
- measure: ranges (fixed or auto), NPLC or aperture, spot measurements ``:MEAS:<f>? (@c)`` and
  the trigger system ``:TRIG:SOUR AINT|TIM|BUS``, ``:TRIG:TIM``, ``:TRIG:COUN``,
  ``:TRIG:ACQ:DEL``, ``:TRIG:TRAN:DEL``; ``:INIT (@c)`` runs the points (one vectorised
  ``chip.sweep``), ``:FETC:ARR? (@c)`` returns the elements of ``:FORM:ELEM:SENS`` in the
  instrument's fixed order (VOLT, CURR, RES, TIME, STAT, SOUR); a trace buffer (``:TRAC``)
  collects them when fed.

Time charged: per point the trigger interval (timer) or transient delay + acquisition delay +
aperture + 50 us (auto trigger); aperture is ``NPLC / line frequency``.
"""

from __future__ import annotations

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
    unquote,
)
from memlab.instruments.sim.smu import (
    DcBias,
    OVERFLOW,
    range_for_setting,
    readings,
    seeded_rng,
    terminal_voltages,
    voltage_driving,
)
from memlab.instruments.sim.world import SimWorld

VOLTAGE_RANGES_V = (0.2, 2.0, 20.0, 200.0)
#: processing per auto-triggered point besides delays and aperture
POINT_OVERHEAD_S = 50e-6
LIST_MAX = 100_000
_ELEMENT_ORDER = ("VOLT", "CURR", "RES", "TIME", "STAT", "SOUR")
_ELEMENTS = Choice("VOLTage|CURRent|RESistance|TIME|STATus|SOURce")
# variant: (channels, current ranges, minimum trigger interval)
_VARIANTS: dict[str, tuple[int, tuple[float, ...], float]] = {
    "B2901A": (1, (100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0, 1.5, 3.0), 20e-6),
    "B2902A": (2, (100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0, 1.5, 3.0), 20e-6),
    "B2911A": (1, (10e-9, 100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0, 1.5, 3.0), 10e-6),
    "B2912A": (2, (10e-9, 100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0, 1.5, 3.0), 10e-6),
}


class _Run:
    """The results of one :INIT on a channel (what :FETC returns)."""

    def __init__(self) -> None:
        self.values: dict[str, np.ndarray] = {k: np.empty(0) for k in _ELEMENT_ORDER}

    def extend(self, values: dict[str, np.ndarray]) -> None:
        for key, column in values.items():
            self.values[key] = np.concatenate((self.values[key], column))

    def __len__(self) -> int:
        return len(self.values["CURR"])


class KeysightB2900Twin(ScpiInstrument):
    """The B2900 twin; channel c reaches the world terminal ``terminals[c]`` (default ``name``
    for channel 1, ``name:ch2`` for channel 2)."""

    manufacturer = "Keysight Technologies"
    firmware = "4.0.2003.2701"
    default_serial = "MY51140001"
    error_queue_size = 30

    def __init__(self, world: SimWorld, name: str = "smu", *, variant: str = "B2902A",
                 terminals: dict[int, str] | None = None, line_frequency_hz: float = 50.0,
                 serial: str | None = None) -> None:
        if variant not in _VARIANTS:
            raise ValueError(f"variant={variant!r}: allowed {sorted(_VARIANTS)}")
        if line_frequency_hz not in (50.0, 60.0):
            raise ValueError(f"line_frequency_hz={line_frequency_hz!r}: allowed 50 or 60")
        self.model = variant
        self.channel_count, self.current_ranges, self.min_interval_s = _VARIANTS[variant]
        self.line_frequency_hz = float(line_frequency_hz)
        self.terminals = dict(terminals or {1: name, 2: f"{name}:ch2"})
        self.bias = {ch: DcBias(world, self.terminals[ch]) for ch in (1, 2)}
        self.rng = seeded_rng(name)
        self.runs: dict[int, _Run] = {1: _Run(), 2: _Run()}
        self.traces: dict[int, _Run] = {1: _Run(), 2: _Run()}
        self._armed: dict[int, tuple[np.ndarray, int]] = {}
        super().__init__(world, name, serial=serial)

    def reset(self) -> None:
        for bias in self.bias.values():
            bias.set(on=False, voltage_v=0.0, compliance_a=None)
        super().reset()
        for ch in (1, 2):
            self.state.update({
                f"mode{ch}": "VOLT", f"shape{ch}": "DC", f"VOLT{ch}": 0.0, f"CURR{ch}": 0.0,
                f"VOLT_trig{ch}": 0.0, f"CURR_trig{ch}": 0.0, f"VOLT_smode{ch}": "FIX",
                f"CURR_smode{ch}": "FIX", f"VOLT_list{ch}": np.empty(0), f"CURR_list{ch}": np.empty(0),
                f"VOLT_start{ch}": 0.0, f"VOLT_stop{ch}": 0.0, f"swe_points{ch}": 1,
                f"ilim{ch}": 100e-6, f"vlim{ch}": 2.0, f"irange{ch}": 100e-6, f"iauto{ch}": True,
                f"vrange{ch}": 2.0, f"vauto{ch}": True, f"nplc{ch}": 1.0, f"out{ch}": False,
                f"puls_del{ch}": 0.0, f"puls_width{ch}": 1e-4, f"trig_src{ch}": "AINT",
                f"trig_tim{ch}": 1e-3, f"trig_count{ch}": 1, f"acq_del{ch}": 0.0, f"tran_del{ch}": 0.0,
                f"sens{ch}": ("VOLT", "CURR"), f"trace_points{ch}": 100_000, f"trace_feed{ch}": "SENS",
                f"trace_cont{ch}": "NEV",
            })
            self.runs[ch] = _Run()
            self.traces[ch] = _Run()
        self.state["elements"] = ("VOLT", "CURR", "RES", "TIME", "STAT", "SOUR")
        self.state["format"] = "ASC"
        self._armed = {}

    def format_number(self, value: float) -> str:
        return f"{value:+.6E}"

    # -- helpers --------------------------------------------------------------------------------

    def _ch(self, cmd: Command) -> int:
        ch = cmd.suffixes[0] if cmd.suffixes else 1
        if ch > self.channel_count:
            raise ScpiError(-114, "Header suffix out of range", f"{self.model} has {self.channel_count} channel(s)")
        return ch

    def _channel_list(self, cmd: Command, index: int = 0) -> list[int]:
        if len(cmd.args) <= index:
            return [1]
        channels = cmd.channels(index)
        for ch in channels:
            if not 1 <= ch <= self.channel_count:
                raise ScpiError(-222, "Data out of range", f"channel {ch}: {self.model} has {self.channel_count}")
        return channels

    def _aperture_s(self, ch: int) -> float:
        return self.state[f"nplc{ch}"] / self.line_frequency_hz

    def _compliance(self, ch: int) -> float:
        return self.state[f"ilim{ch}"]

    def _apply_bias(self, ch: int) -> None:
        state = self.state
        if state[f"mode{ch}"] == "CURR":
            # A current source settles at the voltage that drives its current (within the
            # voltage limit); the device sits under that voltage.
            current = state[f"CURR{ch}"]
            voltage = voltage_driving(self.world, self.terminals[ch], current, state[f"vlim{ch}"])
            self.bias[ch].set(on=state[f"out{ch}"], voltage_v=voltage, compliance_a=abs(current) or 1e-12)
            return
        self.bias[ch].set(on=state[f"out{ch}"], voltage_v=state[f"VOLT{ch}"], compliance_a=self._compliance(ch))

    def _report_current_source(self, ch: int, levels_a: np.ndarray, applied_v: np.ndarray,
                               device_a: np.ndarray, times: np.ndarray) -> dict[str, np.ndarray]:
        """Sourcing current: the set current flows unless the voltage limit holds the source
        back (compliance); then the device's current at the limit flows."""
        state = self.state
        held = np.abs(applied_v) >= state[f"vlim{ch}"] * (1 - 1e-9)
        currents = np.where(held & (np.abs(device_a) < np.abs(levels_a)), device_a, levels_a)
        amps = readings(currents, compliance_a=self.current_ranges[-1],
                        range_a=None if state[f"iauto{ch}"] else state[f"irange{ch}"],
                        ranges_a=self.current_ranges, nplc=state[f"nplc{ch}"], rng=self.rng)
        volts = readings(applied_v, compliance_a=210.0, range_a=None if state[f"vauto{ch}"] else state[f"vrange{ch}"],
                         ranges_a=VOLTAGE_RANGES_V, nplc=state[f"nplc{ch}"], rng=self.rng)
        with np.errstate(divide="ignore", invalid="ignore"):
            ohms = np.where((amps == 0.0) | (amps == OVERFLOW), OVERFLOW, volts / amps)
        status = np.where(held, 8, 0).astype(np.float64)
        return {"VOLT": volts, "CURR": amps, "RES": ohms, "TIME": times, "STAT": status, "SOUR": levels_a.copy()}

    def _report(self, ch: int, levels: np.ndarray, currents: np.ndarray, times: np.ndarray) -> dict[str, np.ndarray]:
        """True levels and currents -> the columns the instrument reports."""
        state = self.state
        limit = self._compliance(ch)
        amps = readings(currents, compliance_a=limit, range_a=None if state[f"iauto{ch}"] else state[f"irange{ch}"],
                        ranges_a=self.current_ranges, nplc=state[f"nplc{ch}"], rng=self.rng)
        over = np.abs(currents) >= limit * (1 - 1e-9)
        # In compliance the source gives way: the terminal sits at the voltage that drives the
        # limit current through the device (I*R into a short).
        actual_v = terminal_voltages(self.world, self.terminals[ch], levels, currents, limit)
        volts = readings(actual_v, compliance_a=210.0, range_a=None if state[f"vauto{ch}"] else state[f"vrange{ch}"],
                         ranges_a=VOLTAGE_RANGES_V, nplc=state[f"nplc{ch}"], rng=self.rng)
        with np.errstate(divide="ignore", invalid="ignore"):
            ohms = np.where((amps == 0.0) | (amps == OVERFLOW), OVERFLOW, volts / amps)
        status = np.where(over, 8, 0).astype(np.float64)  # bit 3: in compliance
        return {"VOLT": volts, "CURR": amps, "RES": ohms, "TIME": times, "STAT": status, "SOUR": levels.copy()}

    def _format_columns(self, columns: dict[str, np.ndarray], elements: tuple[str, ...],
                        first: int = 0, last: int | None = None) -> str:
        chosen = [columns[e][first:last] for e in _ELEMENT_ORDER if e in elements]
        if not chosen or not len(chosen[0]):
            return ""
        table = np.column_stack(chosen).ravel()
        return (("%+.6E," * len(table)) % tuple(table.tolist()))[:-1]

    # -- spot measurements ------------------------------------------------------------------------

    @staticmethod
    def _measure(element: str | None) -> Any:
        def handler(self: KeysightB2900Twin, cmd: Command) -> str:
            cmd.expect(0, 1)
            replies = []
            for ch in self._channel_list(cmd):
                self.state[f"out{ch}"] = True  # :OUTP:ON:AUTO is on by default
                self._apply_bias(ch)
                aperture = self._aperture_s(ch)
                current = self.bias[ch].hold(aperture)
                self.charge(aperture + POINT_OVERHEAD_S)
                now = np.array([self.clock.now()])
                if self.state[f"mode{ch}"] == "CURR":
                    columns = self._report_current_source(
                        ch, np.array([self.state[f"CURR{ch}"]]), np.array([self.bias[ch].voltage_v]),
                        np.array([current]), now)
                else:
                    columns = self._report(ch, np.array([self.state[f"VOLT{ch}"]]), np.array([current]), now)
                elements = (element,) if element else self.state["elements"]
                replies.append(self._format_columns(columns, elements))
            return ",".join(replies)
        return handler

    # -- the trigger system -----------------------------------------------------------------------

    def _levels(self, ch: int) -> np.ndarray:
        """The source value of each point of a run (peak levels for pulses)."""
        state = self.state
        count = state[f"trig_count{ch}"]
        func = state[f"mode{ch}"]
        mode = state[f"{func}_smode{ch}"]
        if mode == "LIST":
            values = state[f"{func}_list{ch}"]
            if not len(values):
                raise ScpiError(-221, "Settings conflict", "list mode with an empty list")
            return np.resize(values, count)
        if func == "CURR":
            return np.full(count, state[f"CURR_trig{ch}"])
        if mode == "SWE":
            sweep = np.linspace(state[f"VOLT_start{ch}"], state[f"VOLT_stop{ch}"], state[f"swe_points{ch}"])
            return np.resize(sweep, count)
        return np.full(count, state[f"VOLT_trig{ch}"])

    def _interval_s(self, ch: int) -> float:
        state = self.state
        aperture = self._aperture_s(ch)
        needed = state[f"acq_del{ch}"] + aperture
        if state[f"shape{ch}"] == "PULS":
            needed = max(needed, state[f"puls_del{ch}"] + state[f"puls_width{ch}"])
        if state[f"trig_src{ch}"] == "TIM":
            interval = state[f"trig_tim{ch}"]
            if needed > interval:
                raise ScpiError(-221, "Settings conflict",
                                f"a point needs {needed:g} s, the trigger timer gives {interval:g} s")
            return interval
        return state[f"tran_del{ch}"] + needed + POINT_OVERHEAD_S

    def _run_points(self, ch: int, levels: np.ndarray) -> None:
        """Drive the device through ``levels`` and record the points."""
        state = self.state
        interval = self._interval_s(ch)
        pulsed = state[f"shape{ch}"] == "PULS"
        self.bias[ch].hold()
        start = self.clock.now()
        terminal = self.terminals[ch]
        if state[f"mode{ch}"] == "CURR":
            if pulsed:
                raise ScpiError(-221, "Settings conflict", "pulsed current sourcing is not modelled on the B2900 twin")
            vlim = state[f"vlim{ch}"]
            applied = np.array([voltage_driving(self.world, terminal, float(i), vlim) for i in levels])
            device = np.array([self.world.source_voltage(terminal, float(v), interval, abs(float(i)) or 1e-12)
                               for v, i in zip(applied, levels)])
            self.charge(interval * len(levels))
            self.bias[ch].restart()
            times = start + interval * np.arange(len(levels)) + state[f"acq_del{ch}"]
            columns = self._report_current_source(ch, levels, applied, device, times)
            self._store_run(ch, columns)
            return
        if pulsed:
            width = state[f"puls_width{ch}"]
            currents = self.world.sweep(terminal, levels, width, self._compliance(ch))
            base = state[f"VOLT{ch}"]
            if base != 0.0:
                self.world.source_voltage(terminal, base, len(levels) * (interval - width), self._compliance(ch))
        else:
            currents = self.world.sweep(terminal, levels, interval, self._compliance(ch))
        self.charge(interval * len(levels))
        self.bias[ch].restart()
        times = start + interval * np.arange(len(levels)) + state[f"acq_del{ch}"]
        columns = self._report(ch, levels, currents, times)
        self._store_run(ch, columns)

    def _store_run(self, ch: int, columns: dict[str, np.ndarray]) -> None:
        state = self.state
        self.runs[ch].extend(columns)
        if state[f"trace_cont{ch}"] == "NEXT" and len(self.traces[ch]) < state[f"trace_points{ch}"]:
            room = state[f"trace_points{ch}"] - len(self.traces[ch])
            self.traces[ch].extend({k: v[:room] for k, v in columns.items()})

    def _initiate(self, cmd: Command) -> None:
        cmd.expect(0, 1)
        for ch in self._channel_list(cmd):
            self.state[f"out{ch}"] = True  # the transient turns the output on
            self._apply_bias(ch)
            levels = self._levels(ch)
            self.runs[ch] = _Run()
            if self.state[f"trig_src{ch}"] == "BUS":
                self._armed[ch] = (levels, 0)  # each *TRG runs the next point
                continue
            self._run_points(ch, levels)

    def trigger(self) -> None:
        if not self._armed:
            self.push_error(-211, "Trigger ignored")
            return
        for ch, (levels, done) in list(self._armed.items()):
            self._run_points(ch, levels[done:done + 1])
            if done + 1 >= len(levels):
                del self._armed[ch]
            else:
                self._armed[ch] = (levels, done + 1)

    def _abort(self, cmd: Command) -> None:
        cmd.expect(0, 1)
        for ch in self._channel_list(cmd):
            self._armed.pop(ch, None)

    @staticmethod
    def _fetch(element: str | None, scalar: bool) -> Any:
        def handler(self: KeysightB2900Twin, cmd: Command) -> str:
            cmd.expect(0, 1)
            replies = []
            for ch in self._channel_list(cmd):
                run = self.runs[ch]
                if not len(run):
                    raise ScpiError(-230, "Data corrupt or stale", f"no data on channel {ch}; :INIT first")
                elements = (element,) if element else self.state["elements"]
                first = len(run) - 1 if scalar else 0
                replies.append(self._format_columns(run.values, elements, first))
            return ",".join(replies)
        return handler

    # -- settings with side effects ---------------------------------------------------------------

    @staticmethod
    def _level(func: str, triggered: bool) -> Any:
        limit = 210.0 if func == "VOLT" else 3.03
        param = Number(-limit, limit, 0.0, unit="V" if func == "VOLT" else "A")

        def handler(self: KeysightB2900Twin, cmd: Command) -> str | None:
            ch = self._ch(cmd)
            key = f"{func}_trig{ch}" if triggered else f"{func}{ch}"
            if cmd.query:
                special = cmd.special(0)
                return self.format_number(param.parse(special) if special else self.state[key])
            cmd.expect(1)
            self.state[key] = param.parse(cmd.args[0])
            if not triggered:
                # The triggered level follows the immediate one until set on its own.
                self.state[f"{func}_trig{ch}"] = self.state[key]
                if self.state[f"mode{ch}"] == func:
                    self._apply_bias(ch)
            return None
        return handler

    @staticmethod
    def _list(func: str, append: bool) -> Any:
        limit = 210.0 if func == "VOLT" else 3.03

        def handler(self: KeysightB2900Twin, cmd: Command) -> str | None:
            ch = self._ch(cmd)
            key = f"{func}_list{ch}"
            if cmd.query:
                return ",".join(self.format_number(v) for v in self.state[key].tolist())
            if not cmd.args:
                raise ScpiError(-109, "Missing parameter", cmd.header)
            values = cmd.numbers()
            if np.any(np.abs(values) > limit):
                raise ScpiError(-222, "Data out of range", f"list values must be within +-{limit:g}")
            merged = np.concatenate((self.state[key], values)) if append else values
            if len(merged) > LIST_MAX:
                raise ScpiError(-223, "Too much data", f"a list holds at most {LIST_MAX} values")
            self.state[key] = merged
            return None
        return handler

    @staticmethod
    def _range(kind: str) -> Any:
        def handler(self: KeysightB2900Twin, cmd: Command) -> str | None:
            ch = self._ch(cmd)
            ranges = self.current_ranges if kind == "i" else VOLTAGE_RANGES_V
            if cmd.query:
                return self.format_number(self.state[f"{kind}range{ch}"])
            cmd.expect(1)
            value = Number(-ranges[-1], ranges[-1], ranges[0]).parse(cmd.args[0])
            self.state[f"{kind}range{ch}"] = range_for_setting(value, ranges, "range")
            self.state[f"{kind}auto{ch}"] = False
            return None
        return handler

    @staticmethod
    def _per_channel(key: str, param: Any, *, after_bias: bool = False) -> Any:
        """A per-channel setting whose channel suffix must exist on this variant."""
        def handler(self: KeysightB2900Twin, cmd: Command) -> str | None:
            ch = self._ch(cmd)
            if cmd.query:
                return param.format(self.state[f"{key}{ch}"], self)
            cmd.expect(1)
            self.state[f"{key}{ch}"] = param.parse(cmd.args[0])
            if after_bias:
                self._apply_bias(ch)
            return None
        return handler

    def _trigger_timer(self, cmd: Command) -> str | None:
        ch = self._ch(cmd)
        if cmd.query:
            return self.format_number(self.state[f"trig_tim{ch}"])
        cmd.expect(1)
        self.state[f"trig_tim{ch}"] = Number(self.min_interval_s, 1e5, 1e-3, unit="S").parse(cmd.args[0])
        return None

    def _sense_func(self, cmd: Command) -> str | None:
        ch = self._ch(cmd)
        if cmd.query:
            return ",".join(f'"{f}"' for f in self.state[f"sens{ch}"])
        if not cmd.args:
            raise ScpiError(-109, "Missing parameter", cmd.header)
        functions = {_ELEMENTS.parse(a) for a in cmd.args}
        if not functions <= {"VOLT", "CURR", "RES"}:
            raise ScpiError(-224, "Illegal parameter value", "measurement functions: VOLT, CURR, RES")
        self.state[f"sens{ch}"] = tuple(sorted(functions | set(self.state[f"sens{ch}"])))
        return None

    def _elements(self, cmd: Command) -> str | None:
        if cmd.query:
            return ",".join(e for e in _ELEMENT_ORDER if e in self.state["elements"])
        if not cmd.args:
            raise ScpiError(-109, "Missing parameter", cmd.header)
        self.state["elements"] = tuple(_ELEMENTS.parse(a) for a in cmd.args)
        return None

    def _trace_data(self, cmd: Command) -> str:
        ch = self._ch(cmd)
        cmd.expect(0, 2)
        trace = self.traces[ch]
        first = int(Number(0, max(len(trace) - 1, 0), 0, integer=True).parse(cmd.args[0])) if cmd.args else 0
        size = int(Number(1, LIST_MAX, 1, integer=True).parse(cmd.args[1])) if len(cmd.args) > 1 else len(trace) - first
        return self._format_columns(trace.values, self.state["elements"], first, first + size)

    def _trace_clear(self, cmd: Command) -> None:
        self.traces[self._ch(cmd)] = _Run()

    @classmethod
    def commands(cls, p: ScpiParser) -> None:
        super().commands(p)
        B = KeysightB2900Twin
        src = ":SOURce[1|2]"
        for func, word in (("VOLT", "VOLTage"), ("CURR", "CURRent")):
            p.add(f"{src}:{word}[:LEVel][:IMMediate][:AMPLitude]", set=B._level(func, False), query=B._level(func, False))
            p.add(f"{src}:{word}[:LEVel]:TRIGgered[:AMPLitude]", set=B._level(func, True), query=B._level(func, True))
            p.add(f"{src}:LIST:{word}", set=B._list(func, False), query=B._list(func, False))
            p.add(f"{src}:LIST:{word}:APPend", set=B._list(func, True))
            p.add(f"{src}:LIST:{word}:POINts", query=lambda i, c, f=func: str(len(i.state[f"{f}_list{i._ch(c)}"])))
            p.add(f"{src}:{word}:MODE", set=B._per_channel(f"{func}_smode", Choice("FIXed|LIST|SWEep")),
                  query=B._per_channel(f"{func}_smode", Choice("FIXed|LIST|SWEep")))
        p.add(f"{src}:VOLTage:STARt", set=B._per_channel("VOLT_start", Number(-210, 210, 0, unit="V")),
              query=B._per_channel("VOLT_start", Number(-210, 210, 0, unit="V")))
        p.add(f"{src}:VOLTage:STOP", set=B._per_channel("VOLT_stop", Number(-210, 210, 0, unit="V")),
              query=B._per_channel("VOLT_stop", Number(-210, 210, 0, unit="V")))
        p.add(f"{src}:SWEep:POINts", set=B._per_channel("swe_points", Number(1, LIST_MAX, 1, integer=True)),
              query=B._per_channel("swe_points", Number(1, LIST_MAX, 1, integer=True)))
        p.add(f"{src}:FUNCtion:MODE", set=B._per_channel("mode", Choice("VOLTage|CURRent"), after_bias=True),
              query=B._per_channel("mode", Choice("VOLTage|CURRent")))
        p.add(f"{src}:FUNCtion:SHAPe", set=B._per_channel("shape", Choice("DC|PULSe")),
              query=B._per_channel("shape", Choice("DC|PULSe")))
        p.add(f"{src}:PULSe:DELay", set=B._per_channel("puls_del", Number(0.0, 99999.9, 0.0, unit="S")),
              query=B._per_channel("puls_del", Number(0.0, 99999.9, 0.0, unit="S")))
        p.add(f"{src}:PULSe:WIDTh", set=B._per_channel("puls_width", Number(50e-6, 1e5, 1e-4, unit="S")),
              query=B._per_channel("puls_width", Number(50e-6, 1e5, 1e-4, unit="S")))
        sense = ":SENSe[1|2]"
        p.add(f"{sense}:FUNCtion[:ON]", set=B._sense_func, query=B._sense_func)
        for kind, word, limits in (("i", "CURRent", (1e-9, 3.03, 100e-6)), ("v", "VOLTage", (0.02, 210.0, 2.0))):
            p.add(f"{sense}:{word}[:DC]:PROTection[:LEVel]",
                  set=B._per_channel(f"{kind}lim", Number(*limits), after_bias=True),
                  query=B._per_channel(f"{kind}lim", Number(*limits)))
            p.add(f"{sense}:{word}[:DC]:RANGe[:UPPer]", set=B._range(kind), query=B._range(kind))
            p.add(f"{sense}:{word}[:DC]:RANGe:AUTO", set=B._per_channel(f"{kind}auto", Boolean()),
                  query=B._per_channel(f"{kind}auto", Boolean()))
            p.add(f"{sense}:{word}[:DC]:NPLCycles", set=B._per_channel("nplc", Number(4e-4, 100.0, 1.0)),
                  query=B._per_channel("nplc", Number(4e-4, 100.0, 1.0)))
        p.add(":OUTPut[1|2][:STATe]", set=B._per_channel("out", Boolean(), after_bias=True),
              query=B._per_channel("out", Boolean()))
        trig = ":TRIGger[1|2]"
        for sub in ("[:ALL]", ":TRANsient", ":ACQuire"):
            p.add(f"{trig}{sub}:SOURce[:SIGNal]", set=B._per_channel("trig_src", Choice("AINT|BUS|TIMer|INT1|INT2|LAN|EXT1")),
                  query=B._per_channel("trig_src", Choice("AINT|BUS|TIMer|INT1|INT2|LAN|EXT1")))
            p.add(f"{trig}{sub}:TIMer", set=B._trigger_timer, query=B._trigger_timer)
            p.add(f"{trig}{sub}:COUNt", set=B._per_channel("trig_count", Number(1, LIST_MAX, 1, integer=True)),
                  query=B._per_channel("trig_count", Number(1, LIST_MAX, 1, integer=True)))
        p.add(f"{trig}:ACQuire:DELay", set=B._per_channel("acq_del", Number(0.0, 100.0, 0.0, unit="S")),
              query=B._per_channel("acq_del", Number(0.0, 100.0, 0.0, unit="S")))
        p.add(f"{trig}:TRANsient:DELay", set=B._per_channel("tran_del", Number(0.0, 100.0, 0.0, unit="S")),
              query=B._per_channel("tran_del", Number(0.0, 100.0, 0.0, unit="S")))
        p.add(":INITiate[:IMMediate][:ALL]", set=B._initiate)
        p.add(":ABORt[:ALL]", set=B._abort)
        p.add(":FORMat:ELEMents:SENSe", set=B._elements, query=B._elements)
        p.setting(":FORMat[:DATA]", "format", Choice("ASCii"))
        p.add(":MEASure", query=B._measure(None))
        p.add(":FETCh:ARRay", query=B._fetch(None, False))
        p.add(":FETCh[:SCALar]", query=B._fetch(None, True))
        for element, word in (("VOLT", "VOLTage"), ("CURR", "CURRent"), ("RES", "RESistance")):
            p.add(f":MEASure:{word}[:DC]", query=B._measure(element))
            p.add(f":FETCh:ARRay:{word}", query=B._fetch(element, False))
            p.add(f":FETCh[:SCALar]:{word}", query=B._fetch(element, True))
        for element, word in (("TIME", "TIME"), ("SOUR", "SOURce"), ("STAT", "STATus")):
            p.add(f":FETCh:ARRay:{word}", query=B._fetch(element, False))
        p.add(":TRACe[1|2]:CLEar", set=B._trace_clear)
        p.add(":TRACe[1|2]:POINts", set=B._per_channel("trace_points", Number(1, LIST_MAX, LIST_MAX, integer=True)),
              query=B._per_channel("trace_points", Number(1, LIST_MAX, LIST_MAX, integer=True)))
        p.add(":TRACe[1|2]:POINts:ACTual", query=lambda i, c: str(len(i.traces[i._ch(c)])))
        p.add(":TRACe[1|2]:FEED", set=B._per_channel("trace_feed", Choice("SENSe|MATH|LIMit")),
              query=B._per_channel("trace_feed", Choice("SENSe|MATH|LIMit")))
        p.add(":TRACe[1|2]:FEED:CONTrol", set=B._per_channel("trace_cont", Choice("NEVer|NEXT")),
              query=B._per_channel("trace_cont", Choice("NEVer|NEXT")))
        p.add(":TRACe[1|2]:DATA", query=B._trace_data)
        p.add(":SYSTem:LFRequency", query=lambda i, c: f"{i.line_frequency_hz:g}")
