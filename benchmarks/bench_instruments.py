"""Speed of the simulated instruments: a driver property read through each transport, and a
10,000-point list sweep with bulk fetch on the Keithley 2450 twin.

    python benchmarks/bench_instruments.py          # a table
    python benchmarks/bench_instruments.py --json   # one JSON object of the figures

Each row is a :class:`Case` in ``CASES``; a case that cannot run here (a transport or a peer
package missing) raises :class:`Skip` and the table shows why. Targets: a property read through
the in-process adapter <= 20 us, through the pyvisa backend <= 40 us; the sweep <= 50 ms wall.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
from pymeasure.instruments.keithley import Keithley2450 as StockKeithley2450

from memlab.instruments.keithley import Keithley2450
from memlab.instruments.sim.adapter import SimAdapter
from memlab.instruments.sim.chip import Chip
from memlab.instruments.sim.keithley2450 import Keithley2450Twin as Twin2450
from memlab.instruments.sim.world import SimWorld

SWEEP_POINTS = 10_000
LIST_LENGTH = 2500  # the 2450's source list holds at most 2500 values: run it 4 times


class Skip(Exception):
    """The case cannot run here; the message says why."""


@dataclass
class Case:
    """One row: ``run()`` returns ``{figure_name_with_unit: value}``."""

    label: str
    run: Callable[[], dict[str, float]]


def per_call_us(function: Callable[[], object], number: int = 2000, repeat: int = 7) -> float:
    """Best mean time of one call over ``repeat`` batches, in microseconds."""
    function()  # warm caches
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number * 1e6


def simulated_2450() -> tuple[SimWorld, Twin2450]:
    world = SimWorld(Chip(8, 8, seed=0))
    world.connect("smu", 0, 0)
    return world, Twin2450(world, "smu")


def stock_property_in_process() -> dict[str, float]:
    _, twin = simulated_2450()
    stock = StockKeithley2450(SimAdapter(twin))
    return {"property_read_in_process_us": per_call_us(lambda: stock.source_voltage)}


def memlab_property_in_process() -> dict[str, float]:
    _, twin = simulated_2450()
    smu = Keithley2450(SimAdapter(twin))
    return {"memlab_driver_property_read_in_process_us": per_call_us(lambda: smu.source_voltage)}


def measurement_in_process() -> dict[str, float]:
    _, twin = simulated_2450()
    smu = Keithley2450(SimAdapter(twin))
    smu.set_voltage(0.2, 1e-3)
    smu.output_on()
    return {"measurement_read_in_process_us": per_call_us(smu.measure_current_a, number=500)}


_PYVISA_SIM_YAML = """
spec: "1.1"
devices:
  smu:
    eom:
      USB INSTR: {q: "\\n", r: "\\n"}
    dialogues:
      - q: "*IDN?"
        r: "KEITHLEY INSTRUMENTS,MODEL 2450,0,1"
    properties:
      source_voltage:
        default: 0.1
        getter: {q: ":SOUR:VOLT?", r: "{:.6E}"}
        setter: {q: ":SOUR:VOLT:LEV {:g}"}
        specs: {type: float}
resources:
  USB0::0x05E6::0x2450::0::INSTR: {device: smu}
"""


def stock_property_pyvisa_backend() -> dict[str, float]:
    """pymeasure's stock driver by resource name through ``ResourceManager("@memsim")``: what any
    VISA client pays per query on the built-in simulated bench."""
    from pymeasure.adapters import VISAAdapter

    from memlab.instruments.bench import read_bench_config

    address = read_bench_config().instruments["smu"].address
    adapter = VISAAdapter(address, visa_library="@memsim")
    try:
        stock = StockKeithley2450(adapter)
        if not stock.id.startswith("KEITHLEY INSTRUMENTS,MODEL 2450"):
            raise RuntimeError(f"{address} on @memsim answered *IDN? with {stock.id!r}")
        figure = per_call_us(lambda: stock.source_voltage)
    finally:
        adapter.close()
    return {"property_read_pyvisa_memsim_us": figure}


def stock_property_pyvisa_sim() -> dict[str, float]:
    """The peer: pymeasure's stock driver over pyvisa-sim's static dialogues."""
    try:
        import pyvisa_sim  # noqa: F401
    except ImportError:
        raise Skip("pyvisa-sim not installed (add it to the test extra to measure the peer)") from None
    from pymeasure.adapters import VISAAdapter

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "smu.yaml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(_PYVISA_SIM_YAML)
        adapter = VISAAdapter("USB0::0x05E6::0x2450::0::INSTR", visa_library=f"{path}@sim",
                              read_termination="\n", write_termination="\n")
        stock = StockKeithley2450(adapter)
        figure = per_call_us(lambda: stock.source_voltage)
        adapter.close()
    return {"peer_property_read_pyvisa_sim_us": figure}


def list_sweep_10k() -> dict[str, float]:
    """:SOUR:LIST:VOLT in 100-value commands, the sweep run 4 times, one :TRAC:DATA? fetch."""
    world, twin = simulated_2450()
    adapter = SimAdapter(twin, timeout_s=60.0)
    voltages = np.linspace(-0.5, 0.5, LIST_LENGTH)
    wall = time.perf_counter()
    virtual = world.clock.now()
    adapter.write(':SOUR:FUNC VOLT;:SOUR:VOLT:ILIM 1e-3;:SENS:FUNC "CURR";:SENS:CURR:NPLC 0.01;'
                  ":SENS:CURR:AZER OFF;:SENS:CURR:RANG:AUTO ON;:TRAC:CLE")
    for start in range(0, LIST_LENGTH, 100):
        values = ",".join(f"{v:.6g}" for v in voltages[start:start + 100])
        adapter.write((":SOUR:LIST:VOLT " if start == 0 else ":SOUR:LIST:VOLT:APP ") + values)
    adapter.write(f':SOUR:SWE:VOLT:LIST 1, 0, {SWEEP_POINTS // LIST_LENGTH}, OFF, "defbuffer1"')
    adapter.write(":INIT;*WAI")
    adapter.write(f':TRAC:DATA? 1, {SWEEP_POINTS}, "defbuffer1", SOUR, READ, REL')
    data = np.array(adapter.read().split(","), dtype=np.float64).reshape(-1, 3)
    wall_ms = (time.perf_counter() - wall) * 1e3
    if data.shape[0] != SWEEP_POINTS:
        raise RuntimeError(f"the sweep returned {data.shape[0]} points, expected {SWEEP_POINTS}")
    return {"list_sweep_10k_wall_ms": wall_ms, "list_sweep_10k_virtual_s": world.clock.now() - virtual}


CASES: list[Case] = [
    Case("pymeasure Keithley2450.source_voltage, in-process adapter", stock_property_in_process),
    Case("memlab Keithley2450.source_voltage, in-process adapter", memlab_property_in_process),
    Case("memlab Keithley2450.measure_current_a, in-process adapter", measurement_in_process),
    Case('pymeasure Keithley2450.source_voltage, pyvisa ResourceManager("@memsim")', stock_property_pyvisa_backend),
    Case("peer: pymeasure Keithley2450.source_voltage over pyvisa-sim", stock_property_pyvisa_sim),
    Case(f"{SWEEP_POINTS}-point list sweep + bulk fetch, 2450 twin", list_sweep_10k),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object of the figures")
    args = parser.parse_args(argv)
    figures: dict[str, float] = {}
    rows: list[tuple[str, str, str]] = []
    for case in CASES:
        try:
            result = case.run()
        except Skip as skip:
            rows.append((case.label, "-", f"skipped: {skip}"))
            continue
        figures.update(result)
        for name, value in result.items():
            rows.append((case.label, name, f"{value:.4g}"))
    if args.json:
        print(json.dumps(figures))
        return 0
    width = max(len(label) for label, _, _ in rows)
    name_width = max(len(name) for _, name, _ in rows)
    for label, name, value in rows:
        print(f"{label:<{width}}  {name:<{name_width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
