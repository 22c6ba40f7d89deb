"""Figures of merit of optomemristor runs: photo-response, time constants, three-factor plasticity.

With uncertainties (each an :class:`Estimate`: value, standard error, points, quality flag, or
"not determined" with the reason):

- **Photo-response** :func:`photoresponse_law`: the combined law ``(G + a P^gamma) / (1 + k P) - G``
  (photoconductance divided by shunting), which recovers gamma from non-monotone data where a
  plain power law cannot; with each dark read's residual photoconductance from the previous light
  in the law (:func:`photoresponse_law_after_waits`, the decay time from the same run);
- **Step response** :func:`step_response`: rise and decay time constants of the photoconductance
  and of the shunting, from a continuous-illumination step (the decay's asymptote fitted below the
  dark reads before the light, which hold what the previous light left);
- **Coincidence window** :func:`coincidence_window`: both orders of three-factor plasticity;
  :func:`eligibility_soft_bound`: the light-then-pulse side through the step law's soft bound
  (unbiased by its saturation; needs trials of two train sizes);
- **XOR** :func:`xor_figures`: accuracy (binomial standard error) and class margin.
- **Spectral response** :func:`spectral_edge`: mean rise at each wavelength, and the absorption
  edge (band gap, Urbach energy, alpha_g d) fitted jointly with the photo-response law; with each
  dark read's residual photoconductance from the previous light (wavelength) in the fit
  (:func:`spectral_edge_after_waits`, the decay time from the same run).

Earlier figures without uncertainties (kept for the summary table):

- **Photo-response exponent**: ``dG_ph = k P^gamma`` fitted in log-log over the powers applied
  (biased wherever shunting matters: use :func:`photoresponse_law`).
- **Rise / decay time constants**: an exponential ``G(t) = G_inf + (G_0 - G_inf) exp(-t/tau)``
  fitted to each illuminated stretch (rise, tau_on) and each dark stretch after it (decay,
  tau_ph); the median over stretches is reported.
- **Eligibility window** (three-factor): the weight change caused by an electrical pulse
  arriving ``delay`` after the light, ``delta(delay) = baseline + amplitude exp(-delay/tau_e)``;
  the baseline is the mean change without light when such trials exist (else it is fitted).
- **Gating ratio**: mean |change| with light over mean |change| without (``inf`` if the
  device does not change at all without light).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from memlab.analysis.metrics.fom import FigureOfMerit
from memlab.analysis.fitting import ExpFit, PowerLawFit, as_1d, fit_exponential, power_law_fit, same_length

__all__ = [
    "photoresponse_exponent", "TimeConstants", "rise_decay_time_constants", "decay_time_constant",
    "eligibility_time_constant", "gating_ratio", "ThreeFactorResult", "three_factor",
    "Estimate", "not_determined", "PhotoResponseFit", "photoresponse_law", "StepResponse", "step_response",
    "CoincidenceWindow", "coincidence_window", "XorFigures", "xor_figures", "RelaxationFit", "relaxation_fit",
    "absorbed_fraction", "SpectralPoint", "SpectralEdge", "spectral_points", "spectral_edge",
    "spectral_edge_after_waits",
    "eligibility_soft_bound", "photoresponse_law_after_waits", "MAX_RESIDUAL_FRACTION",
]


def photoresponse_exponent(power_w: object, photoconductance_s: object) -> PowerLawFit:
    """gamma and k of ``photoconductance = k * power^gamma`` (positive values only)."""
    p = as_1d("power_w", power_w, min_size=2)
    g = as_1d("photoconductance_s", photoconductance_s, min_size=2)
    same_length(power_w=p, photoconductance_s=g)
    if np.count_nonzero(np.isfinite(p) & (p > 0)) < 2 or np.unique(p[p > 0]).size < 2:
        raise ValueError("power_w: the photo-response exponent needs at least two distinct powers > 0 W")
    return power_law_fit(p, g)


@dataclass(frozen=True)
class TimeConstants:
    rise_s: float
    """Median rise time constant under light [s] (NaN if no illuminated stretch had 3 reads)."""
    decay_s: float
    """Median decay time constant in the dark after light [s]."""
    rises: int
    decays: int


def _segments(lit: np.ndarray) -> list[tuple[bool, np.ndarray]]:
    change = np.flatnonzero(np.diff(lit.astype(int)) != 0) + 1
    bounds = np.concatenate(([0], change, [len(lit)]))
    return [(bool(lit[a]), np.arange(a, b)) for a, b in zip(bounds[:-1], bounds[1:])]


def rise_decay_time_constants(time_s: object, conductance_s: object, power_w: object,
                              *, min_points: int = 4) -> TimeConstants:
    """Rise and decay time constants from reads taken during and after light pulses.

    :param time_s: read times [s] (increasing).
    :param conductance_s: conductance at each read [S].
    :param power_w: optical power on the device at each read [W] (0 in the dark).
    :param min_points: reads a stretch needs to be fitted.
    """
    t = as_1d("time_s", time_s, min_size=3)
    g = as_1d("conductance_s", conductance_s, min_size=3)
    p = as_1d("power_w", power_w, min_size=3)
    same_length(time_s=t, conductance_s=g, power_w=p)
    if min_points < 3:
        raise ValueError(f"min_points={min_points!r}: an exponential needs at least 3 reads")
    rises, decays = [], []
    seen_light = False
    for lit, idx in _segments(p > 0):
        if lit:
            seen_light = True
        if len(idx) < min_points or (not lit and not seen_light):
            continue  # too short, or dark before any light (no decay to see)
        fit = fit_exponential(t[idx], g[idx])
        if not fit.at_bound:
            (rises if lit else decays).append(fit.tau)
    return TimeConstants(float(np.median(rises)) if rises else math.nan,
                         float(np.median(decays)) if decays else math.nan, len(rises), len(decays))


def decay_time_constant(time_s: object, conductance_s: object) -> ExpFit:
    """Exponential relaxation after a stimulus (a ``relaxation`` run's ``decay`` stream)."""
    t = as_1d("time_s", time_s, min_size=3)
    g = as_1d("conductance_s", conductance_s, min_size=3)
    same_length(time_s=t, conductance_s=g)
    return fit_exponential(t, g)


def eligibility_time_constant(delay_s: object, delta_s: object) -> ExpFit:
    """tau_e of ``delta = baseline + amplitude exp(-delay / tau_e)`` over trials with light.

    :param delay_s: light-to-pulse delay of each trial [s]; NaN for trials without light.
    :param delta_s: conductance change of each trial [S].
    """
    d = as_1d("delay_s", delay_s, min_size=3)
    y = as_1d("delta_s", delta_s, min_size=3)
    same_length(delay_s=d, delta_s=y)
    dark = np.isnan(d) & np.isfinite(y)
    lit = np.isfinite(d) & (d >= 0) & np.isfinite(y)
    if np.unique(d[lit]).size < 3:
        raise ValueError("delay_s: the eligibility window needs trials at three or more distinct "
                         "delays >= 0 s after the light")
    # The asymptote is the lit trials' own, not the dark mean: light leaves an offset whatever the
    # delay (photoconductance not yet gone at the second read), which a dark baseline would
    # leave to the decay (a slower window). The dark trials still give the gating ratio.
    return fit_exponential(d[lit], y[lit])


def eligibility_soft_bound(delay_s: object, before_s: object, delta_s: object, pulses: object) -> Estimate:
    """tau_e of the light-then-pulse window through the step law (the trials with delay >= 0).

    Each pulse closes the fraction ``u(delay) = u_0 exp(-delay / tau_e)`` of the gap to the
    bound B, so a train of N: ``delta = (B - before)(1 - (1 - u)^N) + c`` (c: what the light
    leaves whatever the delay, as in :func:`eligibility_time_constant`). Trials of two train
    sizes or more separate the closed fraction from the efficacy, hence B; B, u_0, tau_e and c
    are fitted together. A plain exponential on one size comes out slower than the trace, the
    more so the more of the gap a train closes (:mod:`memlab.procedures.three_factor`).

    :param pulses: pulses in each trial's train (one number for all, or one per trial).
    """
    d = as_1d("delay_s", delay_s, min_size=3)
    g0 = as_1d("before_s", before_s, min_size=3)
    y = as_1d("delta_s", delta_s, min_size=3)
    same_length(delay_s=d, before_s=g0, delta_s=y)
    counts = np.broadcast_to(np.asarray(pulses, np.float64), d.shape).astype(np.float64)
    lit = np.isfinite(d) & (d >= 0) & np.isfinite(g0) & np.isfinite(y) & np.isfinite(counts) & (counts >= 1)
    d, g0, y, counts = d[lit], g0[lit], y[lit], counts[lit]
    n = int(d.size)
    if np.unique(counts).size < 2:
        return not_determined("one train size: the closed fraction of the gap to the bound is not separated from "
                              "the efficacy (the run needs bound_pulses)", n, "s")
    main = counts == np.min(counts)
    if np.unique(d[main]).size < 3 or not np.any(d[main] > 0):
        return not_determined("fewer than three distinct delays >= 0 s (one of them > 0)", n, "s")
    if n < 6:
        return not_determined(f"{n} trials with light first (6 needed for 4 parameters)", n, "s")
    sign = 1.0 if np.mean(y) >= 0 else -1.0
    edge = float(np.max(g0)) if sign > 0 else float(np.min(g0))
    plain = fit_exponential(d[main], y[main])
    tau0 = plain.tau if math.isfinite(plain.tau) and plain.tau > 0 else float(np.max(d)) / 3

    def model(x: np.ndarray, q: np.ndarray) -> np.ndarray:
        bound = edge + sign * math.exp(min(q[0], 300.0))
        u = np.minimum(math.exp(min(q[1], 0.0)) * np.exp(-x / math.exp(min(max(q[2], -300.0), 300.0))),
                       1.0 - 1e-12)
        return (bound - g0) * -np.expm1(counts * np.log1p(-u)) + q[3]

    best = None
    top = float(np.max(np.abs(y)))
    for reach in (1.5, 3.0, 10.0, 30.0):  # the bound that far beyond the largest change
        gap0 = reach * top
        close0 = float(np.max(np.abs(y[main]))) / gap0
        u0 = -math.expm1(math.log1p(-min(close0, 0.99)) / float(np.min(counts)))
        q0 = np.array([math.log(gap0), math.log(max(u0, 1e-12)), math.log(tau0), plain.offset])
        q, cov, rss = _least_squares(model, q0, d, y)
        if best is None or rss < best[2]:
            best = (q, cov, rss)
    q, cov, _ = best
    if not abs(q[2]) < 300.0:  # the model clamps ln tau_e there: the fit ran off (a device without a window)
        return not_determined("the fit does not converge on a time constant (no light-then-pulse window in "
                              "the data)", n, "s")
    return _log_estimate(q, cov, 2, n, "s", n - 4)


def gating_ratio(delta_with_light_s: object, delta_without_light_s: object) -> float:
    """Mean |conductance change| with light over the same without light."""
    on = as_1d("delta_with_light_s", delta_with_light_s)
    off = as_1d("delta_without_light_s", delta_without_light_s)
    num, den = float(np.nanmean(np.abs(on))), float(np.nanmean(np.abs(off)))
    if den == 0:
        return math.inf if num > 0 else math.nan
    return num / den


@dataclass(frozen=True)
class ThreeFactorResult:
    eligibility_s: float
    """tau_e [s] (NaN when the trials do not span three delays)."""
    gating_ratio: float
    """|change| with light at the shortest delay over |change| without light."""
    delta_light_s: float
    delta_dark_s: float
    trials: int


def three_factor(delay_s: object, delta_s: object) -> ThreeFactorResult:
    """Eligibility window and gating ratio from a ``coincidence`` stream.

    "With light" for the gating ratio means the trials at the shortest delay >= 0 (coincident
    light and pulse); "without" the trials with NaN delay. The eligibility time constant is the
    light-then-pulse one; :func:`coincidence_window` fits both orders with uncertainties.
    """
    d = as_1d("delay_s", delay_s, min_size=2)
    y = as_1d("delta_s", delta_s, min_size=2)
    same_length(delay_s=d, delta_s=y)
    lit = np.isfinite(d)
    if not lit.any() or lit.all():
        raise ValueError("delay_s: the gating ratio needs trials both with light (a delay) and "
                         "without (NaN delay)")
    light_first = lit & (d >= 0)
    if not light_first.any():
        raise ValueError("delay_s: the gating ratio needs trials with the light at or before the pulses "
                         "(delay >= 0)")
    coincident = light_first & (d == np.min(d[light_first]))
    try:
        tau = eligibility_time_constant(d, y).tau
    except ValueError:
        tau = math.nan
    return ThreeFactorResult(
        eligibility_s=tau,
        gating_ratio=gating_ratio(y[coincident], y[~lit]),
        delta_light_s=float(np.mean(y[coincident])),
        delta_dark_s=float(np.mean(y[~lit])),
        trials=len(y),
    )


# ==============================================================================================
# Figures with uncertainties (issue 13): combined photoconductance-plus-shunting law, step
# responses, the coincidence window of both orders, the XOR truth table.
# ==============================================================================================

def _t975(dof: float) -> float:
    """The 97.5 % quantile of Student's t (Cornish-Fisher expansion; within 1 % for dof >= 3)."""
    z = 1.959963984540054
    if not math.isfinite(dof):
        return z
    v = max(dof, 1.0)
    return (z + (z ** 3 + z) / (4 * v) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * v ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * v ** 3))


@dataclass(frozen=True)
class Estimate:
    """A fitted or extracted value with its standard error, the points it rests on and a quality
    flag: "good" (relative standard error <= 10 %), "poor" (<= 50 %) or "not determined" (then
    ``value`` is NaN and ``reason`` says why; it is never printed as a number)."""

    value: float
    stderr: float
    n: int
    quality: str
    reason: str = ""
    unit: str = ""
    dof: float = math.inf
    """degrees of freedom of the fit behind the standard error (n minus fitted parameters)."""

    @property
    def determined(self) -> bool:
        return self.quality != "not determined"

    def ci95(self) -> tuple[float, float]:
        """The 95 % confidence interval: Student's t with the fit's degrees of freedom."""
        half = _t975(self.dof) * self.stderr
        return self.value - half, self.value + half


    def __str__(self) -> str:
        if not self.determined:
            return f"not determined ({self.reason})"
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.value:.4g} ± {self.stderr:.2g}{unit} (n = {self.n}, {self.quality})"


def not_determined(reason: str, n: int, unit: str = "") -> Estimate:
    return Estimate(math.nan, math.nan, n, "not determined", reason, unit)


def _graded(value: float, stderr: float, n: int, unit: str, *, reason_if_bad: str = "",
            dof: float = math.inf) -> Estimate:
    if not (math.isfinite(value) and math.isfinite(stderr)):
        return not_determined(reason_if_bad or "the fit does not constrain it (singular)", n, unit)
    rel = abs(stderr / value) if value else math.inf
    if rel > 0.5:
        return not_determined(f"relative standard error {rel:.0%} (> 50 %): the data do not constrain it", n, unit)
    return Estimate(value, stderr, n, "good" if rel <= 0.1 else "poor", "", unit, dof)


def _least_squares(model, p0: np.ndarray, x: np.ndarray, y: np.ndarray,
                   iterations: int = 200) -> tuple[np.ndarray, np.ndarray, float]:
    """Levenberg-Marquardt fit of ``y ~ model(x, p)`` (numeric Jacobian, numpy only).

    Returns the parameters, their covariance ``s^2 (J^T J)^-1`` (NaN where singular) and the
    residual sum of squares."""
    p = np.asarray(p0, np.float64).copy()
    scale = max(float(np.max(np.abs(y))), 1e-300)
    yn = y / scale

    def residual(q: np.ndarray) -> np.ndarray:
        return model(x, q) / scale - yn

    def jacobian(q: np.ndarray, r0: np.ndarray) -> np.ndarray:
        jac = np.empty((x.size, q.size))
        for k in range(q.size):
            h = 1e-6 * max(abs(q[k]), 1e-3)
            dq = q.copy()
            dq[k] += h
            jac[:, k] = (residual(dq) - r0) / h
        return jac

    def residual_or_inf(q: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            out = residual(q)
        return out if np.all(np.isfinite(out)) else np.full(x.size, np.inf)

    r = residual(p)
    cost = float(r @ r)
    lam = 1e-3
    for _ in range(iterations):
        jac = jacobian(p, r)
        a = jac.T @ jac
        g = jac.T @ r
        improved = False
        for _ in range(30):
            try:
                step = np.linalg.solve(a + lam * np.diag(np.diag(a) + 1e-12), -g)
            except np.linalg.LinAlgError:
                lam *= 10
                continue
            trial = p + step
            rt = residual_or_inf(trial)
            with np.errstate(over="ignore"):
                ct = float(rt @ rt)
            if np.isfinite(ct) and ct < cost:
                converged = cost - ct < 1e-12 * max(cost, 1e-300)
                p, r, cost, lam, improved = trial, rt, ct, max(lam / 10, 1e-12), True
                break
            lam *= 10
        if not improved or converged:
            break
    jac = jacobian(p, r)
    dof = x.size - p.size
    try:
        cov = np.linalg.inv(jac.T @ jac) * (cost / dof if dof > 0 else math.nan)
    except np.linalg.LinAlgError:
        cov = np.full((p.size, p.size), math.nan)
    return p, cov, cost * scale * scale


def _log_estimate(p: np.ndarray, cov: np.ndarray, k: int, n: int, unit: str, dof: float = math.inf) -> Estimate:
    """Estimate of exp(p[k]) from a fit in log space (delta method)."""
    value = math.exp(p[k])
    var = cov[k, k]
    return _graded(value, value * math.sqrt(var) if var >= 0 else math.nan, n, unit, dof=dof)


@dataclass(frozen=True)
class PhotoResponseFit:
    """``rise(P) = (G + a P^gamma) / (1 + k P) - G``: photoconductance divided by shunting."""

    gamma: Estimate
    coefficient: Estimate
    """a, photoconductance at 1 W of set power [S / W^gamma]."""
    k_shunt_per_w: Estimate
    """k, per watt of set power."""
    n: int
    law: str = "combined"
    """"combined", or "power" when no shunting was resolved (k not determined) and the rise grows
    with every power step: then gamma and a come from the nested law at k = 0, a plain power law."""
    log_coefficient: tuple[float, float] = (math.nan, math.nan)
    """(ln a, gamma) as fitted, and their covariance below: a at 1 W lies far outside the
    powers measured, so ln a and gamma are strongly correlated and only together give the
    photoconductance at a power in the data (:meth:`photoconductance_at`)."""
    covariance: tuple[tuple[float, float], tuple[float, float]] = ((math.nan, math.nan), (math.nan, math.nan))
    powers_w: tuple[float, float] = (math.nan, math.nan)
    """the lowest and highest power fitted."""

    def photoconductance_at(self, power_w: float) -> Estimate:
        """``a P^gamma`` at set power ``power_w``, before shunting, with its standard error from
        the joint covariance of ln a and gamma (delta method). Not determined more than ten
        times outside the powers measured."""
        ln_a, gamma = self.log_coefficient
        if not (math.isfinite(ln_a) and math.isfinite(gamma)):
            return not_determined(self.gamma.reason or self.coefficient.reason or "the law's coefficient is not "
                                  "determined", self.n, "S")
        low, high = self.powers_w
        if not (power_w > 0 and low / 10 <= power_w <= 10 * high):
            return not_determined(f"power {power_w:.3g} W lies more than ten times outside the {low:.3g}-"
                                  f"{high:.3g} W measured", self.n, "S")
        x = math.log(power_w)
        (v_aa, v_ag), (_, v_gg) = self.covariance
        var = v_aa + 2 * x * v_ag + x * x * v_gg
        value = math.exp(ln_a + gamma * x)
        dof = self.gamma.dof
        return _graded(value, value * math.sqrt(var) if var >= 0 else math.nan, self.n, "S", dof=dof)


def photoresponse_law(power_w: object, rise_s: object, dark_conductance_s: object, *,
                      previous_power_w: object = 0.0, residual_fraction: object = 0.0) -> PhotoResponseFit:
    """Fit the combined photoconductance-plus-shunting law to a steady photo-response.

    :param power_w: set power of each step [W] (> 0).
    :param rise_s: conductance under steady light minus the dark conductance before it [S].
    :param dark_conductance_s: the dark conductance of each step, as read [S] (one value or one
        per power); the shunting divides the device's conductance G too, so the rise depends on it.
    :param previous_power_w, residual_fraction: the light before each step's dark read, and the
        fraction of its steady photoconductance ``a P_prev^gamma`` still there at that read
        (``exp(-wait / tau_ph)``; one value or one per power; 0: none). The dark read is then
        ``G + r``, ``r = f a P_prev^gamma``, and under the light that residual is replaced by the
        new photoconductance (``settle_s`` is several rise times): the rise is
        ``(G + a P^gamma) / (1 + k P) - G - r`` with ``G`` the dark read less ``r``
        (:func:`photoresponse_law_after_waits` gives the fractions' uncertainty its share).
    """
    p = as_1d("power_w", power_w, min_size=1)
    y = as_1d("rise_s", rise_s, min_size=1)
    same_length(power_w=p, rise_s=y)
    g = np.broadcast_to(np.asarray(dark_conductance_s, np.float64), p.shape).astype(np.float64)
    p_prev = np.broadcast_to(np.asarray(previous_power_w, np.float64), p.shape).astype(np.float64)
    frac = np.broadcast_to(np.asarray(residual_fraction, np.float64), p.shape).astype(np.float64)
    if np.any(~np.isfinite(frac) | (frac < 0) | (frac > 1)) or np.any(~np.isfinite(p_prev) | (p_prev < 0)):
        raise ValueError("residual_fraction: allowed fractions in [0, 1] with previous powers >= 0 W")
    frac = np.where(p_prev > 0, frac, 0.0)
    ok = np.isfinite(p) & np.isfinite(y) & np.isfinite(g) & (p > 0)
    p, y, g, p_prev, frac = p[ok], y[ok], g[ok], p_prev[ok], frac[ok]
    residual = bool(np.any(frac > 0))
    n = int(p.size)
    if n < 4 or np.unique(p).size < 4:
        reason = f"{np.unique(p).size} distinct powers; the combined law has 3 parameters and needs at least 4"
        return PhotoResponseFit(not_determined(reason, n), not_determined(reason, n, "S/W^gamma"),
                                not_determined(reason, n, "1/W"), n)
    safe_prev = np.where(p_prev > 0, p_prev, 1.0)

    def left(a: float, gamma: float) -> np.ndarray:
        """the previous light's photoconductance left at each dark read, f a P_prev^gamma"""
        return frac * a * safe_prev ** gamma

    def model(x: np.ndarray, q: np.ndarray) -> np.ndarray:
        a, k = np.exp(np.clip(q[[0, 2]], -300.0, 300.0))
        r = left(a, q[1])
        return (g - r + a * x ** q[1]) / (1.0 + k * x) - g

    # Start: a power law through the lowest powers (shunting small there), k from the peak.
    low = np.argsort(p)[:2]
    gamma0 = 0.5
    a0 = max(float(np.max(y)), 1e-30) / float(np.max(p)) ** gamma0
    if np.all(y[low] > 0) and p[low[1]] != p[low[0]]:
        gamma0 = float(np.clip(np.log(y[low[1]] / y[low[0]]) / np.log(p[low[1]] / p[low[0]]), 0.05, 2.0))
        a0 = float(y[low[0]] / p[low[0]] ** gamma0)
    k0 = 1.0 / float(p[int(np.argmax(y))])
    best = None
    for kk in (k0, k0 / 10, k0 * 10):
        q, cov, rss = _least_squares(model, np.array([math.log(a0), gamma0, math.log(kk)]), p, y)
        if best is None or rss < best[2]:
            best = (q, cov, rss)
    q, cov, _ = best
    dof = n - 3
    gamma = _graded(float(q[1]), math.sqrt(cov[1, 1]) if cov[1, 1] >= 0 else math.nan, n, "", dof=dof)
    k_shunt = _log_estimate(q, cov, 2, n, "1/W", dof)
    order = np.argsort(p)
    rising = bool(np.all(y > 0) and np.all(np.diff(y[order]) > 0))
    if not k_shunt.determined and rising:
        # No shunting resolved (k runs to 0, where the combined law is singular in log k) and no
        # turn-over in the data: the nested law at k = 0 is a power law, fitted as a line in log-log.
        no_shunt = not_determined(f"no shunting resolved ({k_shunt.reason}); the rise grows with every "
                                  "power, so gamma comes from the law at k = 0", n, "1/W")
        if residual:
            # with the previous light's residual the law at k = 0 is a (P^gamma - f P_prev^gamma):
            # not a line in log-log, fitted as it stands
            def power_model(x: np.ndarray, q: np.ndarray) -> np.ndarray:
                return math.exp(min(q[0], 300.0)) * (x ** q[1] - frac * safe_prev ** q[1])
            fit = power_law_fit(p, y)
            q, cov, _ = _least_squares(power_model, np.array([math.log(fit.prefactor), fit.exponent]), p, y)
            return PhotoResponseFit(_graded(float(q[1]), math.sqrt(cov[1, 1]) if cov[1, 1] >= 0 else math.nan, n,
                                            "", dof=n - 2),
                                    _log_estimate(q, cov, 0, n, "S/W^gamma", n - 2), no_shunt, n, "power",
                                    (float(q[0]), float(q[1])), _pair(cov, 0, 1), (float(p.min()), float(p.max())))
        fit = power_law_fit(p, y)
        # the log-log line's covariance of (intercept, slope): s^2 (X^T X)^-1
        design = np.column_stack([np.ones(n), np.log(p)])
        resid = np.log(y) - design @ np.array([math.log(fit.prefactor), fit.exponent])
        line_cov = np.linalg.inv(design.T @ design) * float(resid @ resid) / max(n - 2, 1)
        return PhotoResponseFit(_graded(fit.exponent, fit.exponent_se, n, "", dof=n - 2),
                                _graded(fit.prefactor, math.nan, n, "S/W^gamma",
                                        reason_if_bad="a power law's prefactor is given without an interval"),
                                no_shunt, n, "power", (math.log(fit.prefactor), fit.exponent),
                                _pair(line_cov, 0, 1), (float(p.min()), float(p.max())))
    return PhotoResponseFit(gamma, _log_estimate(q, cov, 0, n, "S/W^gamma", dof), k_shunt, n, "combined",
                            (float(q[0]), float(q[1])), _pair(cov, 0, 1), (float(p.min()), float(p.max())))


#: dark reads holding more than this fraction of the previous light's photoconductance are not
#: corrected: the figures would rest on the residual's model more than on the data
MAX_RESIDUAL_FRACTION = 0.2


def _refits_at_decay_bounds(tau_ph: Estimate, fit_at: Callable[[float], Any]) -> tuple[Any, Any] | None:
    """A residual-corrected fit redone at the decay time plus and minus its standard error (None if
    the lower one is not positive): how far the correction's own uncertainty moves the figures."""
    refits = []
    for sign in (1.0, -1.0):
        tau = tau_ph.value + sign * tau_ph.stderr
        if tau <= 0:
            return None
        refits.append(fit_at(tau))
    return refits[0], refits[1]


def _widened(est: Estimate, up: Estimate, down: Estimate, log: bool) -> Estimate:
    """``est`` with half the change between the refits at tau_ph +/- se added in quadrature (on a
    log scale for positive figures: ``log``)."""
    if not (est.determined and up.determined and down.determined):
        return est
    half = (math.log(up.value / down.value) * est.value if log else up.value - down.value) / 2
    return _graded(est.value, math.hypot(est.stderr, half), est.n, est.unit, dof=est.dof)


def photoresponse_law_after_waits(power_w: object, rise_s: object, dark_conductance_s: object,
                                  previous_power_w: object, residual_fraction: Callable[[float], np.ndarray],
                                  tau_ph: Estimate) -> PhotoResponseFit:
    """:func:`photoresponse_law` with each dark read's residual photoconductance modelled from the
    decay time ``tau_ph`` measured in the same run (the step response's).

    :param residual_fraction: ``tau -> fractions``: the share of the previous light's steady
        photoconductance left at each step's dark read for a decay time ``tau`` (``exp(-wait /
        tau)`` after a settled step).
    :param tau_ph: the photoconductance decay time with its standard error. The law is fitted at
        ``tau_ph`` and at ``tau_ph`` +- its standard error; half the change of each parameter is
        added in quadrature to its standard error (the delta method), so the figures carry the
        decay's uncertainty too.

    Not determined (with the reason) when ``tau_ph`` is not, or when a dark read holds more than
    :data:`MAX_RESIDUAL_FRACTION` of the previous light's photoconductance.
    """
    p = as_1d("power_w", power_w, min_size=1)
    n = int(np.count_nonzero(np.isfinite(p) & (p > 0)))

    def refused(reason: str) -> PhotoResponseFit:
        return PhotoResponseFit(not_determined(reason, n), not_determined(reason, n, "S/W^gamma"),
                                not_determined(reason, n, "1/W"), n)

    if not tau_ph.determined:
        return refused(f"the photoconductance decay time is not determined ({tau_ph.reason}): the previous "
                       "light's photoconductance left in each dark read cannot be modelled")
    fractions = np.asarray(residual_fraction(tau_ph.value), np.float64)
    prev = np.broadcast_to(np.asarray(previous_power_w, np.float64), p.shape)
    worst = float(np.max(np.where(prev > 0, fractions, 0.0), initial=0.0))
    if worst > MAX_RESIDUAL_FRACTION:
        return refused(f"a dark read still holds {worst:.0%} of the previous light's photoconductance (more than "
                       f"{MAX_RESIDUAL_FRACTION:.0%}; decay time {tau_ph.value:.3g} s): wait longer in the dark "
                       "(relax_s of at least 2 decay times, 5 to need no correction)")
    fit = photoresponse_law(p, rise_s, dark_conductance_s, previous_power_w=prev, residual_fraction=fractions)
    if not (fit.gamma.determined and math.isfinite(tau_ph.stderr) and tau_ph.stderr > 0 and worst > 0):
        return fit
    refits = _refits_at_decay_bounds(tau_ph, lambda tau: photoresponse_law(
        p, rise_s, dark_conductance_s, previous_power_w=prev,
        residual_fraction=np.clip(residual_fraction(tau), 0.0, 1.0)))
    if refits is None:
        return fit
    hi, lo = refits
    (v_aa, v_ag), (_, v_gg) = fit.covariance
    d = np.subtract(hi.log_coefficient, lo.log_coefficient) / 2
    cov = ((v_aa + d[0] * d[0], v_ag + d[0] * d[1]), (v_ag + d[0] * d[1], v_gg + d[1] * d[1]))
    return PhotoResponseFit(_widened(fit.gamma, hi.gamma, lo.gamma, False),
                            _widened(fit.coefficient, hi.coefficient, lo.coefficient, True),
                            _widened(fit.k_shunt_per_w, hi.k_shunt_per_w, lo.k_shunt_per_w, True), fit.n, fit.law,
                            fit.log_coefficient, cov, fit.powers_w)


def _pair(cov: np.ndarray, i: int, j: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """The 2 x 2 block of ``cov`` for parameters i and j, as plain floats."""
    return ((float(cov[i, i]), float(cov[i, j])), (float(cov[j, i]), float(cov[j, j])))


@dataclass(frozen=True)
class StepResponse:
    """Time constants of a continuous-illumination step: light on at t = 0 until ``t_off``."""

    rise_s: Estimate
    """photoconductance rise time constant tau_on."""
    shunt_rise_s: Estimate
    decay_s: Estimate
    """photoconductance decay time constant tau_ph (dark, after the light)."""
    shunt_fall_s: Estimate
    lit_points: int
    dark_points: int


MAX_TAU_CORRELATION = 0.98
"""A step's two time constants (photoconductance, shunting) are reported only when their fitted
correlation stays within this: beyond it the fit trades one for the other."""


def step_response(time_s: object, conductance_s: object, lit: object) -> StepResponse:
    """Rise and decay time constants of a light step, each order of the combined law fitted:

    - under light, from the dark conductance G0 (the reads before the light):
      ``G(t) = (G0 + A (1 - e^(-t'/tau_on))) / (1 + B (1 - e^(-t'/tau_shunt_on)))``,
      ``t' = t - t_d`` (t_d: when the light really came on, within the laser's command);
    - after the light, from its end:
      ``G(t) = (G0 + A' e^(-t/tau_ph)) / (1 + B' e^(-t/tau_shunt_off))``.

    :param time_s: read times [s], light switched on at the first lit read's preceding edge:
        time 0 = light on (reads before it have t < 0).
    :param conductance_s: apparent conductance I / V of each read [S].
    :param lit: whether the light was on at each read (0/1).
    """
    t = as_1d("time_s", time_s, min_size=3)
    y = as_1d("conductance_s", conductance_s, min_size=3)
    on = as_1d("lit", lit, min_size=3) > 0
    same_length(time_s=t, conductance_s=y, lit=on)
    before = (~on) & (t < 0)
    lit_idx = np.flatnonzero(on)
    after = (~on) & (t > (t[lit_idx].max() if lit_idx.size else np.inf))
    nd = not_determined
    if not before.any() or lit_idx.size == 0:
        reason = "needs dark reads before the light and reads under it"
        return StepResponse(nd(reason, int(on.sum()), "s"), nd(reason, int(on.sum()), "s"),
                            nd(reason, int(after.sum()), "s"), nd(reason, int(after.sum()), "s"),
                            int(on.sum()), int(after.sum()))
    g0 = float(np.mean(y[before]))
    t_off = float(np.max(t[lit_idx]))  # the light went off after the last lit read

    def fit_phase(tt: np.ndarray, yy: np.ndarray, rising: bool) -> tuple[Estimate, Estimate]:
        n = int(tt.size)
        if n < 10:
            reason = f"{n} reads; the phase has up to 5 parameters and needs at least 10"
            return nd(reason, n, "s"), nd(reason, n, "s")
        span = float(tt.max() - tt.min()) or 1.0
        if rising:
            # The light comes on somewhere within the laser command that switched it: a fifth
            # parameter, the true light-on time t_d, shifts the rise (a decay absorbs such a shift).
            def model(x, q):
                a, tau_g, b, tau_s = np.exp(np.clip(q[:4], -300.0, 300.0))
                xs = np.maximum(x - q[4], 0.0)
                return (g0 + a * -np.expm1(-xs / tau_g)) / (1.0 + b * -np.expm1(-xs / tau_s))
        else:
            # The dark conductance the decay returns to is G0 less what the previous stimulus left
            # (photoconductance not yet relaxed when the dark reads before the light were taken):
            # all of it relaxes with the same tau_ph, so a fifth parameter, that residual c, sets the
            # asymptote G0 - c. Fixing the asymptote at G0 would pull the decay faster.
            def model(x, q):
                a, tau_g, b, tau_s = np.exp(np.clip(q[:4], -300.0, 300.0))
                return (g0 - q[4] * scale + a * np.exp(-x / tau_g)) / (1.0 + b * np.exp(-x / tau_s))
        scale = max(abs(g0), 1e-300)  # the residual is fitted in units of G0 (well scaled)
        y_end = float(np.mean(yy[-3:])) if rising else float(yy[0])
        a0 = max(abs(y_end - g0), 1e-3 * abs(g0)) * 2
        best = None
        # The two time constants are searched from several starting ratios (the error is not
        # convex in them), the best fit kept.
        for tau_g0 in (span / 30, span / 10, span / 3):
            for ratio in (0.05, 0.3, 3.0):
                q0 = np.log([a0, tau_g0, 0.5, tau_g0 * ratio])
                q0 = np.append(q0, 0.0)
                q, cov, rss = _least_squares(model, q0, tt, yy)
                if best is None or rss < best[2]:
                    best = (q, cov, rss)
        q, cov, _ = best
        dof = n - q.size
        tau_g, tau_s = _log_estimate(q, cov, 1, n, "s", dof), _log_estimate(q, cov, 3, n, "s", dof)
        # Reads too sparse in the transient let the photoconductance and the shunting trade off
        # (near-identical shapes): the covariance's error bars then understate how wrong both are.
        sd = math.sqrt(max(cov[1, 1], 0.0) * max(cov[3, 3], 0.0))
        correlation = cov[1, 3] / sd if sd > 0 else math.nan
        if not abs(correlation) <= MAX_TAU_CORRELATION:
            reason = (f"the photoconductance and shunting time constants cannot be told apart with these "
                      f"{n} reads (their fitted correlation is {correlation:.3f}; at most "
                      f"{MAX_TAU_CORRELATION} is resolved): sample the transient more densely")
            return nd(reason, n, "s"), nd(reason, n, "s")
        lo, hi = float(np.min(tt[tt > 0])) if np.any(tt > 0) else 0.0, float(tt.max())
        out = []
        for est in (tau_g, tau_s):
            if est.determined and not (0.2 * lo <= est.value <= 3.0 * hi):
                est = nd(f"the time constant ({est.value:.3g} s) lies outside what the reads span "
                         f"({lo:.3g} .. {hi:.3g} s)", n, "s")
            out.append(est)
        return out[0], out[1]

    rise, shunt_rise = fit_phase(t[on], y[on], rising=True)
    decay, shunt_fall = fit_phase(t[after] - t_off, y[after], rising=False)
    return StepResponse(rise, shunt_rise, decay, shunt_fall, int(on.sum()), int(after.sum()))


@dataclass(frozen=True)
class CoincidenceWindow:
    """The three-factor window of both orders, fitted jointly with one baseline:
    ``delta = B`` without light, ``B + A_lp e^(-d/tau_lp)`` for d >= 0 (light first),
    ``B + A_pl e^(-|d|/tau_pl)`` for d < 0 (pulses first)."""

    tau_light_pulse_s: Estimate
    amplitude_light_pulse_s: Estimate
    tau_pulse_light_s: Estimate
    amplitude_pulse_light_s: Estimate
    baseline_s: Estimate
    trials: int


def coincidence_window(delay_s: object, delta_s: object) -> CoincidenceWindow:
    """Both orders of the coincidence window from a ``three-factor`` run's ``coincidence`` stream.

    An order with fewer than three distinct delays (or no non-zero one) is not determined, and
    the fit of the other goes on alone.
    """
    d = as_1d("delay_s", delay_s, min_size=2)
    y = as_1d("delta_s", delta_s, min_size=2)
    same_length(delay_s=d, delta_s=y)
    ok = np.isfinite(y)
    d, y = d[ok], y[ok]
    n = int(y.size)
    dark = np.isnan(d)
    lp = np.isfinite(d) & (d >= 0)
    pl = np.isfinite(d) & (d < 0)
    usable = {name: (np.unique(d[mask]).size >= 3 and np.any(d[mask] != 0))
              for name, mask in (("lp", lp), ("pl", pl))}
    base0 = float(np.mean(y[dark])) if dark.any() else float(np.min(y))
    names, q0 = ["base"], [base0]
    # Lit trials also carry what the light leaves behind whatever the delay (photoconductance not
    # yet gone at the second read): an offset of their own, set by the window's far tails. With
    # the dark baseline in its place the tails would lift the fitted decay (a slower window).
    light_offset = bool(dark.any())
    if light_offset:
        names.append("light")
        q0.append(0.0)
    for key, mask in (("lp", lp), ("pl", pl)):
        if usable[key]:
            span = float(np.max(np.abs(d[mask])))
            names += [f"a_{key}", f"tau_{key}"]
            q0 += [float(np.max(y[mask])) - base0, math.log(span / 3)]
    if not any(usable.values()):
        reason = "no order has three distinct delays (one of them non-zero)"
        e = not_determined(reason, n, "s")
        return CoincidenceWindow(e, not_determined(reason, n, "S"), e, not_determined(reason, n, "S"),
                                 not_determined(reason, n, "S"), n)

    def model(x: np.ndarray, q: np.ndarray) -> np.ndarray:
        out = np.full(x.shape, q[0])
        k = 1
        if light_offset:
            out[np.isfinite(x)] += q[1]
            k = 2
        for key, sign in (("lp", 1.0), ("pl", -1.0)):
            if usable[key]:
                mask = np.isfinite(x) & ((x >= 0) if sign > 0 else (x < 0))
                out[mask] += q[k] * np.exp(-np.abs(x[mask]) / np.exp(np.clip(q[k + 1], -300.0, 300.0)))
                k += 2
        return out

    best = None
    for factor in (1.0, 0.3, 3.0):
        start = np.array(q0)
        first_tau = 3 if light_offset else 2
        start[first_tau::2] += math.log(factor)
        q, cov, rss = _least_squares(model, start, d, y)
        if best is None or rss < best[2]:
            best = (q, cov, rss)
    q, cov, _ = best
    se = np.sqrt(np.where(np.diag(cov) >= 0, np.diag(cov), np.nan))
    found: dict[str, Estimate] = {}
    k = 2 if light_offset else 1
    for key in ("lp", "pl"):
        mask = lp if key == "lp" else pl
        if usable[key]:
            m = int(mask.sum())
            dof = n - q.size
            amp = _graded(float(q[k]), float(se[k]), m, "S", dof=dof)
            if amp.determined and abs(amp.value) < 2 * amp.stderr:
                amp = not_determined("the amplitude is within noise (< 2 standard errors)", m, "S")
            tau = _log_estimate(q, cov, k + 1, m, "s", dof) if amp.determined else \
                not_determined("no window to fit: the amplitude is within noise", m, "s")
            found[key] = (tau, amp)
            k += 2
        else:
            reason = "fewer than three distinct delays of this sign"
            found[key] = (not_determined(reason, int(mask.sum()), "s"), not_determined(reason, int(mask.sum()), "S"))
    baseline = Estimate(float(q[0]), float(se[0]), int(dark.sum()) or n,
                        "good" if math.isfinite(se[0]) else "not determined", "", "S")
    return CoincidenceWindow(found["lp"][0], found["lp"][1], found["pl"][0], found["pl"][1], baseline, n)


@dataclass(frozen=True)
class XorFigures:
    accuracy: Estimate
    """fraction of outputs right, with its binomial standard error."""
    margin_a: float
    """lowest mean one-input current minus highest mean zero-output current [A] (< 0: not separable)."""
    threshold_a: float
    patterns: int


def xor_figures(input_a: object, input_b: object, current_a: object, output: object,
                expected: object) -> XorFigures:
    """Accuracy (binomial standard error) and class margin of a single-threshold XOR run."""
    a = as_1d("input_a", input_a)
    b = as_1d("input_b", input_b)
    i = as_1d("current_a", current_a)
    o = as_1d("output", output)
    e = as_1d("expected", expected)
    same_length(input_a=a, input_b=b, current_a=i, output=o, expected=e)
    n = int(o.size)
    right = float(np.mean(o == e)) if n else math.nan
    se = math.sqrt(max(right * (1 - right), 1.0 / (n + 1)) / n) if n else math.nan  # never 0 at 100 %
    acc = Estimate(right, se, n, "good" if n >= 20 else "poor", "", "") if n else \
        not_determined("no patterns", 0)
    means = {(x, z): float(np.mean(i[(a == x) & (b == z)])) for x in (0, 1) for z in (0, 1)
             if np.any((a == x) & (b == z))}
    if len(means) < 4:
        return XorFigures(acc, math.nan, math.nan, n)
    ones = min(means[(0, 1)], means[(1, 0)])
    zeros = max(means[(0, 0)], means[(1, 1)])
    return XorFigures(acc, ones - zeros, (ones + zeros) / 2, n)


# ==============================================================================================
# Spectral response: the absorption edge from photo-responses at several wavelengths.
# ==============================================================================================

PLANCK_EV_M = 1.23984198e-6  # h c in eV m: E [eV] = PLANCK_EV_M / wavelength [m]


def absorbed_fraction(energy_ev: object, band_gap_ev: float, urbach_energy_ev: float,
                      alpha_thickness: float) -> np.ndarray:
    """``A(E) = 1 - exp(-alpha(E) d)``: an Urbach tail ``alpha_g d exp((E - E_g) / E_U)`` below the
    gap, ``alpha_g d (1 + (E - E_g) / (2 E_U))^2`` above it (value and slope continuous at E_g).
    ``alpha_thickness`` is ``alpha_g d``, the absorption coefficient at the gap times the film
    thickness. The same law as the simulated chip's (docs/chip-model.md), written here because
    analysis never imports the simulator."""
    x = (np.asarray(energy_ev, np.float64) - band_gap_ev) / urbach_energy_ev
    shape = np.where(x < 0.0, np.exp(np.minimum(x, 0.0)), (1.0 + 0.5 * np.maximum(x, 0.0)) ** 2)
    return -np.expm1(-alpha_thickness * shape)


@dataclass(frozen=True)
class SpectralPoint:
    """The response at one wavelength: mean rise over the repeated steps at it."""

    wavelength_m: float
    rise: Estimate
    """mean rise of conductance [S], standard error from the spread of the repeats."""


@dataclass(frozen=True)
class SpectralEdge:
    """The absorption edge behind a spectral response (see :func:`spectral_edge`)."""

    band_gap_ev: Estimate
    urbach_energy_ev: Estimate
    alpha_thickness: Estimate
    """alpha_g d: absorption coefficient at the gap times the film thickness (dimensionless)."""
    points: tuple[SpectralPoint, ...]
    reference_wavelength_m: float
    """the photo-response's wavelength: the responsivity is relative to it."""
    n: int

    def relative_responsivity(self, wavelength_m: object) -> np.ndarray:
        """The fitted responsivity relative to :attr:`reference_wavelength_m` (NaN if not determined)."""
        if not (self.band_gap_ev.determined and self.urbach_energy_ev.determined and self.alpha_thickness.determined):
            return np.full(np.shape(wavelength_m), math.nan)
        energies = PLANCK_EV_M / np.asarray(wavelength_m, np.float64)
        args = (self.band_gap_ev.value, self.urbach_energy_ev.value, self.alpha_thickness.value)
        ref = absorbed_fraction(PLANCK_EV_M / self.reference_wavelength_m, *args)
        return absorbed_fraction(energies, *args) / ref


def spectral_points(wavelength_m: object, rise_s: object) -> tuple[SpectralPoint, ...]:
    """Mean rise and its standard error at each distinct wavelength (one step: not determined)."""
    w = as_1d("wavelength_m", wavelength_m)
    y = as_1d("rise_s", rise_s)
    same_length(wavelength_m=w, rise_s=y)
    out = []
    for wavelength in np.unique(w[np.isfinite(w)]):
        values = y[(w == wavelength) & np.isfinite(y)]
        n = int(values.size)
        if n < 2:
            rise = not_determined(f"{n} step at this wavelength; a standard error needs at least 2", n, "S")
        else:
            rise = Estimate(float(values.mean()), float(values.std(ddof=1) / math.sqrt(n)), n, "good", "", "S", n - 1)
        out.append(SpectralPoint(float(wavelength), rise))
    return tuple(out)


def spectral_edge(power_w: object, rise_s: object, dark_conductance_s: object, reference_wavelength_m: float,
                  spectral_wavelength_m: object, spectral_power_w: object, spectral_rise_s: object,
                  spectral_dark_conductance_s: object, *, previous_power_w: object = 0.0,
                  previous_wavelength_m: object = math.nan, residual_fraction: object = 0.0,
                  spectral_previous_power_w: object = 0.0, spectral_previous_wavelength_m: object = math.nan,
                  spectral_residual_fraction: object = 0.0) -> SpectralEdge:
    """Fit the absorption edge to a spectral response, calibrated by a photo-response.

    The light a film absorbs at wavelength lambda is ``P r(lambda)``, with ``r = A(E) / A(E_ref)``
    relative to the photo-response's wavelength (:func:`absorbed_fraction`, photon energy ``E``).
    Every rise, at any wavelength, follows the photo-response law of that absorbed power,
    ``(G + a (P r)^gamma) / (1 + k P r) - G``; one least-squares fit of all the rows (the photo-
    response's with ``r = 1``, and the spectral ones) gives ``a, gamma, k`` and the edge
    ``E_g, E_U, alpha_g d`` with their covariance. Each row is weighted by
    ``1 / sqrt(G_dark^2 + G_lit^2)``: a rise is the difference of two reads whose noise is
    proportional to the conductance read. When the data do not resolve ``k`` (relative
    standard error above 50 %: no shunting to speak of), the law without shunting is fitted instead.

    The gap is reported only when it lies inside the photon energies measured (no extrapolation
    past the data); each value is "not determined" when its relative standard error exceeds 50 %.

    :param power_w, rise_s, dark_conductance_s: the photo-response at ``reference_wavelength_m``.
    :param spectral_wavelength_m, spectral_power_w, spectral_rise_s, spectral_dark_conductance_s:
        the spectral steps (one row per step).
    :param previous_power_w, previous_wavelength_m, residual_fraction: for each photo-response
        row, the light before its dark read (set power and wavelength; NaN wavelength: the
        reference one) and the fraction of that light's steady photoconductance still there at the
        read (``exp(-wait / tau_ph)``; 0: none); ``spectral_previous_power_w``,
        ``spectral_previous_wavelength_m``, ``spectral_residual_fraction`` the same for the
        spectral rows (the previous spectral step, or the photo-response's last power before the
        first). The residual ``r = f a (P_prev r(lambda_prev))^gamma`` is in the dark read and is
        replaced by the new photoconductance under the light, as in :func:`photoresponse_law`: the
        rise is ``(G + a (P r)^gamma) / (1 + k P r) - G - r`` with ``G`` the dark read less the
        residual. The previous light's photoconductance is the law's (unshunted: the shunting
        releases within tens of ms of light-off), not the rise as read, which the shunting divides.
        :func:`spectral_edge_after_waits` gives the fractions' uncertainty its share.
    """
    p_ref = as_1d("power_w", power_w)
    y_ref = as_1d("rise_s", rise_s)
    same_length(power_w=p_ref, rise_s=y_ref)
    g_ref = np.broadcast_to(np.asarray(dark_conductance_s, np.float64), p_ref.shape)
    w = as_1d("spectral_wavelength_m", spectral_wavelength_m)
    y_sp = as_1d("spectral_rise_s", spectral_rise_s)
    same_length(spectral_wavelength_m=w, spectral_rise_s=y_sp)
    p_sp = np.broadcast_to(np.asarray(spectral_power_w, np.float64), w.shape)
    g_sp = np.broadcast_to(np.asarray(spectral_dark_conductance_s, np.float64), w.shape)
    if not (math.isfinite(reference_wavelength_m) and reference_wavelength_m > 0):
        raise ValueError(f"reference_wavelength_m={reference_wavelength_m!r}: allowed a wavelength > 0 m")
    points = spectral_points(w, y_sp)
    e_ref = PLANCK_EV_M / reference_wavelength_m

    def previous(power: object, wavelength: object, fraction: object, shape: tuple) -> tuple[np.ndarray, ...]:
        pp = np.broadcast_to(np.asarray(power, np.float64), shape).astype(np.float64)
        pw = np.broadcast_to(np.asarray(wavelength, np.float64), shape).astype(np.float64)
        ff = np.broadcast_to(np.asarray(fraction, np.float64), shape).astype(np.float64)
        if np.any(~np.isfinite(ff) | (ff < 0) | (ff > 1)) or np.any(~np.isfinite(pp) | (pp < 0)):
            raise ValueError("residual_fraction: allowed fractions in [0, 1] with previous powers >= 0 W")
        ff = np.where(pp > 0, ff, 0.0)
        pe = np.where(np.isfinite(pw) & (pw > 0), PLANCK_EV_M / np.where(pw > 0, pw, 1.0), e_ref)
        return np.where(ff > 0, pp, 1.0), pe, ff

    prev_ref = previous(previous_power_w, previous_wavelength_m, residual_fraction, p_ref.shape)
    prev_sp = previous(spectral_previous_power_w, spectral_previous_wavelength_m, spectral_residual_fraction, w.shape)
    ok_ref = np.isfinite(p_ref) & np.isfinite(y_ref) & np.isfinite(g_ref) & (p_ref > 0)
    ok_sp = np.isfinite(w) & (w > 0) & np.isfinite(y_sp) & np.isfinite(g_sp) & np.isfinite(p_sp) & (p_sp > 0)
    power = np.concatenate([p_ref[ok_ref], p_sp[ok_sp]])
    energy = np.concatenate([np.full(int(ok_ref.sum()), e_ref), PLANCK_EV_M / w[ok_sp]])
    dark = np.concatenate([g_ref[ok_ref], g_sp[ok_sp]])
    y = np.concatenate([y_ref[ok_ref], y_sp[ok_sp]])
    before_power, before_energy, before_fraction = (np.concatenate([a[ok_ref], b[ok_sp]])
                                                    for a, b in zip(prev_ref, prev_sp))
    residual = bool(np.any(before_fraction > 0))
    # A rise is the difference of two reads whose noise is proportional to the conductance read
    # (relative read noise): weight each row by sqrt(G_dark^2 + G_lit^2).
    weight = np.sqrt(dark ** 2 + (dark + y) ** 2)
    weight = np.where(weight > 0, weight, np.max(np.abs(y)))
    n = int(y.size)
    distinct_powers = np.unique(p_ref[ok_ref]).size
    distinct_energies = np.unique(energy[int(ok_ref.sum()):]).size
    if distinct_powers < 4 or distinct_energies < 4:
        reason = (f"{distinct_powers} distinct powers and {distinct_energies} distinct wavelengths: the edge needs "
                  "a photo-response of at least 4 powers and at least 4 wavelengths")
        return SpectralEdge(not_determined(reason, n, "eV"), not_determined(reason, n, "eV"),
                            not_determined(reason, n), points, float(reference_wavelength_m), n)

    def model(x: np.ndarray, q: np.ndarray) -> np.ndarray:
        # q: ln a, gamma, E_g, ln E_U, ln(alpha_g d)[, ln k]
        a, e_u, ad = np.exp(np.clip(q[[0, 3, 4]], -300.0, 300.0))
        k = math.exp(min(max(q[5], -300.0), 300.0)) if q.size > 5 else 0.0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # wild trial steps: inf, refused
            at_ref = absorbed_fraction(e_ref, q[2], e_u, ad)
            r = absorbed_fraction(energy, q[2], e_u, ad) / at_ref
            absorbed = x * r
            left = 0.0
            if residual:  # the previous light's photoconductance left in the dark read
                left = before_fraction * a * (before_power * absorbed_fraction(before_energy, q[2], e_u, ad)
                                              / at_ref) ** q[1]
            return ((dark - left + a * absorbed ** q[1]) / (1.0 + k * absorbed) - dark) / weight

    # Start from the photo-response alone, then try edges across the measured energies.
    law = photoresponse_law(p_ref[ok_ref], y_ref[ok_ref], g_ref[ok_ref],
                            previous_power_w=np.where(prev_ref[2] > 0, prev_ref[0], 0.0)[ok_ref],
                            residual_fraction=prev_ref[2][ok_ref])
    gamma0 = law.gamma.value if law.gamma.determined else 0.5
    a0 = law.coefficient.value if law.coefficient.determined else max(float(np.max(np.abs(y))), 1e-30)
    k0 = law.k_shunt_per_w.value if law.k_shunt_per_w.determined else 1.0 / float(np.max(p_ref[ok_ref]))
    e_sp = energy[int(ok_ref.sum()):]

    def fit(shunting: bool) -> tuple[np.ndarray, np.ndarray, float]:
        best = None
        for gap in np.linspace(e_sp.min(), e_sp.max(), 5):
            for e_u in (0.03, 0.1):
                for ad in (0.03, 1.0):
                    start = [math.log(a0), gamma0, gap, math.log(e_u), math.log(ad)]
                    q, cov, rss = _least_squares(model, np.array(start + ([math.log(k0)] if shunting else [])),
                                                 power, y / weight)
                    if best is None or rss < best[2]:
                        best = (q, cov, rss)
        return best

    q, cov, _ = fit(shunting=True)
    k_var = cov[5, 5]
    if not (math.isfinite(k_var) and k_var >= 0 and math.sqrt(k_var) <= 0.5):
        # The data do not resolve any shunting (k's relative error > 50 %): the law without it.
        q, cov, _ = fit(shunting=False)
    dof = n - q.size
    gap_se = math.sqrt(cov[2, 2]) if cov[2, 2] >= 0 else math.nan
    if not e_sp.min() <= q[2] <= e_sp.max():
        gap = not_determined(f"the fitted gap {q[2]:.3g} eV lies outside the photon energies measured "
                             f"({e_sp.min():.3g} .. {e_sp.max():.3g} eV)", n, "eV")
    else:
        gap = _graded(float(q[2]), gap_se, n, "eV", dof=dof)
    return SpectralEdge(gap, _log_estimate(q, cov, 3, n, "eV", dof), _log_estimate(q, cov, 4, n, "", dof),
                        points, float(reference_wavelength_m), n)


def spectral_edge_after_waits(power_w: object, rise_s: object, dark_conductance_s: object,
                              reference_wavelength_m: float, spectral_wavelength_m: object, spectral_power_w: object,
                              spectral_rise_s: object, spectral_dark_conductance_s: object, *,
                              previous_power_w: object, previous_wavelength_m: object,
                              spectral_previous_power_w: object, spectral_previous_wavelength_m: object,
                              residual_fraction: Callable[[float], tuple[np.ndarray, np.ndarray]],
                              tau_ph: Estimate) -> SpectralEdge:
    """:func:`spectral_edge` with each dark read's residual photoconductance (photo-response and
    spectral rows) modelled from the decay time ``tau_ph`` measured in the same run.

    :param residual_fraction: ``tau -> (fractions of the photo-response rows, fractions of the
        spectral rows)``: the share of the previous light's steady photoconductance left at each
        dark read for a decay time ``tau``.
    :param tau_ph: the decay time with its standard error. The edge is fitted at ``tau_ph`` and at
        ``tau_ph`` +- its standard error; half the change of each figure is added in quadrature to
        its standard error (as :func:`photoresponse_law_after_waits`).

    Not determined (with the reason) when ``tau_ph`` is not, or when a dark read holds more than
    :data:`MAX_RESIDUAL_FRACTION` of the previous light's photoconductance.
    """
    args = (power_w, rise_s, dark_conductance_s, reference_wavelength_m, spectral_wavelength_m, spectral_power_w,
            spectral_rise_s, spectral_dark_conductance_s)
    before = {"previous_power_w": previous_power_w, "previous_wavelength_m": previous_wavelength_m,
              "spectral_previous_power_w": spectral_previous_power_w,
              "spectral_previous_wavelength_m": spectral_previous_wavelength_m}

    def at(fractions: tuple[np.ndarray, np.ndarray]) -> SpectralEdge:
        ref, sp = (np.clip(np.asarray(f, np.float64), 0.0, 1.0) for f in fractions)
        return spectral_edge(*args, **before, residual_fraction=ref, spectral_residual_fraction=sp)

    def refused(reason: str) -> SpectralEdge:
        edge = spectral_edge(*args)
        n = edge.n
        return SpectralEdge(not_determined(reason, n, "eV"), not_determined(reason, n, "eV"), not_determined(reason, n),
                            edge.points, edge.reference_wavelength_m, n)

    if not tau_ph.determined:
        return refused(f"the photoconductance decay time is not determined ({tau_ph.reason}): the previous "
                       "light's photoconductance left in each dark read cannot be modelled")
    fractions = residual_fraction(tau_ph.value)
    lit_before = (np.broadcast_to(np.asarray(previous_power_w, np.float64), np.shape(fractions[0])),
                  np.broadcast_to(np.asarray(spectral_previous_power_w, np.float64), np.shape(fractions[1])))
    worst = max((float(np.max(np.where(b > 0, np.asarray(f, np.float64), 0.0), initial=0.0))
                 for f, b in zip(fractions, lit_before)), default=0.0)
    if worst > MAX_RESIDUAL_FRACTION:
        return refused(f"a dark read still holds {worst:.0%} of the previous light's photoconductance (more than "
                       f"{MAX_RESIDUAL_FRACTION:.0%}; decay time {tau_ph.value:.3g} s): wait longer in the dark "
                       "(relax_s of at least 2 decay times, 5 to need no correction)")
    edge = at(fractions)
    if not (math.isfinite(tau_ph.stderr) and tau_ph.stderr > 0 and worst > 0):
        return edge
    refits = _refits_at_decay_bounds(tau_ph, lambda tau: at(residual_fraction(tau)))
    if refits is None:
        return edge
    hi, lo = refits
    return SpectralEdge(_widened(edge.band_gap_ev, hi.band_gap_ev, lo.band_gap_ev, False),
                        _widened(edge.urbach_energy_ev, hi.urbach_energy_ev, lo.urbach_energy_ev, True),
                        _widened(edge.alpha_thickness, hi.alpha_thickness, lo.alpha_thickness, True),
                        edge.points, edge.reference_wavelength_m, edge.n)


@dataclass(frozen=True)
class RelaxationFit:
    """The relaxation after a stimulus: ``tau`` of the law the data support, that law's name and
    its fitted curve (for plots)."""

    tau: FigureOfMerit
    law: str
    """"exponential" (``G_inf + A e^(-t/tau)``) or "shunted" (``(G_inf + A e^(-t/tau)) / (1 + B e^(-t/tau_s))``)."""
    shunt_tau: Estimate
    curve: Callable[[np.ndarray], np.ndarray]


#: the shunted law must lower Akaike's criterion by more than this to be preferred (two more
#: parameters; a difference > 10 leaves the simpler law essentially no support)
_AIC_MARGIN = 10.0


def relaxation_fit(time_s: object, conductance_s: object) -> RelaxationFit:
    """tau of a relaxation after a stimulus (a ``relaxation`` run's ``decay`` stream).

    After light, an optomemristor's shunting releases (tens of ms: the conductance first rises)
    while its photoconductance decays (seconds): a single exponential fitted to both mixes them
    (about 2x tau_ph on the preset). Both laws are fitted, ``G_inf + A e^(-t/tau)`` and the
    shunted ``(G_inf + A e^(-t/tau)) / (1 + B e^(-t/tau_s))``; the shunted one is kept when it
    lowers Akaike's criterion by more than 10 and fixes tau, else the exponential (its tau with the
    profile-likelihood interval).
    """
    t = as_1d("time_s", time_s, min_size=3)
    y = as_1d("conductance_s", conductance_s, min_size=3)
    same_length(time_s=t, conductance_s=y)
    ok = np.isfinite(t) & np.isfinite(y)
    t, y = t[ok], y[ok]
    n = int(t.size)
    single = fit_exponential(t, y)
    result = RelaxationFit(single.tau_figure, "exponential",
                           not_determined("the exponential law has no shunting", n, "s"), single)
    if n < 10 or single.amplitude <= 0:
        return result

    def model(x: np.ndarray, q: np.ndarray) -> np.ndarray:
        a, tau, b, tau_s = np.exp(np.clip(q[1:], -300.0, 300.0))
        return (q[0] + a * np.exp(-x / tau)) / (1.0 + b * np.exp(-x / tau_s))

    g_inf = float(np.mean(y[np.argsort(t)[-max(3, n // 10):]]))
    span = float(np.ptp(t)) or 1.0
    best = None
    for tau0 in (span / 300, span / 100, span / 30):
        for ratio in (0.05, 0.3, 3.0):
            q0 = np.array([g_inf, math.log(max(float(y.max()) - g_inf, 1e-3 * abs(g_inf), 1e-300) * 2),
                           math.log(tau0), math.log(0.5), math.log(tau0 * ratio)])
            q, cov, rss = _least_squares(model, q0, t, y)
            if best is None or rss < best[2]:
                best = (q, cov, rss)
    q, cov, rss = best
    rss_single = single.rmse ** 2 * n
    if not (rss > 0 and rss_single > 0):
        return result
    aic_single, aic_shunted = n * math.log(rss_single / n) + 2 * 3, n * math.log(rss / n) + 2 * 5
    tau = _log_estimate(q, cov, 2, n, "s", n - 5)
    if aic_single - aic_shunted > _AIC_MARGIN and tau.determined:
        return RelaxationFit(FigureOfMerit.from_stderr(tau.value, tau.stderr, n, dof=n - 5), "shunted",
                             _log_estimate(q, cov, 4, n, "s", n - 5),
                             lambda x, q=q: model(np.asarray(x, float), q))
    return result
