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
from typing import Any, ClassVar

from pymeasure.instruments import Instrument, SCPIMixin
from pymeasure.instruments.thorlabs import ThorlabsPM100USB as _PymeasureThorlabsPM100USB

from .calibration import LaserCalibration
from .clock import Clock, WallClock
from .interfaces import DriverMixin, InstrumentError, LightSource, PowerMeter, fmt
from .limits import SafetyLimits, require_int, require_range

log = logging.getLogger(__name__)


class _LaserMixin(DriverMixin):
    """What both laser controllers share: calibration, clock, power checks, interlocks, snapshot."""

    max_current_a: ClassVar[float]
    current_command: ClassVar[str]
    limit_command: ClassVar[str]
    output_command: ClassVar[str]
    tec_command: ClassVar[str]
    trip_queries: ClassVar[tuple[str, ...]]

    def __init__(
        self,
        adapter: Any,
        name: str | None = None,
        *,
        calibration: LaserCalibration,
        limits: SafetyLimits | None = None,
        wavelength_m: float | None = None,
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
            "wavelength_m", wavelength, 100e-9, 20e-6, "m", "plausible laser wavelengths"
        )
        self.clock: Clock = clock if clock is not None else WallClock()
        self.enable_tec = bool(enable_tec)
        super().__init__(adapter, name, limits=limits, **kwargs)

    @property
    def wavelength_m(self) -> float:
        return self._wavelength_m

    def _current_for(self, power_w: float) -> float:
        power = self.limits.check_laser_power(power_w)
        current = self.calibration.current_for_power(power)
        self.limits.check_laser_current(current, "current_a (from power_w via the calibration)")
        return require_range("current_a", current, 0.0, self.max_current_a, "A", f"{self.model} range")

    def _program_current(self, power_w: float) -> None:
        current = self._current_for(power_w)
        # The controller's own current limit goes first, like a compliance before a level.
        hardware_limit = min(self.limits.max_laser_current_a, self.max_current_a)
        self.write(f"{self.limit_command} {fmt(hardware_limit)}")
        self.write(f"{self.current_command} {fmt(current)}")
        self._settings.update(power_w=float(power_w), current_a=current, current_limit_a=hardware_limit)

    def set_power(self, power_w: float) -> None:
        self._program_current(power_w)

    def _tripped(self) -> list[str]:
        """The protection queries that do not answer a clear 0 (odd replies count as tripped: fail safe)."""
        clear = ("0", "0.0", "+0")
        return [query for query in self.trip_queries if self.ask(query).strip() not in clear]  # type: ignore[attr-defined]

    def interlock_ok(self) -> bool:
        return not self._tripped()

    def _ready_for_light(self) -> None:
        tripped = self._tripped()
        if tripped:
            raise InstrumentError(
                self.label(),
                f"protection tripped ({', '.join(tripped)}): close the interlock or key lock, or let it cool, "
                "then switch on again",
            )
        self.check_errors()
        if self.enable_tec:
            self.write(self.tec_command)

    def output_on(self) -> None:
        self._ready_for_light()
        self.write(f"{self.output_command} 1")
        self._settings["output"] = True

    def output_off(self) -> None:
        self.write(f"{self.output_command} 0")
        self._settings["output"] = False

    def output_enabled(self) -> bool:
        return bool(self._ask_float(f"{self.output_command}?"))

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
        self._safe_state(self.output_off, lambda: self.write(f"{self.current_command} 0"))
        self._settings.update(power_w=0.0, current_a=0.0)

    def snapshot(self) -> dict[str, Any]:
        snap = super().snapshot()
        snap["wavelength_m"] = self.wavelength_m
        snap["calibration"] = self.calibration.to_dict()
        return snap


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
    - shutdown: ``OUTP1 0``, ``SOUR1:CURR 0``
    - identity: ``*IDN?``
    """

    model = "Thorlabs ITC4001"
    max_current_a = 1.0
    current_command = "SOUR1:CURR"
    limit_command = "SOUR1:CURR:LIM"
    output_command = "OUTP1"
    tec_command = "OUTP2 1"
    trip_queries = ("OUTP1:PROT:INTL:TRIP?", "OUTP1:PROT:KEYL:TRIP?", "OUTP1:PROT:OTEM:TRIP?")
    min_gap_s: ClassVar[float] = 10e-3
    modulation_range_hz: ClassVar[tuple[float, float]] = (1.0, 100e3)

    def pulse(self, power_w: float, width_s: float, period_s: float, count: int) -> None:
        current = self._current_for(power_w)  # checks before anything is sent
        width, period, n = self._check_pulses(width_s, period_s, count, 1e-5, self.min_gap_s)
        self._program_current(power_w)
        self.write("SOUR:FUNC:SHAP PULS")
        self.write(f"SOUR:PULS:PER {fmt(period)}")
        self.write(f"SOUR:PULS:WIDT {fmt(width)}")
        self.write("TRIG:SOUR INT")
        self._settings.update(pulse_width_s=width, pulse_period_s=period, current_a=current)
        try:
            self.output_on()
            self.clock.sleep((n - 1) * period + width + 0.5 * (period - width))
        finally:
            self._quietly(self.output_off, lambda: self.write("SOUR:FUNC:SHAP DC"))

    def set_modulation(self, enabled: bool, frequency_hz: float | None = None, depth: float | None = None) -> None:
        if not enabled:
            self.write("SOUR1:AM 0")
            self._settings["modulation"] = None
            return
        if frequency_hz is None and depth is None:
            self.write("SOUR1:AM:SOUR EXT")
            self.write("SOUR1:AM 1")
            self._settings["modulation"] = {"source": "external"}
            return
        if frequency_hz is None or depth is None:
            raise ValueError(
                f"set_modulation: frequency_hz={frequency_hz!r}, depth={depth!r}: give both for internal "
                "modulation, or neither for the external input"
            )
        frequency = require_range("frequency_hz", frequency_hz, *self.modulation_range_hz, "Hz", f"{self.model} range")
        fraction = require_range("depth", depth, 0.0, 1.0, "", "modulation depth (fraction of the set power)")
        self.write("SOUR1:AM:SOUR INT")
        self.write("SOUR1:AM:INT:SHAP SIN")
        self.write(f"SOUR1:AM:INT:FREQ {fmt(frequency)}")
        self.write(f"SOUR1:AM:INT:DEPT {fmt(100.0 * fraction)}")
        self.write("SOUR1:AM 1")
        self._settings["modulation"] = {"source": "internal", "frequency_hz": frequency, "depth": fraction}


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
    - shutdown: ``OUTP1:STAT 0``, ``SOUR:CURR 0``
    - identity: ``*IDN?``
    """

    model = "Thorlabs CLD101x"
    max_current_a = 1.5
    current_command = "SOUR:CURR"
    limit_command = "SOUR:CURR:LIM:AMPL"
    output_command = "OUTP1:STAT"
    tec_command = "OUTP2:STAT 1"
    trip_queries = ("OUTP1:PROT:INTL:TRIP?", "OUTP1:PROT:KEYL:TRIP?")
    min_software_time_s: ClassVar[float] = 10e-3

    def pulse(self, power_w: float, width_s: float, period_s: float, count: int) -> None:
        self._current_for(power_w)
        shortest = self.min_software_time_s
        width, period, n = self._check_pulses(width_s, period_s, count, shortest, shortest)
        self._program_current(power_w)
        self._ready_for_light()
        on, off = f"{self.output_command} 1", f"{self.output_command} 0"
        try:
            for k in range(n):
                self.write(on)
                self.clock.sleep(width)
                self.write(off)
                if k < n - 1:
                    self.clock.sleep(period - width)
        finally:
            self._quietly(self.output_off)
        self._settings.update(pulse_width_s=width, pulse_period_s=period)

    def set_modulation(self, enabled: bool, frequency_hz: float | None = None, depth: float | None = None) -> None:
        if enabled and (frequency_hz is not None or depth is not None):
            raise ValueError(
                f"set_modulation: frequency_hz={frequency_hz!r}, depth={depth!r}: the {self.model} has no internal "
                "modulator; drive its modulation input from a generator and leave both None"
            )
        self.write(f"SOUR:AM:STAT {1 if enabled else 0}")
        self._settings["modulation"] = {"source": "external"} if enabled else None


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

    model = "Thorlabs PM100"
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
        self._settings["sensor"] = sensor

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

    _wavelength_nm = Instrument.control(
        "SENS:CORR:WAV?", "SENS:CORR:WAV %s",
        """Control the correction wavelength in nanometres (checked with SYST:ERR? after setting).""",
        set_process=fmt,
        check_set_errors=True,
    )

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
        self._settings["wavelength_m"] = metres

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
        self.write(f"SENS:POW:DC:RANG:AUTO {1 if auto_range else 0}")
        self.write(f"SENS:AVER:COUN {n}")
        self.check_errors()
        self._settings.update(averages=n, auto_range=bool(auto_range))

    def read_power_w(self) -> float:
        if not self._unit_set:
            # The front panel may have been left in dBm; readings are watts only after this.
            self.write("SENS:POW:DC:UNIT W")
            self._unit_set = True
        value = self.power
        if not isinstance(value, float):
            raise InstrumentError(self.label(), f"unexpected reply {value!r} to 'MEAS:POW?'; expected a number")
        return value

    def shutdown(self) -> None:
        self._safe_state()
