"""The one validation layer (instruments/limits.py) and its users outside the drivers: procedure
parameters and the error hierarchy."""

from __future__ import annotations

import math

import pytest

from memlab.errors import MemlabError
from memlab.instruments.bench_file import BenchConnectionError, BenchFileError
from memlab.instruments.limits import (
    Bound,
    LimitError,
    check_bounds,
    require_bool,
    require_choice,
    require_int,
    require_range,
    shown,
    within,
)
from memlab.instruments.plumbing import InstrumentConnectionError, InstrumentError
from memlab.instruments.wiring import WiringError
from memlab.procedures.parameters import Parameter, ParameterError


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "x", None, True, [1]])
def test_require_range_refuses_what_is_not_a_finite_number(value: object) -> None:
    with pytest.raises(LimitError, match="a finite number"):
        require_range("x", value, 0, 1)


def test_require_int_compares_huge_integers_exactly() -> None:
    with pytest.raises(LimitError, match=r"n=<an integer of about 10\^400> is outside"):
        require_int("n", 10**400, 1, 10)
    assert require_int("n", 10**18, 1, 10**19) == 10**18
    with pytest.raises(LimitError, match="a whole number"):
        require_int("n", 2.5, 1, 10)


def test_choices_and_flags_do_not_confuse_true_with_one() -> None:
    assert require_choice("channel", 2, (1, 2)) == 2
    assert require_choice("f", 50.0, (50, 60)) == 50
    with pytest.raises(LimitError, match="allowed one of 1, 2"):
        require_choice("channel", True, (1, 2))
    with pytest.raises(LimitError):
        require_choice("channel", [1], (1, 2))  # unhashable: refused, not a TypeError
    with pytest.raises(LimitError, match="True or False"):
        require_bool("autozero", 1)


def test_bounds_name_the_first_range_left() -> None:
    bounds = (Bound(-2, 2, "safety limit", "V"), Bound(-210, 210, "Keithley 2450 range", "V"))
    assert check_bounds("voltage_v", 1.5, bounds) == 1.5
    with pytest.raises(LimitError, match=r"voltage_v=3 is outside the safety limit: allowed -2 V \.\. 2 V"):
        check_bounds("voltage_v", 3, bounds)
    with pytest.raises(LimitError, match=r"compliance_a=0 .*allowed > 0 A \.\. 1 A"):
        check_bounds("compliance_a", 0, Bound(0, 1, "safety limit", "A", above_low=True))
    with pytest.raises(LimitError, match="no range is set"):
        within("nplc")(1.0, ())


def test_values_in_messages_are_short() -> None:
    assert len(shown("x" * 10_000)) <= 60
    assert shown(10**5000).startswith("<an integer of about 10^")


@pytest.mark.parametrize("text", ["inf", "-inf", "1e400", "9" * 5000, "1_0", "\u0661\u0662", "nan", "0x10", " "])
def test_parameters_refuse_what_python_would_quietly_parse(text: str) -> None:
    cycles = Parameter("cycles", int, 1, minimum=1, maximum=1000)
    with pytest.raises(ParameterError, match="parameter cycles="):
        cycles.validate(text)


def test_parameters_take_plain_numbers_and_refuse_huge_ones() -> None:
    cycles = Parameter("cycles", int, 1, minimum=1, maximum=10**12)
    assert cycles.validate("1e6") == 1_000_000 and cycles.validate(" 12 ") == 12 and cycles.validate(7) == 7
    with pytest.raises(ParameterError, match="an integer in"):
        cycles.validate(10**400)
    v_max = Parameter("v_max", float, 1.0, unit="V", minimum=0.0, maximum=10.0)
    assert v_max.validate("2.5") == 2.5 and v_max.validate(".5e1") == 5.0
    with pytest.raises(ParameterError, match=r"v_max='1_0' is not allowed: a number in \[0, 10\] V"):
        v_max.validate("1_0")


def test_every_memlab_error_derives_from_memlab_error() -> None:
    from memlab.analysis.errors import AnalysisError
    from memlab.cli import UsageError
    from memlab.procedures.common import DeviceFault
    from memlab.procedures.plan import PlanError
    from memlab.storage.reader import RunFileError

    for error, second in [(LimitError, ValueError), (ParameterError, ValueError), (BenchFileError, ValueError),
                          (WiringError, ValueError), (PlanError, ValueError), (AnalysisError, ValueError),
                          (InstrumentError, RuntimeError), (InstrumentConnectionError, RuntimeError),
                          (BenchConnectionError, RuntimeError), (DeviceFault, RuntimeError),
                          (RunFileError, OSError), (UsageError, Exception)]:
        assert issubclass(error, MemlabError) and issubclass(error, second), error
