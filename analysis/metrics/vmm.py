"""Figures of merit of vector-matrix multiplication on a crossbar: error versus the ideal product.

The ideal column current is ``G_target^T V``; the measured one carries programming error,
I-V nonlinearity, read noise and (on passive arrays) sneak currents. Errors are pooled over all
columns of all input vectors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["VmmErrors", "vmm_errors", "weight_error"]


@dataclass(frozen=True)
class VmmErrors:
    rmse_a: float
    mean_error_a: float
    """Bias: mean of measured - ideal [A]."""
    std_error_a: float
    max_abs_error_a: float
    nrmse: float
    """RMSE over the range (max - min) of the ideal currents."""
    median_relative_error: float
    """Median |measured - ideal| / |ideal| over outputs with a nonzero ideal."""
    correlation: float
    """Pearson correlation of measured and ideal."""
    gain: float
    """Least-squares slope through the origin of measured versus ideal (1 for a perfect array)."""
    outputs: int


def vmm_errors(measured_a: object, ideal_a: object) -> VmmErrors:
    """Error statistics of measured against ideal output currents (any matching shapes)."""
    m = np.asarray(measured_a, dtype=float)
    i = np.asarray(ideal_a, dtype=float)
    if m.shape != i.shape:
        raise ValueError(f"measured_a and ideal_a: shapes {m.shape} and {i.shape} differ")
    ok = np.isfinite(m) & np.isfinite(i)
    m, i = m[ok], i[ok]
    if m.size < 2:
        raise ValueError(f"vmm errors: {m.size} finite outputs, at least 2 needed")
    err = m - i
    span = float(np.ptp(i))
    nz = i != 0
    var_i = float(np.var(i))
    corr = float(np.corrcoef(m, i)[0, 1]) if var_i > 0 and np.var(m) > 0 else math.nan
    return VmmErrors(
        rmse_a=float(np.sqrt(np.mean(err ** 2))),
        mean_error_a=float(np.mean(err)),
        std_error_a=float(np.std(err, ddof=1)),
        max_abs_error_a=float(np.max(np.abs(err))),
        nrmse=float(np.sqrt(np.mean(err ** 2))) / span if span > 0 else math.nan,
        median_relative_error=float(np.median(np.abs(err[nz] / i[nz]))) if nz.any() else math.nan,
        correlation=corr,
        gain=float(np.sum(m * i) / np.sum(i * i)) if np.any(i) else math.nan,
        outputs=int(m.size),
    )


def weight_error(programmed_s: object, target_s: object) -> float:
    """RMS of (programmed - target) over the RMS of target: the programming error of the matrix."""
    p = np.asarray(programmed_s, dtype=float)
    t = np.asarray(target_s, dtype=float)
    if p.shape != t.shape:
        raise ValueError(f"programmed_s and target_s: shapes {p.shape} and {t.shape} differ")
    ok = np.isfinite(p) & np.isfinite(t)
    rms_t = float(np.sqrt(np.mean(t[ok] ** 2))) if ok.any() else 0.0
    if rms_t == 0:
        raise ValueError("target_s: all targets are zero (or NaN); no relative error")
    return float(np.sqrt(np.mean((p[ok] - t[ok]) ** 2))) / rms_t
