"""Protocol tests of the Keysight drivers: the exact strings of reference/instruments.md."""

from __future__ import annotations

import numpy as np
import pytest
from pymeasure.test import expected_protocol

from memlab.instruments.interfaces import InstrumentError
from memlab.instruments.keysight import Keysight33500B, Keysight81160A, KeysightB2900
from memlab.instruments.limits import LimitError, SafetyLimits

OK = ("SYST:ERR?", '+0,"No error"')


# -- Keysight B2900 ----------------------------------------------------------------------------------------


def test_b2900_sets_compliance_before_level_and_output() -> None:
    with expected_protocol(
        KeysightB2900,
        [(":SOUR1:FUNC:MODE VOLT", None), (":SENS1:CURR:PROT 0.001", None), (":SOUR1:VOLT 0.2", None), OK,
         (":OUTP1 ON", None), (":OUTP1?", "1"), (":MEAS:CURR? (@1)", "+2.000000E-05"), (":OUTP1 OFF", None)],
    ) as smu:
        smu.set_voltage(0.2, 1e-3)
        smu.output_on()
        assert smu.output_enabled() is True
        assert smu.measure_current_a() == pytest.approx(2e-5)
        smu.output_off()


def test_b2900_channel_2_current_source_and_nplc() -> None:
    with expected_protocol(
        KeysightB2900,
        [(":SOUR2:FUNC:MODE CURR", None), (":SENS2:VOLT:PROT 3", None), (":SOUR2:CURR -1e-06", None),
         (":SENS2:CURR:NPLC 1", None), (":SENS2:CURR:NPLC?", "+1.000000E+00"), (":MEAS:VOLT? (@2)", "0.5")],
        channel=2,
    ) as smu:
        smu.set_current(-1e-6, 3.0)
        smu.nplc = 1
        assert smu.nplc == 1.0
        assert smu.measure_voltage_v() == 0.5


def run_and_fetch(reply: str, restore: list[str]) -> list:
    return [OK, (":OUTP1 ON", None), (":INIT (@1);*OPC?", "1")] + [(c, None) for c in restore] + [
        (":OUTP1 OFF", None), (":FETC:ARR? (@1)", reply), OK,
    ]


def test_b2900_list_sweep_runs_on_the_timer_and_fetches_once() -> None:
    reply = "-1.0E-06,0.0,-0.5,+1.0E-12,3.0E-04,0,+1.1E-06,6.0E-04,0.5"  # (i, t, source) per point
    pairs = [
        (":SOUR1:FUNC:MODE VOLT", None), (":SENS1:CURR:PROT 0.001", None), (":SOUR1:VOLT 0", None),
        (':SENS1:FUNC "CURR"', None), (":SENS1:CURR:RANG:AUTO ON", None), (":SENS1:CURR:NPLC 0.01", None),
        (":SOUR1:VOLT:MODE LIST", None), (":SOUR1:LIST:VOLT -0.5,0,0.5", None), (":TRIG1:SOUR TIM", None),
        (":TRIG1:TIM 0.0003", None), (":TRIG1:COUN 3", None), (":TRIG1:ACQ:DEL 0", None),
        (":FORM:ELEM:SENS CURR,TIME,SOUR", None),
    ] + run_and_fetch(reply, [":SOUR1:VOLT:MODE FIX", ":SOUR1:VOLT 0"])
    with expected_protocol(KeysightB2900, pairs) as smu:
        result = smu.list_sweep([-0.5, 0, 0.5], compliance_a=1e-3, nplc=0.01)
    np.testing.assert_allclose(result.source_v, [-0.5, 0, 0.5])
    np.testing.assert_allclose(result.current_a, [-1e-6, 1e-12, 1.1e-6])
    np.testing.assert_allclose(result.time_s, [0, 3e-4, 6e-4])


def test_b2900_pulse_measures_inside_each_pulse() -> None:
    # 100 us pulses every 1 ms: aperture 50 us (nplc 0.0025 at 50 Hz), acquisition delay 25 us
    reply = "+5.0E-05,0.0,1.5,+5.2E-05,1.0E-03,1.5"
    pairs = [
        (":SOUR1:FUNC:MODE VOLT", None), (":SENS1:CURR:PROT 0.0001", None), (":SOUR1:VOLT 0", None),
        (":SOUR1:FUNC:SHAP PULS", None), (":SOUR1:VOLT:TRIG 1.5", None), (":SOUR1:PULS:DEL 0", None),
        (":SOUR1:PULS:WIDT 0.0001", None), (':SENS1:FUNC "CURR"', None), (":SENS1:CURR:RANG:AUTO OFF", None),
        (":SENS1:CURR:RANG 0.0001", None), (":SENS1:CURR:NPLC 0.0025", None), (":TRIG1:SOUR TIM", None),
        (":TRIG1:TIM 0.001", None), (":TRIG1:COUN 2", None), (":TRIG1:ACQ:DEL 2.5e-05", None),
        (":FORM:ELEM:SENS CURR,TIME,SOUR", None),
    ] + run_and_fetch(reply, [":SOUR1:FUNC:SHAP DC", ":SOUR1:VOLT 0"])
    with expected_protocol(KeysightB2900, pairs) as smu:
        result = smu.pulse(1.5, 100e-6, 1e-3, 2, compliance_a=1e-4)
    np.testing.assert_allclose(result.current_a, [5e-5, 5.2e-5])
    np.testing.assert_allclose(result.source_v, [1.5, 1.5])


def test_b2900_rejects_a_reply_of_the_wrong_length() -> None:
    pairs = [
        (":SOUR1:FUNC:MODE VOLT", None), (":SENS1:CURR:PROT 0.001", None), (":SOUR1:VOLT 0", None),
        (':SENS1:FUNC "CURR"', None), (":SENS1:CURR:RANG:AUTO ON", None), (":SENS1:CURR:NPLC 1", None),
        (":SOUR1:VOLT:MODE LIST", None), (":SOUR1:LIST:VOLT 0.1,0.2", None), (":TRIG1:SOUR TIM", None),
        (":TRIG1:TIM 0.0201", None), (":TRIG1:COUN 2", None), (":TRIG1:ACQ:DEL 0", None),
        (":FORM:ELEM:SENS CURR,TIME,SOUR", None),
    ] + run_and_fetch("1e-6,0,0.1", [":SOUR1:VOLT:MODE FIX", ":SOUR1:VOLT 0"])
    with expected_protocol(KeysightB2900, pairs) as smu:
        with pytest.raises(InstrumentError, match="returned 3 values, expected 6"):
            smu.list_sweep([0.1, 0.2], 1e-3, 1)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda s: s.set_voltage(10.1, 1e-3), "voltage_v=10.1"),
        (lambda s: s.set_voltage(1, 0.011), "compliance_a=0.011"),
        (lambda s: s.list_sweep(np.zeros(2501), 1e-3, 0.01), "1 .. 2500 values"),
        (lambda s: s.list_sweep([0.1], 1e-3, 1e-4), "nplc=0.0001"),
        (lambda s: s.pulse(1, 20e-6, 1e-3, 1, compliance_a=1e-3), "width_s=2e-05.*Keysight B2900 range"),
        (lambda s: s.pulse(1, 100e-6, 110e-6, 1, compliance_a=1e-3), "period_s=0.00011"),
        (lambda s: s.pulse(1, 100e-6, 1e-3, 1, base_v=-12, compliance_a=1e-3), "base_v=-12"),
    ],
)
def test_b2900_refuses_bad_values_and_sends_nothing(call, match: str) -> None:
    with expected_protocol(KeysightB2900, []) as smu:
        with pytest.raises(LimitError, match=match):
            call(smu)


def test_b2900_shutdown_restores_dc_fixed_zero() -> None:
    with expected_protocol(
        KeysightB2900,
        [(":ABOR (@1)", None), (":OUTP1 OFF", None), (":SOUR1:FUNC:SHAP DC", None), (":SOUR1:VOLT:MODE FIX", None),
         (":SOUR1:VOLT 0", None), (":SOUR1:CURR 0", None)],
    ) as smu:
        smu.shutdown()


# -- Keysight 33500B ---------------------------------------------------------------------------------------


def configure_33500b(
    timing: list[str], first_high: str, levels: list[str], polarity: str = "NORM", ncyc: int = 3,
    present_polarity: str = "NORM", load: str = "INF",
) -> list:
    return [
        ("OUTP1:POL?", present_polarity), ("OUTP1:LOAD " + load, None), ("SOUR1:FUNC PULS", None),
        ("SOUR1:FUNC:PULS:HOLD WIDT", None), *[(c, r) for c, r in timing],
        ("SOUR1:VOLT:HIGH?", first_high), *[(c, None) for c in levels], (f"OUTP1:POL {polarity}", None),
        ("SOUR1:BURS:MODE TRIG", None), (f"SOUR1:BURS:NCYC {ncyc}", None), ("SOUR1:BURS:STAT 1", None),
        ("TRIG1:SOUR BUS", None), OK,
    ]


# From the power-on state (period 1 ms, width 100 us, edges 10 ns) to 100 ns pulses every 1 ms with
# 8.4 ns edges: the period does not shrink (period first), the edges do (edges first).
TIMING_1MS = [
    ("SOUR1:FUNC:PULS:PER?", "+1.000000000000000E-03"), ("SOUR1:FUNC:PULS:TRAN?", "+1.000000000000000E-08"),
    ("SOUR1:FUNC:PULS:TRAN:BOTH 8.400000e-09", None), ("SOUR1:FUNC:PULS:PER 1.000000e-03", None),
    ("SOUR1:FUNC:PULS:WIDT 1.000000e-07", None),
]


def test_33500b_configures_a_triggered_burst_and_fires_it() -> None:
    pairs = configure_33500b(TIMING_1MS, "0.1", ["SOUR1:VOLT:LOW 0.000000", "SOUR1:VOLT:HIGH 1.500000"]) + [
        OK, ("OUTP1 1", None), OK, ("*TRG;*WAI", None), ("*OPC?", "1"), ("OUTP1?", "1"), ("OUTP1 0", None),
    ]
    with expected_protocol(Keysight33500B, pairs) as gen:
        gen.configure_pulse(1.5, 100e-9, 1e-3, edge_s=8.4e-9, burst_count=3)
        gen.output_on()
        gen.trigger()
        assert gen.output_enabled() is True
        gen.shutdown()


def test_33500b_fires_a_burst_with_its_output_on_only_for_it() -> None:
    pairs = configure_33500b(TIMING_1MS, "0.1", ["SOUR1:VOLT:LOW 0.000000", "SOUR1:VOLT:HIGH 1.500000"]) + [
        OK, ("OUTP1 1", None), ("*TRG;*WAI;*OPC?", "1"), ("OUTP1 0", None),
    ]
    with expected_protocol(Keysight33500B, pairs) as gen:
        gen.configure_pulse(1.5, 100e-9, 1e-3, edge_s=8.4e-9, burst_count=3)
        gen.fire_burst()
    with expected_protocol(Keysight33500B, []) as gen:
        with pytest.raises(InstrumentError, match="configure the pulse first"):
            gen.fire_burst()


def test_the_33500b_twin_fires_a_burst_and_ends_with_the_output_off() -> None:
    from memlab.instruments.bench import load_bench

    with load_bench(None) as bench:
        bench.switch.join(["smu", "pulse"], 2, 2)
        before = bench.world.chip.probe_current(2, 2, 0.2)
        bench.pulser.configure_pulse(2.0, 1e-6, 2e-6, burst_count=5)
        bench.pulser.fire_burst()
        assert not bench.twins["pulser"].state["out1"]
        assert bench.world.chip.probe_current(2, 2, 0.2) > before  # the SET burst reached the device
        assert bench.pulser.check_errors() == []


def test_33500b_shrinking_period_sets_the_width_first_and_longer_edges_last() -> None:
    # Present: period 1 ms, width 100 us, edges 10 ns. A 1 us period would not hold the present width
    # (-221 "pulse width decreased"), so the width goes first; 20 ns edges need the new width: last.
    timing = [
        ("SOUR1:FUNC:PULS:PER?", "+1.000000000000000E-03"), ("SOUR1:FUNC:PULS:TRAN?", "+1.000000000000000E-08"),
        ("SOUR1:FUNC:PULS:WIDT 1.000000e-07", None), ("SOUR1:FUNC:PULS:PER 1.000000e-06", None),
        ("SOUR1:FUNC:PULS:TRAN:BOTH 2.000000e-08", None),
    ]
    pairs = configure_33500b(timing, "0.1", ["SOUR1:VOLT:LOW 0.000000", "SOUR1:VOLT:HIGH 1.500000"], ncyc=1)
    with expected_protocol(Keysight33500B, pairs) as gen:
        gen.configure_pulse(1.5, 100e-9, 1e-6, edge_s=20e-9)


def test_33500b_sets_levels_in_the_order_the_present_high_allows() -> None:
    # going up past the present high: high first, so high never drops below low
    pairs = configure_33500b(TIMING_1MS, "0.1", ["SOUR1:VOLT:HIGH 3.000000", "SOUR1:VOLT:LOW 2.000000"],
                             ncyc=1_000_000)
    with expected_protocol(Keysight33500B, pairs) as gen:
        gen.configure_pulse(3.0, 100e-9, 1e-3, edge_s=8.4e-9, burst_count=1_000_000, base_v=2.0)


def test_33500b_negative_pulse_inverts_the_output_about_a_zero_base() -> None:
    # -2 V RESET pulses from 0 V: high 0 (the base), low -2 (the pulse level), output inverted.
    timing = TIMING_1MS[:1] + TIMING_1MS[3:]
    pairs = configure_33500b(timing, "0.1", ["SOUR1:VOLT:LOW -2.000000", "SOUR1:VOLT:HIGH 0.000000"],
                             polarity="INV", ncyc=1, present_polarity="INV")
    with expected_protocol(Keysight33500B, pairs) as gen:
        gen.configure_pulse(-2.0, 100e-9, 1e-3)
        settings = gen.settings()  # recorded from the declared properties, as sent
        assert settings["polarity"] == "INV" and settings["low_level_v"] == -2.0 and settings["high_level_v"] == 0.0


def test_33500b_polarity_flip_with_the_output_on_switches_it_off_meanwhile() -> None:
    timing = TIMING_1MS[:1] + TIMING_1MS[3:]
    body = configure_33500b(timing, "2", ["SOUR1:VOLT:LOW -2.000000", "SOUR1:VOLT:HIGH 0.000000"],
                            polarity="INV", ncyc=1)
    pairs = [body[0], ("OUTP1?", "1"), ("OUTP1 0", None), *body[1:], OK, ("OUTP1 1", None)]
    with expected_protocol(Keysight33500B, pairs) as gen:
        gen.configure_pulse(-2.0, 100e-9, 1e-3)
        assert gen.settings()["output"] is True


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"level_v": 12}, "level_v=12 .*max_pulse_voltage_v"),
        ({"level_v": 0.0}, "level_v=0.0 .*above or below base_v"),
        ({"base_v": -11}, "base_v=-11 .*max_pulse_voltage_v"),
        ({"width_s": 10e-9}, "width_s=1e-08.*Keysight 33500B range"),
        ({"period_s": 110e-9}, "period_s=1.1e-07"),
        ({"edge_s": 2e-6}, "edge_s=2e-06"),
        ({"edge_s": 80e-9}, "edge_s=8e-08 .*0.625 x width_s"),
        ({"burst_count": 0}, "burst_count=0"),
    ],
)
def test_33500b_refuses_bad_pulses_and_sends_nothing(kwargs: dict, match: str) -> None:
    args = {"level_v": 1.0, "width_s": 100e-9, "period_s": 1e-3} | kwargs
    with expected_protocol(Keysight33500B, []) as gen:
        with pytest.raises(LimitError, match=match):
            gen.configure_pulse(**args)


def test_33500b_terminated_in_50_ohm_halves_the_level_range() -> None:
    with expected_protocol(Keysight33500B, [], termination_ohm=50) as gen:
        with pytest.raises(LimitError, match="level_v=6.0 is outside the Keysight 33500B range: allowed -5 V .. 5 V"):
            gen.configure_pulse(6.0, 1e-6, 1e-3)
    timing = TIMING_1MS[:1] + TIMING_1MS[3:]
    pairs = configure_33500b(timing, "0.1", ["SOUR1:VOLT:LOW 0.000000", "SOUR1:VOLT:HIGH 4.000000"], ncyc=1,
                             load="50")
    with expected_protocol(Keysight33500B, pairs, termination_ohm=50) as gen:
        gen.configure_pulse(4.0, 100e-9, 1e-3)
    with pytest.raises(ValueError, match="termination_ohm=0.5"):
        Keysight33500B(None, termination_ohm=0.5)


def test_33500b_trigger_before_configure_is_refused() -> None:
    with expected_protocol(Keysight33500B, []) as gen:
        with pytest.raises(InstrumentError, match="configure_pulse"):
            gen.trigger()


# -- Keysight 81160A ---------------------------------------------------------------------------------------


def configure_81160a(limit: str, burst: list[tuple], load: str = "5.000000e+01", polarity: str = "NORM",
                     levels: tuple[str, str] = (":VOLT1:LOW 0.000000", ":VOLT1:HIGH 1.000000")) -> list:
    return [
        (":OUTP1:POL?", "NORM"), (f":VOLT1:LIM:HIGH {limit}", None), (f":VOLT1:LIM:LOW -{limit}", None),
        (":VOLT1:LIM:STAT 1", None), (f":OUTP1:LOAD {load}", None), (":FUNC1 PULS", None),
        (":PULS:PER1?", "+1.000000000000000E-06"), (":FUNC1:PULS:TRAN?", "+2.000000000000000E-09"),
        (":FUNC1:PULS:TRAN 1.000000e-09", None), (":PULS:PER1 1.000000e-06", None),
        (":PULS:WIDT1 5.000000e-09", None), (":VOLT1:HIGH?", "0.5"), *[(c, None) for c in levels],
        (f":OUTP1:POL {polarity}", None), (":ARM:SOUR1 MAN", None), *burst, OK,
    ]


def test_81160a_programs_its_own_level_limit_and_a_burst() -> None:
    pairs = configure_81160a("10.000000", [(":BURS1:NCYC 2", None), (":BURS1:STAT ON", None)]) + [
        OK, ("OUTP1 1", None), OK, ("*TRG;*WAI", None), ("*OPC?", "1"), ("OUTP1 0", None),
    ]
    with expected_protocol(Keysight81160A, pairs, termination_ohm=50) as gen:
        gen.configure_pulse(1.0, 5e-9, 1e-6, edge_s=1e-9, burst_count=2)
        gen.output_on()
        gen.trigger()
        gen.shutdown()
    fired = configure_81160a("10.000000", [(":BURS1:NCYC 2", None), (":BURS1:STAT ON", None)]) + [
        OK, ("OUTP1 1", None), ("*TRG;*WAI;*OPC?", "1"), ("OUTP1 0", None),
    ]
    with expected_protocol(Keysight81160A, fired, termination_ohm=50) as gen:
        gen.configure_pulse(1.0, 5e-9, 1e-6, edge_s=1e-9, burst_count=2)
        gen.fire_burst()


def test_81160a_single_pulse_turns_burst_off_and_uses_the_bench_limit() -> None:
    pairs = configure_81160a("3.000000", [(":BURS1:STAT OFF", None)])
    with expected_protocol(Keysight81160A, pairs, limits=SafetyLimits(max_pulse_voltage_v=3.0),
                           termination_ohm=50) as gen:
        gen.configure_pulse(1.0, 5e-9, 1e-6, edge_s=1e-9, burst_count=1)
        assert gen.settings()["level_limit_high_v"] == 3.0 and gen.settings()["termination_ohm"] == 50


def test_81160a_without_a_terminator_expects_a_high_impedance_load() -> None:
    # No termination on the bench: an expected load of 50 ohm would put twice every level on the
    # device, so the driver programs the high-impedance load, and reaches -8 V (inverted, from 0 V).
    pairs = configure_81160a("10.000000", [(":BURS1:STAT OFF", None)], load="1.000000e+06", polarity="INV",
                             levels=(":VOLT1:LOW -8.000000", ":VOLT1:HIGH 0.000000"))
    pairs.insert(1, ("OUTP1?", "0"))  # the polarity changes: is the output on? (no: nothing to switch)
    with expected_protocol(Keysight81160A, pairs) as gen:
        gen.configure_pulse(-8.0, 5e-9, 1e-6, edge_s=1e-9)


def test_81160a_refuses_levels_beyond_the_limit_and_sends_nothing() -> None:
    with expected_protocol(Keysight81160A, [], limits=SafetyLimits(max_pulse_voltage_v=3.0)) as gen:
        with pytest.raises(LimitError, match="base_v=-3.5"):
            gen.configure_pulse(1.0, 5e-9, 1e-6, base_v=-3.5)
        with pytest.raises(LimitError, match="level_v=1.05 .*at least 0.09999"):
            gen.configure_pulse(1.05, 5e-9, 1e-6, base_v=1.0)
