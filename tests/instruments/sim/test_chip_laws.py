"""Each law of the chip model has a scalar and an array form: they must agree everywhere."""

from __future__ import annotations

import math

import numpy as np
import pytest

from memlab.instruments.sim.chip import PRESETS, laws
from memlab.instruments.sim.chip.optics import (
    LightField, responsivity, responsivity_array,
)

RNG = np.random.default_rng(7)


def test_read_iv_forms_agree() -> None:
    v = np.concatenate([RNG.uniform(-3, 3, 200), [0.0, 1e4, -1e4]])
    for v0 in (0.3, 1.0):
        np.testing.assert_allclose(laws.read_iv_array(v, v0), [laws.read_iv(x, v0) for x in v],
                                   rtol=1e-12)


def test_switching_rate_forms_agree() -> None:
    absv = RNG.uniform(0, 4, 100)
    width = RNG.uniform(1e-9, 1e-3, 100)
    sinh_ref = math.sinh(2.0 / 0.25)
    scalar = [laws.switching_rate(a, w, 0.25, sinh_ref, 80e-9, 0.5) for a, w in zip(absv, width)]
    np.testing.assert_allclose(laws.switching_rate_array(absv, width, 0.25, sinh_ref, 80e-9, 0.5),
                               scalar, rtol=1e-12)


@pytest.mark.parametrize("power_law", [True, False])
def test_drift_forms_agree_and_undrift_inverts_drift(power_law: bool) -> None:
    g = RNG.uniform(1e-6, 1e-5, 50).astype(np.float32)
    nu = (RNG.uniform(0, 0.1, 50) if power_law else RNG.uniform(-1e-7, 0, 50)).astype(np.float32)
    tprog = RNG.uniform(0, 1e4, 50)
    t = 2e4
    scalar = [laws.drifted(float(a), float(b), t - c, 1.0, power_law) for a, b, c in zip(g, nu, tprog)]
    np.testing.assert_allclose(laws.drifted_array(g, nu, t, tprog, 1.0, power_law), scalar, rtol=1e-5)
    back = laws.undrifted_array(np.array(scalar), nu.astype(np.float64), t - tprog, 1.0, power_law)
    np.testing.assert_allclose(back, g, rtol=1e-6)
    assert [laws.undrifted(s, float(b), t - c, 1.0, power_law)
            for s, b, c in zip(scalar, nu, tprog)] == pytest.approx(back.tolist(), rel=1e-12)


def test_wear_window_forms_agree() -> None:
    pulses = np.concatenate([[0.0], RNG.uniform(0, 3e3, 50)])
    lo, hi = laws.wear_window_array(1e-6, 1e-5, pulses, 1e3, 2.0, 0.5)
    for k, n in enumerate(pulses):
        assert (lo[k], hi[k]) == pytest.approx(laws.wear_window(1e-6, 1e-5, n, 1e3, 2.0, 0.5),
                                               rel=1e-12)


def test_effective_fraction_forms_agree() -> None:
    dg = RNG.normal(0, 1e-7, 100)
    inv = 1.0 / (0.01 * 9e-6)
    np.testing.assert_allclose(laws.effective_fraction_array(dg.copy(), inv),
                               [laws.effective_fraction(x, inv) for x in dg], rtol=1e-12)


def test_responsivity_forms_agree() -> None:
    p = PRESETS["optomemristor"]
    w = np.linspace(350e-9, 1500e-9, 60)
    np.testing.assert_allclose(responsivity_array(w, p), [responsivity(x, p) for x in w], rtol=1e-12)


def test_light_field_scalar_and_array_forms_agree() -> None:
    p = PRESETS["optomemristor"]
    field = LightField((2, 3), p, 0.0)
    field.set((slice(0, 1), slice(None)), 1e-3, 635e-9, 0.0)
    field.set((slice(0, 1), slice(0, 2)), 0.0, 635e-9, 0.02)
    field.set((slice(1, 2), slice(1, 3)), 3e-4, 532e-9, 0.03)
    everything = (slice(None), slice(None))
    for t in (0.0, 0.021, 0.05, 0.5, 3.0):
        g = field.g_ph(everything, t)
        s = field.shunt(everything, t)
        tr = field.trace(everything, t)
        for i in range(2):
            for j in range(3):
                assert field.g_ph_scalar(i, j, t) == pytest.approx(g[i, j], rel=1e-6, abs=1e-18)
                assert field.shunt_scalar(i, j, t) == pytest.approx(s[i, j], rel=1e-6)
                assert field.trace_scalar(i, j, t) == pytest.approx(tr[i, j], rel=1e-5, abs=1e-12)
