"""Fits of the chip model's voltage laws to run data (docs/twin.md):

- :func:`fit_read_nonlinearity`: ``v0_read_v`` from an I-V sweep's points below the switching
  threshold, where the device does not change: ``I = g V0 sinh(V / V0)`` with one g per stretch
  of sub-threshold points and V0 shared;
- :func:`fit_switching`: ``v0_switch_v`` and ``width_exponent`` from pulsed-iv runs over an
  amplitude x width grid: each read after a pulse follows the soft-bounds step
  ``G' = B + (G - B)(1 - a phi(V, t_w))^n`` with ``phi = sinh(V/V0)/sinh(V_ref/V0) (t_w/t_ref)^beta``
  above the device's threshold and 0 below it.

Both are Levenberg-Marquardt fits (the analysis package's numpy-only solver; scipy is not a
dependency), their covariance scaled by the reduced chi-square.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# the analysis package's solver, reused rather than written again
from memlab.analysis.metrics.optical import _least_squares

__all__ = ["LawFit", "PulsedSequence", "fit_read_nonlinearity", "fit_switching"]

MAX_RELATIVE_SE = 0.5  # beyond this a fitted value is reported as not determined
MIN_CHANGE = 0.05  # a run that moves the device less than this (relative) did not switch it


@dataclass(frozen=True)
class LawFit:
    """One fitted law parameter: value and standard error (NaN with ``reason`` if not determined)."""

    value: float
    stderr: float
    n: int
    reason: str = ""

    @property
    def determined(self) -> bool:
        return math.isfinite(self.value) and math.isfinite(self.stderr) and not self.reason


def _undetermined(reason: str, n: int) -> LawFit:
    return LawFit(math.nan, math.nan, n, reason)


def _log_param(q: np.ndarray, cov: np.ndarray, k: int, n: int, what: str) -> LawFit:
    value = math.exp(min(q[k], 700.0))
    var = cov[k, k]
    if not (math.isfinite(var) and var >= 0):
        return _undetermined(f"the fit does not constrain {what} (singular)", n)
    se = value * math.sqrt(var)
    if se > MAX_RELATIVE_SE * value:
        return _undetermined(f"{what} not constrained (relative standard error {se / value:.0%})", n)
    return LawFit(value, se, n)


def fit_read_nonlinearity(voltage_v: np.ndarray, current_a: np.ndarray, v_limit: float,
                          v_min: float = 0.05) -> LawFit:
    """V0 of ``I = g V0 sinh(V / V0)`` from the points with ``v_min <= |V| < v_limit``.

    Consecutive such points form one stretch of one conductance (nothing programs the device
    below its threshold, ``v_limit`` being safely under it); each stretch gets its own g. The
    residuals are relative (read noise is a fraction of the current); points under ``v_min``
    carry too little current to weigh."""
    v = np.asarray(voltage_v, float)
    i = np.asarray(current_a, float)
    quiet = np.isfinite(v) & np.isfinite(i) & (np.abs(v) < v_limit)
    # a stretch ends where the sweep leaves the quiet range
    stretch = np.cumsum(np.concatenate(([0], (quiet[1:] != quiet[:-1]).astype(int))))
    use = quiet & (np.abs(v) >= v_min) & (i * v > 0)
    if np.count_nonzero(use) < 8:
        return _undetermined(f"{np.count_nonzero(use)} points below {v_limit:.3g} V (8 needed)", int(use.sum()))
    v, i, stretch = v[use], i[use], stretch[use]
    ids, seg = np.unique(stretch, return_inverse=True)
    # a stretch needs points on both sides of 0 or a range of |V| to separate g from V0: keep all,
    # the joint fit shares V0
    weight = 1.0 / np.abs(i)
    n = int(v.size)

    def model(_x: np.ndarray, q: np.ndarray) -> np.ndarray:
        v0 = math.exp(min(max(q[0], -50.0), 50.0))
        g = np.exp(np.clip(q[1:], -700, 700))[seg]
        return g * v0 * np.sinh(np.clip(v / v0, -700, 700)) * weight

    g0 = np.array([np.median(i[seg == k] / v[seg == k]) for k in range(ids.size)])
    best = None
    for v0 in (0.3, 1.0, 3.0):
        q, cov, rss = _least_squares(model, np.concatenate(([math.log(v0)], np.log(np.abs(g0)))), np.arange(n),
                                     i * weight)
        if best is None or rss < best[2]:
            best = (q, cov, rss)
    q, cov, _ = best
    if n - q.size < 3:
        return _undetermined("too few points for the stretches' conductances and V0", n)
    return _log_param(q, cov, 0, n, "v0_read_v")


@dataclass
class PulsedSequence:
    """One pulsed-iv run: reads after each amplitude step (``g`` as read, in siemens)."""

    polarity: int
    width_s: float
    amplitude_v: np.ndarray
    g: np.ndarray
    pulses: int
    reads: int
    source: int


@dataclass(frozen=True)
class SwitchingFit:
    v0_switch_v: LawFit
    width_exponent: LawFit
    threshold_v: float
    """the threshold of the best fit: the smallest |amplitude| that moved the device"""


def fit_switching(seqs: list[PulsedSequence], *, v_ref_v: float, t_ref_s: float, sigma_read: float,
                  sigma_c2c: float, beta_preset: float) -> SwitchingFit:
    """V0 and beta of one device from its pulsed-iv runs (see the module docstring).

    Unknowns: ln a+ and ln a- (per polarity present), ln V0, beta (only with two widths or more,
    else the preset's), the bounds ln Gmax / ln Gmin. The threshold enters as which steps move
    the device: every distinct |amplitude| is tried as the threshold and the fit with the least
    chi-square is kept (the step law is flat in the threshold between amplitudes)."""
    pairs = []
    # a polarity whose runs never moved the device (a RESET run from Gmin) says nothing about its
    # step size or bound, and would leave the fit singular
    moved = {p: any(np.ptp(s.g[np.isfinite(s.g)]) > MIN_CHANGE * np.nanmedian(s.g)
                    for s in seqs if s.polarity == p and np.isfinite(s.g).sum() >= 2) for p in (1, -1)}
    for s in seqs:
        if not moved[s.polarity]:
            continue
        g = np.asarray(s.g, float)
        amp = np.abs(np.asarray(s.amplitude_v, float))
        ok = np.isfinite(g[:-1]) & np.isfinite(g[1:]) & (g[:-1] > 0)
        for k in np.flatnonzero(ok):
            pairs.append((s.polarity, s.width_s, amp[k + 1], g[k], g[k + 1], s.pulses, s.reads))
    n = len(pairs)
    widths = {p[1] for p in pairs}
    fit_beta = len(widths) >= 2
    no_beta = _undetermined("one pulse width: beta needs pulsed-iv runs at two widths or more", n)
    if n < 8:
        reason = f"{n} amplitude steps (8 needed)"
        return SwitchingFit(_undetermined(reason, n), _undetermined(reason, n), math.nan)
    pol, width, amp, g0, g1, count, reads = (np.array(x, float) for x in zip(*pairs))
    polarities = [p for p in (1, -1) if np.any(pol == p)]
    # parameter layout: ln V0, beta?, then per polarity: ln a, ln bound
    k_beta = 1 if fit_beta else None
    first = 2 if fit_beta else 1
    index = {p: (first + 2 * m, first + 2 * m + 1) for m, p in enumerate(polarities)}

    def predict(q: np.ndarray, vth: float) -> tuple[np.ndarray, np.ndarray]:
        v0 = math.exp(min(max(q[0], -50.0), 50.0))  # a trial step may stray far: no overflow
        beta = q[k_beta] if fit_beta else beta_preset
        phi = (np.sinh(np.minimum(amp / v0, 700)) / math.sinh(min(v_ref_v / v0, 700))
               * (width / t_ref_s) ** beta)
        phi = np.where(amp >= vth, phi, 0.0)
        a = np.empty(n)
        bound = np.empty(n)
        for p, (ka, kb) in index.items():
            sel = pol == p
            a[sel] = math.exp(min(q[ka], 50.0))
            bound[sel] = math.exp(min(q[kb], 50.0))
        keep = (1.0 - np.minimum(a * phi, 1.0)) ** count
        return bound + (g0 - bound) * keep, keep

    def sigma(pred: np.ndarray, keep: np.ndarray) -> np.ndarray:
        read = sigma_read ** 2 * (g1 ** 2 + (keep * g0) ** 2) / reads
        return np.sqrt(read + sigma_c2c ** 2 * (pred - g0) ** 2 / count)

    q0 = [math.log(0.3)] + ([beta_preset] if fit_beta else [])
    for p in polarities:
        sel = pol == p
        edge = float(np.max(g1[sel])) if p > 0 else float(np.min(g1[sel]))
        q0 += [math.log(0.03), math.log(edge * (1.05 if p > 0 else 0.95))]
    q0 = np.array(q0)
    candidates = np.unique(amp)
    best = None
    for vth in candidates:
        s0 = sigma(*predict(q0, vth))
        # weights fixed per candidate from the start values, refreshed once after a first fit
        for _ in range(2):
            w = 1.0 / np.maximum(s0, 1e-30)

            def model(_x: np.ndarray, q: np.ndarray, w: np.ndarray = w, vth: float = vth) -> np.ndarray:
                return predict(q, vth)[0] * w
            q, cov, rss = _least_squares(model, q0.copy(), np.arange(n), g1 * w)
            s0 = sigma(*predict(q, vth))
        chi2 = float(np.sum(((g1 - predict(q, vth)[0]) / s0) ** 2))
        if best is None or chi2 < best[0]:
            best = (chi2, q, cov, float(vth))
    _, q, cov, vth = best
    v0 = _log_param(q, cov, 0, n, "v0_switch_v")
    if fit_beta:
        var = cov[k_beta, k_beta]
        se = math.sqrt(var) if math.isfinite(var) and var >= 0 else math.nan
        beta = LawFit(float(q[k_beta]), se, n) if math.isfinite(se) and se < 1.0 else \
            _undetermined("the fit does not constrain width_exponent", n)
    else:
        beta = no_beta
    return SwitchingFit(v0, beta, vth)
