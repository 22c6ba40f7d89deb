"""Laser diode calibration: drive current <-> optical power.

A laser diode emits (almost) nothing below its threshold current and roughly linearly above it,
P = slope * (I - I_th). Real diodes are not quite linear, so the calibration is a measured table
(current, power) that the bench file holds; conversions interpolate it linearly (``np.interp``) and
never extrapolate: asking for more power than was calibrated is an error, not a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .limits import LimitError, as_number, require_range


@dataclass(frozen=True, eq=False)
class LaserCalibration:
    """A measured current -> power table of one laser diode at one wavelength.

    ``current_a`` strictly increases from >= 0; ``power_w`` starts at 0 W (at or below threshold),
    stays at 0 up to the threshold and strictly increases after it, so power -> current is unique.
    """

    current_a: np.ndarray
    power_w: np.ndarray
    wavelength_m: float | None = None
    _lasing_from: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        current = np.asarray(self.current_a, dtype=np.float64)
        power = np.asarray(self.power_w, dtype=np.float64)
        if current.ndim != 1 or current.shape != power.shape or current.size < 2:
            raise ValueError(
                "LaserCalibration: current_a and power_w must be 1-D tables of the same length >= 2, "
                f"got shapes {current.shape} and {power.shape}"
            )
        if not (np.all(np.isfinite(current)) and np.all(np.isfinite(power))):
            raise ValueError("LaserCalibration: current_a and power_w must be finite numbers")
        if current[0] < 0 or np.any(np.diff(current) <= 0):
            raise ValueError(f"LaserCalibration: current_a={current.tolist()} must start >= 0 A and strictly increase")
        if power[0] != 0.0 or np.any(power < 0):
            raise ValueError(
                f"LaserCalibration: power_w={power.tolist()} must start at 0 W (the table has to begin at or "
                "below the threshold current) and never be negative"
            )
        # Last point that still emits nothing: the threshold. After it power must strictly rise.
        lasing_from = int(np.flatnonzero(power == 0.0)[-1])
        if lasing_from == power.size - 1:
            raise ValueError("LaserCalibration: power_w is 0 W everywhere; the table never reaches threshold")
        if np.any(np.diff(power[lasing_from:]) <= 0):
            raise ValueError(
                f"LaserCalibration: power_w={power.tolist()} must strictly increase above threshold "
                "(zero only up to the threshold current)"
            )
        if self.wavelength_m is not None:
            require_range("wavelength_m", self.wavelength_m, 100e-9, 20e-6, "m", "plausible laser wavelengths")
        current.flags.writeable = False
        power.flags.writeable = False
        object.__setattr__(self, "current_a", current)
        object.__setattr__(self, "power_w", power)
        object.__setattr__(self, "_lasing_from", lasing_from)

    @classmethod
    def linear(
        cls, threshold_a: float, slope_w_per_a: float, max_current_a: float, wavelength_m: float | None = None
    ) -> "LaserCalibration":
        """The ideal diode: 0 W up to ``threshold_a``, then ``slope_w_per_a`` watts per ampere."""
        threshold = require_range("threshold_a", threshold_a, 0.0, np.inf, "A")
        slope = require_range("slope_w_per_a", slope_w_per_a, 0.0, np.inf, "W/A")
        top = require_range("max_current_a", max_current_a, threshold, np.inf, "A")
        if slope <= 0 or top <= threshold:
            raise ValueError(
                f"LaserCalibration.linear: need slope_w_per_a > 0 (got {slope_w_per_a!r}) and "
                f"max_current_a > threshold_a (got {max_current_a!r} <= {threshold_a!r})"
            )
        if threshold == 0.0:
            return cls(np.array([0.0, top]), np.array([0.0, slope * top]), wavelength_m)
        return cls(np.array([0.0, threshold, top]), np.array([0.0, 0.0, slope * (top - threshold)]), wavelength_m)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "LaserCalibration":
        """From a bench-file table: either ``current_a`` + ``power_w`` lists, or ``threshold_a`` +
        ``slope_w_per_a`` + ``max_current_a``; ``wavelength_m`` optional in both."""
        keys = set(data)
        wavelength = data.get("wavelength_m")
        if keys <= {"current_a", "power_w", "wavelength_m"} and {"current_a", "power_w"} <= keys:
            return cls(np.asarray(data["current_a"], float), np.asarray(data["power_w"], float), wavelength)
        linear_keys = {"threshold_a", "slope_w_per_a", "max_current_a"}
        if linear_keys <= keys <= linear_keys | {"wavelength_m"}:
            return cls.linear(data["threshold_a"], data["slope_w_per_a"], data["max_current_a"], wavelength)
        raise ValueError(
            f"laser calibration keys {sorted(keys)}: give either current_a + power_w (tables) or "
            "threshold_a + slope_w_per_a + max_current_a, plus optionally wavelength_m"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "current_a": self.current_a.tolist(),
            "power_w": self.power_w.tolist(),
            "wavelength_m": self.wavelength_m,
        }

    @property
    def threshold_a(self) -> float:
        """The highest calibrated current that still emits 0 W."""
        return float(self.current_a[self._lasing_from])

    @property
    def max_power_w(self) -> float:
        return float(self.power_w[-1])

    @property
    def max_current_a(self) -> float:
        return float(self.current_a[-1])

    def current_for_power(self, power_w: float) -> float:
        """Drive current for ``power_w``; 0 W gives 0 A (below threshold nothing is emitted anyway)."""
        power = require_range("power_w", power_w, 0.0, self.max_power_w, "W", "calibrated range")
        if power == 0.0:
            return 0.0
        k = self._lasing_from
        return float(np.interp(power, self.power_w[k:], self.current_a[k:]))

    def power_for_current(self, current_a: float) -> float:
        """Optical power at ``current_a`` (0 W below threshold)."""
        current = as_number("current_a", current_a)
        if not 0.0 <= current <= self.max_current_a:
            raise LimitError("current_a", current_a, f"0 A .. {self.max_current_a:g} A", "calibrated range")
        return float(np.interp(current, self.current_a, self.power_w))
