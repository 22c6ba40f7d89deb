"""The ``@memsim`` pyvisa backend: resource names, one shared chip per bench, other projects' drivers."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import pyvisa
from pymeasure.instruments.agilent import Agilent33500
from pymeasure.instruments.keithley import Keithley2450 as PymeasureKeithley2450
from pyvisa.constants import StatusCode
from pyvisa.errors import VisaIOError

from memlab.instruments.bench import BenchFileError
from memlab.instruments.interfaces import CrossbarWiring
from memlab.instruments.keithley import Keithley2600B

SMU = "USB0::0x05E6::0x2450::04512345::INSTR"
PULSER = "USB0::0x0957::0x2807::MY57400123::INSTR"
SWITCH = "USB0::0x05E6::0x707B::04395011::INSTR"
DEFAULT_RESOURCES = {
    SMU: "MODEL 2450",
    PULSER: "33522B",
    "USB0::0x1313::0x804A::M00412345::INSTR": "ITC4001",
    "USB0::0x1313::0x8078::P0012345::INSTR": "PM100USB",
    SWITCH: "Model 707B",
}
WIRING = CrossbarWiring.default(16, 16)
TSP_BENCH = """
[chip]
rows = 4
cols = 4
overrides = {{ stuck_fraction = 0.0 }}

[instruments.smu]
driver = "Keithley2600B"
address = "GPIB0::26::INSTR"
timeout_s = 0.2
{faults}

[wiring]
direct = {{ smu = [2, 1] }}
"""


@pytest.fixture
def rm() -> pyvisa.ResourceManager:
    manager = pyvisa.ResourceManager("@memsim")
    yield manager
    manager.close()


def tsp_bench(tmp_path: Path, faults: str = "") -> str:
    path = tmp_path / "tsp_bench.toml"
    path.write_text(TSP_BENCH.format(faults=faults))
    return f"{path}@memsim"


def route(rm: pyvisa.ResourceManager, terminal: str, row: int, col: int) -> None:
    switch = rm.open_resource(SWITCH)
    switch.write(f'channel.exclusiveclose("{",".join(WIRING.channels(terminal, row, col))}")')
    assert switch.query("*OPC?").strip() == "1"


def test_lists_and_identifies_the_simulated_instruments(rm: pyvisa.ResourceManager) -> None:
    assert set(rm.list_resources()) == set(DEFAULT_RESOURCES)
    assert set(rm.list_resources("USB0::0x05E6?*")) == {SMU, SWITCH}
    for name, model in DEFAULT_RESOURCES.items():
        resource = rm.open_resource(name, read_termination="\n")
        assert model in resource.query("*IDN?")
        resource.close()
    assert dict(rm.visalib.describe())[SMU] == "MODEL 2450 (smu)"


def test_unknown_resource_is_refused(rm: pyvisa.ResourceManager) -> None:
    with pytest.raises(VisaIOError) as caught:
        rm.open_resource("GPIB0::5::INSTR")
    assert caught.value.error_code == StatusCode.error_resource_not_found


def test_resources_of_one_bench_share_the_chip_and_clock(rm: pyvisa.ResourceManager) -> None:
    again = pyvisa.ResourceManager("@memsim")
    assert again.visalib is rm.visalib
    world = rm.visalib.world
    route(rm, "smu", 3, 4)
    assert world.routes == {"smu": (3, 4)}
    smu = rm.open_resource(SMU, read_termination="\n")
    start = world.clock.now()
    smu.write(":SOUR:VOLT 0.3;:SOUR:VOLT:ILIM 1e-4;:OUTP ON")
    current = float(smu.query(":MEAS:CURR?"))
    assert current == pytest.approx(world.chip.probe_current(3, 4, 0.3), rel=0.05)
    assert world.clock.now() > start


def test_pymeasure_keithley2450_matches_the_chip(rm: pyvisa.ResourceManager) -> None:
    world = rm.visalib.world
    route(rm, "smu", 7, 9)
    smu = PymeasureKeithley2450(SMU, visa_library="@memsim")
    assert smu.adapter.manager.visalib is rm.visalib
    smu.apply_voltage(compliance_current=1e-4)
    smu.source_voltage = 0.4
    smu.enable_source()
    smu.measure_current()
    assert smu.current == pytest.approx(world.chip.probe_current(7, 9, 0.4), rel=0.05)
    smu.shutdown()


def test_pymeasure_agilent33500_pulses_the_routed_device(rm: pyvisa.ResourceManager) -> None:
    world = rm.visalib.world
    healthy = np.argwhere(~world.chip.fault_map()["stuck"])
    row, col = map(int, healthy[len(healthy) // 2])
    route(rm, "pulse", row, col)
    generator = Agilent33500(PULSER, visa_library="@memsim")
    generator.shape = "PULS"
    generator.pulse_period = 1e-3
    generator.pulse_width = 1e-6
    # 2.4 V on the (high-impedance) device: the passive array's V/3 scheme puts 0.8 V, below
    # every threshold, on the half-selected devices, so only the routed device changes.
    generator.voltage_high = 1.2
    generator.voltage_low = 0.0
    generator.burst_mode = "TRIG"
    generator.burst_ncycles = 20
    generator.burst_state = True
    generator.trigger_source = "BUS"
    generator.output = True
    before = world.chip.conductance.copy()
    generator.trigger()
    assert generator.ask("*OPC?").strip() == "1"
    changed = np.argwhere(~np.isclose(world.chip.conductance, before, rtol=1e-6))
    assert changed.tolist() == [[row, col]]
    assert generator.ask("SYST:ERR?").startswith("0,")


def test_bench_file_path_and_tsp_binary_reads(tmp_path: Path) -> None:
    library = tsp_bench(tmp_path)
    rm = pyvisa.ResourceManager(library)
    assert rm.visalib is not pyvisa.ResourceManager("@memsim").visalib
    assert rm.list_resources() == ("GPIB0::26::INSTR",)
    smu = rm.open_resource("GPIB0::26::INSTR")
    smu.write("smua.nvbuffer1.collectsourcevalues = 1")
    smu.write("SweepVListMeasureI(smua, {0.1, 0.2, 0.3}, 0, 3)")
    smu.write("format.data = format.REAL32 format.byteorder = format.LITTLEENDIAN")
    smu.write("printbuffer(1, 3, smua.nvbuffer1.readings)")
    raw = smu.read_bytes(2 + 12 + 1)
    currents = np.frombuffer(raw[2:-1], "<f4")
    chip = rm.visalib.world.chip
    np.testing.assert_allclose(currents, [chip.probe_current(2, 1, v) for v in (0.1, 0.2, 0.3)], rtol=0.05)
    rm.close()


def test_memlab_driver_over_pyvisa(tmp_path: Path) -> None:
    driver = Keithley2600B("GPIB0::26::INSTR", "smu", visa_library=tsp_bench(tmp_path))
    assert driver.simulated() is True
    result = driver.list_sweep(np.linspace(0.05, 0.5, 40), 1e-3, nplc=0.1)
    chip = driver.adapter.manager.visalib.world.chip
    expected = [chip.probe_current(2, 1, v) for v in result.source_v]
    np.testing.assert_allclose(result.current_a, expected, rtol=0.05, atol=2e-9)
    driver.adapter.close()


def test_read_without_reply_times_out_on_the_virtual_clock(rm: pyvisa.ResourceManager) -> None:
    smu = rm.open_resource(SMU)
    smu.timeout = 1500
    clock = rm.visalib.world.clock
    start_wall, start = time.perf_counter(), clock.now()
    with pytest.raises(VisaIOError) as caught:
        smu.read()
    assert caught.value.error_code == StatusCode.error_timeout
    assert time.perf_counter() - start_wall < 1.0
    assert clock.now() - start >= 1.5 - 1e-9  # the session timeout, in float arithmetic


def test_injected_faults_reach_pyvisa_clients(tmp_path: Path) -> None:
    rm = pyvisa.ResourceManager(tsp_bench(tmp_path, "[instruments.smu.faults]\ndisconnect_after = 1"))
    smu = rm.open_resource("GPIB0::26::INSTR")
    assert "2602B" in smu.query("*IDN?")
    with pytest.raises(VisaIOError) as caught:
        smu.query("print(1)")
    assert caught.value.error_code == StatusCode.error_connection_lost
    rm.close()


def test_malformed_bench_file_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[chip]\nrows = -1\n")
    with pytest.raises(BenchFileError, match="chip.rows"):
        pyvisa.ResourceManager(f"{path}@memsim")
