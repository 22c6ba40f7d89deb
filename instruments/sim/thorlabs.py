"""Twins of the Thorlabs optics: ITC4001 and CLD101x laser diode controllers, PM100 power meter.

- The laser controllers keep the LD current, its limit, the LD and TEC outputs, modulation and
  (ITC4001) the QCW pulse settings. The diode emits ``P(I)`` from its *true* characteristic, a
  current -> power table (linear past the last point), 0 W below threshold. While the LD output is
  on the world puts that power on the chip spot (times the bench's coupling efficiency); with QCW
  pulses the chip sees the average power. The TEC temperature approaches its set point with a
  5 s time constant (ambient 23 C when off). A head declared tunable or multi-line takes
  ``SOURce:WAVelength <m>``; a fixed diode refuses it (-221). Interlock, key lock and over-temperature are
  attributes a test or the bench's fault injection can trip; a tripped one keeps the LD off.
- The PM100 reads the power on its sensor (``world.meter_power_w``), corrected for the wavelength
  it is told (a photodiode's responsivity differs between the set and the true wavelength),
  with a dark offset removed by ``SENS:CORR:COLL:ZERO``, noise, range and averaging; each sample
  takes about 3 ms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from memlab.instruments.sim.scpi import (
    Boolean,
    Choice,
    Command,
    Number,
    ScpiError,
    ScpiInstrument,
    ScpiParser,
)
from memlab.instruments.sim.smu import seeded_rng
from memlab.instruments.sim.world import SimWorld

AMBIENT_C = 23.0
TEC_TAU_S = 5.0
#: an LD current change settles within this (analog current loop)
LD_SETTLE_S = 1e-3
#: forward voltage of the diode: V = V0 + R * I
FORWARD_V0 = 0.9
FORWARD_OHM = 3.0


class LaserDiode:
    """The diode's true current -> optical power characteristic (a measured-looking table).

    ``lines_m`` (a multi-line head) or ``range_m`` (a tunable one) make the emission wavelength
    selectable; the same P(I) holds at every wavelength."""

    def __init__(self, current_a: Sequence[float], power_w: Sequence[float], wavelength_m: float, *,
                 lines_m: Sequence[float] | None = None, range_m: Sequence[float] | None = None) -> None:
        currents = np.asarray(current_a, dtype=np.float64)
        powers = np.asarray(power_w, dtype=np.float64)
        if currents.ndim != 1 or currents.shape != powers.shape or currents.size < 2:
            raise ValueError("LaserDiode: current_a and power_w must be 1-D tables of one length >= 2")
        if np.any(np.diff(currents) <= 0) or np.any(powers < 0):
            raise ValueError("LaserDiode: current_a must increase and power_w be >= 0")
        if not 100e-9 <= wavelength_m <= 20e-6:
            raise ValueError(f"LaserDiode: wavelength_m={wavelength_m!r}: allowed 100e-9 .. 20e-6 m")
        self.current_a, self.power_w, self.wavelength_m = currents, powers, float(wavelength_m)
        self.lines_m = tuple(sorted(float(w) for w in lines_m)) if lines_m is not None else None
        self.range_m = (float(min(range_m)), float(max(range_m))) if range_m is not None else None
        if self.lines_m is not None and self.range_m is not None:
            raise ValueError("LaserDiode: give lines_m or range_m, not both")
        if self.tunable and not self.emits(self.wavelength_m):
            raise ValueError(f"LaserDiode: wavelength_m={wavelength_m!r} is not one the head emits "
                             f"(lines_m={lines_m!r}, range_m={range_m!r})")
        self._end_slope = (powers[-1] - powers[-2]) / (currents[-1] - currents[-2])

    @classmethod
    def linear(cls, threshold_a: float, slope_w_per_a: float, wavelength_m: float) -> LaserDiode:
        """0 W up to ``threshold_a``, then ``slope_w_per_a`` watts per ampere."""
        return cls([0.0, threshold_a, threshold_a + 1.0], [0.0, 0.0, slope_w_per_a], wavelength_m)

    @property
    def tunable(self) -> bool:
        return self.lines_m is not None or self.range_m is not None

    def emits(self, wavelength_m: float) -> bool:
        """Whether the head can emit ``wavelength_m`` (a line within 0.5 nm, or inside the range)."""
        if self.lines_m is not None:
            return any(abs(wavelength_m - line) <= 0.5e-9 for line in self.lines_m)
        if self.range_m is not None:
            return self.range_m[0] <= wavelength_m <= self.range_m[1]
        return abs(wavelength_m - self.wavelength_m) <= 0.5e-9

    def power(self, current_a: float) -> float:
        if current_a <= self.current_a[-1]:
            return float(np.interp(current_a, self.current_a, self.power_w))
        return float(self.power_w[-1] + self._end_slope * (current_a - self.current_a[-1]))


class LaserControllerTwin(ScpiInstrument):
    """What the two Thorlabs laser controllers share (LD and TEC, limits, interlocks, light)."""

    max_current_a: ClassVar[float]
    error_queue_size = 30

    def __init__(self, world: SimWorld, name: str = "laser", *, diode: LaserDiode | None = None,
                 serial: str | None = None, wavelengths_m: Sequence[float] | None = None,
                 wavelength_range_m: Sequence[float] | None = None) -> None:
        self.diode = diode or LaserDiode.linear(0.02, 0.5, 1550e-9)
        if wavelengths_m is not None or wavelength_range_m is not None:
            # The bench file's tuning declaration describes the head the controller drives.
            self.diode = LaserDiode(self.diode.current_a, self.diode.power_w, self.diode.wavelength_m,
                                    lines_m=wavelengths_m, range_m=wavelength_range_m)
        self.interlock_closed = True
        self.keylock_on = True
        self.over_temperature = False
        self._temp_c = AMBIENT_C
        self._temp_time_s = world.clock.now()
        super().__init__(world, name, serial=serial)

    def base_defaults(self) -> dict[str, Any]:
        return {"ld_on": False, "tec_on": False, "current": 0.0, "limit": self.max_current_a,
                "temp_set": 25.0, "am": False, "am_src": "EXT", "am_shape": "SIN", "am_freq": 1e3,
                "am_depth": 50.0, "shape": "DC", "puls_per": 0.2, "puls_width": 0.05, "trig": "INT"}

    def reset(self) -> None:
        self._temperature()
        super().reset()
        self.state.update(self.base_defaults())
        self._emit()

    def format_number(self, value: float) -> str:
        return f"{value:.9E}"

    # -- physics --------------------------------------------------------------------------------

    def tripped(self) -> str | None:
        """Why the LD may not emit, or None."""
        if not self.interlock_closed:
            return "interlock open"
        if not self.keylock_on:
            return "key lock off"
        if self.over_temperature:
            return "over temperature"
        return None

    def ld_current_a(self) -> float:
        """The current through the diode now."""
        return self.state["current"] if self.state["ld_on"] else 0.0

    def emitted_power_w(self) -> float:
        """Average optical power leaving the diode."""
        power = self.diode.power(self.ld_current_a())
        if self.state["shape"] == "PULS":
            power *= min(1.0, self.state["puls_width"] / self.state["puls_per"])
        return power

    def _emit(self) -> None:
        self.world.set_laser(self.emitted_power_w(), self.diode.wavelength_m)

    def _temperature(self) -> float:
        """First-order approach to the set point (TEC on) or to ambient (off), up to now."""
        now = self.clock.now()
        target = self.state.get("temp_set", 25.0) if self.state.get("tec_on") else AMBIENT_C
        self._temp_c = target + (self._temp_c - target) * math.exp(-(now - self._temp_time_s) / TEC_TAU_S)
        self._temp_time_s = now
        return self._temp_c

    # -- handlers -------------------------------------------------------------------------------

    def _output(self, cmd: Command) -> str | None:
        """OUTPut1 is the LD, OUTPut2 the TEC."""
        channel = cmd.suffixes[0] if cmd.suffixes else 1
        key = "ld_on" if channel == 1 else "tec_on"
        if cmd.query:
            return "1" if self.state[key] else "0"
        cmd.expect(1)
        value = Boolean().parse(cmd.args[0])
        self._temperature()
        if key == "ld_on" and value:
            reason = self.tripped()
            if reason is not None:
                raise ScpiError(-221, "Settings conflict", f"laser output refused: {reason}")
        self.state[key] = value
        if key == "ld_on":
            self.charge(LD_SETTLE_S)
            self._emit()
        return None

    def _wavelength(self, cmd: Command) -> str | None:
        """SOURce:WAVelength (m): only a tunable or multi-line head has one to select."""
        if cmd.query:
            return self.format_number(self.diode.wavelength_m)
        cmd.expect(1)
        value = Number(100e-9, 20e-6, self.diode.wavelength_m).parse(cmd.args[0])
        if not self.diode.tunable:
            raise ScpiError(-221, "Settings conflict", "the diode's wavelength is fixed")
        if not self.diode.emits(value):
            raise ScpiError(-222, "Data out of range", f"wavelength {value:g} m not emitted by this head")
        if self.diode.lines_m is not None:
            value = min(self.diode.lines_m, key=lambda line: abs(line - value))
        self.diode.wavelength_m = value
        self._emit()
        return None

    def _current(self, cmd: Command) -> str | None:
        param = Number(0.0, self.max_current_a, 0.0, unit="A")
        if cmd.query:
            special = cmd.special(0)
            return self.format_number(param.parse(special) if special else self.state["current"])
        cmd.expect(1)
        value = param.parse(cmd.args[0])
        if value > self.state["limit"]:
            raise ScpiError(-222, "Data out of range", f"LD current {value:g} A above the limit {self.state['limit']:g} A")
        self.state["current"] = value
        self.charge(LD_SETTLE_S)
        self._emit()
        return None

    def _limit(self, cmd: Command) -> str | None:
        param = Number(0.0, self.max_current_a, self.max_current_a, unit="A")
        if cmd.query:
            special = cmd.special(0)
            return self.format_number(param.parse(special) if special else self.state["limit"])
        cmd.expect(1)
        value = param.parse(cmd.args[0])
        self.state["limit"] = value
        if self.state["current"] > value:
            # The controller never drives more than its limit.
            self.state["current"] = value
            self._emit()
        return None

    @staticmethod
    def _trip(reason: str) -> Any:
        def handler(self: LaserControllerTwin, cmd: Command) -> str:
            tripped = {"INTL": not self.interlock_closed, "KEYL": not self.keylock_on,
                       "OTEM": self.over_temperature}[reason]
            return "1" if tripped else "0"
        return handler

    @staticmethod
    def _measure(what: str) -> Any:
        def handler(self: LaserControllerTwin, cmd: Command) -> str:
            self.charge(1e-3)  # one conversion of the controller's ADC
            current = self.ld_current_a()
            if what == "CURR":
                return self.format_number(current)
            if what == "VOLT":
                return self.format_number(FORWARD_V0 + FORWARD_OHM * current if current > 0 else 0.0)
            if what == "POW":
                return self.format_number(self.emitted_power_w())
            return self.format_number(self._temperature())
        return handler

    def _after_light(self, cmd: Command, value: Any) -> None:
        self._emit()

    def _after_tec(self, cmd: Command, value: Any) -> None:
        self._temperature()

    @classmethod
    def commands(cls, p: ScpiParser) -> None:
        super().commands(p)
        L = LaserControllerTwin
        p.add("OUTPut[1|2][:STATe]", set=L._output, query=L._output)
        p.add("[SOURce[1]:]CURRent[:LEVel][:IMMediate][:AMPLitude]", set=L._current, query=L._current)
        p.add("[SOURce[1]:]CURRent:LIMit[:AMPLitude]", set=L._limit, query=L._limit)
        p.add("[SOURce[1]:]WAVelength", set=L._wavelength, query=L._wavelength)
        p.setting("SOURce[2]:TEMPerature[:SPOint]", "temp_set", Number(5.0, 45.0, 25.0, unit="C"),
                  after=L._after_tec)
        for reason, long in (("INTL", "INTLock"), ("KEYL", "KEYLock"), ("OTEM", "OTEMp")):
            p.add(f"OUTPut[1]:PROTection:{long}:TRIPped", query=L._trip(reason))
        for what, word in (("CURR", "CURRent[1]"), ("VOLT", "VOLTage[1]"), ("POW", "POWer[1|2]"),
                           ("TEMP", "TEMPerature")):
            p.add(f"MEASure[:SCALar]:{word}", query=L._measure(what))
        p.setting("[SOURce[1]:]AM[:STATe]", "am", Boolean())



class ThorlabsITC4001Twin(LaserControllerTwin):
    """ITC4001: 1 A LD controller with TEC, internal modulation and QCW pulses."""

    manufacturer = "Thorlabs"
    model = "ITC4001"
    firmware = "1.8.0/1.5.0/2.3.0"
    default_serial = "M00412345"
    max_current_a = 1.0

    @classmethod
    def commands(cls, p: ScpiParser) -> None:
        super().commands(p)
        I = ThorlabsITC4001Twin
        p.setting("[SOURce[1]:]AM:SOURce", "am_src", Choice("INTernal|EXTernal"))
        p.setting("[SOURce[1]:]AM:INTernal:SHAPe", "am_shape", Choice("SINusoid|SQUare|TRIangle"))
        p.setting("[SOURce[1]:]AM:INTernal:FREQuency", "am_freq", Number(20.0, 100e3, 1e3, unit="HZ"))
        p.setting("[SOURce[1]:]AM:INTernal[:DEPTh]", "am_depth", Number(0.0, 100.0, 50.0))
        p.setting("[SOURce[1]:]FUNCtion[:SHAPe]", "shape", Choice("DC|PULSe"), after=I._after_light)
        p.setting("[SOURce[1]:]PULSe:PERiod", "puls_per", Number(20e-6, 1e4, 0.2, unit="S"), after=I._after_light)
        p.setting("[SOURce[1]:]PULSe:WIDTh", "puls_width", Number(10e-6, 1e3, 0.05, unit="S"), after=I._after_light)
        p.setting("TRIGger:SOURce", "trig", Choice("INTernal|EXTernal"))


class ThorlabsCLD101xTwin(LaserControllerTwin):
    """CLD1010/CLD1011/CLD1015 compact LD driver with TEC; external modulation only."""

    manufacturer = "Thorlabs"
    firmware = "1.3.0"
    default_serial = "M00598765"
    _MAX_CURRENT_A = {"CLD1010": 1.0, "CLD1011": 1.0, "CLD1015": 1.5}

    def __init__(self, world: SimWorld, name: str = "laser", *, variant: str = "CLD1015",
                 diode: LaserDiode | None = None, serial: str | None = None,
                 wavelengths_m: Sequence[float] | None = None,
                 wavelength_range_m: Sequence[float] | None = None) -> None:
        if variant not in self._MAX_CURRENT_A:
            raise ValueError(f"variant={variant!r}: allowed {sorted(self._MAX_CURRENT_A)}")
        self.model = variant
        self.max_current_a = self._MAX_CURRENT_A[variant]
        super().__init__(world, name, diode=diode, serial=serial, wavelengths_m=wavelengths_m,
                         wavelength_range_m=wavelength_range_m)

    @classmethod
    def commands(cls, p: ScpiParser) -> None:
        super().commands(p)
        p.setting("[SOURce[1]:]AM:STATe", "am", Boolean())


# -- the power meter ----------------------------------------------------------------------------

#: responsivity (A/W) of the sensors' photodiodes against wavelength (nm): Si S120C, Ge S122C
SENSORS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "S120C": ((400, 500, 600, 700, 800, 900, 960, 1000, 1100), (0.12, 0.25, 0.36, 0.45, 0.52, 0.60, 0.62, 0.55, 0.10)),
    "S122C": ((700, 900, 1100, 1300, 1500, 1550, 1600, 1700, 1800), (0.10, 0.35, 0.55, 0.70, 0.80, 0.82, 0.80, 0.45, 0.12)),
}
SAMPLE_S = 3e-3  # one sample of the PM100 (averaging count x this per reading)
_POWER_RANGES_W = tuple(10.0 ** k for k in range(-9, 0))  # 1 nW .. 100 mW full scale


class ThorlabsPM100Twin(ScpiInstrument):
    """PM100 (PM100USB/PM100D) with a photodiode power sensor (S120C by default)."""

    manufacturer = "Thorlabs"
    model = "PM100USB"
    firmware = "1.7.0"
    default_serial = "P2000123"
    defaults = {"wav_nm": 635.0, "unit": "W", "auto": True, "range": 1e-3, "count": 1, "zero_w": 0.0,
                "conf": "POW"}

    def __init__(self, world: SimWorld, name: str = "powermeter", *, sensor: str = "S120C",
                 dark_w: float = 2e-9, noise_w: float = 0.5e-9, serial: str | None = None) -> None:
        if sensor not in SENSORS:
            raise ValueError(f"sensor={sensor!r}: allowed {sorted(SENSORS)}")
        self.sensor = sensor
        wavelengths, responsivity = SENSORS[sensor]
        self._wav_nm = np.asarray(wavelengths, dtype=np.float64)
        self._resp = np.asarray(responsivity, dtype=np.float64)
        self.dark_w = dark_w
        self.noise_w = noise_w
        self.rng = seeded_rng(name)
        super().__init__(world, name, serial=serial)

    def reset(self) -> None:
        super().reset()
        self.state["wav_nm"] = float(np.clip(self.state["wav_nm"], self._wav_nm[0], self._wav_nm[-1]))

    def format_number(self, value: float) -> str:
        return f"{value:.9E}"

    def responsivity(self, wavelength_nm: float) -> float:
        return float(np.interp(wavelength_nm, self._wav_nm, self._resp))

    def power_w(self) -> float:
        """One reading in watts, as the meter computes it."""
        state = self.state
        count = state["count"]
        self.charge(SAMPLE_S * count)
        true_w = self.world.meter_power_w
        if true_w > 0.0:
            # The photocurrent follows the true wavelength; the meter divides by the set one.
            true_w *= self.responsivity(self.world.wavelength_m * 1e9) / self.responsivity(state["wav_nm"])
        noise = self.rng.standard_normal() * self.noise_w / math.sqrt(count)
        value = true_w + self.dark_w - state["zero_w"] + noise
        full_scale = state["range"] if not state["auto"] else next(
            (r for r in _POWER_RANGES_W if abs(value) <= r), _POWER_RANGES_W[-1])
        if abs(value) > 1.2 * full_scale:
            return 9.9e37  # over range
        quantum = full_scale / 2 ** 16  # the meter's ADC resolution on the range
        return round(value / quantum) * quantum

    def _photocurrent(self, cmd: Command) -> str:
        """The sensor's photocurrent: the light at its true wavelength times the responsivity."""
        self.charge(SAMPLE_S * self.state["count"])
        light_w = self.world.meter_power_w
        amps = light_w * self.responsivity(self.world.wavelength_m * 1e9) if light_w > 0 else 0.0
        amps += self.dark_w * self.responsivity(self.state["wav_nm"])
        amps += self.rng.standard_normal() * self.noise_w * self.responsivity(self.state["wav_nm"])
        return self.format_number(amps)

    def _frequency(self, cmd: Command) -> str:
        # The simulated laser is continuous-wave: no modulation frequency to count.
        self.charge(SAMPLE_S * self.state["count"])
        return self.format_number(0.0)

    def _response(self, cmd: Command) -> str:
        return self.format_number(self.responsivity(self.state["wav_nm"]))

    def _reading(self, cmd: Command) -> str:
        value = self.power_w()
        if value < 1e37:
            value *= 10.0 ** (self.state["loss_db"] / 10.0)
            if self.state["reference_on"]:
                value -= self.state["reference_w"]
        if self.state["unit"] == "DBM":
            value = 10.0 * math.log10(value / 1e-3) if 0 < value < 1e37 else -math.inf
        return self.format_number(value)

    def _wavelength(self, cmd: Command) -> str | None:
        param = Number(float(self._wav_nm[0]), float(self._wav_nm[-1]), 635.0, unit="NM")
        if cmd.query:
            special = cmd.special(0)
            return self.format_number(param.parse(special) if special else self.state["wav_nm"])
        cmd.expect(1)
        self.state["wav_nm"] = param.parse(cmd.args[0])
        return None

    def _zero(self, cmd: Command) -> None:
        # Dark adjustment: what the sensor reads with the beam blocked (here, with the laser as it is,
        # so zeroing with light on subtracts that light, as it would on the bench).
        self.charge(SAMPLE_S * 100)
        self.state["zero_w"] = self.world.meter_power_w + self.dark_w

    def _power_range(self, cmd: Command) -> str | None:
        param = Number(_POWER_RANGES_W[0], _POWER_RANGES_W[-1], 1e-3, unit="W")
        if cmd.query:
            return self.format_number(self.state["range"])
        cmd.expect(1)
        value = param.parse(cmd.args[0])
        self.state["range"] = next(r for r in _POWER_RANGES_W if value <= r * 1.0000001)
        self.state["auto"] = False
        return None

    def _sensor_idn(self, cmd: Command) -> str:
        # name, serial, calibration date, type (1: photodiode), subtype (18: with temperature), flags
        return f"{self.sensor},{self.serial}-S,01-Jan-2026,1,18,289"

    def _energy(self, cmd: Command) -> str:
        raise ScpiError(-221, "Settings conflict", f"{self.sensor} is a power sensor, not an energy sensor")

    @classmethod
    def commands(cls, p: ScpiParser) -> None:
        super().commands(p)
        P = ThorlabsPM100Twin
        # SENSe is an optional node on the PM100 ("[:SENSe]:..."): drivers write both forms.
        p.add("[SENSe:]CORRection:WAVelength", set=P._wavelength, query=P._wavelength)
        p.add("MEASure[:SCALar]:POWer", query=P._reading)
        p.add("MEASure[:SCALar]:ENERgy", query=P._energy)
        p.add("MEASure[:SCALar]:CURRent[:DC]", query=P._photocurrent)
        p.add("MEASure[:SCALar]:FREQuency", query=P._frequency)
        p.add("READ", query=P._reading)
        p.add("FETCh", query=P._reading)
        p.add("INITiate[:IMMediate]", set=lambda i, c: None)  # READ?/FETCh? measure on demand
        p.add("ABORt", set=lambda i, c: None)
        p.add("CONFigure[:SCALar]:POWer", set=lambda i, c: i.state.update(conf="POW"))
        p.add("CONFigure[:SCALar]:CURRent[:DC]", set=lambda i, c: i.state.update(conf="CURR"))
        p.add("CONFigure[:SCALar]:FREQuency", set=lambda i, c: i.state.update(conf="FREQ"))
        p.add("CONFigure", query=lambda i, c: i.state["conf"])
        p.setting("[SENSe:]POWer[:DC]:UNIT", "unit", Choice("W|DBM"))
        p.setting("[SENSe:]POWer[:DC]:RANGe:AUTO", "auto", Boolean())
        p.add("[SENSe:]POWer[:DC]:RANGe[:UPPer]", set=P._power_range, query=P._power_range)
        p.setting("[SENSe:]AVERage[:COUNt]", "count", Number(1, 100_000, 1, integer=True))
        p.add("[SENSe:]CORRection:COLLect:ZERO[:INITiate]", set=P._zero)
        p.add("[SENSe:]CORRection:COLLect:ZERO:STATe", query=lambda i, c: "0")  # zeroing is done at once
        p.add("[SENSe:]CORRection:COLLect:ZERO:MAGNitude", query=lambda i, c: i.format_number(i.state["zero_w"]))
        # The user attenuation is applied to every power reading (10^(dB/10)).
        p.stored("[SENSe:]CORRection[:LOSS][:INPut][:MAGNitude]", "loss_db", Number(-60.0, 60.0, 0.0), 0.0)
        p.stored("[SENSe:]CORRection:BEAMdiameter", "beam_mm", Number(0.0, 100.0, 1.0), 1.0)
        p.add("[SENSe:]CORRection:POWer[:PDIode][:RESPonse]", query=P._response)
        p.stored("[SENSe:]CURRent[:DC]:RANGe:AUTO", "current_auto", Boolean(), True)
        p.stored("[SENSe:]CURRent[:DC]:RANGe[:UPPer]", "current_range", Number(1e-9, 10e-3, 1e-3), 1e-3)
        # Relative (delta) mode: the reading minus the reference, when on.
        p.stored("[SENSe:]POWer[:DC]:REFerence", "reference_w", Number(-10.0, 10.0, 0.0, unit="W"), 0.0)
        p.stored("[SENSe:]POWer[:DC]:REFerence:STATe", "reference_on", Boolean(), False)
        p.stored("INPut[:PDIode]:FILTer[:LPASs][:STATe]", "lowpass", Boolean(), False)
        p.stored("SYSTem:LFRequency", "line_hz", Number(50, 60, 50, integer=True), 50)
        p.stored("DISPlay:BRIGhtness", "brightness", Number(0.0, 1.0, 1.0), 1.0)
        p.stored("DISPlay:CONTrast", "contrast", Number(0.0, 1.0, 0.5), 0.5)
        for register in ("OPERation", "QUEStionable", "AUXiliary"):
            p.stored(f"STATus:{register}:PTRansition", f"ptr_{register[:4]}", Number(0, 65535, 0, integer=True), 0)
            p.stored(f"STATus:{register}:NTRansition", f"ntr_{register[:4]}", Number(0, 65535, 0, integer=True), 0)
        p.add("STATus:AUXiliary[:EVENt]", query=lambda i, c: "0")
        p.add("STATus:AUXiliary:CONDition", query=lambda i, c: "0")
        p.stored("STATus:AUXiliary:ENABle", "aux_enable", Number(0, 65535, 0, integer=True), 0)
        p.add("SYSTem:SENSor:IDN", query=P._sensor_idn)
