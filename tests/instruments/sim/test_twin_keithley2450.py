"""The Keithley 2450 twin: physics through memlab's driver and pymeasure's stock driver, buffers,
sweeps, limits, time and fault injection."""

from __future__ import annotations

import numpy as np
import pytest
from pymeasure.instruments.keithley import Keithley2450 as StockKeithley2450
from pyvisa.errors import VisaIOError

from memlab.instruments.interfaces import InstrumentConnectionError, InstrumentError
from memlab.instruments.keithley import Keithley2450
from memlab.instruments.sim.adapter import SimAdapter
from memlab.instruments.sim.base import Faults, SimConnectionError, SimTimeoutError
from memlab.instruments.sim.chip import Chip
from memlab.instruments.sim.keithley2450 import Keithley2450Twin as Twin2450
from memlab.instruments.sim.smu import OVERFLOW
from memlab.instruments.sim.world import SimWorld

ROW, COL = 1, 2


@pytest.fixture
def world() -> SimWorld:
    world = SimWorld(Chip(4, 4, seed=3))
    world.connect("smu", ROW, COL)
    return world


@pytest.fixture
def twin(world: SimWorld) -> Twin2450:
    return Twin2450(world, "smu")


@pytest.fixture
def smu(twin: Twin2450) -> Keithley2450:
    return Keithley2450(SimAdapter(twin))


def ask(twin: Twin2450, message: str) -> str:
    twin.write(message)
    return twin.read()


def errors(twin: Twin2450) -> list[str]:
    found = []
    while not (reply := ask(twin, "SYST:ERR?")).startswith("0,"):
        found.append(reply)
    return found


def test_identity_language_and_line_frequency(smu: Keithley2450, twin: Twin2450) -> None:
    assert smu.identity().startswith("KEITHLEY INSTRUMENTS,MODEL 2450,")
    assert ask(twin, "*LANG?") == "SCPI"
    assert ask(twin, ":SYST:LFR?") == "50"


def test_list_sweep_follows_the_device_iv(smu: Keithley2450, world: SimWorld) -> None:
    voltages = np.linspace(-0.6, 0.6, 61)  # below the switching threshold: the sweep reads only
    result = smu.list_sweep(voltages, compliance_a=1e-3, nplc=1.0)
    expected = np.array([world.chip.probe_current(ROW, COL, v) for v in voltages])
    np.testing.assert_allclose(result.source_v, voltages, atol=1e-9)
    # Read noise (~1 %) and the range's quantisation, but the sinh I-V must be followed.
    np.testing.assert_allclose(result.current_a, expected, rtol=0.05, atol=2e-10)
    assert np.all(np.diff(result.time_s) > 0)


def test_sweep_reaches_the_routed_device_only(smu: Keithley2450, world: SimWorld) -> None:
    world.chip.set_fault(0, 0, "short")  # a very different device elsewhere on the chip
    routed = smu.list_sweep([0.3], compliance_a=1e-3, nplc=1.0).current_a[0]
    world.connect("smu", 0, 0)
    shorted = smu.list_sweep([0.3], compliance_a=1e-3, nplc=1.0).current_a[0]
    assert routed == pytest.approx(world.chip.probe_current(ROW, COL, 0.3), rel=0.05)
    assert shorted == pytest.approx(world.chip.probe_current(0, 0, 0.3), rel=0.05)
    assert shorted > 10 * routed


def test_a_held_sweep_runs_again_cheaply_and_is_reloaded_after_any_other_command(
        smu: Keithley2450, twin: Twin2450, world: SimWorld) -> None:
    world.chip.set_fault(ROW, COL, "short")  # the current is the compliance: a stale limit shows
    first_start = world.clock.now()
    first = smu.list_sweep([0.3], compliance_a=1e-5, nplc=0.01).current_a[0]
    held_start = world.clock.now()
    held = smu.list_sweep([0.3], compliance_a=1e-5, nplc=0.01).current_a[0]
    held_s, first_s = world.clock.now() - held_start, held_start - first_start
    assert held == pytest.approx(first, rel=1e-3) and held == pytest.approx(1e-5, rel=1e-2)
    assert held_s < 0.6 * first_s  # no set-up messages
    smu.set_voltage(0.5, compliance_a=1e-6)  # another user of the instrument: 1 uA, 0.5 V
    again = smu.list_sweep([0.3], compliance_a=1e-5, nplc=0.01)
    assert again.current_a[0] == pytest.approx(1e-5, rel=1e-2)  # the sweep's own limit, reloaded
    np.testing.assert_allclose(twin.sweep.levels, [0.3])
    assert twin.state["ilim"] == pytest.approx(1e-5) and twin.state["output"] is False


def test_sweep_time_is_integration_delay_and_overhead(smu: Keithley2450, twin: Twin2450, world: SimWorld) -> None:
    voltages = np.full(100, 0.1)
    start = world.clock.now()
    result = smu.list_sweep(voltages, compliance_a=1e-3, nplc=1.0, delay_s=1e-3)
    # 1 PLC at 50 Hz plus 1 ms delay and the trigger model's overhead, per point: the driver
    # switches autozero off (the instrument's default, on, would double the integration).
    per_point = np.diff(result.time_s).mean()
    assert per_point == pytest.approx(0.02 + 1e-3 + 150e-6, rel=1e-6)
    assert world.clock.now() - start >= 100 * per_point
    careful = Keithley2450(SimAdapter(twin), autozero=True)
    result = careful.list_sweep(voltages, compliance_a=1e-3, nplc=1.0, delay_s=1e-3)
    assert np.diff(result.time_s).mean() == pytest.approx(2 * 0.02 + 1e-3 + 150e-6, rel=1e-6)


def test_stock_pymeasure_driver_sets_a_voltage_and_reads_the_chip(twin: Twin2450, world: SimWorld) -> None:
    stock = StockKeithley2450(SimAdapter(twin))
    stock.reset()
    stock.apply_voltage(compliance_current=1e-3)
    stock.measure_current(nplc=1)
    stock.enable_source()
    stock.source_voltage = 0.4
    current = stock.current
    assert current == pytest.approx(world.chip.probe_current(ROW, COL, 0.4), rel=0.05)
    assert stock.source_voltage == 0.4
    assert stock.compliance_current == 1e-3
    assert stock.source_enabled is True
    stock.check_errors()  # the stock driver's commands are all valid native SCPI
    stock.shutdown()
    assert stock.source_enabled is False


def test_compliance_clamps_the_current(smu: Keithley2450, world: SimWorld) -> None:
    world.chip.set_fault(ROW, COL, "short")
    true_current = world.chip.probe_current(ROW, COL, 1.0)
    smu.set_voltage(1.0, compliance_a=1e-6)
    smu.output_on()
    reading = smu.measure_current_a()
    assert true_current >= 1e-4
    assert reading == pytest.approx(1e-6, rel=1e-3)


def test_fixed_range_overflows_and_auto_range_does_not(twin: Twin2450, world: SimWorld) -> None:
    twin.write(":SOUR:VOLT 0.5;:SOUR:VOLT:ILIM 1e-3;:OUTP ON")
    twin.write(":SENS:CURR:RANG 1e-8")
    assert float(ask(twin, ":READ?")) == OVERFLOW
    twin.write(":SENS:CURR:RANG:AUTO ON")
    assert float(ask(twin, ":READ?")) == pytest.approx(world.chip.probe_current(ROW, COL, 0.5), rel=0.05)
    assert ask(twin, ":SENS:CURR:RANG:AUTO?") == "1"


def test_range_setting_rounds_up_and_refuses_too_large(twin: Twin2450) -> None:
    twin.write(":SENS:CURR:RANG 2e-6")
    assert float(ask(twin, ":SENS:CURR:RANG?")) == 1e-5
    twin.write(":SENS:CURR:RANG 2")
    assert errors(twin) == ['-222,"Data out of range;2 not in -1.05 .. 1.05"']


def test_quantisation_coarsens_with_short_integration(twin: Twin2450) -> None:
    twin.write(":SOUR:VOLT 0.3;:OUTP ON;:SENS:CURR:RANG 1e-6")
    twin.write(":SENS:CURR:NPLC 0.01")
    coarse = float(ask(twin, ":READ?"))
    assert coarse / 5e-11 == pytest.approx(round(coarse / 5e-11), abs=1e-6)  # 1 uA / 20,000 counts


def test_open_terminal_reads_nothing(world: SimWorld, twin: Twin2450) -> None:
    world.disconnect_all()
    twin.write(":SOUR:VOLT 0.5;:OUTP ON")
    assert abs(float(ask(twin, ":MEAS:CURR?"))) < 1e-9


def test_dc_bias_above_threshold_programs_the_device_over_time(twin: Twin2450, world: SimWorld) -> None:
    before = world.chip.conductance[ROW, COL]
    twin.write(":SOUR:VOLT:ILIM 1e-3;:SOUR:VOLT 1.6;:OUTP ON")
    world.clock.sleep(1.0)
    twin.write(":OUTP OFF")
    after = world.chip.conductance[ROW, COL]
    assert after > before
    untouched = world.chip.conductance.copy()
    world.clock.sleep(1.0)
    twin.write(":SOUR:VOLT 0")  # output off: no more stress
    np.testing.assert_array_equal(world.chip.conductance, untouched)


def test_measurement_charges_integration_time(twin: Twin2450, world: SimWorld) -> None:
    twin.write(":SENS:CURR:NPLC 1;:SENS:CURR:AZER OFF;:OUTP ON")
    start = world.clock.now()
    ask(twin, ":READ?")
    assert world.clock.now() - start >= 0.02


def test_buffers_and_bulk_fetch(twin: Twin2450) -> None:
    twin.write(':TRAC:MAKE "mine", 50')
    twin.write(':TRAC:MAKE "mine", 50')
    assert errors(twin) == ["-224,\"Illegal parameter value;buffer 'mine' already exists\""]
    twin.write(":SOUR:LIST:VOLT 0.1,0.2,0.3")
    twin.write(':SOUR:SWE:VOLT:LIST 1, 0, 2, OFF, "mine"')
    twin.write(":INIT;*WAI")
    assert ask(twin, ':TRAC:ACT? "mine"') == "6"
    assert ask(twin, ":TRAC:ACT? \"defbuffer1\"") == "0"
    data = ask(twin, ':TRAC:DATA? 2, 3, "mine", SOUR, READ, UNIT')
    fields = data.split(",")
    assert [float(fields[0]), float(fields[3])] == [0.2, 0.3]
    assert fields[2] == "Amp DC"
    twin.write(':TRAC:DATA? 1, 7, "mine"')
    assert errors(twin)[0].startswith('-222,"Data out of range')
    twin.write(':TRAC:CLE "mine"')
    assert ask(twin, ':TRAC:ACT? "mine"') == "0"
    twin.write(':TRAC:DEL "defbuffer1"')
    assert errors(twin) == ["-224,\"Illegal parameter value;'defbuffer1' cannot be deleted\""]


def test_a_full_buffer_drops_its_oldest_readings(twin: Twin2450) -> None:
    twin.write(':TRAC:MAKE "small", 10;:OUTP ON')
    for level in range(12):
        twin.write(f":SOUR:VOLT {level / 100}")
        ask(twin, ':READ? "small", READ')
    assert ask(twin, ':TRAC:ACT? "small"') == "10"
    sources = [float(v) for v in ask(twin, ':TRAC:DATA? 1, 10, "small", SOUR').split(",")]
    assert sources == pytest.approx([level / 100 for level in range(2, 12)])


def test_source_list_limits_of_the_model(twin: Twin2450) -> None:
    twin.write(":SOUR:LIST:VOLT " + ",".join(["0.1"] * 101))
    for _ in range(25):
        twin.write(":SOUR:LIST:VOLT:APP " + ",".join(["0.1"] * 100))
    assert ask(twin, ":SOUR:LIST:VOLT:POIN?") == "2500"
    twin.write(":SOUR:LIST:VOLT:APP 0.1")
    assert errors(twin) == [
        '-223,"Too much data;101 values in one command; at most 100, append the rest"',
        '-223,"Too much data;a source list holds at most 2500 values"',
    ]


def test_linear_dual_sweep_and_trigger_loop(twin: Twin2450) -> None:
    twin.write(':SOUR:SWE:VOLT:LIN 0, 0.4, 5, 0, 1, AUTO, OFF, ON, "defbuffer1"')
    twin.write(":INIT")
    assert ask(twin, "*OPC?") == "1"
    values = [float(v) for v in ask(twin, ':TRAC:DATA? 1, 10, "defbuffer1", SOUR').split(",")]
    assert values == pytest.approx([0, 0.1, 0.2, 0.3, 0.4, 0.4, 0.3, 0.2, 0.1, 0])
    twin.write(':TRIG:LOAD "SimpleLoop", 3, 0.01;:OUTP ON;:INIT')
    assert ask(twin, ":TRAC:ACT?") == "13"
    twin.write(':TRIG:LOAD "ConfigList"')
    assert errors(twin)[0].startswith('-224,"Illegal parameter value')


def test_sweep_delay_between_0_and_50_us_is_refused(twin: Twin2450) -> None:
    twin.write(":SOUR:LIST:VOLT 0.1;:SOUR:SWE:VOLT:LIST 1, 20e-6")
    assert errors(twin) == ['-222,"Data out of range;sweep delay 2e-05 s: 0 or 50e-6 .. 1e4"']


def test_current_source_drives_the_device_to_the_current(twin: Twin2450, world: SimWorld) -> None:
    twin.write(':SOUR:FUNC CURR;:SOUR:CURR 1e-7;:SOUR:CURR:VLIM 2;:SENS:FUNC "VOLT";:OUTP ON')
    voltage = float(ask(twin, ":READ?"))
    assert world.chip.probe_current(ROW, COL, voltage) == pytest.approx(1e-7, rel=0.05)
    assert ask(twin, ":SENS:FUNC?") == '"VOLT:DC"'


def test_timeout_is_a_clear_driver_error_and_costs_the_timeout(smu: Keithley2450, twin: Twin2450,
                                                                world: SimWorld) -> None:
    twin.faults = Faults(timeout_after=0)
    start = world.clock.now()
    with pytest.raises(InstrumentConnectionError, match="no reply to ':MEAS:CURR\\?'"):
        smu.measure_current_a()
    assert world.clock.now() - start >= 2.0
    with pytest.raises(SimTimeoutError) as info:
        twin.read()
    assert isinstance(info.value, VisaIOError)


def test_disconnect_after_n_messages(smu: Keithley2450, twin: Twin2450) -> None:
    twin.faults = Faults(disconnect_after=2)
    smu.identity()
    with pytest.raises(InstrumentConnectionError, match="connection failed"):
        smu.identity()
        smu.identity()
    with pytest.raises(SimConnectionError, match="connection lost after 2 messages"):
        twin.write("*IDN?")


def test_garbled_replies_are_refused_by_the_driver(smu: Keithley2450, twin: Twin2450) -> None:
    twin.faults = Faults(garble_every=1, seed=4)
    with pytest.raises((InstrumentError, ValueError)):
        smu.measure_current_a()


def test_injected_errors_are_raised_with_the_instrument_message(smu: Keithley2450, twin: Twin2450) -> None:
    twin.faults = Faults(errors=[(-300, "Device-specific error;overheated")])
    with pytest.raises(InstrumentError, match="-300 Device-specific error;overheated"):
        smu.output_on()


def test_reset_restores_defaults_and_keeps_nothing_of_the_sweep(twin: Twin2450) -> None:
    twin.write(":SOUR:VOLT 1;:SENS:CURR:NPLC 0.1;:SOUR:LIST:VOLT 1,2")
    twin.write("*RST")
    assert float(ask(twin, ":SOUR:VOLT?")) == 0.0
    assert float(ask(twin, ":SENS:CURR:NPLC?")) == 1.0
    assert ask(twin, ":SOUR:LIST:VOLT:POIN?") == "0"
