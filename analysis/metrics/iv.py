"""Figures of merit of bipolar I-V loops: SET/RESET voltages, HRS/LRS, on/off ratio, variability.

A cycle is one loop 0 -> +V -> 0 -> -V -> 0 (either polarity first). Each contiguous stretch of
one voltage sign is a *lobe*; the lobe of ``set_polarity`` is the SET lobe, the other the RESET
lobe. Up to its largest |V| a lobe *rises*, then it *falls* back.

Definitions (the same for every device and every run):

- **SET / RESET voltage**: on the rising part of the SET (RESET) lobe, located by the method named
  (``set_method`` / ``reset_method``): ``"jump"`` the point reached by the largest step up (down)
  in chord conductance ``ln|I/V|``; ``"derivative"`` the extremum of d|I|/d|V| (largest for SET,
  most negative for RESET); ``"threshold"`` the first point whose chord conductance crosses
  ``threshold_s``; ``"peak"`` the |I| maximum (the onset of a gradual RESET; the default for
  RESET). Whichever the method, the event lies within one voltage step; the value is that step's
  midpoint (so half a step is the resolution). An event at the lobe's apex is the sweep limit,
  not a switching event: that cycle has no value. Voltages keep their sign.
- A lobe that did not switch has no SET/RESET voltage (NaN): its conductance after the lobe must
  differ from that before by at least ``min_ratio``, both taken at the same small |V| (the
  smallest |V| both its rising and falling parts reach).
- **HRS / LRS**: ``read_voltage_v / I`` interpolated at |V| = |read_voltage_v| on the SET lobe's
  rising part (the state before SET: high resistance) and falling part (after SET: low).
- **On/off ratio**: HRS / LRS per cycle.
- **Per device**: the mean over cycles with its Student-t 95 % interval (never narrower than half
  a voltage step), leaving out the first ``skip_cycles`` cycles (default 1: the first loop starts
  from the as-formed state).
- **Variability**: coefficient of variation (std/mean) over those cycles (cycle-to-cycle) with its
  chi-square interval, see :func:`memlab.analysis.metrics.fom.cv_figure`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from memlab.analysis.fitting import as_1d, same_length
from memlab.analysis.metrics.fom import (
    CONFIDENCE,
    FigureOfMerit,
    cv_figure,
    fraction_figure,
    mean_figure,
)

__all__ = [
    "SWITCH_METHODS", "split_cycles", "set_reset_voltages", "resistance_states", "on_off_ratio", "IVSummary",
    "iv_summary", "switching_summary",
]


def split_cycles(cycle: object | None, n: int) -> list[np.ndarray]:
    """Row indices of each cycle, in order of first appearance (one cycle when ``cycle`` is None)."""
    if cycle is None:
        return [np.arange(n)]
    c = np.asarray(cycle)
    if c.shape != (n,):
        raise ValueError(f"cycle: expected {n} values like voltage, got shape {c.shape}")
    labels, first = np.unique(c, return_index=True)
    return [np.flatnonzero(c == labels[i]) for i in np.argsort(first)]


def _lobes(v: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(sign, indices) of each contiguous run of one nonzero voltage sign."""
    s = np.sign(v).astype(int)
    out: list[tuple[int, np.ndarray]] = []
    start = None
    for k in range(len(s) + 1):
        cur = s[k] if k < len(s) else 0
        if start is not None and cur != s[start]:
            out.append((int(s[start]), np.arange(start, k)))
            start = None
        if start is None and cur != 0:
            start = k
    return out


def _lobe(v: np.ndarray, sign: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(rising, falling) indices of the first lobe of ``sign``; both include the apex."""
    for s, idx in _lobes(v):
        if s == sign and len(idx) >= 2:
            apex = int(np.argmax(np.abs(v[idx])))
            return idx[:apex + 1], idx[apex:]
    return None


def _conductance_at(v: np.ndarray, i: np.ndarray, idx: np.ndarray, v_abs: float) -> float:
    """Chord conductance |I/V| interpolated at |V| = v_abs along one monotonic part of a lobe."""
    x = np.abs(v[idx])
    g = np.abs(i[idx] / v[idx])
    order = np.argsort(x, kind="stable")
    x, g = x[order], g[order]
    if not x[0] <= v_abs <= x[-1]:
        return math.nan
    return float(np.interp(v_abs, x, g))


def _switched(v: np.ndarray, i: np.ndarray, rise: np.ndarray, fall: np.ndarray) -> float:
    """Conductance after / before the lobe, at the smallest |V| both parts reach."""
    v_ref = max(float(np.min(np.abs(v[rise]))), float(np.min(np.abs(v[fall]))))
    before = _conductance_at(v, i, rise, v_ref)
    after = _conductance_at(v, i, fall, v_ref)
    return after / before if before > 0 else math.nan


def _check(voltage_v: object, current_a: object) -> tuple[np.ndarray, np.ndarray]:
    v = as_1d("voltage_v", voltage_v, min_size=3)
    i = as_1d("current_a", current_a, min_size=3)
    same_length(voltage_v=v, current_a=i)
    return v, i


def _check_polarity(set_polarity: int) -> int:
    if set_polarity not in (1, -1):
        raise ValueError(f"set_polarity={set_polarity!r}: allowed +1 (SET at positive voltage) or -1")
    return set_polarity


SWITCH_METHODS = ("jump", "derivative", "threshold", "peak")
"""How a switching voltage is located on the rising part of its lobe (see the module docstring)."""


def _switch_index(v: np.ndarray, i: np.ndarray, rise: np.ndarray, towards: int, method: str,
                  threshold_s: float) -> int:
    """Index into ``rise`` of the first point after the switching event (the event lies between
    it and the point before); -1 when none."""
    g = np.abs(i[rise] / v[rise])
    if method == "jump":
        steps = np.diff(np.log(g))
        steps = np.where(np.isfinite(steps), steps, 0.0)
        return int(np.argmax(steps) if towards > 0 else np.argmin(steps)) + 1
    if method == "derivative":
        di = np.diff(np.abs(i[rise])) / np.diff(np.abs(v[rise]))
        di = np.where(np.isfinite(di), di, 0.0)
        return int(np.argmax(di) if towards > 0 else np.argmin(di)) + 1
    if method == "peak":
        return int(np.argmax(np.abs(i[rise]))) + 1
    crossed = np.flatnonzero(g >= threshold_s if towards > 0 else g <= threshold_s)
    return int(crossed[0]) if crossed.size else -1


def set_reset_voltages(voltage_v: object, current_a: object, cycle: object | None = None, *,
                       set_polarity: int = 1, min_ratio: float = 1.5, set_method: str = "jump",
                       reset_method: str = "peak", threshold_s: float | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """SET and RESET voltage of each cycle [V] (NaN where the lobe did not switch, or where the
    switching point found is the sweep limit: a sweep limit is never reported as a switching voltage).

    :param voltage_v: applied voltage of every point [V].
    :param current_a: measured current of every point [A].
    :param cycle: cycle number of every point (None: all points are one cycle).
    :param set_polarity: +1 if SET happens at positive voltage, -1 if at negative.
    :param min_ratio: conductance change a lobe must make to count as switched (> 1).
    :param set_method: one of :data:`SWITCH_METHODS` for the SET lobe.
    :param reset_method: one of :data:`SWITCH_METHODS` for the RESET lobe.
    :param threshold_s: conductance of the "threshold" method [S]; default the geometric mean of
        the lobe's conductance before and after switching.
    """
    v, i = _check(voltage_v, current_a)
    sign = _check_polarity(set_polarity)
    if not min_ratio > 1:
        raise ValueError(f"min_ratio={min_ratio!r}: allowed > 1")
    for name, method in (("set_method", set_method), ("reset_method", reset_method)):
        if method not in SWITCH_METHODS:
            raise ValueError(f"{name}={method!r}: allowed {', '.join(SWITCH_METHODS)}")
    if threshold_s is not None and not threshold_s > 0:
        raise ValueError(f"threshold_s={threshold_s!r}: must be > 0 S")
    sets, resets = [], []
    with np.errstate(divide="ignore", invalid="ignore"):
        for idx in split_cycles(cycle, len(v)):
            cv, ci = v[idx], i[idx]
            for polarity, out, method in ((sign, sets, set_method), (-sign, resets, reset_method)):
                parts = _lobe(cv, polarity)
                if parts is None or len(parts[0]) < 3:
                    out.append(math.nan)
                    continue
                rise, fall = parts
                ratio = _switched(cv, ci, rise, fall)
                switched = ratio >= min_ratio if polarity == sign else ratio <= 1 / min_ratio
                if not switched:
                    out.append(math.nan)
                    continue
                thr = threshold_s
                if thr is None:
                    v_ref = max(float(np.min(np.abs(cv[rise]))), float(np.min(np.abs(cv[fall]))))
                    thr = math.sqrt(_conductance_at(cv, ci, rise, v_ref) * _conductance_at(cv, ci, fall, v_ref))
                k = _switch_index(cv, ci, rise, 1 if polarity == sign else -1, method, thr)
                at_limit = k < 1 or k >= len(rise) - 1  # at the apex: the sweep limit, not an event
                # the event happened within the step from point k - 1 to k: its midpoint
                out.append(math.nan if at_limit else float(cv[rise[k - 1]] + cv[rise[k]]) / 2.0)
    return np.asarray(sets), np.asarray(resets)


def resistance_states(voltage_v: object, current_a: object, cycle: object | None = None, *,
                      read_voltage_v: float, set_polarity: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """High- and low-resistance state of each cycle [ohm], read at ``read_voltage_v`` on the loop.

    HRS is taken on the way up the SET lobe (before SET), LRS on the way down (after SET).
    Raises if the loops never reach ``|read_voltage_v|``.
    """
    v, i = _check(voltage_v, current_a)
    sign = _check_polarity(set_polarity)
    v_read = abs(float(read_voltage_v))
    if not v_read > 0:
        raise ValueError(f"read_voltage_v={read_voltage_v!r}: must be nonzero")
    v_max = float(np.max(np.abs(v[np.sign(v) == sign]), initial=0.0))
    if v_read > v_max:
        raise ValueError(f"read_voltage_v={read_voltage_v!r} V is outside the swept SET lobe "
                         f"(|V| up to {v_max:g} V); give a read voltage inside the sweep")
    hrs, lrs = [], []
    with np.errstate(divide="ignore", invalid="ignore"):
        for idx in split_cycles(cycle, len(v)):
            parts = _lobe(v[idx], sign)
            if parts is None:
                hrs.append(math.nan)
                lrs.append(math.nan)
                continue
            rise, fall = parts
            for part, out in ((rise, hrs), (fall, lrs)):
                g = _conductance_at(v[idx], i[idx], part, v_read)
                out.append(math.inf if g == 0 else 1.0 / g)  # no current: an open circuit
    return np.asarray(hrs), np.asarray(lrs)


def on_off_ratio(hrs_ohm: object, lrs_ohm: object) -> np.ndarray:
    """HRS / LRS of each cycle."""
    h = np.asarray(hrs_ohm, dtype=float)
    lo = np.asarray(lrs_ohm, dtype=float)
    if h.shape != lo.shape:
        raise ValueError(f"hrs_ohm and lrs_ohm: shapes {h.shape} and {lo.shape} differ")
    with np.errstate(divide="ignore", invalid="ignore"):
        return h / lo


def _per_cycle_figure(values: np.ndarray, skip: int, resolution: float, what: str,
                      confidence: float) -> FigureOfMerit:
    """Mean over the cycles after the first ``skip`` with its Student-t interval, never narrower
    than the measurement's resolution (half a voltage step)."""
    kept = values[skip:]
    finite = kept[np.isfinite(kept)]
    if kept.size and finite.size == 0:
        return FigureOfMerit.not_determined(f"no switching event below the sweep limit in {kept.size} cycles",
                                            0)
    fig = mean_figure(finite, confidence=confidence, what=f"cycles with a {what}")
    if not fig.determined or resolution <= 0:
        return fig
    half = max(fig.half_width, resolution / 2.0)
    return FigureOfMerit.from_interval(fig.value, fig.value - half, fig.value + half, fig.n,
                                       confidence=confidence)


@dataclass(frozen=True)
class IVSummary:
    """Per-device figures of a set of I-V loops: means over cycles with their intervals and
    cycle-to-cycle CVs, all over the cycles after the first ``skip_cycles`` (forming/first cycle)."""

    cycles: int
    cycles_used: int
    set_voltage_v: FigureOfMerit
    reset_voltage_v: FigureOfMerit
    hrs_ohm: FigureOfMerit
    lrs_ohm: FigureOfMerit
    on_off_ratio: FigureOfMerit
    set_voltage_cv: FigureOfMerit
    reset_voltage_cv: FigureOfMerit
    hrs_cv: FigureOfMerit
    lrs_cv: FigureOfMerit
    switching_fraction: FigureOfMerit
    """Fraction of the cycles used whose SET lobe switched (Wilson interval)."""


def _summary(sets: np.ndarray, resets: np.ndarray, hrs: np.ndarray, lrs: np.ndarray, skip: int,
             resolution: float, confidence: float, switched: np.ndarray) -> IVSummary:
    if skip < 0:
        raise ValueError(f"skip_cycles={skip!r}: allowed >= 0")
    skip = min(skip, max(len(sets) - 1, 0))  # never drop the only cycle
    ratio = on_off_ratio(hrs, lrs)
    used = len(sets) - skip
    return IVSummary(
        cycles=len(sets), cycles_used=used,
        set_voltage_v=_per_cycle_figure(sets, skip, resolution, "SET", confidence),
        reset_voltage_v=_per_cycle_figure(resets, skip, resolution, "RESET", confidence),
        hrs_ohm=_per_cycle_figure(hrs, skip, 0.0, "HRS read", confidence),
        lrs_ohm=_per_cycle_figure(lrs, skip, 0.0, "LRS read", confidence),
        on_off_ratio=_per_cycle_figure(ratio, skip, 0.0, "HRS/LRS", confidence),
        set_voltage_cv=cv_figure(sets[skip:], confidence=confidence, what="SET voltages", resolution=resolution),
        reset_voltage_cv=cv_figure(resets[skip:], confidence=confidence, what="RESET voltages",
                                   resolution=resolution),
        hrs_cv=cv_figure(hrs[skip:], confidence=confidence, what="HRS reads"),
        lrs_cv=cv_figure(lrs[skip:], confidence=confidence, what="LRS reads"),
        switching_fraction=fraction_figure(int(np.sum(switched[skip:])), used, confidence=confidence),
    )


def iv_summary(voltage_v: object, current_a: object, cycle: object | None = None, *,
               read_voltage_v: float, set_polarity: int = 1, min_ratio: float = 1.5,
               skip_cycles: int = 1, set_method: str = "jump", reset_method: str = "peak",
               confidence: float = CONFIDENCE) -> IVSummary:
    """All I-V loop figures of one device over the cycles after the first ``skip_cycles``
    (default 1: the first loop starts from the as-formed state)."""
    sets, resets = set_reset_voltages(voltage_v, current_a, cycle, set_polarity=set_polarity,
                                      min_ratio=min_ratio, set_method=set_method, reset_method=reset_method)
    hrs, lrs = resistance_states(voltage_v, current_a, cycle, read_voltage_v=read_voltage_v,
                                 set_polarity=set_polarity)
    v = np.asarray(voltage_v, dtype=float)
    steps = np.abs(np.diff(v))
    steps = steps[steps > 0]
    resolution = float(np.median(steps)) if steps.size else 0.0
    switched = np.isfinite(sets) | _lobes_switched(v, np.asarray(current_a, float), cycle, set_polarity,
                                                   min_ratio)
    return _summary(sets, resets, hrs, lrs, skip_cycles, resolution, confidence, switched)


def _lobes_switched(v: np.ndarray, i: np.ndarray, cycle: object | None, sign: int, min_ratio: float
                    ) -> np.ndarray:
    """Whether each cycle's SET lobe changed the conductance by ``min_ratio``."""
    out = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for idx in split_cycles(cycle, len(v)):
            parts = _lobe(v[idx], sign)
            ok = parts is not None and len(parts[0]) >= 2 and _switched(v[idx], i[idx], *parts) >= min_ratio
            out.append(bool(ok))
    return np.asarray(out, dtype=bool)


def switching_summary(cycle: object, polarity: object, voltage_v: object,
                      resistance_ohm: object, *, skip_cycles: int = 1,
                      confidence: float = CONFIDENCE) -> IVSummary:
    """The same figures from a pulsed ``switching`` run: one SET (+1) and one RESET (-1) event
    per cycle, each with the voltage that switched it and the resistance read after it.

    LRS is the resistance after each SET, HRS after each RESET; the on/off ratio of a cycle
    pairs its RESET with its SET.
    """
    pol = as_1d("polarity", polarity, min_size=2)
    v = as_1d("voltage_v", voltage_v, min_size=2)
    r = as_1d("resistance_ohm", resistance_ohm, min_size=2)
    c = as_1d("cycle", cycle, min_size=2)
    same_length(cycle=c, polarity=pol, voltage_v=v, resistance_ohm=r)
    bad = sorted(set(np.unique(pol).tolist()) - {1.0, -1.0})
    if bad:
        raise ValueError(f"polarity: values {bad} found; allowed +1 (SET) and -1 (RESET)")
    cycles = np.unique(c)

    def per_cycle(values: np.ndarray, sign: int) -> np.ndarray:
        # the last event of that polarity in each cycle (a cycle may retry a SET)
        out = np.full(len(cycles), math.nan)
        for k, cyc in enumerate(cycles):
            sel = np.flatnonzero((c == cyc) & (pol == sign))
            if sel.size:
                out[k] = values[sel[-1]]
        return out

    sets, resets = per_cycle(v, 1), per_cycle(v, -1)
    lrs, hrs = per_cycle(r, 1), per_cycle(r, -1)
    ratio = on_off_ratio(hrs, lrs)
    steps = np.abs(np.diff(np.unique(np.abs(v[np.isfinite(v)]))))
    resolution = float(np.min(steps)) if steps.size else 0.0
    return _summary(sets, resets, hrs, lrs, skip_cycles, resolution, confidence,
                    np.isfinite(ratio) & (ratio > 1))
