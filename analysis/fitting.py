"""Small least-squares fits with numpy alone (no scipy): straight lines and exponentials.

An exponential ``y = offset + amplitude * exp(-t / tau)`` is linear in (offset, amplitude) once
tau is fixed, so it is fitted by a one-dimensional search over log(tau) whose every step is a
closed-form linear least-squares solve. This never diverges and needs no starting guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from memlab.analysis.metrics.fom import FigureOfMerit, t_quantile

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def as_1d(name: str, values: object, *, min_size: int = 1) -> np.ndarray:
    """``values`` as a float64 1-D array, refusing the wrong shape or too few points."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name}: {arr.size} values given, at least {min_size} needed")
    return arr


def same_length(**arrays: np.ndarray) -> int:
    """The common length of ``arrays``; a clear error naming them when they differ."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"arrays of unequal length: {lengths}")
    return next(iter(lengths.values()))


def coefficient_of_variation(values: object) -> float:
    """Sample standard deviation over the absolute mean (``std(ddof=1) / |mean|``), NaNs ignored.

    Used for cycle-to-cycle (values of one device over cycles) and device-to-device (one value
    per device) variability. NaN when fewer than two finite values or the mean is zero.
    """
    arr = np.asarray(values, dtype=float).ravel()
    arr = arr[np.isfinite(arr)]
    if arr.size < 2:
        return math.nan
    mean = float(np.mean(arr))
    if mean == 0.0:
        return math.nan
    return float(np.std(arr, ddof=1) / abs(mean))


def z_for_confidence(confidence: float) -> float:
    """Half-width, in standard deviations, of the central normal interval holding ``confidence``."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence!r}: allowed 0 < confidence < 1 (e.g. 0.99)")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


@dataclass(frozen=True)
class LinearFit:
    """``y = slope * x + intercept``; ``r2`` the coefficient of determination, ``rmse`` in y's unit."""

    slope: float
    intercept: float
    r2: float
    rmse: float
    n: int
    slope_se: float = math.nan
    """Standard error of the slope (residual variance on n - 2 degrees of freedom)."""
    intercept_se: float = math.nan
    cov: float = math.nan
    """Covariance of slope and intercept."""


def linear_fit(x: object, y: object) -> LinearFit:
    """Ordinary least-squares straight line through the finite (x, y) pairs (at least two)."""
    xa, ya = as_1d("x", x), as_1d("y", y)
    same_length(x=xa, y=ya)
    ok = np.isfinite(xa) & np.isfinite(ya)
    xa, ya = xa[ok], ya[ok]
    if xa.size < 2 or np.ptp(xa) == 0.0:
        raise ValueError(f"linear fit: needs at least two distinct finite x values, got {xa.size} points")
    slope, intercept = np.polyfit(xa, ya, 1)
    resid = ya - (slope * xa + intercept)
    ss_tot = float(np.sum((ya - ya.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid ** 2)) / ss_tot if ss_tot > 0 else 1.0
    n = int(xa.size)
    slope_se = intercept_se = cov = math.nan
    if n > 2:
        s2 = float(resid @ resid) / (n - 2)
        sxx = float(np.sum((xa - xa.mean()) ** 2))
        slope_se = math.sqrt(s2 / sxx)
        intercept_se = math.sqrt(s2 * (1.0 / n + xa.mean() ** 2 / sxx))
        cov = -xa.mean() * s2 / sxx
    return LinearFit(float(slope), float(intercept), r2, float(np.sqrt(np.mean(resid ** 2))), n,
                     slope_se, intercept_se, cov)


@dataclass(frozen=True)
class PowerLawFit:
    """``y = prefactor * x ** exponent``, fitted as a line in log-log; ``r2`` of that line."""

    exponent: float
    prefactor: float
    r2: float
    n: int
    exponent_se: float = math.nan
    """Standard error of the exponent (slope of the log-log line)."""

    @property
    def exponent_figure(self) -> FigureOfMerit:
        """The exponent with its Student-t interval (n - 2 degrees of freedom)."""
        if self.n < 3:
            return FigureOfMerit.not_determined(f"too few points ({self.n}, at least 3 needed)", self.n)
        return FigureOfMerit.from_stderr(self.exponent, self.exponent_se, self.n, dof=self.n - 2)


def power_law_fit(x: object, y: object) -> PowerLawFit:
    """Fit ``y = prefactor * x ** exponent`` on the points where both x and y are positive."""
    xa, ya = as_1d("x", x), as_1d("y", y)
    same_length(x=xa, y=ya)
    ok = np.isfinite(xa) & np.isfinite(ya) & (xa > 0) & (ya > 0)
    if ok.sum() < 2:
        raise ValueError(f"power-law fit: needs at least two points with x > 0 and y > 0, got {int(ok.sum())}")
    line = linear_fit(np.log(xa[ok]), np.log(ya[ok]))
    return PowerLawFit(line.slope, float(np.exp(line.intercept)), line.r2, line.n, line.slope_se)


@dataclass(frozen=True)
class ExpFit:
    """``y = offset + amplitude * exp(-(t - t0) / tau)`` (tau in t's unit); t0 is the first
    sample time, so amplitude is the distance from the asymptote there.

    ``at_bound`` is True when the best tau sits at the edge of the searched range: the data
    then show no curvature on that scale (tau far longer or shorter than the record).
    """

    tau: float
    amplitude: float
    offset: float
    t0: float
    rmse: float
    r2: float
    n: int
    at_bound: bool
    tau_low: float = math.nan
    tau_high: float = math.nan
    """Profile-likelihood 95 % interval of tau: where the residual sum of squares rises by the
    factor (1 + t^2 / (n - p)) over its minimum (NaN ends: beyond the searched range)."""

    @property
    def tau_figure(self) -> FigureOfMerit:
        """tau as a figure of merit: not determined when at a bound of the searched range or
        when its interval reaches past it."""
        if self.at_bound:
            return FigureOfMerit.not_determined("parameter at a bound (tau at the edge of the searched "
                                                "range: no curvature on the recorded scale)", self.n)
        if not (math.isfinite(self.tau_low) and math.isfinite(self.tau_high)):
            return FigureOfMerit.not_determined("the interval of tau reaches past the searched range", self.n)
        return FigureOfMerit.from_interval(self.tau, self.tau_low, self.tau_high, self.n)

    def __call__(self, t: object) -> np.ndarray:
        return self.offset + self.amplitude * np.exp(-(np.asarray(t, dtype=float) - self.t0) / self.tau)


def _solve(t: np.ndarray, y: np.ndarray, tau: float, offset: float | None) -> tuple[float, float, float]:
    """Best (offset, amplitude) for a fixed tau, and the residual sum of squares."""
    e = np.exp(-t / tau)
    if offset is None:
        # the 2 x 2 normal equations in closed form (this runs ~100 times per fit); lstsq only
        # when they are ill-conditioned (tau far beyond the record: e nearly constant)
        n, se, see = float(e.size), float(e.sum()), float(e @ e)
        det = n * see - se * se
        if det > 1e-9 * n * see:
            sy, sey = float(y.sum()), float(e @ y)
            c, a = (see * sy - se * sey) / det, (n * sey - se * sy) / det
        else:
            coef, *_ = np.linalg.lstsq(np.column_stack((np.ones_like(e), e)), y, rcond=None)
            c, a = float(coef[0]), float(coef[1])
    else:
        denom = float(e @ e)
        c, a = offset, (float(e @ (y - offset)) / denom if denom > 0 else 0.0)
    resid = y - c - a * e
    return c, a, float(resid @ resid)


def fit_exponential(t: object, y: object, *, offset: float | None = None,
                    tau_range: tuple[float, float] | None = None, grid: int = 48) -> ExpFit:
    """Least-squares fit of ``y = offset + amplitude * exp(-(t - t[0]) / tau)``.

    :param t: sample times (any unit; tau comes back in it), at least three finite points.
    :param offset: fix the asymptote (e.g. a baseline measured separately) instead of fitting it.
    :param tau_range: (min, max) tau searched; default 1/1000 of the sampled span to 1000 times it.
    :param grid: log-spaced tau values tried before the golden-section refinement.
    """
    ta, ya = as_1d("t", t), as_1d("y", y)
    same_length(t=ta, y=ya)
    ok = np.isfinite(ta) & np.isfinite(ya)
    ta, ya = ta[ok], ya[ok]
    if ta.size < (2 if offset is not None else 3):
        raise ValueError(f"exponential fit: {ta.size} finite points, at least 3 needed")
    span = float(np.ptp(ta))
    if span <= 0:
        raise ValueError("exponential fit: all t values are equal")
    t0 = float(ta.min())
    ts = ta - t0  # from the first sample, so exp() stays in range for any time origin
    lo, hi = tau_range if tau_range is not None else (span * 1e-3, span * 1e3)
    if not 0 < lo < hi:
        raise ValueError(f"tau_range={tau_range!r}: allowed 0 < min < max")
    logs = np.linspace(math.log(lo), math.log(hi), grid)
    sse = np.array([_solve(ts, ya, math.exp(v), offset)[2] for v in logs])
    k = int(np.argmin(sse))
    a_, b_ = logs[max(k - 1, 0)], logs[min(k + 1, grid - 1)]
    # Golden-section refinement of log(tau) between the grid neighbours of the best point.
    c_ = b_ - _GOLDEN * (b_ - a_)
    d_ = a_ + _GOLDEN * (b_ - a_)
    fc, fd = _solve(ts, ya, math.exp(c_), offset)[2], _solve(ts, ya, math.exp(d_), offset)[2]
    for _ in range(60):
        if fc < fd:
            b_, d_, fd = d_, c_, fc
            c_ = b_ - _GOLDEN * (b_ - a_)
            fc = _solve(ts, ya, math.exp(c_), offset)[2]
        else:
            a_, c_, fc = c_, d_, fd
            d_ = a_ + _GOLDEN * (b_ - a_)
            fd = _solve(ts, ya, math.exp(d_), offset)[2]
        if b_ - a_ < 1e-9:
            break
    log_tau = (a_ + b_) / 2.0
    tau = math.exp(log_tau)
    c, a, s = _solve(ts, ya, tau, offset)
    ss_tot = float(np.sum((ya - ya.mean()) ** 2))
    params = 2 if offset is not None else 3
    tau_low = tau_high = math.nan
    if ta.size > params and s > 0:
        limit = s * (1.0 + t_quantile(0.95, ta.size - params) ** 2 / (ta.size - params))

        def excess(log_t: float) -> float:
            return _solve(ts, ya, math.exp(log_t), offset)[2] - limit

        def edge(inner: float, outer: float) -> float:
            if excess(outer) <= 0:
                return math.nan  # still inside at the end of the searched range
            for _ in range(40):
                mid = (inner + outer) / 2.0
                inner, outer = (mid, outer) if excess(mid) <= 0 else (inner, mid)
            return math.exp((inner + outer) / 2.0)
        tau_low, tau_high = edge(log_tau, logs[0]), edge(log_tau, logs[-1])
    return ExpFit(
        tau=tau,
        amplitude=a,
        offset=c,
        t0=t0,
        rmse=math.sqrt(s / ta.size),
        r2=1.0 - s / ss_tot if ss_tot > 0 else 1.0,
        n=int(ta.size),
        at_bound=bool(log_tau <= logs[1] or log_tau >= logs[-2]),
        tau_low=tau_low,
        tau_high=tau_high,
    )
