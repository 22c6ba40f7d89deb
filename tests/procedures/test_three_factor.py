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
        # the window of the run's own train size; the longer coincident trains serve the step law
        main = s["pulses"] == ThreeFactor(**values).p.pulses
        return s["delay"][main], s["delta"][main], s["conductance_before"][main], log


def side(delay, delta, negative):
    """The trials of one order (delays of one sign, as |delay|) plus the no-light ones."""
    keep = np.isnan(delay) | ((delay < 0) if negative else (delay >= 0))
    return np.abs(delay[keep]), delta[keep]


def test_window_of_both_orders_has_the_chips_time_constants(tmp_path):
    with load_bench(None, family="optomemristor") as bench:
        delay, delta, before, log = measure(bench, tmp_path)
        params = bench.world.chip.params
    assert len(delay) == 22 and np.isnan(delay).sum() == 2
    assert np.ptp(before) < 0.05 * np.mean(before)  # the reset starts every trial at the same G
    tau_lp, amp_lp, base_lp = fit_eligibility(*side(delay, delta, negative=False))
    tau_pl, amp_pl, base_pl = fit_eligibility(*side(delay, delta, negative=True))
    assert tau_lp == pytest.approx(params["tau_e_s"], rel=0.15)
    assert tau_pl == pytest.approx(params["tau_pl_s"], rel=0.15)
    assert any(f"tau_e = {tau_lp:.4g} s" in m for m in log)
    assert any(f"tau_pl = {tau_pl:.4g} s" in m for m in log)
    # Each order has its own gain: pulse-then-light converts gain_pl of the unexpressed step.
    assert amp_pl / amp_lp == pytest.approx(params["gain_pl"], rel=0.2)
    dark, coincident = delta[np.isnan(delay)], delta[delay == 0]
    # Without light the change is the dark efficacy (0.1 %) only: within the read noise of a
    # 10-reading average (1 % / sqrt(10) of G, twice for a difference), far below the window.
    noise = params["sigma_read"] / np.sqrt(10) * np.mean(before) * np.sqrt(2)
    assert np.all(np.abs(dark) < 3 * noise)
    assert np.all(np.abs(dark) < 0.02 * amp_lp)
    assert np.all(coincident - base_lp > 0.8 * amp_lp)


def test_window_follows_different_time_constants(tmp_path):
    bench_file = tmp_path / "bench.toml"
    bench_file.write_text(DEFAULT_BENCH.read_text() + "\n[chip.overrides]\ntau_e_s = 0.3\ntau_pl_s = 1.5\n")
    out = tmp_path / "runs"
    out.mkdir()
    with load_bench(bench_file, family="optomemristor") as bench:
        delay, delta, _, _ = measure(bench, out, delays_s="none, -4, -2, -1, -0.4, 0, 0.1, 0.2, 0.4, 0.8, 1.5",
                                     relax_s=8.0)
    assert fit_eligibility(*side(delay, delta, negative=False))[0] == pytest.approx(0.3, rel=0.15)
    assert fit_eligibility(*side(delay, delta, negative=True))[0] == pytest.approx(1.5, rel=0.15)


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
        ThreeFactor(delays_s="0, -1e6")
    with pytest.raises(ParameterError, match="pulse_v"):
        ThreeFactor(pulse_v=0.0)
    with load_bench(None, family="optomemristor") as bench:
        with pytest.raises(ParameterError, match=r"power_w=0\.05 .*max_laser_power_w"):
            run_procedure(ThreeFactor(power_w=0.05), bench, tmp_path)
        with pytest.raises(ParameterError, match=r"reset_v=-11\.0 .*max_pulse_voltage_v"):
            run_procedure(ThreeFactor(reset_v=-11.0), bench, tmp_path)
    assert list(tmp_path.iterdir()) == []
