"""Figures of merit of optomemristor runs: photo-response, time constants, three-factor plasticity.

- **Photo-response exponent**: ``dG_ph = k P^gamma`` fitted in log-log over the powers applied.
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
from dataclasses import dataclass

import numpy as np

from memlab.analysis.fitting import ExpFit, PowerLawFit, as_1d, fit_exponential, power_law_fit, same_length

__all__ = [
    "photoresponse_exponent", "TimeConstants", "rise_decay_time_constants", "decay_time_constant",
    "eligibility_time_constant", "gating_ratio", "ThreeFactorResult", "three_factor",
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
    baseline = float(np.mean(y[dark])) if dark.any() else None
    return fit_exponential(d[lit], y[lit], offset=baseline)


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

    "With light" for the gating ratio means the trials at the shortest delay (coincident light
    and pulse); "without" the trials with NaN delay.
    """
    d = as_1d("delay_s", delay_s, min_size=2)
    y = as_1d("delta_s", delta_s, min_size=2)
    same_length(delay_s=d, delta_s=y)
    lit = np.isfinite(d)
    if not lit.any() or lit.all():
        raise ValueError("delay_s: the gating ratio needs trials both with light (a delay) and "
                         "without (NaN delay)")
    coincident = lit & (d == np.min(d[lit]))
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
