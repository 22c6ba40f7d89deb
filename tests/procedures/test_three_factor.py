"""three-factor on the simulated optomemristor: the eligibility window it measures is the chip's."""

from __future__ import annotations

import numpy as np
import pytest

from memlab.instruments.bench import DEFAULT_BENCH, load_bench
from memlab.procedures import ParameterError, get_procedure, run_procedure
from memlab.procedures.three_factor import fit_eligibility
from memlab.storage import RunReader

ThreeFactor = get_procedure("three-factor")


def measure(bench, tmp_path, **values):
    result = run_procedure(ThreeFactor(**values), bench, tmp_path)
    assert result.status == "completed", result.error
    assert not (bench.laser.output_enabled() or bench.pulser.output_enabled() or bench.smu.output_enabled())
    with RunReader(result.path) as r:
        s = r.stream("coincidence")
        log = [message for _, _, message in r.log()]
        return s["delay"], s["delta"], s["conductance_before"], log


def test_window_time_constant_is_the_chips_tau_e(tmp_path):
    with load_bench(None, family="optomemristor") as bench:
        delay, delta, before, log = measure(bench, tmp_path)
        tau_e = bench.world.chip.params["tau_e_s"]
    assert len(delay) == 14 and np.isnan(delay).sum() == 2
    assert np.ptp(before) < 0.05 * np.mean(before)  # the reset starts every trial at the same G
    tau, amplitude, baseline = fit_eligibility(delay, delta)
    assert tau == pytest.approx(tau_e, rel=0.15)
    assert any(f"tau_e = {tau:.4g} s" in m for m in log)
    dark, coincident = delta[np.isnan(delay)], delta[delay == 0]
    # Without light the efficacy is h_dark (1 %): the dark trials sit on the fitted baseline.
    assert np.all(np.abs(dark - baseline) < 0.1 * amplitude)
    assert np.all(coincident - baseline > 0.8 * amplitude)


def test_window_follows_a_different_tau_e(tmp_path):
    bench_file = tmp_path / "bench.toml"
    bench_file.write_text(DEFAULT_BENCH.read_text() + "\n[chip.overrides]\ntau_e_s = 0.3\n")
    out = tmp_path / "runs"
    out.mkdir()
    with load_bench(bench_file, family="optomemristor") as bench:
        delay, delta, _, _ = measure(bench, out, delays_s="none, 0, 0.1, 0.2, 0.4, 0.8, 1.5", relax_s=5.0)
    tau, _, _ = fit_eligibility(delay, delta)
    assert tau == pytest.approx(0.3, rel=0.15)


def test_fit_recovers_a_known_window():
    d = np.array([np.nan, 0.0, 0.5, 1.0, 2.0, 4.0, np.nan])
    y = 0.1 + 2.0 * np.exp(-np.nan_to_num(d, nan=np.inf) / 1.7)
    tau, amplitude, baseline = fit_eligibility(d, y)
    assert (tau, amplitude, baseline) == pytest.approx((1.7, 2.0, 0.1), rel=1e-4)
    assert fit_eligibility(np.array([np.nan, 0.0, 1.0]), np.array([0.0, 1.0, 0.5])) is None


def test_bad_parameters_refused(tmp_path):
    with pytest.raises(ParameterError, match=r"delays_s=.*comma-separated numbers or none"):
        ThreeFactor(delays_s="none, soon")
    with pytest.raises(ParameterError, match=r"delays_s=.*comma-separated"):
        ThreeFactor(delays_s="0, -1")
    with pytest.raises(ParameterError, match="pulse_v"):
        ThreeFactor(pulse_v=0.0)
    with load_bench(None, family="optomemristor") as bench:
        with pytest.raises(ParameterError, match=r"power_w=0\.05 .*max_laser_power_w"):
            run_procedure(ThreeFactor(power_w=0.05), bench, tmp_path)
        with pytest.raises(ParameterError, match=r"reset_v=-11\.0 .*max_pulse_voltage_v"):
            run_procedure(ThreeFactor(reset_v=-11.0), bench, tmp_path)
    assert list(tmp_path.iterdir()) == []
