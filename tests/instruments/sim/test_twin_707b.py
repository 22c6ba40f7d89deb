"""The 707B twin: channel lists as the manual writes them, relays as routes, memlab's driver."""

from __future__ import annotations

import pytest

from memlab.instruments.interfaces import CrossbarWiring, InstrumentError
from memlab.instruments.keithley import Keithley707B, Keithley2450, Keithley2600B
from memlab.instruments.keysight import KeysightB2900
from memlab.instruments.sim.adapter import SimAdapter
from memlab.instruments.sim.chip import Chip
from memlab.instruments.sim.clock import VirtualClock
from memlab.instruments.sim.keithley707b import RELAY_SETTLE_S, Keithley707BTwin
from memlab.instruments.sim.keithley2450 import Keithley2450Twin as Twin2450
from memlab.instruments.sim.keithley2600 import Keithley2600BTwin
from memlab.instruments.sim.keysight_b2900 import KeysightB2900Twin as TwinB2900
from memlab.instruments.sim.world import SimWorld

WIRING = CrossbarWiring.default(4, 4)  # rows on pads 101..104, columns on 105..108


@pytest.fixture
def world() -> SimWorld:
    return SimWorld(Chip(4, 4, seed=0, clock=VirtualClock()))


@pytest.fixture
def twin(world: SimWorld) -> Keithley707BTwin:
    return Keithley707BTwin(world, "switch", wiring=WIRING)


def ask(twin: Keithley707BTwin, command: str) -> str:
    twin.write(command)
    return twin.read()


def test_close_open_and_getclose(twin: Keithley707BTwin) -> None:
    assert ask(twin, 'print(channel.getclose("allslots"))') == "nil"
    twin.write('channel.close("1B02, 1A01:1A03; 2C12")')
    assert ask(twin, 'print(channel.getclose("allslots"))') == "1A01;1A02;1A03;1B02;2C12"
    assert ask(twin, 'print(channel.getclose("slot2"))') == "2C12"
    twin.write('channel.open("1A02")')
    assert ask(twin, 'print(channel.getstate("1A01:1A03"))') == "1,0,1"
    twin.write('channel.exclusiveclose("1H12")')
    assert twin.closed_names() == ["1H12"]
    twin.write('channel.open("allslots")')
    assert twin.closed_names() == []
    assert twin.error_count == 0


def test_ranges_are_rectangles(twin: Keithley707BTwin) -> None:
    twin.write('channel.close("3A01:3B02")')
    assert twin.closed_names() == ["3A01", "3A02", "3B01", "3B02"]


def test_invalid_lists_switch_nothing(twin: Keithley707BTwin) -> None:
    twin.write('channel.close("1A01")')
    for bad in ('"1A01,1Z05"', '"7A01"', '"1A13"', '"allslots"', '"slot1"', '"1B05:1A01"'):
        twin.write(f"channel.close({bad})")
        code, message = twin.pop_error()
        assert code == 1115, bad
        assert "Parameter error channel.close" in message
    assert twin.closed_names() == ["1A01"]
    twin.write("channel.close(5)")
    assert twin.pop_error()[0] == -286


def test_708b_has_one_slot(world: SimWorld) -> None:
    twin = Keithley707BTwin(world, "switch", model_number="708B", slots=1)
    twin.write('channel.close("2A01")')
    assert "slot 2" in twin.pop_error()[1]
    assert twin.identity().startswith("Keithley Instruments Inc., Model 708B")


def test_patterns_counts_and_delays(twin: Keithley707BTwin, world: SimWorld) -> None:
    twin.write('channel.pattern.setimage("1A01,1B05", "dev00")')
    twin.write('channel.close("dev00")')
    assert twin.closed_names() == ["1A01", "1B05"]
    twin.write('channel.open("dev00") channel.close("dev00")')
    assert ask(twin, 'print(channel.getcount("1A01,1B05,1C01"))') == "2,2,0"
    twin.write('channel.setdelay("1A02", 0.25)')
    start = world.clock.now()
    twin.write('channel.close("1A02")')
    assert world.clock.now() - start == pytest.approx(RELAY_SETTLE_S + 0.25, rel=0.01)
    assert ask(twin, 'print(channel.getdelay("1A02"))') == "2.500000000e-01"  # precision 10


def test_relays_route_terminals_to_devices(twin: Keithley707BTwin, world: SimWorld) -> None:
    hi, lo = WIRING.channels("smu", 2, 3)
    twin.write(f'channel.close("{hi}")')
    assert world.device_for("smu") is None  # HI alone reaches no device
    twin.write(f'channel.close("{lo}")')
    assert world.device_for("smu") == (2, 3)
    other_hi, _ = WIRING.channels("smu", 1, 3)
    twin.write(f'channel.close("{other_hi}")')
    assert world.device_for("smu") is None  # two rows at once: not one device
    twin.write("reset()")
    assert world.routes == {}


def test_driver_connects_and_disconnects(twin: Keithley707BTwin, world: SimWorld) -> None:
    driver = Keithley707B(SimAdapter(twin), "switch", wiring=WIRING)
    assert "707B" in driver.identity()
    driver.connect("smu", 0, 1)
    driver.connect("pulse", 3, 2)
    assert world.routes == {"smu": (0, 1), "pulse": (3, 2)}
    driver.connect("smu", 2, 0)
    assert world.routes == {"smu": (2, 0), "pulse": (3, 2)}
    assert sorted(driver.closed()) == sorted([*WIRING.channels("smu", 2, 0), *WIRING.channels("pulse", 3, 2)])
    with pytest.raises(InstrumentError, match="held by smu"):
        driver.connect("pulse", 2, 1)  # chip row 2's pad carries the SMU
    driver.disconnect("smu")
    assert world.routes == {"pulse": (3, 2)}
    driver.shutdown()
    assert world.routes == {} and driver.closed() == []


def test_driver_raises_the_switch_error(twin: Keithley707BTwin) -> None:
    driver = Keithley707B(SimAdapter(twin), "switch", wiring=WIRING)
    twin.write('channel.close("allslots")')
    with pytest.raises(InstrumentError, match="1115 Parameter error channel.close: 'allslots' is not allowed"):
        driver.check_errors()


@pytest.mark.parametrize("smu_model", ["2450", "2600B", "B2900"])
def test_hot_switching_leaves_the_held_bias_on_the_old_device(
    twin: Keithley707BTwin, world: SimWorld, smu_model: str
) -> None:
    # An SMU left on at 1.6 V (above threshold) on device A for 0.5 s, then the matrix moves it to
    # device B with the output still on: the 0.5 s belong to A. SMU twins apply a held level
    # lazily, at their next command; without the world's route hook that would have been B's.
    twin_class, driver_class = {"2450": (Twin2450, Keithley2450), "2600B": (Keithley2600BTwin, Keithley2600B),
                                "B2900": (TwinB2900, KeysightB2900)}[smu_model]
    smu = driver_class(SimAdapter(twin_class(world, "smu")))
    matrix = Keithley707B(SimAdapter(twin), wiring=WIRING)
    held: list[tuple[tuple[int, int], float, float]] = []
    source = world.chip.source_voltage

    def record(row: int, col: int, voltage_v: float, duration_s: float, compliance_a: float | None = None,
               bias: str = "read") -> float:
        held.append(((row, col), voltage_v, duration_s))
        return source(row, col, voltage_v, duration_s, compliance_a, bias=bias)

    world.chip.source_voltage = record  # type: ignore[method-assign]
    a, b = (0, 1), (2, 3)
    matrix.connect("smu", *a)
    smu.set_voltage(1.6, 1e-3)
    smu.output_on()
    world.clock.sleep(0.5)
    matrix.connect("smu", *b)  # hot switching
    smu.output_off()
    on = {device: sum(t for d, v, t in held if d == device and v == pytest.approx(1.6)) for device in (a, b)}
    assert on[a] >= 0.5
    assert on[b] < 0.01  # the few ms between the relays and the output-off command
