"""Twin speed: fitting a 32 x 32 chip from one night's campaign, and the twin chip's
single-device operations against the preset chip's.

    python benchmarks/bench_twin.py            # readable table
    python benchmarks/bench_twin.py --json     # one JSON object of figures
    python benchmarks/bench_twin.py --quick    # an 8 x 8 chip (a smoke run)

The night's runs are synthetic (``memlab.procedures.synthetic.write_campaign``: forming, iv-sweep,
potentiation-depression on every device, retention and readout of the chip, plus a run of
each other procedure on some devices, which the fit opens and skips); generating them is timed
apart. The fit is ``memlab.twin.fit_twin`` on the folder, as ``memlab twin fit`` runs it (Dask's
process pool for a folder this size; ``--workers 1`` for the serial fit).
Operation times are the median of repeated calls on one device of a chip built from the fitted
twin (per-device parameters) and of the preset chip of the same size, the two chips' calls
alternating so that other load on a shared machine falls on both alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memlab.instruments.sim.chip import Chip  # noqa: E402
from memlab.procedures.synthetic import write_campaign  # noqa: E402
from memlab.twin import fit_twin, load_twin, write_twin  # noqa: E402


def paired_times(fa, fb, repeats: int) -> tuple[float, float]:
    """Medians of ``fa`` and ``fb`` called alternately: on a shared machine a burst of other load
    falls on both alike."""
    ta, tb = [], []
    for _ in range(repeats):
        for fn, times in ((fa, ta), (fb, tb)):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    return statistics.median(ta), statistics.median(tb)


def operations(twin: Chip, preset: Chip, repeats: int) -> dict[str, tuple[float, float]]:
    """(twin, preset) time of each single-device operation."""
    sweep_v = np.concatenate((np.linspace(0, 1.5, 100), np.linspace(1.5, -1.5, 200)))
    ops = {
        "pulse": lambda chip: chip.pulse(3, 5, 2.0, 80e-9),
        "pulse_train_100": lambda chip: chip.pulse(3, 5, -2.0, 80e-9, count=100),
        "read": lambda chip: chip.read(3, 5, 0.2),
        "sweep_300": lambda chip: chip.sweep(3, 5, sweep_v, 1e-3),
    }
    return {name: paired_times(lambda: op(twin), lambda: op(preset), repeats) for name, op in ops.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures")
    parser.add_argument("--quick", action="store_true", help="an 8 x 8 chip")
    parser.add_argument("--workers", type=int, default=None,
                        help="fit_twin's workers (default: automatic, as memlab twin fit; 1: serial)")
    args = parser.parse_args()
    n = 8 if args.quick else 32
    repeats = 200 if args.quick else 1000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "night"
        t = time.perf_counter()
        write_campaign(folder, rows=n, cols=n, with_optical=False)
        generate_s = time.perf_counter() - t
        files = len(list(folder.glob("*.h5")))
        t = time.perf_counter()
        twin = fit_twin(folder, progress=False, workers=args.workers)
        fit_s = time.perf_counter() - t
        path = write_twin(twin, Path(tmp) / "chip-twin.h5")
        twin = load_twin(path)
        fitted = int(twin.devices["a_plus"].measured.sum())
        twin_chip = Chip(seed=1, **twin.chip_kwargs())
        preset_chip = Chip(n, n, family=twin.family, seed=1)
        ops = operations(twin_chip, preset_chip, repeats)
        ops_twin = {k: v[0] for k, v in ops.items()}
        ops_preset = {k: v[1] for k, v in ops.items()}
    figures: dict[str, float] = {
        f"chip_{n}x{n}_files": files, "generate_s": round(generate_s, 2), f"fit_{n}x{n}_s": round(fit_s, 2),
        "devices_fitted": fitted, "runs_used": len(twin.sources),
        "fit_workers": args.workers or 0,  # 0: automatic
    }
    for name in ops_twin:
        figures[f"{name}_twin_us"] = round(ops_twin[name] * 1e6, 2)
        figures[f"{name}_preset_us"] = round(ops_preset[name] * 1e6, 2)
        figures[f"{name}_twin_over_preset"] = round(ops_twin[name] / ops_preset[name], 3)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"twin of a {n} x {n} chip from one night's synthetic campaign ({files} run files)")
    print(f"  generating the runs      {generate_s:8.2f} s (not part of the fit)")
    print(f"  fitting (memlab.twin)    {fit_s:8.2f} s   target < 60 s for 32 x 32; "
          f"{len(twin.sources)} runs used, {fitted} devices fitted")
    print(f"  {'operation':<18}{'twin (us)':>12}{'preset (us)':>13}{'ratio':>8}   target ratio <= 2")
    for name in ops_twin:
        print(f"  {name:<18}{ops_twin[name] * 1e6:12.2f}{ops_preset[name] * 1e6:13.2f}"
              f"{ops_twin[name] / ops_preset[name]:8.2f}")


if __name__ == "__main__":
    main()
