"""Thorlabs drivers: ITC4001 and CLD101x laser diode controllers, PM100 optical power meter.

Command strings follow ``reference/instruments.md``; each class lists at the top of its docstring the
exact commands it sends, which its simulated twin under ``instruments/sim/`` must understand.
Optical power is set through the diode current of a :class:`~instruments.calibration.LaserCalibration`.
Pulse trains that the controller cannot count itself are timed on the bench clock, so that in
simulation they take virtual time.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

from pymeasure.instruments import Instrument, SCPIMixin
from pymeasure.instruments.thorlabs import ThorlabsPM100USB as _PymeasureThorlabsPM100USB

from .calibration import LaserCalibration
from .clock import Clock, WallClock
from .limits import Bound, LimitError, SafetyLimits, as_number, require_choice, require_int, require_range, within
from .plumbing import DriverMixin, InstrumentError, control, driver, flag, fmt, number, one_zero, setting
from .roles import LightSource, PowerMeter


def _choice(parameter: str) -> Any:
    return lambda value, values: require_choice(parameter, value, tuple(values))


def _number(parameter: str) -> Any:
    return lambda value, values: as_number(parameter, value)


def _laser_settings(current: str, limit: str, output: str, tec: str) -> tuple[Any, Any, Any, Any]:
    """The settings both laser controllers declare, with their own command headers:
    ``laser_current, current_limit, output_state, tec_enabled``."""
    return (
        control(
            f"{current}?", f"{current} %s", "Control the diode current (A), within the safety limit and the model range.",
            key="current_a", validator=within("current_a"), values=(0.0, 1.0), set_process=fmt, get_process=number),
        control(
            f"{limit}?", f"{limit} %s", "Control the controller's own hardware current limit (A).",
            key="current_limit_a", validator=within("current_limit_a"), values=(0.0, 1.0), set_process=fmt,
            get_process=number),
        control(
            f"{output}?", f"{output} %s", "Control the laser output (True: on); reading asks the controller.",
            key="output", validator=flag("output"), set_process=one_zero, get_process=lambda reply: bool(number(reply))),
        setting(f"{tec} %s", "Set the TEC output on.", validator=flag("tec_enabled"), set_process=one_zero),
    )

log = logging.getLogger(__name__)

#: a requested wavelength within this of a line of a multi-line source selects that line
LINE_TOLERANCE_M = 0.5e-9
PLAUSIBLE_WAVELENGTHS_M = (100e-9, 20e-6)


def check_tuning(lines_m: Any = None, range_m: Any = None, where: str = "") -> tuple[tuple[float, ...] | None,
                                                                                 tuple[float, float] | None]:
    """The declared tuning of a laser head: ``lines_m`` (a multi-line source: at least two distinct
    wavelengths) or ``range_m`` (a tunable source: ``[shortest, longest]``), not both.

    Returns them as sorted tuples; raises LimitError naming the option, the value and what is allowed."""
    low, high = PLAUSIBLE_WAVELENGTHS_M
    if lines_m is not None and range_m is not None:
        raise LimitError(f"{where}wavelength_range_m", range_m, "nothing when wavelengths_m is given (a source is "
                                                                "either multi-line or continuously tunable)",
                         "laser tuning")
    lines = None
    if lines_m is not None:
        if isinstance(lines_m, (str, bytes)) or not isinstance(lines_m, Sequence) or len(lines_m) < 2:
            raise LimitError(f"{where}wavelengths_m", lines_m, "a list of at least two wavelengths in metres",
                             "laser tuning")
        values = sorted(require_range(f"{where}wavelengths_m", w, low, high, "m", "plausible laser wavelengths")
                        for w in lines_m)
        if any(b - a <= LINE_TOLERANCE_M for a, b in zip(values, values[1:])):
            raise LimitError(f"{where}wavelengths_m", lines_m,
                             f"distinct lines, more than {LINE_TOLERANCE_M:g} m apart", "laser tuning")
        lines = tuple(values)
    span = None
    if range_m is not None:
        if isinstance(range_m, (str, bytes)) or not isinstance(range_m, Sequence) or len(range_m) != 2:
            raise LimitError(f"{where}wavelength_range_m", range_m, "[shortest, longest] in metres", "laser tuning")
        a, b = (require_range(f"{where}wavelength_range_m", w, low, high, "m", "plausible laser wavelengths")
                for w in range_m)
        if not a < b:
            raise LimitError(f"{where}wavelength_range_m", range_m, "[shortest, longest] with shortest < longest",
                             "laser tuning")
        span = (a, b)
    return lines, span


class _LaserMixin(DriverMixin):
    """What both laser controllers share: calibration, clock, power checks, interlocks, snapshot.

    The emission wavelength is the diode's, fixed, unless the bench file declares a tunable head
    (``wavelength_range_m``) or a multi-line one (``wavelengths_m``); then :meth:`set_wavelength`
    selects it with ``SOUR:WAV <m>``, the SCPI form tunable sources take (a head that needs another
    command needs its own driver). The calibration is assumed to hold at every wavelength."""

    max_current_a: ClassVar[float]
    trip_queries: ClassVar[tuple[str, ...]]
    emission_wavelength = setting("SOUR:WAV %s", "Set the emission wavelength of a tunable or multi-line head (m).",
                                  key="emission_wavelength_m", validator=_number("wavelength_m"), set_process=fmt)

    @classmethod
    def check_bench_options(cls, model: str | None, options: dict[str, Any]) -> None:
        """A malformed tuning declaration is refused when the bench file is read."""
        check_tuning(options.get("wavelengths_m"), options.get("wavelength_range_m"), "options.")

    def __init__(
        self,
        adapter: Any,
        name: str | None = None,
        *,
        calibration: LaserCalibration,
        limits: SafetyLimits | None = None,
        wavelength_m: float | None = None,
        wavelengths_m: Sequence[float] | None = None,
        wavelength_range_m: Sequence[float] | None = None,
        clock: Clock | None = None,
        enable_tec: bool = False,
        **kwargs: Any,
    ) -> None:
        if not isinstance(calibration, LaserCalibration):
            raise TypeError(f"calibration must be a LaserCalibration, got {type(calibration).__name__}")
        wavelength = wavelength_m if wavelength_m is not None else calibration.wavelength_m
        if wavelength is None:
            raise ValueError("wavelength_m: give it, or a calibration that has one (LaserCalibration.wavelength_m)")
        self.calibration = calibration
        self._wavelength_m = require_range(
            "wavelength_m", wavelength, *PLAUSIBLE_WAVELENGTHS_M, "m", "plausible laser wavelengths"
        )
        self.wavelength_lines_m, self.wavelength_range_m = check_tuning(wavelengths_m, wavelength_range_m)
        if self.tunable:
            # The head starts at the calibration's wavelength: it must be one it can emit.
            self._wavelength_m = self._allowed_wavelength(self._wavelength_m, "wavelength_m")
        self.clock: Clock = clock if clock is not None else WallClock()
        self.enable_tec = bool(enable_tec)
        super().__init__(adapter, name, limits=limits, **kwargs)

    @property
    def wavelength_m(self) -> float:
        return self._wavelength_m

    @property
    def tunable(self) -> bool:
        return self.wavelength_lines_m is not None or self.wavelength_range_m is not None

    def allowed_wavelengths(self) -> str:
        """What :meth:`set_wavelength` accepts, in words."""
        if self.wavelength_lines_m is not None:
            return "one of the lines " + ", ".join(f"{w:g}" for w in self.wavelength_lines_m) + " m"
        if self.wavelength_range_m is not None:
            low, high = self.wavelength_range_m
            return f"{low:g} .. {high:g} m (the tunable range)"
        return f"{self._wavelength_m:g} m only (a fixed diode; declare wavelengths_m or wavelength_range_m " \
               "in the bench file for a multi-line or tunable head)"

    def _allowed_wavelength(self, wavelength_m: float, parameter: str = "wavelength_m") -> float:
        value = as_number(parameter, wavelength_m)
        if self.wavelength_lines_m is not None:
            for line in self.wavelength_lines_m:
                if abs(value - line) <= LINE_TOLERANCE_M:
                    return line
        elif self.wavelength_range_m is not None:
            low, high = self.wavelength_range_m
            if low <= value <= high:
                return value
        elif abs(value - self._wavelength_m) <= LINE_TOLERANCE_M:
            return self._wavelength_m
        raise LimitError(parameter, wavelength_m, self.allowed_wavelengths(), f"{self.model} emission")

    def check_wavelength(self, wavelength_m: float, parameter: str = "wavelength_m") -> float:
        """The wavelength :meth:`set_wavelength` would select for ``wavelength_m``, sending nothing;
        LimitError if the head cannot emit it."""
        return self._allowed_wavelength(wavelength_m, parameter)

    def set_wavelength(self, wavelength_m: float) -> None:
        """Select the emission wavelength (a line of a multi-line head, or any in a tunable range).
        A fixed diode accepts only its own wavelength, and then sends nothing."""
        value = self._allowed_wavelength(wavelength_m)
        if self.tunable:
            self.emission_wavelength = value
        self._wavelength_m = value

    def configuration(self) -> dict[str, Any]:
        result = dict(super().configuration())
        if self.wavelength_lines_m is not None:
            result["wavelengths_m"] = list(self.wavelength_lines_m)
        if self.wavelength_range_m is not None:
            result["wavelength_range_m"] = list(self.wavelength_range_m)
        return result

    def apply_limits(self) -> None:
        model = Bound(0.0, self.max_current_a, f"{self.model} range", "A")
        self.set_bounds("laser_current", (
            Bound(0.0, self.limits.max_laser_current_a, "safety limit (SafetyLimits.max_laser_current_a)", "A"), model))
        self.set_bounds("current_limit", (model,))

    def _current_for(self, power_w: float) -> float:
        power = self.limits.check_laser_power(power_w)
        current = self.calibration.current_for_power(power)
        return self.check("current_a (from power_w via the calibration)", current, "laser_current")

    def _program_current(self, power_w: float) -> None:
        current = self._current_for(power_w)
        # The controller's own current limit goes first, like a compliance before a level.
        self.current_limit = min(self.limits.max_laser_current_a, self.max_current_a)
        self.laser_current = current

    def settings(self) -> dict[str, Any]:
        result = super().settings()
        if "current_a" in result:  # the optical power the recorded current gives, per the calibration
            try:
                result["power_w"] = self.calibration.power_for_current(result["current_a"])
            except ValueError:
                result["power_w"] = None
        return result

    def set_power(self, power_w: float) -> None:
        self._program_current(power_w)

    def _tripped(self) -> list[str]:
        """The protection queries that do not answer a clear 0 (odd replies count as tripped: fail safe)."""
        clear = ("0", "0.0", "+0")
        return [query for query in self.trip_queries if self.ask(query).strip() not in clear]  # type: ignore[attr-defined]

    def interlock_ok(self) -> bool:
        return not self._tripped()

    def ready_for_output(self) -> None:
        """Refuses to light while a protection is tripped or an error is pending; switches the TEC on."""
        tripped = self._tripped()
        if tripped:
            raise InstrumentError(
                self.label(),
                f"protection tripped ({', '.join(tripped)}): close the interlock or key lock, or let it cool, "
                "then switch on again",
            )
        self.check_errors()
        if self.enable_tec:
            self.tec_enabled = True

    def _check_pulses(
        self, width_s: float, period_s: float, count: int, min_width_s: float, min_gap_s: float
    ) -> tuple[float, float, int]:
        width = self.limits.check_pulse_width(width_s)
        width = require_range("width_s", width, min_width_s, 1e3, "s", f"{self.model} range")
        period = require_range("period_s", period_s, width + min_gap_s, 1e4, "s",
                               f"{self.model} range (period >= width_s + {min_gap_s:g} s)")
        n = require_int("count", count, 1, 10_000_000)
        return width, period, n

    def shutdown(self) -> None:
        self._safe_state(self.output_off, lambda: setattr(self, "laser_current", 0.0))

    def snapshot(self) -> dict[str, Any]:
        snap = super().snapshot()
        snap["wavelength_m"] = self.wavelength_m
        snap["calibration"] = self.calibration.to_dict()
        return snap


@driver(model="Thorlabs ITC4001", role="laser", twin="memlab.instruments.sim.thorlabs:ThorlabsITC4001Twin")
class ThorlabsITC4001(_LaserMixin, LightSource, SCPIMixin, Instrument):
    """Thorlabs ITC4001 laser diode and TEC controller.

    Pulses use its QCW mode (the controller times each pulse); the number of pulses is counted on the
    bench clock, switching the output off in the gap after the last one, hence the minimum gap.

    Commands sent:

    - set_power: ``SOUR1:CURR:LIM <limit A>``, ``SOUR1:CURR <A>``
    - output_on: ``OUTP1:PROT:INTL:TRIP?``, ``OUTP1:PROT:KEYL:TRIP?``, ``OUTP1:PROT:OTEM:TRIP?`` (each ``0``
      when clear), ``SYST:ERR?``, ``OUTP2 1`` (only with ``enable_tec``), ``OUTP1 1``; off ``OUTP1 0``;
      state ``OUTP1?``
    - pulse: ``SOUR1:CURR:LIM <limit A>``, ``SOUR1:CURR <A>``, ``SOUR:FUNC:SHAP PULS``, ``SOUR:PULS:PER <s>``,
      ``SOUR:PULS:WIDT <s>``, ``TRIG:SOUR INT``, the output_on sequence, clock sleep
      ``(count - 1) x period + width + gap / 2``, ``OUTP1 0``, ``SOUR:FUNC:SHAP DC``
    - set_modulation: internal ``SOUR1:AM:SOUR INT``, ``SOUR1:AM:INT:SHAP SIN``, ``SOUR1:AM:INT:FREQ <Hz>``,
      ``SOUR1:AM:INT:DEPT <percent>``, ``SOUR1:AM 1``; external ``SOUR1:AM:SOUR EXT``, ``SOUR1:AM 1``;
      off ``SOUR1:AM 0``
    - interlock_ok: the three ``...:TRIP?`` queries above
    - set_wavelength: ``SOUR:WAV <m>`` (only for a head declared tunable or multi-line)
    - shutdown: ``OUTP1 0``, ``SOUR1:CURR 0``
    - identity: ``*IDN?``
    """

    max_current_a = 1.0
    laser_current, current_limit, output_state, tec_enabled = _laser_settings(
        "SOUR1:CURR", "SOUR1:CURR:LIM", "OUTP1", "OUTP2")
    source_shape = setting("SOUR:FUNC:SHAP %s", "Set the current shape: 'DC' or 'PULS' (QCW).",
                           validator=_choice("source_shape"), values=("DC", "PULS"))
    pulse_period_s = setting("SOUR:PULS:PER %s", "Set the QCW pulse period (s).", key="pulse_period_s",
                             validator=_number("pulse_period_s"), set_process=fmt)
    pulse_width_s = setting("SOUR:PULS:WIDT %s", "Set the QCW pulse width (s).", key="pulse_width_s",
                            validator=_number("pulse_width_s"), set_process=fmt)
    trigger_source = setting("TRIG:SOUR %s", "Set the pulse trigger: 'INT' or 'EXT'.",
                             validator=_choice("trigger_source"), values=("INT", "EXT"))
    modulation_source = setting("SOUR1:AM:SOUR %s", "Set the modulation source: 'INT' or 'EXT'.",
                                validator=_choice("modulation_source"), values=("INT", "EXT"))
    modulation_shape = setting("SOUR1:AM:INT:SHAP %s", "Set the internal modulation shape.",
                               validator=_choice("modulation_shape"), values=("SIN", "SQU", "TRI"))
    modulation_frequency_hz = setting("SOUR1:AM:INT:FREQ %s", "Set the internal modulation frequency (Hz).",
                                      key="modulation_frequency_hz", validator=_number("frequency_hz"),
                                      set_process=fmt)
    modulation_depth_percent = setting("SOUR1:AM:INT:DEPT %s", "Set the internal modulation depth (%).",
                                       key="modulation_depth_percent", validator=_number("depth"), set_process=fmt)
    modulation_enabled = setting("SOUR1:AM %s", "Set amplitude modulation on or off.", key="modulation",
                                 validator=flag("modulation"), set_process=one_zero)
    trip_queries = ("OUTP1:PROT:INTL:TRIP?", "OUTP1:PROT:KEYL:TRIP?", "OUTP1:PROT:OTEM:TRIP?")
    min_gap_s: ClassVar[float] = 10e-3
    modulation_range_hz: ClassVar[tuple[float, float]] = (1.0, 100e3)

    def pulse(self, power_w: float, width_s: float, period_s: float, count: int) -> None:
        current = self._current_for(power_w)  # checks before anything is sent
        width, period, n = self._check_pulses(width_s, period_s, count, 1e-5, self.min_gap_s)
        self._program_current(power_w)
        self.source_shape = "PULS"
        self.pulse_period_s = period
        self.pulse_width_s = width
        self.trigger_source = "INT"
        try:
            self.output_on()
            self.clock.sleep((n - 1) * period + width + 0.5 * (period - width))
        finally:
            self._quietly(self.output_off, lambda: setattr(self, "source_shape", "DC"))

    def set_modulation(self, enabled: bool, frequency_hz: float | None = None, depth: float | None = None) -> None:
        if not enabled:
            self.modulation_enabled = False
            return
        if frequency_hz is None and depth is None:
            self.modulation_source = "EXT"
            self.modulation_enabled = True
            return
        if frequency_hz is None or depth is None:
            raise ValueError(
                f"set_modulation: frequency_hz={frequency_hz!r}, depth={depth!r}: give both for internal "
                "modulation, or neither for the external input"
            )
        frequency = require_range("frequency_hz", frequency_hz, *self.modulation_range_hz, "Hz", f"{self.model} range")
        fraction = require_range("depth", depth, 0.0, 1.0, "", "modulation depth (fraction of the set power)")
        self.modulation_source = "INT"
        self.modulation_shape = "SIN"
        self.modulation_frequency_hz = frequency
        self.modulation_depth_percent = 100.0 * fraction
        self.modulation_enabled = True


@driver(model="Thorlabs CLD101x", role="laser", twin="memlab.instruments.sim.thorlabs:ThorlabsCLD101xTwin")
class ThorlabsCLD101x(_LaserMixin, LightSource, SCPIMixin, Instrument):
    """Thorlabs CLD1010/CLD1011/CLD1015 compact laser diode driver.

    It has no pulse mode and no internal modulator: pulses are switched by the output on the bench
    clock (so widths and gaps of at least 10 ms), and modulation comes only from its external input.

    Commands sent:

    - set_power: ``SOUR:CURR:LIM:AMPL <limit A>``, ``SOUR:CURR <A>``
    - output_on: ``OUTP1:PROT:INTL:TRIP?``, ``OUTP1:PROT:KEYL:TRIP?`` (each ``0`` when clear), ``SYST:ERR?``,
      ``OUTP2:STAT 1`` (only with ``enable_tec``), ``OUTP1:STAT 1``; off ``OUTP1:STAT 0``; state ``OUTP1:STAT?``
    - pulse: ``SOUR:CURR:LIM:AMPL <limit A>``, ``SOUR:CURR <A>``, the output_on checks, then per pulse
      ``OUTP1:STAT 1``, clock sleep width, ``OUTP1:STAT 0``, clock sleep period - width (not after the last)
    - set_modulation: external only, ``SOUR:AM:STAT 1``; off ``SOUR:AM:STAT 0``
    - interlock_ok: the two ``...:TRIP?`` queries above
    - set_wavelength: ``SOUR:WAV <m>`` (only for a head declared tunable or multi-line)
    - shutdown: ``OUTP1:STAT 0``, ``SOUR:CURR 0``
    - identity: ``*IDN?``
    """

    max_current_a = 1.5
    laser_current, current_limit, output_state, tec_enabled = _laser_settings(
        "SOUR:CURR", "SOUR:CURR:LIM:AMPL", "OUTP1:STAT", "OUTP2:STAT")
    modulation_enabled = setting("SOUR:AM:STAT %s", "Set modulation from the external input on or off.",
                                 key="modulation", validator=flag("modulation"), set_process=one_zero)
    trip_queries = ("OUTP1:PROT:INTL:TRIP?", "OUTP1:PROT:KEYL:TRIP?")
    min_software_time_s: ClassVar[float] = 10e-3

    def pulse(self, power_w: float, width_s: float, period_s: float, count: int) -> None:
        self._current_for(power_w)
        shortest = self.min_software_time_s
        width, period, n = self._check_pulses(width_s, period_s, count, shortest, shortest)
        self._program_current(power_w)
        self.ready_for_output()
        try:
            for k in range(n):
                self.output_state = True
                self.clock.sleep(width)
                self.output_state = False
                if k < n - 1:
                    self.clock.sleep(period - width)
        finally:
            self._quietly(self.output_off)

    def set_modulation(self, enabled: bool, frequency_hz: float | None = None, depth: float | None = None) -> None:
        if enabled and (frequency_hz is not None or depth is not None):
            raise ValueError(
                f"set_modulation: frequency_hz={frequency_hz!r}, depth={depth!r}: the {self.model} has no internal "
                "modulator; drive its modulation input from a generator and leave both None"
            )
        self.modulation_enabled = bool(enabled)


@driver(model="Thorlabs PM100", role="power_meter", twin="memlab.instruments.sim.thorlabs:ThorlabsPM100Twin")
class ThorlabsPM100(DriverMixin, PowerMeter, _PymeasureThorlabsPM100USB):
    """Thorlabs PM100 (PM100USB/PM100D/PM100A) optical power meter.

    pymeasure's constructor asks the sensor for its identity; this one sends nothing when created
    (the sensor query is :meth:`sensor_info`), and assumes a power sensor with settable wavelength.

    ``sensor``: the head on the meter, when it is one of :attr:`sensors` (``"S120C"`` silicon,
    400..1100 nm; ``"S122C"`` germanium, 700..1800 nm); a wavelength outside its range is then
    refused before anything is sent. None (default): any wavelength the PM100 family takes, left to
    the head to refuse.

    Commands sent:

    - wavelength_m: ``SENS:CORR:WAV <nm>`` then ``SYST:ERR?``; read ``SENS:CORR:WAV?`` (nm)
    - read_power_w: ``SENS:POW:DC:UNIT W`` (first reading only), ``MEAS:POW?``
    - configure: ``SENS:POW:DC:RANG:AUTO 1|0``, ``SENS:AVER:COUN <n>``, ``SYST:ERR?``
    - sensor_info: ``SYST:SENSOR:IDN?``
    - shutdown: nothing (no output to switch off)
    - identity: ``*IDN?``
    """

    sensors: ClassVar[dict[str, tuple[float, float]]] = {
        "S120C": (400e-9, 1100e-9),
        "S122C": (700e-9, 1800e-9),
    }
    """Photodiode heads memlab knows: name -> (shortest, longest) wavelength in metres."""

    def __init__(
        self,
        adapter: Any,
        name: str | None = None,
        *,
        limits: SafetyLimits | None = None,
        sensor: str | None = None,
        **kwargs: Any,
    ):
        if sensor is not None and sensor not in self.sensors:
            raise ValueError(f"sensor={sensor!r}: allowed {', '.join(sorted(self.sensors))} or None (any head)")
        self.sensor = sensor
        self._unit_set = False
        with warnings.catch_warnings():
            # pymeasure flags the PM100 as "SCPI support unknown"; it does speak SCPI.
            warnings.filterwarnings("ignore", message="It is not known whether this device support SCPI",
                                    category=FutureWarning)
            super().__init__(adapter, name, limits=limits, **kwargs)

    def configuration(self) -> dict[str, Any]:
        return {"sensor": self.sensor}

    def _set_flags(self) -> None:
        """Called by pymeasure's constructor: record assumptions instead of querying the sensor there."""
        self.sensor_name = "unknown (call sensor_info())"
        self.is_power_sensor = True
        self.is_energy_sensor = False
        self.wavelength_settable = True

    def sensor_info(self) -> dict[str, Any]:
        """Ask the head what it is (pymeasure's sensor query) and return its name, serial and type."""
        _PymeasureThorlabsPM100USB._set_flags(self)
        return {
            "name": self.sensor_name,
            "serial": self.sensor_sn,
            "type": self.sensor_type,
            "power_sensor": self.is_power_sensor,
            "wavelength_settable": self.wavelength_settable,
        }

    _wavelength_nm = control(
        "SENS:CORR:WAV?", "SENS:CORR:WAV %s",
        """Control the correction wavelength in nanometres (checked with SYST:ERR? after setting).""",
        key="wavelength_m", record=lambda nm: float(nm) * 1e-9, set_process=fmt, get_process=number,
        check_set_errors=True,
    )
    auto_range = setting("SENS:POW:DC:RANG:AUTO %s", "Set power auto-ranging on or off.",
                         validator=flag("auto_range"), set_process=one_zero)
    averages = setting("SENS:AVER:COUN %d", "Set how many samples (about 3 ms each) each reading averages.",
                       validator=lambda value, values: require_int("averages", value, 1, 100_000))
    power_unit = setting("SENS:POW:DC:UNIT %s", "Set the unit of power readings: 'W' or 'DBM'.",
                         validator=_choice("power_unit"), values=("W", "DBM"))

    @property
    def wavelength_m(self) -> float:
        return float(self._wavelength_nm) * 1e-9

    @wavelength_m.setter
    def wavelength_m(self, value: float) -> None:
        if self.sensor is None:
            metres = require_range("wavelength_m", value, 150e-9, 30e-6, "m", f"{self.model} sensors")
        else:
            low, high = self.sensors[self.sensor]
            metres = require_range("wavelength_m", value, low, high, "m", f"{self.sensor} sensor range")
        self._wavelength_nm = metres * 1e9

    @property
    def wavelength(self) -> float:
        """pymeasure's wavelength in nm, through :attr:`wavelength_m` (out of range: refused, not clamped)."""
        return self.wavelength_m * 1e9

    @wavelength.setter
    def wavelength(self, value_nm: float) -> None:
        self.wavelength_m = float(value_nm) * 1e-9

    def configure(self, averages: int = 1, auto_range: bool = True) -> None:
        """Averaging (``averages`` samples of about 3 ms each) and auto ranging."""
        n = require_int("averages", averages, 1, 100_000, f"{self.model} range")
        self.auto_range = bool(auto_range)
        self.averages = n
        self.check_errors()

    def read_power_w(self) -> float:
        if not self._unit_set:
            # The front panel may have been left in dBm; readings are watts only after this.
            self.power_unit = "W"
            self._unit_set = True
        value = self.power
        if not isinstance(value, float):
            raise InstrumentError(self.label(), f"unexpected reply {value!r} to 'MEAS:POW?'; expected a number")
        return value

    def shutdown(self) -> None:
        self._safe_state()
