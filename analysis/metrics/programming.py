"""Figures of merit of multilevel programming (write-verify).

**Distinguishable levels**: the programmed conductances of each target level form a distribution
(over repeats or devices). Each level's distribution is summarised by the central interval
``mean +- z * std`` that holds ``confidence`` of a normal distribution (z = 2.576 at 0.99). The
number of distinguishable levels is the largest number of levels whose intervals do not overlap
(found by interval scheduling: sort by upper edge, keep each level that starts above the last
kept one's upper edge).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from memlab.analysis.fitting import as_1d, same_length, z_for_confidence

__all__ = [
    "LevelInterval", "level_intervals", "distinguishable_levels", "pulses_per_level", "final_error",
    "write_verify_success_rate",
]


@dataclass(frozen=True)
class LevelInterval:
    level: float
    n: int
    mean: float
    std: float
    low: float
    high: float


def level_intervals(conductance_s: object, level: object, *, confidence: float = 0.99,
                    min_samples: int = 2) -> list[LevelInterval]:
    """The ``confidence`` interval of each level's conductance [S], sorted by level.

    Levels with fewer than ``min_samples`` finite samples are left out (no spread to judge).
    """
    g = as_1d("conductance_s", conductance_s)
    lv = as_1d("level", level)
    same_length(conductance_s=g, level=lv)
    if min_samples < 2:
        raise ValueError(f"min_samples={min_samples!r}: at least 2 samples are needed for a spread")
    z = z_for_confidence(confidence)
    out = []
    for label in np.unique(lv[np.isfinite(lv)]):
        x = g[(lv == label) & np.isfinite(g)]
        if x.size < min_samples:
            continue
        mean, std = float(np.mean(x)), float(np.std(x, ddof=1))
        out.append(LevelInterval(float(label), int(x.size), mean, std, mean - z * std, mean + z * std))
    return out


def distinguishable_levels(conductance_s: object, level: object, *, confidence: float = 0.99) -> int:
    """How many levels have non-overlapping conductance distributions at ``confidence``.

    :param conductance_s: programmed (read-back) conductance of every sample [S].
    :param level: the target level each sample was programmed to (any label).
    :param confidence: central fraction of each level's normal distribution that must not
        overlap another's (e.g. 0.99, 0.997).
    :raises ValueError: when no level has two samples.
    """
    intervals = level_intervals(conductance_s, level, confidence=confidence)
    if not intervals:
        raise ValueError("distinguishable levels: no level has at least 2 samples, so no spread "
                         "can be estimated; repeat the programming or program several devices")
    count, edge = 0, -math.inf
    for iv in sorted(intervals, key=lambda x: x.high):
        if iv.low > edge:
            count += 1
            edge = iv.high
    return count


def pulses_per_level(pulses: object) -> float:
    """Mean number of programming pulses a level took."""
    p = as_1d("pulses", pulses)
    if np.any(p[np.isfinite(p)] < 0):
        raise ValueError("pulses: counts must be >= 0")
    return float(np.nanmean(p))


def final_error(final_s: object, target_s: object) -> float:
    """Mean absolute relative error ``|final - target| / |target|`` of the programmed levels."""
    f = as_1d("final_s", final_s)
    t = as_1d("target_s", target_s)
    same_length(final_s=f, target_s=t)
    if np.any(t == 0):
        raise ValueError("target_s: a target of 0 S has no relative error; targets must be nonzero")
    return float(np.nanmean(np.abs(f - t) / np.abs(t)))


def write_verify_success_rate(success: object) -> float:
    """Fraction of levels that reached their target within tolerance (``success``: 0/1 per level)."""
    s = as_1d("success", success)
    values = set(np.unique(s).tolist())
    if not values <= {0.0, 1.0}:
        raise ValueError(f"success: values {sorted(values)} found; allowed 0 and 1")
    return float(np.mean(s))
