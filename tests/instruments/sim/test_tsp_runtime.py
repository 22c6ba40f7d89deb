"""The TSP runtime shared by the 2600B and 707B twins: Lua, output formats, errors, scripts."""

from __future__ import annotations

import time

import numpy as np
import pytest

from memlab.instruments.sim.chip import Chip
from memlab.instruments.sim.clock import VirtualClock
from memlab.instruments.sim.keithley2600 import Keithley2600BTwin
from memlab.instruments.sim.world import SimWorld


@pytest.fixture
def twin() -> Keithley2600BTwin:
    clock = VirtualClock()
    return Keithley2600BTwin(SimWorld(Chip(2, 2, seed=1, clock=clock)), "smu")


def ask(twin: Keithley2600BTwin, command: str) -> str:
    twin.write(command)
    return twin.read()


def errors(twin: Keithley2600BTwin) -> list[tuple[int, str]]:
    found = []
    while int(float(ask(twin, "print(errorqueue.count)"))):
        code, message, severity, node = ask(twin, "print(errorqueue.next())").split("\t")
        found.append((int(float(code)), message))
    return found


def test_print_formats_numbers_like_the_instrument(twin: Keithley2600BTwin) -> None:
    assert ask(twin, "print(1)") == "1.00000e+00"
    assert ask(twin, "print('a', true, nil, 2.5e-7)") == "a\ttrue\tnil\t2.50000e-07"
    twin.write("format.asciiprecision = 3")
    assert ask(twin, "print(-1234.5)") == "-1.23e+03"
    assert ask(twin, "print(string.format('%d items', 3))") == "3 items"


def test_lua_is_a_real_interpreter(twin: Keithley2600BTwin) -> None:
    script = "local t = {} for i = 1, 10 do t[i] = i * i end " \
             "local function sum(x) local s = 0 for _, v in ipairs(x) do s = s + v end return s end " \
             "print(sum(t), table.getn(t), math.mod(7, 3))"
    assert ask(twin, script) == "3.85000e+02\t1.00000e+01\t1.00000e+00"


def test_syntax_error_is_285_and_nothing_runs(twin: Keithley2600BTwin) -> None:
    twin.write("x = 1 y = = 2")
    twin.write("print(x)")
    assert twin.read() == "nil"
    [(code, message)] = errors(twin)
    assert code == -285
    assert message.startswith("TSP Syntax error at line 1:")


def test_runtime_error_is_286_with_the_line_and_stops_the_chunk(twin: Keithley2600BTwin) -> None:
    twin.write("loadandrunscript\nx = 1\nundefined_function()\nx = 2\nendscript")
    [(code, message)] = errors(twin)
    assert code == -286
    assert message == "TSP Runtime error at line 2: attempt to call global 'undefined_function' (a nil value)"
    assert ask(twin, "print(x)") == "1.00000e+00"


def test_error_queue_commands(twin: Keithley2600BTwin) -> None:
    assert ask(twin, "print(errorqueue.next())") == "0.00000e+00\tQueue Is Empty\t0.00000e+00\t0.00000e+00"
    twin.write("nonsense(")
    twin.write("smua.source.levelv = 1000")
    assert ask(twin, "print(errorqueue.count)") == "2.00000e+00"
    twin.write("errorqueue.clear()")
    assert errors(twin) == []


def test_setting_errors_keep_the_old_value_and_the_script_goes_on(twin: Keithley2600BTwin) -> None:
    twin.write("smua.source.levelv = 0.5 smua.source.levelv = 1000 smua.measure.nplc = 0.1")
    assert ask(twin, "print(smua.source.levelv, smua.measure.nplc)") == "5.00000e-01\t1.00000e-01"
    [(code, message)] = errors(twin)
    assert code == 1101
    assert "smua.source.levelv=1000" in message and "40.4" in message
    twin.write("smua.measure.nplc = 0.0001")
    assert errors(twin)[0][0] == 1102
    twin.write("smua.source.output = 7")
    assert "allowed 0, 1, 2" in errors(twin)[0][1]


def test_misspelt_or_read_only_attributes_are_runtime_errors(twin: Keithley2600BTwin) -> None:
    twin.write("smua.source.levelx = 1")
    twin.write("smua.nvbuffer1.n = 3")
    twin.write("print(smua.sourse)")
    assert [m for _, m in errors(twin)] == [
        "TSP Runtime error at line 1: smua.source.levelx is not a settable attribute",
        "TSP Runtime error at line 1: smua.nvbuffer1.n is not a settable attribute",
        "TSP Runtime error at line 1: smua.sourse does not exist",
    ]
    twin.write("smua.source.levelv = 'high'")
    assert errors(twin) == [(-286, "TSP Runtime error at line 1: smua.source.levelv: number expected, got string")]


def test_common_commands(twin: Keithley2600BTwin) -> None:
    assert ask(twin, "*IDN?") == "Keithley Instruments Inc., Model 2602B, 4478123, 4.0.4"
    assert ask(twin, "*OPC?") == "1"
    twin.write("smua.source.levelv = 1.5")
    twin.write("nonsense(")
    twin.write("*RST")
    assert ask(twin, "print(smua.source.levelv)") == "0.00000e+00"
    twin.write("*CLS")
    assert errors(twin) == []
    twin.write("*WAI")
    assert ask(twin, "print(localnode.model, localnode.linefreq)") == "2602B\t6.00000e+01"


def test_scpi_commands_are_not_tsp(twin: Keithley2600BTwin) -> None:
    twin.write(":SOUR:VOLT 1")
    [(code, _)] = errors(twin)
    assert code == -285


def test_named_scripts_run_again_and_again(twin: Keithley2600BTwin) -> None:
    for line in ("loadscript Counter", "n = (n or 0) + 1", "print(n)", "endscript"):
        twin.write(line)
    twin.write("Counter()")
    twin.write("Counter.run()")
    assert [twin.read(), twin.read()] == ["1.00000e+00", "2.00000e+00"]
    assert ask(twin, "print(Counter.name)") == "Counter"


def test_sandbox_hides_the_host(twin: Keithley2600BTwin) -> None:
    twin.write("os.execute('echo hi')")
    twin.write("io.open('x')")
    twin.write("print(smua.__class__)")
    twin.write("print(python)")
    assert twin.read() == "nil"
    assert [code for code, _ in errors(twin)] == [-286, -286, -286]


def test_runaway_loop_becomes_an_error_not_a_hang(twin: Keithley2600BTwin) -> None:
    start = time.perf_counter()
    twin.write("while true do end")
    assert time.perf_counter() - start < 5.0
    [(code, message)] = errors(twin)
    assert code == -286 and "budget" in message
    assert ask(twin, "print(1)") == "1.00000e+00"


def test_printbuffer_ascii_and_binary(twin: Keithley2600BTwin) -> None:
    twin.write("smua.nvbuffer1.collectsourcevalues = 1")
    twin.write("SweepVListMeasureI(smua, {0.01, 0.02, 0.03}, 0, 3)")
    ascii_values = ask(twin, "printbuffer(1, 3, smua.nvbuffer1.sourcevalues)")
    assert ascii_values == "1.00000e-02, 2.00000e-02, 3.00000e-02"
    twin.write("format.data = format.REAL32 format.byteorder = format.LITTLEENDIAN")
    twin.write("printbuffer(1, 3, smua.nvbuffer1.sourcevalues, smua.nvbuffer1.readings)")
    raw = twin.read_bytes(2 + 4 * 6 + 1)
    assert raw[:2] == b"#0" and raw[-1:] == b"\n"
    pairs = np.frombuffer(raw[2:-1], "<f4").reshape(3, 2)
    np.testing.assert_allclose(pairs[:, 0], [0.01, 0.02, 0.03], rtol=1e-6)
    twin.write("format.data = format.REAL64 format.byteorder = format.BIGENDIAN")
    twin.write("printbuffer(1, 3, smua.nvbuffer1.sourcevalues)")
    raw = twin.read_bytes(2 + 8 * 3 + 1)
    np.testing.assert_allclose(np.frombuffer(raw[2:-1], ">f8"), [0.01, 0.02, 0.03])
    twin.write("printbuffer(1, 9, smua.nvbuffer1)")
    assert errors(twin)[0][0] == 1115


def test_unread_replies_stay_queued_on_tsp(twin: Keithley2600BTwin) -> None:
    # TSP instruments do not discard an unread reply when the next message arrives.
    twin.write("print(1)")
    twin.write("print(2)")
    assert [twin.read(), twin.read()] == ["1.00000e+00", "2.00000e+00"]
    assert errors(twin) == []


def test_delay_and_timer_use_the_bench_clock(twin: Keithley2600BTwin) -> None:
    twin.write("timer.reset() delay(2.5) t = timer.measure.t()")
    elapsed = float(ask(twin, "print(t)"))
    assert 2.5 <= elapsed < 2.51


def test_trigger_wait_sees_bus_triggers(twin: Keithley2600BTwin) -> None:
    start = twin.clock.now()
    assert ask(twin, "print(trigger.wait(0.5))") == "false"
    assert twin.clock.now() - start >= 0.5
    twin.write("*TRG")
    assert ask(twin, "print(trigger.wait(10))") == "true"
    twin.write("*TRG")
    twin.write("trigger.clear()")
    assert ask(twin, "print(trigger.wait(0))") == "false"


def test_python_objects_keep_their_identity_in_lua_under_garbage_collection(twin: Keithley2600BTwin) -> None:
    # Many chunks that make garbage and transient Python wrappers (bound methods): with Lua's
    # incremental collector, lupa's wrapper slots got reused and a buffer came back as a method.
    for k in range(600):
        twin.write(f"local t = {{}} for i = 1, {k % 50} do t[i] = {{i}} end "
                   "smua.nvbuffer1.clear() smua.nvbuffer1.collecttimestamps = 1 x = smua.measure.nplc")
    assert errors(twin) == []
    assert ask(twin, "print(collectgarbage('count') > 0, collectgarbage())") == "true\t0.00000e+00"
