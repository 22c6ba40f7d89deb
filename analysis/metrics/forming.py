"""Figures of merit of electroforming: forming voltage and current, and yield.

A forming run ramps the voltage in steps (over one or more attempts) and reads the device after
each step. The device **formed** at the first step after which its resistance is at most
``threshold_ohm``; without a threshold, at the step with the largest single-step drop in
resistance, provided that drop is at least ``min_drop`` fold (a device that never drops that much
did not form). The forming voltage and current are that step's voltage and read current.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from memlab.analysis.fitting import as_1d, same_length
from memlab.analysis.metrics.fom import FigureOfMerit, fraction_figure

__all__ = ["FormingPoint", "forming_point", "forming_yield"]


@dataclass(frozen=True)
class FormingPoint:
    formed: bool
    voltage_v: float
    """Voltage of the step that formed the device (NaN if it did not form)."""
    voltage: FigureOfMerit
    """The forming voltage with its interval (previous step, this step]: the device formed
    somewhere on that step; a lower bound (the largest |V| applied) when it did not form."""
    current_a: float
    """Current read after that step (NaN if it did not form)."""
    step: int
    """Index (into the arrays given) of that step; -1 if it did not form."""
    resistance_ohm: float
    """Resistance after the last step."""


def forming_point(voltage_v: object, current_a: object, resistance_ohm: object, *,
                  threshold_ohm: float | None = None, min_drop: float = 10.0) -> FormingPoint:
    """Where a forming ramp formed the device; see the module docstring for the criterion.

    :param voltage_v: voltage of each step, in the order applied [V].
    :param current_a: current read after each step [A].
    :param resistance_ohm: resistance read after each step [ohm].
    :param threshold_ohm: formed once the resistance is at or below this (e.g. the procedure's
        target); None to use the largest drop instead.
    :param min_drop: smallest resistance drop (fold) that counts as forming when no threshold.
    """
    v = as_1d("voltage_v", voltage_v)
    i = as_1d("current_a", current_a)
    r = as_1d("resistance_ohm", resistance_ohm)
    same_length(voltage_v=v, current_a=i, resistance_ohm=r)
    if threshold_ohm is not None and not threshold_ohm > 0:
        raise ValueError(f"threshold_ohm={threshold_ohm!r}: must be > 0 ohm")
    if not min_drop > 1:
        raise ValueError(f"min_drop={min_drop!r}: allowed > 1 (a fold change)")
    last = float(r[-1])
    if threshold_ohm is not None:
        hits = np.flatnonzero(r <= threshold_ohm)
        k = int(hits[0]) if hits.size else -1
    else:
        k = -1
        if len(r) >= 2:
            with np.errstate(divide="ignore", invalid="ignore"):
                drops = r[:-1] / r[1:]
            drops = np.where(np.isfinite(drops), drops, 0.0)
            j = int(np.argmax(drops))
            if drops[j] >= min_drop:
                k = j + 1
    if k < 0:
        top = float(v[np.argmax(np.abs(v))])
        return FormingPoint(False, math.nan, FigureOfMerit.at_least(top, len(v), "did not form within the ramp"),
                            math.nan, -1, last)
    prev = float(v[k - 1]) if k > 0 and abs(v[k - 1]) < abs(v[k]) else 0.0
    return FormingPoint(True, float(v[k]), FigureOfMerit.from_interval(float(v[k]), prev, float(v[k]), len(v)),
                        float(i[k]), k, last)


def forming_yield(formed: object) -> FigureOfMerit:
    """Fraction of devices formed (``formed``: one 0/1 or bool per device tried), Wilson interval."""
    f = np.asarray(formed)
    if f.ndim != 1 or f.size == 0:
        raise ValueError(f"formed: expected a non-empty 1-D array of 0/1, got shape {f.shape}")
    values = set(np.unique(f.astype(float)).tolist())
    if not values <= {0.0, 1.0}:
        raise ValueError(f"formed: values {sorted(values)} found; allowed 0/1 or True/False")
    return fraction_figure(int(f.astype(float).sum()), int(f.size))
