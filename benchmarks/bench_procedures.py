"""Procedures on the simulated bench: wall time, instrument (virtual) time, framework overhead
under real-time pacing, a list sweep beside a point-by-point loop (PyMeasure style), and the
instrument time of a pulse followed by a read in each routing mode of the switch matrix.

    python benchmarks/bench_procedures.py [--json] [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memlab.instruments.bench import load_bench  # noqa: E402
from memlab.procedures import all_procedures, get_procedure, run_procedure  # noqa: E402
from memlab.procedures.common import Device  # noqa: E402
from memlab.procedures.iv_sweep import staircase  # noqa: E402

OPTICAL = {"optical-pulses", "three-factor", "relaxation", "xor"}
#: runs whose framework overhead is the median (their spread is printed too)
OVERHEAD_RUNS = 25
# Settings that keep every procedure to seconds of wall time here.
QUICK = {"potentiation-depression": {"pulses": 200}, "write-verify": {"levels": 4},
         "readout": {"devices": "all", "reads": 4}, "clock-check": {"samples": 10_000}}


def run_one(name: str, settings: dict, tmp: Path, realtime: bool = False) -> tuple[float, float, str]:
    family = "optomemristor" if name in OPTICAL else None
    if name == "crossbar-infer" and "weights_from" not in settings:  # it infers with given weights
        np.save(tmp / "weights.npy", np.linspace(-1.0, 1.0, 40).reshape(10, 4))
        settings = {**settings, "weights_from": str(tmp / "weights.npy")}
    with load_bench(None, family=family) as bench:
        bench.clock.realtime = realtime
        procedure = get_procedure(name)(**settings)
        t_clock, t_wall = bench.clock.now(), time.perf_counter()
        result = run_procedure(procedure, bench, tmp, operator="bench")
        return time.perf_counter() - t_wall, bench.clock.now() - t_clock, result.status


class SimulatorTimer:
    """Adds up the wall time spent inside the simulated instruments (parsing, chip physics), so
    that it can be told apart from memlab's own time (procedures, drivers, storage)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._saved = {}

    def __enter__(self) -> "SimulatorTimer":
        from memlab.instruments.sim.adapter import SimAdapter
        for name in ("_write", "_write_bytes", "_read", "_read_bytes"):
            original = getattr(SimAdapter, name)
            self._saved[name] = original

            def timed(adapter, *args, _original=original, **kwargs):
                t = time.perf_counter()
                try:
                    return _original(adapter, *args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - t
            setattr(SimAdapter, name, timed)
        return self

    def __exit__(self, *exc) -> None:
        from memlab.instruments.sim.adapter import SimAdapter
        for name, original in self._saved.items():
            setattr(SimAdapter, name, original)


def point_by_point_iv(tmp: Path) -> tuple[float, float, float, float]:
    """The same loop as iv-sweep's default, once as one list sweep, once as set + query per point."""
    volts = staircase(1.5, -1.5, 0.05)
    with load_bench(None) as bench:
        smu = bench.smu
        bench.switch.connect("smu", 0, 0)
        t = time.perf_counter(); c = bench.clock.now()
        smu.list_sweep(volts, 1e-4, 0.01)
        list_wall, list_clock = time.perf_counter() - t, bench.clock.now() - c
        smu.nplc = 0.01
        smu.set_voltage(0.0, 1e-4)
        smu.output_on()
        t = time.perf_counter(); c = bench.clock.now()
        currents = []
        for v in volts:  # what a PyMeasure procedure's execute() loop does
            smu.set_voltage(float(v), 1e-4)
            currents.append(smu.measure_current_a())
        loop_wall, loop_clock = time.perf_counter() - t, bench.clock.now() - c
        smu.output_off()
    return list_wall, list_clock, loop_wall, loop_clock


class _Bench:
    """The context a stand-alone Device needs: the bench, and no run tracking its routes."""

    def __init__(self, bench) -> None:
        self.bench = bench
        self.devices_in_use = None


def pulse_then_read_s(routing: str | None, repeats: int = 200) -> tuple[float, int]:
    """Instrument time and relay operations of one 100 ns pulse then one read (1 reading, 0.01 PLC)
    on one device of the default bench, averaged over ``repeats`` after a first pair; ``routing``
    None keeps the bench file's routing, else the switch driver's wiring is replaced by that mode."""
    with load_bench(None) as bench:
        if routing is not None:
            bench.switch.wiring = dataclasses.replace(bench.switch.wiring, routing=routing)
        device = Device(_Bench(bench), 0, 0, read_v=0.2, compliance_a=1e-3, nplc=0.01)
        device.pulse(1.0, 100e-9)
        device.read_currents()
        start, operations = bench.clock.now(), bench.twins["switch"].switch_operations
        for _ in range(repeats):
            device.pulse(1.0, 100e-9)
            device.read_currents()
        per_pair = (bench.clock.now() - start) / repeats
        relays = (bench.twins["switch"].switch_operations - operations) / repeats
        device.release()
    return per_pair, relays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="skip the real-time pacing runs")
    args = parser.parse_args()
    fig: dict[str, float] = {}
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for name in all_procedures():
            if name.startswith("test-"):
                continue
            wall, clock, status = run_one(name, QUICK.get(name, {}), tmp)
            fig[f"{name}_wall_s"] = wall
            fig[f"{name}_instrument_s"] = clock
            rows.append((name, wall, clock, status))
        if not args.quick:
            for name, settings in (("iv-sweep", {"cycles": 3}),
                                   ("potentiation-depression", {"pulses": 500, "interval_s": 1e-3})):
                # A paced clock also counts computing time as time passing, so the instrument
                # time is taken from the same run on the virtual clock, where only what the
                # instruments take is charged.
                # on hardware the simulator's time is the instruments' own: what is memlab's. The
                # median of OVERHEAD_RUNS runs: one run of a few milliseconds is at the mercy of
                # whatever else the machine does meanwhile.
                overheads = []
                for _ in range(OVERHEAD_RUNS):
                    with SimulatorTimer() as sim:
                        virtual_wall, instrument_s, _ = run_one(name, settings, tmp)
                    overheads.append((virtual_wall - sim.seconds) / instrument_s)
                wall, _, _ = run_one(name, settings, tmp, realtime=True)
                fig[f"{name}_framework_overhead"] = float(np.median(overheads))
                fig[f"{name}_framework_overhead_spread"] = float(np.ptp(overheads))
                fig[f"{name}_realtime_wall_s"] = wall
                fig[f"{name}_realtime_instrument_s"] = instrument_s
                fig[f"{name}_realtime_overhead_incl_simulator"] = wall / instrument_s - 1
        for routing in ("default", "exclusive"):
            per_pair, relays = pulse_then_read_s(None if routing == "default" else routing)
            fig[f"pulse_read_{routing}_routing_instrument_s"] = per_pair
            fig[f"pulse_read_{routing}_routing_relay_operations"] = relays
        lw, lc, pw, pc = point_by_point_iv(tmp)
        fig.update(iv_list_sweep_wall_s=lw, iv_list_sweep_instrument_s=lc, iv_point_by_point_wall_s=pw,
                   iv_point_by_point_instrument_s=pc, iv_point_by_point_over_list_wall=pw / lw,
                   iv_point_by_point_over_list_instrument=pc / lc)
    if args.json:
        print(json.dumps(fig))
        return
    print(f"{'procedure':<26} {'wall s':>10} {'instrument s':>14}  status")
    for name, wall, clock, status in rows:
        print(f"{name:<26} {wall:>10.3f} {clock:>14.4g}  {status}")
    print()
    for key, value in fig.items():
        if not key.endswith(("_wall_s", "_instrument_s")) or key.startswith(
                ("iv_", "iv-sweep_realtime", "potentiation-depression_realtime", "pulse_read_")):
            print(f"{key:<44} {value:>10.4g}")


if __name__ == "__main__":
    main()
