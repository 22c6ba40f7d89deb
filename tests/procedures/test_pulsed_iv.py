"""pulsed-iv on the simulated bench: the device switches where its drawn threshold says."""

from __future__ import annotations

import math

import numpy as np
import pytest

from memlab.instruments.bench import load_bench
from memlab.procedures import ParameterError, get_procedure, run_procedure
from memlab.storage import RunReader

PulsedIV = get_procedure("pulsed-iv")


@pytest.fixture
def bench():
    with load_bench(None) as b:
        yield b


def outputs_off(bench) -> bool:
    return not bench.smu.output_enabled() and not bench.pulser.output_enabled()


def iv(chip, v):
    v0 = chip.params["v0_read_v"]
    return v0 * np.sinh(np.asarray(v) / v0)


def run(bench, tmp_path, **values):
    result = run_procedure(PulsedIV(**values), bench, tmp_path)
    assert result.status == "completed", result.error
    with RunReader(result.path) as r:
        stream = r.stream("pulses")
        assert stream.units["conductance"] == "S" and stream.units["amplitude"] == "V"
        return stream.arrays()


def soft_bounds(chip, state, amplitudes, width_s, g0):
    """The chip model's noise-free response to the ramp (docs/chip-model.md: threshold, sinh in the
    amplitude, power law in the width, soft bounds); cycle-to-cycle noise averages out."""
    p = chip.params
    g, out = g0, []
    for v in amplitudes:
        if abs(v) >= state["v_th_v"]:
            phi = math.sinh(abs(v) / p["v0_switch_v"]) / math.sinh(p["v_ref_v"] / p["v0_switch_v"]) \
                * (width_s / p["t_ref_s"]) ** p["width_exponent"]
            if v > 0:
                g += min(1.0, state["a_plus"] * phi) * (state["g_max_s"] - g)
            else:
                g -= min(1.0, state["a_minus"] * phi) * (g - state["g_min_s"])
        out.append(g)
    return np.array(out)


def test_pulser_ramps_switch_at_the_device_threshold_both_ways(bench, tmp_path):
    chip = bench.world.chip
    row, col, reads = 3, 4, 4
    state = chip.device_state(row, col)
    v_th = state["v_th_v"]
    noise = chip.params["sigma_read"] / math.sqrt(reads)
    for start, stop in ((0.5, 2.0), (-0.5, -2.0)):  # SET side, then RESET side
        rows = run(bench, tmp_path, row=row, col=col, start_v=start, stop_v=stop, step_v=0.05, reads=reads)
        amp, g = rows["amplitude"], rows["conductance"]
        assert np.allclose(np.abs(np.diff(amp)), 0.05) and amp[-1] == stop
        assert np.all(np.isnan(rows["pulse_current"])) and np.all(rows["width"] == 1e-6)
        read_v = rows["read_voltage"][0]
        to_g = read_v / float(iv(chip, read_v))  # apparent I/V -> the model's G
        below = np.abs(amp) < v_th
        baseline = g[below].mean()
        assert np.all(np.abs(g[below] / baseline - 1) < 5 * noise)  # below threshold nothing moves
        if start > 0:  # from the bottom of the window the first steps above threshold show at once
            onset = abs(amp[np.flatnonzero(g / baseline - 1 > 10 * noise)[0]])
            assert v_th <= onset <= v_th + 0.25
        # the whole ramp follows the model, within the cycle-to-cycle noise of the steps
        model = soft_bounds(chip, state, amp, 1e-6, baseline * to_g)
        assert np.all(np.abs(g * to_g - model) <= 0.35 * np.abs(model - model[0]) + 5 * noise * model)
        assert abs(model[-1] / model[0] - 1) > 0.3  # and the ramp did move it
        # the last read agrees with the device's state
        assert g[-1] == pytest.approx(chip.probe_current(row, col, read_v) / read_v, rel=5 * noise)
    assert outputs_off(bench)


def test_smu_pulses_follow_the_iv_and_stop_at_compliance(bench, tmp_path):
    chip = bench.world.chip
    row, col, compliance = 6, 6, 10e-6
    state = chip.device_state(row, col)
    g0 = state["G"]
    rows = run(bench, tmp_path, row=row, col=col, source="smu", width_s=1e-3, start_v=0.2, stop_v=2.0,
               step_v=0.1, compliance_a=compliance)
    amp, during = rows["amplitude"], rows["pulse_current"]
    below = amp < state["v_th_v"]
    # below threshold the pulse current is the device's sinh I-V at its initial conductance
    assert np.allclose(during[below], g0 * iv(chip, amp[below]), rtol=4 * chip.params["sigma_read"])
    # never above the compliance; at the top the SET has driven the current into it
    assert np.all(during <= compliance * (1 + 1e-9))
    assert during[-1] == pytest.approx(compliance, rel=1e-6)
    # the compliance capped the SET: G f(V) <= I_cc at the lowest switching amplitude
    g_final = chip.device_state(row, col)["G"]
    assert 2 * g0 < g_final <= compliance / iv(chip, state["v_th_v"]) * 1.001
    assert outputs_off(bench)


def test_bad_parameters_refused_before_anything_runs(bench, tmp_path):
    with pytest.raises(ParameterError, match=r"stop_v=12\.0 .*max_pulse_voltage_v"):
        run_procedure(PulsedIV(stop_v=12.0), bench, tmp_path)
    with pytest.raises(ParameterError, match=r"width_s=1e-06 .*SMU"):
        run_procedure(PulsedIV(source="smu"), bench, tmp_path)
    with pytest.raises(ParameterError, match=r"stop_v=-1\.0 .*same sign"):
        PulsedIV(start_v=1.0, stop_v=-1.0)
    with pytest.raises(ParameterError, match=r"period_s=1e-06 .*> width_s"):
        PulsedIV(width_s=1e-6, period_s=1e-6)
    with pytest.raises(ParameterError, match=r"pulses=2000 .*list length"):
        run_procedure(PulsedIV(source="smu", width_s=1e-3, pulses=2000), bench, tmp_path)
    with pytest.raises(ParameterError, match=r"source=.laser."):
        PulsedIV(source="laser")
    with pytest.raises(ParameterError, match=r"col=16"):
        run_procedure(PulsedIV(col=16), bench, tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert bench.clock.now() == 0.0 and outputs_off(bench)
