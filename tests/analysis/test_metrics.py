"""Each figure-of-merit function on synthetic arrays whose answer is known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from memlab.analysis import metrics as m
from memlab.analysis.fitting import (
    coefficient_of_variation,
    fit_exponential,
    linear_fit,
    power_law_fit,
    z_for_confidence,
)

# -- fitting -----------------------------------------------------------------------------------


def test_linear_and_power_law_fits_are_exact_on_exact_data():
    x = np.linspace(1, 10, 20)
    line = linear_fit(x, 3 * x - 2)
    assert line.slope == pytest.approx(3) and line.intercept == pytest.approx(-2) and line.r2 == pytest.approx(1)
    p = power_law_fit(x, 5e-6 * x ** 0.7)
    assert p.exponent == pytest.approx(0.7) and p.prefactor == pytest.approx(5e-6)


@pytest.mark.parametrize("tau", [0.01, 1.0, 30.0])
def test_exponential_fit_recovers_tau_offset_and_amplitude(tau):
    t = np.linspace(5.0, 5.0 + 5 * tau, 60)  # an arbitrary time origin
    y = 2.0 - 3.0 * np.exp(-(t - 5.0) / tau)
    fit = fit_exponential(t, y)
    assert fit.tau == pytest.approx(tau, rel=1e-6)
    assert fit.offset == pytest.approx(2.0, rel=1e-6)
    assert fit.amplitude == pytest.approx(-3.0, rel=1e-6)
    assert not fit.at_bound
    np.testing.assert_allclose(fit(t), y, atol=1e-9)


def test_exponential_fit_with_a_fixed_offset():
    t = np.linspace(0, 4, 9)
    fit = fit_exponential(t, 0.1 + 2 * np.exp(-t / 0.8), offset=0.1)
    assert fit.tau == pytest.approx(0.8, rel=1e-6) and fit.offset == 0.1


def test_exponential_fit_of_a_straight_line_says_at_bound():
    t = np.arange(10.0)
    assert fit_exponential(t, 1 + 0.5 * t).at_bound


def test_fits_refuse_too_few_points():
    with pytest.raises(ValueError, match="at least 3"):
        fit_exponential([0, 1], [1, 2])
    with pytest.raises(ValueError, match="two distinct"):
        linear_fit([1, 1], [1, 2])


def test_coefficient_of_variation():
    assert coefficient_of_variation([1.0, 2.0, 3.0]) == pytest.approx(0.5)
    assert coefficient_of_variation([1.0, np.nan, 3.0]) == pytest.approx(math.sqrt(2) / 2)
    assert math.isnan(coefficient_of_variation([4.0]))


def test_z_for_confidence():
    assert z_for_confidence(0.99) == pytest.approx(2.5758, abs=1e-4)
    with pytest.raises(ValueError, match="confidence=1.5"):
        z_for_confidence(1.5)


# -- I-V loops ---------------------------------------------------------------------------------

STEP = 0.05
UP = np.round(np.arange(0, 1.5 + 1e-9, STEP), 10)
LOOP = np.concatenate((UP, UP[::-1][1:], -UP[1:], -UP[::-1][1:-1]))


def iv_cycles(v_sets, v_resets, g_off=1e-6, g_on=1e-4, ohmic=True):
    """Abrupt switching loops: G jumps to g_on at v >= v_set and back at v <= v_reset."""
    vs, cs, gs = [], [], []
    g = g_off
    for k, (vset, vreset) in enumerate(zip(v_sets, v_resets)):
        for v in LOOP:
            if v >= vset:
                g = g_on
            elif v <= vreset:
                g = g_off
            gs.append(g)
        vs.append(LOOP)
        cs.append(np.full(len(LOOP), k))
    v = np.concatenate(vs)
    g = np.asarray(gs)
    i = g * v if ohmic else g * np.sinh(v)
    return v, i, np.concatenate(cs)


def test_set_reset_voltages_and_resistance_states_of_abrupt_loops():
    v, i, c = iv_cycles([0.8, 0.9, 1.0], [-0.6, -0.7, -0.6])
    sets, resets = m.set_reset_voltages(v, i, c)
    # the midpoint of the step the device switched in (0.75..0.8 for a threshold of 0.8)
    np.testing.assert_allclose(sets, [0.775, 0.875, 0.975])
    # RESET at the current peak (the default): the step after the peak, where the current falls
    np.testing.assert_allclose(resets, [-0.575, -0.675, -0.575])
    for method in ("jump", "derivative", "threshold"):
        s_m, r_m = m.set_reset_voltages(v, i, c, set_method=method, reset_method=method)
        np.testing.assert_allclose(s_m, [0.775, 0.875, 0.975])
        np.testing.assert_allclose(r_m, [-0.575, -0.675, -0.575])
    with pytest.raises(ValueError, match="reset_method='limit'"):
        m.set_reset_voltages(v, i, c, reset_method="limit")
    hrs, lrs = m.resistance_states(v, i, c, read_voltage_v=0.2)
    np.testing.assert_allclose(hrs, 1e6)
    np.testing.assert_allclose(lrs, 1e4)
    np.testing.assert_allclose(m.on_off_ratio(hrs, lrs), 100)
    s = m.iv_summary(v, i, c, read_voltage_v=0.2, skip_cycles=0)
    assert s.cycles == 3 and s.set_voltage_v.value == pytest.approx(0.875) and s.on_off_ratio.value == pytest.approx(100)
    assert s.set_voltage_v.covers(0.9) and s.set_voltage_v.n == 3
    assert s.set_voltage_cv.value == pytest.approx(np.std([0.8, 0.9, 1.0], ddof=1) / 0.875)
    assert s.switching_fraction.value == 1.0
    # the first cycle (as-formed) is left out by default
    first_out = m.iv_summary(v, i, c, read_voltage_v=0.2)
    assert first_out.cycles_used == 2 and first_out.set_voltage_v.value == pytest.approx(0.925)


def test_nonlinear_read_iv_still_finds_the_jump_and_the_chord_resistance():
    v, i, c = iv_cycles([0.8], [-0.6], ohmic=False)  # I = G sinh(V), as the chip's read I-V
    sets, resets = m.set_reset_voltages(v, i, c)
    assert sets[0] == pytest.approx(0.775) and resets[0] == pytest.approx(-0.575)
    hrs, _ = m.resistance_states(v, i, c, read_voltage_v=0.2)
    assert hrs[0] == pytest.approx(0.2 / (1e-6 * math.sinh(0.2)), rel=2e-3)


def test_a_loop_that_does_not_switch_has_no_set_voltage():
    v, i, c = iv_cycles([9.0], [-9.0])  # never reaches the thresholds
    sets, resets = m.set_reset_voltages(v, i, c)
    assert math.isnan(sets[0]) and math.isnan(resets[0])


def test_set_at_negative_polarity():
    v, i, c = iv_cycles([0.8], [-0.6])
    sets, resets = m.set_reset_voltages(-v, -i, c, set_polarity=-1)
    assert sets[0] == pytest.approx(-0.775) and resets[0] == pytest.approx(0.575)


def test_iv_bad_input_names_the_parameter():
    v, i, c = iv_cycles([0.8], [-0.6])
    with pytest.raises(ValueError, match=r"read_voltage_v=2\.0 V is outside"):
        m.resistance_states(v, i, c, read_voltage_v=2.0)
    with pytest.raises(ValueError, match="set_polarity=0"):
        m.set_reset_voltages(v, i, c, set_polarity=0)
    with pytest.raises(ValueError, match="unequal length"):
        m.set_reset_voltages(v, i[:-1])


def test_switching_summary_pairs_set_and_reset_of_each_cycle():
    cycle = [0, 0, 1, 1, 2, 2]
    pol = [1, -1, 1, -1, 1, -1]
    volts = [1.0, -0.8, 1.2, -0.8, 1.1, -0.9]
    res = [1e4, 1e6, 2e4, 1e6, 1e4, 2e6]
    s = m.switching_summary(cycle, pol, volts, res, skip_cycles=0)
    assert s.lrs_ohm.value == pytest.approx(4e4 / 3) and s.hrs_ohm.value == pytest.approx(4e6 / 3)
    assert s.set_voltage_v.value == pytest.approx(1.1) and s.set_voltage_v.covers(1.1)
    with pytest.raises(ValueError, match="polarity"):
        m.switching_summary(cycle, [1, 0, 1, -1, 1, -1], volts, res)


# -- forming -----------------------------------------------------------------------------------


def test_forming_point_by_largest_drop_and_by_threshold():
    v = np.round(np.arange(0.5, 5.01, 0.1), 10)
    r = np.where(v >= 3.2, 1e4, 1e9)
    i = 0.1 / r
    fp = m.forming_point(v, i, r)
    assert fp.formed and fp.voltage_v == pytest.approx(3.2) and fp.current_a == pytest.approx(1e-5)
    assert fp.voltage.low == pytest.approx(3.1) and fp.voltage.high == pytest.approx(3.2)
    r2 = np.geomspace(1e9, 1e3, len(v))  # gradual: the threshold decides
    fp2 = m.forming_point(v, 0.1 / r2, r2, threshold_ohm=1e5)
    assert fp2.formed and r2[fp2.step] <= 1e5 < r2[fp2.step - 1]


def test_a_device_that_never_drops_did_not_form():
    v = np.linspace(0.5, 5, 10)
    r = np.full(10, 1e9)
    fp = m.forming_point(v, 0.1 / r, r)
    assert not fp.formed and math.isnan(fp.voltage_v) and fp.step == -1
    assert fp.voltage.quality == "lower bound" and fp.voltage.value == 5.0


def test_forming_yield():
    y = m.forming_yield([1, 1, 0, 1])
    assert y.value == 0.75 and 0.2 < y.low < 0.75 < y.high < 1  # Wilson interval
    assert m.forming_yield([True, False]).value == 0.5
    with pytest.raises(ValueError, match="allowed 0/1"):
        m.forming_yield([0, 2])


# -- programming -------------------------------------------------------------------------------


def test_distinguishable_levels_counts_non_overlapping_intervals():
    rng = np.random.default_rng(0)
    means = np.array([1, 2, 3, 4]) * 1e-6
    g = np.concatenate([mu + 0.05e-6 * rng.standard_normal(50) for mu in means])
    lv = np.repeat(np.arange(4), 50)
    n = m.distinguishable_levels(g, lv, confidence=0.99)
    assert n.value == 4 and n.low <= 4 <= n.high and n.n == 200
    # levels 1 and 2 closer than their 99 % intervals: one of them is lost
    means2 = np.array([1.0, 1.1, 3.0, 4.0]) * 1e-6
    g2 = np.concatenate([mu + 0.05e-6 * rng.standard_normal(50) for mu in means2])
    assert m.distinguishable_levels(g2, lv, confidence=0.99).value == 3


def test_distinguishable_levels_uses_the_stated_confidence():
    # two levels 6 sigma apart: separate at 99 % (2 x 2.58 sigma), not at 99.99 % (2 x 3.89)
    base = np.array([-1.0, 1.0]) * np.sqrt(50 / 49)  # sample std exactly 1
    g = np.concatenate([10 + np.tile(base, 25), 16 + np.tile(base, 25)])
    lv = np.repeat([0, 1], 50)
    assert m.distinguishable_levels(g, lv, confidence=0.99).value == 2
    assert m.distinguishable_levels(g, lv, confidence=0.9999).value == 1


def test_distinguishable_levels_needs_enough_samples_per_level():
    n = m.distinguishable_levels([1e-6, 2e-6], [0, 1])
    assert not n.determined and "too few points" in n.reason
    lv = np.repeat([0, 1], 4)  # 4 per level: fewer than the 5 needed
    assert "at least 5 per level" in m.distinguishable_levels(np.arange(8.0), lv).reason
    with pytest.raises(ValueError, match="min_samples=1"):
        m.distinguishable_levels([1e-6, 2e-6], [0, 1], min_samples=1)


def test_write_verify_figures():
    assert m.pulses_per_level([3, 5, 10]).value == pytest.approx(6)
    assert m.final_error([1.01e-6, 1.98e-6], [1e-6, 2e-6]).value == pytest.approx(0.01)
    assert m.write_verify_success_rate([1, 1, 0, 1]).value == 0.75
    with pytest.raises(ValueError, match="target_s"):
        m.final_error([1e-6], [0.0])
    with pytest.raises(ValueError, match="success"):
        m.write_verify_success_rate([1, 2])


# -- potentiation / depression ------------------------------------------------------------------

G_MIN, G_MAX = 0.5e-6, 10e-6


def soft_bounds_train(a_plus, a_minus, pmax, repeats=2, noise=None, rng=None):
    """Conductance after each pulse of repeats x (pmax up, pmax down) soft-bounds pulses."""
    g, rep, pol, out = G_MIN, [], [], []
    for k in range(repeats):
        for p_sign, a in ((1, a_plus), (-1, a_minus)):
            for _ in range(pmax):
                step = a * ((G_MAX - g) if p_sign > 0 else -(g - G_MIN))
                g += step + (noise * rng.standard_normal() if noise else 0.0)
                rep.append(k)
                pol.append(p_sign)
                out.append(g)
    return np.array(rep), np.array(pol), np.array(out)


def test_branch_fit_recovers_the_soft_bounds_step_exactly():
    rep, pol, g = soft_bounds_train(0.03, 0.05, 60)
    r = m.potentiation_depression(rep, pol, g)
    up, down = r.potentiation, r.depression
    assert up.step_fraction == pytest.approx(0.03, rel=1e-5)
    assert down.step_fraction == pytest.approx(0.05, rel=1e-5)
    a_up = -1 / math.log(1 - 0.03)
    assert up.a_pulses == pytest.approx(a_up, rel=1e-5)
    assert up.a_normalised == pytest.approx(a_up / 60, rel=1e-5)
    assert up.nonlinearity == pytest.approx(60 / a_up, rel=1e-5)
    assert down.nonlinearity == pytest.approx(60 * math.log(1 - 0.05), rel=1e-5)  # negative
    first = m.split_branches(rep, pol, g)[0]
    assert m.fit_branch(first.pulses, first.conductance_s, 1).g_start_s == pytest.approx(G_MIN, rel=1e-5)
    assert r.step_noise_range.value == pytest.approx(0, abs=1e-6)
    assert r.nonlinearity_potentiation.value == pytest.approx(60 / a_up, rel=1e-5)


def test_nonlinearity_label_mapping():
    assert m.nonlinearity_label(0.25, 1) == 4.0
    assert m.nonlinearity_label(0.2, -1) == -5.0
    with pytest.raises(ValueError, match="polarity=2"):
        m.nonlinearity_label(0.2, 2)


def test_asymmetry_closed_form():
    rep, pol, g = soft_bounds_train(0.04, 0.04, 50)
    r = m.potentiation_depression(rep, pol, g)
    a = r.potentiation.a_normalised
    u_half = math.expm1(-0.5 / a) / math.expm1(-1 / a)
    assert r.asymmetry.value == pytest.approx(2 * u_half - 1, rel=1e-3)  # symmetric steps: largest at mid-range
    nearly_linear = m.potentiation_depression(*soft_bounds_train(1e-4, 1e-4, 50, repeats=1))
    assert not nearly_linear.asymmetry.determined or nearly_linear.asymmetry.value < 0.01


def test_dynamic_range():
    two = m.dynamic_range([1e-6, 5e-6, 10e-6, 1e-6, 4e-6, 12e-6], [0, 0, 0, 1, 1, 1])
    assert two.value == pytest.approx(11) and two.n == 2 and two.low < 11 < two.high
    assert "too few points" in m.dynamic_range([1e-6, 5e-6, 10e-6, 2e-6]).reason  # one repeat: no spread
    with pytest.raises(ValueError, match="not positive"):
        m.dynamic_range([0.0, 1e-6])


def test_step_noise_recovers_added_noise():
    rng = np.random.default_rng(1)
    sigma = 0.02e-6
    rep, pol, g = soft_bounds_train(0.03, 0.03, 100, repeats=4, noise=sigma, rng=rng)
    r = m.potentiation_depression(rep, pol, g)
    span = (G_MAX - G_MIN) * (1 - 0.97 ** 100)
    assert r.step_noise_range.value == pytest.approx(sigma / span, rel=0.25)


def test_split_branches_refuses_bad_polarity():
    with pytest.raises(ValueError, match="polarity"):
        m.split_branches([0, 0], [1, 3], [1e-6, 2e-6])


# -- retention ---------------------------------------------------------------------------------


def test_power_law_drift_and_time_to_loss():
    t = np.logspace(0, 4, 30)
    g = 5e-6 * t ** -0.05
    r = m.retention(t, g)
    assert r.best == "power"
    assert r.power.rate == pytest.approx(0.05) and r.power.g0_s == pytest.approx(5e-6)
    assert r.time_to_loss_s == pytest.approx(0.9 ** (-1 / 0.05))  # from t = 1 s
    assert r.time_to_loss.quality == "ok" and r.drift_nu.value == pytest.approx(0.05)


def test_log_drift_and_time_to_loss():
    t = np.logspace(1, 5, 30)
    g = 5e-6 - 0.1e-6 * np.log(t)
    r = m.retention(t, g)
    assert r.best == "log"
    assert r.log.rate == pytest.approx(-0.1e-6) and r.log.g0_s == pytest.approx(5e-6)
    g1 = 5e-6 - 0.1e-6 * math.log(10)
    assert r.time_to_loss_s == pytest.approx(10 * math.exp(0.1 * g1 / 0.1e-6))


def test_no_loss_is_not_a_number():
    t = np.logspace(0, 3, 10)
    rising = m.retention(t, 1e-6 * t ** 0.01).time_to_loss
    assert not rising.determined and "no loss" in rising.reason


def test_pure_noise_has_no_retention_time():
    t = np.logspace(0, 4, 40)
    rng = np.random.default_rng(3)
    flat = m.retention(t, 5e-6 * (1 + 0.01 * rng.standard_normal(40))).time_to_loss
    assert not flat.determined and "within noise" in flat.reason
    noise = m.retention(t, 1e-9 * rng.standard_normal(40)).time_to_loss
    assert not noise.determined and "within noise" in noise.reason
    assert "not determined" in noise.text()


def test_retention_is_not_extrapolated_beyond_ten_times_the_measurement():
    t = np.logspace(0, 3, 30)
    slow = m.retention(t, 5e-6 * t ** -0.005).time_to_loss  # 10 % after 1.4e9 s
    assert slow.quality == "lower bound" and slow.value == pytest.approx(1e3)
    assert slow.text("s").startswith("> 1000 s (not reached within the measurement")
    near = m.retention(t, 5e-6 * t ** -0.0125).time_to_loss  # 10 % after 4.6e3 s: 4.6x the span
    assert near.quality == "extrapolated" and near.value == pytest.approx(0.9 ** (-1 / 0.0125), rel=1e-6)


def test_retention_needs_positive_times():
    with pytest.raises(ValueError, match="t > 0"):
        m.retention([0.0, 0.0, 1.0], [1e-6, 1e-6, 1e-6])


# -- endurance ---------------------------------------------------------------------------------


def test_cycles_to_failure():
    cycles = [1, 10, 100, 1000, 10_000, 100_000]
    window = [20, 20, 19, 5, 1.5, 1.2]
    e = m.cycles_to_failure(cycles, window, min_window=2)
    assert e.failed and e.cycles_to_failure.value == 10_000 and e.cycles_tested == 100_000
    assert e.cycles_to_failure.low == 1000  # the last working record
    assert m.cycles_to_failure(cycles, window, min_window=10).cycles_to_failure.value == 1000
    dip = m.cycles_to_failure([1, 2, 3, 4], [20, 1.5, 20, 20], consecutive=2)
    assert not dip.failed and dip.cycles_to_failure.quality == "lower bound" and dip.cycles_to_failure.value == 4
    assert m.cycles_to_failure([1, 2, 3], [20, np.nan, 20]).cycles_to_failure.value == 2  # unreadable = closed
    with pytest.raises(ValueError, match="min_window=0.5"):
        m.cycles_to_failure(cycles, window, min_window=0.5)


def test_window_versus_cycle_on_log_bins():
    c = np.arange(1, 100_001)
    centres, med, lo, hi = m.window_vs_cycle(c, np.full(c.size, 7.0), points_per_decade=5)
    assert len(centres) == 25 and np.all(med == 7.0) and np.all(lo == 7.0)
    assert centres[0] >= 1 and centres[-1] <= 100_000


# -- optical -----------------------------------------------------------------------------------


def test_photoresponse_exponent():
    p = np.logspace(-5, -3, 5)
    fit = m.photoresponse_exponent(p, 2e-4 * p ** 0.6)
    assert fit.exponent == pytest.approx(0.6) and fit.prefactor == pytest.approx(2e-4)
    with pytest.raises(ValueError, match="two distinct powers"):
        m.photoresponse_exponent([1e-3, 1e-3], [1e-6, 1e-6])


def test_rise_and_decay_time_constants_from_light_pulses():
    t, g, p = [], [], []
    now, gph = 0.0, 0.0
    for _ in range(2):
        for lit, dur, tau in ((False, 1.0, 0.5), (True, 0.5, 0.05), (False, 3.0, 0.5)):
            for _ in range(int(dur / 0.01)):
                now += 0.01
                target = 1e-6 if lit else 0.0
                gph = target + (gph - target) * math.exp(-0.01 / tau)
                t.append(now)
                g.append(2e-6 + gph)
                p.append(1e-3 if lit else 0.0)
    tc = m.rise_decay_time_constants(t, g, p)
    assert tc.rise_s == pytest.approx(0.05, rel=1e-4) and tc.decay_s == pytest.approx(0.5, rel=1e-4)
    assert tc.rises == 2 and tc.decays == 2  # the dark stretch before any light is not a decay


def test_eligibility_window_and_gating_ratio():
    delays = np.repeat([0.0, 0.5, 1.0, 2.0, 4.0, np.nan], 3)
    h = np.where(np.isnan(delays), 0.01, 0.01 + 0.99 * np.exp(-np.nan_to_num(delays) / 1.5))
    delta = 0.2e-6 * h
    fit = m.eligibility_time_constant(delays, delta)
    assert fit.tau == pytest.approx(1.5, rel=1e-6)
    r = m.three_factor(delays, delta)
    assert r.eligibility_s == pytest.approx(1.5, rel=1e-6)
    assert r.gating_ratio == pytest.approx(100)
    assert m.gating_ratio([1.0, 1.0], [0.0]) == math.inf
    with pytest.raises(ValueError, match="without"):
        m.three_factor([0.0, 1.0], [1e-7, 1e-8])


# -- VMM ---------------------------------------------------------------------------------------


def test_vmm_error_statistics():
    ideal = np.linspace(1e-6, 5e-6, 40).reshape(10, 4)
    e = m.vmm_errors(1.1 * ideal, ideal)
    assert e.gain.value == pytest.approx(1.1) and e.correlation.value == pytest.approx(1.0)
    assert e.rmse_a.value == pytest.approx(0.1 * np.sqrt(np.mean(ideal ** 2)))
    assert e.rmse_a.low <= e.rmse_a.value <= e.rmse_a.high
    assert e.nrmse.value == pytest.approx(e.rmse_a.value / 4e-6) and e.outputs == 40
    assert m.weight_error(np.full((2, 2), 1.05), np.ones((2, 2))).value == pytest.approx(0.05)
    # against the intended weights: inputs @ target
    x = np.array([[0.1, 0.2], [0.2, 0.0]])
    np.testing.assert_allclose(m.intended_outputs(x, np.array([[1.0, 2.0], [3.0, 4.0]])), [[0.7, 1.0], [0.2, 0.4]])
    with pytest.raises(ValueError, match="shapes"):
        m.vmm_errors(np.zeros(3), np.zeros(4))
