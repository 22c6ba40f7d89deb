"""Device-model export for aihwkit and NeuroSim (memlab.analysis.device_export, docs/export.md)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from memlab.analysis import device_export as export
from memlab.instruments.sim.chip import Chip


@pytest.fixture(scope="module")
def prgo_chip_and_law():
    chip = Chip(8, 8, family="prgo", seed=3)
    return chip, export.population_from_chip(chip, {"family": "prgo"})


def _weight_step_first_pulse(chip: Chip, config: dict) -> np.ndarray:
    """Measured on the chip: the change of w of every working device from the bottom of its
    window after one reference SET pulse, in the file's weight units (reads at the read voltage)."""
    v_read = chip.params["v_read_v"]
    g_lo, g_hi = config["mapping"]["g_lo_s"], config["mapping"]["g_hi_s"]
    faults = chip.fault_map()
    working = ~(faults["stuck"] | faults["unformed"] | faults["shorted"] | faults["open"])
    steps = []
    for i, j in zip(*np.nonzero(working)):
        chip.pulse(int(i), int(j), -2.0, 80e-9, count=2000)  # to the bottom of the window
        before = np.mean([chip.read(int(i), int(j), v_read) for _ in range(8)]) / v_read
        chip.pulse(int(i), int(j), 2.0, 80e-9)
        after = np.mean([chip.read(int(i), int(j), v_read) for _ in range(8)]) / v_read
        steps.append(2.0 * (after - before) / (g_hi - g_lo))
    return np.array(steps)


def test_aihwkit_step_reproduces_the_chip_first_potentiation_step():
    chip = Chip(16, 16, family="prgo", seed=5)
    config = export.aihwkit_config(export.population_from_chip(chip))
    p = config["rpu_config"]["device"]["parameters"]
    # aihwkit's mean device: scale_up = dw_min (1 + min(up_down, 0)), soft-bounds step at w_min
    predicted = p["dw_min"] * (1 + min(p["up_down"], 0.0)) * (1 - p["w_min"] / p["w_max"])
    measured = _weight_step_first_pulse(chip, config)
    standard_error = measured.std(ddof=1) / math.sqrt(measured.size)
    assert abs(measured.mean() - predicted) < max(3 * standard_error, 0.05 * predicted), (
        measured.mean(), predicted, standard_error)
    # the step is the law's: about 2 a+ (from w = -1 to the far edge at +1)
    assert predicted == pytest.approx(2 * chip.params["a_plus"], rel=0.25)


def test_pulse_characterisation_agrees_with_the_model_law(prgo_chip_and_law):
    chip, law = prgo_chip_and_law
    measured = export.measure_pulse_response(chip, devices=24, pulses=150)
    n = measured.devices
    for name in ("a_plus", "a_minus"):
        law_mean = getattr(law, name)[:n].mean()  # the same devices, in the same order
        assert getattr(measured, name).mean() == pytest.approx(law_mean, rel=0.06), name
    # window edges, to within 1.5 % of the window (what moves a weight)
    window = (law.g_max_s[:n] - law.g_min_s[:n]).mean()
    for name in ("g_min_s", "g_max_s"):
        assert abs(getattr(measured, name).mean() - getattr(law, name)[:n].mean()) < 0.015 * window
    assert abs(measured.sigma_c2c - law.sigma_c2c) < max(3 * measured.sigma_c2c_se, 0.05)
    assert measured.sigma_read == pytest.approx(law.sigma_read, rel=0.2)
    with pytest.raises(export.ExportParameterError, match="amplitude_v=4.5 .*breakdown"):
        export.measure_pulse_response(chip, devices=2, amplitude_v=4.5)
    with pytest.raises(export.ExportParameterError, match="three-factor"):
        export.measure_pulse_response(Chip(4, 4, family="optomemristor"))
    law_cfg = export.aihwkit_config(law)["rpu_config"]["device"]["parameters"]
    pulse_cfg = export.aihwkit_config(measured)["rpu_config"]["device"]["parameters"]
    assert pulse_cfg["dw_min"] == pytest.approx(law_cfg["dw_min"], rel=0.15)


def test_aihwkit_fields_follow_the_population(prgo_chip_and_law):
    _, law = prgo_chip_and_law
    config = export.aihwkit_config(law)
    p = config["rpu_config"]["device"]["parameters"]
    assert p["w_min"] == pytest.approx(-1.0, abs=0.05) and p["w_max"] == pytest.approx(1.0, abs=0.1)
    assert p["up_down"] < 0  # prGO depresses harder than it potentiates (a- > a+)
    assert p["dw_min_std"] == law.sigma_c2c and p["mult_noise"] is True
    # the log-normal d2d sigma 0.3 of a+- is a relative spread of about 0.3 of each step
    assert 0.15 < p["dw_min_dtod"] < 0.45
    assert config["statistics"]["dw_min"]["standard_error"] > 0
    # a weaker, wider pulse: steps scale by the switching law, then the threshold refuses
    weaker = export.aihwkit_config(law, amplitude_v=1.5)["rpu_config"]["device"]["parameters"]
    assert weaker["dw_min"] < p["dw_min"]
    with pytest.raises(export.ExportParameterError, match="amplitude_v=0.5 .*threshold"):
        export.aihwkit_config(law, amplitude_v=0.5)
    with pytest.raises(export.ExportParameterError, match="amplitude_v=9.0 .*breakdown"):
        export.aihwkit_config(law, amplitude_v=9.0)
    with pytest.raises(export.ExportParameterError, match="width_s=-1"):
        export.aihwkit_config(law, width_s=-1)


def test_neurosim_curve_is_the_soft_bounds_curve(prgo_chip_and_law):
    _, law = prgo_chip_and_law
    rows = {r["parameter"]: r for r in export.neurosim_table(law, coverage=0.9)}
    n, a_pulses = rows["maxNumLevelLTP"]["value"], rows["paramALTP"]["value"]
    g_lo, g_hi = rows["minConductance"]["value"], rows["maxConductance"]["value"]
    # NeuroSim's LTP curve from minConductance, step by step, against the soft-bounds law of the
    # mean device from the same point: the same conductances
    c = float(np.mean(law.a_plus))
    b = (g_hi - g_lo) / (1 - math.exp(-n / a_pulses))
    x = np.arange(n + 1)
    neurosim = b * (1 - np.exp(-x / a_pulses)) + g_lo
    asymptote = g_lo + b
    soft_bounds = asymptote - (asymptote - g_lo) * (1 - c) ** x
    assert np.allclose(neurosim, soft_bounds, rtol=1e-9)
    assert neurosim[-1] == pytest.approx(g_hi, rel=1e-9)
    assert 1 - (1 - c) ** n >= 0.9 > 1 - (1 - c) ** (n - 1)
    assert rows["NL_LTP"]["value"] > 0 > rows["NL_LTD"]["value"]
    assert rows["onOffRatio"]["value"] == pytest.approx(g_hi / g_lo)
    assert rows["sigmaReadNoise"]["value"] == law.sigma_read


def test_neurosim_label_reproduces_neurosim_table():
    # getParamA(label) of NeuroSim's formula.cpp at labels 0.01, 0.05, 1.00 and 9.00
    for label, a_norm in ((0.01, 126.268958), (0.05, 25.253264), (1.0, 1.251653), (9.0, 0.022810)):
        assert export.neurosim_nonlinearity_label(a_norm) == pytest.approx(label, rel=1e-3)
        assert export.neurosim_nonlinearity_label(-a_norm) == pytest.approx(-label, rel=1e-3)


def test_population_refuses_bad_arrays():
    good = dict(g_min_s=[1e-6, 1e-6], g_max_s=[1e-5, 1e-5], a_plus=[0.02, 0.02],
                a_minus=[0.02, 0.02], stuck_fraction=0.0, sigma_c2c=0.1, sigma_read=0.01,
                v_read_v=0.5, read_width_s=1e-6, v_ref_v=2.0, t_ref_s=8e-8)
    export.DevicePopulation(**good)
    for key, value, match in (("a_plus", [0.02, 1.5], "a_plus"), ("g_max_s", [1e-5], "g_max_s"),
                              ("g_max_s", [1e-5, 0.5e-6], "g_min_s/g_max_s"),
                              ("stuck_fraction", 1.0, "stuck_fraction")):
        with pytest.raises(export.ExportParameterError, match=match):
            export.DevicePopulation(**{**good, key: value})
    # a characterised population has no switching law: only its own pulse can be exported
    population = export.DevicePopulation(**good)
    with pytest.raises(export.ExportParameterError, match="switching law"):
        export.step_fractions(population, amplitude_v=1.5)


def test_exported_file_loads_into_aihwkit(tmp_path):
    pytest.importorskip("aihwkit")
    path = export.write_aihwkit_json(
        tmp_path / "prgo.json", export.aihwkit_config(export.population_from_chip(Chip(8, 8))))
    rpu_config = export.load_aihwkit_rpu_config(path)
    assert rpu_config.device.dw_min == pytest.approx(json.loads(path.read_text())[
        "rpu_config"]["device"]["parameters"]["dw_min"])
