"""xor on the simulated benches: XOR from the optomemristor's non-monotone response (photoconductance
rising with the light, shunting dividing it) at one threshold, and an honest refusal where the
mechanism cannot work."""

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
        responses = r.stream("responses").arrays()
        verdict = r.stream("result").arrays()
        log = [message for _, _, message in r.log()]
    return table, responses, verdict, log


def test_optomemristor_computes_xor_at_one_threshold_over_100_noisy_trials(tmp_path):
    with load_bench(None, family="optomemristor") as bench:
        table, responses, verdict, log = run(bench, tmp_path, trials=100)
        params = bench.world.chip.params
        p_abs = 5e-3 * bench.config.coupling_efficiency * responsivity(bench.laser.wavelength_m, params)
    main = table["trial"] >= 0
    assert main.sum() == 400
    accuracy = np.mean(table["output"][main] == table["expected"][main])
    assert accuracy >= 0.99
    assert verdict["xor"][0] == 1 and verdict["realisable"][0] == 1
    assert verdict["accuracy"][0] == pytest.approx(accuracy)
    threshold, margin = verdict["threshold"][0], verdict["margin"][0]
    assert margin > 0 and verdict["margin_sigmas"][0] >= 3
    assert "margin" in log[-2] and log[-2].startswith("result: XOR")
    # One threshold, not a band: the outputs are exactly "current above the threshold".
    assert np.array_equal(table["output"], (table["current"] > threshold).astype(np.int8))
    # The responses follow I(P) = (G + g_ph(P)) f(V) / (1 + k P): non-monotone in the light.
    f_v = math.sinh(0.2)
    g_dark = responses["current"][0] / f_v  # the stored conductance, read in the dark
    g_ph = lambda p: params["g_ph_ref_s"] * (p / params["p_ref_w"]) ** params["gamma_ph"]  # noqa: E731
    k = params["k_shunt_per_w"]
    expected = [(g_dark + g_ph(p_abs)) * f_v / (1 + k * p_abs),
                (g_dark + g_ph(p_abs)) * f_v / (1 + k * p_abs),
                (g_dark + g_ph(2 * p_abs)) * f_v / (1 + 2 * k * p_abs)]
    assert responses["current"][1:] == pytest.approx(expected, rel=0.03)
    one, none, both = responses["current"][1], responses["current"][0], responses["current"][3]
    assert one > both > none  # rises, then shunting wins


def test_weak_shunting_is_reported_not_realisable(tmp_path):
    # A tenth of the light: both inputs still on the rising side, so the response is monotone.
    with load_bench(None, family="optomemristor") as bench:
        table, responses, verdict, log = run(bench, tmp_path, power_w=0.3e-3, trials=5)
    assert verdict["realisable"][0] == 0 and verdict["xor"][0] == 0 and verdict["margin"][0] < 0
    assert responses["current"][3] > responses["current"][1]  # monotone: AND/OR only
    message = next(m for m in log if m.startswith("XOR not realisable on this device"))
    assert "shunting is too weak" in message and "11:" in message
    assert (table["trial"] >= 0).sum() == 0  # no trials run at a meaningless threshold


def test_no_photo_response_is_not_realisable(tmp_path):
    # prGO has no photoconductance and no shunting: the four responses are one, within noise.
    with load_bench(None) as bench:
        _, responses, verdict, log = run(bench, tmp_path, trials=3)
    assert np.ptp(responses["current"]) < 0.02 * np.mean(responses["current"])
    assert verdict["realisable"][0] == 0
    assert any(m.startswith("XOR not realisable on this device") for m in log)


def test_bad_parameters_refused(tmp_path):
    with pytest.raises(ParameterError, match="read_v"):
        XOR(read_v=0.0)
    with pytest.raises(ParameterError, match="power_w"):
        XOR(power_w=0.0)
    with load_bench(None, family="optomemristor") as bench:
        with pytest.raises(ParameterError, match=r"power_w \(x 2: both inputs on\)=0\.03 .*max_laser_power_w"):
            run_procedure(XOR(power_w=0.015), bench, tmp_path)  # both inputs: 30 mW
        with pytest.raises(ParameterError, match=r"compliance_a=0\.05 .*max_current_a"):
            run_procedure(XOR(compliance_a=0.05), bench, tmp_path)
    assert list(tmp_path.iterdir()) == []
