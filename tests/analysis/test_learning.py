"""Figures of the learning experiments: learning curves over seeds, the hardware-vs-ideal gap,
device usage, and the report's learning section with the maze policy figure."""

from __future__ import annotations

import numpy as np
import pytest

from memlab.analysis import metrics as m
from memlab.analysis.report import write_report
from memlab.analysis.summary import summarize_file
from memlab.procedures.synthetic import write_run


def test_learning_band_is_the_t_interval_over_seeds_up_to_the_shortest_run():
    band = m.learning_band([np.array([10.0, 6.0, 4.0]), np.array([14.0, 8.0]), np.array([12.0, 10.0, 9.0])],
                           confidence=0.95)
    assert band.runs == 3 and list(band.index) == [0, 1]  # never past the shortest run
    np.testing.assert_allclose(band.mean, [12.0, 8.0])
    half = 4.302653 * 2.0 / np.sqrt(3)  # t(0.975, 2) * sd / sqrt(n); sd = 2 at both indices
    np.testing.assert_allclose(band.high - band.mean, [half, half], rtol=1e-5)
    one = m.learning_band([np.array([1.0, 2.0])])
    assert np.isnan(one.low).all()  # one run: no band
    with pytest.raises(ValueError):
        m.learning_band([])


def test_episodes_to_learn_and_its_lower_bound():
    f = m.episodes_to_learn([40, 13, 20, 9, 8, 12, 8], 8)
    assert f.value == 3 and f.n == 7
    resumed = m.episodes_to_learn([9, 8], 8, episode=[12, 13])
    assert resumed.value == 12
    never = m.episodes_to_learn([40, 30, 13], 8)
    assert never.quality == "lower bound" and never.value == 3
    assert m.episodes_to_learn([], 8).quality == "not determined"


def test_accuracy_gap_and_paired_gap_carry_intervals():
    gap = m.accuracy_gap(0.95, 0.90, 64)
    assert gap.value == pytest.approx(0.95 - 0.90, abs=1 / 64) and gap.low < gap.value < gap.high
    assert gap.low > -0.2 and gap.high < 0.25
    paired = m.paired_gap([0.9, 0.95, 0.92], [0.88, 0.90, 0.92])
    assert paired.value == pytest.approx(0.0233333, rel=1e-4) and paired.n == 3 and paired.low < paired.value
    assert m.paired_gap([0.9], [0.8]).quality == "not determined"


def test_device_usage_figures():
    energy = m.pulse_energy_j([2], 2.0, [[1e-6, 3e-6]], 1e-7)  # 2 pulses of 2 V, 100 ns
    assert energy.value == pytest.approx(2 * 4 * 2e-6 * 1e-7)
    assert energy.low == pytest.approx(2 * 4 * 1e-6 * 1e-7) and energy.high == pytest.approx(2 * 4 * 3e-6 * 1e-7)
    per = m.pulses_per_weight([10, 12, 8], 4)
    assert per.value == pytest.approx(7.5) and per.low < 7.5 < per.high
    series = np.array([[1e-6, 2e-6, 5e-6], [1.5e-6, 2.01e-6, 4e-6], [2e-6, 2.0e-6, 3e-6]])
    assert list(m.failed_devices(series)) == [False, True, False]


def test_maze_shortest_path_from_recorded_parameters():
    assert m.maze_shortest_path(5, "1,1;1,3;3,1;3,3", "") == 8
    assert m.maze_shortest_path(3, "", "0,2") == 2
    assert m.maze_shortest_path(3, "0,1;1,0", "") is None


def _maze_run(folder, seed, steps, baseline):
    n = len(steps)
    size = 2
    learned = np.zeros((n, 16))
    learned[:, 4 * 0 + 1] = np.linspace(0, 1e-6, n)  # cell 0: right
    learned[:, 4 * 1 + 2] = np.linspace(0, 2e-6, n)  # cell 1: down
    return write_run(folder, "maze-rl", {
        "episodes": {"episode": np.arange(n), "steps": np.asarray(steps), "reward": np.ones(n),
                     "baseline_steps": np.asarray(baseline), "baseline_reward": np.ones(n),
                     "epsilon": np.full(n, 0.1), "pulses": np.full(n, 2), "time": np.arange(n) * 12.0},
        "values": {"episode": np.arange(n), "conductance": 0.25e-6 + learned,
                   "reference": np.full((n, 16), 0.25e-6), "baseline": np.zeros((n, 16))},
        "policy": {"cell": np.arange(4), "action": np.array([1, 2, 1, -1]), "baseline_action": np.array([1, 2, 1, -1])}},
        devices=[(0, k) for k in range(16)], chip={"family": "optomemristor", "rows": 4, "cols": 16, "seed": 0},
        parameters={"size": size, "walls": "", "episodes": n, "seed": seed, "pulse_v": 2.0, "width_s": 1e-7,
                    "reward_power_w": 1e-3, "reward_width_s": 0.05, "tie_s": 1e-8},
        name=f"maze-{seed}.h5")


def test_maze_summary_and_report_pool_the_seeds(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    for seed, steps in enumerate(([9, 6, 2, 2, 2, 2], [12, 3, 4, 2, 2, 2], [7, 8, 3, 2, 2, 3])):
        _maze_run(runs, seed, steps, [6, 5, 2, 2, 2, 2])
    summary = summarize_file(runs / "maze-1.h5")
    row = summary.rows[0]
    assert row["maze_episodes_to_learn"].value == 3  # shortest path 2: at most 3 steps from episode 3 on
    assert row["maze_baseline_episodes_to_learn"].value == 2
    assert row["maze_pulses_per_device"].value == pytest.approx(6 * 2 / 16)
    assert row["maze_light_energy_j"].value == pytest.approx(6 * 1e-3 * 0.05)
    assert row["maze_pulse_energy_j"].low <= row["maze_pulse_energy_j"].value <= row["maze_pulse_energy_j"].high

    result = write_report(runs, tmp_path / "report", confidence=0.95)
    names = [p.name for p in result.figures]
    assert "learning_maze-rl_1.png" in names and "maze-0.png" in names
    html = result.index.read_text()
    assert "learning curve over 3 run(s) that differ only in their seed" in html
    assert "steps of the last episode, chip - software" in html
    assert "Learned policy" in html
