"""On-chip learning experiments on the simulated bench: time per epoch and learning outcome.

    python benchmarks/bench_experiments.py           # readable table
    python benchmarks/bench_experiments.py --json    # one JSON object of figures
    python benchmarks/bench_experiments.py --quick   # 3 seeds instead of 10

Per epoch of crossbar-train (default parameters): wall time, instrument time (the virtual clock:
what the real instruments would take) and memlab's framework overhead as a share of instrument
time (wall time less the simulator's own CPU time: on hardware that time is the instruments').
Then the acceptance figure of the experiment: over seeds, how often the hardware-trained network's
final test accuracy is within 5 points of the floating-point network's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_procedures import SimulatorTimer  # noqa: E402

from memlab.instruments.bench import load_bench  # noqa: E402
from memlab.procedures.registry import get_procedure  # noqa: E402
from memlab.procedures.runner import run_procedure  # noqa: E402
from memlab.storage import RunReader  # noqa: E402


def train(seed: int, tmp: Path) -> tuple[float, float, float, int, float, float]:
    """(wall s, instrument s, simulator s, epochs, hardware and float final test accuracy)."""
    with load_bench(None) as bench, SimulatorTimer() as sim:
        procedure = get_procedure("crossbar-train")(seed=seed)
        clock, wall = bench.clock.now(), time.perf_counter()
        result = run_procedure(procedure, bench, tmp, operator="bench")
        wall, clock = time.perf_counter() - wall, bench.clock.now() - clock
    if result.status != "completed":
        raise SystemExit(f"crossbar-train seed {seed}: {result.status} {result.error}")
    with RunReader(result.path) as reader:
        epochs = reader.stream("epochs")
        hw = float(epochs.column("test_accuracy")[-1])
        fl = float(epochs.column("float_test_accuracy")[-1])
        n = len(epochs)
    return wall, clock, sim.seconds, n, hw, fl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="3 seeds")
    args = parser.parse_args()
    seeds = range(3 if args.quick else 10)
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        for seed in seeds:
            rows.append((seed, *train(seed, Path(tmpdir))))
    epochs = sum(r[4] for r in rows)
    wall = sum(r[1] for r in rows)
    instrument = sum(r[2] for r in rows)
    simulator = sum(r[3] for r in rows)
    within = sum(1 for r in rows if r[6] - r[5] <= 0.05 + 1e-9)
    fig = {
        "crossbar_train_wall_per_epoch_s": wall / epochs,
        "crossbar_train_instrument_per_epoch_s": instrument / epochs,
        "crossbar_train_framework_overhead": (wall - simulator) / instrument,
        "crossbar_train_seeds": float(len(rows)),
        "crossbar_train_seeds_within_5_points_of_float": float(within),
        "crossbar_train_mean_gap_points": 100 * sum(r[6] - r[5] for r in rows) / len(rows),
    }
    if args.json:
        print(json.dumps(fig))
        return
    print(f"{'seed':>4} {'wall s':>8} {'instr. s':>9} {'epochs':>6} {'hw acc':>7} {'float acc':>9} {'gap':>6}")
    for seed, w, c, _, n, hw, fl in rows:
        print(f"{seed:>4} {w:>8.2f} {c:>9.1f} {n:>6} {hw:>7.3f} {fl:>9.3f} {100 * (fl - hw):>5.1f}p")
    print()
    for key, value in fig.items():
        print(f"{key:<48} {value:>10.4g}")


if __name__ == "__main__":
    main()
