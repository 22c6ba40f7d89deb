"""Figures of merit of multilevel programming (write-verify).

**Distinguishable levels**: the programmed conductances of each target level form a distribution
(over repeats or devices). Each level's distribution is summarised by the central interval
``mean +- z * std`` that holds ``confidence`` of a normal distribution (z = 2.576 at 0.99). The
number of distinguishable levels is the largest number of levels whose intervals do not overlap
(found by interval scheduling: sort by upper edge, keep each level that starts above the last
kept one's upper edge). Each level needs at least :data:`MIN_SAMPLES_PER_LEVEL` samples (one
per programming: repeats or devices), else the count is not determined; its interval is a
bootstrap over the samples of each level. The samples must all be read at one stated delay after
programming: right after verify (t = 0, the ``final`` column) or after a relaxation delay (the
``relaxed`` column of write-verify's ``check_reads``); levels relax, so the count falls with the delay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from memlab.analysis.fitting import as_1d, same_length, z_for_confidence
from memlab.analysis.metrics.fom import CONFIDENCE, FigureOfMerit, fraction_figure, mean_figure

__all__ = [
    "MIN_SAMPLES_PER_LEVEL", "LevelInterval", "level_intervals", "distinguishable_levels", "pulses_per_level", "final_error",
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


MIN_SAMPLES_PER_LEVEL = 5
"""Fewest programmed samples per level for a count of distinguishable levels: with fewer, a
level's spread (and so its interval) is too uncertain to judge overlaps."""


def _count(intervals: list[LevelInterval]) -> int:
    count, edge = 0, -math.inf
    for iv in sorted(intervals, key=lambda x: x.high):
        if iv.low > edge:
            count += 1
            edge = iv.high
    return count


def distinguishable_levels(conductance_s: object, level: object, *, confidence: float = 0.99,
                           min_samples: int = MIN_SAMPLES_PER_LEVEL, interval_confidence: float = CONFIDENCE,
                           resamples: int = 300, seed: int = 0) -> FigureOfMerit:
    """How many levels have non-overlapping conductance distributions at ``confidence``, with a
    bootstrap interval (samples resampled within each level) at ``interval_confidence``.

    :param conductance_s: programmed (read-back) conductance of every sample [S], all read at the
        same delay after programming (say which in the report).
    :param level: the target level each sample was programmed to (any label).
    :param confidence: central fraction of each level's normal distribution that must not
        overlap another's (e.g. 0.99, 0.997).
    :param min_samples: samples every level needs; fewer: not determined.
    """
    g = as_1d("conductance_s", conductance_s)
    lv = as_1d("level", level)
    same_length(conductance_s=g, level=lv)
    if min_samples < 2:
        raise ValueError(f"min_samples={min_samples!r}: at least 2 samples are needed for a spread")
    labels = np.unique(lv[np.isfinite(lv)])
    groups = [g[(lv == x) & np.isfinite(g)] for x in labels]
    fewest = min((x.size for x in groups), default=0)
    if not groups or fewest < min_samples:
        return FigureOfMerit.not_determined(
            f"too few points ({fewest} samples of the sparsest level, at least {min_samples} per level "
            f"needed for {confidence:.0%} intervals)", int(g.size))
    z = z_for_confidence(confidence)

    def count(samples: list[np.ndarray]) -> int:
        ivs = []
        for x in samples:
            mean, std = float(np.mean(x)), float(np.std(x, ddof=1))
            ivs.append(LevelInterval(0.0, x.size, mean, std, mean - z * std, mean + z * std))
        return _count(ivs)

    value = count(groups)
    rng = np.random.default_rng(seed)
    boot = np.array([count([x[rng.integers(0, x.size, x.size)] for x in groups]) for _ in range(resamples)])
    a = (1 - interval_confidence) / 2
    lo, hi = np.quantile(boot, [a, 1 - a])
    return FigureOfMerit.from_interval(float(value), min(float(lo), value), max(float(hi), value),
                                       int(sum(x.size for x in groups)), confidence=interval_confidence)


def pulses_per_level(pulses: object) -> FigureOfMerit:
    """Mean number of programming pulses a level took, with its Student-t interval."""
    p = as_1d("pulses", pulses)
    if np.any(p[np.isfinite(p)] < 0):
        raise ValueError("pulses: counts must be >= 0")
    return mean_figure(p, what="levels")


def final_error(final_s: object, target_s: object) -> FigureOfMerit:
    """Mean absolute relative error ``|final - target| / |target|`` of the programmed levels."""
    f = as_1d("final_s", final_s)
    t = as_1d("target_s", target_s)
    same_length(final_s=f, target_s=t)
    if np.any(t == 0):
        raise ValueError("target_s: a target of 0 S has no relative error; targets must be nonzero")
    return mean_figure(np.abs(f - t) / np.abs(t), what="levels")


def write_verify_success_rate(success: object) -> FigureOfMerit:
    """Fraction of levels that reached their target within tolerance (Wilson interval)."""
    s = as_1d("success", success)
    values = set(np.unique(s).tolist())
    if not values <= {0.0, 1.0}:
        raise ValueError(f"success: values {sorted(values)} found; allowed 0 and 1")
    return fraction_figure(int(s.sum()), int(s.size))
