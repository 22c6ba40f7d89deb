"""The B2900 twin: timer-triggered list sweeps and pulses through memlab's driver, spot
measurements, compliance, trace buffer and the variants' limits."""

from __future__ import annotations

import numpy as np
import pytest

from memlab.instruments.keysight import KeysightB2900
from memlab.instruments.sim.adapter import SimAdapter
from memlab.instruments.sim.chip import Chip
from memlab.instruments.sim.keysight_b2900 import KeysightB2900Twin as TwinB2900
from memlab.instruments.sim.world import SimWorld

ROW, COL = 2, 3


@pytest.fixture
def world() -> SimWorld:
    world = SimWorld(Chip(4, 4, seed=7))
    world.connect("smu", ROW, COL)
    return world


def ask(twin, message: str) -> str:
    twin.write(message)
    return twin.read()


def errors(twin) -> list[str]:
    found = []
    while not (reply := ask(twin, "SYST:ERR?")).startswith("0,"):
        found.append(reply)
    return found


def test_list_sweep_follows_the_device_iv_at_the_timer_pace(world: SimWorld) -> None:
    smu = KeysightB2900(SimAdapter(TwinB2900(world, "smu", variant="B2901A")))
    voltages = np.linspace(-0.5, 0.5, 21)
    result = smu.list_sweep(voltages, compliance_a=1e-3, nplc=1.0)
    expected = [world.chip.probe_current(ROW, COL, v) for v in voltages]
    np.testing.assert_allclose(result.current_a, expected, rtol=0.05, atol=1e-10)
    np.testing.assert_allclose(result.source_v, voltages)
    assert np.allclose(np.diff(result.time_s), np.diff(result.time_s)[0])


def test_pulses_program_the_device_and_measure_during_the_pulse(world: SimWorld) -> None:
    smu = KeysightB2900(SimAdapter(TwinB2900(world, "smu")))
    before = world.chip.conductance
    result = smu.pulse(1.8, 1e-3, 5e-3, 5, compliance_a=1e-3)
    after = world.chip.conductance
    assert np.argwhere(after != before).tolist() == [[ROW, COL]]
    assert np.all(np.diff(result.current_a) > 0)  # each pulse potentiates further
    assert result.time_s[-1] == pytest.approx(4 * 5e-3)


def test_spot_measurement_and_compliance(world: SimWorld) -> None:
    twin = TwinB2900(world, "smu")
    smu = KeysightB2900(SimAdapter(twin))
    smu.set_voltage(0.4, compliance_a=1e-3)
    smu.output_on()
    assert smu.measure_current_a() == pytest.approx(world.chip.probe_current(ROW, COL, 0.4), rel=0.05)
    world.chip.set_fault(ROW, COL, "short")
    smu.set_voltage(1.0, compliance_a=2e-6)
    assert smu.measure_current_a() == pytest.approx(2e-6, rel=1e-3)
    assert float(ask(twin, ":MEAS:VOLT? (@1)")) < 1.0  # in compliance the voltage gives way


def test_timer_too_fast_for_the_variant_or_the_measurement(world: SimWorld) -> None:
    twin = TwinB2900(world, "smu", variant="B2901A")
    twin.write(":TRIG1:TIM 15e-6")
    assert errors(twin) == ['-222,"Data out of range;15e-6 not in 2e-05 .. 100000"']
    twin.write(":SENS1:CURR:NPLC 1;:TRIG1:SOUR TIM;:TRIG1:TIM 1e-3;:TRIG1:COUN 3;:INIT (@1)")
    assert errors(twin) == ['-221,"Settings conflict;a point needs 0.02 s, the trigger timer gives 0.001 s"']
    twin11 = TwinB2900(world, "smu2", variant="B2911A")
    twin11.write(":TRIG1:TIM 15e-6")
    assert errors(twin11) == []


def test_second_channel_exists_only_on_two_channel_variants(world: SimWorld) -> None:
    world.connect("smu:ch2", 0, 0)
    single = TwinB2900(world, "smu", variant="B2901A")
    single.write(":SOUR2:VOLT 1")
    assert errors(single) == ['-114,"Header suffix out of range;B2901A has 1 channel(s)"']
    double = TwinB2900(world, "smu", variant="B2902A")
    reply = ask(double, ":MEAS:CURR? (@1,2)")
    assert len(reply.split(",")) == 2


def test_fetch_elements_follow_the_fixed_order_and_trace_collects(world: SimWorld) -> None:
    twin = TwinB2900(world, "smu")
    twin.write(":SOUR1:VOLT:MODE LIST;:SOUR1:LIST:VOLT 0.1,0.2,0.3;:TRIG1:COUN 3;:SENS1:CURR:NPLC 0.1")
    twin.write(":FORM:ELEM:SENS SOUR,CURR;:TRAC1:FEED SENS;:TRAC1:FEED:CONT NEXT;:INIT (@1)")
    values = [float(v) for v in ask(twin, ":FETC:ARR? (@1)").split(",")]
    assert values[1::2] == pytest.approx([0.1, 0.2, 0.3])  # CURR before SOUR, whatever the order given
    assert ask(twin, ":TRAC1:POIN:ACT?") == "3"
    assert len(ask(twin, ":TRAC1:DATA?").split(",")) == 6
    assert ask(twin, ":FETC:ARR:SOUR? (@1)").count(",") == 2


def test_bus_trigger_runs_one_point_per_trigger(world: SimWorld) -> None:
    twin = TwinB2900(world, "smu")
    twin.write(":TRIG1:SOUR BUS;:TRIG1:COUN 2;:SOUR1:VOLT 0.2;:INIT (@1)")
    twin.write("*TRG")
    assert ask(twin, ":FETC:ARR:CURR? (@1)").count(",") == 0
    twin.write("*TRG;*TRG")
    assert ask(twin, ":FETC:ARR:CURR? (@1)").count(",") == 1
    assert errors(twin) == ['-211,"Trigger ignored"']
