"""Figures of merit of vector-matrix multiplication on a crossbar: error versus the ideal product.

The ideal column current is ``G_target^T V``; the measured one carries programming error,
I-V nonlinearity, read noise and (on passive arrays) sneak currents. Errors are pooled over all
columns of all input vectors.

Two errors are reported: against the **intended** weights (``inputs @ target``: everything the
array gets wrong, programming included) and against the **read-back** weights (the procedure's
``ideal``: the multiply's own error, read noise and I-V nonlinearity). Intervals are percentile
bootstraps over the outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from memlab.analysis.metrics.fom import CONFIDENCE, FigureOfMerit, mean_figure

__all__ = ["VmmErrors", "vmm_errors", "weight_error", "intended_outputs"]


@dataclass(frozen=True)
class VmmErrors:
    rmse_a: FigureOfMerit
    mean_error_a: FigureOfMerit
    """Bias: mean of measured - ideal [A]."""
    max_abs_error_a: float
    nrmse: FigureOfMerit
    """RMSE over the range (max - min) of the ideal currents."""
    correlation: FigureOfMerit
    """Pearson correlation of measured and ideal."""
    gain: FigureOfMerit
    """Least-squares slope through the origin of measured versus ideal (1 for a perfect array)."""
    outputs: int


def _stats(m: np.ndarray, i: np.ndarray) -> np.ndarray:
    err = m - i
    rmse = float(np.sqrt(np.mean(err ** 2)))
    span = float(np.ptp(i))
    corr = float(np.corrcoef(m, i)[0, 1]) if np.var(i) > 0 and np.var(m) > 0 else math.nan
    gain = float(np.sum(m * i) / np.sum(i * i)) if np.any(i) else math.nan
    return np.array([rmse, rmse / span if span > 0 else math.nan, corr, gain])


def vmm_errors(measured_a: object, ideal_a: object, *, confidence: float = CONFIDENCE,
               resamples: int = 400, seed: int = 0) -> VmmErrors:
    """Error statistics of measured against ideal output currents (any matching shapes), with
    percentile-bootstrap intervals over the outputs (the bias: Student-t)."""
    m = np.asarray(measured_a, dtype=float)
    i = np.asarray(ideal_a, dtype=float)
    if m.shape != i.shape:
        raise ValueError(f"measured_a and ideal_a: shapes {m.shape} and {i.shape} differ")
    ok = np.isfinite(m) & np.isfinite(i)
    m, i = m[ok], i[ok]
    if m.size < 2:
        raise ValueError(f"vmm errors: {m.size} finite outputs, at least 2 needed")
    value = _stats(m, i)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, m.size, size=(resamples, m.size))
    boot = np.array([_stats(m[k], i[k]) for k in idx])
    a = (1 - confidence) / 2
    figs = []
    for j, name in enumerate(("rmse", "nrmse", "correlation", "gain")):
        col = boot[:, j][np.isfinite(boot[:, j])]
        if not math.isfinite(value[j]) or col.size < resamples // 2:
            figs.append(FigureOfMerit.not_determined(f"{name}: the ideal outputs do not vary", m.size))
            continue
        lo, hi = np.quantile(col, [a, 1 - a])
        figs.append(FigureOfMerit.from_interval(value[j], min(lo, value[j]), max(hi, value[j]), m.size,
                                                confidence=confidence))
    return VmmErrors(rmse_a=figs[0], mean_error_a=mean_figure(m - i, confidence=confidence, what="outputs"),
                     max_abs_error_a=float(np.max(np.abs(m - i))), nrmse=figs[1], correlation=figs[2],
                     gain=figs[3], outputs=int(m.size))


def intended_outputs(inputs_v: object, target_s: object) -> np.ndarray:
    """The output currents the intended weights would give: ``inputs @ target`` per vector [A]."""
    x = np.asarray(inputs_v, dtype=float)
    w = np.asarray(target_s, dtype=float)
    if w.ndim == 3:  # one (rows, cols) matrix per weights row: the intended matrix is the first
        w = w[0]
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0]:
        raise ValueError(f"inputs_v {x.shape} and target_s {w.shape}: need (vectors, rows) and (rows, cols)")
    return x @ w


def weight_error(programmed_s: object, target_s: object, *, confidence: float = CONFIDENCE,
                 resamples: int = 400, seed: int = 0) -> FigureOfMerit:
    """RMS of (programmed - target) over the RMS of target: the programming error of the matrix,
    with a bootstrap interval over the devices."""
    p = np.asarray(programmed_s, dtype=float)
    t = np.asarray(target_s, dtype=float)
    if p.shape != t.shape:
        raise ValueError(f"programmed_s and target_s: shapes {p.shape} and {t.shape} differ")
    ok = np.isfinite(p) & np.isfinite(t)
    p, t = p[ok], t[ok]
    if not np.any(t):
        raise ValueError("target_s: all targets are zero (or NaN); no relative error")

    def stat(k: np.ndarray) -> float:
        rms_t = float(np.sqrt(np.mean(t[k] ** 2)))
        return float(np.sqrt(np.mean((p[k] - t[k]) ** 2))) / rms_t if rms_t > 0 else math.nan

    if p.size < 3:
        return FigureOfMerit.not_determined(f"too few points ({p.size} weights, at least 3 needed)", p.size)
    value = stat(np.arange(p.size))
    rng = np.random.default_rng(seed)
    boot = np.array([stat(rng.integers(0, p.size, p.size)) for _ in range(resamples)])
    a = (1 - confidence) / 2
    lo, hi = np.nanquantile(boot, [a, 1 - a])
    return FigureOfMerit.from_interval(value, min(lo, value), max(hi, value), p.size, confidence=confidence)
