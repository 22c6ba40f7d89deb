"""The one validation layer for numbers and ranges, and the safety limits of a bench.

Every range check in memlab goes through the functions here: :func:`as_number`,
:func:`require_range`, :func:`require_int`, :func:`require_choice`, :func:`require_bool` and
:class:`Bound` (a named range; a sequence of them is what the drivers' declared properties are
validated against, per instance, so the bench's limits apply). Drivers, procedure parameters, plans,
the bench file and the chip model all use them, so a refused value always reads the same:
parameter, value, what is allowed. Nothing is clamped.

A bench file sets one :class:`SafetyLimits`; each driver receives it and checks every level,
compliance, width and laser setting against it *in the driver layer*, so that a bad value is
refused with a :class:`LimitError` and nothing reaches the instrument. The same error type is used
for values outside what an instrument model can do (its ranges), so callers catch one thing.
Light to import (no pymeasure): storage-free code such as the plan checker uses it too.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable, Mapping, Sequence

from memlab.errors import MemlabError


def _fmt(value: float, unit: str) -> str:
    return f"{value:g} {unit}".rstrip()


def shown(value: Any) -> str:
    """A value as the user would have typed it (numpy scalars as plain numbers), at most 60 characters."""
    try:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            text = repr(int(value)) if abs(int(value)) < 10**60 else f"<an integer of about 10^{int(value).bit_length() * 0.30103:.0f}>"
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            text = repr(float(value))
        else:
            text = repr(value)
    except (ValueError, OverflowError, RecursionError):  # e.g. an int too long to print
        text = f"<a {type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


class LimitError(MemlabError, ValueError):
    """A value outside what is allowed: a safety limit of the bench or an instrument's range.

    The message names the parameter, the value and the allowed range, e.g.
    ``voltage_v=12 V is outside the safety limit: allowed -10 V .. 10 V (SafetyLimits.max_voltage_v)``.
    """

    def __init__(self, parameter: str, value: Any, allowed: str, reason: str = "safety limit") -> None:
        self.parameter = parameter
        self.value = value
        self.allowed = allowed
        self.reason = reason
        super().__init__(f"{parameter}={shown(value)} is outside the {reason}: allowed {allowed}")


def as_number(parameter: str, value: Any) -> float:
    """``value`` as a finite float, or a LimitError naming the parameter.

    NaN must be refused explicitly: every comparison with NaN is False, so it would pass a range check.
    """
    if isinstance(value, bool):
        raise LimitError(parameter, value, "a finite number", "numbers")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LimitError(parameter, value, "a finite number", "numbers") from None
    if not math.isfinite(number):
        raise LimitError(parameter, value, "a finite number", "numbers")
    return number


def require_range(
    parameter: str, value: Any, low: float, high: float, unit: str = "", reason: str = "allowed range"
) -> float:
    """Return ``value`` as a float if ``low <= value <= high``, else raise :class:`LimitError`."""
    number = as_number(parameter, value)
    if not low <= number <= high:
        raise LimitError(parameter, value, f"{_fmt(low, unit)} .. {_fmt(high, unit)}", reason)
    return number


def require_int(parameter: str, value: Any, low: int, high: int, reason: str = "allowed range") -> int:
    """Return ``value`` as an int if it is a whole number in ``[low, high]``, else raise LimitError.

    Python ints are compared exactly (a 400-digit integer is refused, not overflowed into a float)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        number = int(value)
    elif isinstance(value, bool) or not as_number(parameter, value).is_integer():
        raise LimitError(parameter, value, f"a whole number {low} .. {high}", reason)
    else:
        number = int(as_number(parameter, value))
    if not low <= number <= high:
        raise LimitError(parameter, value, f"{low} .. {high}", reason)
    return number


def require_bool(parameter: str, value: Any) -> bool:
    """``value`` if it is True or False (not 1, not "yes"), else LimitError."""
    if not isinstance(value, bool):
        raise LimitError(parameter, value, "True or False", "allowed values")
    return value


def require_choice(parameter: str, value: Any, allowed: Sequence[Any], reason: str = "allowed values") -> Any:
    """``value`` if it is one of ``allowed`` (True is not 1), else LimitError listing them."""
    for choice in allowed:
        if choice is value or (isinstance(value, bool) is isinstance(choice, bool) and _equal(choice, value)):
            return choice
    raise LimitError(parameter, value, "one of " + ", ".join(repr(a) for a in allowed), reason)


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - odd objects (arrays, ...) are simply not a choice
        return False


@dataclass(frozen=True)
class Bound:
    """A named range ``low .. high`` (``low`` itself excluded with ``above_low``), e.g. a safety
    limit or a model's range. :func:`within` checks a value against a sequence of them in order,
    so the message names the first range the value leaves."""

    low: float
    high: float
    reason: str = "allowed range"
    unit: str = ""
    above_low: bool = False

    def check(self, parameter: str, value: Any) -> float:
        number = require_range(parameter, value, self.low, self.high, self.unit, self.reason)
        if self.above_low and number <= self.low:
            raise LimitError(parameter, value, f"> {_fmt(self.low, self.unit)} .. {_fmt(self.high, self.unit)}",
                             self.reason)
        return number


def check_bounds(parameter: str, value: Any, bounds: Bound | Sequence[Bound]) -> float:
    """``value`` as a float inside every one of ``bounds``, else the LimitError of the first it leaves."""
    if isinstance(bounds, Bound):
        bounds = (bounds,)
    number = as_number(parameter, value)
    for bound in bounds:
        bound.check(parameter, value)
    return number


def within(parameter: str) -> Callable[[Any, Any], float]:
    """A pymeasure validator refusing (never clamping) values outside ``values``: a sequence of
    :class:`Bound` (set per instance through ``dynamic=True``) or a plain ``(low, high)`` pair."""

    def validate(value: Any, values: Any) -> float:
        if not values:
            raise LimitError(parameter, value, "nothing: no range is set for this instrument", "allowed range")
        if isinstance(values, Bound) or isinstance(values[0], Bound):
            return check_bounds(parameter, value, values)
        return require_range(parameter, value, min(values), max(values), "", "instrument range")

    validate.parameter = parameter  # type: ignore[attr-defined]
    return validate


def named(parameter: str, unit: str = "", reason: str = "instrument range") -> Callable[[Any, Any], Any]:
    """A pymeasure validator (a strict range) whose error names the parameter.

    Use as ``Instrument.control(..., validator=named("nplc"), values=(0.01, 10))``.
    """

    def validate(value: Any, values: Any) -> float:
        return require_range(parameter, value, min(values), max(values), unit, reason)

    return validate


@dataclass(frozen=True)
class SafetyLimits:
    """What the bench may ever apply, whatever a procedure asks. SI units.

    Defaults suit a memristor bench: reads at 0.1-0.5 V, SET/RESET and forming up to a few volts,
    compliances of microamperes to a milliampere, a low-power laser diode.
    """

    max_voltage_v: float = 10.0
    """Largest |voltage| a source-measure unit may source (DC, sweeps, its own pulses), and largest
    voltage compliance when sourcing current."""
    max_current_a: float = 10e-3
    """Largest current compliance (and largest |current| when sourcing current)."""
    max_pulse_voltage_v: float = 10.0
    """Largest |level| of any pulse (pulse generator high/low levels, SMU pulses)."""
    min_pulse_width_s: float = 0.0
    """Shortest pulse the bench allows (0: only the instrument's own minimum applies)."""
    max_laser_current_a: float = 0.1
    """Largest laser diode current; also sent as the controller's hardware current limit."""
    max_laser_power_w: float = 20e-3
    """Largest optical power a light source may be asked for."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            low = 0.0 if field.name == "min_pulse_width_s" else math.ulp(0.0)
            require_range(f"SafetyLimits.{field.name}", value, low, math.inf, reason="valid limits")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "SafetyLimits":
        """Limits from a bench-file table; unknown keys are refused (a typo must not drop a limit)."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise LimitError(f"limits.{unknown[0]}", data[unknown[0]], f"known limits {sorted(known)}",
                             "safety limits")
        return cls(**{key: as_number(f"limits.{key}", value) for key, value in data.items()})

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    # Each check returns the value as a float so callers can write `v = limits.check_voltage(v)`.

    def check_voltage(self, voltage_v: Any, parameter: str = "voltage_v") -> float:
        """|voltage| <= max_voltage_v (anything an SMU sources)."""
        m = self.max_voltage_v
        return require_range(parameter, voltage_v, -m, m, "V", "safety limit (SafetyLimits.max_voltage_v)")

    def check_voltage_compliance(self, compliance_v: Any, parameter: str = "compliance_v") -> float:
        """0 < compliance <= max_voltage_v."""
        value = require_range(
            parameter, compliance_v, 0.0, self.max_voltage_v, "V", "safety limit (SafetyLimits.max_voltage_v)"
        )
        if value <= 0.0:
            raise LimitError(parameter, compliance_v, f"> 0 V .. {_fmt(self.max_voltage_v, 'V')}")
        return value

    def check_current(self, current_a: Any, parameter: str = "current_a") -> float:
        """|current| <= max_current_a (sourcing current)."""
        m = self.max_current_a
        return require_range(parameter, current_a, -m, m, "A", "safety limit (SafetyLimits.max_current_a)")

    def check_compliance(self, compliance_a: Any, parameter: str = "compliance_a") -> float:
        """0 < compliance <= max_current_a."""
        value = require_range(
            parameter, compliance_a, 0.0, self.max_current_a, "A", "safety limit (SafetyLimits.max_current_a)"
        )
        if value <= 0.0:
            raise LimitError(parameter, compliance_a, f"> 0 A .. {_fmt(self.max_current_a, 'A')}")
        return value

    def check_pulse_voltage(self, voltage_v: Any, parameter: str = "voltage_v") -> float:
        """|level| <= max_pulse_voltage_v."""
        m = self.max_pulse_voltage_v
        return require_range(
            parameter, voltage_v, -m, m, "V", "safety limit (SafetyLimits.max_pulse_voltage_v)"
        )

    def check_pulse_width(self, width_s: Any, parameter: str = "width_s") -> float:
        """width >= min_pulse_width_s and > 0."""
        value = require_range(
            parameter, width_s, self.min_pulse_width_s, math.inf, "s",
            "safety limit (SafetyLimits.min_pulse_width_s)",
        )
        if value <= 0.0:
            raise LimitError(parameter, width_s, "> 0 s", "allowed range")
        return value

    def check_laser_current(self, current_a: Any, parameter: str = "current_a") -> float:
        """0 <= current <= max_laser_current_a."""
        return require_range(
            parameter, current_a, 0.0, self.max_laser_current_a, "A",
            "safety limit (SafetyLimits.max_laser_current_a)",
        )

    def check_laser_power(self, power_w: Any, parameter: str = "power_w") -> float:
        """0 <= power <= max_laser_power_w."""
        return require_range(
            parameter, power_w, 0.0, self.max_laser_power_w, "W",
            "safety limit (SafetyLimits.max_laser_power_w)",
        )
