"""The driver interface, safety limits, laser calibration, crossbar wiring and shared driver plumbing."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from pymeasure.adapters import Adapter
from pymeasure.test import expected_protocol
from pyvisa.constants import StatusCode
from pyvisa.errors import VisaIOError

from memlab.instruments import interfaces
from memlab.instruments.calibration import LaserCalibration
from memlab.instruments.interfaces import (
    Output,
    CrossbarWiring,
    InstrumentConnectionError,
    InstrumentError,
    LightSource,
    PowerMeter,
    PulseGenerator,
    SourceMeter,
    SweepResult,
    SwitchMatrix,
    check_pulse_train,
    pulse_aperture,
    sweep_voltages,
)
from memlab.instruments.keithley import Keithley2450, Keithley2600B, Keithley707B
from memlab.instruments.keysight import Keysight33500B, Keysight81160A, KeysightB2900
from memlab.instruments.limits import LimitError, SafetyLimits, named, require_int, require_range
from memlab.instruments.thorlabs import ThorlabsCLD101x, ThorlabsITC4001, ThorlabsPM100

CAL = LaserCalibration.linear(threshold_a=0.03, slope_w_per_a=0.5, max_current_a=0.1, wavelength_m=1550e-9)
WIRING = CrossbarWiring.default(4, 4)

ROLES = {
    Keithley2450: SourceMeter,
    Keithley2600B: SourceMeter,
    KeysightB2900: SourceMeter,
    Keysight33500B: PulseGenerator,
    Keysight81160A: PulseGenerator,
    ThorlabsITC4001: LightSource,
    ThorlabsCLD101x: LightSource,
    ThorlabsPM100: PowerMeter,
    Keithley707B: SwitchMatrix,
}
EXTRA_KWARGS = {ThorlabsITC4001: {"calibration": CAL}, ThorlabsCLD101x: {"calibration": CAL}, Keithley707B: {"wiring": WIRING}}


# -- every driver is a complete implementation of its role -------------------------------------------


@pytest.mark.parametrize("driver", list(ROLES), ids=lambda c: c.__name__)
def test_each_driver_implements_its_role_and_sends_nothing_when_made(driver: type) -> None:
    assert issubclass(driver, ROLES[driver])
    assert not inspect.isabstract(driver), getattr(driver, "__abstractmethods__", None)
    # An empty protocol: the constructor may not send a single command.
    with expected_protocol(driver, [], **EXTRA_KWARGS.get(driver, {})) as instrument:
        assert isinstance(instrument.limits, SafetyLimits)
        assert instrument.model in instrument.name


@pytest.mark.parametrize("driver", list(ROLES), ids=lambda c: c.__name__)
def test_each_driver_takes_the_arguments_of_its_role(driver: type) -> None:
    # Procedures call drivers by the role's signature, positionally and by keyword alike.
    role = ROLES[driver]
    for name in role.__abstractmethods__:
        declared = inspect.getattr_static(role, name)
        if isinstance(declared, property):
            continue
        wanted = list(inspect.signature(declared).parameters.values())
        got = list(inspect.signature(getattr(driver, name)).parameters.values())
        assert [(p.name, p.kind, p.default) for p in got] == [(p.name, p.kind, p.default) for p in wanted], name


@pytest.mark.parametrize("driver", list(ROLES), ids=lambda c: c.__name__)
def test_each_driver_lists_its_commands_in_its_docstring(driver: type) -> None:
    doc = driver.__doc__ or ""
    assert "Commands sent" in doc and "shutdown" in doc and "*IDN?" in doc


def test_roles_declare_the_interface() -> None:
    assert set(SourceMeter.__abstractmethods__) >= {
        "set_voltage", "set_current", "measure_current_a", "measure_voltage_v", "nplc", "output_state",
        "list_sweep", "pulse", "identity", "shutdown", "snapshot",
    }
    assert set(PulseGenerator.__abstractmethods__) >= {"configure_pulse", "trigger", "output_state"}
    assert set(LightSource.__abstractmethods__) >= {
        "set_power", "wavelength_m", "pulse", "set_modulation", "interlock_ok", "output_state",
    }
    # One output capability, written once: every role with an output inherits the same methods.
    for role in (SourceMeter, PulseGenerator, LightSource):
        assert issubclass(role, Output)
        for name in ("output_on", "output_off", "output_enabled"):
            assert getattr(role, name) is getattr(Output, name)
    assert set(SwitchMatrix.__abstractmethods__) >= {"connect", "disconnect", "open_all", "closed"}
    assert set(PowerMeter.__abstractmethods__) >= {"wavelength_m", "read_power_w"}
    assert list(inspect.signature(SourceMeter.pulse).parameters) == [
        "self", "level_v", "width_s", "period_s", "count", "base_v", "compliance_a",
    ]


# -- limits ------------------------------------------------------------------------------------------


def test_limit_error_names_parameter_value_and_range() -> None:
    limits = SafetyLimits(max_voltage_v=10.0)
    with pytest.raises(LimitError) as info:
        limits.check_voltage(12.0)
    message = str(info.value)
    assert "voltage_v=12.0" in message and "-10 V .. 10 V" in message and "max_voltage_v" in message
    assert isinstance(info.value, ValueError)
    assert info.value.parameter == "voltage_v" and info.value.value == 12.0


@pytest.mark.parametrize("bad", [math.nan, math.inf, "abc", None, True])
def test_limits_refuse_non_numbers(bad: object) -> None:
    with pytest.raises(LimitError, match="finite number"):
        SafetyLimits().check_voltage(bad)


def test_limit_checks() -> None:
    limits = SafetyLimits(max_voltage_v=5, max_current_a=1e-3, max_pulse_voltage_v=3, min_pulse_width_s=1e-6,
                          max_laser_current_a=0.05, max_laser_power_w=1e-3)
    assert limits.check_voltage(-5) == -5.0
    assert limits.check_compliance(1e-3) == 1e-3
    with pytest.raises(LimitError, match="compliance_a=0"):
        limits.check_compliance(0)
    with pytest.raises(LimitError, match="compliance_a=0.002"):
        limits.check_compliance(2e-3)
    with pytest.raises(LimitError, match="current_a"):
        limits.check_current(-2e-3)
    with pytest.raises(LimitError, match="compliance_v"):
        limits.check_voltage_compliance(0)
    with pytest.raises(LimitError, match="max_pulse_voltage_v"):
        limits.check_pulse_voltage(3.5)
    with pytest.raises(LimitError, match="min_pulse_width_s"):
        limits.check_pulse_width(1e-7)
    with pytest.raises(LimitError, match="max_laser_current_a"):
        limits.check_laser_current(0.06)
    with pytest.raises(LimitError, match="power_w"):
        limits.check_laser_power(-1e-6)


def test_safety_limits_validate_and_load_from_a_bench_table() -> None:
    with pytest.raises(LimitError, match="SafetyLimits.max_voltage_v"):
        SafetyLimits(max_voltage_v=0)
    with pytest.raises(LimitError, match="SafetyLimits.max_current_a"):
        SafetyLimits(max_current_a=math.nan)
    limits = SafetyLimits.from_mapping({"max_voltage_v": 3, "max_current_a": 1e-4})
    assert limits.max_voltage_v == 3.0 and limits.max_current_a == 1e-4
    assert limits.to_dict()["max_laser_power_w"] == SafetyLimits().max_laser_power_w
    with pytest.raises(ValueError, match="max_volts"):
        SafetyLimits.from_mapping({"max_volts": 3})
    with pytest.raises(Exception):
        limits.max_voltage_v = 20  # type: ignore[misc]  # frozen


def test_range_helpers() -> None:
    assert require_range("x", "2", 0, 3) == 2.0
    with pytest.raises(LimitError, match=r"x=4 is outside the Foo range: allowed 0 s .. 3 s"):
        require_range("x", 4, 0, 3, "s", "Foo range")
    assert require_int("count", 3.0, 1, 5) == 3
    with pytest.raises(LimitError, match="whole number"):
        require_int("count", 2.5, 1, 5)
    with pytest.raises(LimitError, match="count=9"):
        require_int("count", 9, 1, 5)
    validate = named("nplc")
    assert validate(1, (0.01, 10)) == 1.0
    with pytest.raises(LimitError, match="nplc=20"):
        validate(20, (0.01, 10))


# -- laser calibration -----------------------------------------------------------------------------------


def test_linear_calibration_maths() -> None:
    assert CAL.threshold_a == pytest.approx(0.03)
    assert CAL.max_power_w == pytest.approx(0.035)
    assert CAL.current_for_power(0.0) == 0.0
    assert CAL.current_for_power(5e-3) == pytest.approx(0.04)
    assert CAL.current_for_power(CAL.max_power_w) == pytest.approx(0.1)
    assert CAL.power_for_current(0.02) == 0.0  # below threshold: dark
    assert CAL.power_for_current(0.05) == pytest.approx(0.01)
    for power in (1e-4, 3e-3, 0.02):
        assert CAL.power_for_current(CAL.current_for_power(power)) == pytest.approx(power)


def test_table_calibration_interpolates_and_never_extrapolates() -> None:
    cal = LaserCalibration(np.array([0.0, 0.02, 0.025, 0.03, 0.04]), np.array([0.0, 0.0, 1e-3, 3e-3, 5e-3]), 405e-9)
    assert cal.threshold_a == pytest.approx(0.02)
    assert cal.current_for_power(2e-3) == pytest.approx(0.0275)  # halfway between the 2nd and 3rd lasing points
    assert cal.power_for_current(0.035) == pytest.approx(4e-3)
    with pytest.raises(LimitError, match="power_w=0.006.*calibrated range"):
        cal.current_for_power(6e-3)
    with pytest.raises(LimitError, match="current_a"):
        cal.power_for_current(0.05)
    assert LaserCalibration.from_mapping(cal.to_dict()).current_for_power(2e-3) == pytest.approx(0.0275)
    assert LaserCalibration.from_mapping(
        {"threshold_a": 0.03, "slope_w_per_a": 0.5, "max_current_a": 0.1}
    ).current_for_power(5e-3) == pytest.approx(0.04)


@pytest.mark.parametrize(
    "current, power, match",
    [
        ([0.0, 0.1], [1e-3, 2e-3], "start at 0 W"),
        ([0.0, 0.1, 0.05], [0.0, 1e-3, 2e-3], "strictly increase"),
        ([0.0, 0.05, 0.1], [0.0, 2e-3, 1e-3], "strictly increase above threshold"),
        ([0.0, 0.1], [0.0, 0.0], "never reaches threshold"),
        ([0.0], [0.0], "length >= 2"),
    ],
)
def test_calibration_refuses_bad_tables(current: list, power: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LaserCalibration(np.array(current), np.array(power))


def test_calibration_from_mapping_refuses_mixed_keys() -> None:
    with pytest.raises(ValueError, match="give either"):
        LaserCalibration.from_mapping({"current_a": [0, 1], "slope_w_per_a": 1.0})


# -- crossbar wiring ------------------------------------------------------------------------------------


def test_default_wiring_maps_devices_to_707b_channel_names() -> None:
    assert WIRING.row_pads == ("101", "102", "103", "104")
    assert WIRING.col_pads == ("105", "106", "107", "108")
    assert WIRING.channels("smu", 0, 0) == ("1A01", "1B05")
    assert WIRING.channels("pulse", 3, 2) == ("1C04", "1D07")
    assert WIRING.terminal_of("1B05") == "smu" and WIRING.terminal_of("1H01") is None
    assert CrossbarWiring.pad_of("1A05") == "105"
    big = CrossbarWiring.default(8, 8)  # 16 pads: the second card starts at column 1 of slot 2
    assert big.col_pads[-1] == "204" and big.channels("smu", 7, 7) == ("1A08", "2B04")


def test_wiring_refuses_bad_requests_and_tables() -> None:
    with pytest.raises(ValueError, match="terminal='laser'"):
        WIRING.channels("laser", 0, 0)
    with pytest.raises(LimitError, match="row=4"):
        WIRING.channels("smu", 4, 0)
    with pytest.raises(ValueError, match="wired to both"):
        CrossbarWiring({"smu": ("A", "B"), "pulse": ("B", "C")}, ("101",), ("102",))
    with pytest.raises(ValueError, match="more than one chip line"):
        CrossbarWiring({"smu": ("A", "B")}, ("101",), ("101",))
    with pytest.raises(ValueError, match="pad '1A1'"):
        CrossbarWiring({"smu": ("A", "B")}, ("1A1",), ("102",))
    with pytest.raises(ValueError, match="needs 80 matrix columns"):
        CrossbarWiring.default(40, 40)
    assert CrossbarWiring.from_mapping(WIRING.to_dict()) == WIRING
    with pytest.raises(ValueError, match="missing key 'col_pads'"):
        CrossbarWiring.from_mapping({"terminals": {"smu": ["A", "B"]}, "row_pads": ["101"]})


# -- helpers shared by drivers ----------------------------------------------------------------------------


def test_sweep_result_checks_shapes() -> None:
    result = SweepResult([0.1, 0.2], [1e-6, 2e-6], [0.0, 1e-3])
    assert len(result) == 2 and result.current_a.dtype == np.float64
    with pytest.raises(ValueError, match="one length"):
        SweepResult([0.1], [1e-6, 2e-6], [0.0])


def test_sweep_voltages_checks_limits_model_and_length() -> None:
    limits = SafetyLimits(max_voltage_v=10)
    assert sweep_voltages(limits, [0, 1, -1], 10, 210, "M").tolist() == [0, 1, -1]
    with pytest.raises(LimitError, match=r"voltages_v\[2\]=11"):
        sweep_voltages(limits, [0, 1, 11], 10, 210, "M")
    with pytest.raises(LimitError, match=r"voltages_v\[0\]=6.*M range"):
        sweep_voltages(limits, [6], 10, 5, "M")
    with pytest.raises(LimitError, match="1 .. 3 values"):
        sweep_voltages(limits, [0, 0, 0, 0], 3, 210, "M")
    with pytest.raises(LimitError, match="voltages_v"):
        sweep_voltages(limits, [], 3, 210, "M")


def test_pulse_helpers() -> None:
    assert pulse_aperture(1e-3, 50.0, 0.01, "M") == pytest.approx(0.025)  # half of 1 ms at 50 Hz
    assert pulse_aperture(1.0, 50.0, 0.01, "M") == 1.0  # never more than one line cycle
    with pytest.raises(LimitError, match="width_s"):
        pulse_aperture(1e-4, 50.0, 0.01, "M")
    limits = SafetyLimits(max_pulse_voltage_v=3)
    assert check_pulse_train(limits, 2, 1e-3, 2e-3, 5, 0.1) == (2.0, 1e-3, 2e-3, 0.1, 5)
    with pytest.raises(LimitError, match="level_v=4"):
        check_pulse_train(limits, 4, 1e-3, 2e-3, 5, 0)
    with pytest.raises(LimitError, match="period_s"):
        check_pulse_train(limits, 2, 1e-3, 1e-3, 5, 0)
    with pytest.raises(LimitError, match="count=0"):
        check_pulse_train(limits, 2, 1e-3, 2e-3, 0, 0)


# -- connection errors, timeouts, snapshots, shutdown ------------------------------------------------------


class FakeSession:
    """The two things drivers touch on a pyvisa resource: its timeout (ms) and close()."""

    def __init__(self, timeout_ms: float | None) -> None:
        self.timeout = timeout_ms

    def close(self) -> None:
        self.timeout = 0.0


class FailingAdapter(Adapter):
    """Answers ``*IDN?`` then fails every later read with ``error``; records the timeout at each read."""

    simulated = True

    def __init__(self, error: BaseException, timeout_ms: float | None = 2000.0) -> None:
        super().__init__()
        self.error = error
        self.connection = FakeSession(timeout_ms)
        self.resource_name = "TEST::1"
        self.written: list[str] = []
        self.timeouts_at_read: list[float | None] = []
        self._reply = ""

    def _write(self, command: str, **kwargs: object) -> None:
        self.written.append(command)
        self._reply = "MEMLAB,TEST,0,1" if command == "*IDN?" else ""

    def _read(self, **kwargs: object) -> str:
        self.timeouts_at_read.append(self.connection.timeout)
        if self._reply:
            return self._reply
        raise self.error


def test_timeout_raises_connection_error_naming_the_instrument() -> None:
    smu = Keithley2450(FailingAdapter(VisaIOError(StatusCode.error_timeout)))
    with pytest.raises(InstrumentConnectionError) as info:
        smu.measure_current_a()
    message = str(info.value)
    assert "Keithley 2450 (TEST::1)" in message and "no reply to ':MEAS:CURR?' within 2 s" in message
    assert isinstance(info.value, InstrumentError)


def test_dead_connection_raises_connection_error() -> None:
    smu = KeysightB2900(FailingAdapter(ConnectionResetError("peer closed")))
    with pytest.raises(InstrumentConnectionError, match=r"Keysight B2900 \(TEST::1\).*peer closed"):
        smu.output_enabled()


def test_infinite_visa_timeout_is_bounded() -> None:
    adapter = FailingAdapter(TimeoutError(), timeout_ms=None)
    Keithley2450(adapter)
    assert adapter.connection.timeout == interfaces.DEFAULT_TIMEOUT_MS


def test_long_operations_extend_the_timeout_only_while_they_run() -> None:
    adapter = FailingAdapter(TimeoutError())
    generator = Keysight33500B(adapter)
    generator._burst_s = 1000 * 0.01  # as configure_pulse leaves it for a 10 s burst
    with pytest.raises(InstrumentConnectionError):
        generator.trigger()  # SYST:ERR? times out at the normal timeout
    assert adapter.timeouts_at_read == [2000.0]
    generator.check_errors = lambda: []  # type: ignore[method-assign]
    with pytest.raises(InstrumentConnectionError):
        generator.trigger()
    assert adapter.timeouts_at_read[-1] == pytest.approx(2000.0 + 21_000.0)
    assert adapter.connection.timeout == 2000.0


def test_snapshot_reports_identity_address_simulated_settings_and_limits() -> None:
    smu = Keithley2450(FailingAdapter(TimeoutError()), limits=SafetyLimits(max_voltage_v=3))
    smu._record("nplc", 1)  # as setting or reading the declared nplc does
    snap = smu.snapshot()
    assert snap == {
        "model": "Keithley 2450", "identity": "MEMLAB,TEST,0,1", "address": "TEST::1", "simulated": True,
        "settings": {"nplc": 1.0}, "limits": SafetyLimits(max_voltage_v=3).to_dict(),
    }


def test_shutdown_tries_every_step_and_reports_once() -> None:
    adapter = FailingAdapter(TimeoutError())

    def refuse(command: str, **kwargs: object) -> None:
        adapter.written.append(command)
        if command == ":ABOR":
            raise VisaIOError(StatusCode.error_connection_lost)

    adapter._write = refuse  # type: ignore[method-assign]
    smu = Keithley2450(adapter)
    with pytest.raises(InstrumentError, match="shutdown incomplete"):
        smu.shutdown()
    assert adapter.written == [":ABOR", ":OUTP OFF", ":SOUR:VOLT 0", ":SOUR:CURR 0"]


def test_instrument_error_carries_the_instruments_messages() -> None:
    with expected_protocol(
        KeysightB2900, [("SYST:ERR?", '-222,"Data out of range"'), ("SYST:ERR?", '-113,"Undefined header"'),
                        ("SYST:ERR?", '+0,"No error"')],
    ) as smu:
        with pytest.raises(InstrumentError) as info:
            smu.output_on()  # refuses to switch on with errors pending: nothing else is sent
    assert info.value.errors == [(-222, "Data out of range"), (-113, "Undefined header")]
    assert "-222 Data out of range; -113 Undefined header" in str(info.value)
