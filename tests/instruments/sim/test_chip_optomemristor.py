"""Optomemristor physics (issue 14), each effect checked against the parameters that produced it:
both orders of three-factor plasticity, ineffective pulses, shunting dynamics, spectral response."""

from __future__ import annotations

import math

import numpy as np
import pytest

from memlab.instruments.sim.chip import PRESETS, Chip
from memlab.instruments.sim.chip.optics import PLANCK_EV_M, responsivity
from memlab.procedures.three_factor import fit_eligibility

OPTO = PRESETS["optomemristor"]
LASER_M = 635e-9
CLEAN = {"stuck_fraction": 0.0, "sigma_c2c": 0.0, "sigma_g_d2d": 0.0, "sigma_step_d2d": 0.0}
TRAIN_V, TRAIN_W, TRAIN_N = 1.2, 100e-9, 50


def window(delays: np.ndarray, **overrides) -> np.ndarray:
    """Conductance change of a fresh device per delay: > 0 light first, < 0 pulses first."""
    chip = Chip(1, len(delays), family="optomemristor", seed=3,
                overrides={**CLEAN, "drift_nu": 0.0, "sigma_drift_nu": 0.0, **overrides})
    g0 = chip.conductance.astype(np.float64)
    for j, d in enumerate(delays):
        if np.isnan(d):
            chip.pulse(0, j, TRAIN_V, TRAIN_W, count=TRAIN_N)
        elif d >= 0:
            chip.illuminate(1e-3, LASER_M, 0.1, rows=0, cols=j)
            chip.clock.sleep(d)
            chip.pulse(0, j, TRAIN_V, TRAIN_W, count=TRAIN_N)
        else:
            chip.pulse(0, j, TRAIN_V, TRAIN_W, count=TRAIN_N)
            chip.clock.sleep(-d)
            chip.illuminate(1e-3, LASER_M, 0.1, rows=0, cols=j)
        chip.clock.sleep(30.0)  # the next device's stimulus sees nothing of this one
    return (chip.conductance.astype(np.float64) - g0)[0]


def test_both_orders_potentiate_each_with_its_own_time_constant_and_gain() -> None:
    overrides = {"tau_e_s": 0.8, "tau_pl_s": 2.0, "gain_pl": 0.5}
    lp = np.array([np.nan, 0.0, 0.2, 0.5, 1.0, 2.0, 4.0])
    pl = np.array([np.nan, -0.1, -0.5, -1.0, -2.0, -4.0, -8.0])
    d_lp, d_pl = window(lp, **overrides), window(pl, **overrides)
    tau_lp, amp_lp, _ = fit_eligibility(lp, d_lp)
    tau_pl, amp_pl, _ = fit_eligibility(np.abs(pl), d_pl)
    assert tau_lp == pytest.approx(0.8, rel=0.15)
    assert tau_pl == pytest.approx(2.0, rel=0.15)
    assert np.all(d_lp[1:] > 0) and np.all(d_pl[1:] > 0)  # pulse-then-light works too
    assert np.all(np.diff(d_lp[1:]) < 0) and np.all(np.diff(d_pl[1:]) < 0)  # decays with the delay
    # Gains: light-then-pulse expresses gain_lp gate(P) (1 - h_dark) of the step, pulse-then-light
    # converts gain_pl gate(P) of the unexpressed (1 - h_dark) part: the ratio is gain_pl / gain_lp.
    assert amp_pl / amp_lp == pytest.approx(0.5 / OPTO["gain_lp"], rel=0.1)


def test_no_light_changes_within_noise_and_drifts_like_no_pulses() -> None:
    pulsed, idle = (Chip(1, 1, family="optomemristor", seed=8, overrides={"stuck_fraction": 0.0})
                    for _ in range(2))
    for chip in (pulsed, idle):
        chip.pulse(0, 0, -2.0, 1e-6, count=200)  # program both the same way, then let them age
        chip.set_light(0.0, LASER_M)
        chip.clock.sleep(20.0)
    g_before = pulsed.device_state(0, 0)["G_read"]
    pulsed.pulse(0, 0, TRAIN_V, TRAIN_W, count=TRAIN_N)  # a dark train
    change = pulsed.device_state(0, 0)["G_read"] - g_before
    noise = OPTO["sigma_read"] * g_before  # one read's noise
    assert abs(change) < noise
    for chip in (pulsed, idle):
        chip.clock.sleep(10.0)
    drift_pulsed = pulsed.device_state(0, 0)["G_read"] - g_before - change
    drift_idle = idle.device_state(0, 0)["G_read"] - g_before
    assert drift_idle < 0  # it does drift
    assert drift_pulsed == pytest.approx(drift_idle, abs=0.1 * noise)
    # The train neither restarted the drift clock nor wore the device.
    assert pulsed.device_state(0, 0)["pulses"] - idle.device_state(0, 0)["pulses"] < 0.05 * TRAIN_N


def test_shunting_rises_and_falls_with_its_own_time_constants() -> None:
    # No photoconductance: the current measures the shunting divisor alone.
    chip = Chip(1, 1, family="optomemristor", seed=2,
                overrides={"stuck_fraction": 0.0, "sigma_read": 0.0, "g_ph_ref_s": 0.0,
                           "drift_nu": 0.0, "sigma_drift_nu": 0.0})
    v = 0.2
    dark = chip.read(0, 0, v)
    chip.set_light(1e-3, LASER_M)
    chip.clock.sleep(OPTO["tau_shunt_on_s"])
    k_p = OPTO["k_shunt_per_w"] * 1e-3
    assert dark / chip.read(0, 0, v) - 1 == pytest.approx(k_p * (1 - math.exp(-1)), rel=1e-4)
    chip.clock.sleep(40 * OPTO["tau_shunt_on_s"])
    assert dark / chip.read(0, 0, v) == pytest.approx(1 + k_p, rel=1e-4)
    chip.set_light(0.0, LASER_M)
    t = np.geomspace(1e-3, 0.5, 40)
    t0 = chip.clock.now()
    excess = []
    for ti in t:
        chip.clock.advance(t0 + ti - chip.clock.now())
        excess.append(dark / chip.read(0, 0, v) - 1)  # k s(t): s falls as exp(-t / tau_shunt_off)
    # It does not recover instantly: after 1 ms the current is still divided.
    assert excess[0] > 0.9 * k_p
    slope = np.polyfit(t, np.log(excess), 1)[0]
    assert -1 / slope == pytest.approx(OPTO["tau_shunt_off_s"], rel=0.15)


def test_spectral_response_rises_towards_the_blue_with_an_urbach_tail() -> None:
    wavelengths = np.linspace(400e-9, 1100e-9, 71)
    r = np.array([responsivity(w, OPTO) for w in wavelengths])
    assert np.all(r > 0)  # never an abrupt zero inside the visible or near-infrared
    assert np.all(np.diff(r) < 0)  # rises towards the blue
    assert responsivity(LASER_M, OPTO) == pytest.approx(1.0)
    assert responsivity(450e-9, OPTO) > 10 * responsivity(LASER_M, OPTO)
    # Below the gap the tail is exponential in photon energy with slope 1 / E_U (thin film).
    e = PLANCK_EV_M / np.array([800e-9, 900e-9])
    slope = math.log(responsivity(800e-9, OPTO) / responsivity(900e-9, OPTO)) / (e[0] - e[1])
    assert slope == pytest.approx(1 / OPTO["urbach_energy_ev"], rel=0.05)
    # The photoconductance follows it: shorter wavelengths excite more at the same power.
    g = []
    for w in (450e-9, LASER_M, 850e-9):
        chip = Chip(1, 1, family="optomemristor", seed=1)
        chip.set_light(1e-4, w)
        chip.clock.sleep(1.0)
        g.append(chip.device_state(0, 0)["G_ph"])
    assert g[0] > g[1] > g[2] > 0


def test_wear_and_drift_restart_scale_with_the_change() -> None:
    chip = Chip(1, 2, family="prgo", seed=4, overrides={**CLEAN, "sigma_read": 0.0})
    chip.pulse(0, 0, 2.0, 80e-9)  # a full reference pulse: about a_plus of the window
    chip.pulse(0, 1, 1.05, 1e-11)  # barely above threshold: almost nothing changes
    full, tiny = chip.device_state(0, 0), chip.device_state(0, 1)
    dg_full = OPTO["dg_full_fraction"] * (full["g_max_s"] - full["g_min_s"])
    assert full["pulses"] == pytest.approx(min((full["G"] - full["g_min_s"]) / dg_full, 1.0))
    expected_tiny = (tiny["G"] - tiny["g_min_s"]) / (0.01 * (tiny["g_max_s"] - tiny["g_min_s"]))
    assert tiny["pulses"] == pytest.approx(expected_tiny, rel=1e-3)
    assert 0 < tiny["pulses"] < 1e-3
