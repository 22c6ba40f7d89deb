"""Keysight drivers: B2900 source-measure units, 33500B and 81160A pulse generators.

Command strings follow ``reference/instruments.md``; each class lists at the top of its docstring the
exact commands it sends, which its simulated twin under ``instruments/sim/`` must understand.
Numbers in hand-written commands have up to 9 significant digits; numbers set through pymeasure's
own properties keep pymeasure's formats (``%e`` for times, ``%f`` for volts).
"""

from __future__ import annotations

import logging
import math
from abc import abstractmethod
from typing import Any, Callable, ClassVar, Sequence

import numpy as np
from pymeasure.instruments import Instrument, SCPIMixin
from pymeasure.instruments.agilent import Agilent33500 as _PymeasureAgilent33500
from pymeasure.instruments.keysight import Keysight81160A as _PymeasureKeysight81160A

from pymeasure.instruments.agilent.agilent33500 import Agilent33500Channel as _PymeasureAgilent33500Channel
from pymeasure.instruments.keysight.keysight81160A import Keysight81160AChannel as _PymeasureKeysight81160AChannel

from .checks import check_line_frequency, pulse_aperture, sweep_voltages
from .limits import LimitError, SafetyLimits, as_number, require_choice, require_int, require_range
from .plumbing import (
    DriverMixin,
    InstrumentError,
    choice,
    control,
    driver,
    flag,
    fmt,
    number,
    on_off,
    recorded,
    setting,
)
from .roles import PulseGenerator, SweepResult
from .source_meter import SourceMeterDriver, source_meter_settings

log = logging.getLogger(__name__)

_TRIGGER_MARGIN_S = 100e-6
"""Time added to each timer-triggered point beyond delay + aperture (source settling, data handling)."""


def _number_setting(get_command: str | None, set_command: str, docs: str, key: str | None = None) -> Any:
    """A numeric setting sent with up to 9 significant digits; ranges are checked by the caller."""
    if get_command is None:
        return setting(set_command, docs, key=key, validator=lambda value, values: as_number(key or "value", value),
                       set_process=fmt)
    return control(get_command, set_command, docs, key=key,
                   validator=lambda value, values: as_number(key or "value", value), set_process=fmt,
                   get_process=number)


@driver(model="Keysight B2900", role="smu", twin="memlab.instruments.sim.keysight_b2900:KeysightB2900Twin")
class KeysightB2900(SourceMeterDriver, SCPIMixin, Instrument):
    """Keysight B2900 precision SMU (B2901A/B2902A/B2911A/B2912A), one channel.

    Commands sent (shown for channel 1; ``<..>`` a number, ``N`` the point count):

    - set_voltage: ``:SOUR1:FUNC:MODE VOLT``, ``:SENS1:CURR:PROT <A>``, ``:SOUR1:VOLT <V>``
    - set_current: ``:SOUR1:FUNC:MODE CURR``, ``:SENS1:VOLT:PROT <V>``, ``:SOUR1:CURR <A>``
    - measure: ``:MEAS:CURR? (@1)``, ``:MEAS:VOLT? (@1)``
    - nplc: ``:SENS1:CURR:NPLC <n>``, ``:SENS1:CURR:NPLC?``
    - output_on: ``SYST:ERR?`` (until ``0,...``), ``:OUTP1 ON``; off ``:OUTP1 OFF``; state ``:OUTP1?``
    - list_sweep: ``:SOUR1:FUNC:MODE VOLT``, ``:SENS1:CURR:PROT <A>``, ``:SOUR1:VOLT 0``,
      ``:SENS1:FUNC "CURR"``, ``:SENS1:CURR:RANG:AUTO ON``, ``:SENS1:CURR:NPLC <n>``,
      ``:SOUR1:VOLT:MODE LIST``, ``:SOUR1:LIST:VOLT v1,...,vN``, ``:TRIG1:SOUR TIM``,
      ``:TRIG1:TIM <delay + aperture + 100 us>``, ``:TRIG1:COUN N``, ``:TRIG1:ACQ:DEL <delay>``,
      ``:FORM:ELEM:SENS CURR,TIME,SOUR``, ``SYST:ERR?``, ``:OUTP1 ON``, ``:INIT (@1);*OPC?``,
      ``:SOUR1:VOLT:MODE FIX``, ``:SOUR1:VOLT 0``, ``:OUTP1 OFF``, ``:FETC:ARR? (@1)``
      (reply ``i,t,s,i,t,s,...``), ``SYST:ERR?``; if ``*OPC?`` times out: ``:ABOR (@1)``, ``:OUTP1 OFF``,
      ``SYST:ERR?`` (to report why)
    - pulse: ``:SOUR1:FUNC:MODE VOLT``, ``:SENS1:CURR:PROT <A>``, ``:SOUR1:FUNC:SHAP PULS``,
      ``:SOUR1:VOLT <base>``, ``:SOUR1:VOLT:TRIG <level>``, ``:SOUR1:PULS:DEL 0``, ``:SOUR1:PULS:WIDT <w>``,
      ``:SENS1:FUNC "CURR"``, ``:SENS1:CURR:RANG:AUTO OFF``, ``:SENS1:CURR:RANG <compliance>``,
      ``:SENS1:CURR:NPLC <n>``, ``:TRIG1:SOUR TIM``, ``:TRIG1:TIM <period>``, ``:TRIG1:COUN <count>``,
      ``:TRIG1:ACQ:DEL <(w - aperture)/2>``, ``:FORM:ELEM:SENS CURR,TIME,SOUR``, ``SYST:ERR?``, ``:OUTP1 ON``,
      ``:INIT (@1);*OPC?``, ``:SOUR1:FUNC:SHAP DC``, ``:SOUR1:VOLT 0``, ``:OUTP1 OFF``,
      ``:FETC:ARR? (@1)``, ``SYST:ERR?``
    - shutdown: ``:ABOR (@1)``, ``:OUTP1 OFF``, ``:SOUR1:FUNC:SHAP DC``, ``:SOUR1:VOLT:MODE FIX``,
      ``:SOUR1:VOLT 0``, ``:SOUR1:CURR 0``
    - identity: ``*IDN?``
    """

    max_sweep_points: ClassVar[int] = 2500
    max_voltage_v: ClassVar[float] = 210.0
    max_current_a: ClassVar[float] = 3.03
    min_compliance_v: ClassVar[float] = 0.0
    min_trigger_interval_s: ClassVar[float] = 20e-6
    channels_of_model: ClassVar[dict[str, tuple[int, ...]]] = {
        "B2901A": (1,), "B2901B": (1,), "B2902A": (1, 2), "B2902B": (1, 2), "B2911A": (1,), "B2911B": (1,),
        "B2912A": (1, 2), "B2912B": (1, 2),
    }
    """Channels of each model of the family (the single-channel models have no channel 2)."""

    (source_function, source_voltage, source_current, compliance_current, compliance_voltage, nplc,
     output_state) = source_meter_settings(
        function=(":SOUR{ch}:FUNC:MODE?", ":SOUR{ch}:FUNC:MODE %s"),
        function_values={"voltage": "VOLT", "current": "CURR"},
        voltage=(":SOUR{ch}:VOLT?", ":SOUR{ch}:VOLT %s"), current=(":SOUR{ch}:CURR?", ":SOUR{ch}:CURR %s"),
        compliance_current=(":SENS{ch}:CURR:PROT?", ":SENS{ch}:CURR:PROT %s"),
        compliance_voltage=(":SENS{ch}:VOLT:PROT?", ":SENS{ch}:VOLT:PROT %s"),
        nplc=(":SENS{ch}:CURR:NPLC?", ":SENS{ch}:CURR:NPLC %s"), output=(":OUTP{ch}?", ":OUTP{ch} %s"))
    sense_function = setting(':SENS{ch}:FUNC "%s"', "Set what is measured: 'CURR' or 'VOLT'.",
                             validator=choice("sense_function"), values=("CURR", "VOLT"))
    current_autorange = setting(":SENS{ch}:CURR:RANG:AUTO %s", "Set current auto-ranging on or off.",
                                validator=flag("current_autorange"), set_process=on_off)
    current_range_a = _number_setting(None, ":SENS{ch}:CURR:RANG %s", "Set the fixed current range (A).",
                                      "current_range_a")
    voltage_mode = setting(":SOUR{ch}:VOLT:MODE %s", "Set the voltage source mode: 'FIX' or 'LIST'.",
                           validator=choice("voltage_mode"), values=("FIX", "LIST"))
    source_shape = setting(":SOUR{ch}:FUNC:SHAP %s", "Set the source shape: 'DC' or 'PULS'.",
                           validator=choice("source_shape"), values=("DC", "PULS"))
    triggered_voltage = _number_setting(None, ":SOUR{ch}:VOLT:TRIG %s", "Set the pulse level (V).", "pulse_level_v")
    pulse_delay_s = _number_setting(None, ":SOUR{ch}:PULS:DEL %s", "Set the pulse delay (s).", "pulse_delay_s")
    pulse_width_s = _number_setting(None, ":SOUR{ch}:PULS:WIDT %s", "Set the pulse width (s).", "pulse_width_s")
    trigger_source = setting(":TRIG{ch}:SOUR %s", "Set the trigger source: 'TIM', 'AINT' or 'BUS'.",
                             validator=choice("trigger_source"), values=("TIM", "AINT", "BUS"))
    trigger_interval_s = _number_setting(None, ":TRIG{ch}:TIM %s", "Set the timer interval (s).", "trigger_interval_s")
    trigger_count = setting(":TRIG{ch}:COUN %d", "Set the trigger count.", key="trigger_count",
                            validator=lambda value, values: require_int("trigger_count", value, 1, 100_000))
    acquire_delay_s = _number_setting(None, ":TRIG{ch}:ACQ:DEL %s", "Set the acquisition delay (s).",
                                      "acquire_delay_s")
    data_elements = setting(":FORM:ELEM:SENS %s", "Set the elements of fetched data.",
                            validator=choice("data_elements"), values=("CURR,TIME,SOUR",))

    def __init__(
        self,
        adapter: Any,
        name: str | None = None,
        *,
        limits: SafetyLimits | None = None,
        channel: int = 1,
        line_frequency_hz: float = 50.0,
        **kwargs: Any,
    ) -> None:
        self.channel = require_choice("channel", channel, (1, 2), "Keysight B2900 channels")
        self.line_frequency_hz = check_line_frequency(line_frequency_hz)
        super().__init__(adapter, name, limits=limits, **kwargs)

    @classmethod
    def check_bench_options(cls, model: str | None, options: dict[str, Any]) -> None:
        """A channel the named model does not have is refused when the bench file is read."""
        channels = cls.channels_of_model.get(str(model).upper()) if model else None
        if channels is not None:
            require_choice("options.channel", options.get("channel", 1), channels, f"channels of a {model}")

    def command_fields(self) -> dict[str, Any]:
        return {"ch": self.channel}

    def nplc_range(self) -> tuple[float, float]:
        return self._min_nplc, 100.0

    def _program_voltage(self, compliance_a: float, voltage_v: float) -> None:
        self.source_function = "voltage"
        self.compliance_current = compliance_a
        self.source_voltage = voltage_v

    def measure_current_a(self) -> float:
        return self._ask_float(f":MEAS:CURR? (@{self.channel})")

    def measure_voltage_v(self) -> float:
        return self._ask_float(f":MEAS:VOLT? (@{self.channel})")

    @property
    def _min_nplc(self) -> float:
        return 8e-6 * self.line_frequency_hz  # shortest aperture: 8 us

    def _timer(self, interval_s: float, count: int, acquire_delay_s: float) -> None:
        self.trigger_source = "TIM"
        self.trigger_interval_s = interval_s
        self.trigger_count = count
        self.acquire_delay_s = acquire_delay_s
        self.data_elements = "CURR,TIME,SOUR"

    def _run_timer(self, n: int, expected_s: float, restore: Callable[[], None]) -> SweepResult:
        """Run the timer-triggered sequence and fetch its ``n`` points (current, time, source)."""
        ch = self.channel
        data = self._run_and_fetch(f":INIT (@{ch})", f":ABOR (@{ch})", expected_s, restore, f":FETC:ARR? (@{ch})", n)
        return SweepResult(data[:, 2], data[:, 0], data[:, 1] - data[0, 1])

    def list_sweep(
        self, voltages_v: Sequence[float] | np.ndarray, compliance_a: float, nplc: float, delay_s: float = 0.0
    ) -> SweepResult:
        voltages = sweep_voltages(self.limits, voltages_v, self.max_sweep_points, self.max_voltage_v, self.model)
        compliance = self.check("compliance_a", compliance_a, "compliance_current")
        nplc_value = self.check("nplc", nplc, "nplc")
        delay = require_range("delay_s", delay_s, 0.0, 100.0, "s", f"{self.model} range")
        n = voltages.size
        self._program_voltage(compliance, 0.0)
        self.sense_function = "CURR"
        self.current_autorange = True
        self.nplc = nplc_value
        self.voltage_mode = "LIST"
        self.write(f":SOUR{self.channel}:LIST:VOLT {','.join(fmt(v) for v in voltages)}")  # data, not a setting
        interval = max(delay + nplc_value / self.line_frequency_hz + _TRIGGER_MARGIN_S, self.min_trigger_interval_s)
        self._timer(interval, n, delay)

        def restore() -> None:
            self.voltage_mode = "FIX"
            self.source_voltage = 0.0

        return self._run_timer(n, n * interval, restore)

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
        require_range("width_s", width, 50e-6, 1e5, "s", f"{self.model} range")
        if period < width + self.min_trigger_interval_s:
            raise LimitError(
                "period_s", period_s, f">= width_s + {self.min_trigger_interval_s:g} s", f"{self.model} range"
            )
        if n > 100_000:
            raise LimitError("count", count, "1 .. 100000", f"{self.model} trigger count")
        nplc = pulse_aperture(width, self.line_frequency_hz, self._min_nplc, self.model)
        aperture_s = nplc / self.line_frequency_hz
        self._program_voltage(compliance, base)
        self.source_shape = "PULS"
        self.triggered_voltage = level
        self.pulse_delay_s = 0.0
        self.pulse_width_s = width
        self.sense_function = "CURR"
        # Auto range cannot follow a pulse; the compliance is the largest current there can be.
        self.current_autorange = False
        self.current_range_a = compliance
        self.nplc = nplc
        self._timer(period, n, 0.5 * (width - aperture_s))

        def restore() -> None:
            self.source_shape = "DC"
            self.source_voltage = 0.0

        return self._run_timer(n, n * period, restore)

    def shutdown(self) -> None:
        self._safe_state(
            lambda: self.write(f":ABOR (@{self.channel})"),
            self.output_off,
            lambda: setattr(self, "source_shape", "DC"),
            lambda: setattr(self, "voltage_mode", "FIX"),
            lambda: setattr(self, "source_voltage", 0.0),
            lambda: setattr(self, "source_current", 0.0),
        )


_SOURCE_OHM = 50.0
"""Output impedance of both generators: with an expected load R the levels reach ``R / (R + 50)``
of the source's EMF."""


def _check_termination(termination_ohm: float | None, model: str) -> float | None:
    """``None`` (no terminator: a high-impedance device) or a terminating resistance in ohm."""
    if termination_ohm is None:
        return None
    value = as_number("termination_ohm", termination_ohm)
    return require_range("termination_ohm", value, 1.0, 10e3, "ohm", f"{model} expected-load range")


class _PulseGeneratorMixin(DriverMixin):
    """What the two Keysight generators share: checks, polarity, timing and level ordering, trigger,
    output, snapshot. Subclasses give the model's ranges, ``_prepare`` (load, function) and ``_arm``
    (burst and trigger)."""

    channel: int
    termination_ohm: float | None
    width_range_s: ClassVar[tuple[float, float]]
    period_range_s: ClassVar[tuple[float, float]]
    edge_range_s: ClassVar[tuple[float, float]]
    max_burst: ClassVar[int]
    max_emf_v: ClassVar[float] = 10.0
    """Largest |level| of the source's EMF (the level into an open circuit)."""
    min_amplitude_emf_v: ClassVar[float]
    edge_per_width: ClassVar[float] = 0.625
    """Edges may be at most this fraction of the width (both models)."""
    high_impedance_ohm: ClassVar[float]
    """The expected load programmed for a high-impedance device (no termination)."""
    level_step_v: ClassVar[float]
    """Smallest difference between the high and the low level the model takes."""
    _channel_obj: Any
    _burst_s: float | None = None

    def __init__(
        self,
        adapter: Any,
        name: str | None = None,
        *,
        limits: SafetyLimits | None = None,
        channel: int = 1,
        termination_ohm: float | None = None,
        **kwargs: Any,
    ) -> None:
        self.channel = require_choice("channel", channel, (1, 2), f"{self.model} channels")
        self.termination_ohm = _check_termination(termination_ohm, self.model)
        super().__init__(adapter, name, limits=limits, **kwargs)

    def apply_limits(self) -> None:
        """The channel's levels within what the generator reaches into the bench's termination."""
        self._channel_obj = self.ch_1 if self.channel == 1 else self.ch_2
        self._channel_obj.voltage_high_values = (-self.max_level_v + self.level_step_v, self.max_level_v)
        self._channel_obj.voltage_low_values = (-self.max_level_v, self.max_level_v - self.level_step_v)
        self._channel_obj.burst_ncycles_values = (1, self.max_burst)
    """How long one configured burst lasts (None: not configured yet)."""

    def command_fields(self) -> dict[str, Any]:
        return {"ch": self.channel}

    def configuration(self) -> dict[str, Any]:
        return {"termination_ohm": self.termination_ohm}

    @property
    def output_state(self) -> bool:
        """The channel's output as the generator reports it (pymeasure's channel ``output``)."""
        return bool(self._channel_obj.output)

    @output_state.setter
    def output_state(self, on: bool) -> None:
        self._channel_obj.output = on

    @property
    def expected_load_ohm(self) -> float:
        """The expected load the levels are programmed for: the termination, if the bench has one."""
        return self.high_impedance_ohm if self.termination_ohm is None else self.termination_ohm

    @property
    def _load_fraction(self) -> float:
        """What fraction of the EMF the expected load gets (1 into an open circuit)."""
        r = self.expected_load_ohm
        return 1.0 if math.isinf(r) else r / (r + _SOURCE_OHM)

    @property
    def max_level_v(self) -> float:
        """Largest |level| the generator reaches into the bench's termination."""
        return self.max_emf_v * self._load_fraction

    def _check_pulse(
        self, level_v: float, base_v: float, width_s: float, period_s: float, edge_s: float | None,
        burst_count: int,
    ) -> tuple[float, float, float, float, float | None, int]:
        model = f"{self.model} range"
        level = self.limits.check_pulse_voltage(level_v, "level_v")
        base = self.limits.check_pulse_voltage(base_v, "base_v")
        level = require_range("level_v", level, -self.max_level_v, self.max_level_v, "V", model)
        base = require_range("base_v", base, -self.max_level_v, self.max_level_v, "V", model)
        min_amplitude = self.min_amplitude_emf_v * self._load_fraction
        if abs(level - base) < min_amplitude:
            raise LimitError(
                "level_v", level_v, f"at least {min_amplitude:g} V above or below base_v = {base:g} V", model
            )
        width = self.limits.check_pulse_width(width_s)
        width = require_range("width_s", width, *self.width_range_s, "s", model)
        period = require_range("period_s", period_s, *self.period_range_s, "s", model)
        edge = None if edge_s is None else require_range("edge_s", edge_s, *self.edge_range_s, "s", model)
        if edge is not None and edge > self.edge_per_width * width:
            raise LimitError("edge_s", edge_s, f"<= {self.edge_per_width:g} x width_s = "
                                               f"{self.edge_per_width * width:g} s", model)
        # The pulse and both of its edges must fit in one period.
        edges = self.edge_range_s[0] if edge is None else edge
        if width + 1.6 * edges >= period:
            raise LimitError("period_s", period_s, f"> width_s + 1.6 x edge = {width + 1.6 * edges:g} s", model)
        count = require_int("burst_count", burst_count, 1, self.max_burst, model)
        return level, base, width, period, edge, count

    def configure_pulse(
        self,
        level_v: float,
        width_s: float,
        period_s: float,
        edge_s: float | None = None,
        burst_count: int = 1,
        base_v: float = 0.0,
    ) -> None:
        level, base, width, period, edge, count = self._check_pulse(
            level_v, base_v, width_s, period_s, edge_s, burst_count
        )
        # The pulse goes from the low level to the high one; a pulse below its base is the inverse
        # of one from level to base (inverted about the offset: between pulses the output sits at
        # the high level, the base, and goes to the low level, the pulse level, for width_s).
        high, low, polarity = (level, base, "NORM") if level > base else (base, level, "INV")
        present = self.polarity
        # Flipping the polarity swaps what sits on the device between pulses: do it with the output off.
        hot = not present.startswith(polarity) and self.output_enabled()
        if hot:
            self.output_off()
        self._prepare()
        self._set_timing(width, period, edge)
        self._set_levels(high, low)
        self.polarity = polarity
        self._arm(count)
        self.check_errors()
        self._burst_s = count * period
        if hot:
            self.output_on()

    @abstractmethod
    def _prepare(self) -> None:
        """Model-specific settings before the timing: expected load, function, level guards."""

    @abstractmethod
    def _arm(self, count: int) -> None:
        """Model-specific: ``count`` pulses per bus trigger."""

    def _set_timing(self, width: float, period: float, edge: float | None) -> None:
        """Set edges, width and period in an order where each step fits what the instrument holds:
        it refuses (-221, and shortens the width) a period the present width does not fit in, a
        width the present period cannot hold, and edges longer than the width allows."""
        ch = self._channel_obj
        present_period = float(ch.pulse_period)
        present_edge = float(ch.pulse_transition) if edge is not None else None
        if edge is not None and edge <= present_edge:
            ch.pulse_transition = edge  # shorter edges fit any width and period the longer ones did
        if period >= present_period:
            ch.pulse_period = period  # growing: the present width still fits
            ch.pulse_width = width
        else:
            ch.pulse_width = width  # shrinking: the new width fits both periods
            ch.pulse_period = period
        if edge is not None and edge > present_edge:
            ch.pulse_transition = edge  # longer edges last, when the new width and period hold them

    def _set_levels(self, high: float, low: float) -> None:
        """Set high and low in the order that never puts high below low, which the instrument refuses."""
        ch = self._channel_obj
        if low >= float(ch.voltage_high):
            ch.voltage_high, ch.voltage_low = high, low
        else:
            ch.voltage_low, ch.voltage_high = low, high

    def trigger(self) -> None:
        if self._burst_s is None:
            raise InstrumentError(self.label(), "trigger() before configure_pulse(); configure the pulse first")
        self.check_errors()
        duration_s = self._burst_s
        self.write("*TRG;*WAI")
        with self._allow(2.0 * duration_s + 1.0):
            self.ask("*OPC?")  # type: ignore[attr-defined]

    def fire_burst(self) -> None:
        """Output on, one burst, output off (also when the burst fails). One error check, before the
        output goes on; the trigger and the wait for its end travel as one query."""
        if self._burst_s is None:
            raise InstrumentError(self.label(), "fire_burst() before configure_pulse(); configure the pulse first")
        self.output_on()
        try:
            with self._allow(2.0 * self._burst_s + 1.0):
                self.ask("*TRG;*WAI;*OPC?")  # type: ignore[attr-defined]
        finally:
            self.output_state = False

    def shutdown(self) -> None:
        self._safe_state(self.output_off)


def _recorded_channel(base: type, keys: dict[str, str]) -> type:
    """pymeasure's channel class with the properties memlab uses recorded in the driver's snapshot."""
    return type(f"Recorded{base.__name__}", (base,),
                {name: recorded(getattr(base, name), key) for name, key in keys.items()})


_CHANNEL_KEYS = {
    "output": "output", "output_load": "expected_load_ohm", "shape": "shape", "pulse_period": "period_s",
    "pulse_width": "width_s", "pulse_transition": "edge_s", "voltage_high": "high_level_v",
    "voltage_low": "low_level_v", "burst_ncycles": "burst_count",
}
_Channel33500B = _recorded_channel(
    _PymeasureAgilent33500Channel,
    _CHANNEL_KEYS | {"pulse_hold": "pulse_hold", "burst_mode": "burst_mode", "burst_state": "burst_enabled"})
_Channel81160A = _recorded_channel(
    _PymeasureKeysight81160AChannel,
    _CHANNEL_KEYS | {"limit_high": "level_limit_high_v", "limit_low": "level_limit_low_v",
                     "limit_state_enabled": "level_limit_enabled", "trigger_mode": "arm_source"})


def _polarity(command: str) -> Any:
    return control(f"{command}?", f"{command} %s", "Control the output polarity: 'NORM' or 'INV'.",
                   validator=choice("polarity"), values=("NORM", "INV"), cast=str,
                   get_process=lambda reply: str(reply).strip().upper())


@driver(model="Keysight 33500B", role="pulser", twin="memlab.instruments.sim.pulse_generators:Keysight33500BTwin")
class Keysight33500B(_PulseGeneratorMixin, PulseGenerator, _PymeasureAgilent33500):
    """Keysight 33500B waveform generator as a pulse generator (triggered bursts), one channel.

    ``termination_ohm``: the bench's termination at the device (None, the default: none, a
    high-impedance device). It is programmed as the expected load, so the device sees the
    levels asked for; the levels reach +-10 V into a high impedance, +-5 V into 50 ohm.

    Commands sent (channel 1 shown; pymeasure's formats: times ``%e``, volts ``%f``):

    - configure_pulse: ``OUTP1:POL?`` (and ``OUTP1?`` when the polarity must change: if on,
      ``OUTP1 0`` now and ``SYST:ERR?``, ``OUTP1 1`` at the end), ``OUTP1:LOAD INF`` (or the
      termination, ``50``), ``SOUR1:FUNC PULS``, ``SOUR1:FUNC:PULS:HOLD WIDT``,
      ``SOUR1:FUNC:PULS:PER?``, ``SOUR1:FUNC:PULS:TRAN?`` (only if ``edge_s`` given), then
      ``SOUR1:FUNC:PULS:TRAN:BOTH 8.400000e-09`` (only if ``edge_s`` given; before the width and
      period when shorter than the present edges, after them when longer),
      ``SOUR1:FUNC:PULS:PER 1.000000e-03`` and ``SOUR1:FUNC:PULS:WIDT 1.000000e-07`` (the period
      first when it grows, the width first when it shrinks), ``SOUR1:VOLT:HIGH?``, then
      ``SOUR1:VOLT:HIGH 1.500000`` and ``SOUR1:VOLT:LOW 0.000000`` (in the order the present high
      level allows), ``OUTP1:POL NORM`` (``INV`` for a pulse below its base),
      ``SOUR1:BURS:MODE TRIG``, ``SOUR1:BURS:NCYC 1``, ``SOUR1:BURS:STAT 1``, ``TRIG1:SOUR BUS``,
      ``SYST:ERR?``
    - trigger: ``SYST:ERR?``, ``*TRG;*WAI``, ``*OPC?``
    - output_on: ``SYST:ERR?``, ``OUTP1 1``; off ``OUTP1 0``; state ``OUTP1?``
    - shutdown: ``OUTP1 0``
    - identity: ``*IDN?``
    """

    ch_1 = Instrument.ChannelCreator(_Channel33500B, 1)
    ch_2 = Instrument.ChannelCreator(_Channel33500B, 2)
    polarity = _polarity("OUTP{ch}:POL")
    trigger_source = setting("TRIG{ch}:SOUR %s", "Set the trigger source: 'BUS', 'IMM', 'EXT' or 'TIM'.",
                             validator=choice("trigger_source"), values=("BUS", "IMM", "EXT", "TIM"))
    width_range_s = (16e-9, 1e6)
    period_range_s = (33e-9, 1e6)
    edge_range_s = (8.4e-9, 1e-6)
    max_burst = 100_000_000
    min_amplitude_emf_v = 2e-3  # 1 mVpp into 50 ohm
    high_impedance_ohm = math.inf  # OUTP:LOAD INF

    level_step_v = 1e-3

    def _prepare(self) -> None:
        ch = self._channel_obj
        ch.output_load = "INF" if math.isinf(self.expected_load_ohm) else fmt(self.expected_load_ohm)
        ch.shape = "PULS"
        ch.pulse_hold = "WIDT"

    def _arm(self, count: int) -> None:
        ch = self._channel_obj
        ch.burst_mode = "TRIG"
        ch.burst_ncycles = count
        ch.burst_state = True
        self.write(f"TRIG{self.channel}:SOUR BUS")


@driver(model="Keysight 81160A", role="pulser", twin="memlab.instruments.sim.pulse_generators:Keysight81160ATwin")
class Keysight81160A(_PulseGeneratorMixin, PulseGenerator, _PymeasureKeysight81160A):
    """Keysight 81160A (or 81150A) pulse function generator, one channel.

    ``termination_ohm``: the bench's termination at the device (None, the default: none, a
    high-impedance device, programmed as the 1 Mohm expected load; 50 with a feed-through
    terminator). The device then sees the levels asked for: +-10 V into a high impedance,
    +-5 V into 50 ohm. (An expected load of 50 ohm with no terminator would double every level.)

    The safety limit ``max_pulse_voltage_v`` is also programmed as the instrument's own level limit,
    so not even the front panel can exceed it.

    Commands sent (channel 1 shown; pymeasure's formats: times ``%e``, volts ``%f``):

    - configure_pulse: ``:OUTP1:POL?`` (and ``OUTP1?`` when the polarity must change: if on,
      ``OUTP1 0`` now and ``SYST:ERR?``, ``OUTP1 1`` at the end), ``:VOLT1:LIM:HIGH 10.000000``,
      ``:VOLT1:LIM:LOW -10.000000``, ``:VOLT1:LIM:STAT 1``, ``:OUTP1:LOAD 1.000000e+06`` (or the
      termination, ``5.000000e+01``), ``:FUNC1 PULS``, ``:PULS:PER1?``, ``:FUNC1:PULS:TRAN?`` (only
      if ``edge_s`` given), then ``:FUNC1:PULS:TRAN 1.000000e-09`` (only if ``edge_s`` given; before
      the width and period when shorter than the present edges, after them when longer),
      ``:PULS:PER1 1.000000e-06`` and ``:PULS:WIDT1 5.000000e-09`` (the period first when it grows,
      the width first when it shrinks), ``:VOLT1:HIGH?``, then ``:VOLT1:HIGH 1.000000`` and
      ``:VOLT1:LOW 0.000000`` (in the order the present high level allows), ``:OUTP1:POL NORM``
      (``INV`` for a pulse below its base), ``:ARM:SOUR1 MAN``, then ``:BURS1:STAT OFF`` for one
      pulse per trigger or ``:BURS1:NCYC <n>`` + ``:BURS1:STAT ON`` for n >= 2, ``SYST:ERR?``
    - trigger: ``SYST:ERR?``, ``*TRG;*WAI``, ``*OPC?``
    - output_on: ``SYST:ERR?``, ``OUTP1 1``; off ``OUTP1 0``; state ``OUTP1?``
    - shutdown: ``OUTP1 0``
    - identity: ``*IDN?``
    """

    ch_1 = Instrument.ChannelCreator(_Channel81160A, 1)
    ch_2 = Instrument.ChannelCreator(_Channel81160A, 2)
    polarity = _polarity(":OUTP{ch}:POL")
    burst_enabled = setting(":BURS{ch}:STAT %s", "Set burst mode on (n pulses per trigger) or off (one).",
                            validator=flag("burst_enabled"), set_process=on_off)
    width_range_s = (1.5e-9, 1e6)
    period_range_s = (2e-9, 1e6)
    edge_range_s = (1e-9, 1e3)
    max_burst = 2_147_483_647
    min_amplitude_emf_v = 0.1  # 50 mVpp into 50 ohm
    instrument_limit_v: ClassVar[float] = 10.0
    high_impedance_ohm: ClassVar[float] = 1e6
    """The largest expected load the 81160A takes: what it is told for a high-impedance device."""

    level_step_v = 0.05

    def _prepare(self) -> None:
        ch = self._channel_obj
        guard = min(self.limits.max_pulse_voltage_v, self.instrument_limit_v)
        ch.limit_high = guard
        ch.limit_low = -guard
        ch.limit_state_enabled = True
        ch.output_load = self.expected_load_ohm
        ch.shape = "PULS"

    def _arm(self, count: int) -> None:
        ch = self._channel_obj
        ch.trigger_mode = "MAN"
        # pymeasure 0.16 maps burst_state=True to ":BURS1:STAT 0" on this model: declared here instead.
        if count == 1:
            self.burst_enabled = False
        else:
            ch.burst_ncycles = count
            self.burst_enabled = True
