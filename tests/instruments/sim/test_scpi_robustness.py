"""SCPI twins never raise out of the parser (issue 12): malformed commands, NaN and huge sweeps
become error-queue entries with the instrument's codes, and the twin keeps answering."""

from __future__ import annotations

import time

import pytest

from memlab.instruments.sim.chip import Chip
from memlab.instruments.sim.keithley2450 import Keithley2450Twin
from memlab.instruments.sim.keysight_b2900 import KeysightB2900Twin
from memlab.instruments.sim.scpi import Command, ScpiParser
from memlab.instruments.sim.world import SimWorld


@pytest.fixture
def world() -> SimWorld:
    world = SimWorld(Chip(4, 4, seed=3, overrides={"stuck_fraction": 0.0}))
    world.connect("smu", 1, 2)
    return world


@pytest.fixture
def smu(world: SimWorld) -> Keithley2450Twin:
    return Keithley2450Twin(world, "smu")


def ask(twin, message: str) -> str:
    twin.write(message)
    return twin.read()


def codes(twin) -> list[int]:
    found = []
    while twin.error_count:
        found.append(twin.pop_error()[0])
    return found


@pytest.mark.parametrize("command", [
    ":SOUR:SWE:VOLT:LIN 0, 1, 1000000, 1e-3, 268000000",
    ":SOUR:SWE:VOLT:LIN 0, 1, 1000000, 1e-3, 10",
    ":SOUR:SWE:VOLT:LIN:STEP 0, 1, 1e-6, 1e-3, 100",
    ":SOUR:SWE:VOLT:LOG 1e-3, 1, 1000000, 1e-3, 1000",
    ':TRIG:LOAD "SimpleLoop", 100000000',
    ':TRIG:LOAD "SimpleLoop", 268000000, 0, "defbuffer1"',
])
def test_huge_sweeps_get_the_instruments_limit_error(smu: Keithley2450Twin, command: str) -> None:
    start = time.perf_counter()
    smu.write(command)
    smu.write(":INIT")
    assert time.perf_counter() - start < 5.0
    assert codes(smu) == [-223]
    # The refused model was not loaded: :INIT ran the empty model, one reading.
    assert ask(smu, ":TRAC:ACT?") == "1"
    assert ask(smu, "*IDN?").startswith("KEITHLEY")


def test_largest_allowed_sweep_still_loads(smu: Keithley2450Twin) -> None:
    smu.write(":SOUR:SWE:VOLT:LIN 0, 0.1, 1000, 1e-3, 7500")  # 7.5e6 readings: the limit
    assert codes(smu) == []


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e400", "9.9e37"])
def test_nan_and_infinite_levels_are_refused(smu: Keithley2450Twin, value: str) -> None:
    smu.write(":SOUR:VOLT 0.2")
    for command in (f":SOUR:VOLT {value}", f":SOUR:VOLT:ILIM {value}", f":SENS:CURR:NPLC {value}",
                    f":SOUR:LIST:VOLT 0.1, {value}", f":SENS:CURR:RANG {value}"):
        smu.write(command)
        found = codes(smu)
        assert len(found) == 1 and found[0] in (-222, -224), (command, found)
    assert float(ask(smu, ":SOUR:VOLT?")) == pytest.approx(0.2)
    smu.write(":OUTP ON")
    assert float(ask(smu, ":MEAS:CURR?")) > 0.0
    smu.write("*RST")
    assert codes(smu) == []


def test_a_handler_bug_becomes_an_error_entry_not_an_exception(world: SimWorld) -> None:
    class Buggy(Keithley2450Twin):
        @classmethod
        def commands(cls, p: ScpiParser) -> None:
            super().commands(p)
            p.add(":DIAGnostic:VALue", set=lambda i, c: int("x"), query=lambda i, c: [][1])
            p.add(":DIAGnostic:MEMory", set=lambda i, c: bytearray(1 << 62))

    twin = Buggy(world, "buggy")
    twin.write(":DIAG:VAL 1")
    twin.write(":DIAG:VAL?")
    twin.write(":DIAG:MEM")
    assert codes(twin) == [-224, -224, -225]
    assert ask(twin, "*IDN?").startswith("KEITHLEY")


def test_b2900_huge_channel_range_is_refused_at_once(world: SimWorld) -> None:
    twin = KeysightB2900Twin(world, "smu")
    start = time.perf_counter()
    twin.write(":ABOR (@1:99999999)")
    assert time.perf_counter() - start < 1.0
    assert codes(twin) == [-222]


def test_command_channels_refuses_a_huge_range() -> None:
    from memlab.instruments.sim.scpi import ScpiError

    with pytest.raises(ScpiError) as caught:
        Command("X", False, ("(@1:99999999)",), ()).channels(0)
    assert caught.value.code == -222


@pytest.mark.parametrize("source", [":SOUR:FUNC VOLT;:SOUR:VOLT 0.1", ":SOUR:FUNC CURR;:SOUR:CURR 1e-7"])
def test_the_largest_reading_count_answers_within_seconds(smu: Keithley2450Twin, source: str) -> None:
    smu.write(source)
    smu.write(":OUTP ON;:SENS:COUN 300000")
    start = time.perf_counter()
    reading = float(ask(smu, ":READ?"))
    assert time.perf_counter() - start < 5.0
    assert reading != 0.0
    assert ask(smu, ":TRAC:ACT?") == "100000"  # defbuffer1 keeps the newest 100,000
    assert codes(smu) == []


def test_2450_autorange_limits_default_to_each_functions_own_ranges(smu: Keithley2450Twin) -> None:
    assert float(ask(smu, ":SENS:CURR:RANG:AUTO:LLIM?")) == pytest.approx(10e-9)
    assert float(ask(smu, ":SENS:VOLT:RANG:AUTO:ULIM?")) == pytest.approx(200.0)
    assert float(ask(smu, ":SENS:RES:RANG:AUTO:LLIM?")) == pytest.approx(20.0)
