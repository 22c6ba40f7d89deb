"""Declared settings: every instrument setting is a pymeasure property validated against the bench's
limits per instance (refused, never clamped), and the snapshot is built from them."""

from __future__ import annotations

import pytest
from pymeasure.test import expected_protocol

from memlab.instruments.calibration import LaserCalibration
from memlab.instruments.keithley import Keithley707B, Keithley2450, Keithley2600B
from memlab.instruments.keysight import Keysight33500B, Keysight81160A, KeysightB2900
from memlab.instruments.limits import LimitError, SafetyLimits
from memlab.instruments.plumbing import DriverMixin, Setting, declared_settings, registered_drivers
from memlab.instruments.thorlabs import ThorlabsCLD101x, ThorlabsITC4001, ThorlabsPM100

CAL = LaserCalibration.linear(threshold_a=0.03, slope_w_per_a=0.5, max_current_a=0.1, wavelength_m=1550e-9)
TIGHT = SafetyLimits(max_voltage_v=2.0, max_current_a=1e-4, max_laser_current_a=0.05)
SMUS = (Keithley2450, Keithley2600B, KeysightB2900)


def test_no_driver_keeps_a_hand_written_settings_dict() -> None:
    for name, driver in registered_drivers().items():
        assert "_settings" not in vars(driver) and issubclass(driver, DriverMixin), name
        if driver is not Keithley707B:  # the matrix's state is its relays, read back for the snapshot
            assert declared_settings(driver), name


@pytest.mark.parametrize("driver", SMUS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name, value, parameter", [
    ("source_voltage", 2.5, "voltage_v"), ("source_voltage", -2.01, "voltage_v"),
    ("compliance_current", 2e-4, "compliance_a"), ("compliance_current", 0.0, "compliance_a"),
    ("source_current", 1e-3, "current_a"), ("source_voltage", float("nan"), "voltage_v"),
    ("nplc", 1e6, "nplc"),
])
def test_smu_properties_refuse_values_outside_this_benchs_limits(driver: type, name: str, value: float,
                                                                 parameter: str) -> None:
    # The property itself refuses: the bench's limits are the instance's ranges (dynamic=True).
    with expected_protocol(driver, [], limits=TIGHT) as smu:
        with pytest.raises(LimitError, match=f"^{parameter}="):
            setattr(smu, name, value)
        assert smu.settings() == {}  # nothing was sent, so nothing is recorded


def test_the_same_driver_class_takes_each_benchs_limits() -> None:
    with expected_protocol(Keithley2450, [(":SOUR:VOLT 5", None)], limits=SafetyLimits(max_voltage_v=6)) as smu:
        smu.source_voltage = 5
    with expected_protocol(Keithley2450, [], limits=SafetyLimits(max_voltage_v=4)) as smu:
        with pytest.raises(LimitError, match="allowed -4 V .. 4 V"):
            smu.source_voltage = 5


def test_snapshot_settings_are_what_was_sent_and_reset_forgets_them() -> None:
    with expected_protocol(
        Keithley2450,
        [(":SOUR:FUNC VOLT", None), (":SOUR:VOLT:ILIM 0.001", None), (":SOUR:VOLT 0.2", None),
         (":SENS:CURR:NPLC?", "0.5"), ("*IDN?", "KEITHLEY,2450,1,1"), ("*RST;:stat:pres;:*CLS;", None),
         ("*IDN?", "KEITHLEY,2450,1,1")],
    ) as smu:
        smu.set_voltage(0.2, 1e-3)
        assert smu.nplc == 0.5  # a read is recorded too
        settings = smu.snapshot()["settings"]
        assert settings == {"source_function": "voltage", "voltage_v": 0.2, "compliance_a": 0.001, "nplc": 0.5}
        smu.reset()
        assert smu.snapshot()["settings"] == {}  # *RST: nothing recorded holds any more


def test_output_state_is_asked_every_time_never_cached() -> None:
    with expected_protocol(
        KeysightB2900, [(":OUTP2?", "1"), (":OUTP2?", "0"), (":OUTP2 OFF", None), (":OUTP2?", "1")], channel=2,
    ) as smu:
        assert smu.output_enabled() is True
        assert smu.output_enabled() is False  # switched off behind the driver's back: it says so
        smu.output_off()
        assert smu.output_enabled() is True  # a relay that did not drop shows, whatever was sent


@pytest.mark.parametrize("driver, kwargs, query, reply", [
    (Keithley2450, {}, ":OUTP?", "1"),
    (Keithley2600B, {"channel": "b"}, "print(smub.source.output)", "1.00000e+00"),
    (Keysight33500B, {}, "OUTP1?", "1"),
    (Keysight81160A, {"channel": 2}, "OUTP2?", "1"),
    (ThorlabsITC4001, {"calibration": CAL}, "OUTP1?", "1"),
    (ThorlabsCLD101x, {"calibration": CAL}, "OUTP1:STAT?", "1"),
])
def test_every_output_is_queried(driver: type, kwargs: dict, query: str, reply: str) -> None:
    with expected_protocol(driver, [(query, reply), (query, "0")], **kwargs) as instrument:
        assert instrument.output_enabled() is True
        assert instrument.output_enabled() is False


def test_laser_current_refused_by_the_property_at_this_benchs_limit() -> None:
    with expected_protocol(ThorlabsITC4001, [], calibration=CAL, limits=TIGHT) as laser:
        with pytest.raises(LimitError, match="current_a=0.06 .*max_laser_current_a"):
            laser.laser_current = 0.06


def test_channel_fields_fill_the_declared_commands() -> None:
    with expected_protocol(Keithley2600B, [("smub.source.limiti = 0.001", None)], channel="b") as smu:
        smu.compliance_current = 1e-3
    with expected_protocol(KeysightB2900, [(":SENS2:CURR:PROT 0.001", None)], channel=2) as smu:
        smu.compliance_current = 1e-3


def test_pm100_records_its_wavelength_in_metres() -> None:
    with expected_protocol(ThorlabsPM100, [("SENS:CORR:WAV 1310", None), ("SYST:ERR?", '0,"No error"')]) as meter:
        meter.wavelength_m = 1310e-9
        assert meter.settings()["wavelength_m"] == pytest.approx(1310e-9)


def test_settings_are_pymeasure_dynamic_properties() -> None:
    from pymeasure.instruments.common_base import DynamicProperty

    for driver in registered_drivers().values():
        for prop in declared_settings(driver):
            assert isinstance(prop, Setting) and isinstance(prop, DynamicProperty)
