"""Twins of the pulse generators: Keysight 33500B (33522B, two channels) and 81160A/81150A.

Both keep the real model's per-channel state (function, period, width, edges, levels, expected
load, polarity, burst, trigger source, output) and act on the chip through the channel's
terminal (``name`` for channel 1, ``name:ch2`` for channel 2, or as the bench says):

- a triggered burst (``*TRG`` with ``TRIG:SOUR BUS`` on the 33500B, ``:ARM:SOUR MAN`` on the
  81160A) applies ``count`` pulses in one ``chip.pulse`` call and charges their duration;
- a free-running output (continuous pulses, internally triggered bursts, DC) keeps acting on the
  chip as time passes: the world catches it up before any instrument touches the chip;
- an output that is on and waits for triggers holds its idle level on the device (the level between
  pulses: the low level, or the high one with ``OUTP:POL INV``; a DC output its DC level), caught up
  the same way whenever it is not 0 V;
- ``OUTP:POL INV`` inverts the output about its offset: the pulse goes from the high level to the
  low one, which is how a negative pulse from a 0 V base is made (high 0 V, low -V, inverted);
- only pulse, square and DC waveforms reach the chip model; the others are accepted and kept.

Levels are programmed for the *expected* load (``OUTP:LOAD``); the generator has a 50 ohm source,
so with no termination on the bench the high-impedance device sees ``level * (load + 50) / load``
(twice the level when the load is set to 50 ohm, the level itself with ``INF``); a bench with a
50 ohm feed-through terminator (``termination_ohm=50``) and ``OUTP:LOAD 50`` gets the level. Values beyond a limit are clipped, with
``-222 Data out of range;value clipped to ...``, as these Keysight generators do; a period
shorter than the present width shortens the width with ``-221 Settings conflict``.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from memlab.instruments.sim.scpi import (
    Boolean,
    Choice,
    ClippedValue,
    Command,
    Number,
    ScpiError,
    ScpiInstrument,
    ScpiParser,
    Text,
    parse_number,
)
from memlab.instruments.sim.world import SimWorld

SOURCE_OHM = 50.0
INF_OHM = 9.9e37  # how the instruments write "INF" for the load
#: from the trigger to the first edge (bus trigger latency of both generators, about 1 us)
TRIGGER_LATENCY_S = 1e-6
MAX_PULSES_PER_CALL = 1_000_000  # the chip holds a burst in arrays: bound their memory


class PulseGeneratorTwin(ScpiInstrument):
    """What the two generators share; subclasses give limits, patterns and trigger rules."""

    max_level_50_v: ClassVar[float]  # |level| into 50 ohm
    min_amplitude_50_v: ClassVar[float]
    width_range_s: ClassVar[tuple[float, float]]
    period_range_s: ClassVar[tuple[float, float]]
    edge_range_s: ClassVar[tuple[float, float]]
    burst_cycles: ClassVar[tuple[int, int]]
    #: OUTP:LOAD values (ohm) besides INF; at or above ``load_infinite_ohm`` the load is INF
    load_range_ohm: ClassVar[tuple[float, float]]
    load_infinite_ohm: ClassVar[float] = math.inf
    #: time between internally triggered bursts
    burst_period_range_s: ClassVar[tuple[float, float]]
    functions: ClassVar[str]  # the FUNCtion choices, as the manual writes them
    #: edges may be at most this fraction of the width
    edge_per_width: ClassVar[float] = 0.625

    def __init__(self, world: SimWorld, name: str = "pulse", *,
                 terminals: Mapping[int, str] | None = None, termination_ohm: float = math.inf,
                 serial: str | None = None) -> None:
        if not termination_ohm > 0:
            raise ValueError(f"termination_ohm={termination_ohm!r} must be > 0 (math.inf: none)")
        self.terminals = dict(terminals or {1: name, 2: f"{name}:ch2"})
        self.termination_ohm = float(termination_ohm)
        self._free_since: dict[int, float | None] = {1: None, 2: None}
        self._idle_since: dict[int, float | None] = {1: None, 2: None}
        super().__init__(world, name, serial=serial)
        world.add_activity(self._catch_up)

    @classmethod
    def channel_defaults(cls) -> dict[str, Any]:
        values = {"func": "SIN", "period": 1e-3, "width": 100e-6, "hold": "WIDT", "dcyc": 10.0,
                  "sqdcyc": 50.0, "lead": cls.edge_range_s[0], "trail": cls.edge_range_s[0],
                  "high": 0.05, "low": -0.05,
                  "load": SOURCE_OHM, "out": False, "pol": "NORM", "burst": False, "bmode": "TRIG",
                  "ncyc": cls.burst_cycles[0], "bper": 10e-3, "trig": "IMM", "tcount": 1,
                  "limstate": False, "limhigh": 2 * cls.max_level_50_v, "limlow": -2 * cls.max_level_50_v}
        return {f"{key}{ch}": value for ch in (1, 2) for key, value in values.items()}

    def format_number(self, value: float) -> str:
        return f"{value:+.14E}"

    # -- electrical model -----------------------------------------------------------------------

    def _gain(self, ch: int) -> float:
        """Voltage at the connector's far end per programmed volt: the 50-ohm source drives the
        bench's termination (none: only the high-impedance device) while the levels were
        programmed for the expected load."""
        load, termination = self.state[f"load{ch}"], self.termination_ohm
        emf_per_volt = 1.0 if math.isinf(load) else (load + SOURCE_OHM) / load
        return emf_per_volt * (1.0 if math.isinf(termination) else termination / (termination + SOURCE_OHM))

    def _expected_gain(self, ch: int) -> float:
        load = self.state[f"load{ch}"]
        return 1.0 if math.isinf(load) else (load + SOURCE_OHM) / load

    def _max_level(self, ch: int) -> float:
        """Largest |level| the display allows: the EMF limit seen through the expected load."""
        return self.max_level_50_v * 2.0 / self._expected_gain(ch)

    def _device_levels(self, ch: int) -> tuple[float, float]:
        """(level during the pulse, level between pulses) on the device."""
        state, gain = self.state, self._gain(ch)
        high, low = state[f"high{ch}"], state[f"low{ch}"]
        if state[f"pol{ch}"] == "INV":
            high, low = low, high  # inverted about the offset: the pulse goes to the low level
        return high * gain, low * gain

    def _shape(self, ch: int) -> tuple[float, float] | None:
        """(width, period) of the pulses a channel makes, or None for waveforms without pulses."""
        state = self.state
        func, period = state[f"func{ch}"], state[f"period{ch}"]
        if func == "PULS":
            width = state[f"width{ch}"] if state[f"hold{ch}"] == "WIDT" else period * state[f"dcyc{ch}"] / 100
            return width, period
        if func == "SQU":
            return period * state[f"sqdcyc{ch}"] / 100.0, period
        return None

    def fire(self, ch: int, count: int, *, trailing_gap: bool = True) -> float:
        """Apply ``count`` pulses of channel ``ch`` to its device; returns their duration.

        ``trailing_gap``: the base level after the last pulse belongs to this call (free-running
        pulses); a triggered burst leaves it to the idle level that follows."""
        state = self.state
        shape = self._shape(ch)
        if not state[f"out{ch}"] or count <= 0 or shape is None:
            return 0.0
        width, period = shape
        pulse_v, base_v = self._device_levels(ch)
        terminal = self.terminals[ch]
        gaps = count if trailing_gap else count - 1
        if pulse_v * base_v < 0 and gaps > 0:
            # A bipolar train (pulses on a base of the opposite sign): every period is a pulse then
            # the base, alternating, which the chip computes in closed form.
            if pulse_v > 0:
                self.world.cycle(terminal, pulse_v, width, base_v, period - width, gaps)
            else:
                self.world.cycle(terminal, base_v, period - width, pulse_v, width, gaps)
            if gaps < count:
                self.world.pulse(terminal, pulse_v, width, count=1)
            return (count - 1) * period + width
        for first in range(0, count, MAX_PULSES_PER_CALL):  # an hour at 1 MHz is 3.6e9 pulses
            self.world.pulse(terminal, pulse_v, width, count=min(MAX_PULSES_PER_CALL, count - first),
                             period_s=period)
        if base_v != 0.0 and gaps > 0:
            self.world.source_voltage(terminal, base_v, gaps * (period - width), None, bias="write")
        return (count - 1) * period + width

    @abstractmethod
    def free_running(self, ch: int) -> bool:
        """Whether the channel outputs on its own (not waiting for triggers)."""

    def _free_period(self, ch: int) -> tuple[float, int]:
        """(time between groups, pulses per group) while free-running."""
        if self.state[f"burst{ch}"]:
            return self.state[f"bper{ch}"], self.state[f"ncyc{ch}"]
        return self.state[f"period{ch}"], 1

    def _idle_level(self, ch: int) -> float:
        """What an output that is on and waits for a trigger holds on its device (V)."""
        if not self.state[f"out{ch}"] or self.free_running(ch):
            return 0.0
        if self.state[f"func{ch}"] == "DC":
            return (self.state[f"high{ch}"] + self.state[f"low{ch}"]) / 2 * self._gain(ch)
        if self._shape(ch) is None:
            return 0.0
        return self._device_levels(ch)[1]

    def _catch_up(self) -> None:
        now = self.clock.now()
        for ch, since in self._idle_since.items():
            if since is not None and now > since:
                self.world.source_voltage(self.terminals[ch], self._idle_level(ch), now - since, None,
                                          bias="write")
                self._idle_since[ch] = now
        for ch, since in self._free_since.items():
            if since is None or now <= since:
                continue
            if self.state[f"func{ch}"] == "DC":
                level = (self.state[f"high{ch}"] + self.state[f"low{ch}"]) / 2 * self._gain(ch)
                self.world.source_voltage(self.terminals[ch], level, now - since, None, bias="write")
                self._free_since[ch] = now
                continue
            every, pulses = self._free_period(ch)
            groups = math.floor((now - since) / every)
            self._free_since[ch] = since + groups * every
            self.fire(ch, groups * pulses)

    def handle(self, message: str) -> None:
        self.world.settle()
        super().handle(message)
        now = self.clock.now()
        for ch in (1, 2):
            self.world.set_output(self.terminals[ch], bool(self.state[f"out{ch}"]))
            running = self.free_running(ch) and (self._shape(ch) is not None or self.state[f"func{ch}"] == "DC")
            if not running:
                self._free_since[ch] = None
            elif self._free_since[ch] is None:
                self._free_since[ch] = now
            if self._idle_level(ch) == 0.0:
                self._idle_since[ch] = None
            elif self._idle_since[ch] is None:
                self._idle_since[ch] = now

    def reset(self) -> None:
        super().reset()
        self.state.update(self.channel_defaults())

    # -- handlers ---------------------------------------------------------------------------------

    @staticmethod
    def _channel(cmd: Command) -> int:
        return cmd.suffixes[0] if cmd.suffixes else 1

    @staticmethod
    def _level(which: str) -> Any:
        """HIGH, LOW, amplitude or offset of a channel; the others follow as on the instrument."""

        def handler(self: PulseGeneratorTwin, cmd: Command) -> str | None:
            ch = self._channel(cmd)
            high, low = self.state[f"high{ch}"], self.state[f"low{ch}"]
            current = {"HIGH": high, "LOW": low, "AMPL": high - low, "OFFS": (high + low) / 2}[which]
            maximum = self._max_level(ch)
            special = cmd.special(0) if cmd.args else None
            if cmd.query:
                if special == "MAX":
                    return self.format_number(2 * maximum if which == "AMPL" else maximum)
                if special == "MIN":
                    minimum = self.min_amplitude_50_v * 2 / self._expected_gain(ch)
                    return self.format_number(minimum if which == "AMPL" else -maximum)
                return self.format_number(current)
            cmd.expect(1)
            value = parse_number(cmd.args[0], "V") if special is None else {
                "MAX": maximum, "MIN": -maximum, "DEF": 0.1 if which == "AMPL" else 0.0}[special]
            if which == "HIGH":
                high = value
            elif which == "LOW":
                low = value
            elif which == "AMPL":
                offset = (high + low) / 2
                high, low = offset + value / 2, offset - value / 2
            else:
                half = (high - low) / 2
                high, low = value + half, value - half
            clipped: ClippedValue | None = None
            if high > maximum or low < -maximum:
                clipped = ClippedValue(maximum if high > maximum else -maximum, high > maximum)
                high, low = min(high, maximum), max(low, -maximum)
            if high - low < self.min_amplitude_50_v * 2 / self._expected_gain(ch) - 1e-12:
                raise ScpiError(-221, "Settings conflict", "high level must exceed low level by the minimum amplitude")
            if self.state[f"limstate{ch}"] and (high > self.state[f"limhigh{ch}"] or low < self.state[f"limlow{ch}"]):
                raise ScpiError(-221, "Settings conflict", "level outside the voltage limits")
            self.state[f"high{ch}"], self.state[f"low{ch}"] = high, low
            if clipped is not None:
                raise clipped
            return None

        return handler

    def _load(self, cmd: Command) -> str | None:
        ch = self._channel(cmd)
        if cmd.query:
            load = self.state[f"load{ch}"]
            return self.format_number(INF_OHM if math.isinf(load) else load)
        cmd.expect(1)
        token = cmd.args[0].strip().upper()
        special = cmd.special(0)
        if token in ("INF", "INFINITY") or special == "MAX":
            load = math.inf
        elif special in ("MIN", "DEF"):
            load = self.load_range_ohm[0] if special == "MIN" else SOURCE_OHM
        else:
            load = parse_number(token, "OHM")
            low, high = self.load_range_ohm
            if load >= self.load_infinite_ohm:
                load = math.inf
            elif not low <= load <= high:
                raise ScpiError(-222, "Data out of range", f"load {token}: {low:g} .. {high:g} ohm or INF")
        # The instrument keeps what leaves its connector and rescales the levels it shows.
        old_gain = self._expected_gain(ch)
        self.state[f"load{ch}"] = load
        scale = old_gain / self._expected_gain(ch)
        self.state[f"high{ch}"] *= scale
        self.state[f"low{ch}"] *= scale
        return None

    def _period(self, cmd: Command) -> str | None:
        ch = self._channel(cmd)
        key = f"period{ch}"
        if cmd.query:
            return self.format_number(self.state[key])
        cmd.expect(1)
        return self._set_period(ch, Number(*self.period_range_s, 1e-3, unit="S", clip=True), cmd.args[0])

    def _frequency(self, cmd: Command) -> str | None:
        ch = self._channel(cmd)
        low, high = self.period_range_s
        if cmd.query:
            return self.format_number(1.0 / self.state[f"period{ch}"])
        cmd.expect(1)
        clipped: ClippedValue | None = None
        try:
            frequency = Number(1e-6, 1.0 / low, 1e3, unit="HZ", clip=True).parse(cmd.args[0])
        except ClippedValue as error:
            frequency, clipped = error.value, error
        self._set_period(ch, None, str(1.0 / frequency))
        if clipped is not None:
            raise clipped
        return None

    def _set_period(self, ch: int, param: Number | None, token: str) -> None:
        clipped: ClippedValue | None = None
        try:
            period = param.parse(token) if param is not None else float(token)
        except ClippedValue as error:
            period, clipped = error.value, error
        self.state[f"period{ch}"] = period
        if self.state[f"hold{ch}"] == "WIDT":
            self.state[f"dcyc{ch}"] = min(99.99, max(0.01, 100.0 * self.state[f"width{ch}"] / period))
        else:
            # The duty cycle is held: the width scales with the period.
            self.state[f"width{ch}"] = max(self.width_range_s[0], period * self.state[f"dcyc{ch}"] / 100.0)
            if clipped is not None:
                raise clipped
            return
        edges = 0.8 * (self.state[f"lead{ch}"] + self.state[f"trail{ch}"])
        if self.state[f"width{ch}"] + edges >= period:
            self.state[f"width{ch}"] = max(self.width_range_s[0], period - edges - self.width_range_s[0])
            raise ScpiError(-221, "Settings conflict", "pulse width decreased due to period")
        if clipped is not None:
            raise clipped

    def _width(self, cmd: Command) -> str | None:
        ch = self._channel(cmd)
        if cmd.query:
            if self.state[f"hold{ch}"] == "DCYC":  # the duty cycle is held: the width follows the period
                return self.format_number(self.state[f"period{ch}"] * self.state[f"dcyc{ch}"] / 100.0)
            return self.format_number(self.state[f"width{ch}"])
        cmd.expect(1)
        edges = 0.8 * (self.state[f"lead{ch}"] + self.state[f"trail{ch}"])
        upper = max(self.width_range_s[0], self.state[f"period{ch}"] - edges - self.width_range_s[0])
        clipped: ClippedValue | None = None
        try:
            width = Number(self.width_range_s[0], upper, 100e-6, unit="S", clip=True).parse(cmd.args[0])
        except ClippedValue as error:
            width, clipped = error.value, error
        self.state[f"width{ch}"] = width
        # Both manuals couple width and duty cycle through the period.
        self.state[f"dcyc{ch}"] = min(99.99, max(0.01, 100.0 * width / self.state[f"period{ch}"]))
        limit = max(self.edge_range_s[0], self.edge_per_width * width)
        if max(self.state[f"lead{ch}"], self.state[f"trail{ch}"]) > limit:
            self.state[f"lead{ch}"] = min(self.state[f"lead{ch}"], limit)
            self.state[f"trail{ch}"] = min(self.state[f"trail{ch}"], limit)
            raise ScpiError(-221, "Settings conflict", "edge time decreased due to pulse width")
        if clipped is not None:
            raise clipped
        return None

    @staticmethod
    def _edge(which: str) -> Any:
        def handler(self: PulseGeneratorTwin, cmd: Command) -> str | None:
            ch = self._channel(cmd)
            keys = {"BOTH": ("lead", "trail"), "LEAD": ("lead",), "TRAIL": ("trail",)}[which]
            if cmd.query:
                return self.format_number(self.state[f"{keys[0]}{ch}"])
            cmd.expect(1)
            upper = max(self.edge_range_s[0], min(self.edge_range_s[1], self.edge_per_width * self.state[f"width{ch}"]))
            clipped: ClippedValue | None = None
            try:
                edge = Number(self.edge_range_s[0], upper, 10e-9, unit="S", clip=True).parse(cmd.args[0])
            except ClippedValue as error:
                edge, clipped = error.value, error
            for key in keys:
                self.state[f"{key}{ch}"] = edge
            if clipped is not None:
                raise clipped
            return None
        return handler

    def _ncycles(self, cmd: Command) -> str | None:
        ch = self._channel(cmd)
        if cmd.query:
            return str(self.state[f"ncyc{ch}"])
        cmd.expect(1)
        low, high = self.burst_cycles
        token = cmd.args[0].strip().upper()
        if token in ("INF", "INFINITY"):
            raise ScpiError(-221, "Settings conflict", "infinite bursts are not modelled")
        clipped: ClippedValue | None = None
        try:
            cycles = int(Number(low, high, low, integer=True, clip=True).parse(token))
        except ClippedValue as error:
            cycles, clipped = int(error.value), error
        self.state[f"ncyc{ch}"] = cycles
        if clipped is not None:
            raise clipped
        return None

    def _fire_channels(self, channels: list[int]) -> None:
        """A trigger reached ``channels``: each makes its burst; time passes for the longest."""
        longest = 0.0
        for ch in channels:
            cycles = self.state[f"ncyc{ch}"] if self.state[f"burst{ch}"] else self.state[f"tcount{ch}"]
            longest = max(longest, self.fire(ch, cycles, trailing_gap=False))
        self.charge(TRIGGER_LATENCY_S + longest)
        for ch in channels:  # the burst covered its time: the idle level holds from its end on
            if self._idle_since[ch] is not None:
                self._idle_since[ch] = self.clock.now()

    # -- the command table shared by both (patterns differ by where the suffix sits) -------------

    @classmethod
    def register(cls, p: ScpiParser, patterns: Mapping[str, str]) -> None:
        G = PulseGeneratorTwin
        for which in ("HIGH", "LOW", "AMPL", "OFFS"):
            p.add(patterns[which], set=G._level(which), query=G._level(which))
        p.add(patterns["LOAD"], set=G._load, query=G._load)
        p.add(patterns["PER"], set=G._period, query=G._period)
        p.add(patterns["FREQ"], set=G._frequency, query=G._frequency)
        p.add(patterns["WIDT"], set=G._width, query=G._width)
        for which in ("BOTH", "LEAD", "TRAIL"):
            p.add(patterns[which], set=G._edge(which), query=G._edge(which))
        p.add(patterns["NCYC"], set=G._ncycles, query=G._ncycles)
        p.setting(patterns["FUNC"], "func{0}", Choice(cls.functions))
        p.setting(patterns["HOLD"], "hold{0}", Choice("WIDTh|DCYCle"))
        p.setting(patterns["DCYC"], "dcyc{0}", Number(0.01, 99.99, 10.0, clip=True), after=G._after_duty_cycle)
        p.setting(patterns["SQDCYC"], "sqdcyc{0}", Number(0.01, 99.99, 50.0, clip=True))
        p.setting(patterns["OUTP"], "out{0}", Boolean())
        p.setting(patterns["POL"], "pol{0}", Choice("NORMal|INVerted"))
        p.setting(patterns["BURS"], "burst{0}", Boolean())
        p.setting(patterns["BPER"], "bper{0}", Number(*cls.burst_period_range_s, 10e-3, unit="S", clip=True))

    def _after_duty_cycle(self, cmd: Command, value: float) -> None:
        ch = self._channel(cmd)
        if self.state[f"hold{ch}"] == "WIDT":
            self.state[f"width{ch}"] = self.state[f"period{ch}"] * value / 100.0


class Keysight33500BTwin(PulseGeneratorTwin):
    """The 33500B (33522B: two channels) in its SCPI; triggered bursts on ``*TRG`` with
    ``TRIG:SOUR BUS``, free-running with ``TRIG:SOUR IMM`` or with bursts off."""

    # What a 33522B with this firmware answers to *IDN? (it keeps the Agilent name; identity
    # strings of real units: "Agilent Technologies,33522B,MY578...,4.00-1.19-2.00-58-00").
    manufacturer = "Agilent Technologies"
    model = "33522B"
    firmware = "4.00-1.19-2.00-58-00"
    default_serial = "MY57800001"
    error_queue_size = 20
    max_level_50_v = 5.0
    min_amplitude_50_v = 1e-3
    width_range_s = (16e-9, 1e6)
    period_range_s = (33e-9, 1e6)
    edge_range_s = (8.4e-9, 1e-6)
    burst_cycles = (1, 100_000_000)
    load_range_ohm = (1.0, 10e3)
    load_infinite_ohm = 1e6
    burst_period_range_s = (1e-6, 8e3)
    functions = "SINusoid|SQUare|TRIangle|RAMP|PULSe|PRBS|NOISe|ARB|DC"

    def free_running(self, ch: int) -> bool:
        state = self.state
        if not state[f"out{ch}"]:
            return False
        return not state[f"burst{ch}"] or state[f"trig{ch}"] == "IMM"

    def trigger(self) -> None:
        channels = [ch for ch in (1, 2) if self.state[f"trig{ch}"] == "BUS" and self.state[f"burst{ch}"]]
        if not channels:
            self.push_error(-211, "Trigger ignored")
            return
        self._fire_channels(channels)

    def _trigger_now(self, cmd: Command) -> None:
        ch = self._channel(cmd)
        if self.state[f"burst{ch}"]:
            self._fire_channels([ch])

    @classmethod
    def commands(cls, p: ScpiParser) -> None:
        super().commands(p)
        s = "[SOURce[1|2]:]"
        cls.register(p, {
            "HIGH": f"{s}VOLTage[:LEVel][:IMMediate]:HIGH", "LOW": f"{s}VOLTage[:LEVel][:IMMediate]:LOW",
            "AMPL": f"{s}VOLTage[:LEVel][:IMMediate][:AMPLitude]", "OFFS": f"{s}VOLTage[:LEVel][:IMMediate]:OFFSet",
            "LOAD": "OUTPut[1|2]:LOAD", "PER": f"{s}FUNCtion:PULSe:PERiod", "FREQ": f"{s}FREQuency",
            "WIDT": f"{s}FUNCtion:PULSe:WIDTh", "BOTH": f"{s}FUNCtion:PULSe:TRANsition[:BOTH]",
            "LEAD": f"{s}FUNCtion:PULSe:TRANsition:LEADing", "TRAIL": f"{s}FUNCtion:PULSe:TRANsition:TRAiling",
            "NCYC": f"{s}BURSt:NCYCles", "FUNC": f"{s}FUNCtion", "HOLD": f"{s}FUNCtion:PULSe:HOLD",
            "DCYC": f"{s}FUNCtion:PULSe:DCYCle", "SQDCYC": f"{s}FUNCtion:SQUare:DCYCle",
            "OUTP": "OUTPut[1|2][:STATe]", "POL": "OUTPut[1|2]:POLarity", "BURS": f"{s}BURSt:STATe",
            "BPER": f"{s}BURSt:INTernal:PERiod",
        })
        p.setting(f"{s}BURSt:MODE", "bmode{0}", Choice("TRIGgered|GATed"))
        p.setting("TRIGger[1|2]:SOURce", "trig{0}", Choice("IMMediate|EXTernal|TIMer|BUS"))
        p.setting("TRIGger[1|2]:DELay", "tdelay{0}", Number(0.0, 1e3, 0.0, unit="S", clip=True))
        p.add("TRIGger[1|2][:IMMediate]", set=Keysight33500BTwin._trigger_now)
        p.setting(f"{s}VOLTage:UNIT", "unit{0}", Choice("VPP|VRMS|DBM"))
        p.setting(f"{s}PHASe", "phase{0}", Number(-360.0, 360.0, 0.0, clip=True))
        p.add("SYSTem:BEEPer[:IMMediate]", set=lambda i, c: None)
        p.setting("DISPlay:TEXT", "display", Text())
        p.add("DISPlay:TEXT:CLEar", set=lambda i, c: i.state.update(display=""))
        # Accepted, kept and answered; not modelled on the chip (docs/simulator.md).
        K = Keysight33500BTwin
        p.stored(f"{s}FUNCtion:RAMP:SYMMetry", "symmetry{0}", Number(0.0, 100.0, 100.0, clip=True), 100.0)
        p.stored(f"{s}FREQuency:MODE", "freq_mode{0}", Choice("CW|FIXed|LIST|SWEep"), "CW")
        p.stored(f"{s}BURSt:PHASe", "burst_phase{0}", Number(-360.0, 360.0, 0.0, clip=True), 0.0)
        p.stored(f"{s}BURSt:GATE:POLarity", "gate_polarity{0}", Choice("NORMal|INVerted"), "NORM")
        p.add(f"{s}PHASe:SYNChronize", set=lambda i, c: None)
        p.add(f"{s}PHASe:REFerence", set=lambda i, c: None)
        p.stored("OUTPut:TRIGger[:STATe]", "trig_out", Boolean(), False)
        p.stored("OUTPut:TRIGger:SLOPe", "trig_out_slope", Choice("POSitive|NEGative"), "POS")
        p.stored("OUTPut:TRIGger:SOURce", "trig_out_source", Choice("CH1|CH2"), "CH1")
        p.stored("OUTPut[1|2]:SYNC[:STATe]", "sync{0}", Boolean(), True)
        p.stored("OUTPut[1|2]:SYNC:POLarity", "sync_polarity{0}", Choice("NORMal|INVerted"), "NORM")
        p.stored("OUTPut[1|2]:SYNC:MODE", "sync_mode{0}", Choice("NORMal|CARRier|MARKer"), "NORM")
        p.stored("OUTPut:SYNC:SOURce", "sync_source", Choice("CH1|CH2"), "CH1")
        p.stored("TRIGger[1|2]:SLOPe", "trig_slope{0}", Choice("POSitive|NEGative"), "POS")
        p.stored("TRIGger[1|2]:COUNt", "trig_count{0}", Number(1, 1_000_000, 1, integer=True, clip=True), 1)
        p.stored("TRIGger[1|2]:TIMer", "trig_timer{0}", Number(1e-6, 8000.0, 1e-3, unit="S", clip=True), 1e-3)
        p.stored("TRIGger[1|2]:LEVel", "trig_level{0}", Number(0.9, 3.8, 1.0, unit="V", clip=True), 1.0)
        p.stored(f"{s}FUNCtion:ARBitrary:SRATe", "arb_srate{0}", Number(1e-6, 250e6, 40e3, clip=True), 40e3)
        p.stored(f"{s}FUNCtion:ARBitrary:FILTer", "arb_filter{0}", Choice("NORMal|STEP|OFF"), "STEP")
        p.stored(f"{s}FUNCtion:ARBitrary:ADVance", "arb_advance{0}", Choice("TRIGger|SRATe"), "SRAT")
        p.stored(f"{s}FUNCtion:ARBitrary:PTPeak", "arb_ptpeak{0}", Number(1e-3, 10.0, 0.1, unit="V", clip=True), 0.1)
        p.add(f"{s}FUNCtion:ARBitrary", set=K._arb_select, query=K._arb_select)
        p.add(f"{s}DATA:ARBitrary", set=K._arb_data(False))
        p.add(f"{s}DATA:ARBitrary:DAC", set=K._arb_data(True))
        p.add(f"{s}DATA:VOLatile:CLEar", set=lambda i, c: i.arbs.clear())
        p.add(f"{s}DATA:VOLatile:CATalog", query=lambda i, c: ",".join(f'"{n}"' for n in i.arbs) or '""')
        p.add(f"{s}DATA:VOLatile:COUNt", query=lambda i, c: str(len(i.arbs)))
        p.add(f"{s}DATA:ATTRibute:POINts", query=K._arb_points)
        p.add("MMEMory:LOAD:DATA[1|2]", set=K._arb_load)

    #: points of one arbitrary waveform (the 33500B's standard memory)
    ARB_MAX_POINTS = 1_000_000
    #: waveforms volatile memory holds
    ARB_MAX_WAVEFORMS = 32
    BUILTIN_ARB = "INT:\\BUILTIN\\EXP_RISE.ARB"

    def _arb_select(self, cmd: Command) -> str | None:
        ch = self._channel(cmd)
        key = f"arb{ch}"
        if cmd.query:
            return f'"{self.state.get(key, self.BUILTIN_ARB)}"'
        cmd.expect(1)
        name = Text().parse(cmd.args[0])
        if name not in self.arbs and not name.upper().startswith("INT:"):
            raise ScpiError(-224, "Illegal parameter value", f"no arbitrary waveform {name!r} in volatile memory")
        self.state[key] = name
        return None

    @staticmethod
    def _arb_data(dac: bool) -> Any:
        def handler(self: Keysight33500BTwin, cmd: Command) -> None:
            if len(cmd.args) < 2:
                raise ScpiError(-109, "Missing parameter", cmd.header)
            name = Text().parse(cmd.args[0])
            if len(cmd.args) - 1 > self.ARB_MAX_POINTS:
                raise ScpiError(-223, "Too much data", f"at most {self.ARB_MAX_POINTS} points")
            values = cmd.numbers(1)
            limit = 32767 if dac else 1.0
            if np.any(np.abs(values) > limit):
                raise ScpiError(-222, "Data out of range", f"values must be within +-{limit:g}")
            if name not in self.arbs and len(self.arbs) >= self.ARB_MAX_WAVEFORMS:
                raise ScpiError(-781, "Not enough memory to store new arb waveform", name)
            self.arbs[name] = values / 32767.0 if dac else values
        return handler

    def _arb_points(self, cmd: Command) -> str:
        name = Text().parse(cmd.args[0]) if cmd.args else self.state.get(f"arb{self._channel(cmd)}", "")
        values = self.arbs.get(name)
        if values is None:
            raise ScpiError(-224, "Illegal parameter value", f"no arbitrary waveform {name!r}")
        return str(len(values))

    def _arb_load(self, cmd: Command) -> None:
        cmd.expect(1)
        name = Text().parse(cmd.args[0])
        if not name.upper().startswith(("INT:", "USB:")):
            raise ScpiError(-256, "File name not found", name)
        self.arbs.setdefault(name, np.zeros(8))  # no files are simulated: a flat waveform

    def reset(self) -> None:
        super().reset()
        self.state.update({f"{key}{ch}": value for ch in (1, 2) for key, value in
                           (("tdelay", 0.0), ("unit", "VPP"), ("phase", 0.0))})
        self.state["display"] = ""
        self.arbs: dict[str, np.ndarray] = {}


class Keysight81160ATwin(PulseGeneratorTwin):
    """The 81160A (81150A alike): into 50 ohm by default, burst of at least 2 cycles, triggered by
    ``*TRG``/``:TRIG`` when ``:ARM:SOUR MAN``; free-running with ``:ARM:SOUR IMM``; optional level
    limits (``:VOLT:LIM:HIGH/LOW/STAT``) refuse levels outside them."""

    manufacturer = "Agilent Technologies"
    model = "81160A"
    firmware = "2.0.0.0-1.7"
    default_serial = "DE51300001"
    max_level_50_v = 5.0
    min_amplitude_50_v = 0.05
    width_range_s = (1.5e-9, 1e6)
    period_range_s = (2e-9, 1e6)
    edge_range_s = (1e-9, 1e3)
    burst_cycles = (2, 2_147_483_647)
    # 81160A: expected load 0.3 ohm .. 1 Mohm (1 Mohm is a value, not INF)
    load_range_ohm = (0.3, 1e6)
    # the internal trigger (:ARM:SOUR INT2) period of the 81160A's pulse range
    burst_period_range_s = (3.03e-9, 1e6)
    functions = "SINusoid|SQUare|RAMP|PULSe|NOISe|DC|USER"

    def free_running(self, ch: int) -> bool:
        return bool(self.state[f"out{ch}"]) and self.state[f"trig{ch}"] == "IMM"

    def trigger(self) -> None:
        channels = [ch for ch in (1, 2) if self.state[f"trig{ch}"] == "MAN"]
        if not channels:
            self.push_error(-211, "Trigger ignored")
            return
        self._fire_channels(channels)

    @staticmethod
    def _limit(which: str) -> Any:
        def handler(self: Keysight81160ATwin, cmd: Command) -> str | None:
            ch = self._channel(cmd)
            key = f"lim{which}{ch}"
            if cmd.query:
                return self.format_number(self.state[key])
            cmd.expect(1)
            value = Number(-10.0, 10.0, 0.0, unit="V").parse(cmd.args[0])
            other = self.state[f"lim{'low' if which == 'high' else 'high'}{ch}"]
            if (which == "high" and value <= other) or (which == "low" and value >= other):
                raise ScpiError(-221, "Settings conflict", "voltage limit high must exceed limit low")
            self.state[key] = value
            return None
        return handler

    @classmethod
    def commands(cls, p: ScpiParser) -> None:
        super().commands(p)
        s = "[SOURce:]"
        cls.register(p, {
            "HIGH": f"{s}VOLTage[1|2][:LEVel][:IMMediate]:HIGH", "LOW": f"{s}VOLTage[1|2][:LEVel][:IMMediate]:LOW",
            "AMPL": f"{s}VOLTage[1|2][:LEVel][:IMMediate][:AMPLitude]",
            "OFFS": f"{s}VOLTage[1|2][:LEVel][:IMMediate]:OFFSet",
            "LOAD": "OUTPut[1|2]:LOAD", "PER": f"{s}PULSe:PERiod[1|2]", "FREQ": f"{s}FREQuency[1|2][:CW]",
            "WIDT": f"{s}PULSe:WIDTh[1|2]", "BOTH": f"{s}FUNCtion[1|2]:PULSe:TRANsition[:BOTH]",
            "LEAD": f"{s}PULSe:TRANsition[1|2][:LEADing]", "TRAIL": f"{s}PULSe:TRANsition[1|2]:TRAiling",
            "NCYC": f"{s}BURSt[1|2]:NCYCles", "FUNC": f"{s}FUNCtion[1|2][:SHAPe]",
            "HOLD": f"{s}PULSe:HOLD[1|2]", "DCYC": f"{s}PULSe:DCYCle[1|2]",
            "SQDCYC": f"{s}FUNCtion[1|2]:SQUare:DCYCle", "OUTP": "OUTPut[1|2][:STATe]",
            "POL": "OUTPut[1|2]:POLarity", "BURS": f"{s}BURSt[1|2]:STATe", "BPER": f"{s}BURSt[1|2]:INTernal:PERiod",
        })
        K = Keysight81160ATwin
        p.add("OUTPut[1|2]:IMPedance:EXTernal", set=K._load, query=K._load)
        p.setting(":ARM:SOURce[1|2]", "trig{0}", Choice("IMMediate|INTernal2|EXTernal|MANual"))
        p.setting(":TRIGger[1|2]:COUNt", "tcount{0}", Number(1, 2_147_483_647, 1, integer=True))
        p.add(":TRIGger[:SEQuence][:IMMediate]", set=lambda i, c: i.trigger())
        p.setting(f"{s}VOLTage[1|2]:LIMit[:STATe]", "limstate{0}", Boolean())
        p.add(f"{s}VOLTage[1|2]:LIMit:HIGH", set=K._limit("high"), query=K._limit("high"))
        p.add(f"{s}VOLTage[1|2]:LIMit:LOW", set=K._limit("low"), query=K._limit("low"))
        # Accepted, kept and answered; not modelled on the chip (docs/simulator.md).
        p.stored(f"{s}BURSt[1|2]:MODE", "bmode{0}", Choice("TRIGgered|GATed"), "TRIG")
        p.stored(f"{s}VOLTage[1|2]:UNIT", "unit{0}", Choice("VPP|VRMS|DBM"), "VPP")
        p.stored(f"{s}PHASe[1|2][:ADJust]", "phase{0}", Number(-360.0, 360.0, 0.0, clip=True), 0.0)
        p.stored(f"{s}FUNCtion[1|2]:RAMP:SYMMetry", "symmetry{0}", Number(0.0, 100.0, 100.0, clip=True), 100.0)
        p.stored(f"{s}FUNCtion[1|2]:USER", "user{0}", Text(), "VOLATILE")
        p.stored(":TRACe:CHANnel[1|2][:STATe]", "coupling{0}", Boolean(), False)
        p.stored(":TRIGger[1|2]:SOURce", "trig_source{0}", Choice("IMMediate|INTernal1|INTernal2|EXTernal|MANual"), "IMM")
        p.stored(":ARM:SENSe[1|2]", "arm_sense{0}", Choice("EDGE|LEVel"), "EDGE")
        p.stored(":ARM:SLOPe[1|2]", "arm_slope{0}", Choice("POSitive|NEGative|EITHer"), "POS")
        p.stored(":ARM:FREQuency[1|2]", "arm_frequency{0}", Number(1e-6, 330e6, 1e6, unit="HZ", clip=True), 1e6)
        p.add("DATA[1|2]:NVOLatile:FREE", query=lambda i, c: "4")
        p.add("DATA[1|2]:NVOLatile:CATalog", query=lambda i, c: '""')
        for shape in ("SINusoid", "SQUare", "RAMP", "PULSe", "NOISe", "DC", "USER"):
            p.add(f"{s}APPLy[1|2]:{shape}", set=K._apply(shape))
        p.add(f"{s}APPLy[1|2]", query=K._apply_query)

    @staticmethod
    def _apply(shape: str) -> Any:
        """``APPLy:<shape> [frequency[, amplitude[, offset]]]``: function and the given values at
        once, through the same checks as the separate commands (the output is left as it is)."""
        short = "".join(c for c in shape if not c.islower())

        def handler(self: Keysight81160ATwin, cmd: Command) -> None:
            cmd.expect(0, 3)
            ch = self._channel(cmd)
            suffixes = (ch,)
            self.state[f"func{ch}"] = short
            steps = ((PulseGeneratorTwin._frequency, "FREQ"), (PulseGeneratorTwin._level("AMPL"), "VOLT"),
                     (PulseGeneratorTwin._level("OFFS"), "VOLT:OFFS"))
            first_error: ScpiError | None = None
            for (handler_, header), token in zip(steps, cmd.args):
                if token.strip().upper() in ("DEF", ""):
                    continue
                try:  # a coupling message (width shortened) does not stop the other values
                    handler_(self, Command(header, False, (token,), suffixes))
                except ScpiError as error:
                    first_error = first_error or error
            if first_error is not None:
                raise first_error
        return handler

    def _apply_query(self, cmd: Command) -> str:
        ch = self._channel(cmd)
        high, low = self.state[f"high{ch}"], self.state[f"low{ch}"]
        return (f'"{self.state[f"func{ch}"]} {self.format_number(1.0 / self.state[f"period{ch}"])},'
                f'{self.format_number(high - low)},{self.format_number((high + low) / 2)}"')
