"""Range checks shared by several drivers: voltage lists, SMU pulse trains, apertures, mains frequency.

They build on the one validation layer (:mod:`memlab.instruments.limits`) and raise its LimitError.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .limits import LimitError, SafetyLimits, as_number, require_int, require_range


def sweep_voltages(
    limits: SafetyLimits, voltages_v: Sequence[float] | np.ndarray, max_points: int, max_voltage_v: float, model: str
) -> np.ndarray:
    """``voltages_v`` as a float array, checked against the safety limits, the model's range and list length."""
    try:
        voltages = np.asarray(voltages_v, dtype=np.float64)
    except (TypeError, ValueError):
        raise LimitError("voltages_v", voltages_v, "a 1-D sequence of numbers", "numbers") from None
    if voltages.ndim != 1 or not 1 <= voltages.size <= max_points:
        raise LimitError(
            "voltages_v", f"<{voltages.size} values, shape {voltages.shape}>", f"1 .. {max_points} values",
            f"{model} list length",
        )
    bad = ~np.isfinite(voltages) | (np.abs(voltages) > min(limits.max_voltage_v, max_voltage_v))
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        parameter = f"voltages_v[{index}]"
        limits.check_voltage(voltages[index], parameter)
        require_range(parameter, voltages[index], -max_voltage_v, max_voltage_v, "V", f"{model} range")
    return voltages


def check_pulse_train(
    limits: SafetyLimits, level_v: float, width_s: float, period_s: float, count: int, base_v: float
) -> tuple[float, float, float, float, int]:
    """Checks shared by SMU pulse methods: levels against the SMU and the pulse limits, width, period, count."""
    level = limits.check_voltage(level_v, "level_v")
    limits.check_pulse_voltage(level, "level_v")
    base = limits.check_voltage(base_v, "base_v")
    limits.check_pulse_voltage(base, "base_v")
    width = limits.check_pulse_width(width_s)
    period = require_range("period_s", period_s, width, 1e5, "s", "allowed range (period >= width_s)")
    if period <= width:
        raise LimitError("period_s", period_s, f"> width_s = {width:g} s", "allowed range")
    n = require_int("count", count, 1, 1_000_000)
    return level, width, period, base, n


def pulse_aperture(width_s: float, line_frequency_hz: float, min_nplc: float, model: str) -> float:
    """NPLC that measures a pulse over at most half its width and at most one line cycle."""
    width = as_number("width_s", width_s)
    nplc = min(0.5 * width * line_frequency_hz, 1.0)
    if nplc < min_nplc:
        raise LimitError(
            "width_s", width_s, f">= {2 * min_nplc / line_frequency_hz:g} s (its shortest measurement must fit in "
            "half the pulse)", f"{model} range",
        )
    return nplc


def check_line_frequency(line_frequency_hz: float) -> float:
    value = as_number("line_frequency_hz", line_frequency_hz)
    if value not in (50.0, 60.0):
        raise LimitError("line_frequency_hz", line_frequency_hz, "50 or 60 Hz", "mains frequencies")
    return value


