"""Hostile VISA commands to every twin through the ``@memsim`` backend (issue 12).

Commands are generated from each SCPI twin's own command table (every header, short and long
forms, optional nodes, numeric suffixes) with hostile parameters (NaN, infinities, overflowing
numbers, huge counts, broken quotes and channel lists, binary junk), plus pure garbage; the TSP
twins get their object model's attributes and functions with hostile values and broken Lua.

Each message must be taken without an exception out of the backend, within a time limit, and the
twin must still answer ``*IDN?`` afterwards with its error queue readable; garbage must leave an
error-queue entry. The default run sends a few hundred messages (seconds); ``fuzz_large`` sends
many thousands.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import pyvisa
from pyvisa.errors import VisaIOError

from memlab.instruments.sim.scpi import ScpiInstrument
from memlab.instruments.sim.tsp import Attr, TspInstrument, TspObject

#: one message may take this long (the TSP wall-clock limit is 2 s); more is a hang
MESSAGE_LIMIT_S = 5.0

BENCHES = {
    "builtin": None,  # 2450, 33522B, ITC4001, PM100, 707B
    "tsp_and_81160": """
[chip]
rows = 4
cols = 4
[instruments.smu]
driver = "Keithley2600B"
address = "GPIB0::26::INSTR"
[instruments.pulser]
driver = "Keysight81160A"
address = "GPIB0::10::INSTR"
[instruments.laser]
driver = "ThorlabsCLD101x"
address = "USB0::0x1313::0x804F::M00999999::INSTR"
calibration = { threshold_a = 0.015, slope_w_per_a = 0.25, max_current_a = 0.1 }
[wiring]
direct = { smu = [1, 1], pulse = [1, 1] }
""",
    "b2900": """
[chip]
rows = 4
cols = 4
[instruments.smu]
driver = "KeysightB2900"
address = "GPIB0::23::INSTR"
model = "B2902A"
[wiring]
direct = { smu = [2, 2] }
""",
}

NUMBERS = ["nan", "NaN", "-nan", "inf", "-inf", "INF", "1e400", "-1e400", "9.9e37", "1e-400",
           "99999999999999999999999999", "-0", "0", "1", "-1", "1e6", "268000000", "1e308",
           "MIN", "MAX", "DEF", "1kHz", "1e3MV", "0x10", "1e", ".", "+", "--1", "1,,2"]
JUNK = ["", " ", "''", '"', "'open", '"x"', "(@", "(@1,2", "(@999)", "(@1:99999999)", "#0",
        "#9123", "#21", "ON", "OFF", "\x00", "\xff\xfe", "é", '"defbuffer1"', '"nosuch"',
        "A" * 5000, "(" * 200, '"' + "a" * 3000]
GARBAGE = [":::", "*", "?", "**IDN?", ":", ":SOUR:", "SOUR:VOLT:LEV:", "*IDN? junk",
           "\x00\x01\x02", "\xff" * 40, "?" * 100, ":" + "A" * 5000, "ABC:DEF:GHI?",
           "SYST:ERR?;" * 50, '"unterminated', "(@1,2,3", "#9999999999"]
TSP_VALUES = ["0/0", "1/0", "-1/0", "1e400", "-1e400", "nil", "{}", "'x'", "true", "-1", "1e308",
              "2^53", "{0/0}", "function() end", "smua", "string.rep('a', 1e9)", "''", "{1e400, 0/0}"]
LUA_GARBAGE = ["end", "((((", "smua.", "for i=1 do", "local = 1", "print(", "]]", "--[[",
               "x = ", "\x00", "\xff\xfe", "smua.source.levelv = ", "return return", "goto x",
               "endscript", "print(smua.nosuch.thing)"]


def _expand(pattern: str, rng: random.Random) -> str:
    """A concrete header from a manual-style pattern: optional nodes in or out, a numeric
    suffix from the allowed ones, short or long form."""
    text = pattern.strip().rstrip("?")
    while True:
        inner = re.search(r"\[([^\[\]]*)\]", text)
        if inner is None:
            break
        body = inner.group(1)
        if re.fullmatch(r"[\d|nc]+", body):
            choice = rng.choice([o for o in body.split("|") if o.isdigit()] or ["1"]) if rng.random() < 0.5 else ""
        else:
            choice = body if rng.random() < 0.5 else ""
        text = text[:inner.start()] + choice + text[inner.end():]

    def form(match: re.Match[str]) -> str:
        word = match.group(0)
        short = "".join(c for c in word if not c.islower())
        return short if rng.random() < 0.5 else word.upper()
    return re.sub(r"[A-Za-z]+", form, text)


def scpi_messages(twin: ScpiInstrument, rng: random.Random, count: int) -> Iterator[tuple[str, bool]]:
    """(message, is garbage) pairs for one SCPI twin."""
    patterns = [entry.pattern for entry in twin.parser._entries] + list(twin.parser._common)
    for _ in range(count):
        roll = rng.random()
        if roll < 0.1:
            yield rng.choice(GARBAGE), True
            continue
        header = _expand(rng.choice(patterns), rng)
        if roll < 0.2:
            header = header[: rng.randrange(1, max(2, len(header)))] + "X"  # a misspelt header
            yield header, True
            continue
        query = "?" if rng.random() < 0.4 else ""
        args = [rng.choice(NUMBERS if rng.random() < 0.6 else JUNK) for _ in range(rng.choice([0, 1, 1, 2, 3, 5]))]
        yield f"{header}{query} {','.join(args)}".rstrip(), False


def _tsp_paths(twin: TspInstrument) -> tuple[list[str], list[str]]:
    """Settable attributes and callables of the twin's object model, by Lua path."""
    attributes: list[str] = []
    functions: list[str] = []
    globals_ = twin.lua.globals()
    seen: set[int] = set()

    def walk(path: str, obj: object, depth: int) -> None:
        if id(obj) in seen or depth > 3:
            return
        seen.add(id(obj))
        for name in dir(type(obj)):
            if name.startswith("_"):
                continue
            member = getattr(type(obj), name, None)
            if isinstance(member, Attr):
                attributes.append(f"{path}.{name}")
            elif callable(member):
                functions.append(f"{path}.{name}")
        for name, value in vars(obj).items():
            if not name.startswith("_") and isinstance(value, TspObject):
                walk(f"{path}.{name}", value, depth + 1)

    for name in ("smua", "smub", "channel", "format", "display", "localnode", "errorqueue", "timer",
                 "beeper", "trigger", "status"):
        obj = globals_[name]
        if isinstance(obj, TspObject):
            walk(name, obj, 0)
    for name in ("print", "printnumber", "printbuffer", "delay", "reset", "opc", "waitcomplete",
                 "SweepVListMeasureI", "SweepVLinMeasureI", "PulseVMeasureI"):
        if globals_[name] is not None:
            functions.append(name)
    return attributes, functions


def tsp_messages(twin: TspInstrument, rng: random.Random, count: int) -> Iterator[tuple[str, bool]]:
    attributes, functions = _tsp_paths(twin)
    for _ in range(count):
        roll = rng.random()
        if roll < 0.15:
            yield rng.choice(LUA_GARBAGE), True
        elif roll < 0.55 and attributes:
            yield f"{rng.choice(attributes)} = {rng.choice(TSP_VALUES)}", False
        elif roll < 0.65 and attributes:
            yield f"print({rng.choice(attributes)})", False
        else:
            args = ", ".join(rng.choice(TSP_VALUES + ["'1A01'", "'allslots'", "smua.nvbuffer1"])
                             for _ in range(rng.choice([0, 1, 2, 3, 5])))
            yield f"{rng.choice(functions)}({args})", False


def _bench(tmp_path: Path, name: str) -> str:
    text = BENCHES[name]
    if text is None:
        return "@memsim"
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return f"{path}@memsim"


def _nan_settings(twin) -> list[str]:
    """Settings of a SCPI twin that hold NaN (a NaN-laden command must never get through)."""
    state = getattr(twin, "state", {})
    bad = []
    for key, value in state.items():
        try:
            if np.any(np.isnan(np.asarray(value, dtype=np.float64))):
                bad.append(key)
        except (TypeError, ValueError):
            continue
    return bad


def _errors(resource, twin) -> list[str]:
    entries = []
    while twin.error_count:
        entries.append(twin.pop_error())
    return entries


def fuzz(tmp_path: Path, per_twin: int, seed: int) -> dict[str, int]:
    """Send ``per_twin`` messages to each twin of each bench; returns counts."""
    totals = {"messages": 0, "garbage": 0, "errors": 0, "twins": 0}
    for bench in BENCHES:
        rm = pyvisa.ResourceManager(_bench(tmp_path, bench))
        try:
            library = rm.visalib
            for key, twin in library.twins.items():
                totals["twins"] += 1
                resource = rm.open_resource(library.names[key])
                resource.timeout = 200
                rng = random.Random(f"{seed}:{bench}:{key}")
                identity = twin.identity()
                generate = tsp_messages if isinstance(twin, TspInstrument) else scpi_messages
                for message, garbage in generate(twin, rng, per_twin):
                    start = time.perf_counter()
                    before = twin.error_count
                    resource.write_raw(message.encode("latin-1", "replace") + b"\n")
                    elapsed = time.perf_counter() - start
                    assert elapsed < MESSAGE_LIMIT_S, f"{twin.name}: {message[:80]!r} took {elapsed:.1f} s"
                    if garbage:
                        assert twin.error_count > before or twin._out, \
                            f"{twin.name}: {message[:80]!r} left no error and no reply"
                    assert not _nan_settings(twin), f"{twin.name}: {message[:80]!r} stored NaN"
                    totals["messages"] += 1
                    totals["garbage"] += garbage
                    totals["errors"] += len(_errors(resource, twin))
                    twin.clear_output()
                    if isinstance(twin, TspInstrument) and twin._script_name is not None:
                        resource.write("endscript")  # a fuzzed 'loadscript' opened a script
                        _errors(resource, twin)
                    try:
                        assert resource.query("*IDN?").strip() == identity, message[:80]
                    except VisaIOError as error:  # pragma: no cover - the assertion's message
                        raise AssertionError(f"{twin.name} stopped answering after {message[:80]!r}") from error
                    _errors(resource, twin)
                resource.close()
        finally:
            rm.close()
    return totals


def test_fuzz_visa_commands_to_every_twin(tmp_path: Path) -> None:
    totals = fuzz(tmp_path, per_twin=120, seed=1)
    assert totals["twins"] == 9
    assert totals["messages"] == 9 * 120


@pytest.mark.fuzz_large
def test_fuzz_visa_commands_large(tmp_path: Path) -> None:
    totals = fuzz(tmp_path, per_twin=3000, seed=2)
    print(f"\nVISA fuzz: {totals['messages']} messages to {totals['twins']} twins, "
          f"{totals['garbage']} garbage, {totals['errors']} error-queue entries, 0 exceptions, 0 hangs")
    assert totals["messages"] == 9 * 3000
