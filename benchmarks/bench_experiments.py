"""On-chip learning experiments on the simulated bench: time per epoch and learning outcome.

    python benchmarks/bench_experiments.py           # readable table
    python benchmarks/bench_experiments.py --json    # one JSON object of figures
    python benchmarks/bench_experiments.py --quick   # 3 seeds instead of 10

Per epoch of crossbar-train (default parameters): wall time, instrument time (the virtual clock:
what the real instruments would take) and memlab's framework overhead as a share of instrument
time (wall time less the simulator's own CPU time: on hardware that time is the instruments').
Then the acceptance figure of the experiment: over seeds, how often the hardware-trained network's
final test accuracy is within 5 points of the floating-point network's, and whether every working
device's conductance stayed inside the device window.

The same for maze-rl on the optomemristor preset (default parameters, 5 x 5 maze, 30 episodes):
time per episode, and per seed the episode from which every later episode takes at most 1.5 x the
shortest path ("learned by"); the acceptance figure is how many seeds learned by episode
``MAZE_LEARN_BY`` (and how many learned at all within the run).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from bench_procedures import SimulatorTimer  # noqa: E402

from memlab.instruments.bench import load_bench  # noqa: E402
from memlab.procedures.registry import get_procedure  # noqa: E402
from memlab.procedures.runner import run_procedure  # noqa: E402
from memlab.procedures.crossbar_train import CLASSES, INPUTS  # noqa: E402
from memlab.procedures.maze_rl import Maze, parse_walls  # noqa: E402
from memlab.storage import RunReader  # noqa: E402

MAZE_LEARN_BY = 20  # the stated number of episodes of the maze acceptance


def train(seed: int, tmp: Path) -> tuple[float, float, float, int, float, float, tuple[bool, float, float]]:
    """(wall s, instrument s, simulator s, epochs, hardware and float final test accuracy, and the
    window check: every working device's stored conductance inside its window at the end, the
    lowest reading / g_min and the highest reading / g_max over all epochs)."""
    with load_bench(None) as bench, SimulatorTimer() as sim:
        procedure = get_procedure("crossbar-train")(seed=seed)
        clock, wall = bench.clock.now(), time.perf_counter()
        result = run_procedure(procedure, bench, tmp, operator="bench")
        wall, clock = time.perf_counter() - wall, bench.clock.now() - clock
        # each device's own window (its conductance bounds, spread from device to device)
        states = {(r, c): bench.world.chip.device_state(r, c) for r, c in procedure.devices()}
    if result.status != "completed":
        raise SystemExit(f"crossbar-train seed {seed}: {result.status} {result.error}")
    with RunReader(result.path) as reader:
        epochs = reader.stream("epochs")
        hw = float(epochs.column("test_accuracy")[-1])
        fl = float(epochs.column("float_test_accuracy")[-1])
        n = len(epochs)
        weights = reader.stream("weights")
        g = np.stack([weights.column("g_plus"), weights.column("g_minus")], axis=1)  # epochs x 2 x in x cls
    # Each working device against its own window (bounds spread from device to device): the
    # simulator's stored conductance (ground truth, end of run) and the readings of every epoch,
    # as ratios reading / g_min and reading / g_max (readings sit a few % below g_min from drift
    # and the read I-V at 0.1 V, not from programming outside the window).
    stored_inside, low, high = True, np.inf, 0.0
    for i in range(INPUTS):
        for j in range(CLASSES):
            for k in range(2):
                state = states[(i, 2 * j + k)]
                if state["stuck"]:
                    continue  # frozen by the procedure, not a weight
                stored_inside &= state["g_min_s"] <= state["G"] <= state["g_max_s"]
                low = min(low, float(g[:, k, i, j].min()) / state["g_min_s"])
                high = max(high, float(g[:, k, i, j].max()) / state["g_max_s"])
    return wall, clock, sim.seconds, n, hw, fl, (stored_inside, low, high)


def learned_by(steps: np.ndarray, limit: float) -> int | None:
    """The first episode from which every episode takes at most ``limit`` steps, or None."""
    over = np.flatnonzero(steps > limit)
    first = 0 if len(over) == 0 else int(over[-1]) + 1
    return first if first < len(steps) else None


def maze(seed: int, tmp: Path) -> tuple[float, float, float, int, int | None, int | None]:
    """(wall s, instrument s, simulator s, episodes, learned by (chip), learned by (software))."""
    shortest = Maze(5, parse_walls("1,1;1,3;3,1;3,3", 5), (4, 4)).shortest_path()
    with load_bench(None, family="optomemristor") as bench, SimulatorTimer() as sim:
        procedure = get_procedure("maze-rl")(seed=seed)
        clock, wall = bench.clock.now(), time.perf_counter()
        result = run_procedure(procedure, bench, tmp, operator="bench")
        wall, clock = time.perf_counter() - wall, bench.clock.now() - clock
    if result.status != "completed":
        raise SystemExit(f"maze-rl seed {seed}: {result.status} {result.error}")
    with RunReader(result.path) as reader:
        episodes = reader.stream("episodes")
        chip = learned_by(episodes.column("steps"), 1.5 * shortest)
        software = learned_by(episodes.column("baseline_steps"), 1.5 * shortest)
        n = len(episodes)
    return wall, clock, sim.seconds, n, chip, software


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="3 seeds")
    args = parser.parse_args()
    seeds = range(3 if args.quick else 10)
    rows, maze_rows = [], []
    with tempfile.TemporaryDirectory() as tmpdir:
        for seed in seeds:
            rows.append((seed, *train(seed, Path(tmpdir))))
        for seed in seeds:
            maze_rows.append((seed, *maze(seed, Path(tmpdir))))
    epochs = sum(r[4] for r in rows)
    wall = sum(r[1] for r in rows)
    instrument = sum(r[2] for r in rows)
    simulator = sum(r[3] for r in rows)
    within = sum(1 for r in rows if r[6] - r[5] <= 0.05 + 1e-9)
    episodes = sum(r[4] for r in maze_rows)
    m_wall = sum(r[1] for r in maze_rows)
    m_instrument = sum(r[2] for r in maze_rows)
    m_simulator = sum(r[3] for r in maze_rows)
    fig = {
        "crossbar_train_wall_per_epoch_s": wall / epochs,
        "crossbar_train_instrument_per_epoch_s": instrument / epochs,
        "crossbar_train_framework_overhead": (wall - simulator) / instrument,
        "crossbar_train_seeds": float(len(rows)),
        "crossbar_train_seeds_within_5_points_of_float": float(within),
        "crossbar_train_mean_gap_points": 100 * sum(r[6] - r[5] for r in rows) / len(rows),
        "crossbar_train_seeds_stored_conductance_inside_window": float(sum(r[7][0] for r in rows)),
        "crossbar_train_lowest_reading_over_g_min": min(r[7][1] for r in rows),
        "crossbar_train_highest_reading_over_g_max": max(r[7][2] for r in rows),
        "maze_rl_wall_per_episode_s": m_wall / episodes,
        "maze_rl_instrument_per_episode_s": m_instrument / episodes,
        "maze_rl_framework_overhead": (m_wall - m_simulator) / m_instrument,
        "maze_rl_seeds": float(len(maze_rows)),
        f"maze_rl_seeds_learned_by_episode_{MAZE_LEARN_BY}": float(
            sum(1 for r in maze_rows if r[5] is not None and r[5] <= MAZE_LEARN_BY)),
        "maze_rl_seeds_learned_in_run": float(sum(1 for r in maze_rows if r[5] is not None)),
        "maze_rl_software_seeds_learned_in_run": float(sum(1 for r in maze_rows if r[6] is not None)),
    }
    if args.json:
        print(json.dumps(fig))
        return
    print(f"{'seed':>4} {'wall s':>8} {'instr. s':>9} {'epochs':>6} {'hw acc':>7} {'float acc':>9} {'gap':>6} "
          f"{'stored G':>8} {'min rd/gmin':>11} {'max rd/gmax':>11}")
    for seed, w, c, _, n, hw, fl, (inside, low, high) in rows:
        print(f"{seed:>4} {w:>8.2f} {c:>9.1f} {n:>6} {hw:>7.3f} {fl:>9.3f} {100 * (fl - hw):>5.1f}p "
              f"{'inside' if inside else 'OUTSIDE':>8} {low:>11.3f} {high:>11.3f}")
    print()
    print(f"{'seed':>4} {'wall s':>8} {'instr. s':>9} {'episodes':>8} {'chip learned by':>15} {'software learned by':>19}")
    for seed, w, c, _, n, chip, software in maze_rows:
        print(f"{seed:>4} {w:>8.2f} {c:>9.1f} {n:>8} {str(chip):>15} {str(software):>19}")
    print()
    for key, value in fig.items():
        print(f"{key:<48} {value:>10.4g}")


if __name__ == "__main__":
    main()
