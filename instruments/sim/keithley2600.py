"""Simulated Keithley Series 2600B System SourceMeter (2601B/2602B/2611B/2612B/2635B/2636B).

The twin runs the TSP (Lua) it receives in a real interpreter (:mod:`memlab.instruments.sim.tsp`) with
the 2600B object model exposed: ``smua``/``smub`` (``source``, ``measure``, ``nvbuffer1/2``,
``makebuffer``, ``trigger``), the global ``trigger.timer[n]``, and the factory sweep and pulse
functions ``SweepVListMeasureI``, ``SweepVLinMeasureI``, ``SweepVLogMeasureI`` and
``PulseVMeasureI``. Each channel drives the world terminal the bench wires it to (by default
``<name>`` and ``<name>:b``); the current it measures is what the chip conducts, limited by
compliance and range and quantised (:func:`memlab.instruments.sim.smu.readings`).

Time charged to the bench clock (2600B specifications, 60 Hz line): an integration takes
``nplc / linefreq`` plus ~37 us of overhead (4,900 readings/s measure-to-memory at NPLC 0.01),
a sweep point adds ~34 us of source update (4,200 points/s), ``AUTOZERO_AUTO`` adds one
reference/zero integration per reading, plus the settling times and pulse widths asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from memlab.instruments.sim.smu import DcBias, pick_range, readings, seeded_rng
from memlab.instruments.sim.tsp import (
    PARAMETER_ERROR,
    PARAMETER_TOO_BIG,
    Attr,
    ReadingBuffer,
    TspError,
    TspInstrument,
    TspObject,
    TspRuntimeError,
    int_arg,
    lua_numbers,
    number_arg,
)
from memlab.instruments.sim.world import SimWorld

SAFE_OPERATING_AREA = 5007
#: per integration beyond nplc / linefreq (1 / 4,900 s - 0.01 PLC at 60 Hz)
MEASURE_OVERHEAD_S = 37e-6
#: per sweep point for the source update (1 / 4,200 s - 1 / 4,900 s)
SOURCE_OVERHEAD_S = 34e-6
#: DELAY_AUTO: the instrument's automatic settling before a measurement (fast ranges)
AUTO_DELAY_S = 0.0
BUFFER_CAPACITY = 140_000
DELAY_AUTO = -1.0
OFF = 0
ON = 1


@dataclass(frozen=True)
class ModelSpec:
    """What differs between the 2600B models that matter here."""

    channels: tuple[str, ...]
    voltage_ranges_v: tuple[float, ...]
    current_ranges_a: tuple[float, ...]
    #: (|V| above which, largest limiti allowed there): the instrument's safe operating area
    soa: tuple[float, float]
    min_source_current_range_a: float


_LOW_V = (0.1, 1.0, 6.0, 40.0)
_HIGH_V = (0.2, 2.0, 20.0, 200.0)
_I_3A = (100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0, 1.5, 3.0)
_I_15A = (100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0, 1.5)
_I_LOW = (100e-12, 1e-9, 10e-9) + _I_15A

MODELS: dict[str, ModelSpec] = {
    "2601B": ModelSpec(("a",), _LOW_V, _I_3A, (6.0, 1.0), 100e-9),
    "2602B": ModelSpec(("a", "b"), _LOW_V, _I_3A, (6.0, 1.0), 100e-9),
    "2611B": ModelSpec(("a",), _HIGH_V, _I_15A, (20.0, 0.1), 100e-9),
    "2612B": ModelSpec(("a", "b"), _HIGH_V, _I_15A, (20.0, 0.1), 100e-9),
    "2635B": ModelSpec(("a",), _HIGH_V, _I_LOW, (20.0, 0.1), 1e-9),
    "2636B": ModelSpec(("a", "b"), _HIGH_V, _I_LOW, (20.0, 0.1), 1e-9),
}


def _range_setting(obj: TspObject, value: float, ranges: tuple[float, ...], where: str) -> float:
    magnitude = abs(value)
    for candidate in ranges:
        if magnitude <= candidate * 1.0000001:
            return candidate
    raise TspError(PARAMETER_TOO_BIG, f"Parameter too big {obj._path}.{where}={value:g}, "
                                      f"largest range {ranges[-1]:g}")


def _spec(obj: TspObject) -> ModelSpec:
    return obj._instrument.spec  # type: ignore[attr-defined]


class SmuSource(TspObject):
    """``smuX.source``: function, levels, limits, ranges, output."""

    func = Attr(1, choices=(0, 1), kind=int)
    levelv = Attr(0.0, minimum=lambda o: -_spec(o).voltage_ranges_v[-1] * 1.01,
                  maximum=lambda o: _spec(o).voltage_ranges_v[-1] * 1.01,
                  check=lambda o, v: o._check_level(v, "v"))
    leveli = Attr(0.0, minimum=lambda o: -_spec(o).current_ranges_a[-1] * 1.01,
                  maximum=lambda o: _spec(o).current_ranges_a[-1] * 1.01,
                  check=lambda o, v: o._check_level(v, "i"))
    limitv = Attr(20.0, minimum=10e-3, maximum=lambda o: _spec(o).voltage_ranges_v[-1])
    limiti = Attr(100e-3, minimum=lambda o: _spec(o).min_source_current_range_a / 10,
                  maximum=lambda o: _spec(o).current_ranges_a[-1],
                  check=lambda o, v: o._check_soa(v))
    rangev = Attr(lambda o: o._auto_range("v"),
                  check=lambda o, v: o._fix_range(v, "v"))
    rangei = Attr(lambda o: o._auto_range("i"),
                  check=lambda o, v: o._fix_range(v, "i"))
    autorangev = Attr(1, choices=(0, 1), kind=int)
    autorangei = Attr(1, choices=(0, 1), kind=int)
    lowrangev = Attr(lambda o: _spec(o).voltage_ranges_v[0],
                     check=lambda o, v: _range_setting(o, v, _spec(o).voltage_ranges_v, "lowrangev"))
    lowrangei = Attr(lambda o: _spec(o).current_ranges_a[0],
                     check=lambda o, v: _range_setting(o, v, _spec(o).current_ranges_a, "lowrangei"))
    output = Attr(0, choices=(0, 1, 2), kind=int)
    offmode = Attr(0, choices=(0, 1, 2), kind=int)
    offlimiti = Attr(1e-3, minimum=10e-9, maximum=1.0)
    highc = Attr(0, choices=(0, 1), kind=int)
    delay = Attr(0.0, minimum=-1.0, maximum=10e3)
    settling = Attr(0, minimum=0, maximum=127, kind=int)
    sink = Attr(0, choices=(0, 1), kind=int)

    def __init__(self, smu: Smu) -> None:
        super().__init__(smu._instrument, f"{smu._path}.source")
        self._smu = smu

    def __setattr__(self, name: str, value: Any) -> None:
        if name[0] != "_" and name in ("func", "levelv", "leveli", "limitv", "limiti", "output"):
            super().__setattr__(name, value)
            self._smu._update_bias()
            return
        super().__setattr__(name, value)

    @property
    def compliance(self) -> bool:
        return self._smu._in_compliance

    def _check_level(self, value: float, quantity: str) -> float:
        if not getattr(self, f"autorange{quantity}"):
            fixed = getattr(self, f"range{quantity}")
            if abs(value) > fixed * 1.01:
                raise TspError(PARAMETER_TOO_BIG,
                               f"Parameter too big {self._path}.level{quantity}={value:g}: above "
                               f"the fixed source range {fixed:g}")
        if quantity == "v":
            self._soa(value, self.limiti)
        return value

    def _check_soa(self, limit_a: float) -> float:
        self._soa(self.levelv, limit_a)
        return limit_a

    def _soa(self, voltage_v: float, limit_a: float) -> None:
        above_v, max_a = _spec(self).soa
        if abs(voltage_v) > above_v and limit_a > max_a:
            raise TspError(SAFE_OPERATING_AREA,
                           "Operation would exceed safe operating area of the instrument "
                           f"({voltage_v:g} V with limiti {limit_a:g} A)")

    def _auto_range(self, quantity: str) -> float:
        ranges = _spec(self).voltage_ranges_v if quantity == "v" else _spec(self).current_ranges_a
        return pick_range(abs(getattr(self, f"level{quantity}")), ranges)

    def _fix_range(self, value: float, quantity: str) -> float:
        ranges = _spec(self).voltage_ranges_v if quantity == "v" else _spec(self).current_ranges_a
        selected = _range_setting(self, value, ranges, f"range{quantity}")
        self._values[f"autorange{quantity}"] = 0  # setting a range turns autorange off
        return selected


class SmuMeasure(TspObject):
    """``smuX.measure``: integration, ranges, delay, count and the measure functions."""

    nplc = Attr(1.0, minimum=0.001, maximum=25.0)
    autozero = Attr(2, choices=(0, 1, 2), kind=int)
    autorangev = Attr(1, choices=(0, 1, 2), kind=int)
    autorangei = Attr(1, choices=(0, 1, 2), kind=int)
    rangev = Attr(lambda o: _spec(o).voltage_ranges_v[-1],
                  check=lambda o, v: o._fix_range(v, "v"))
    rangei = Attr(lambda o: _spec(o).current_ranges_a[-1],
                  check=lambda o, v: o._fix_range(v, "i"))
    lowrangev = Attr(lambda o: _spec(o).voltage_ranges_v[0],
                     check=lambda o, v: _range_setting(o, v, _spec(o).voltage_ranges_v, "lowrangev"))
    lowrangei = Attr(lambda o: _spec(o).current_ranges_a[0],
                     check=lambda o, v: _range_setting(o, v, _spec(o).current_ranges_a, "lowrangei"))
    delay = Attr(DELAY_AUTO, minimum=-1.0, maximum=10e3)
    delayfactor = Attr(1.0, minimum=0.0, maximum=1000.0)
    count = Attr(1, minimum=1, maximum=BUFFER_CAPACITY, kind=int)
    interval = Attr(0.0, minimum=0.0, maximum=1.0)

    def __init__(self, smu: Smu) -> None:
        super().__init__(smu._instrument, f"{smu._path}.measure")
        self._smu = smu

    def _fix_range(self, value: float, quantity: str) -> float:
        ranges = _spec(self).voltage_ranges_v if quantity == "v" else _spec(self).current_ranges_a
        selected = _range_setting(self, value, ranges, f"range{quantity}")
        self._values[f"autorange{quantity}"] = 0
        return selected

    def i(self, buffer: Any = None) -> float:
        return self._smu._measure("i", buffer)

    def v(self, buffer: Any = None) -> float:
        return self._smu._measure("v", buffer)

    def r(self, buffer: Any = None) -> float:
        return self._smu._measure("r", buffer)

    def p(self, buffer: Any = None) -> float:
        return self._smu._measure("p", buffer)

    def iv(self, ibuffer: Any = None, vbuffer: Any = None) -> tuple[float, float]:
        return self._smu._measure_iv(ibuffer, vbuffer)


class TriggerStage(TspObject):
    """One stage of a channel's trigger model (``arm``, ``source``, ``measure``, ``endpulse``,
    ``endsweep``): its action and the event that starts it."""

    action = Attr(0, choices=(0, 1, 2), kind=int)
    stimulus = Attr(0, minimum=0, maximum=1000, kind=int)

    def __init__(self, smu: Smu, name: str, action: int) -> None:
        super().__init__(smu._instrument, f"{smu._path}.trigger.{name}")
        self._smu = smu
        self._default_action = action

    def _reset_values(self) -> None:
        super()._reset_values()
        self._values["action"] = self._default_action


class TriggerArm(TriggerStage):
    """``smuX.trigger.arm``: how many times the whole sweep repeats."""

    count = Attr(1, minimum=0, maximum=BUFFER_CAPACITY, kind=int)

    def __init__(self, smu: Smu) -> None:
        super().__init__(smu, "arm", 0)


class TriggerSource(TriggerStage):
    """``smuX.trigger.source``: the sweep list and the limits used while sweeping."""

    limitv = Attr(0.0, minimum=0.0, maximum=lambda o: _spec(o).voltage_ranges_v[-1])
    limiti = Attr(0.0, minimum=0.0, maximum=lambda o: _spec(o).current_ranges_a[-1])

    def __init__(self, smu: Smu) -> None:
        super().__init__(smu, "source", 0)
        self._values_v: np.ndarray | None = None

    def listv(self, table: Any) -> None:
        values = lua_numbers(f"{self._path}.listv", table)
        if len(values) == 0:
            raise TspError(PARAMETER_ERROR, f"Parameter error {self._path}.listv: empty list")
        self._smu._check_sweep_levels(values, f"{self._path}.listv")
        self._values_v = values

    def linearv(self, start: Any, stop: Any, points: Any) -> None:
        n = int_arg(f"{self._path}.linearv points", points, minimum=1, maximum=BUFFER_CAPACITY)
        a = number_arg(f"{self._path}.linearv startValue", start)
        b = number_arg(f"{self._path}.linearv endValue", stop)
        values = np.linspace(a, b, n)
        self._smu._check_sweep_levels(values, f"{self._path}.linearv")
        self._values_v = values

    def logv(self, start: Any, stop: Any, points: Any, asymptote: Any = 0) -> None:
        n = int_arg(f"{self._path}.logv points", points, minimum=2, maximum=BUFFER_CAPACITY)
        a = number_arg(f"{self._path}.logv startValue", start)
        b = number_arg(f"{self._path}.logv endValue", stop)
        offset = number_arg(f"{self._path}.logv asymptote", asymptote)
        if (a - offset) * (b - offset) <= 0:
            raise TspError(PARAMETER_ERROR, f"Parameter error {self._path}.logv: start and end must "
                                            "be on the same side of the asymptote")
        sign = 1.0 if a - offset > 0 else -1.0
        values = offset + sign * np.geomspace(abs(a - offset), abs(b - offset), n)
        self._smu._check_sweep_levels(values, f"{self._path}.logv")
        self._values_v = values


class TriggerMeasure(TriggerStage):
    """``smuX.trigger.measure``: which measurement each sweep point stores, and where."""

    def __init__(self, smu: Smu) -> None:
        super().__init__(smu, "measure", 0)
        self._what: tuple[str, Any, Any] | None = None

    def i(self, buffer: Any) -> None:
        self._what = ("i", self._smu._buffer_arg(buffer), None)

    def v(self, buffer: Any) -> None:
        self._what = ("v", self._smu._buffer_arg(buffer), None)

    def r(self, buffer: Any) -> None:
        self._what = ("r", self._smu._buffer_arg(buffer), None)

    def p(self, buffer: Any) -> None:
        self._what = ("p", self._smu._buffer_arg(buffer), None)

    def iv(self, ibuffer: Any, vbuffer: Any) -> None:
        self._what = ("iv", self._smu._buffer_arg(ibuffer), self._smu._buffer_arg(vbuffer))


class SmuTrigger(TspObject):
    """``smuX.trigger``: a subset of the 2600B trigger model (arm, source list, measure, end
    pulse, end sweep, count), run at once by ``initiate()``; pulse width and period come from
    ``trigger.timer[n]`` when the end-pulse and source stages wait for a timer event."""

    count = Attr(1, minimum=0, maximum=BUFFER_CAPACITY, kind=int)

    def __init__(self, smu: Smu) -> None:
        super().__init__(smu._instrument, f"{smu._path}.trigger")
        self._smu = smu
        base = smu._event_base
        for name, obj in (
            ("arm", TriggerArm(smu)),
            ("source", TriggerSource(smu)),
            ("measure", TriggerMeasure(smu)),
            ("endpulse", TriggerStage(smu, "endpulse", 1)),
            ("endsweep", TriggerStage(smu, "endsweep", 0)),
        ):
            object.__setattr__(self, name, obj)
        for offset, name in enumerate(("ARMED", "SWEEPING", "SOURCE_COMPLETE", "MEASURE_COMPLETE",
                                       "PULSE_COMPLETE", "SWEEP_COMPLETE", "IDLE"), start=1):
            object.__setattr__(self, f"{name}_EVENT_ID", base + offset)

    def reset(self) -> None:
        self._reset_values()
        for stage in (self.arm, self.source, self.measure, self.endpulse, self.endsweep):
            stage._reset_values()
        self.source._values_v = None
        self.measure._what = None

    def initiate(self) -> None:
        self._smu._initiate()

    def abort(self) -> None:
        """Sweeps finish inside ``initiate()`` in the simulation: nothing is left to abort."""


class Smu(TspObject):
    """One SMU channel (``smua``/``smub``)."""

    OUTPUT_DCAMPS = 0
    OUTPUT_DCVOLTS = 1
    OUTPUT_OFF = 0
    OUTPUT_ON = 1
    OUTPUT_HIGH_Z = 2
    OUTPUT_NORMAL = 0
    OUTPUT_ZERO = 1
    AUTOZERO_OFF = 0
    AUTOZERO_ONCE = 1
    AUTOZERO_AUTO = 2
    AUTORANGE_OFF = 0
    AUTORANGE_ON = 1
    AUTORANGE_FOLLOW_LIMIT = 2
    ENABLE = 1
    DISABLE = 0
    SOURCE_IDLE = 0
    SOURCE_HOLD = 1
    SENSE_LOCAL = 0
    SENSE_REMOTE = 1
    SENSE_CALA = 3
    DELAY_OFF = 0
    DELAY_AUTO = DELAY_AUTO
    LIMIT_AUTO = 0

    sense = Attr(0, choices=(0, 1, 3), kind=int)

    def __init__(self, instrument: Keithley2600BTwin, letter: str, terminal: str) -> None:
        super().__init__(instrument, f"smu{letter}")
        self._event_base = 10 * (ord(letter) - ord("a") + 1)
        self._terminal = terminal
        self._bias = DcBias(instrument.world, terminal)
        self._rng = seeded_rng(f"{instrument.name}:{terminal}")
        self._in_compliance = False
        for name, obj in (("source", SmuSource(self)), ("measure", SmuMeasure(self)),
                          ("nvbuffer1", ReadingBuffer(instrument, f"{self._path}.nvbuffer1", BUFFER_CAPACITY)),
                          ("nvbuffer2", ReadingBuffer(instrument, f"{self._path}.nvbuffer2", BUFFER_CAPACITY))):
            object.__setattr__(self, name, obj)
        object.__setattr__(self, "trigger", SmuTrigger(self))

    # -- reset and settings -----------------------------------------------------------------------

    def reset(self) -> None:
        self._update_bias_off()
        self._reset_values()
        self.source._reset_values()
        self.measure._reset_values()
        self.nvbuffer1.reset()
        self.nvbuffer2.reset()
        self.trigger.reset()
        self._in_compliance = False

    def makebuffer(self, size: Any) -> ReadingBuffer:
        n = int_arg(f"{self._path}.makebuffer bufferSize", size, minimum=1, maximum=BUFFER_CAPACITY)
        return ReadingBuffer(self._instrument, f"{self._path}.buffer", n)

    def _update_bias_off(self) -> None:
        self._bias.set(on=False, voltage_v=0.0, compliance_a=None)

    def _update_bias(self) -> None:
        """The source settings changed: the device now sits at the new DC point."""
        source = self.source
        if source.output != ON:
            self._update_bias_off()
            return
        if source.func == self.OUTPUT_DCVOLTS:
            self._bias.set(on=True, voltage_v=source.levelv, compliance_a=source.limiti)
        else:
            self._bias.set(on=True, voltage_v=self._voltage_for_current(source.leveli, source.limitv),
                           compliance_a=None)

    def _check_sweep_levels(self, values: np.ndarray, where: str) -> None:
        top = _spec(self).voltage_ranges_v[-1] * 1.01
        worst = float(np.max(np.abs(values)))
        if worst > top:
            raise TspError(PARAMETER_TOO_BIG, f"Parameter too big {where}: {worst:g} V, maximum {top:g} V")

    def _buffer_arg(self, buffer: Any) -> ReadingBuffer | None:
        if buffer is None or isinstance(buffer, ReadingBuffer):
            return buffer
        raise TspRuntimeError(f"{self._path}: a reading buffer expected")

    # -- physics ----------------------------------------------------------------------------------

    def _device(self) -> tuple[int, int] | None:
        return self._instrument.world.device_for(self._terminal)

    def _voltage_for_current(self, current_a: float, limit_v: float) -> float:
        """The voltage that drives ``current_a`` through the device (a current source finds it
        by feedback; here by bisection on the chip's monotonic, noise-free I-V, which does not
        program the device), clamped at the limit."""
        device = self._device()
        limit = abs(limit_v)
        if current_a == 0.0:
            return 0.0
        sign = 1.0 if current_a > 0 else -1.0
        if device is None:
            return sign * limit  # open circuit: the source rises to its voltage limit
        chip = self._instrument.world.chip
        target = abs(current_a)
        if abs(chip.probe_current(*device, sign * limit)) < target:
            return sign * limit
        low, high = 0.0, limit
        for _ in range(40):
            middle = 0.5 * (low + high)
            if abs(chip.probe_current(*device, sign * middle)) < target:
                low = middle
            else:
                high = middle
        return sign * 0.5 * (low + high)

    def _integration_s(self) -> float:
        measure = self.measure
        line = self._instrument.localnode.linefreq
        cycles = measure.nplc * (2.0 if measure.autozero == self.AUTOZERO_AUTO else 1.0)
        delay = measure.delay
        settle = AUTO_DELAY_S * measure.delayfactor if delay == DELAY_AUTO else delay
        return settle + cycles / line + MEASURE_OVERHEAD_S

    def _locked_range(self, quantity: str, peak: float | None = None) -> float | None:
        """Measuring what the SMU sources, the measure range is the source range (the manual:
        the measure range is locked to the source range then); otherwise None. In a sweep,
        source autorange picks the range of the largest level (``peak``)."""
        source = self.source
        sourcing = "v" if source.func == self.OUTPUT_DCVOLTS else "i"
        if quantity != sourcing:
            return None
        if getattr(source, f"autorange{quantity}"):
            if peak is not None:
                ranges = _spec(self).voltage_ranges_v if quantity == "v" else _spec(self).current_ranges_a
                return pick_range(peak, ranges)
            return source._auto_range(quantity)
        return float(getattr(source, f"range{quantity}"))

    def _current_readings(self, currents_a: np.ndarray, compliance_a: float) -> np.ndarray:
        measure = self.measure
        fixed = self._locked_range("i")
        if fixed is None:
            fixed = None if measure.autorangei else measure.rangei
        ranges = [r for r in _spec(self).current_ranges_a if r >= measure.lowrangei]
        return readings(currents_a, compliance_a=compliance_a, range_a=fixed, ranges_a=ranges,
                        nplc=measure.nplc, rng=self._rng)

    def _voltage_readings(self, voltages_v: np.ndarray, peak: float | None = None) -> np.ndarray:
        measure = self.measure
        fixed = self._locked_range("v", peak)
        if fixed is None:
            fixed = None if measure.autorangev else measure.rangev
        ranges = [r for r in _spec(self).voltage_ranges_v if r >= measure.lowrangev]
        return readings(voltages_v, compliance_a=_spec(self).voltage_ranges_v[-1] * 1.01,
                        range_a=fixed, ranges_a=ranges, nplc=measure.nplc, rng=self._rng)

    def _operate(self, duration_s: float) -> tuple[float, float]:
        """Hold the present source for ``duration_s`` more; (current, voltage) at the device."""
        source = self.source
        if source.output == ON and source.func == self.OUTPUT_DCAMPS:
            self._update_bias()  # the voltage a current needs changes with the device and route
        current = self._bias.hold(duration_s)
        if source.output != ON:
            self._in_compliance = False
            return 0.0, 0.0
        device = self._device()
        if source.func == self.OUTPUT_DCVOLTS:
            voltage = source.levelv
            limit = source.limiti
            self._in_compliance = abs(current) >= limit * (1 - 1e-9)
            if self._in_compliance:
                current = limit if current > 0 else -limit
                voltage = self._voltage_for_current(current, voltage)
            return current, voltage
        voltage = self._bias.voltage_v
        self._in_compliance = abs(voltage) >= source.limitv * (1 - 1e-9) and (
            device is None or abs(current) < abs(source.leveli) * (1 - 1e-6))
        if not self._in_compliance:
            current = source.leveli
        return current, voltage

    def _measure(self, what: str, buffer: Any) -> float:
        buffer = self._buffer_arg(buffer)
        count = self.measure.count
        values = np.empty(count)
        sources = np.empty(count)
        times = np.empty(count)
        instrument = self._instrument
        for k in range(count):
            duration = self._integration_s()
            current, voltage = self._operate(duration)
            instrument.charge(duration)
            times[k] = instrument.clock.now()
            values[k] = self._reading(what, current, voltage)
            sources[k] = self.source.levelv if self.source.func == self.OUTPUT_DCVOLTS else self.source.leveli
            if k + 1 < count and self.measure.interval > duration:
                instrument.charge(self.measure.interval - duration)
        if buffer is not None:
            buffer.begin()
            buffer.store(values, sources, times)
        return float(values[-1])

    def _measure_iv(self, ibuffer: Any, vbuffer: Any) -> tuple[float, float]:
        ibuffer, vbuffer = self._buffer_arg(ibuffer), self._buffer_arg(vbuffer)
        duration = self._integration_s() * 2.0  # two integrations, one per quantity
        current, voltage = self._operate(duration)
        self._instrument.charge(duration)
        now = np.array([self._instrument.clock.now()])
        i = self._reading("i", current, voltage)
        v = self._reading("v", current, voltage)
        level = np.array([self.source.levelv])
        for buffer, value in ((ibuffer, i), (vbuffer, v)):
            if buffer is not None:
                buffer.begin()
                buffer.store(np.array([value]), level, now)
        return i, v

    def _reading(self, what: str, current: float, voltage: float) -> float:
        limit = self.source.limiti if self.source.func == self.OUTPUT_DCVOLTS else _spec(self).current_ranges_a[-1]
        i = float(self._current_readings(np.array([current]), limit)[0])
        if what == "i":
            return i
        v = float(self._voltage_readings(np.array([voltage]))[0])
        if what == "v":
            return v
        if what == "r":
            return v / i if i != 0.0 else 9.91e37
        return v * i

    # -- sweeps -----------------------------------------------------------------------------------

    def _initiate(self) -> None:
        trigger = self.trigger
        source = self.source
        points = trigger.count * max(trigger.arm.count, 1)
        if points < 1:
            raise TspError(PARAMETER_ERROR, f"Parameter error {self._path}.trigger.count=0: "
                                            "an infinite sweep never completes")
        if trigger.source.action == ON and trigger.source._values_v is not None:
            values = np.resize(trigger.source._values_v, points)
        else:
            values = np.full(points, source.levelv)
        width, period = self._timer_timing()
        self._sweep(values, settle_s=0.0, width_s=width, period_s=period,
                    idle=trigger.endpulse.action == self.SOURCE_IDLE,
                    what=trigger.measure._what if trigger.measure.action == ON else None,
                    limit_a=trigger.source.limiti or source.limiti)
        if trigger.endsweep.action == self.SOURCE_IDLE:
            self._bias.restart()

    def _timer_timing(self) -> tuple[float | None, float | None]:
        """Pulse width and period from timers the end-pulse / source stages wait on."""
        timers = self._instrument.trigger_timers
        width = period = None
        for timer in timers:
            if self.trigger.endpulse.stimulus == timer.EVENT_ID:
                width = timer.delay
            if self.trigger.source.stimulus == timer.EVENT_ID:
                period = timer.delay
        return width, period

    def _sweep(
        self,
        voltages_v: np.ndarray,
        *,
        settle_s: float,
        width_s: float | None,
        period_s: float | None,
        idle: bool,
        what: tuple[str, Any, Any] | None,
        limit_a: float,
        idle_v: float | None = None,
    ) -> None:
        """Step (or pulse, when ``idle``) through ``voltages_v``, measuring at each point."""
        instrument = self._instrument
        self._bias.hold()
        measure_s = self._integration_s() if what is not None else 0.0
        if what is not None and what[0] == "iv":
            measure_s *= 2.0
        dwell = SOURCE_OVERHEAD_S + settle_s + measure_s
        on_s = max(dwell, width_s or 0.0)
        point_s = max(on_s, period_s or 0.0)
        output_on = self.source.output == ON
        start = instrument.clock.now()
        if not output_on:
            currents = np.zeros(len(voltages_v))
        elif idle and (idle_v if idle_v is not None else self.source.levelv) != 0.0:
            currents = np.empty(len(voltages_v))
            rest = idle_v if idle_v is not None else self.source.levelv
            off_s = max(point_s - on_s, SOURCE_OVERHEAD_S)
            world = instrument.world
            for k, level in enumerate(voltages_v):
                currents[k] = world.source_voltage(self._terminal, float(level), on_s, limit_a)
                world.source_voltage(self._terminal, rest, off_s, limit_a)
            point_s = on_s + off_s
        else:
            currents = instrument.world.sweep(self._terminal, voltages_v, on_s, limit_a)
        instrument.charge(point_s * len(voltages_v))
        self._bias.restart()
        self._in_compliance = bool(np.any(np.abs(currents) >= limit_a * (1 - 1e-9)))
        if what is None:
            return
        times = start + point_s * np.arange(len(voltages_v)) + on_s
        kind, first, second = what
        i = self._current_readings(currents, limit_a)
        v = None
        if kind != "i":
            # In compliance the source gives way: the terminal sits at the voltage that drives
            # the limit current (found only for those points, and only when voltage is measured).
            voltage = np.array(voltages_v, dtype=np.float64)
            for k in np.flatnonzero(np.abs(currents) >= limit_a * (1 - 1e-9)):
                voltage[k] = self._voltage_for_current(float(np.copysign(limit_a, currents[k])),
                                                       float(voltages_v[k]))
            v = self._voltage_readings(voltage, peak=float(np.max(np.abs(voltages_v))))
        if kind == "i":
            data = i
        elif kind == "v":
            data = v
        elif kind == "r":
            data = np.where(i != 0.0, v / np.where(i != 0.0, i, 1.0), 9.91e37)
        elif kind == "p":
            data = v * i
        else:
            data = i
        for buffer, values in ((first, data), (second, v)):
            if buffer is not None and values is not None:
                buffer.begin()
                buffer.store(values, voltages_v, times)

    # -- factory functions (KISweep / KIPulse) ------------------------------------------------------

    def sweep_list(self, values: np.ndarray, settle_s: float, points: int) -> None:
        """``SweepVListMeasureI``: output on, each level for ``settle_s`` then one current
        reading into nvbuffer1 (cleared first); the output stays on at the last level."""
        self._check_sweep_levels(values, f"SweepV...MeasureI on {self._path}")
        source = self.source
        source.func = self.OUTPUT_DCVOLTS
        source.output = ON
        self.nvbuffer1.clear()
        levels = np.resize(values, points)
        self._sweep(levels, settle_s=settle_s, width_s=None, period_s=None, idle=False,
                    what=("i", self.nvbuffer1, None), limit_a=source.limiti)
        source._values["levelv"] = float(levels[-1])
        self._bias.set(on=True, voltage_v=float(levels[-1]), compliance_a=source.limiti)

    def pulse(self, bias_v: float, level_v: float, on_s: float, off_s: float, points: int) -> None:
        """``PulseVMeasureI``: from ``bias_v``, ``points`` pulses to ``level_v`` for ``on_s``
        (current read at the end of each) with ``off_s`` at the bias between them."""
        self._check_sweep_levels(np.array([bias_v, level_v]), f"PulseVMeasureI on {self._path}")
        source = self.source
        source.func = self.OUTPUT_DCVOLTS
        source.levelv = bias_v
        source.output = ON
        self.nvbuffer1.clear()
        self._sweep(np.full(points, level_v), settle_s=0.0, width_s=on_s, period_s=on_s + off_s,
                    idle=True, what=("i", self.nvbuffer1, None), limit_a=source.limiti, idle_v=bias_v)
        self._bias.set(on=True, voltage_v=bias_v, compliance_a=source.limiti)


class TriggerTimer(TspObject):
    """``trigger.timer[n]``: delay between events, count, passthrough and its event ID."""

    delay = Attr(10e-6, minimum=1e-6, maximum=100e3)
    count = Attr(1, minimum=0, maximum=1_048_575, kind=int)
    passthrough = Attr(0, choices=(0, 1), kind=int)
    stimulus = Attr(0, minimum=0, maximum=1000, kind=int)

    def __init__(self, instrument: TspInstrument, number: int) -> None:
        super().__init__(instrument, f"trigger.timer[{number}]")
        object.__setattr__(self, "EVENT_ID", 100 + number)

    def reset(self) -> None:
        self._reset_values()

    def clear(self) -> None:
        """No pending events are kept between ``initiate()`` calls in the simulation."""


class TimerList:
    """``trigger.timer``: indexable 1..8 from Lua."""

    def __init__(self, timers: list[TriggerTimer]) -> None:
        self._timers = timers

    def __getitem__(self, index: Any) -> TriggerTimer:
        n = int_arg("trigger.timer[N]", index, minimum=1, maximum=len(self._timers))
        return self._timers[n - 1]

    def __len__(self) -> int:
        return len(self._timers)


class TriggerNamespace(TspObject):
    """The global ``trigger`` object: ``trigger.timer[n]``, and ``trigger.wait``/``clear`` on
    bus triggers (``*TRG``)."""

    EVENT_ID = 1

    def __init__(self, instrument: TspInstrument, timers: list[TriggerTimer]) -> None:
        super().__init__(instrument, "trigger")
        object.__setattr__(self, "timer", TimerList(timers))

    def clear(self) -> None:
        """Forget a bus trigger (``*TRG``) that has not been waited for."""
        self._instrument.bus_triggered = False

    def wait(self, timeout: Any) -> bool:
        """True at once if a ``*TRG`` came; otherwise the timeout passes and it is False."""
        seconds = number_arg("trigger.wait timeout", timeout, minimum=0.0)
        instrument = self._instrument
        if instrument.bus_triggered:
            instrument.bus_triggered = False
            return True
        instrument.charge(seconds)
        return False


class StatusRegister(TspObject):
    """One register of the TSP status model (``status.measurement``, ...): ``condition`` (what
    holds now), ``event`` (the transitions selected by ``ptr``/``ntr``, cleared when read),
    ``enable``, ``ntr``, ``ptr`` and its sub-registers as attributes. The twin samples the
    condition when a register of it is read, so a transition that came and went between two
    reads is not latched. What the twin does not signal stays 0."""

    enable = Attr(0, minimum=0, maximum=65535, kind=int)
    ntr = Attr(0, minimum=0, maximum=65535, kind=int)
    ptr = Attr(lambda o: 65535, minimum=0, maximum=65535, kind=int)

    def __init__(self, instrument: TspInstrument, path: str,
                 condition: Callable[[], int] | None = None, **bits: int) -> None:
        super().__init__(instrument, path)
        self._condition = condition or (lambda: 0)
        self._latched = 0
        self._last = 0
        for name, value in bits.items():
            object.__setattr__(self, name, value)

    def _update(self) -> int:
        now = int(self._condition())
        rising = now & ~self._last & self.ptr
        falling = ~now & self._last & self.ntr
        self._latched |= rising | falling
        self._last = now
        return now

    @property
    def condition(self) -> int:
        return self._update()

    @property
    def event(self) -> int:
        self._update()
        value, self._latched = self._latched, 0
        return value

    def add(self, name: str, register: StatusRegister) -> StatusRegister:
        object.__setattr__(self, name, register)
        return register

    def reset(self) -> None:
        self._reset_values()
        self._latched = 0
        self._last = 0


class StatusModel(StatusRegister):
    """The global ``status``: ``status.condition`` (the status byte), ``status.measurement``
    with ``instrument.smuX`` (voltage/current limit bits from compliance), ``operation``,
    ``questionable``, ``standard`` and ``system``; ``status.reset()``."""

    request_enable = Attr(0, minimum=0, maximum=255, kind=int)
    node_enable = Attr(0, minimum=0, maximum=255, kind=int)

    MEASUREMENT_SUMMARY_BIT = 1
    #: bits of status.measurement and status.measurement.instrument.smuX (2600B manual)
    VOLTAGE_LIMIT = 2
    CURRENT_LIMIT = 4

    def __init__(self, instrument: Keithley2600BTwin) -> None:
        super().__init__(instrument, "status", condition=instrument.status_byte,
                         MEASUREMENT_SUMMARY_BIT=1, SYSTEM_SUMMARY_BIT=2, ERROR_AVAILABLE=4,
                         QUESTIONABLE_SUMMARY_BIT=8, MESSAGE_AVAILABLE=16,
                         EVENT_SUMMARY_BIT=32, MASTER_SUMMARY_STATUS=64, OPERATION_SUMMARY_BIT=128)
        smus = instrument.smus

        def limits(letters: tuple[str, ...]) -> int:
            bits = 0
            for letter in letters:
                smu = smus[letter]
                if smu._in_compliance:
                    bits |= self.CURRENT_LIMIT if smu.source.func == Smu.OUTPUT_DCVOLTS else self.VOLTAGE_LIMIT
            return bits

        letters = tuple(smus)
        limit_bits = {"VOLTAGE_LIMIT": 2, "VLMT": 2, "CURRENT_LIMIT": 4, "ILMT": 4}
        measurement = self.add("measurement", StatusRegister(instrument, "status.measurement",
                                                             lambda: limits(letters), **limit_bits))
        inst = measurement.add("instrument", StatusRegister(
            instrument, "status.measurement.instrument",
            lambda: sum(2 << k for k, letter in enumerate(letters) if limits((letter,)))))
        for letter in letters:
            inst.add(f"smu{letter}", StatusRegister(
                instrument, f"status.measurement.instrument.smu{letter}",
                lambda letter=letter: limits((letter,)), **limit_bits))
        for name in ("voltage_limit", "current_limit", "reading_overflow", "buffer_available"):
            measurement.add(name, StatusRegister(instrument, f"status.measurement.{name}"))
        for name in ("operation", "questionable", "system", "system2", "system3", "system4",
                     "system5"):
            self.add(name, StatusRegister(instrument, f"status.{name}"))
        self.add("standard", StatusRegister(instrument, "status.standard", lambda: instrument.esr))

    def _registers(self) -> list[StatusRegister]:
        found: list[StatusRegister] = []
        pending: list[StatusRegister] = [self]
        while pending:
            register = pending.pop()
            found.append(register)
            pending.extend(v for v in vars(register).values() if isinstance(v, StatusRegister))
        return found

    def reset(self) -> None:  # type: ignore[override]
        """``status.reset()``: every enable and transition filter to its default."""
        for register in self._registers():
            StatusRegister.reset(register)


class DisplaySmu(TspObject):
    """``display.smuX``: what the front panel shows for one channel (kept, not drawn)."""

    digits = Attr(5, choices=(4, 5, 6), kind=int)

    def __init__(self, instrument: TspInstrument, letter: str) -> None:
        super().__init__(instrument, f"display.smu{letter}")
        object.__setattr__(self, "measure", DisplaySmuMeasure(instrument, letter))
        object.__setattr__(self, "limit", DisplaySmuMeasure(instrument, letter, "limit"))

    def reset(self) -> None:
        self._reset_values()
        self.measure._reset_values()


class DisplaySmuMeasure(TspObject):
    func = Attr(0, choices=(0, 1, 2, 3), kind=int)

    def __init__(self, instrument: TspInstrument, letter: str, node: str = "measure") -> None:
        super().__init__(instrument, f"display.smu{letter}.{node}")


class Keithley2600BTwin(TspInstrument):
    """A simulated 2600B: ``model_number`` one of :data:`MODELS`.

    :param world: the bench's shared chip, clock and routes.
    :param name: the instrument's name on the bench (its role); channel a drives the world
        terminal ``<name>``, channel b ``<name>:b``.
    :param terminals: channel letter -> world terminal, to override the defaults.
    :param model_number: "2602B" by default.
    :param line_frequency_hz: mains frequency the instrument integrates over (50 or 60).
    """

    firmware = "4.0.4"
    default_serial = "4478123"
    bus_latency_s = 200e-6

    def __init__(
        self,
        world: SimWorld,
        name: str = "smu",
        *,
        serial: str | None = None,
        model_number: str = "2602B",
        terminals: dict[str, str] | None = None,
        line_frequency_hz: float = 60.0,
    ) -> None:
        if model_number not in MODELS:
            raise ValueError(f"model_number={model_number!r}: allowed {', '.join(MODELS)}")
        if line_frequency_hz not in (50.0, 60.0):
            raise ValueError(f"line_frequency_hz={line_frequency_hz!r}: allowed 50 or 60")
        self.model_number = model_number
        self.spec = MODELS[model_number]
        terminals = dict(terminals or {})
        unknown = set(terminals) - set(self.spec.channels)
        if unknown:
            raise ValueError(f"terminals: channel(s) {sorted(unknown)} do not exist on the "
                             f"{model_number}: allowed {list(self.spec.channels)}")
        defaults = {"a": name, "b": f"{name}:b"}
        self._terminal_names = {c: terminals.get(c, defaults[c]) for c in self.spec.channels}
        super().__init__(world, name, serial=serial)
        self.localnode.linefreq = line_frequency_hz

    def install(self, g: Any) -> None:
        self.smus = {c: Smu(self, c, t) for c, t in self._terminal_names.items()}
        for letter, smu in self.smus.items():
            g[f"smu{letter}"] = smu
        self.trigger_timers = [TriggerTimer(self, n) for n in range(1, 9)]
        g.trigger = TriggerNamespace(self, self.trigger_timers)
        g.SweepVListMeasureI = self._sweep_v_list
        g.SweepVLinMeasureI = self._sweep_v_lin
        g.SweepVLogMeasureI = self._sweep_v_log
        g.PulseVMeasureI = self._pulse_v
        self.status = StatusModel(self)
        g.status = self.status
        display = self.display
        for letter in self.smus:
            object.__setattr__(display, f"smu{letter}", DisplaySmu(self, letter))
        for name, value in (("MEASURE_DCAMPS", 0), ("MEASURE_DCVOLTS", 1), ("MEASURE_OHMS", 2),
                            ("MEASURE_WATTS", 3), ("DIGITS_4_5", 4), ("DIGITS_5_5", 5),
                            ("DIGITS_6_5", 6), ("LIMIT_IV", 0), ("LIMIT_P", 1)):
            object.__setattr__(display, name, value)

    def reset_model(self) -> None:
        self.status.reset()
        for letter in self.smus:
            getattr(self.display, f"smu{letter}").reset()
        for smu in self.smus.values():
            smu.reset()
        for timer in self.trigger_timers:
            timer.reset()

    def terminal(self, letter: str) -> str:
        """The world terminal channel ``letter`` drives."""
        return self._terminal_names[letter]

    # -- factory functions --------------------------------------------------------------------------

    def _smu_arg(self, where: str, smu: Any) -> Smu:
        if not isinstance(smu, Smu):
            raise TspRuntimeError(f"bad argument #1 to '{where}' (smu expected)")
        return smu

    def _sweep_v_list(self, smu: Any, vlist: Any, stime: Any, points: Any) -> None:
        channel = self._smu_arg("SweepVListMeasureI", smu)
        values = lua_numbers("SweepVListMeasureI vlist", vlist)
        if len(values) == 0:
            raise TspError(PARAMETER_ERROR, "Parameter error SweepVListMeasureI: empty vlist")
        settle = number_arg("SweepVListMeasureI stime", stime, minimum=0.0, maximum=10e3)
        n = int_arg("SweepVListMeasureI points", points, minimum=1, maximum=BUFFER_CAPACITY)
        channel.sweep_list(values, settle, n)

    def _sweep_v_lin(self, smu: Any, start: Any, stop: Any, stime: Any, points: Any) -> None:
        channel = self._smu_arg("SweepVLinMeasureI", smu)
        n = int_arg("SweepVLinMeasureI points", points, minimum=2, maximum=BUFFER_CAPACITY)
        values = np.linspace(number_arg("SweepVLinMeasureI startv", start),
                             number_arg("SweepVLinMeasureI stopv", stop), n)
        settle = number_arg("SweepVLinMeasureI stime", stime, minimum=0.0, maximum=10e3)
        channel.sweep_list(values, settle, n)

    def _sweep_v_log(self, smu: Any, start: Any, stop: Any, stime: Any, points: Any) -> None:
        channel = self._smu_arg("SweepVLogMeasureI", smu)
        n = int_arg("SweepVLogMeasureI points", points, minimum=2, maximum=BUFFER_CAPACITY)
        a = number_arg("SweepVLogMeasureI startv", start)
        b = number_arg("SweepVLogMeasureI stopv", stop)
        if a * b <= 0:
            raise TspError(PARAMETER_ERROR, "Parameter error SweepVLogMeasureI: startv and stopv "
                                            "must be non-zero with the same sign")
        values = np.sign(a) * np.geomspace(abs(a), abs(b), n)
        settle = number_arg("SweepVLogMeasureI stime", stime, minimum=0.0, maximum=10e3)
        channel.sweep_list(values, settle, n)

    def _pulse_v(self, smu: Any, bias: Any, level: Any, ton: Any, toff: Any, points: Any) -> None:
        channel = self._smu_arg("PulseVMeasureI", smu)
        channel.pulse(
            number_arg("PulseVMeasureI bias", bias),
            number_arg("PulseVMeasureI level", level),
            number_arg("PulseVMeasureI ton", ton, minimum=0.0, maximum=10e3),
            number_arg("PulseVMeasureI toff", toff, minimum=0.0, maximum=10e3),
            int_arg("PulseVMeasureI points", points, minimum=1, maximum=BUFFER_CAPACITY),
        )
