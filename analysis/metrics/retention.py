"""Figures of merit of retention: drift fits and the extrapolated time to a 10 % loss.

Two drift laws are fitted to conductance versus time since programming (t > 0 only):

- **power law** (PCM-like): ``G(t) = G0 (t / t0)^-nu``, a line in log G versus log t;
- **log-time** (ReRAM-like): ``G(t) = G0 + k ln(t / t0)``, a line in G versus ln t (k in S per
  e-fold of time; negative for a loss).

t0 is 1 s unless given; time counts from the end of programming. The better law is the one with
the smaller root-mean-square *relative* residual. Rates carry their least-squares standard error
and Student-t 95 % interval.

The **time to a 10 % loss** is where the better law falls to 90 % of its value at the first
measured time; its interval follows from the rate's interval, and spans both laws' intervals
when their residuals are within :data:`LAW_AMBIGUITY` of each other. It is

- not determined when fewer than :data:`MIN_READS` reads, when the reads scatter about the law by
  more than :data:`MAX_RELATIVE_SCATTER` (data within noise), or when the rate's interval includes
  no loss (drift within noise);
- flagged extrapolated when beyond the last read, and never extrapolated further than
  :data:`~memlab.analysis.metrics.fom.MAX_EXTRAPOLATION` times the measured time: beyond that it is
  the lower bound "> t_last (not reached within the measurement)".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from memlab.analysis.fitting import as_1d, linear_fit, same_length
from memlab.analysis.metrics.fom import (
    CONFIDENCE,
    EXTRAPOLATED,
    MAX_EXTRAPOLATION,
    OK,
    FigureOfMerit,
    format_number,
)

__all__ = ["DriftFit", "RetentionResult", "fit_power_law_drift", "fit_log_drift", "retention",
           "MIN_READS", "MAX_RELATIVE_SCATTER", "LAW_AMBIGUITY"]

MIN_READS = 4
"""Fewest reads a time to loss rests on."""
LAW_AMBIGUITY = 1.1
"""When the other drift law's relative residual is within this factor of the better one's, the
time to loss's interval spans both laws (the data do not tell them apart)."""
MAX_RELATIVE_SCATTER = 0.3
"""Relative scatter of the reads about the drift law above which the data are noise."""


@dataclass(frozen=True)
class DriftFit:
    law: str
    """"power" or "log"."""
    g0_s: float
    """Fitted conductance at t0 [S]."""
    rate: float
    """nu (power law, dimensionless) or k [S per e-fold of time] (log law)."""
    t0_s: float
    rmse_relative: float
    """Root-mean-square of (measured - fit) / fit."""
    r2: float
    n: int
    rate_se: float = math.nan
    """Standard error of ``rate``."""

    def __call__(self, time_s: object) -> np.ndarray:
        t = np.asarray(time_s, dtype=float) / self.t0_s
        if self.law == "power":
            return self.g0_s * t ** (-self.rate)
        return self.g0_s + self.rate * np.log(t)

    def time_to_loss(self, fraction: float, t_ref_s: float) -> float:
        """When the law has fallen to (1 - fraction) of its value at ``t_ref_s`` [s]."""
        if not 0 < fraction < 1:
            raise ValueError(f"fraction={fraction!r}: allowed 0 < fraction < 1 (0.1 for 10 %)")
        if self.law == "power":
            if self.rate <= 0:
                return math.inf
            return t_ref_s * (1.0 - fraction) ** (-1.0 / self.rate)
        g_ref = float(self(t_ref_s))
        if self.rate >= 0 or g_ref <= 0:
            return math.inf
        return t_ref_s * math.exp(-fraction * g_ref / self.rate)


def _times(time_s: object, conductance_s: object) -> tuple[np.ndarray, np.ndarray]:
    t = as_1d("time_s", time_s, min_size=2)
    g = as_1d("conductance_s", conductance_s, min_size=2)
    same_length(time_s=t, conductance_s=g)
    ok = np.isfinite(t) & np.isfinite(g) & (t > 0)
    if np.count_nonzero(ok) < 2 or np.ptp(t[ok]) == 0:
        raise ValueError("retention: needs reads at two or more distinct times t > 0 s after programming")
    return t[ok], g[ok]


def _check_t0(t0_s: float) -> float:
    if not t0_s > 0:
        raise ValueError(f"t0_s={t0_s!r}: the reference time must be > 0 s")
    return float(t0_s)


def fit_power_law_drift(time_s: object, conductance_s: object, *, t0_s: float = 1.0) -> DriftFit:
    """``G = G0 (t/t0)^-nu`` by least squares in log-log (conductances must be positive)."""
    t, g = _times(time_s, conductance_s)
    t0 = _check_t0(t0_s)
    if np.any(g <= 0):
        raise ValueError("conductance_s: a power-law drift needs positive conductances")
    line = linear_fit(np.log(t / t0), np.log(g))
    fit = DriftFit("power", float(np.exp(line.intercept)), -line.slope, t0, math.nan, line.r2, line.n,
                   line.slope_se)
    return _with_rel_rmse(fit, t, g)


def fit_log_drift(time_s: object, conductance_s: object, *, t0_s: float = 1.0) -> DriftFit:
    """``G = G0 + k ln(t/t0)`` by least squares."""
    t, g = _times(time_s, conductance_s)
    t0 = _check_t0(t0_s)
    line = linear_fit(np.log(t / t0), g)
    fit = DriftFit("log", line.intercept, line.slope, t0, math.nan, line.r2, line.n, line.slope_se)
    return _with_rel_rmse(fit, t, g)


def _with_rel_rmse(fit: DriftFit, t: np.ndarray, g: np.ndarray) -> DriftFit:
    model = fit(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = float(np.sqrt(np.mean(((g - model) / model) ** 2)))
    return DriftFit(fit.law, fit.g0_s, fit.rate, fit.t0_s, rel, fit.r2, fit.n, fit.rate_se)


@dataclass(frozen=True)
class RetentionResult:
    power: DriftFit | None
    """None when some reads are at or below 0 S (no power law)."""
    log: DriftFit
    best: str
    """The law with the smaller relative residual: "power" or "log"."""
    loss_fraction: float
    time_to_loss: FigureOfMerit
    """Time to lose ``loss_fraction`` by the better law [s]; extrapolated at most
    :data:`~memlab.analysis.metrics.fom.MAX_EXTRAPOLATION` times the measured time, a lower bound
    beyond, not determined when the drift is within noise."""
    drift_nu: FigureOfMerit
    """Power-law exponent nu with its interval."""
    drift_log_s: FigureOfMerit
    """Log-law slope k [S per e-fold of time] with its interval."""
    t_first_s: float
    t_last_s: float

    @property
    def time_to_loss_s(self) -> float:
        """The time to loss as a number: NaN unless determined."""
        return float(self.time_to_loss)


def _rate_figure(fit: DriftFit, confidence: float) -> FigureOfMerit:
    if fit.n < 3:
        return FigureOfMerit.not_determined(f"too few points ({fit.n} reads, at least 3 needed)", fit.n)
    return FigureOfMerit.from_stderr(fit.rate, fit.rate_se, fit.n, dof=fit.n - 2, confidence=confidence)


def _time_to_loss(fit: DriftFit, rate: FigureOfMerit, fraction: float, t_first: float, t_last: float,
                  noise_ok: bool, n: int) -> FigureOfMerit:
    measured = f"{format_number(t_last)} s measured"
    if not rate.determined:
        return FigureOfMerit.not_determined(rate.reason, n)
    if not noise_ok:
        return FigureOfMerit.not_determined(f"data within noise (read scatter comparable to the "
                                            f"conductance; {measured})", n)
    significant = rate.low > 0 if fit.law == "power" else rate.high < 0
    if not significant:
        return FigureOfMerit.not_determined(
            f"drift within noise ({fit.law} rate {rate.text(digits=2)} includes no loss; "
            f"no {fraction:.0%} loss within the {measured})", n)

    def at(rate_value: float) -> float:
        return DriftFit(fit.law, fit.g0_s, rate_value, fit.t0_s, fit.rmse_relative, fit.r2, fit.n
                        ).time_to_loss(fraction, t_first)

    t = at(rate.value)
    limit = MAX_EXTRAPOLATION * t_last
    if not t <= limit:
        return FigureOfMerit.at_least(t_last, n, f"not reached within the measurement; extrapolating "
                                                 f"beyond {MAX_EXTRAPOLATION:g}x the measured time refused")
    # a faster loss rate shortens the time: the interval's ends come from the rate's ends
    fast, slow = (rate.high, rate.low) if fit.law == "power" else (rate.low, rate.high)
    return FigureOfMerit.from_interval(t, at(fast), at(slow), n, confidence=rate.confidence,
                                       quality=OK if t <= t_last else EXTRAPOLATED)


def retention(time_s: object, conductance_s: object, *, loss_fraction: float = 0.1,
              t0_s: float = 1.0, confidence: float = CONFIDENCE) -> RetentionResult:
    """Both drift fits of one device, their rates with intervals, and the time to lose
    ``loss_fraction`` (see the module docstring for when it is not determined)."""
    log = fit_log_drift(time_s, conductance_s, t0_s=t0_s)
    t, g = _times(time_s, conductance_s)
    t_first, t_last = float(t.min()), float(t.max())
    k = _rate_figure(log, confidence)
    if np.all(g > 0):
        power: DriftFit | None = fit_power_law_drift(time_s, conductance_s, t0_s=t0_s)
        nu = _rate_figure(power, confidence)
    else:  # reads at or below 0 S: the conductance is lost in the read noise
        power, nu = None, FigureOfMerit.not_determined("data within noise (reads at or below 0 S)", len(t))
    best = "power" if power is not None and power.rmse_relative <= log.rmse_relative else "log"
    fit, rate = (power, nu) if best == "power" and power is not None else (log, k)
    # within noise: the read scatter about the fit is comparable to the conductance itself
    noise_ok = bool(power is not None and fit.rmse_relative < MAX_RELATIVE_SCATTER)
    if len(t) < MIN_READS:
        ttl = FigureOfMerit.not_determined(f"too few points ({len(t)} reads, at least {MIN_READS} needed)",
                                           len(t))
    else:
        ttl = _time_to_loss(fit, rate, loss_fraction, t_first, t_last, noise_ok, len(t))
        other = log if best == "power" else power
        if other is not None and ttl.determined and other.rmse_relative <= LAW_AMBIGUITY * fit.rmse_relative:
            # the data do not tell the laws apart: the interval spans both laws' intervals
            alt = _time_to_loss(other, k if best == "power" else nu, loss_fraction, t_first, t_last, noise_ok,
                                len(t))
            if alt.determined:
                ttl = FigureOfMerit.from_interval(ttl.value, min(ttl.low, alt.low), max(ttl.high, alt.high),
                                                  ttl.n, confidence=ttl.confidence, quality=ttl.quality)
    return RetentionResult(power, log, best, loss_fraction, ttl, nu, k, t_first, t_last)
