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
    for v0 in (1.0, 0.3, 3.0):  # further starts only when the first fails (one fit per sweep of a night)
        q, cov, rss = _least_squares(model, np.concatenate(([math.log(v0)], np.log(np.abs(g0)))), np.arange(n),
                                     i * weight)
        if best is None or rss < best[2]:
            best = (q, cov, rss)
        if np.isfinite(best[1][0, 0]) and best[1][0, 0] < 0.25:  # V0 within ~50 %: converged near it
            break
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


@dataclass(frozen=True)
class WearFit:
    """The wear law fitted to one endurance run's window over cycles."""

    wear_exponent: LawFit
    endurance_cycles: LawFit
    wear_center: LawFit
    """where the window closes, as a fraction of the unworn RESET..SET span"""
    levels_s: tuple[float, float]
    """the fitted SET and RESET levels before any wear (C + A_set, C + A_reset)"""


def fit_wear(cycle: np.ndarray, g_set: np.ndarray, g_reset: np.ndarray, *, sigma_read: float,
             reads: int) -> WearFit:
    """p, n_end and C of the model's wear law from an endurance run's sampled cycles.

    The window closes as ``w(n) = 1 - min(n / n_end, 1)^p`` towards C, the edges as
    ``C + (edge - C) w``; a SET / RESET pair alternating between them settles at levels that are
    fixed mixtures of the edges, so each read level is ``C + A w(n)`` too (A_set, A_reset free).
    Not determined when the window did not close to half its start, or n_end lies beyond ten
    times the cycles run."""
    n_cyc = np.asarray(cycle, float)
    gs = np.asarray(g_set, float)
    gr = np.asarray(g_reset, float)
    ok = np.isfinite(n_cyc) & np.isfinite(gs) & np.isfinite(gr) & (n_cyc > 0)
    n_cyc, gs, gr = n_cyc[ok], gs[ok], gr[ok]
    n = int(n_cyc.size)

    def undetermined(reason: str) -> WearFit:
        u = _undetermined(reason, n)
        return WearFit(u, u, u, (math.nan, math.nan))
    if n < 8:
        return undetermined(f"{n} sampled cycles (8 needed)")
    window = gs - gr
    start = float(np.median(window[: max(3, n // 10)]))
    if not start > 0 or float(np.min(window)) > 0.5 * start:
        return undetermined("the window did not close to half its start: the wear law's shape is not in the data")
    x = np.concatenate((n_cyc, n_cyc))
    y = np.concatenate((gs, gr))
    w_inv = 1.0 / (sigma_read * np.abs(y) / math.sqrt(max(reads, 1)) + 1e-30)
    first = np.arange(x.size) < n

    def model(_x: np.ndarray, q: np.ndarray) -> np.ndarray:
        n_end, p = math.exp(min(q[3], 700.0)), math.exp(min(max(q[4], -50.0), 50.0))
        wear = 1.0 - np.minimum(x / n_end, 1.0) ** p
        return (q[0] + np.where(first, q[1], q[2]) * wear) * w_inv

    centre0 = float(np.mean((gs + gr)[-max(2, n // 10):]) / 2)
    closed = np.flatnonzero(window < 0.1 * start)
    n_end0 = float(n_cyc[closed[0]]) if closed.size else 2 * float(n_cyc.max())
    best = None
    for p0 in (0.7, 1.5, 3.0):
        q0 = np.array([centre0, float(np.median(gs[:3])) - centre0, float(np.median(gr[:3])) - centre0,
                       math.log(n_end0), math.log(p0)])
        q, cov, rss = _least_squares(model, q0, x, y * w_inv)
        if best is None or rss < best[2]:
            best = (q, cov, rss)
    q, cov, _ = best
    p = _log_param(q, cov, 4, n, "wear_exponent")
    n_end = _log_param(q, cov, 3, n, "endurance_cycles")
    if n_end.determined and n_end.value > 10 * float(n_cyc.max()):
        n_end = _undetermined(f"n_end {n_end.value:.3g} lies beyond ten times the {n_cyc.max():.0f} cycles run", n)
    # where the window ends as a fraction of the unworn levels' span: A_reset / (A_reset - A_set)
    # (the levels are the window's edges when the run's pulses saturate, as its defaults do)
    a_s, a_r = float(q[1]), float(q[2])
    grad = np.array([a_r, -a_s]) / (a_r - a_s) ** 2
    var = float(grad @ cov[1:3, 1:3] @ grad)
    centre = LawFit(a_r / (a_r - a_s), math.sqrt(var), n) if math.isfinite(var) and var >= 0 and a_s > a_r else \
        _undetermined("the fit does not constrain where the window closes (singular)", n)
    return WearFit(p, n_end, centre, (float(q[0] + q[1]), float(q[0] + q[2])))
