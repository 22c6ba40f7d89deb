"""Protocol tests of the Keithley drivers: the exact strings of reference/instruments.md."""

from __future__ import annotations

import numpy as np
import pytest
from pymeasure.adapters import Adapter
from pymeasure.test import expected_protocol
from pyvisa.constants import StatusCode
from pyvisa.errors import VisaIOError

from memlab.instruments.interfaces import CrossbarWiring, InstrumentConnectionError, InstrumentError
from memlab.instruments.keithley import Keithley2450, Keithley2600B, Keithley707B
from memlab.instruments.limits import LimitError, SafetyLimits

OK = ("SYST:ERR?", '0,"No error"')
TSP_OK = ("print(errorqueue.count)", "0.00000e+00")


def real32(values: list[float]) -> bytes:
    """A 2600B binary printbuffer reply: '#0', little-endian float32, newline."""
    return b"#0" + np.asarray(values, dtype="<f4").tobytes() + b"\n"


# -- Keithley 2450 -----------------------------------------------------------------------------------------


def test_2450_sets_compliance_before_level_and_output() -> None:
    with expected_protocol(
        Keithley2450,
        [(":SOUR:FUNC VOLT", None), (":SOUR:VOLT:ILIM 0.001", None), (":SOUR:VOLT 0.1", None), OK,
         (":OUTP ON", None), (":OUTP?", "1"), (":OUTP OFF", None)],
    ) as smu:
        smu.set_voltage(0.1, 1e-3)
        smu.output_on()
        assert smu.output_enabled() is True
        smu.output_off()


def test_2450_sources_current_with_voltage_compliance() -> None:
    with expected_protocol(
        Keithley2450, [(":SOUR:FUNC CURR", None), (":SOUR:CURR:VLIM 2", None), (":SOUR:CURR 1e-06", None)]
    ) as smu:
        smu.set_current(1e-6, 2.0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda s: s.set_voltage(12, 1e-3), "voltage_v=12 .*max_voltage_v"),
        (lambda s: s.set_voltage(1, 0.5), "compliance_a=0.5"),
        (lambda s: s.set_voltage(1, 0), "compliance_a=0"),
        (lambda s: s.set_current(0.1, 1), "current_a=0.1"),
        (lambda s: s.set_current(1e-6, 20), "compliance_v=20"),
        (lambda s: setattr(s, "source_voltage", -11), "voltage_v=-11"),
        (lambda s: setattr(s, "compliance_current", 0.02), "compliance_a=0.02"),
        (lambda s: setattr(s, "nplc", 20), "nplc=20"),
        (lambda s: s.list_sweep([0, 1, 11], 1e-3, 0.01), r"voltages_v\[2\]=11"),
        (lambda s: s.list_sweep([0, 1], 1e-3, 0.01, delay_s=20e-6), "delay_s=2e-05.*0 s or 50 us"),
        (lambda s: s.list_sweep(np.zeros(2501), 1e-3, 0.01), "1 .. 2500 values"),
        (lambda s: s.pulse(11, 1e-3, 2e-3, 5, compliance_a=1e-3), "level_v=11"),
        (lambda s: s.pulse(2, 1e-3, 1.5e-3, 5, compliance_a=1e-3), "period_s=0.0015.*whole multiple"),
        (lambda s: s.pulse(2, 1e-4, 2e-4, 5, compliance_a=1e-3), "width_s=0.0001"),
    ],
)
def test_2450_refuses_bad_values_and_sends_nothing(call, match: str) -> None:
    with expected_protocol(Keithley2450, []) as smu:
        with pytest.raises(LimitError, match=match):
            call(smu)


def test_2450_model_range_applies_even_under_generous_limits() -> None:
    with expected_protocol(Keithley2450, [], limits=SafetyLimits(max_voltage_v=1000)) as smu:
        with pytest.raises(LimitError, match="voltage_v=250 is outside the Keithley 2450 range"):
            smu.set_voltage(250, 1e-3)


def test_2450_measures_and_sets_nplc() -> None:
    with expected_protocol(
        Keithley2450,
        [(":MEAS:CURR?", "1.5e-06"), (":MEAS:VOLT?", "0.25"), (":SENS:CURR:NPLC 0.1", None), (":SENS:CURR:NPLC?", "0.1")],
    ) as smu:
        assert smu.measure_current_a() == 1.5e-6
        assert smu.measure_voltage_v() == 0.25
        smu.nplc = 0.1
        assert smu.nplc == 0.1


def sweep_setup(compliance: str = "0.001", nplc: str = "0.01", make: bool = True, autozero: str = "OFF") -> list:
    pairs = [
        (":SOUR:FUNC VOLT", None), (f":SOUR:VOLT:ILIM {compliance}", None), (":SOUR:VOLT 0", None),
        (':SENS:FUNC "CURR"', None), (":SENS:CURR:RANG:AUTO ON", None), (f":SENS:CURR:NPLC {nplc}", None),
        (f":SENS:CURR:AZER {autozero}", None),
    ]
    if make:
        pairs += [(':TRAC:MAKE "memlab", 100000', None), OK]
    return pairs + [(':TRAC:CLE "memlab"', None)]


def sweep_run(n: int, reply: str, delay: str = "0") -> list:
    return [
        (f':SOUR:SWE:VOLT:LIST 1,{delay},1,OFF,"memlab"', None), OK, (":OUTP ON", None), (":INIT;*OPC?", "1"),
        (":SOUR:VOLT 0", None), (":OUTP OFF", None),
        (f':TRAC:DATA? 1, {n}, "memlab", SOUR, READ, REL', reply), OK,
    ]


def test_2450_list_sweep_loads_runs_and_fetches_once() -> None:
    reply = "-0.5,-2.5e-06,0.0,0,1e-12,0.00021,0.5,2.6e-06,0.00042"
    pairs = sweep_setup() + [(":SOUR:LIST:VOLT -0.5,0,0.5", None)] + sweep_run(3, reply, delay="0.001")
    # a second sweep reuses the buffer made by the first
    pairs += sweep_setup(make=False) + [(":SOUR:LIST:VOLT 0.1", None)] + sweep_run(1, "0.1,1e-07,5.0")
    with expected_protocol(Keithley2450, pairs) as smu:
        result = smu.list_sweep([-0.5, 0, 0.5], compliance_a=1e-3, nplc=0.01, delay_s=1e-3)
        np.testing.assert_allclose(result.source_v, [-0.5, 0, 0.5])
        np.testing.assert_allclose(result.current_a, [-2.5e-6, 1e-12, 2.6e-6])
        np.testing.assert_allclose(result.time_s, [0.0, 0.00021, 0.00042])
        again = smu.list_sweep([0.1], compliance_a=1e-3, nplc=0.01)
        assert again.time_s.tolist() == [0.0]  # times count from the first point


def test_2450_the_same_sweep_again_only_clears_the_buffer_and_runs() -> None:
    reply = "0.2,1e-07,0.0"
    load = sweep_setup() + [(":SOUR:LIST:VOLT 0.2", None)]
    pairs = load + sweep_run(1, reply)
    # held: no set-up, no list, and no error check before the output goes on (the one after runs)
    pairs += [(':TRAC:CLE "memlab"', None)] + sweep_run(1, reply)[2:]
    pairs += [(":OUTP?", "0")]  # a query leaves the loaded sweep alone
    pairs += [(':TRAC:CLE "memlab"', None)] + sweep_run(1, reply)[2:]
    # any other command may change what the sweep does: the next one loads everything again
    pairs += [(":SOUR:VOLT:ILIM 0.0001", None)] + sweep_setup(make=False) + [(":SOUR:LIST:VOLT 0.2", None)]
    pairs += sweep_run(1, reply)
    pairs += sweep_setup(compliance="0.0001", make=False) + [(":SOUR:LIST:VOLT 0.2", None)] + sweep_run(1, reply)
    with expected_protocol(Keithley2450, pairs) as smu:
        for _ in range(2):
            smu.list_sweep([0.2], 1e-3, 0.01)
        assert smu.output_enabled() is False
        smu.list_sweep([0.2], 1e-3, 0.01)
        smu.compliance_current = 1e-4
        smu.list_sweep([0.2], 1e-3, 0.01)
        smu.list_sweep([0.2], 1e-4, 0.01)  # another limit is another sweep


def test_2450_a_failed_sweep_is_loaded_again_next_time() -> None:
    load = sweep_setup() + [(":SOUR:LIST:VOLT 0.2", None)]
    short = sweep_run(1, "0.2,1e-07")  # two values for three: refused after the fetch
    pairs = load + sweep_run(1, "0.2,1e-07,0.0") + [(':TRAC:CLE "memlab"', None)] + short[2:]
    pairs += sweep_setup(make=False) + [(":SOUR:LIST:VOLT 0.2", None)] + sweep_run(1, "0.2,1e-07,0.0")
    with expected_protocol(Keithley2450, pairs) as smu:
        smu.list_sweep([0.2], 1e-3, 0.01)
        with pytest.raises(InstrumentError, match="returned 2 values"):
            smu.list_sweep([0.2], 1e-3, 0.01)
        smu.list_sweep([0.2], 1e-3, 0.01)


def test_2450_long_lists_are_sent_100_values_per_command() -> None:
    voltages = np.round(np.linspace(0, 1, 250), 6)
    chunks = [",".join(format(v, ".9g") for v in voltages[i:i + 100]) for i in (0, 100, 200)]
    reply = ",".join(f"{v},1e-06,{k * 1e-3}" for k, v in enumerate(voltages))
    pairs = sweep_setup() + [
        (f":SOUR:LIST:VOLT {chunks[0]}", None), (f":SOUR:LIST:VOLT:APP {chunks[1]}", None),
        (f":SOUR:LIST:VOLT:APP {chunks[2]}", None),
    ] + sweep_run(250, reply)
    with expected_protocol(Keithley2450, pairs) as smu:
        result = smu.list_sweep(voltages, 1e-3, 0.01)
    assert len(result) == 250 and result.time_s[-1] == pytest.approx(0.249)


def test_2450_accepts_a_buffer_left_by_an_earlier_session_only() -> None:
    exists = ("SYST:ERR?", '-224,"Illegal parameter value;buffer \'memlab\' already exists"')
    pairs = sweep_setup()[:-3] + [(':TRAC:MAKE "memlab", 100000', None), exists, OK, (':TRAC:CLE "memlab"', None),
                                  (":SOUR:LIST:VOLT 0.1", None)] + sweep_run(1, "0.1,1e-07,0")
    with expected_protocol(Keithley2450, pairs) as smu:
        assert len(smu.list_sweep([0.1], 1e-3, 0.01)) == 1
    full = ("SYST:ERR?", '-225,"Out of memory"')
    with expected_protocol(Keithley2450, sweep_setup()[:-3] + [(':TRAC:MAKE "memlab", 100000', None), full, OK]) as smu:
        with pytest.raises(InstrumentError, match="-225 Out of memory"):
            smu.list_sweep([0.1], 1e-3, 0.01)


def test_2450_autozero_is_off_for_sweeps_unless_asked_for() -> None:
    # Autozero on doubles every point's integration: the driver switches it off before each sweep
    # (pinned in sweep_setup for every sweep test) and on only when the bench asks for it.
    pairs = sweep_setup(autozero="ON") + [(":SOUR:LIST:VOLT 0.1", None)] + sweep_run(1, "0.1,1e-07,0")
    with expected_protocol(Keithley2450, pairs, autozero=True) as smu:
        assert len(smu.list_sweep([0.1], 1e-3, 0.01)) == 1
        assert smu.settings()["autozero"] is True  # recorded from the declared setting
    with pytest.raises(ValueError, match="autozero='yes'"):
        Keithley2450(None, autozero="yes")


def test_2450_sweep_rejects_short_buffer_data() -> None:
    pairs = sweep_setup() + [(":SOUR:LIST:VOLT 0.1,0.2", None)] + sweep_run(2, "0.1,1e-07,0")
    with expected_protocol(Keithley2450, pairs) as smu:
        with pytest.raises(InstrumentError, match="returned 3 values, expected 6"):
            smu.list_sweep([0.1, 0.2], 1e-3, 0.01)


def test_2450_pulses_by_list_sweep_and_keeps_one_row_per_pulse() -> None:
    # 1 ms pulses every 2 ms at 50 Hz: aperture 0.5 ms (nplc 0.025), delay 0.5 ms, points [2, 0, 2, 0]
    reply = "2,1e-04,0,0,1e-09,0.001,2,1.1e-04,0.002,0,1e-09,0.003"
    pairs = sweep_setup(compliance="0.0005", nplc="0.025") + [(":SOUR:LIST:VOLT 2,0,2,0", None)] + sweep_run(
        4, reply, delay="0.0005"
    )
    with expected_protocol(Keithley2450, pairs) as smu:
        result = smu.pulse(2.0, 1e-3, 2e-3, 2, compliance_a=5e-4)
    np.testing.assert_allclose(result.source_v, [2, 2])
    np.testing.assert_allclose(result.current_a, [1e-4, 1.1e-4])
    np.testing.assert_allclose(result.time_s, [0, 0.002])


def test_2450_shutdown_is_safe_to_repeat() -> None:
    off = [(":ABOR", None), (":OUTP OFF", None), (":SOUR:VOLT 0", None), (":SOUR:CURR 0", None)]
    with expected_protocol(Keithley2450, off + off) as smu:
        smu.shutdown()
        smu.shutdown()  # already off: the same harmless commands, no error


def test_2450_identity_and_reset_forgets_the_buffer() -> None:
    with expected_protocol(
        Keithley2450, [("*IDN?", "KEITHLEY INSTRUMENTS,MODEL 2450,04096218,1.7.3b\n"), ("*RST;:stat:pres;:*CLS;", None)]
    ) as smu:
        assert smu.identity() == "KEITHLEY INSTRUMENTS,MODEL 2450,04096218,1.7.3b"
        smu._buffer_ready = True
        smu.reset()
        assert smu._buffer_ready is False


# -- Keithley 2600B ----------------------------------------------------------------------------------------


def test_2600b_sets_compliance_before_level_and_output() -> None:
    with expected_protocol(
        Keithley2600B,
        [("smua.source.func = smua.OUTPUT_DCVOLTS", None), ("smua.source.limiti = 0.0001", None),
         ("smua.source.levelv = -0.2", None), TSP_OK, ("smua.source.output = smua.OUTPUT_ON", None),
         ("print(smua.source.output)", "1.00000e+00"), ("print(smua.measure.i())", "-3.20000e-07"),
         ("smua.source.output = smua.OUTPUT_OFF", None)],
    ) as smu:
        smu.set_voltage(-0.2, 1e-4)
        smu.output_on()
        assert smu.output_enabled() is True
        assert smu.measure_current_a() == pytest.approx(-3.2e-7)
        smu.output_off()


def test_2600b_channel_b_current_source_and_nplc() -> None:
    with expected_protocol(
        Keithley2600B,
        [("smub.source.func = smub.OUTPUT_DCAMPS", None), ("smub.source.limitv = 1.5", None),
         ("smub.source.leveli = 1e-05", None), ("smub.measure.nplc = 0.01", None),
         ("print(smub.measure.nplc)", "1.00000e-02"), ("print(smub.measure.v())", "1.20000e+00")],
        channel="b",
    ) as smu:
        smu.set_current(1e-5, 1.5)
        smu.nplc = 0.01
        assert smu.nplc == pytest.approx(0.01)
        assert smu.measure_voltage_v() == pytest.approx(1.2)


def script(action: list[str], compliance: str = "0.001", nplc: str = "0.01", autozero: str = "ONCE") -> list:
    lines = [
        "loadandrunscript", "smua.source.func = smua.OUTPUT_DCVOLTS", f"smua.source.limiti = {compliance}",
        f"smua.measure.nplc = {nplc}", f"smua.measure.autozero = smua.AUTOZERO_{autozero}", "smua.nvbuffer1.clear()", "smua.nvbuffer1.collecttimestamps = 1",
        "smua.nvbuffer1.collectsourcevalues = 1", "smua.source.output = smua.OUTPUT_ON", *action,
        "smua.source.levelv = 0", "smua.source.output = smua.OUTPUT_OFF", "endscript",
    ]
    return [TSP_OK] + [(line, None) for line in lines]


def fetch(n: int, reply: bytes) -> list:
    return [
        ("format.data = format.REAL32", None), ("format.byteorder = format.LITTLEENDIAN", None),
        (f"printbuffer(1, {n}, smua.nvbuffer1.sourcevalues, smua.nvbuffer1.readings, smua.nvbuffer1.timestamps)", None),
        (None, reply), ("format.data = format.ASCII", None), TSP_OK,
    ]


def test_2600b_list_sweep_runs_a_script_and_reads_binary_buffer() -> None:
    points = [-0.1, -1e-7, 10.0, 0.1, 1.2e-7, 10.0005, 1.0, 1.5e-6, 10.001]  # (v, i, t) interleaved
    pairs = script(["SweepVListMeasureI(smua, {-0.1, 0.1, 1}, 0.0005, 3)"]) + fetch(3, real32(points))
    with expected_protocol(Keithley2600B, pairs) as smu:
        result = smu.list_sweep([-0.1, 0.1, 1.0], compliance_a=1e-3, nplc=0.01, delay_s=5e-4)
    np.testing.assert_allclose(result.source_v, [-0.1, 0.1, 1.0], rtol=1e-6)
    np.testing.assert_allclose(result.current_a, [-1e-7, 1.2e-7, 1.5e-6], rtol=1e-6)
    np.testing.assert_allclose(result.time_s, [0.0, 0.0005, 0.001], atol=2e-6)  # float32 timestamps


def test_2600b_long_lists_are_built_100_values_per_line() -> None:
    voltages = np.arange(150) * 0.01
    first = ", ".join(format(v, ".9g") for v in voltages[:100])
    second = ", ".join(format(v, ".9g") for v in voltages[100:])
    action = [
        "memlab_v = {}",
        f"for _, x in ipairs({{{first}}}) do table.insert(memlab_v, x) end",
        f"for _, x in ipairs({{{second}}}) do table.insert(memlab_v, x) end",
        "SweepVListMeasureI(smua, memlab_v, 0, 150)",
    ]
    data = np.column_stack([voltages, voltages * 1e-6, np.arange(150) * 1e-3]).ravel()
    with expected_protocol(Keithley2600B, script(action) + fetch(150, real32(data.tolist()))) as smu:
        result = smu.list_sweep(voltages, 1e-3, 0.01)
    np.testing.assert_allclose(result.current_a, voltages * 1e-6, rtol=1e-6)


def test_2600b_pulse_uses_pulsevmeasurei() -> None:
    # 1 ms at 1.5 V every 10 ms from 0.1 V: toff 9 ms; aperture half the width at 50 Hz -> nplc 0.025
    action = ["PulseVMeasureI(smua, 0.1, 1.5, 0.001, 0.009, 2)"]
    reply = real32([1.5, 2e-5, 3.0, 1.5, 2.1e-5, 3.01])
    with expected_protocol(Keithley2600B, script(action, compliance="0.0001", nplc="0.025") + fetch(2, reply)) as smu:
        result = smu.pulse(1.5, 1e-3, 10e-3, 2, base_v=0.1, compliance_a=1e-4)
    np.testing.assert_allclose(result.current_a, [2e-5, 2.1e-5], rtol=1e-6)
    np.testing.assert_allclose(result.time_s, [0, 0.01], atol=1e-6)


def test_2600b_autozero_once_per_sweep_unless_asked_for_every_reading() -> None:
    pairs = script(["SweepVListMeasureI(smua, {0.1}, 0, 1)"], autozero="AUTO") + fetch(1, real32([0.1, 1e-6, 0.0]))
    with expected_protocol(Keithley2600B, pairs, autozero=True) as smu:
        assert len(smu.list_sweep([0.1], 1e-3, 0.01)) == 1


def test_2600b_refuses_malformed_binary_reply() -> None:
    truncated = real32([0.1, 1e-6, 0.0])[:-5] + b"\n"
    pairs = script(["SweepVListMeasureI(smua, {0.1}, 0, 1)"]) + fetch(1, truncated)[:5]
    with expected_protocol(Keithley2600B, pairs) as smu:
        with pytest.raises(InstrumentError, match="malformed binary buffer"):
            smu.list_sweep([0.1], 1e-3, 0.01)


def test_2600b_error_queue_becomes_instrument_error() -> None:
    with expected_protocol(
        Keithley2600B,
        [("print(errorqueue.count)", "1.00000e+00"),
         ("print(errorqueue.next())", "-2.85000e+02\tTSP Syntax error at line 1: unexpected symbol\t2.00000e+01\t0.00000e+00")],
    ) as smu:
        with pytest.raises(InstrumentError, match="-285 TSP Syntax error at line 1: unexpected symbol") as info:
            smu.output_on()  # the output stays off
    assert info.value.errors == [(-285, "TSP Syntax error at line 1: unexpected symbol")]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda s: s.set_voltage(10.5, 1e-3), "voltage_v=10.5"),
        (lambda s: s.list_sweep([0.1], 1e-3, 30), "nplc=30"),
        (lambda s: s.list_sweep([0.1, -20], 1e-3, 1), r"voltages_v\[1\]=-20"),
        (lambda s: s.pulse(1, 1e-3, 2e-3, 3, compliance_a=0.05), "compliance_a=0.05"),
        (lambda s: s.pulse(1, 1e-5, 2e-3, 3, compliance_a=1e-3), "width_s=1e-05"),
    ],
)
def test_2600b_refuses_bad_values_and_sends_nothing(call, match: str) -> None:
    with expected_protocol(Keithley2600B, []) as smu:
        with pytest.raises(LimitError, match=match):
            call(smu)


def test_2600b_shutdown_and_bad_channel() -> None:
    with expected_protocol(
        Keithley2600B,
        [("smua.source.output = smua.OUTPUT_OFF", None), ("smua.source.levelv = 0", None), ("smua.source.leveli = 0", None)],
    ) as smu:
        smu.shutdown()
    with pytest.raises(ValueError, match="channel='c'"):
        Keithley2600B(None, channel="c")


class ScriptedAdapter(Adapter):
    """Like pymeasure's ProtocolAdapter, but a reply may be an exception raised at the read (a timeout)."""

    def __init__(self, pairs: list[tuple[str, object]]) -> None:
        super().__init__()
        self.pairs = list(pairs)
        self.reply: object = None

    def _write(self, command: str, **kwargs: object) -> None:
        expected, self.reply = self.pairs.pop(0)
        assert command == expected, f"sent {command!r}, expected {expected!r}"

    def _read(self, **kwargs: object) -> str:
        return self._read_bytes(-1, False).decode()

    def _read_bytes(self, count: int, break_on_termchar: bool = False, **kwargs: object) -> bytes:
        reply, self.reply = self.reply, None
        if isinstance(reply, BaseException):
            raise reply
        assert reply is not None, "read without a reply"
        return reply if isinstance(reply, bytes) else str(reply).encode()


TIMEOUT = VisaIOError(StatusCode.error_timeout)


def test_2450_sweep_timeout_switches_off_and_reports_no_reply() -> None:
    pairs = sweep_setup() + [(":SOUR:LIST:VOLT 0.1", None)] + sweep_run(1, "")[:3] + [
        (":INIT;*OPC?", TIMEOUT), (":ABOR", None), (":OUTP OFF", None), OK,
    ]
    adapter = ScriptedAdapter(pairs)
    with pytest.raises(InstrumentConnectionError, match=r"Keithley 2450: no reply to ':INIT;\*OPC\?'"):
        Keithley2450(adapter).list_sweep([0.1], 1e-3, 0.01)
    assert adapter.pairs == []


def test_2600b_script_error_explains_a_missing_buffer() -> None:
    printbuffer = fetch(1, b"")[2][0]
    pairs = script(["SweepVListMeasureI(smua, {0.1}, 0, 1)"]) + fetch(1, b"")[:2] + [
        (printbuffer, TIMEOUT), ("format.data = format.ASCII", None), ("print(errorqueue.count)", "1.00000e+00"),
        ("print(errorqueue.next())", "-2.86000e+02\tTSP Runtime error at line 9: attempt to call a nil value\t2\t0"),
    ]
    adapter = ScriptedAdapter(pairs)
    with pytest.raises(InstrumentError, match="-286 TSP Runtime error at line 9") as info:
        Keithley2600B(adapter).list_sweep([0.1], 1e-3, 0.01)
    assert not isinstance(info.value, InstrumentConnectionError)
    assert adapter.pairs == []


# -- Keithley 707B -----------------------------------------------------------------------------------------

WIRING = CrossbarWiring.default(4, 4)
GETCLOSE = 'print(channel.getclose("allslots"))'


def test_707b_connects_a_terminal_to_a_device() -> None:
    with expected_protocol(
        Keithley707B,
        [(GETCLOSE, "nil"), ('channel.close("1A01,1B05")', None), ("*OPC?", "1"), TSP_OK,
         (GETCLOSE, "1A01;1B05")],
        wiring=WIRING,
    ) as matrix:
        matrix.connect("smu", 0, 0)
        assert matrix.connections() == {"smu": [0, 0]}  # read back from the relays


def test_707b_moving_a_terminal_releases_its_previous_device_only() -> None:
    with expected_protocol(
        Keithley707B,
        [(GETCLOSE, "1A01;1B05;1C03;1D07"), ('channel.open("1A01,1B05")', None), ('channel.close("1A02,1B06")', None),
         ("*OPC?", "1"), TSP_OK, (GETCLOSE, "1A02;1B06;1C03;1D07")],
        wiring=WIRING,
    ) as matrix:
        matrix.connect("smu", 1, 1)
        assert matrix.closed() == ["1A02", "1B06", "1C03", "1D07"]


def test_707b_refuses_to_short_two_terminals_through_one_pad() -> None:
    # "pulse" holds chip row 0 (pad 101); "smu" on device (0, 1) would need pad 101 too
    with expected_protocol(Keithley707B, [(GETCLOSE, "1C01;1D06")], wiring=WIRING) as matrix:
        with pytest.raises(InstrumentError, match=r"pad 101 is held by pulse through 1C01.*disconnect\('pulse'\)"):
            matrix.connect("smu", 0, 1)


def test_707b_disconnect_open_all_and_shutdown() -> None:
    with expected_protocol(
        Keithley707B,
        [(GETCLOSE, "1A01;1B05;1C02;1D06"), ('channel.open("1C02,1D06")', None), ("*OPC?", "1"),
         ('channel.open("allslots")', None), ("*OPC?", "1"), ('channel.open("allslots")', None), ("*OPC?", "1"),
         (GETCLOSE, "nil")],
        wiring=WIRING,
    ) as matrix:
        matrix.disconnect("pulse")
        matrix.open_all()
        matrix.shutdown()
        assert matrix.closed() == []


def test_707b_refuses_unwired_terminals_and_devices_before_sending() -> None:
    with expected_protocol(Keithley707B, [], wiring=WIRING) as matrix:
        with pytest.raises(ValueError, match="terminal='laser'"):
            matrix.connect("laser", 0, 0)
        with pytest.raises(LimitError, match="col=9"):
            matrix.connect("smu", 0, 9)


def test_707b_snapshot_records_wiring_and_connections() -> None:
    with expected_protocol(
        Keithley707B,
        [(GETCLOSE, "nil"), ('channel.close("1C04,1D08")', None), ("*OPC?", "1"), TSP_OK,
         ("*IDN?", "Keithley Instruments Inc., Model 707B, 1234567, 1.6.0"), (GETCLOSE, "1C04;1D08")],
        wiring=WIRING,
    ) as matrix:
        matrix.connect("pulse", 3, 3)
        snap = matrix.snapshot()
    assert snap["settings"]["connections"] == {"pulse": [3, 3]}
    assert snap["wiring"]["row_pads"] == ["101", "102", "103", "104"]
    assert snap["identity"].startswith("Keithley Instruments Inc., Model 707B")
