"""Figures of merit of endurance cycling: cycles to failure and the window versus cycle.

The window of a recorded cycle is Gset / Greset. A device **fails** at the first recorded cycle
from which its window stays below ``min_window`` for ``consecutive`` records in a row (one noisy
record does not end a device's life when ``consecutive`` > 1). Endurance runs usually record
log-spaced cycles, so the failure cycle is known to within the recording interval: its interval
runs from the last working record to the first failing one. A device that never failed has the
lower bound "> last cycle (not reached)".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from memlab.analysis.fitting import as_1d, same_length
from memlab.analysis.metrics.fom import FigureOfMerit, median_figure

__all__ = ["EnduranceResult", "cycles_to_failure", "window_vs_cycle"]


@dataclass(frozen=True)
class EnduranceResult:
    failed: bool
    cycles_to_failure: FigureOfMerit
    """First failing recorded cycle, with the interval (last working record, first failing one];
    a lower bound (the last recorded cycle) when the device survived every record."""
    cycles_tested: float
    """Highest recorded cycle."""
    initial_window: FigureOfMerit
    """Median window of the first tenth of the records."""
    final_window: FigureOfMerit
    """Median window of the last tenth of the records."""


def cycles_to_failure(cycle: object, window: object, *, min_window: float = 2.0,
                      consecutive: int = 1) -> EnduranceResult:
    """When the window first closed below ``min_window`` (see the module docstring).

    :param cycle: cycle number of each record (increasing).
    :param window: Gset / Greset of each record (dimensionless).
    :param min_window: smallest window that still counts as working (> 1).
    :param consecutive: records in a row that must be below it.
    """
    c = as_1d("cycle", cycle)
    w = as_1d("window", window)
    same_length(cycle=c, window=w)
    if not min_window > 1:
        raise ValueError(f"min_window={min_window!r}: allowed > 1 (a ratio Gset/Greset)")
    if consecutive < 1:
        raise ValueError(f"consecutive={consecutive!r}: allowed >= 1")
    if np.any(np.diff(c) < 0):
        raise ValueError("cycle: records must be in increasing cycle order")
    below = ~(w >= min_window)  # NaN (an unreadable device) counts as closed
    run = np.convolve(below.astype(int), np.ones(consecutive, dtype=int), "valid")
    hits = np.flatnonzero(run == consecutive)
    tenth = max(1, len(w) // 10)
    first = median_figure(w[:max(tenth, 2)], what="records")
    last = median_figure(w[-max(tenth, 2):], what="records")
    if hits.size:
        k = int(hits[0])
        before = float(c[k - 1]) if k > 0 else 0.0
        return EnduranceResult(True, FigureOfMerit.from_interval(float(c[k]), before, float(c[k]), len(c)),
                               float(c[-1]), first, last)
    return EnduranceResult(False, FigureOfMerit.at_least(float(c[-1]), len(c), "no failure within the cycles tested"),
                           float(c[-1]), first, last)


def window_vs_cycle(cycle: object, window: object, *, points_per_decade: int = 10
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Window versus cycle on log-spaced cycle bins: (cycle centre, median, 10th, 90th percentile).

    Millions of cycles become a curve of a few dozen points; empty bins are dropped.
    """
    c = as_1d("cycle", cycle)
    w = as_1d("window", window)
    same_length(cycle=c, window=w)
    if points_per_decade < 1:
        raise ValueError(f"points_per_decade={points_per_decade!r}: allowed >= 1")
    ok = np.isfinite(c) & np.isfinite(w) & (c > 0)
    c, w = c[ok], w[ok]
    if c.size == 0:
        return (np.empty(0),) * 4
    lo, hi = math.log10(c.min()), math.log10(c.max())
    edges = np.logspace(lo, hi, max(2, int(math.ceil((hi - lo) * points_per_decade)) + 1))
    edges[-1] = np.nextafter(edges[-1], np.inf)  # the last record belongs to the last bin
    idx = np.digitize(c, edges) - 1
    centres, med, p10, p90 = [], [], [], []
    for k in np.unique(idx):
        sel = w[idx == k]
        centres.append(math.sqrt(edges[k] * edges[min(k + 1, len(edges) - 1)]))
        med.append(np.median(sel))
        p10.append(np.percentile(sel, 10))
        p90.append(np.percentile(sel, 90))
    return np.asarray(centres), np.asarray(med), np.asarray(p10), np.asarray(p90)
