"""Hostile scripts to the TSP twins (issue 12): runaway scripts stop with the instrument's own
error within seconds and the twin keeps answering; the sandbox hides the computer; Ctrl-C always
reaches the caller; NaN is refused before any setting changes."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from memlab.instruments.interfaces import CrossbarWiring
from memlab.instruments.sim.chip import Chip
from memlab.instruments.sim.keithley707b import Keithley707BTwin
from memlab.instruments.sim.keithley2600 import Keithley2600BTwin
from memlab.instruments.sim.tsp import PARAMETER_ERROR, RUNTIME_ERROR, TspInstrument
from memlab.instruments.sim.world import SimWorld

#: a stopped script must give the twin back within this (the wall-clock limit is 2 s)
STOP_WITHIN_S = 4.0


@pytest.fixture
def world() -> SimWorld:
    world = SimWorld(Chip(4, 4, seed=3, overrides={"stuck_fraction": 0.0}))
    world.connect("smu", 1, 2)
    return world


@pytest.fixture
def smu(world: SimWorld) -> Keithley2600BTwin:
    return Keithley2600BTwin(world, "smu")


@pytest.fixture
def switch(world: SimWorld) -> Keithley707BTwin:
    return Keithley707BTwin(world, "switch", wiring=CrossbarWiring.default(4, 4))


def ask(twin: TspInstrument, command: str) -> str:
    twin.write(command)
    return twin.read()


def errors(twin: TspInstrument) -> list[tuple[int, str]]:
    found = []
    while twin.error_count:
        found.append(twin.pop_error())
    return found


RUNAWAY = {
    "plain loop": "while true do end",
    "pcall-wrapped loop": "pcall(function() while true do end end) print('escaped')",
    "pcall in a loop": "while true do pcall(function() while true do end end) end",
    "xpcall in a loop": "while true do xpcall(function() while true do end end, function(e) return e end) end",
    "coroutine loop": "local co = coroutine.create(function() while true do end end) "
                      "print(coroutine.resume(co))",
    "coroutine.wrap loop": "local f = coroutine.wrap(function() while true do end end) print(pcall(f))",
    "coroutines in a loop": "while true do coroutine.resume(coroutine.create(function() "
                            "while true do end end)) end",
    "pathological find": "local s = string.rep('a', 100000) print(string.find(s, '.-.-.-.-b'))",
    "pathological gsub": "local s = string.rep('a', 30000) print(s:gsub('a*a*b', 'x'))",
    "pathological match method": "print(('a'):rep(5000):match('(a*)*b'))",
    "string.rep huge": "local s = string.rep('ab', 1e12)",
    "doubling string": "local s = 'x' for i = 1, 40 do s = s .. s end",
    "huge table": "local t = {} for i = 1, 1e9 do t[i] = i end",
    "slow Python calls in a loop": "while true do pcall(smua.measure.i) end",
}


@pytest.mark.parametrize("script", list(RUNAWAY.values()), ids=list(RUNAWAY))
def test_runaway_script_stops_with_an_instrument_error_and_the_twin_answers(
        smu: Keithley2600BTwin, script: str) -> None:
    start = time.perf_counter()
    smu.write(script)
    assert time.perf_counter() - start < STOP_WITHIN_S
    found = errors(smu)
    assert [code for code, _ in found] == [RUNTIME_ERROR], found
    smu.clear_output()  # what the script printed before it was stopped
    assert ask(smu, "print(1 + 1)") == "2.00000e+00"
    assert ask(smu, "*IDN?").startswith("Keithley Instruments")


def test_legitimate_patterns_and_pcall_still_work(smu: Keithley2600BTwin) -> None:
    assert ask(smu, "print(string.find('V=1.5,I=2e-3', '(%w+)=([%d%.e%-]+)'))") == \
        "1.00000e+00\t5.00000e+00\tV\t1.5"
    assert ask(smu, "print((('a,b,c'):gsub(',', ';')))") == "a;b;c"
    assert ask(smu, "print(pcall(error, 'x', 0))") == "false\tx"
    assert ask(smu, "local f = coroutine.wrap(function(a) coroutine.yield(a + 1) end) print(f(1))") == \
        "2.00000e+00"
    assert ask(smu, "print(#string.rep('ab', 1000))") == "2.00000e+03"
    # Repeating the empty string a huge number of times is the empty string, at once.
    assert ask(smu, "print(#string.rep('', 1e15))") == "0.00000e+00"
    assert smu.error_count == 0


@pytest.mark.parametrize("name", ["os.execute", "os.remove", "os.getenv", "io", "require", "load",
                                  "loadstring", "loadfile", "dofile", "debug", "package",
                                  "module", "python", "getfenv", "setfenv", "string.dump"])
def test_sandbox_has_no_host_access(smu: Keithley2600BTwin, name: str) -> None:
    assert ask(smu, f"print({name} == nil)") == "true"


def test_sandbox_keeps_time_functions(smu: Keithley2600BTwin) -> None:
    assert ask(smu, "print(type(os.time()), type(os.clock()))") == "number\tnumber"


class CtrlC:
    """Ctrl-C while a script runs: SIGALRM raises KeyboardInterrupt every 50 ms from 0.2 s on
    until the interrupt has come out (Python drops one that lands in a garbage-collection
    callback, as it would a real Ctrl-C; a user presses again)."""

    def __enter__(self) -> CtrlC:
        self.armed = True
        self.previous = signal.getsignal(signal.SIGALRM)

        def handler(signum, frame):  # noqa: ANN001 - the signal module's signature
            if self.armed:
                raise KeyboardInterrupt
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.2, 0.05)
        return self

    def disarm(self) -> None:
        self.armed = False

    def __exit__(self, *exc_info: object) -> None:
        self.armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.previous)


def interrupted(twin: TspInstrument, script: str) -> None:
    with CtrlC() as ctrl_c, pytest.raises(KeyboardInterrupt):
        try:
            twin.write(script)
        finally:
            ctrl_c.disarm()


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals")
@pytest.mark.parametrize("script", [
    "while true do smua.measure.i() end",
    "while true do pcall(smua.measure.i) end",
    "while true do pcall(pcall, smua.measure.i) end",
    "while true do coroutine.resume(coroutine.create(function() smua.measure.i() end)) end",
], ids=["bare", "pcall", "nested pcall", "coroutine"])
def test_ctrl_c_in_a_script_reaches_the_caller(smu: Keithley2600BTwin, script: str) -> None:
    interrupted(smu, script)
    assert all("KeyboardInterrupt" not in message for _, message in errors(smu))
    assert ask(smu, "print(1)") == "1.00000e+00"


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals")
def test_ctrl_c_in_the_707b_script_reaches_the_caller(switch: Keithley707BTwin) -> None:
    interrupted(switch, "while true do pcall(channel.open, 'allslots') end")
    assert all("KeyboardInterrupt" not in message for _, message in errors(switch))
    assert ask(switch, 'print(channel.getclose("allslots"))') == "nil"


@pytest.mark.parametrize("expression", ["0/0", "1/0", "-1/0"])
def test_nan_and_infinity_are_refused_and_the_smu_keeps_working(
        smu: Keithley2600BTwin, expression: str) -> None:
    smu.write("smua.source.levelv = 0.25")
    smu.write(f"smua.source.levelv = {expression}")
    [(code, message)] = errors(smu)
    assert code == PARAMETER_ERROR and "levelv" in message
    assert float(ask(smu, "print(smua.source.levelv)")) == pytest.approx(0.25)
    for attribute in ("smua.source.limiti", "smua.measure.nplc", "smua.measure.count",
                      "smua.source.rangev"):
        smu.write(f"{attribute} = {expression}")
        assert [c for c, _ in errors(smu)] == [PARAMETER_ERROR]
    smu.write(f"smua.trigger.source.listv({{0.1, {expression}}})")
    assert [c for c, _ in errors(smu)] == [PARAMETER_ERROR]
    smu.write("smua.source.output = 1")
    assert float(ask(smu, "print(smua.measure.i())")) > 0.0
    smu.write("*RST")
    smu.write("reset()")
    assert float(ask(smu, "print(smua.source.levelv)")) == 0.0
    assert smu.error_count == 0


def test_nan_to_the_707b_is_refused_and_the_switch_keeps_working(switch: Keithley707BTwin) -> None:
    switch.write("channel.close(0/0)")
    switch.write("channel.setdelay('1A01', 0/0)")
    assert errors(switch)
    switch.write('channel.close("1A01")')
    switch.write('channel.open("1A01")')
    switch.write("*RST")
    assert ask(switch, 'print(channel.getclose("allslots"))') == "nil"
    assert switch.error_count == 0


def test_each_model_prints_with_its_own_reset_precision(smu: Keithley2600BTwin,
                                                         switch: Keithley707BTwin) -> None:
    # 2600B: 6 significant digits after reset; 707B: 10 (format.asciiprecision in their manuals).
    assert ask(smu, "print(errorqueue.count, format.asciiprecision)") == "0.00000e+00\t6.00000e+00"
    assert ask(switch, "print(errorqueue.next())") == \
        "0.000000000e+00\tQueue Is Empty\t0.000000000e+00\t0.000000000e+00"
    switch.write("format.asciiprecision = 4 reset()")
    assert ask(switch, "print(format.asciiprecision)") == "1.000000000e+01"
