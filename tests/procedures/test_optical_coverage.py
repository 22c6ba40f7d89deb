"""Coverage of the optical figures' reported uncertainties over random device parameters: the
95 % intervals of the step-response time constants and of the photo-response law (gamma, k and
the photoconductance at a power) must hold the chip's own values in about 95 % of draws (at least 85 % here, over 40 draws), so that too-narrow
intervals fail the test."""

from __future__ import annotations

import numpy as np

from memlab.analysis.metrics.optical import photoresponse_law, step_response
from memlab.instruments.sim.chip import Chip

LASER_M = 635e-9
V = 0.2


def chord(chip: Chip) -> float:
    return chip.read(0, 0, V) / V


def step_run(chip: Chip, power_w: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A step response read on the chip directly: dark reads, light on 0.4 s, off 6 s."""
    t0 = chip.clock.now()
    times, values, lit = [], [], []
    for t in (-1.0, -0.6, -0.2):
        chip.clock.advance(t0 + 1.0 + t - chip.clock.now())
        times.append(t), values.append(chord(chip)), lit.append(0)
    on = chip.clock.now() + 0.2
    chip.clock.advance(on - chip.clock.now())
    chip.set_light(power_w, LASER_M)
    for t in np.linspace(0.004, 0.4, 60):
        chip.clock.advance(on + t - chip.clock.now())
        times.append(t), values.append(chord(chip)), lit.append(1)
    chip.set_light(0.0, LASER_M)
    for t in 0.4 + np.geomspace(1e-3, 6.0, 60):
        chip.clock.advance(on + t - chip.clock.now())
        times.append(t), values.append(chord(chip)), lit.append(0)
    return np.array(times), np.array(values), np.array(lit)


def covered(estimate, truth) -> bool:
    lo, hi = estimate.ci95()
    return estimate.determined and lo <= truth <= hi


def test_step_response_intervals_cover_the_truth():
    rng = np.random.default_rng(2026)
    hits = {"decay": 0, "shunt_fall": 0, "rise": 0}
    draws = 40
    for k in range(draws):
        truth = {"tau_ph_s": rng.uniform(0.5, 2.0), "tau_shunt_off_s": rng.uniform(0.02, 0.1),
                 "tau_on_s": rng.uniform(0.03, 0.08), "tau_shunt_on_s": rng.uniform(0.005, 0.015),
                 "gamma_ph": rng.uniform(0.4, 0.8), "k_shunt_per_w": rng.uniform(300, 2000)}
        chip = Chip(1, 1, family="optomemristor", seed=k,
                    overrides={"stuck_fraction": 0.0, "drift_nu": 0.0, "sigma_drift_nu": 0.0, **truth})
        result = step_response(*step_run(chip, 1e-3))
        hits["decay"] += covered(result.decay_s, truth["tau_ph_s"])
        hits["shunt_fall"] += covered(result.shunt_fall_s, truth["tau_shunt_off_s"])
        hits["rise"] += covered(result.rise_s, truth["tau_on_s"])
    for name, count in hits.items():
        assert count >= 0.85 * draws, (name, count)


def test_photoresponse_law_intervals_cover_the_truth():
    rng = np.random.default_rng(7)
    powers = np.array([1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2])
    hits = {"gamma": 0, "k": 0, "photoconductance": 0}
    draws = 40
    for k in range(draws):
        gamma, k_shunt, g_ref = rng.uniform(0.35, 0.8), rng.uniform(300, 3000), rng.uniform(1e-6, 2e-5)
        chip = Chip(1, 1, family="optomemristor", seed=100 + k,
                    overrides={"stuck_fraction": 0.0, "drift_nu": 0.0, "sigma_drift_nu": 0.0,
                               "gamma_ph": gamma, "k_shunt_per_w": k_shunt, "g_ph_ref_s": g_ref})
        rise, dark = [], []
        for p in powers:
            chip.clock.advance(20.0)
            g_dark = np.mean([chord(chip) for _ in range(10)])
            chip.set_light(p, LASER_M)
            chip.clock.advance(0.5)
            g_lit = np.mean([chord(chip) for _ in range(10)])
            chip.set_light(0.0, LASER_M)
            rise.append(g_lit - g_dark), dark.append(g_dark)
        fit = photoresponse_law(powers, rise, dark)
        hits["gamma"] += covered(fit.gamma, gamma)
        hits["k"] += covered(fit.k_shunt_per_w, k_shunt)
        # at 635 nm (the reference wavelength) the absorbed power is the set one: a P^gamma at
        # p_ref is g_ph_ref, read through the read I-V's factor V0 sinh(V / V0) / V
        v0 = chip.params["v0_read_v"]
        factor = v0 * np.sinh(V / v0) / V
        hits["photoconductance"] += covered(fit.photoconductance_at(chip.params["p_ref_w"]), g_ref * factor)
    for name, count in hits.items():
        assert count >= 0.85 * draws, (name, count)
