"""The value type of every figure of merit: a value with its uncertainty, its basis and its quality.

A :class:`FigureOfMerit` is one of

- **determined**: ``value`` with a confidence interval ``[low, high]`` (95 % unless stated), the
  standard error where one exists, and ``n``, the number of points it rests on;
- **extrapolated**: determined, but beyond the measured span (never more than
  :data:`MAX_EXTRAPOLATION` times it); flagged so in tables;
- **lower bound**: the event was not reached within the measurement, so only ``value`` < truth
  is known (printed ``> X (not reached within the measurement)``);
- **not determined**: the data cannot give it (within noise, too few points, a parameter at a
  bound, a failed fit); ``value`` is NaN and ``reason`` says why. It is never printed as a number.

Helpers give the intervals used throughout: Student-t for means and regression slopes,
distribution-free order statistics for medians, Wilson for fractions and a percentile bootstrap
where there is no closed form.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = [
    "CONFIDENCE", "MAX_EXTRAPOLATION", "OK", "EXTRAPOLATED", "LOWER_BOUND", "NOT_DETERMINED",
    "FigureOfMerit", "t_quantile", "mean_figure", "median_figure", "fraction_figure", "cv_figure",
    "bootstrap_interval", "is_figure", "format_number", "ratio_of_means_figure",
]

CONFIDENCE = 0.95
"""Confidence of every interval unless a function is told otherwise."""
MAX_EXTRAPOLATION = 10.0
"""No figure is extrapolated beyond this many times its measured span."""

OK, EXTRAPOLATED, LOWER_BOUND, NOT_DETERMINED = "ok", "extrapolated", "lower bound", "not determined"
QUALITIES = (OK, EXTRAPOLATED, LOWER_BOUND, NOT_DETERMINED)


def format_number(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits, integers as integers."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.{digits}g}"


@dataclass(frozen=True, eq=False)
class FigureOfMerit:
    """A figure of merit with its uncertainty; see the module docstring."""

    value: float
    low: float = math.nan
    high: float = math.nan
    n: int = 0
    quality: str = OK
    reason: str = ""
    stderr: float = math.nan
    confidence: float = CONFIDENCE

    def __post_init__(self) -> None:
        if self.quality not in QUALITIES:
            raise ValueError(f"quality={self.quality!r}: allowed {QUALITIES}")
        if self.quality == NOT_DETERMINED and not self.reason:
            raise ValueError("a figure that is not determined needs a reason")

    def _key(self) -> tuple:
        return (self.value, self.low, self.high, self.n, self.quality, self.reason, self.stderr, self.confidence)

    def __eq__(self, other: object) -> bool:
        """Equal fields, NaN equal to NaN (a figure read back from a file equals itself)."""
        if not isinstance(other, FigureOfMerit):
            return NotImplemented
        return all(a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
                   for a, b in zip(self._key(), other._key()))

    def __hash__(self) -> int:
        return hash(tuple("nan" if isinstance(x, float) and math.isnan(x) else x for x in self._key()))

    # -- constructors ---------------------------------------------------------------------
    @classmethod
    def from_stderr(cls, value: float, stderr: float, n: int, *, dof: int | None = None,
                    confidence: float = CONFIDENCE, quality: str = OK, reason: str = "") -> FigureOfMerit:
        """Symmetric interval ``value +- t * stderr`` (t of ``dof`` degrees of freedom; normal if None)."""
        if not (math.isfinite(value) and math.isfinite(stderr) and stderr >= 0):
            return cls.not_determined(reason or "fit failed (no finite value or standard error)", n)
        k = t_quantile(confidence, dof)
        return cls(float(value), value - k * stderr, value + k * stderr, int(n), quality, reason,
                   float(stderr), confidence)

    @classmethod
    def from_interval(cls, value: float, low: float, high: float, n: int, *,
                      confidence: float = CONFIDENCE, quality: str = OK, reason: str = "") -> FigureOfMerit:
        if not (math.isfinite(value) and math.isfinite(low) and math.isfinite(high)):
            return cls.not_determined(reason or "fit failed (no finite value or interval)", n)
        low, high = min(low, high), max(low, high)
        return cls(float(value), float(low), float(high), int(n), quality, reason, math.nan, confidence)

    @classmethod
    def not_determined(cls, reason: str, n: int = 0) -> FigureOfMerit:
        return cls(math.nan, math.nan, math.nan, int(n), NOT_DETERMINED, reason)

    @classmethod
    def at_least(cls, bound: float, n: int, reason: str = "not reached within the measurement"
                 ) -> FigureOfMerit:
        """Only a lower bound is known: the truth exceeds ``bound``."""
        return cls(float(bound), float(bound), math.inf, int(n), LOWER_BOUND, reason)

    # -- reading ----------------------------------------------------------------------------
    @property
    def determined(self) -> bool:
        return self.quality in (OK, EXTRAPOLATED)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0 if self.determined else math.nan

    def __float__(self) -> float:
        """The value where determined, NaN otherwise (a lower bound is not a value)."""
        return self.value if self.determined else math.nan

    def covers(self, truth: float) -> bool:
        """True when ``truth`` lies in the interval (or above a lower bound)."""
        if self.quality == LOWER_BOUND:
            return truth >= self.value
        return self.determined and self.low <= truth <= self.high

    def text(self, unit: str = "", digits: int = 3) -> str:
        """``1.23 ± 0.05 V``, ``4.1 (95 % CI 3.2 to 6.0) s``, ``> 3600 s (not reached ...)`` or
        ``not determined: <reason>``."""
        u = f" {unit}" if unit else ""
        if self.quality == NOT_DETERMINED:
            return f"not determined: {self.reason}"
        if self.quality == LOWER_BOUND:
            return f"> {format_number(self.value, digits)}{u} ({self.reason})"
        lo, hi = self.value - self.low, self.high - self.value
        width = max(lo, hi)
        if width > 0 and self.value != 0 and math.isfinite(width):
            # enough digits that the interval's ends differ in print
            digits = max(digits, min(8, int(math.ceil(math.log10(abs(self.value) / width))) + 2))
        if lo == 0 and hi == 0:  # every resample agreed: say so, not "exact"
            v = format_number(self.value, digits)
            core = f"{v}{u} ({self.confidence:.0%} CI {v} to {v})"
        elif max(lo, hi) <= 1.2 * min(lo, hi):
            core = f"{format_number(self.value, digits)} ± {format_number((lo + hi) / 2, 2)}{u}"
        else:
            core = (f"{format_number(self.value, digits)}{u} ({self.confidence:.0%} CI "
                    f"{format_number(self.low, digits)} to {format_number(self.high, digits)})")
        if self.quality == EXTRAPOLATED:
            core += " [extrapolated]"
        return core

    def __str__(self) -> str:
        return self.text()

    def columns(self, name: str) -> dict[str, object]:
        """The flat CSV columns of this figure: value, interval, n, quality (with reason)."""
        quality = self.quality if not self.reason else f"{self.quality}: {self.reason}"
        return {name: self.value if self.quality != NOT_DETERMINED else math.nan,
                f"{name}_low": self.low, f"{name}_high": self.high, f"{name}_n": self.n,
                f"{name}_quality": quality}


def is_figure(x: object) -> bool:
    return isinstance(x, FigureOfMerit)


def t_quantile(confidence: float = CONFIDENCE, dof: int | None = None) -> float:
    """Two-sided Student-t quantile (normal for ``dof`` None); numpy-only, via the Cornish-Fisher
    expansion (better than 1 % for dof >= 3, exact by table for dof 1 and 2)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence!r}: allowed 0 < confidence < 1 (e.g. 0.95)")
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    if dof is None:
        return z
    if dof < 1:
        raise ValueError(f"dof={dof!r}: at least 1 degree of freedom is needed for an interval")
    p = 0.5 + confidence / 2.0
    if dof == 1:
        return math.tan(math.pi * (p - 0.5))
    if dof == 2:
        a = 4 * p * (1 - p)
        return (2 * p - 1) * math.sqrt(2 / a)
    v = float(dof)
    return (z + (z ** 3 + z) / (4 * v) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * v ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * v ** 3))


def _finite(values: object) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    return arr[np.isfinite(arr)]


def mean_figure(values: object, *, confidence: float = CONFIDENCE, min_n: int = 2,
                what: str = "values") -> FigureOfMerit:
    """Mean with its Student-t interval."""
    x = _finite(values)
    if x.size < max(min_n, 2):
        return FigureOfMerit.not_determined(f"too few points ({x.size} {what}, at least {max(min_n, 2)} needed)",
                                            x.size)
    return FigureOfMerit.from_stderr(float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size)), x.size,
                                     dof=x.size - 1, confidence=confidence)


def median_figure(values: object, *, confidence: float = CONFIDENCE, what: str = "values") -> FigureOfMerit:
    """Median with a distribution-free interval from order statistics (binomial), which needs
    n >= 6 at 95 %; fewer points give the mean's Student-t interval around the mean instead."""
    x = np.sort(_finite(values))
    n = x.size
    if n < 2:
        return FigureOfMerit.not_determined(f"too few points ({n} {what}, at least 2 needed)", n)
    alpha = 1.0 - confidence
    # largest k with P(Binom(n, 1/2) < k) <= alpha / 2: the interval [x_(k), x_(n-k+1)]
    cdf, k = 0.0, 0
    for j in range(n + 1):
        cdf += math.comb(n, j) * 0.5 ** n
        if cdf > alpha / 2:
            break
        k = j + 1
    if k < 1:
        return mean_figure(x, confidence=confidence, what=what)
    return FigureOfMerit.from_interval(float(np.median(x)), float(x[k - 1]), float(x[n - k]), n,
                                       confidence=confidence)


def fraction_figure(successes: int, trials: int, *, confidence: float = CONFIDENCE) -> FigureOfMerit:
    """A fraction with its Wilson score interval (sound at 0 and 1 and for few trials)."""
    if trials < 1:
        return FigureOfMerit.not_determined("no trials", 0)
    z = t_quantile(confidence)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return FigureOfMerit.from_interval(p, max(0.0, centre - half), min(1.0, centre + half), trials,
                                       confidence=confidence)


def bootstrap_interval(values: object, statistic: Callable[[np.ndarray], float], *,
                       confidence: float = CONFIDENCE, resamples: int = 500, seed: int = 0
                       ) -> tuple[float, float]:
    """Percentile-bootstrap interval of ``statistic`` over resamples of ``values`` (axis 0)."""
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(resamples, len(x)))
    stats = np.array([statistic(x[i]) for i in idx])
    stats = stats[np.isfinite(stats)]
    if stats.size < resamples // 2:
        return math.nan, math.nan
    a = (1 - confidence) / 2
    return float(np.quantile(stats, a)), float(np.quantile(stats, 1 - a))


def ratio_of_means_figure(numerator: object, denominator: object, *, confidence: float = CONFIDENCE,
                          resamples: int = 500, seed: int = 0) -> FigureOfMerit:
    """mean(|numerator|) / mean(|denominator|) with a percentile bootstrap resampling each group."""
    a, b = np.abs(_finite(numerator)), np.abs(_finite(denominator))
    if a.size < 2 or b.size < 2:
        return FigureOfMerit.not_determined(f"too few points ({a.size} and {b.size} trials, at least 2 each "
                                            "needed)", a.size + b.size)
    if b.mean() == 0:
        return FigureOfMerit.not_determined("the denominator is zero within the data", a.size + b.size)
    rng = np.random.default_rng(seed)
    num = a[rng.integers(0, a.size, (resamples, a.size))].mean(axis=1)
    den = b[rng.integers(0, b.size, (resamples, b.size))].mean(axis=1)
    with np.errstate(divide="ignore"):
        ratios = num / den
    ratios = ratios[np.isfinite(ratios)]
    value = float(a.mean() / b.mean())
    if ratios.size < resamples * 0.9:
        return FigureOfMerit.not_determined("data within noise (the denominator's interval reaches 0)",
                                            a.size + b.size)
    q = (1 - confidence) / 2
    lo, hi = np.quantile(ratios, [q, 1 - q])
    return FigureOfMerit.from_interval(value, min(lo, value), max(hi, value), a.size + b.size,
                                       confidence=confidence)


def cv_figure(values: object, *, confidence: float = CONFIDENCE, min_n: int = 3,
              what: str = "values", resolution: float = 0.0) -> FigureOfMerit:
    """Coefficient of variation std/|mean| with an interval from the chi-square law of the sample
    variance (normal data), which a bootstrap of few points would understate. ``resolution``:
    the values' quantisation step (the interval's upper end is never below half of it over the mean)."""
    x = _finite(values)
    n = x.size
    if n < min_n:
        return FigureOfMerit.not_determined(f"too few points ({n} {what}, at least {min_n} needed)", n)
    mean = float(np.mean(x))
    if mean == 0:
        return FigureOfMerit.not_determined("the mean is zero", n)
    cv = float(np.std(x, ddof=1) / abs(mean))
    dof = n - 1
    # chi-square quantiles by Wilson-Hilferty
    z = t_quantile(confidence)

    def chi2(zq: float) -> float:
        return dof * (1 - 2 / (9 * dof) + zq * math.sqrt(2 / (9 * dof))) ** 3

    hi_q, lo_q = chi2(z), chi2(-z)
    low = cv * math.sqrt(dof / hi_q)
    high = cv * math.sqrt(dof / lo_q) if lo_q > 0 else math.inf
    # values quantised by ``resolution`` (a voltage step) hide a spread below it
    high = max(high, resolution / (2.0 * abs(mean)))
    if not math.isfinite(high):
        return FigureOfMerit.not_determined(f"too few points ({n} {what}) for an upper bound", n)
    return FigureOfMerit.from_interval(cv, low, high, n, confidence=confidence)
