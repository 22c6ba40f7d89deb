"""The 33500B and 81160A twins: pulses through the switch matrix onto one device, bursts, loads,
free-running outputs, limits, and memlab's and pymeasure's drivers against them."""

from __future__ import annotations

import numpy as np
import pytest
from pymeasure.instruments.agilent import Agilent33500

from memlab.instruments.interfaces import CrossbarWiring
from memlab.instruments.keithley import Keithley707B
from memlab.instruments.keysight import Keysight33500B, Keysight81160A
from memlab.instruments.sim.adapter import SimAdapter
from memlab.instruments.sim.chip import Chip
from memlab.instruments.sim.keithley707b import Keithley707BTwin
from memlab.instruments.sim.pulse_generators import Keysight33500BTwin as Twin33500B
from memlab.instruments.sim.pulse_generators import Keysight81160ATwin as Twin81160A
from memlab.instruments.sim.world import SimWorld


@pytest.fixture
def world() -> SimWorld:
    return SimWorld(Chip(4, 4, seed=5))


def ask(twin, message: str) -> str:
    twin.write(message)
    return twin.read()


def errors(twin) -> list[str]:
    found = []
    while not (reply := ask(twin, "SYST:ERR?")).startswith("0,"):
        found.append(reply)
    return found


def test_pulse_through_the_switch_matrix_changes_only_the_addressed_device(world: SimWorld) -> None:
    wiring = CrossbarWiring.default(4, 4)
    matrix = Keithley707B(SimAdapter(Keithley707BTwin(world, "switch", wiring=wiring)), wiring=wiring)
    generator = Keysight33500B(SimAdapter(Twin33500B(world, "pulse")))
    matrix.connect("pulse", 2, 1)
    assert world.device_for("pulse") == (2, 1)
    generator.configure_pulse(2.0, 100e-9, 1e-3, burst_count=10)
    generator.output_on()
    before = world.chip.conductance
    start = world.clock.now()
    generator.trigger()
    after = world.chip.conductance
    changed = np.argwhere(after != before)
    assert changed.tolist() == [[2, 1]]
    assert after[2, 1] > before[2, 1]  # a positive pulse potentiates
    assert world.clock.now() - start >= 9 * 1e-3 + 100e-9  # the burst took its time


def test_negative_pulses_depress_and_more_pulses_move_further(world: SimWorld) -> None:
    world.connect("pulse", 0, 0)
    world.connect("pulse:ch2", 3, 3)
    twin = Twin33500B(world, "pulse")
    for ch, cycles in ((1, 1), (2, 20)):
        twin.write(f"OUTP{ch}:LOAD INF;:SOUR{ch}:FUNC PULS;:SOUR{ch}:FUNC:PULS:PER 1e-3;"
                   f":SOUR{ch}:FUNC:PULS:WIDT 1e-6;:SOUR{ch}:VOLT:LOW -2;:SOUR{ch}:VOLT:HIGH 0;"
                   f":SOUR{ch}:BURS:MODE TRIG;:SOUR{ch}:BURS:NCYC {cycles};:SOUR{ch}:BURS:STAT 1;"
                   f":TRIG{ch}:SOUR BUS;:OUTP{ch}:POL INV;:OUTP{ch} 1")
    assert errors(twin) == []
    for row, col in ((0, 0), (3, 3)):  # devices start in the HRS: potentiate them first
        world.chip.pulse(row, col, 2.0, 1e-6, count=50, period_s=1e-3)
    before = world.chip.conductance
    twin.write("*TRG;*WAI")
    after = world.chip.conductance
    drop_one, drop_many = before[0, 0] - after[0, 0], before[3, 3] - after[3, 3]
    assert drop_one > 0 and drop_many > 0
    assert drop_many / before[3, 3] > drop_one / before[0, 0]


def test_expected_load_of_50_ohm_doubles_the_level_on_a_high_impedance_device(world: SimWorld) -> None:
    world.connect("pulse", 1, 1)
    twin = Twin33500B(world, "pulse")
    base = ":SOUR1:FUNC PULS;:SOUR1:FUNC:PULS:WIDT 1e-6;:SOUR1:VOLT:LOW 0;:SOUR1:BURS:STAT 1;:TRIG1:SOUR BUS;:OUTP1 1"
    twin.write("OUTP1:LOAD INF;" + base + ";:SOUR1:VOLT:HIGH 0.7")  # 0.7 V: below the 1 V threshold
    before = world.chip.conductance[1, 1]
    twin.write("*TRG")
    assert world.chip.conductance[1, 1] == before
    twin.write("OUTP1:LOAD 50")  # the shown level halves; what leaves the connector does not
    assert float(ask(twin, "SOUR1:VOLT:HIGH?")) == pytest.approx(0.35)
    twin.write("SOUR1:VOLT:HIGH 0.7")  # into the open device: 1.4 V, above threshold
    twin.write("*TRG")
    assert world.chip.conductance[1, 1] > before
    assert errors(twin) == []


def test_free_running_pulses_act_on_the_chip_as_time_passes(world: SimWorld) -> None:
    world.connect("pulse", 0, 2)
    twin = Twin33500B(world, "pulse")
    twin.write("OUTP1:LOAD INF;:SOUR1:FUNC PULS;:SOUR1:FUNC:PULS:WIDT 1e-6;:SOUR1:VOLT:LOW 0;"
               ":SOUR1:VOLT:HIGH 2;:SOUR1:BURS:STAT 0;:OUTP1 1")
    before = world.chip.conductance[0, 2]
    world.clock.sleep(0.05)  # 50 pulses at the default 1 ms period
    world.settle()  # what any instrument's next access to the chip does
    middle = world.chip.conductance[0, 2]
    assert middle > before
    twin.write("OUTP1 0")
    world.clock.sleep(0.05)
    world.settle()
    assert world.chip.conductance[0, 2] == middle


def test_output_off_or_wrong_trigger_source_fires_nothing(world: SimWorld) -> None:
    world.connect("pulse", 0, 0)
    twin = Twin33500B(world, "pulse")
    twin.write(":SOUR1:FUNC PULS;:SOUR1:VOLT:HIGH 2;:SOUR1:VOLT:LOW 0;:SOUR1:BURS:STAT 1;:TRIG1:SOUR BUS")
    before = world.chip.conductance
    twin.write("*TRG")  # output off
    twin.write(":TRIG1:SOUR EXT;:OUTP1 1;*TRG")
    np.testing.assert_array_equal(world.chip.conductance, before)
    assert errors(twin) == ['-211,"Trigger ignored"']


def test_levels_beyond_the_model_are_clipped_with_an_error(world: SimWorld) -> None:
    twin = Twin33500B(world, "pulse")
    twin.write("OUTP1:LOAD 50;:SOUR1:VOLT:HIGH 20")
    assert float(ask(twin, "SOUR1:VOLT:HIGH?")) == 5.0
    twin.write("SOUR1:FUNC:PULS:WIDT 1e-9")
    assert float(ask(twin, "SOUR1:FUNC:PULS:WIDT?")) == 16e-9
    assert errors(twin) == ['-222,"Data out of range;value clipped to upper limit"',
                            '-222,"Data out of range;value clipped to lower limit"']
    assert ask(twin, "OUTP1:LOAD?") == "+5.00000000000000E+01"


def test_period_below_the_width_shortens_the_width_with_a_conflict(world: SimWorld) -> None:
    twin = Twin33500B(world, "pulse")
    twin.write("SOUR1:FUNC:PULS:PER 1e-6")  # default width 100 us does not fit
    assert errors(twin) == ['-221,"Settings conflict;pulse width decreased due to period"']
    assert float(ask(twin, "SOUR1:FUNC:PULS:WIDT?")) < 1e-6


def test_driver_configures_a_short_period_from_the_power_on_state(world: SimWorld) -> None:
    # At power-on the width is 100 us: a 1 us period set before the width would be refused (-221).
    twin = Twin33500B(world, "pulse")
    generator = Keysight33500B(SimAdapter(twin))
    generator.configure_pulse(1.5, 100e-9, 1e-6)
    assert float(ask(twin, "SOUR1:FUNC:PULS:WIDT?")) == pytest.approx(100e-9)
    assert float(ask(twin, "SOUR1:FUNC:PULS:PER?")) == pytest.approx(1e-6)
    # and back to long pulses, longer edges, from the short period (now the period must go first)
    generator.configure_pulse(1.5, 200e-6, 1e-3, edge_s=100e-9)
    generator.configure_pulse(1.5, 100e-9, 1e-6, edge_s=20e-9)
    generator.configure_pulse(1.5, 1e-6, 5e-6, edge_s=500e-9)
    assert float(ask(twin, "SOUR1:FUNC:PULS:TRAN?")) == pytest.approx(500e-9)
    assert errors(twin) == []


def test_81160a_driver_configures_a_short_period_from_the_power_on_state(world: SimWorld) -> None:
    twin = Twin81160A(world, "pulse")
    generator = Keysight81160A(SimAdapter(twin))
    generator.configure_pulse(1.5, 5e-9, 20e-9, edge_s=1e-9)
    assert float(ask(twin, ":PULS:WIDT1?")) == pytest.approx(5e-9)
    assert float(ask(twin, ":PULS:PER1?")) == pytest.approx(20e-9)
    assert errors(twin) == []


class PulseRecorder:
    """What reaches the chip from the generator: every pulse and every level held between pulses."""

    def __init__(self, world: SimWorld) -> None:
        self.pulses: list[tuple[float, float, int]] = []
        self.held: list[tuple[float, float]] = []
        chip = world.chip
        pulse, source = chip.pulse, chip.source_voltage

        def record_pulse(row, col, amplitude_v, width_s, compliance_a=None, count=1, period_s=None):
            self.pulses.append((amplitude_v, width_s, count))
            return pulse(row, col, amplitude_v, width_s, compliance_a=compliance_a, count=count, period_s=period_s)

        def record_source(row, col, voltage_v, duration_s, compliance_a=None, bias="read"):
            self.held.append((voltage_v, duration_s))
            return source(row, col, voltage_v, duration_s, compliance_a, bias=bias)

        chip.pulse, chip.source_voltage = record_pulse, record_source

    def exposure(self) -> list[tuple[float, float]]:
        """(voltage, seconds) the device spent at a non-zero level outside the pulses."""
        return [(v, t) for v, t in self.held if v != 0.0]


@pytest.mark.parametrize("model", ["33500B", "81160A"])
def test_negative_pulse_from_a_zero_base_reaches_the_device_as_a_negative_pulse(world: SimWorld, model: str) -> None:
    world.connect("pulse", 2, 2)
    twin = Twin33500B(world, "pulse") if model == "33500B" else Twin81160A(world, "pulse")
    driver = Keysight33500B if model == "33500B" else Keysight81160A
    generator = driver(SimAdapter(twin))
    world.chip.pulse(2, 2, 2.0, 1e-6, count=50, period_s=1e-3)  # potentiate first: RESET must depress
    recorder = PulseRecorder(world)
    generator.configure_pulse(-1.8, 2e-6, 1e-3, burst_count=5)
    assert ask(twin, "OUTP1:POL?") == "INV"
    generator.output_on()
    before = world.chip.conductance[2, 2]
    world.clock.sleep(0.1)  # the output waits for a trigger: 0 V on the device meanwhile
    generator.trigger()
    world.clock.sleep(0.1)
    generator.output_off()
    # The 81160A's largest expected load is 1 Mohm (a value, not INF): 50 ppm above the level.
    assert recorder.pulses == [(pytest.approx(-1.8, rel=1e-4), pytest.approx(2e-6), 5)]
    assert recorder.exposure() == []  # the base is 0 V: nothing between pulses or bursts
    assert world.chip.conductance[2, 2] < before
    assert errors(twin) == []


def test_pulse_below_its_base_without_inversion_would_hold_the_device_at_the_low_level(world: SimWorld) -> None:
    # What the inversion avoids: normal polarity with high 0 V, low -1.8 V idles at -1.8 V.
    world.connect("pulse", 1, 1)
    twin = Twin33500B(world, "pulse")
    recorder = PulseRecorder(world)
    twin.write("OUTP1:LOAD INF;:SOUR1:FUNC PULS;:SOUR1:FUNC:PULS:WIDT 2e-6;:SOUR1:VOLT:LOW -1.8;"
               ":SOUR1:VOLT:HIGH 0;:SOUR1:BURS:STAT 1;:TRIG1:SOUR BUS;:OUTP1 1")
    world.clock.sleep(0.1)
    twin.write("*TRG")
    assert recorder.pulses == [(0.0, pytest.approx(2e-6), 1)]
    assert sum(t for v, t in recorder.exposure() if v == pytest.approx(-1.8)) >= 0.1


def test_driver_flips_polarity_with_the_output_off(world: SimWorld) -> None:
    # From +2 V SET pulses to -2 V RESET pulses with the output left on: reprogrammed hot, the
    # device would sit at -2 V (levels first) or +2 V (inversion first) between the commands.
    world.connect("pulse", 0, 3)
    twin = Twin33500B(world, "pulse")
    generator = Keysight33500B(SimAdapter(twin))
    generator.configure_pulse(2.0, 1e-6, 1e-3)
    generator.output_on()
    recorder = PulseRecorder(world)
    generator.configure_pulse(-2.0, 1e-6, 1e-3)
    generator.trigger()
    assert generator.output_enabled()
    assert recorder.exposure() == []
    assert recorder.pulses == [(pytest.approx(-2.0), pytest.approx(1e-6), 1)]


def test_stock_pymeasure_agilent33500_drives_the_twin(world: SimWorld) -> None:
    world.connect("pulse", 3, 0)
    twin = Twin33500B(world, "pulse")
    stock = Agilent33500(SimAdapter(twin))
    assert stock.id.startswith("Agilent Technologies,33522B")
    stock.shape = "PULS"
    stock.pulse_period = 1e-3
    stock.pulse_width = 200e-9
    stock.pulse_transition = 10e-9
    stock.output_load = "INF"
    stock.voltage_high = 2.0
    stock.voltage_low = 0.0
    stock.burst_state = True
    stock.burst_ncycles = 5
    stock.trigger_source = "BUS"
    stock.output = True
    assert stock.pulse_width == pytest.approx(200e-9)
    assert stock.amplitude == pytest.approx(2.0)
    assert stock.offset == pytest.approx(1.0)
    stock.check_errors()
    before = world.chip.conductance[3, 0]
    stock.trigger()
    assert world.chip.conductance[3, 0] > before


def test_81160a_driver_bursts_and_the_level_limit_guards(world: SimWorld) -> None:
    world.connect("pulse", 1, 3)
    twin = Twin81160A(world, "pulse", termination_ohm=50.0)  # a feed-through terminator on the bench
    generator = Keysight81160A(SimAdapter(twin), termination_ohm=50.0)
    generator.configure_pulse(2.0, 50e-9, 1e-3, burst_count=4)
    generator.output_on()
    before = world.chip.conductance
    generator.trigger()
    after = world.chip.conductance
    assert np.argwhere(after != before).tolist() == [[1, 3]]
    twin.write(":VOLT1:LIM:HIGH 3;:VOLT1:HIGH 4")
    assert errors(twin) == ['-221,"Settings conflict;level outside the voltage limits"']
    assert float(ask(twin, ":VOLT1:HIGH?")) == 2.0
    twin.write(":BURS1:NCYC 1")  # the 81160A bursts at least 2 cycles
    assert ask(twin, ":BURS1:NCYC?") == "2"
    assert errors(twin) == ['-222,"Data out of range;value clipped to lower limit"']


def test_81160a_driver_single_pulse_per_manual_trigger(world: SimWorld) -> None:
    world.connect("pulse", 0, 1)
    twin = Twin81160A(world, "pulse", termination_ohm=50.0)
    generator = Keysight81160A(SimAdapter(twin), termination_ohm=50.0)
    generator.configure_pulse(2.0, 50e-9, 1e-3, burst_count=1)
    assert ask(twin, ":ARM:SOUR1?") == "MAN"
    generator.output_on()
    before = world.chip.conductance[0, 1]
    generator.trigger()
    assert world.chip.conductance[0, 1] > before


def test_81160a_without_manual_arming_ignores_bus_triggers(world: SimWorld) -> None:
    world.connect("pulse", 0, 1)
    twin = Twin81160A(world, "pulse")
    twin.write(":FUNC1 PULS;:VOLT1:HIGH 2;:VOLT1:LOW 0;:BURS1:STAT ON;:OUTP1 ON;:ARM:SOUR1 EXT")
    before = world.chip.conductance
    twin.write("*TRG")
    np.testing.assert_array_equal(world.chip.conductance, before)
    assert errors(twin) == ['-211,"Trigger ignored"']
