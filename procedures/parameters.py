"""Declared, typed procedure parameters and their validation."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from memlab.errors import MemlabError
from memlab.instruments.limits import LimitError, require_choice, require_int, require_range


class ParameterError(MemlabError, ValueError):
    """A parameter value that is refused; the message names the parameter, the value and what
    is allowed. Raised before any instrument is touched."""

    def __init__(self, name: str, value: Any, allowed: str) -> None:
        self.name, self.value, self.allowed = name, value, allowed
        super().__init__(f"parameter {name}={shown(value)} is not allowed: {allowed}")


def shown(value: Any) -> str:
    from memlab.instruments.limits import shown as limits_shown

    return limits_shown(value)


#: a number as typed on a command line or in a form: ASCII digits only (no "1_0", no Unicode digits)
_NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Parameter:
    """One declared parameter.

    ``kind`` is float, int, bool or str. ``minimum``/``maximum`` bound numbers (inclusive);
    ``choices`` restricts to a set; ``optional`` allows None ("not set").
    """

    name: str
    kind: type
    default: Any
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    help: str = ""
    optional: bool = False
    label: str = field(default="")

    def __post_init__(self) -> None:
        if self.kind not in (float, int, bool, str):
            raise TypeError(f"Parameter {self.name}: kind must be float, int, bool or str")
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " "))
        self.validate(self.default)  # a declaration with a bad default is a programming error

    def allowed(self) -> str:
        """What values are allowed, in words, for error messages and tooltips."""
        if self.choices is not None:
            text = f"one of {list(self.choices)}"
        elif self.kind is bool:
            text = "true or false"
        elif self.kind is str:
            text = "text"
        else:
            kind = "an integer" if self.kind is int else "a number"
            unit = f" {self.unit}" if self.unit else ""
            lo = "-inf" if self.minimum is None else f"{self.minimum:g}"
            hi = "inf" if self.maximum is None else f"{self.maximum:g}"
            text = f"{kind} in [{lo}, {hi}]{unit}"
        return text + (" (or empty for none)" if self.optional else "")

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to ``kind`` (strings from the command line accepted), or
        raise :class:`ParameterError`. Nothing is clamped; the range checks are the shared
        validation layer's (:mod:`memlab.instruments.limits`)."""
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")
                             and self.kind is not str):
            if self.optional:
                return None
            raise ParameterError(self.name, value, self.allowed())
        try:
            converted = self._convert(value)
            if self.choices is not None:
                converted = require_choice(self.name, converted, self.choices)
            if self.kind in (int, float):
                low = -math.inf if self.minimum is None else self.minimum
                high = math.inf if self.maximum is None else self.maximum
                if self.kind is int:
                    require_int(self.name, converted, low, high)  # type: ignore[arg-type]
                else:
                    require_range(self.name, converted, low, high)
        except (TypeError, ValueError, OverflowError, LimitError):
            raise ParameterError(self.name, value, self.allowed()) from None
        return converted

    def _convert(self, value: Any) -> Any:
        if self.kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                return value.strip().lower() in _TRUE
            raise ValueError(value)
        if self.kind is int:
            if isinstance(value, bool):
                raise ValueError(value)
            if isinstance(value, str):
                number = float(_plain_number(value))  # accepts "1e6"
            else:
                number = value
            if isinstance(number, int):
                return number
            if not math.isfinite(float(number)) or float(number) != int(number):
                raise ValueError(value)
            return int(number)
        if self.kind is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(_plain_number(value) if isinstance(value, str) else value)
        if not isinstance(value, str):
            raise ValueError(value)
        return value


def _plain_number(text: str) -> str:
    """``text`` if it is a plain ASCII number (``1e6``, ``-0.5``), else ValueError: Python's float()
    would also take ``1_0``, Unicode digits and ``inf``, which a user did not mean."""
    if not _NUMBER.match(text.strip()):
        raise ValueError(text)
    return text.strip()
