"""Protocol tests of the Thorlabs drivers: the exact strings of reference/instruments.md."""

from __future__ import annotations

import pytest
from pymeasure.test import expected_protocol

from memlab.instruments.calibration import LaserCalibration
from memlab.instruments.interfaces import InstrumentError
from memlab.instruments.limits import LimitError, SafetyLimits
from memlab.instruments.thorlabs import ThorlabsCLD101x, ThorlabsITC4001, ThorlabsPM100

# 30 mA threshold, 0.5 W/A: 5 mW needs 40 mA
CAL = LaserCalibration.linear(threshold_a=0.03, slope_w_per_a=0.5, max_current_a=0.1, wavelength_m=1550e-9)
OK = ("SYST:ERR?", '0,"No error"')
ITC_CLEAR = [("OUTP1:PROT:INTL:TRIP?", "0"), ("OUTP1:PROT:KEYL:TRIP?", "0"), ("OUTP1:PROT:OTEM:TRIP?", "0")]
CLD_CLEAR = [("OUTP1:PROT:INTL:TRIP?", "0"), ("OUTP1:PROT:KEYL:TRIP?", "0")]


class RecordingClock:
    """A virtual clock that records every sleep."""

    virtual = True

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


# -- ITC4001 -----------------------------------------------------------------------------------------------


def test_itc4001_sets_power_through_the_calibration_limit_first() -> None:
    with expected_protocol(ThorlabsITC4001, [("SOUR1:CURR:LIM 0.1", None), ("SOUR1:CURR 0.04", None)], calibration=CAL) as laser:
        laser.set_power(5e-3)
        assert laser.wavelength_m == 1550e-9


def test_itc4001_switches_on_only_with_interlocks_closed() -> None:
    with expected_protocol(
        ThorlabsITC4001, ITC_CLEAR + [OK, ("OUTP2 1", None), ("OUTP1 1", None), ("OUTP1?", "1"), ("OUTP1 0", None)],
        calibration=CAL, enable_tec=True,
    ) as laser:
        laser.output_on()
        assert laser.output_enabled() is True
        laser.output_off()
    with expected_protocol(
        ThorlabsITC4001, [("OUTP1:PROT:INTL:TRIP?", "1"), ("OUTP1:PROT:KEYL:TRIP?", "0"), ("OUTP1:PROT:OTEM:TRIP?", "0")],
        calibration=CAL,
    ) as laser:
        with pytest.raises(InstrumentError, match=r"protection tripped \(OUTP1:PROT:INTL:TRIP\?\)"):
            laser.output_on()


def test_itc4001_counts_qcw_pulses_on_the_bench_clock() -> None:
    clock = RecordingClock()
    pairs = [
        ("SOUR1:CURR:LIM 0.1", None), ("SOUR1:CURR 0.04", None), ("SOUR:FUNC:SHAP PULS", None),
        ("SOUR:PULS:PER 0.2", None), ("SOUR:PULS:WIDT 0.05", None), ("TRIG:SOUR INT", None),
        *ITC_CLEAR, OK, ("OUTP1 1", None), ("OUTP1 0", None), ("SOUR:FUNC:SHAP DC", None),
    ]
    with expected_protocol(ThorlabsITC4001, pairs, calibration=CAL, clock=clock) as laser:
        laser.pulse(5e-3, width_s=0.05, period_s=0.2, count=3)
    # off in the middle of the gap after the third pulse: 2 periods + width + half the gap
    assert clock.sleeps == [pytest.approx(0.525)]


def test_itc4001_modulation() -> None:
    with expected_protocol(
        ThorlabsITC4001,
        [("SOUR1:AM:SOUR INT", None), ("SOUR1:AM:INT:SHAP SIN", None), ("SOUR1:AM:INT:FREQ 10000", None),
         ("SOUR1:AM:INT:DEPT 20", None), ("SOUR1:AM 1", None), ("SOUR1:AM:SOUR EXT", None), ("SOUR1:AM 1", None),
         ("SOUR1:AM 0", None)],
        calibration=CAL,
    ) as laser:
        laser.set_modulation(True, frequency_hz=1e4, depth=0.2)
        laser.set_modulation(True)
        laser.set_modulation(False)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda l: l.set_power(0.025), LimitError, "power_w=0.025 .*max_laser_power_w"),
        (lambda l: l.set_power(-1e-3), LimitError, "power_w=-0.001"),
        (lambda l: l.pulse(5e-3, 0.05, 0.055, 3), LimitError, "period_s=0.055"),
        (lambda l: l.pulse(5e-3, 1e-6, 0.2, 3), LimitError, "width_s=1e-06"),
        (lambda l: l.set_modulation(True, frequency_hz=1e4), ValueError, "give both"),
        (lambda l: l.set_modulation(True, frequency_hz=1e6, depth=0.5), LimitError, "frequency_hz=1000000"),
        (lambda l: l.set_modulation(True, frequency_hz=1e3, depth=1.5), LimitError, "depth=1.5"),
    ],
)
def test_itc4001_refuses_bad_values_and_sends_nothing(call, error: type, match: str) -> None:
    with expected_protocol(ThorlabsITC4001, [], calibration=CAL) as laser:
        with pytest.raises(error, match=match):
            call(laser)


def test_laser_limits_apply_to_the_current_the_calibration_asks_for() -> None:
    generous = SafetyLimits(max_laser_power_w=1.0, max_laser_current_a=0.05)
    with expected_protocol(ThorlabsITC4001, [], calibration=CAL, limits=generous) as laser:
        with pytest.raises(LimitError, match="calibrated range"):
            laser.set_power(0.05)  # beyond the table: never extrapolated
        with pytest.raises(LimitError, match="current_a .*max_laser_current_a"):
            laser.set_power(0.02)  # 70 mA > 50 mA


def test_itc4001_shutdown_snapshot_and_wavelength() -> None:
    with expected_protocol(
        ThorlabsITC4001,
        [("OUTP1 0", None), ("SOUR1:CURR 0", None), ("*IDN?", "Thorlabs,ITC4001,M00123456,1.8.0")],
        calibration=CAL, wavelength_m=1310e-9,
    ) as laser:
        laser.shutdown()
        snap = laser.snapshot()
    assert snap["wavelength_m"] == 1310e-9 and snap["calibration"]["power_w"][-1] == pytest.approx(0.035)
    assert snap["settings"]["current_a"] == 0.0
    no_wavelength = LaserCalibration.linear(0.03, 0.5, 0.1)
    with pytest.raises(ValueError, match="wavelength_m"):
        ThorlabsITC4001(None, calibration=no_wavelength)


# -- CLD101x -----------------------------------------------------------------------------------------------


def test_cld101x_sets_power_and_switches_output() -> None:
    with expected_protocol(
        ThorlabsCLD101x,
        [("SOUR:CURR:LIM:AMPL 0.1", None), ("SOUR:CURR 0.04", None), *CLD_CLEAR, OK, ("OUTP2:STAT 1", None),
         ("OUTP1:STAT 1", None), ("OUTP1:STAT?", "1"), ("OUTP1:STAT 0", None), ("SOUR:CURR 0", None)],
        calibration=CAL, enable_tec=True,
    ) as laser:
        laser.set_power(5e-3)
        laser.output_on()
        assert laser.output_enabled() is True
        laser.shutdown()


def test_cld101x_times_pulses_in_software() -> None:
    clock = RecordingClock()
    pairs = [("SOUR:CURR:LIM:AMPL 0.1", None), ("SOUR:CURR 0.04", None), *CLD_CLEAR, OK,
             ("OUTP1:STAT 1", None), ("OUTP1:STAT 0", None), ("OUTP1:STAT 1", None), ("OUTP1:STAT 0", None),
             ("OUTP1:STAT 0", None)]
    with expected_protocol(ThorlabsCLD101x, pairs, calibration=CAL, clock=clock) as laser:
        laser.pulse(5e-3, width_s=0.02, period_s=0.05, count=2)
    assert clock.sleeps == [pytest.approx(0.02), pytest.approx(0.03), pytest.approx(0.02)]


def test_cld101x_has_only_external_modulation_and_slow_pulses() -> None:
    with expected_protocol(ThorlabsCLD101x, [("SOUR:AM:STAT 1", None), ("SOUR:AM:STAT 0", None)], calibration=CAL) as laser:
        with pytest.raises(ValueError, match="no internal modulator"):
            laser.set_modulation(True, frequency_hz=1e3, depth=0.5)
        with pytest.raises(LimitError, match="width_s=0.005"):
            laser.pulse(5e-3, 5e-3, 0.1, 1)
        laser.set_modulation(True)
        laser.set_modulation(False)


# -- PM100 ---------------------------------------------------------------------------------------------------


def test_pm100_wavelength_is_set_in_nm_and_checked() -> None:
    with expected_protocol(
        ThorlabsPM100,
        [("SENS:CORR:WAV 532", None), OK, ("SENS:CORR:WAV?", "532.0"), ("SENS:CORR:WAV 1550", None), OK,
         ("SENS:CORR:WAV?", "1550")],
    ) as meter:
        meter.wavelength_m = 532e-9
        assert meter.wavelength_m == pytest.approx(532e-9)
        meter.wavelength = 1550  # pymeasure's nm property goes the same way
        assert meter.wavelength == pytest.approx(1550)


def test_pm100_sensor_refusal_becomes_instrument_error() -> None:
    with expected_protocol(
        ThorlabsPM100, [("SENS:CORR:WAV 5000", None), ("SYST:ERR?", '-222,"Data out of range"'), OK]
    ) as meter:
        with pytest.raises(InstrumentError, match="-222 Data out of range"):
            meter.wavelength_m = 5e-6
        with pytest.raises(LimitError, match="wavelength_m=5e-08"):
            meter.wavelength_m = 50e-9


def test_pm100_reads_watts_setting_the_unit_once() -> None:
    with expected_protocol(
        ThorlabsPM100,
        [("SENS:POW:DC:UNIT W", None), ("MEAS:POW?", "1.23E-03"), ("MEAS:POW?", "1.25E-03"),
         ("SENS:POW:DC:RANG:AUTO 1", None), ("SENS:AVER:COUN 10", None), OK],
    ) as meter:
        assert meter.read_power_w() == pytest.approx(1.23e-3)
        assert meter.read_power_w() == pytest.approx(1.25e-3)
        meter.configure(averages=10)
        meter.shutdown()  # nothing to switch off: sends nothing


def test_pm100_sensor_info_queries_the_head_on_request() -> None:
    with expected_protocol(ThorlabsPM100, [("SYST:SENSOR:IDN?", "S122C,12345,10-Jan-2020,1,18,289")]) as meter:
        info = meter.sensor_info()
    assert info["name"] == "S122C" and info["power_sensor"] is True and info["wavelength_settable"] is True
