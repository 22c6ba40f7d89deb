"""Figures of merit of bipolar I-V loops: SET/RESET voltages, HRS/LRS, on/off ratio, variability.

A cycle is one loop 0 -> +V -> 0 -> -V -> 0 (either polarity first). Each contiguous stretch of
one voltage sign is a *lobe*; the lobe of ``set_polarity`` is the SET lobe, the other the RESET
lobe. Up to its largest |V| a lobe *rises*, then it *falls* back.

Definitions (the same for every device and every run):

- **SET voltage**: on the rising part of the SET lobe, the voltage of the point reached by the
  largest step up in chord conductance ``ln|I/V|`` (where the current jumps). **RESET voltage**:
  the same with the largest step down, on the RESET lobe. Voltages keep their sign.
- A lobe that did not switch has no SET/RESET voltage (NaN): its conductance after the lobe must
  differ from that before by at least ``min_ratio``, both taken at the same small |V| (the
  smallest |V| both its rising and falling parts reach).
- **HRS / LRS**: ``read_voltage_v / I`` interpolated at |V| = |read_voltage_v| on the SET lobe's
  rising part (the state before SET: high resistance) and falling part (after SET: low).
- **On/off ratio**: HRS / LRS per cycle.
- **Variability**: coefficient of variation (std/mean) over cycles (cycle-to-cycle) or over
  per-device medians (device-to-device), see :func:`memlab.analysis.fitting.coefficient_of_variation`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from memlab.analysis.fitting import as_1d, coefficient_of_variation, same_length

__all__ = [
    "split_cycles", "set_reset_voltages", "resistance_states", "on_off_ratio", "IVSummary",
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


def set_reset_voltages(voltage_v: object, current_a: object, cycle: object | None = None, *,
                       set_polarity: int = 1, min_ratio: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """SET and RESET voltage of each cycle [V] (NaN where the lobe did not switch).

    :param voltage_v: applied voltage of every point [V].
    :param current_a: measured current of every point [A].
    :param cycle: cycle number of every point (None: all points are one cycle).
    :param set_polarity: +1 if SET happens at positive voltage, -1 if at negative.
    :param min_ratio: conductance change a lobe must make to count as switched (> 1).
    """
    v, i = _check(voltage_v, current_a)
    sign = _check_polarity(set_polarity)
    if not min_ratio > 1:
        raise ValueError(f"min_ratio={min_ratio!r}: allowed > 1")
    sets, resets = [], []
    with np.errstate(divide="ignore", invalid="ignore"):
        for idx in split_cycles(cycle, len(v)):
            cv, ci = v[idx], i[idx]
            for polarity, out in ((sign, sets), (-sign, resets)):
                parts = _lobe(cv, polarity)
                if parts is None or len(parts[0]) < 2:
                    out.append(math.nan)
                    continue
                rise, fall = parts
                ratio = _switched(cv, ci, rise, fall)
                switched = ratio >= min_ratio if polarity == sign else ratio <= 1 / min_ratio
                if not switched:
                    out.append(math.nan)
                    continue
                steps = np.diff(np.log(np.abs(ci[rise] / cv[rise])))
                steps = np.where(np.isfinite(steps), steps, 0.0)
                k = int(np.argmax(steps) if polarity == sign else np.argmin(steps))
                out.append(float(cv[rise[k + 1]]))
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


def _median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else math.nan


@dataclass(frozen=True)
class IVSummary:
    """Per-device figures of a set of I-V loops (medians over cycles, CV = cycle-to-cycle)."""

    cycles: int
    set_voltage_v: float
    reset_voltage_v: float
    hrs_ohm: float
    lrs_ohm: float
    on_off_ratio: float
    set_voltage_cv: float
    reset_voltage_cv: float
    hrs_cv: float
    lrs_cv: float
    switching_fraction: float
    """Fraction of cycles whose SET lobe switched."""


def iv_summary(voltage_v: object, current_a: object, cycle: object | None = None, *,
               read_voltage_v: float, set_polarity: int = 1, min_ratio: float = 1.5) -> IVSummary:
    """All I-V loop figures of one device: medians over cycles and cycle-to-cycle CVs."""
    sets, resets = set_reset_voltages(voltage_v, current_a, cycle, set_polarity=set_polarity,
                                      min_ratio=min_ratio)
    hrs, lrs = resistance_states(voltage_v, current_a, cycle, read_voltage_v=read_voltage_v,
                                 set_polarity=set_polarity)
    ratio = on_off_ratio(hrs, lrs)
    return IVSummary(
        cycles=len(sets),
        set_voltage_v=_median(sets),
        reset_voltage_v=_median(resets),
        hrs_ohm=_median(hrs),
        lrs_ohm=_median(lrs),
        on_off_ratio=_median(ratio),
        set_voltage_cv=coefficient_of_variation(sets),
        reset_voltage_cv=coefficient_of_variation(resets),
        hrs_cv=coefficient_of_variation(hrs),
        lrs_cv=coefficient_of_variation(lrs),
        switching_fraction=float(np.mean(np.isfinite(sets))) if len(sets) else math.nan,
    )


def switching_summary(cycle: object, polarity: object, voltage_v: object,
                      resistance_ohm: object) -> IVSummary:
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
    return IVSummary(
        cycles=len(cycles),
        set_voltage_v=_median(sets),
        reset_voltage_v=_median(resets),
        hrs_ohm=_median(hrs),
        lrs_ohm=_median(lrs),
        on_off_ratio=_median(ratio),
        set_voltage_cv=coefficient_of_variation(sets),
        reset_voltage_cv=coefficient_of_variation(resets),
        hrs_cv=coefficient_of_variation(hrs),
        lrs_cv=coefficient_of_variation(lrs),
        switching_fraction=float(np.mean(np.isfinite(ratio) & (ratio > 1))),
    )
