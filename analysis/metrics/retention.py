"""Figures of merit of retention: drift fits and the extrapolated time to a 10 % loss.

Two drift laws are fitted to conductance versus time since programming (t > 0 only):

- **power law** (PCM-like): ``G(t) = G0 (t / t0)^-nu``, a line in log G versus log t;
- **log-time** (ReRAM-like): ``G(t) = G0 + k ln(t / t0)``, a line in G versus ln t (k in S per
  e-fold of time; negative for a loss).

t0 is 1 s unless given. The **time to a 10 % loss** is where the fitted law falls to 90 % of its
value at the first measured time, extrapolated as far as needed (``inf`` if the law does not fall).
The better law is the one with the smaller root-mean-square *relative* residual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from memlab.analysis.fitting import as_1d, linear_fit, same_length

__all__ = ["DriftFit", "RetentionResult", "fit_power_law_drift", "fit_log_drift", "retention"]


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
    fit = DriftFit("power", float(np.exp(line.intercept)), -line.slope, t0, math.nan, line.r2, line.n)
    return _with_rel_rmse(fit, t, g)


def fit_log_drift(time_s: object, conductance_s: object, *, t0_s: float = 1.0) -> DriftFit:
    """``G = G0 + k ln(t/t0)`` by least squares."""
    t, g = _times(time_s, conductance_s)
    t0 = _check_t0(t0_s)
    line = linear_fit(np.log(t / t0), g)
    fit = DriftFit("log", line.intercept, line.slope, t0, math.nan, line.r2, line.n)
    return _with_rel_rmse(fit, t, g)


def _with_rel_rmse(fit: DriftFit, t: np.ndarray, g: np.ndarray) -> DriftFit:
    model = fit(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = float(np.sqrt(np.mean(((g - model) / model) ** 2)))
    return DriftFit(fit.law, fit.g0_s, fit.rate, fit.t0_s, rel, fit.r2, fit.n)


@dataclass(frozen=True)
class RetentionResult:
    power: DriftFit
    log: DriftFit
    best: str
    """The law with the smaller relative residual: "power" or "log"."""
    loss_fraction: float
    time_to_loss_s: float
    """Extrapolated time to lose ``loss_fraction`` by the better law [s]."""
    time_to_loss_power_s: float
    time_to_loss_log_s: float
    t_first_s: float


def retention(time_s: object, conductance_s: object, *, loss_fraction: float = 0.1,
              t0_s: float = 1.0) -> RetentionResult:
    """Both drift fits of one device and the extrapolated time to lose ``loss_fraction``."""
    power = fit_power_law_drift(time_s, conductance_s, t0_s=t0_s)
    log = fit_log_drift(time_s, conductance_s, t0_s=t0_s)
    t, _ = _times(time_s, conductance_s)
    t_first = float(t.min())
    tp = power.time_to_loss(loss_fraction, t_first)
    tl = log.time_to_loss(loss_fraction, t_first)
    best = "power" if power.rmse_relative <= log.rmse_relative else "log"
    return RetentionResult(power, log, best, loss_fraction, tp if best == "power" else tl, tp, tl, t_first)
