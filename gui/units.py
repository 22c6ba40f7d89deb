"""SI quantities as people type and read them: "100 mV", "10m", "1.5e-3", "2 kohm"."""

from __future__ import annotations

import math
import re

from memlab.errors import MemlabError

PREFIXES: dict[str, int] = {  # decimal exponents, so "10 µ" parses to exactly 1e-05
    "a": -18, "f": -15, "p": -12, "n": -9, "u": -6, "µ": -6, "μ": -6,
    "m": -3, "k": 3, "M": 6, "G": 9, "T": 12,
}
_FORMAT_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"),
                    (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f"), (1e-18, "a"))
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")
# Units whose symbol people also write another way; the form shows the first.
_UNIT_ALIASES = {"ohm": ("ohm", "Ω", "Ohm"), "Hz": ("Hz", "hz")}


class QuantityError(MemlabError, ValueError):
    """Text that is not a number with an optional SI prefix and unit; says what is allowed."""


def parse_quantity(text: str, unit: str = "") -> float:
    """``text`` as a float in the base unit: "100 mV" -> 0.1 for unit "V".

    Accepts a plain number ("0.1", "1e-3"), a number with an SI prefix ("100m", "2 k"), and
    either followed by the unit ("100 mV", "10 ms"). The unit is matched first, so with unit
    "m" the text "5 m" is five metres, not five milli.
    """
    # a decimal comma, as typed where it is the custom ("1,5"): one comma and no point
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    match = _NUMBER.match(text)
    if not match:
        raise QuantityError(f"{text!r} is not a number; write e.g. 0.1, 100m or 100 m{unit}")
    number, rest = match.group(1), match.group(2)
    for alias in _UNIT_ALIASES.get(unit, (unit,) if unit else ()):
        if rest.endswith(alias):
            rest = rest[: -len(alias)].rstrip()
            break
    if not rest:
        return float(number)
    if rest in PREFIXES:
        mantissa, _, exponent = number.lower().partition("e")
        return float(f"{mantissa}e{int(exponent or 0) + PREFIXES[rest]}")
    allowed = ", ".join(p for p in PREFIXES if p not in ("μ",))
    raise QuantityError(f"{text!r}: unknown unit or prefix {rest!r}; "
                        f"use {unit or 'no unit'} with an SI prefix ({allowed})")


def format_quantity(value: float | None, unit: str = "", digits: int = 4) -> str:
    """``value`` with an SI prefix: 0.0001 A -> "100 µA"; None -> "" ; non-finite as is."""
    if value is None:
        return ""
    if not math.isfinite(value):
        return f"{value} {unit}".strip()
    if not unit:  # a bare count or ratio reads better as a plain number than as "10 k"
        return f"{value:.{digits}g}"
    if value == 0:
        return f"0 {unit}"
    magnitude = abs(value)
    for scale, prefix in _FORMAT_PREFIXES:
        if magnitude >= scale * (1 - 0.5 * 10 ** -digits):
            break
    else:
        scale, prefix = _FORMAT_PREFIXES[-1]
    return f"{value / scale:.{digits}g} {prefix}{unit}"


_EXAMPLES = {"m": 1.55e-6, "V": 0.1, "A": 1e-4, "s": 1e-6, "S": 1e-5, "W": 1e-3, "Hz": 1e3, "ohm": 1e4}


def example_text(unit: str, value: float | None = None, integer: bool = False) -> str:
    """A placeholder showing how to type a value of ``unit``: the default if there is one, else
    a plausible value ("e.g. 1.55 µm" for metres, never "100 mm")."""
    if integer:
        return f"e.g. {int(value) if value is not None else 10}"
    example = value if value not in (None, 0) else _EXAMPLES.get(unit, 0.1 if unit else 1.0)
    return f"e.g. {format_quantity(float(example), unit)}"
