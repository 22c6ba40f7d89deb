"""endurance on the simulated bench: a million cycles in seconds, and failures detected."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from memlab.instruments.bench import Bench, load_bench, read_bench_config
from memlab.procedures import ParameterError, RunListener, get_procedure, run_procedure
from memlab.procedures.endurance import sample_cycles
from memlab.storage import RunReader

Endurance = get_procedure("endurance")


def run(bench, tmp_path, listeners=(), **values):
    result = run_procedure(Endurance(**values), bench, tmp_path, listeners=listeners)
    assert result.status == "completed", result.error
    with RunReader(result.path) as r:
        return r.stream("endurance").arrays(), {k: v[0] for k, v in r.stream("result").arrays().items()}


def test_sample_cycles_are_log_spaced_and_end_at_the_last_cycle():
    assert list(sample_cycles(100, 4)) == [1, 2, 3, 6, 10, 18, 32, 56, 100]
    assert list(sample_cycles(150, 1)) == [1, 10, 100, 150]
    assert list(sample_cycles(1, 10)) == [1]
    # ten per decade, fewer in the first decade where rounding makes them coincide
    assert list(sample_cycles(10**6, 10)[:12]) == [1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25]
    assert sample_cycles(10**6, 10).size == 8 + 50


def test_a_million_cycles_in_seconds_on_a_durable_device(tmp_path):
    with load_bench(None) as bench:
        chip = bench.world.chip
        row, col = 11, 11
        state = chip.device_state(row, col)
        assert state["endurance_cycles"] > 3e6 and not state["stuck"]
        wall = time.perf_counter()
        rows, result = run(bench, tmp_path, row=row, col=col, cycles=10**6)
        wall = time.perf_counter() - wall
        assert bench.clock.now() >= 10**6 * 2e-6  # every cycle's pulses took their time
        assert not bench.pulser.output_enabled() and not bench.smu.output_enabled()
    assert wall < 10.0  # ~2 s here; the sim must not step the cycles in Python
    assert result == {"failed": 0, "failure_cycle": -1, "reason_code": 0}
    assert list(rows["cycle"]) == list(sample_cycles(10**6, 10))
    assert np.all(rows["window"] > 2.0)
    # early on the device switches across its whole window
    early = rows["cycle"] <= 100
    assert np.median(rows["conductance_set"][early]) == pytest.approx(state["g_max_s"], rel=0.05)
    assert np.median(rows["conductance_reset"][early]) == pytest.approx(state["g_min_s"], rel=0.1)
    assert np.allclose(rows["window"], rows["conductance_set"] / rows["conductance_reset"])


class StickAt(RunListener):
    """Freezes the device where it is once the run has passed ``cycle`` (a fault injected mid-run)."""

    def __init__(self, chip, row: int, col: int, cycle: int) -> None:
        self.chip, self.row, self.col, self.cycle, self.done = chip, row, col, cycle, False

    def on_progress(self, done, total, eta_s) -> None:
        if done >= self.cycle and not self.done:
            self.chip.set_fault(self.row, self.col, "stuck")
            self.done = True


def test_device_stuck_mid_run_is_detected_and_stops_the_run(tmp_path):
    with load_bench(None) as bench:
        chip = bench.world.chip
        row, col = 5, 5
        rows, result = run(bench, tmp_path, [StickAt(chip, row, col, 1000)], row=row, col=col, cycles=10**5)
        assert chip.device_state(row, col)["stuck"]
    samples = list(sample_cycles(10**5, 10))
    first_after = samples[samples.index(1000) + 1]
    confirmed = samples[samples.index(1000) + 2]
    assert result == {"failed": 1, "failure_cycle": first_after, "reason_code": 2}
    assert rows["cycle"][-1] == confirmed  # stopped once two samples in a row failed
    healthy = rows["cycle"] <= 1000
    assert np.all(rows["window"][healthy] > 2) and np.allclose(rows["window"][~healthy], 1.0, atol=0.05)


def test_stuck_device_with_continue_runs_every_cycle(tmp_path):
    with load_bench(None) as bench:
        chip = bench.world.chip
        rows, result = run(bench, tmp_path, [StickAt(chip, 5, 5, 100)], row=5, col=5, cycles=10**4,
                           on_failure="continue", confirm=1)
    assert result["failed"] == 1 and result["reason_code"] == 2 and result["failure_cycle"] == 126
    assert rows["cycle"][-1] == 10**4


def test_worn_out_device_closes_its_window_before_its_endurance(tmp_path):
    config = read_bench_config(None)
    n_end = 2000
    overrides = {"endurance_cycles": float(n_end), "sigma_endurance": 0.0}
    with Bench(replace(config, chip=replace(config.chip, overrides=overrides))) as bench:
        rows, result = run(bench, tmp_path, row=5, col=5, cycles=10**4, samples_per_decade=20)
    # the window narrows as 1 - (n / n_end)^2 (docs/chip-model.md): below 2x at ~0.8 n_end
    assert result["failed"] == 1 and result["reason_code"] == 1
    assert 0.7 * n_end <= result["failure_cycle"] <= n_end
    assert np.median(rows["window"][rows["cycle"] < 0.3 * n_end]) > 5  # wide open while young


def test_bad_parameters_refused_before_anything_runs(tmp_path):
    with load_bench(None) as bench:
        with pytest.raises(ParameterError, match=r"set_v=10\.5 .*max_pulse_voltage_v"):
            run_procedure(Endurance(set_v=10.5), bench, tmp_path)
        with pytest.raises(ParameterError, match=r"row=20"):
            run_procedure(Endurance(row=20), bench, tmp_path)
        assert bench.clock.now() == 0.0
    with pytest.raises(ParameterError, match=r"reset_v=0\.0 .*negative"):
        Endurance(reset_v=0.0)
    with pytest.raises(ParameterError, match=r"on_failure='pause'"):
        Endurance(on_failure="pause")
    with pytest.raises(ParameterError, match=r"cycles=0"):
        Endurance(cycles=0)
    assert list(tmp_path.iterdir()) == []
