"""forming on an unformed simulated chip: it stops at compliance and at the target, never above the ceiling."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from memlab.instruments.bench import Bench, read_bench_config
from memlab.procedures import ParameterError, get_procedure, run_procedure
from memlab.storage import RunReader

Forming = get_procedure("forming")


def iv(chip, v: float) -> float:
    """The chip's read I-V per siemens, f(V) = V0 sinh(V / V0)."""
    v0 = chip.params["v0_read_v"]
    return v0 * math.sinh(v / v0)


@pytest.fixture
def bench():
    config = read_bench_config(None)
    with Bench(replace(config, chip=replace(config.chip, formed=False))) as b:
        yield b


def outputs_off(bench) -> bool:
    return not bench.smu.output_enabled() and not bench.pulser.output_enabled()


def run(bench, tmp_path, **values):
    result = run_procedure(Forming(**values), bench, tmp_path)
    assert result.status == "completed", result.error
    with RunReader(result.path) as r:
        return r.stream("forming").arrays(), {k: v[0] for k, v in r.stream("result").arrays().items()}


def test_ramp_stops_at_forming_voltage_compliance_and_target(bench, tmp_path):
    chip = bench.world.chip
    row, col, compliance = 1, 2, 50e-6
    v_form = chip.device_state(row, col)["v_form_v"]
    steps, result = run(bench, tmp_path, row=row, col=col, compliance_a=compliance, step_v=0.05)
    # formed at the first ramp step at or above the device's drawn forming voltage
    assert result["formed"] == 1 and result["attempts"] == 1
    assert v_form <= result["forming_voltage"] < v_form + 0.05 + 1e-9
    # the current during that step is held at the compliance; before it, the virgin device leaks nA
    assert result["forming_current"] == pytest.approx(compliance, rel=1e-6)
    assert np.all(steps["step_current"][:-1] < 1e-3 * compliance)
    # the ramp stopped there: nothing was sourced above the forming step
    assert steps["voltage"][-1] == result["forming_voltage"] and steps["voltage"].max() == result["forming_voltage"]
    assert np.all(steps["resistance"][:-1] > Forming.parameter("target_resistance_ohm").default)
    # the filament grew to what the compliance allows: G = I_cc / f(V_form), read at read_v
    state = chip.device_state(row, col)
    g = compliance / iv(chip, result["forming_voltage"])
    assert state["formed"] and not state["shorted"]
    assert state["G"] == pytest.approx(g, rel=1e-5)
    read_v = Forming.parameter("read_v").default
    expected_r = read_v / (g * iv(chip, read_v))
    sigma = chip.params["sigma_read"]
    assert result["final_resistance"] == pytest.approx(expected_r, rel=5 * sigma)
    assert result["final_resistance"] <= Forming.parameter("target_resistance_ohm").default
    assert outputs_off(bench)


def test_ceiling_below_forming_voltage_records_not_formed(bench, tmp_path):
    chip = bench.world.chip
    assert chip.device_state(3, 3)["v_form_v"] > 2.6
    steps, result = run(bench, tmp_path, row=3, col=3, stop_v=2.5, ceiling_v=2.6, attempts=2)
    assert result["formed"] == 0 and result["attempts"] == 2
    assert math.isnan(result["forming_voltage"]) and math.isnan(result["forming_current"])
    assert set(steps["attempt"]) == {1, 2} and steps["voltage"].max() == 2.5
    assert not chip.device_state(3, 3)["formed"]
    assert result["final_resistance"] > 1e8  # a virgin device: ~1 GOhm


def test_retry_after_reset_sets_at_the_switching_threshold(bench, tmp_path):
    """A low compliance forms the device too resistive; after a RESET the second ramp SETs it,
    at the switching threshold now that the filament exists, not at the forming voltage."""
    chip = bench.world.chip
    row, col, compliance = 5, 6, 5e-6
    state = chip.device_state(row, col)
    steps, result = run(bench, tmp_path, row=row, col=col, compliance_a=compliance, attempts=3)
    first = steps["attempt"] == 1
    assert steps["voltage"][first].max() == Forming.parameter("stop_v").default  # attempt 1 ran to the end
    assert np.any(np.isclose(steps["step_current"][first], compliance, rtol=1e-6))  # it formed on the way
    assert result["formed"] == 1 and result["attempts"] == 2
    assert state["v_th_v"] <= result["forming_voltage"] < state["v_form_v"]
    final = chip.device_state(row, col)
    # a SET under compliance stops where G f(V) reaches the compliance
    assert final["G"] <= compliance / iv(chip, state["v_th_v"]) * 1.001


def test_pulse_amplitude_mode_forms_at_the_same_voltage(bench, tmp_path):
    chip = bench.world.chip
    v_form = chip.device_state(2, 9)["v_form_v"]
    steps, result = run(bench, tmp_path, row=2, col=9, mode="pulse-amplitude", step_v=0.1)
    assert result["formed"] == 1 and v_form <= result["forming_voltage"] < v_form + 0.1 + 1e-9
    assert result["forming_current"] == pytest.approx(50e-6, rel=1e-6)
    assert np.all(steps["width"] == 1e-3)


def test_pulse_width_mode_grows_the_width_at_stop_v(bench, tmp_path):
    """In the chip model forming needs the voltage, not time: longer pulses below V_form do nothing."""
    chip = bench.world.chip
    v_form = chip.device_state(4, 4)["v_form_v"]
    below = round(v_form - 0.3, 2)
    steps, result = run(bench, tmp_path, row=4, col=4, mode="pulse-width", start_v=below, stop_v=below,
                        width_s=1e-3, width_factor=3.0, max_width_s=0.1, attempts=1)
    assert np.allclose(steps["width"], 1e-3 * 3.0 ** np.arange(5)) and np.all(steps["voltage"] == below)
    assert result["formed"] == 0 and not chip.device_state(4, 4)["formed"]
    steps, result = run(bench, tmp_path, row=4, col=4, mode="pulse-width", start_v=0.5, stop_v=round(v_form + 0.05, 2),
                        attempts=1)
    assert result["formed"] == 1 and len(steps["step"]) == 1  # the first pulse at V_form forms it


def test_ceiling_and_bench_limit_refused_before_anything_runs(bench, tmp_path):
    with pytest.raises(ParameterError, match=r"stop_v=5\.0 .*ceiling_v = 4\.5"):
        Forming(stop_v=5.0)
    with pytest.raises(ParameterError, match=r"reset_v=-6\.0 .*ceiling_v"):
        Forming(reset_v=-6.0)
    with pytest.raises(ParameterError, match=r"stop_v=11\.0 .*max_voltage_v"):
        run_procedure(Forming(stop_v=11.0, ceiling_v=12.0), bench, tmp_path)
    with pytest.raises(ParameterError, match=r"compliance_a=0\.05 .*max_current_a"):
        run_procedure(Forming(compliance_a=0.05), bench, tmp_path)
    with pytest.raises(ParameterError, match=r"row=16"):
        run_procedure(Forming(row=16), bench, tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert bench.world.chip.fault_map()["unformed"].all()  # nothing was touched
    assert outputs_off(bench)

