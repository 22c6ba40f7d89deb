"""The SCPI parser core: patterns as the manuals write them, compound messages, parameters,
the error queue and the 488.2 common commands, on a small instrument built for the test."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from memlab.instruments.sim.clock import VirtualClock
from memlab.instruments.sim.scpi import (
    Boolean,
    Choice,
    Command,
    Number,
    ScpiError,
    ScpiInstrument,
    ScpiParser,
    Text,
    parse_number,
)
from memlab.instruments.sim.world import SimWorld


class Toy(ScpiInstrument):
    """Two channels, a few settings of each kind, a list command and a channel-list query."""

    manufacturer = "ACME"
    model = "TOY-1"
    defaults = {"volt1": 0.0, "volt2": 0.0, "out": False, "func": "VOLT", "name": "x",
                "width": 1e-3, "count": 1, "list": ()}

    @classmethod
    def commands(cls, p: ScpiParser) -> None:
        super().commands(p)
        p.setting("[SOURce[1|2]:]VOLTage[:LEVel][:IMMediate][:AMPLitude]", "volt{0}",
                  Number(-10.0, 10.0, 0.0, unit="V"))
        p.setting(":OUTPut[:STATe]", "out", Boolean())
        p.setting(":SOURce:FUNCtion[:MODE]", "func", Choice("VOLTage|CURRent"))
        p.setting(":SYSTem:NAME", "name", Text())
        p.setting("PULSe:WIDTh", "width", Number(16e-9, 1e6, 1e-3, unit="S"))
        p.setting(":SENSe:COUNt", "count", Number(1, 100, 1, integer=True))
        p.add(":SOURce:LIST:VOLTage", set=lambda i, c: i.state.update(list=tuple(c.numbers())),
              query=lambda i, c: ",".join(f"{v:g}" for v in i.state["list"]))
        p.add(":ROUTe:CLOSe", query=lambda i, c: ",".join(str(n) for n in c.channels(0)))
        p.add("[:SOURce]:CURRent", query=lambda i, c: "c")
        p.add("ARM:SOURce[1|2]", query=lambda i, c: str(c.suffixes[0]))


@pytest.fixture
def toy() -> Toy:
    clock = VirtualClock()
    world = SimWorld(SimpleNamespace(rows=1, cols=1, clock=clock), clock)
    return Toy(world, "toy")


def ask(instrument: Toy, message: str) -> str:
    instrument.write(message)
    return instrument.read()


def errors(instrument: Toy) -> list[str]:
    found = []
    while True:
        reply = ask(instrument, "SYST:ERR?")
        if reply.startswith("0,"):
            return found
        found.append(reply)


@pytest.mark.parametrize("header", [
    "SOUR:VOLT", "SOURCE:VOLTAGE", "source:voltage:level", "sour1:volt:lev:imm:ampl", "VOLT",
    "voltage:amplitude", ":SOUR2:VOLT:IMM",
])
def test_short_long_optional_nodes_and_suffixes_select_one_setting(toy: Toy, header: str) -> None:
    toy.write(f"{header} 2.5")
    channel = "volt2" if "2" in header else "volt1"
    assert toy.state[channel] == 2.5
    assert float(ask(toy, f"{header}?")) == 2.5
    assert errors(toy) == []


@pytest.mark.parametrize("header", ["SOURC:VOLT", "SOU:VOLT", "SOUR:VOLTA", "SOUR:VOLT:LEVE", "FOO"])
def test_in_between_forms_and_unknown_headers_are_undefined(toy: Toy, header: str) -> None:
    toy.write(f"{header} 1")
    assert errors(toy) == [f'-113,"Undefined header;{header.upper()}"']
    assert toy.state["volt1"] == 0.0


def test_suffix_outside_the_manual_set_is_refused(toy: Toy) -> None:
    toy.write("SOUR3:VOLT 1")
    assert errors(toy) == ['-114,"Header suffix out of range;SOUR3:VOLT"']
    assert ask(toy, "ARM:SOUR2?") == "2"
    assert ask(toy, "ARM:SOURCE?") == "1"  # an absent suffix is 1


def test_optional_first_node_written_with_leading_colon(toy: Toy) -> None:
    assert ask(toy, "CURR?") == "c"
    assert ask(toy, ":SOUR:CURR?") == "c"


def test_compound_message_keeps_the_path_of_the_previous_command(toy: Toy) -> None:
    # FUNC follows SOUR:VOLT, so it is SOUR:FUNC; the colon sends OUTP back to the root.
    toy.write("SOUR:VOLT 1;FUNC CURR;:OUTP ON")
    assert (toy.state["volt1"], toy.state["func"], toy.state["out"]) == (1.0, "CURR", True)
    assert errors(toy) == []


def test_relative_command_that_does_not_exist_under_the_path_is_an_error(toy: Toy) -> None:
    toy.write("SOUR:VOLT 1;OUTP ON")  # SOUR:OUTP is not a command
    assert errors(toy) == ['-113,"Undefined header;SOUR:OUTP"']
    assert toy.state["out"] is False
    assert toy.state["volt1"] == 1.0


def test_queries_in_one_message_answer_in_one_reply(toy: Toy) -> None:
    toy.write("VOLT 2;:OUTP ON")
    assert ask(toy, "VOLT?;:OUTP?;*IDN?") == "2.000000E+00;1;ACME,TOY-1,0000001,1.0"


def test_common_commands_anywhere_and_stray_colons_and_semicolons(toy: Toy) -> None:
    toy.write("VOLT 3")
    toy.write("*RST;:stat:pres;:*CLS;")  # as pymeasure's Keithley2450.reset() writes it
    assert toy.state["volt1"] == 0.0
    assert errors(toy) == []


def test_common_command_leaves_the_path_alone(toy: Toy) -> None:
    toy.write(":SOURCE:FUNC CURR;*CLS;FUNC VOLT")
    assert toy.state["func"] == "VOLT"
    assert errors(toy) == []


def test_quoted_strings_keep_semicolons_and_commas(toy: Toy) -> None:
    toy.write(':SYST:NAME "a;b,c";:OUTP ON')
    assert toy.state["name"] == "a;b,c"
    assert toy.state["out"] is True
    toy.write(":SYST:NAME 'it''s'")
    assert ask(toy, ":SYST:NAME?") == '"it\'s"'


def test_channel_lists_stay_one_parameter(toy: Toy) -> None:
    assert ask(toy, ":ROUT:CLOS? (@101:103,205)") == "101,102,103,205"


@pytest.mark.parametrize("token, expected", [
    ("MIN", -10.0), ("maximum", 10.0), ("DEF", 0.0), ("1.5", 1.5), ("-2e-1", -0.2),
    ("100mV", 0.1), ("100 MV", 0.1), ("2V", 2.0), (".5", 0.5), ("+3.", 3.0),
])
def test_numbers_with_min_max_def_and_unit_suffixes(toy: Toy, token: str, expected: float) -> None:
    toy.write(f"VOLT {token}")
    assert errors(toy) == []
    assert toy.state["volt1"] == pytest.approx(expected)


def test_number_query_with_min_max(toy: Toy) -> None:
    assert float(ask(toy, "VOLT? MAX")) == 10.0
    assert float(ask(toy, "PULS:WIDT? MIN")) == 16e-9


@pytest.mark.parametrize("token, error", [
    ("11", '-222,"Data out of range;11 not in -10 .. 10"'),
    ("abc", "-104,\"Data type error;expected a number, got 'abc'\""),
    ("1A", "-131,\"Invalid suffix;'A' after 1\""),
])
def test_bad_numbers_go_to_the_queue_and_keep_the_old_value(toy: Toy, token: str, error: str) -> None:
    toy.write("VOLT 1")
    toy.write(f"VOLT {token}")
    assert errors(toy) == [error]
    assert toy.state["volt1"] == 1.0


def test_parameter_count_errors(toy: Toy) -> None:
    toy.write("VOLT")
    toy.write("VOLT 1,2")
    assert errors(toy) == ['-109,"Missing parameter;VOLT"', '-108,"Parameter not allowed;VOLT"']


def test_choice_and_boolean_forms(toy: Toy) -> None:
    toy.write(":SOUR:FUNC current;:OUTP 1")
    assert ask(toy, ":SOUR:FUNC?;:OUTP?") == "CURR;1"
    toy.write(":SOUR:FUNC RES;:OUTP MAYBE")
    assert errors(toy) == [
        "-224,\"Illegal parameter value;'RES' is not one of VOLTage|CURRent\"",
        "-224,\"Illegal parameter value;expected ON, OFF, 1 or 0, got 'MAYBE'\"",
    ]


def test_integer_setting_rounds(toy: Toy) -> None:
    toy.write(":SENS:COUN 3.4")
    assert ask(toy, ":SENS:COUN?") == "3"


def test_lists_of_numbers(toy: Toy) -> None:
    toy.write(":SOUR:LIST:VOLT 1, 2.5,-3e-1")
    assert ask(toy, ":SOUR:LIST:VOLT?") == "1,2.5,-0.3"


def test_error_queue_order_overflow_and_clear(toy: Toy) -> None:
    for _ in range(12):
        toy.write("FOO")
    assert ask(toy, "SYST:ERR:COUN?") == "10"
    found = errors(toy)
    assert len(found) == 10
    assert found[-1] == '-350,"Queue overflow"'
    toy.write("FOO;*CLS")
    assert ask(toy, "SYST:ERR?") == '0,"No error"'


def test_status_registers_follow_488_2(toy: Toy) -> None:
    toy.write("*ESE 60")
    toy.write("FOO")  # command error: ESR bit 5
    assert int(ask(toy, "*STB?")) & 0b100100 == 0b100100  # EAV and ESB
    assert ask(toy, "*ESR?") == "32"
    assert ask(toy, "*ESR?") == "0"
    toy.write("*OPC")
    assert ask(toy, "*ESR?") == "1"
    assert ask(toy, "*OPC?") == "1"


def test_unread_reply_is_discarded_by_the_next_message(toy: Toy) -> None:
    toy.write("*IDN?")
    toy.write("VOLT 1")
    assert errors(toy) == ['-410,"Query INTERRUPTED"']


def test_trigger_without_a_trigger_system_is_ignored_with_an_error(toy: Toy) -> None:
    toy.write("*TRG")
    assert errors(toy) == ['-211,"Trigger ignored"']


def test_parse_number_helpers() -> None:
    assert parse_number("1 kHz", "HZ") == 1e3
    assert parse_number("2MHZ", "HZ") == 2e6  # SCPI: MHZ is mega
    assert parse_number("25C", "C") == 25.0
    assert parse_number("INF") == float("inf")
    with pytest.raises(ScpiError) as info:
        parse_number("1x", "V")
    assert info.value.code == -131


def test_pattern_registration_errors() -> None:
    parser = ScpiParser()
    with pytest.raises(ValueError, match="set or a query"):
        parser.add("FOO")
    with pytest.raises(ValueError, match="unexpected"):
        parser.add("FOO;BAR", set=lambda i, c: None)


def test_command_helpers() -> None:
    cmd = Command("X", False, ("(@1,3:4)", "MAX", "1"), ())
    assert cmd.channels(0) == [1, 3, 4]
    assert cmd.special(1) == "MAX"
    assert cmd.special(2) is None
    with pytest.raises(ScpiError):
        cmd.expect(1)
    with pytest.raises(ScpiError):
        cmd.channels(2)
