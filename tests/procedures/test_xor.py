"""xor on the simulated benches: XOR on the optomemristor preset, for the physical reasons the
procedure's encoding relies on, and not on a chip without photo-response."""

from __future__ import annotations

import math

import numpy as np
import pytest

from memlab.instruments.bench import load_bench
from memlab.instruments.sim.chip.optics import responsivity
from memlab.procedures import ParameterError, get_procedure, run_procedure
from memlab.storage import RunReader

XOR = get_procedure("xor")


def run(bench, tmp_path, **values):
    result = run_procedure(XOR(**values), bench, tmp_path)
    assert result.status == "completed", result.error
    assert not (bench.laser.output_enabled() or bench.smu.output_enabled())
    with RunReader(result.path) as r:
        table = r.stream("truth_table").arrays()
        verdict = r.stream("result").arrays()
        log = [message for _, _, message in r.log()]
    return table, verdict, log


def test_default_optomemristor_computes_xor(tmp_path):
    with load_bench(None, family="optomemristor") as bench:
        table, verdict, log = run(bench, tmp_path, trials=3)
        params = bench.world.chip.params
        state = bench.world.chip.device_state(0, 0)
        p_abs = 0.125e-3 * bench.config.coupling_efficiency * responsivity(bench.laser.wavelength_m, params)
    assert list(table["input_a"]) == [0, 0, 1, 1] * 3 and list(table["input_b"]) == [0, 1, 0, 1] * 3
    assert list(table["output"]) == [0, 1, 1, 0] * 3
    assert np.array_equal(table["output"], table["expected"])
    assert verdict["xor"][0] == 1 and verdict["xor_trials"][0] == 3 and verdict["trials"][0] == 3
    assert log[-2].startswith("result: XOR (3/3")
    current = table["current"].reshape(3, 4)
    # The voltage input multiplies by f(v_high) / f(v_low), the read I-V's sinh.
    voltage_factor = math.sinh(0.2) / math.sinh(0.05)
    assert current[:, 1] / current[:, 0] == pytest.approx(np.full(3, voltage_factor), rel=0.02)
    assert current[:, 3] / current[:, 2] == pytest.approx(np.full(3, voltage_factor), rel=0.02)
    # The light input multiplies by (G + G_ph) / (1 + k_shunt P) / G, G from each trial's dark
    # read (the stored conductance drifts down between trials: nu = 0.05).
    g = current[:, 0] / math.sinh(0.05)
    assert g[-1] == pytest.approx(state["G_read"] - state["G_ph"], rel=0.02)
    g_ph = params["g_ph_ref_s"] * (p_abs / params["p_ref_w"]) ** params["gamma_ph"]
    light_factor = (g + g_ph) / (1 + params["k_shunt_per_w"] * p_abs) / g
    assert current[:, 2] / current[:, 0] == pytest.approx(light_factor, rel=0.02)


def test_no_photo_response_no_xor(tmp_path):
    # prGO has no photoconductance and no shunting: light changes nothing, (1,0) reads as (0,0).
    with load_bench(None) as bench:
        table, verdict, log = run(bench, tmp_path)
    current = table["current"]
    assert current[2] == pytest.approx(current[0], rel=0.03)
    assert list(table["output"]) == [0, 1, 0, 1]
    assert verdict["xor"][0] == 0 and log[-2].startswith("result: not XOR (0/1")


def test_bad_parameters_refused(tmp_path):
    with pytest.raises(ParameterError, match="v_low"):
        XOR(v_low=0.3, v_high=0.2)
    with pytest.raises(ParameterError, match="band_high"):
        XOR(band_low=5.0, band_high=3.0)
    with pytest.raises(ParameterError, match=r"band_low=1\.0 .*> 1"):
        XOR(band_low=1.0)
    with load_bench(None, family="optomemristor") as bench:
        with pytest.raises(ParameterError, match=r"power_w=0\.05 .*max_laser_power_w"):
            run_procedure(XOR(power_w=0.05), bench, tmp_path)
        with pytest.raises(ParameterError, match=r"compliance_a=0\.05 .*max_current_a"):
            run_procedure(XOR(compliance_a=0.05), bench, tmp_path)
    assert list(tmp_path.iterdir()) == []
