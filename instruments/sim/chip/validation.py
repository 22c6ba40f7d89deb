"""Argument checks of the chip model, on the shared validation layer (``instruments/limits.py``).

Every refusal is a :class:`ChipInputError`: a :class:`~memlab.instruments.limits.LimitError`
(so a ``ValueError``, as before) and a :class:`~memlab.errors.MemlabError`, whose message names
the parameter, the value and what is allowed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from memlab.errors import MemlabError
from memlab.instruments.limits import LimitError, as_number, require_range

__all__ = ["ChipInputError", "number_in", "integer_in", "refuse"]


class ChipInputError(LimitError, MemlabError):
    """A chip-model argument outside what the model allows."""


def refuse(parameter: str, value: Any, allowed: str, reason: str = "chip model's range") -> ChipInputError:
    """The error for ``parameter=value``, allowed values described by ``allowed``."""
    return ChipInputError(parameter, value, allowed, reason)


def number_in(parameter: str, value: Any, low: float = -math.inf, high: float = math.inf, *,
              low_open: bool = False, unit: str = "") -> float:
    """``value`` as a finite float in [low, high] (or (low, high] with ``low_open``)."""
    if type(value) is float or type(value) is int:  # the hot path: plain numbers in range
        if (low < value <= high) if low_open else (low <= value <= high):
            return float(value)  # (NaN fails both comparisons and takes the checked path)
    try:
        number = require_range(parameter, value, low, high, unit, "chip model's range")
        if low_open and number <= low:
            raise LimitError(parameter, value, "")
    except LimitError:
        lo = "-inf" if low == -math.inf else f"{low:g}"
        hi = "inf" if high == math.inf else f"{high:g}"
        raise refuse(parameter, value, f"a finite number in {'(' if low_open else '['}{lo}, {hi}] "
                                       f"{unit}".rstrip()) from None
    return number


def integer_in(parameter: str, value: Any, low: int, high: int | None = None) -> int:
    """``value`` as an int in [low, high]; bools and non-integers are refused."""
    if type(value) is int and value >= low and (high is None or value <= high):
        return value
    upper = "" if high is None else f" and <= {high}"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise refuse(parameter, value, f"an integer >= {low}{upper}")
    number = int(as_number(parameter, value))
    if number < low or (high is not None and number > high):
        raise refuse(parameter, value, f"an integer >= {low}{upper}")
    return number
