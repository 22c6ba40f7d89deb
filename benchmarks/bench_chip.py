"""Speed of the simulated chip model.

Run standalone: ``python benchmarks/bench_chip.py`` prints a table; ``--json`` prints one JSON
object of the figures. Targets (issue 3): whole-array pulse >= 70 M device updates/s; noisy
1024 x 1024 vector-matrix read >= 150 M device reads/s; single-device pulse or read on a
1024 x 1024 chip <= 20 us and within 2x of a 1 x 1 chip; 10^6 bipolar cycles on one device <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memlab.instruments.sim.chip import Chip  # noqa: E402

N = 1024
WRITE_V, WRITE_W = 2.0, 80e-9


def best_of(fn: Callable[[], object], repeat: int, number: int = 1) -> float:
    """Best wall time of one call, over ``repeat`` batches of ``number`` calls (s)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def measure(quick: bool) -> dict[str, float]:
    rep = 3 if quick else 7
    figures: dict[str, float] = {}

    t0 = time.perf_counter()
    big = Chip(N, N, seed=1)
    figures["create_1024x1024_s"] = time.perf_counter() - t0

    # Alternate polarity so the state stays inside the window, as in real use.
    sign = [1.0]

    def whole_pulse() -> None:
        sign[0] = -sign[0]
        big.pulse_all(sign[0] * WRITE_V, WRITE_W)

    t = best_of(whole_pulse, rep)
    figures["whole_array_pulse_ms"] = t * 1e3
    figures["whole_array_pulse_updates_per_s"] = N * N / t

    # After 1,000 cycles wear narrows every window: targets are computed per device.
    big.pulse_all(WRITE_V, WRITE_W, count=2000)
    t = best_of(whole_pulse, rep)
    figures["whole_array_pulse_worn_ms"] = t * 1e3
    figures["whole_array_pulse_worn_updates_per_s"] = N * N / t

    volts = np.full(N, 0.2)
    big.read_rows(volts)
    t = best_of(lambda: big.read_rows(volts), rep, 5)
    figures["vmm_read_cached_ms"] = t * 1e3
    figures["vmm_read_cached_reads_per_s"] = N * N / t

    def vmm_after_change() -> None:
        big.pulse(3, 3, WRITE_V, WRITE_W)  # invalidates nothing but one cache entry
        big.clock.advance(1e-3)  # time moves: the read matrix is rebuilt
        big.read_rows(volts)

    t = best_of(vmm_after_change, rep)
    figures["vmm_read_time_moved_ms"] = t * 1e3
    figures["vmm_read_time_moved_reads_per_s"] = N * N / t

    aged = Chip(N, N, seed=2)
    aged.pulse_all(WRITE_V, WRITE_W)
    aged.clock.advance(100.0)  # every device drifts: the read matrix needs exp/log per device

    def vmm_drifting() -> None:
        aged.clock.advance(1.0)
        aged.read_rows(volts)

    t = best_of(vmm_drifting, rep)
    figures["vmm_read_drifting_ms"] = t * 1e3
    figures["vmm_read_drifting_reads_per_s"] = N * N / t

    small = Chip(1, 1, seed=1, overrides={"stuck_fraction": 0.0})
    for name, chip, (r, c) in (("1024", big, (517, 301)), ("1x1", small, (0, 0))):
        s = [1.0]

        def one_pulse(chip: Chip = chip, r: int = r, c: int = c) -> None:
            s[0] = -s[0]
            chip.pulse(r, c, s[0] * WRITE_V, WRITE_W)

        figures[f"single_pulse_{name}_us"] = best_of(one_pulse, rep, 2000) * 1e6
        figures[f"single_read_{name}_us"] = best_of(
            lambda chip=chip, r=r, c=c: chip.read(r, c, 0.5), rep, 2000) * 1e6
        figures[f"source_voltage_{name}_us"] = best_of(
            lambda chip=chip, r=r, c=c: chip.source_voltage(r, c, 1.5, 1e-3, 1e-3), rep, 2000) * 1e6
    figures["single_pulse_ratio_1024_vs_1x1"] = (
        figures["single_pulse_1024_us"] / figures["single_pulse_1x1_us"])
    figures["single_read_ratio_1024_vs_1x1"] = (
        figures["single_read_1024_us"] / figures["single_read_1x1_us"])

    endurance = Chip(1, 1, seed=3, overrides={"stuck_fraction": 0.0, "endurance_cycles": 1e9})
    figures["cycles_1e6_bipolar_s"] = best_of(
        lambda: endurance.cycle(0, 0, 2.0, 1e-6, -2.0, 1e-6, 1_000_000), max(1, rep // 2))
    burst = Chip(1, 1, seed=3, overrides={"stuck_fraction": 0.0, "endurance_cycles": 1e9})
    figures["burst_1e6_pulses_s"] = best_of(
        lambda: burst.pulse(0, 0, 1.2, 80e-9, count=1_000_000), max(1, rep // 2))

    sweep_v = np.concatenate([np.linspace(0, 2.5, 2500), np.linspace(2.5, -2.5, 5000),
                              np.linspace(-2.5, 0, 2500)])
    figures["sweep_10000_points_ms"] = best_of(
        lambda: small.sweep(0, 0, sweep_v, 1e-4, 1e-3), rep) * 1e3

    passive = Chip(N, N, seed=4, array="passive", bias_scheme="v/2")
    figures["passive_single_pulse_v2_disturb_us"] = best_of(
        lambda: passive.pulse(10, 10, 2.4, WRITE_W), rep, 20) * 1e6
    # The bench's passive default: V/3 writes, grounded reads.
    passive3 = Chip(N, N, seed=4, array="passive", bias_scheme="v/3", read_bias="grounded")
    sign_p = [1.0]

    def passive_pulse(v: float) -> None:
        sign_p[0] = -sign_p[0]
        passive3.pulse(10, 10, sign_p[0] * v, WRITE_W)

    figures["passive_v3_single_pulse_2v_us"] = best_of(lambda: passive_pulse(2.0), rep, 2000) * 1e6
    figures["passive_v3_single_pulse_2v8_disturb_us"] = best_of(lambda: passive_pulse(2.8), rep, 20) * 1e6
    figures["passive_grounded_single_read_us"] = best_of(
        lambda: passive3.read(10, 10, 0.2), rep, 2000) * 1e6
    passive_v2_read = Chip(N, N, seed=4, array="passive", read_bias="v/2")
    figures["passive_v2_single_read_sneak_us"] = best_of(
        lambda: passive_v2_read.read(10, 10, 0.2), rep, 200) * 1e6

    opto = Chip(N, N, family="optomemristor", seed=5)
    opto.set_light(1e-3, 633e-9)
    sign_o = [1.0]

    def opto_pulse() -> None:
        sign_o[0] = -sign_o[0]
        opto.pulse_all(sign_o[0] * WRITE_V, WRITE_W)

    t = best_of(opto_pulse, rep)
    figures["opto_whole_array_pulse_lit_updates_per_s"] = N * N / t
    return figures


TARGETS = {
    "whole_array_pulse_updates_per_s": (">=", 70e6),
    "whole_array_pulse_worn_updates_per_s": (">=", 70e6),
    "vmm_read_cached_reads_per_s": (">=", 150e6),
    "vmm_read_time_moved_reads_per_s": (">=", 150e6),
    "single_pulse_1024_us": ("<=", 20.0),
    "single_read_1024_us": ("<=", 20.0),
    "single_pulse_ratio_1024_vs_1x1": ("<=", 2.0),
    "single_read_ratio_1024_vs_1x1": ("<=", 2.0),
    "cycles_1e6_bipolar_s": ("<=", 1.0),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    figures = measure(args.quick)
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"{'figure':45s} {'value':>14s}  target")
    for name, value in figures.items():
        target = ""
        if name in TARGETS:
            op, limit = TARGETS[name]
            ok = value >= limit if op == ">=" else value <= limit
            target = f"{op} {limit:.3g}  {'ok' if ok else 'MISSED'}"
        print(f"{name:45s} {value:14.4g}  {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
