"""Physics at the terminals of every SMU twin in compliance, and the 2600B's measure range when
measuring what it sources (issue 15).

A voltage source in compliance gives way: into a shorted device (1 kOhm filament) 0.5 V with a
10 uA limit drives 10 uA, and the terminal sits at I*R = 10 mV, which a voltage reading and the
2450's source read-back report.
"""

from __future__ import annotations

import pytest

from memlab.instruments.sim.chip import Chip
from memlab.instruments.sim.keithley2450 import Keithley2450Twin
from memlab.instruments.sim.keithley2600 import Keithley2600BTwin
from memlab.instruments.sim.keysight_b2900 import KeysightB2900Twin
from memlab.instruments.sim.smu import OVERFLOW
from memlab.instruments.sim.world import SimWorld

DEVICE = (1, 2)
LIMIT_A = 10e-6
LEVEL_V = 0.5


@pytest.fixture
def shorted() -> SimWorld:
    world = SimWorld(Chip(4, 4, seed=3, overrides={"stuck_fraction": 0.0}))
    world.connect("smu", *DEVICE)
    world.chip.set_fault(*DEVICE, "short")
    return world


def short_ohm(world: SimWorld) -> float:
    return 1.0 / world.chip.params["g_short_s"]


def ask(twin, message: str) -> str:
    twin.write(message)
    return twin.read()


def no_errors(twin, query: str) -> None:
    assert ask(twin, query).startswith("0,")


def test_2450_voltage_and_readback_in_compliance(shorted: SimWorld) -> None:
    twin = Keithley2450Twin(shorted, "smu")
    for command in (":SOUR:FUNC VOLT", f":SOUR:VOLT:ILIM {LIMIT_A}", f":SOUR:VOLT {LEVEL_V}",
                    ":OUTP ON", ':SENS:FUNC "CURR"'):
        twin.write(command)
    current, source = map(float, ask(twin, ':READ? "defbuffer1", READ, SOUR').split(","))
    expected_v = LIMIT_A * short_ohm(shorted)
    assert current == pytest.approx(LIMIT_A, rel=1e-3)
    assert source == pytest.approx(expected_v, rel=0.02)  # the actual source value, not 0.5 V
    twin.write(':SENS:FUNC "VOLT"')
    volts, source = map(float, ask(twin, ':READ? "defbuffer1", READ, SOUR').split(","))
    assert volts == pytest.approx(expected_v, rel=0.02)
    assert float(ask(twin, ":MEAS:VOLT?")) == pytest.approx(expected_v, rel=0.02)
    # Read-back off: SOUR is the programmed level.
    twin.write(":SOUR:VOLT:READ:BACK OFF")
    _, source = map(float, ask(twin, ':READ? "defbuffer1", READ, SOUR').split(","))
    assert source == pytest.approx(LEVEL_V)
    no_errors(twin, ":SYST:ERR?")


def test_2450_sweep_in_compliance_reports_terminal_voltages(shorted: SimWorld) -> None:
    twin = Keithley2450Twin(shorted, "smu")
    twin.write(f':SOUR:FUNC VOLT;:SOUR:VOLT:ILIM {LIMIT_A};:SENS:FUNC "VOLT"')
    twin.write(":SOUR:SWE:VOLT:LIN 0, 0.5, 11, 1e-3, 1")
    twin.write(":INIT")
    twin.write("*WAI")
    values = [float(v) for v in ask(twin, ':TRAC:DATA? 1, 11, "defbuffer1", READ, SOUR').split(",")]
    volts, sources = values[0::2], values[1::2]
    clamp_v = LIMIT_A * short_ohm(shorted)
    for level, volt, source in zip([0.05 * k for k in range(11)], volts, sources):
        # Below 10 mV the short carries less than the limit: the level reaches the terminal.
        assert volt == pytest.approx(min(level, clamp_v), rel=0.02, abs=2e-5)
        assert source == pytest.approx(min(level, clamp_v), rel=0.02, abs=2e-5)


def test_b2900_voltage_in_compliance(shorted: SimWorld) -> None:
    twin = KeysightB2900Twin(shorted, "smu")
    for command in (":SOUR:FUNC:MODE VOLT", f":SENS:CURR:PROT {LIMIT_A}", f":SOUR:VOLT {LEVEL_V}",
                    ":OUTP ON"):
        twin.write(command)
    current = float(ask(twin, ":MEAS:CURR? (@1)"))
    volts = float(ask(twin, ":MEAS:VOLT? (@1)"))
    assert current == pytest.approx(LIMIT_A, rel=1e-3)
    assert volts == pytest.approx(LIMIT_A * short_ohm(shorted), rel=0.02)
    no_errors(twin, ":SYST:ERR?")


def test_2600b_voltage_in_compliance(shorted: SimWorld) -> None:
    twin = Keithley2600BTwin(shorted, "smu")
    twin.write(f"smua.source.limiti = {LIMIT_A} smua.source.levelv = {LEVEL_V} smua.source.output = 1")
    current = float(ask(twin, "print(smua.measure.i())"))
    volts = float(ask(twin, "print(smua.measure.v())"))
    assert current == pytest.approx(LIMIT_A, rel=1e-3)
    assert volts == pytest.approx(LIMIT_A * short_ohm(shorted), rel=0.02)
    assert ask(twin, "print(smua.source.compliance)") == "true"


def test_2600b_measure_range_follows_the_source_range_when_sourcing_current(shorted: SimWorld) -> None:
    shorted.chip.set_fault(*DEVICE, "none")
    twin = Keithley2600BTwin(shorted, "smu")
    twin.write("smua.measure.rangei = 1e-6")
    twin.write("smua.source.func = smua.OUTPUT_DCAMPS smua.source.limitv = 20 "
               "smua.source.leveli = 10e-6 smua.source.output = 1")
    reading = float(ask(twin, "print(smua.measure.i())"))
    assert reading != OVERFLOW
    assert reading == pytest.approx(10e-6, rel=1e-3)
    # A fixed source range: the measurement uses it too.
    twin.write("smua.source.rangei = 100e-6 smua.source.leveli = 50e-6")
    assert float(ask(twin, "print(smua.measure.i())")) == pytest.approx(50e-6, rel=1e-3)
    # Measuring current while sourcing voltage, the fixed 1 uA range still overflows at 100 uA
    # (the short at 0.1 V), as on the instrument.
    shorted.chip.set_fault(*DEVICE, "short")
    twin.write("smua.source.output = 0 smua.source.func = smua.OUTPUT_DCVOLTS "
               "smua.source.levelv = 0.1 smua.source.limiti = 1e-3 smua.source.output = 1")
    assert float(ask(twin, "print(smua.measure.i())")) == OVERFLOW


def test_b2900_current_source_and_its_voltage_limit(shorted: SimWorld) -> None:
    twin = KeysightB2900Twin(shorted, "smu")
    for command in (":SOUR:FUNC:MODE CURR", ":SENS:VOLT:PROT 2", f":SOUR:CURR {LIMIT_A}", ":OUTP ON"):
        twin.write(command)
    assert float(ask(twin, ":MEAS:CURR? (@1)")) == pytest.approx(LIMIT_A, rel=1e-3)
    assert float(ask(twin, ":MEAS:VOLT? (@1)")) == pytest.approx(LIMIT_A * short_ohm(shorted), rel=0.02)
    # 10 mA would need 10 V across the 1 kOhm short: the 2 V limit holds the source back.
    twin.write(":SOUR:CURR 10e-3")
    volts, amps = (float(v) for v in ask(twin, ":MEAS? (@1)").split(",")[:2])
    assert volts == pytest.approx(2.0, rel=1e-3)
    assert amps == pytest.approx(shorted.chip.probe_current(*DEVICE, 2.0), rel=0.02)
    assert amps < 10e-3
    no_errors(twin, ":SYST:ERR?")


def test_2450_measure_range_follows_the_source_range_when_measuring_the_source(shorted: SimWorld) -> None:
    shorted.chip.set_fault(*DEVICE, "stuck", 1e-5)
    twin = Keithley2450Twin(shorted, "smu")
    twin.write(':SENS:FUNC "CURR";:SENS:CURR:RANG 1e-6')  # a fixed 1 uA measure range
    twin.write(":SOUR:FUNC CURR;:SOUR:CURR:VLIM 20;:SOUR:CURR 1e-5;:OUTP ON")
    reading = float(ask(twin, ":READ?"))
    assert reading != OVERFLOW and reading == pytest.approx(1e-5, rel=1e-3)
    # Measuring current while sourcing voltage, the fixed 1 uA range overflows at 10 uA.
    twin.write(":OUTP OFF;:SOUR:FUNC VOLT;:SOUR:VOLT:ILIM 1e-3;:SOUR:VOLT 1;:OUTP ON")
    assert float(ask(twin, ":READ?")) == OVERFLOW
