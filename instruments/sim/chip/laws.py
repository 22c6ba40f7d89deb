"""The electrical laws of one device, each with its scalar form (Python floats, for the
single-device hot paths) and its array form (numpy, for lines and whole arrays) side by side.

tests/instruments/sim/test_chip_laws.py checks that each pair agrees. The optical laws
(photoconductance, shunting, spectral response, eligibility) live in ``optics.py``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "SINH_CLIP", "read_iv", "read_iv_array", "switching_rate", "switching_rate_array",
    "drifted", "drifted_array", "undrifted", "undrifted_array", "wear_window", "wear_window_array",
    "effective_fraction", "effective_fraction_array",
]

SINH_CLIP = 700.0  # sinh(700) ~ 5e303: beyond it a float64 overflows


# -- read I-V: I = G V0 sinh(V / V0) ---------------------------------------------------------

def read_iv(v: float, v0: float) -> float:
    """f(V) = V0 sinh(V / V0): the read current per siemens (A/S)."""
    x = max(min(v / v0, SINH_CLIP), -SINH_CLIP)
    return v0 * math.sinh(x)


def read_iv_array(v: Any, v0: float) -> np.ndarray:
    return v0 * np.sinh(np.clip(np.asarray(v, np.float64) / v0, -SINH_CLIP, SINH_CLIP))


# -- switching rate: phi = sinh(|V| / V0) / sinh(V_ref / V0) (t_w / t_ref)^beta ---------------

def switching_rate(absv: float, width_s: float, v0: float, sinh_ref: float, t_ref_s: float,
                   beta: float) -> float:
    """Switching rate relative to the reference pulse (the caller applies the threshold)."""
    x = min(absv / v0, SINH_CLIP)
    return math.sinh(x) / sinh_ref * (width_s / t_ref_s) ** beta


def switching_rate_array(absv: Any, width_s: Any, v0: float, sinh_ref: float, t_ref_s: float,
                         beta: float) -> np.ndarray:
    x = np.minimum(np.asarray(absv, np.float64) / v0, SINH_CLIP)
    return np.sinh(x) / sinh_ref * (np.asarray(width_s) / t_ref_s) ** beta


# -- drift after programming: G0 (age / t0)^-nu ("power") or G0 + nu ln(age / t0) ("log") -----

def drifted(g: float, nu: float, age_s: float, t0_s: float, power_law: bool) -> float:
    """Conductance ``age_s`` after programming to ``g`` (no drift before ``t0_s``)."""
    if nu == 0.0 or age_s <= t0_s:
        return g
    if power_law:
        return g * (age_s / t0_s) ** (-nu)
    return max(g + nu * math.log(age_s / t0_s), 0.0)


def drifted_array(g: np.ndarray, nu: np.ndarray, t: float, tprog: np.ndarray, t0_s: float,
                  power_law: bool) -> np.ndarray:
    """Drifted conductance of arrays at time ``t`` (float32; ages taken in float64)."""
    lnt = np.empty(np.shape(tprog), np.float32)
    np.subtract(t, tprog, out=lnt, casting="same_kind")
    np.maximum(lnt, np.float32(t0_s), out=lnt)
    np.log(lnt, out=lnt)
    lnt -= np.float32(math.log(t0_s))
    if power_law:
        np.multiply(lnt, nu, out=lnt)
        np.negative(lnt, out=lnt)
        np.exp(lnt, out=lnt)
        return np.multiply(lnt, g, out=lnt)
    np.multiply(lnt, nu, out=lnt)
    lnt += g
    return np.maximum(lnt, np.float32(0.0), out=lnt)


def undrifted(g_now: float, nu: float, age_s: float, t0_s: float, power_law: bool) -> float:
    """The inverse of :func:`drifted`: the programmed value that has drifted to ``g_now`` at
    ``age_s``. Used when a small change restarts the drift clock only partly."""
    if nu == 0.0 or age_s <= t0_s:
        return g_now
    if power_law:
        return g_now * (age_s / t0_s) ** nu
    return g_now - nu * math.log(age_s / t0_s)


def undrifted_array(g_now: np.ndarray, nu: np.ndarray, age_s: np.ndarray, t0_s: float,
                    power_law: bool) -> np.ndarray:
    lnt = np.log(np.maximum(np.asarray(age_s, np.float64), t0_s) / t0_s)
    if power_law:
        return g_now * np.exp(nu * lnt)
    return g_now - nu * lnt


# -- what counts as a real change: drift restart and wear scale with |dG| ---------------------

def effective_fraction(dg: float, inv_dg_full: float) -> float:
    """How much of one full programming event a change ``dg`` is: |dg| / dg_full, at most 1.

    A pulse that moves G by at least ``dg_full`` restarts the drift clock and wears the device by
    one pulse; an ineffective pulse (a dark pulse on an optomemristor) does proportionally less.
    """
    return min(abs(dg) * inv_dg_full, 1.0)


def effective_fraction_array(dg: np.ndarray, inv_dg_full: Any) -> np.ndarray:
    out = np.abs(dg, dtype=np.float32) if np.asarray(dg).dtype == np.float32 else np.abs(dg)
    np.multiply(out, inv_dg_full, out=out, casting="unsafe")
    return np.minimum(out, 1.0, out=out)


# -- wear: the window closes towards a centre as pulses accumulate ----------------------------

def wear_window(gmin: float, gmax: float, pulses: float, n_end: float, p: float,
                centre: float) -> tuple[float, float]:
    """The (narrowed) conductance window after ``pulses`` pulse-equivalents of wear:
    window(n) = 1 - (n / (2 n_end))^p of the full one, closing towards ``centre``."""
    if pulses == 0:
        return gmin, gmax
    frac = min(0.5 * pulses / n_end, 1.0)
    w = 1.0 - frac ** p
    if w >= 1.0:
        return gmin, gmax
    c = gmin + centre * (gmax - gmin)
    return c - (c - gmin) * w, c + (gmax - c) * w


def wear_window_array(gmin: Any, gmax: Any, pulses: Any, n_end: Any, p: float,
                      centre: float) -> tuple[np.ndarray, np.ndarray]:
    frac = np.minimum(0.5 * np.asarray(pulses, np.float64) / n_end, 1.0)
    w = 1.0 - frac ** p
    c = gmin + centre * (np.asarray(gmax) - gmin)
    return c - (c - gmin) * w, c + (gmax - c) * w
