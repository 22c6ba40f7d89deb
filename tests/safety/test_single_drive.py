"""Two sources never drive one device at once, whatever the routing mode.

The simulated world knows which outputs are on and where each terminal is routed, and raises
DoubleDriveError the moment two live outputs reach one device. Every built-in procedure runs here
in each routing mode (exclusive, shared, bias tee) and must complete; a seeded fuzz of route /
pulse / read / release over three devices must never trip the check either, and a deliberate
double drive must trip it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from memlab.instruments.bench import load_bench
from memlab.instruments.bench_file import DEFAULT_BENCH
from memlab.instruments.plumbing import InstrumentError
from memlab.instruments.sim.world import DoubleDriveError
from memlab.procedures import get_procedure, run_procedure
from memlab.procedures.common import Device

sys.path.insert(0, str(Path(__file__).parents[1] / "procedures"))
from test_schema import OPTICAL, SMALL, TUNABLE  # noqa: E402

DEFAULT_TERMINALS = 'terminals = { smu = ["A", "B"], pulse = ["C", "D"] }'
WIRINGS = {
    "exclusive": DEFAULT_TERMINALS,
    "shared": DEFAULT_TERMINALS,
    "bias_tee": 'terminals = { smu = ["A", "B"], pulse = ["A", "B"] }',
}


def bench_file(tmp_path: Path, routing: str, settle_s: float | None = None, tunable: bool = False) -> Path:
    """The built-in bench with another routing mode (and relay settling, and a tunable laser)."""
    text = DEFAULT_BENCH.read_text()
    if tunable:
        text = text.replace("[instruments.laser.calibration]", "[instruments.laser.options]\n"
                            "wavelength_range_m = [400e-9, 900e-9]\n\n[instruments.laser.calibration]")
    assert DEFAULT_TERMINALS in text and 'routing = "shared"' in text
    text = text.replace(DEFAULT_TERMINALS, WIRINGS[routing]).replace('routing = "shared"', f'routing = "{routing}"')
    if settle_s is not None:
        text = text.replace('driver = "Keithley707B"', f'driver = "Keithley707B"\noptions = {{ relay_settle_s = {settle_s!r} }}')
    path = tmp_path / f"bench-{routing}.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("routing", sorted(WIRINGS))
@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_procedure_completes_without_two_sources_on_a_device(name, routing, tmp_path):
    settings = dict(SMALL[name])
    if name == "crossbar-infer":
        np.save(tmp_path / "w.npy", np.linspace(-1, 1, 40).reshape(10, 4))
        settings["weights_from"] = str(tmp_path / "w.npy")
    with load_bench(bench_file(tmp_path, routing, tunable=name in TUNABLE),
                    family="optomemristor" if name in OPTICAL else None) as bench:
        assert bench.switch.wiring.routing == routing
        result = run_procedure(get_procedure(name)(**settings), bench, tmp_path)
        assert result.status == "completed", result.error
        assert not bench.world.routes or routing != "exclusive" or len(bench.world.routes) == 1


def _device(bench, row, col):
    # a stand-alone Device, as the dashboard's manual controls make: no run tracks its routes
    return Device(SimpleNamespace(bench=bench, devices_in_use=None), row, col, read_v=0.2, compliance_a=1e-3, nplc=0.01)


@pytest.mark.parametrize("routing", sorted(WIRINGS))
def test_fuzzed_route_pulse_read_sequences_never_drive_a_device_twice(routing, tmp_path):
    rng = np.random.default_rng(18)
    refused = 0
    with load_bench(bench_file(tmp_path, routing)) as bench:
        devices = [_device(bench, 0, 0), _device(bench, 0, 1), _device(bench, 1, 0)]  # lines shared
        for _ in range(150):
            device = devices[rng.integers(len(devices))]
            action = rng.integers(5)
            try:
                act(device, action, rng)
            except InstrumentError as refusal:
                # Exclusive routing refuses a terminal onto a chip line another device's terminal
                # holds (the devices were not released): refused before any relay moved.
                assert routing == "exclusive" and "is held by" in str(refusal)
                refused += 1
            routes = bench.world.routes
            if routing == "exclusive":  # one terminal per device
                assert len(set(routes.values())) == len(routes)
            else:  # both terminals on the one device a Device joined
                assert len(set(routes.values())) <= 1
    assert refused < 150


def act(device: Device, action: int, rng: np.random.Generator) -> None:
    if action == 0:
        device.pulse(float(rng.choice([1.5, -1.5])), 100e-9, count=int(rng.integers(1, 3)))
    elif action == 1:
        device.read_currents()
    elif action == 2:
        device.smu_pulse(0.5, 1e-3)
    elif action == 3:
        device.route(str(rng.choice(["smu", "pulse"])))
    else:
        device.release()


def test_a_pulser_left_on_while_the_smu_sweeps_the_device_is_refused(tmp_path):
    """The check can fail: with shared routing, a generator left on beside the SMU trips it."""
    with load_bench(bench_file(tmp_path, "shared")) as bench:
        device = _device(bench, 2, 3)
        device.route("smu")
        bench.pulser.configure_pulse(1.0, 1e-6, 2e-6)
        bench.pulser.output_on()
        with pytest.raises(DoubleDriveError, match=r"device \(2, 3\)"):
            device.read_currents()


def test_a_relay_closing_onto_a_driven_device_is_refused(tmp_path):
    with load_bench(bench_file(tmp_path, "exclusive")) as bench:
        bench.switch.connect("pulse", 1, 1)
        bench.pulser.configure_pulse(1.0, 1e-6, 2e-6)
        bench.pulser.output_on()
        bench.smu.set_voltage(0.0, 1e-3)
        bench.smu.output_on()  # the SMU is routed nowhere yet: allowed
        with pytest.raises(DoubleDriveError):
            bench.world.connect("smu", 1, 1)  # as the matrix would, closing the SMU onto the device


@pytest.mark.parametrize("routing,relay_operations", [("exclusive", 4), ("shared", 0), ("bias_tee", 0)])
def test_a_pulse_then_a_read_on_one_device_moves_relays_only_in_exclusive_mode(routing, relay_operations,
                                                                                tmp_path):
    with load_bench(bench_file(tmp_path, routing)) as bench:
        device = _device(bench, 3, 3)
        device.pulse(1.0, 100e-9)
        device.read_currents()
        before = bench.twins["switch"].switch_operations
        device.pulse(1.0, 100e-9)
        device.read_currents()
        assert bench.twins["switch"].switch_operations - before == relay_operations
        device.release()
        assert bench.switch.closed() == []


def test_moving_to_another_device_is_one_relay_operation_with_shared_routing(tmp_path):
    with load_bench(bench_file(tmp_path, "shared")) as bench:
        first, second = _device(bench, 0, 0), _device(bench, 5, 7)
        first.read_currents()
        before = bench.twins["switch"].switch_operations
        second.read_currents()
        assert bench.twins["switch"].switch_operations - before == 1
        assert bench.world.routes == {"smu": (5, 7), "pulse": (5, 7)}
        first.pulse(1.0, 100e-9)  # the first device again: the driver re-joins it
        assert bench.world.routes == {"smu": (0, 0), "pulse": (0, 0)}


def test_relay_settling_is_the_bench_file_setting(tmp_path):
    for settle_s in (0.5e-3, 20e-3):
        with load_bench(bench_file(tmp_path, "exclusive", settle_s)) as bench:
            assert bench.switch.snapshot()["settings"]["relay_settle_s"] == settle_s
            t = bench.clock.now()
            bench.switch.connect("smu", 0, 0)
            elapsed = bench.clock.now() - t
            assert settle_s <= elapsed < settle_s + 2e-3  # one operation plus the bus messages
