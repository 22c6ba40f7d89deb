"""relaxation on the simulated benches: the decay it records is the chip's physics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from memlab.instruments.bench import load_bench
from memlab.procedures import ParameterError, get_procedure, run_procedure
from memlab.procedures.relaxation import sample_plan
from memlab.procedures.three_factor import fit_eligibility
from memlab.storage import RunReader

Relaxation = get_procedure("relaxation")


def outputs_off(bench) -> bool:
    return not (bench.smu.output_enabled() or bench.pulser.output_enabled() or bench.laser.output_enabled())


def test_photoconductance_decays_with_the_chips_tau_ph(tmp_path):
    with load_bench(None, family="optomemristor") as bench:
        chip = bench.world.chip
        params = chip.params
        result = run_procedure(Relaxation(row=3, col=4, stimulus="light", power_w=1e-3, light_width_s=0.1,
                                          duration_s=10.0, points=80), bench, tmp_path)
        assert result.status == "completed", result.error
        state = chip.device_state(3, 4)
        assert outputs_off(bench) and bench.world.routes == {}
    with RunReader(result.path) as r:
        decay = r.stream("decay")
        t, g, i = decay["time"], decay["conductance"], decay["current"]
        assert decay.units["time"] == "s" and decay.units["conductance"] == "S"
    assert len(t) == 80 and np.all(np.diff(t) > 0)
    assert 1e-3 <= t[0] < 0.05 and t[-1] >= 10.0  # log spacing over four decades
    assert np.allclose(g, i / 0.2)
    # Shunting releases first (tau_shunt_off = 50 ms), then the photoconductance decays alone.
    late = t > 10 * params["tau_shunt_off_s"]
    tau, amplitude, baseline = fit_eligibility(t[late], g[late])  # B + A exp(-t / tau)
    assert tau == pytest.approx(params["tau_ph_s"], rel=0.05)
    # Light of 0.1 s (10 rise times) at 0.8 mW absorbed: G_ph reached its steady value.
    p_abs = 1e-3 * bench.config.coupling_efficiency
    g_ph = params["g_ph_ref_s"] * (p_abs / params["p_ref_w"]) ** params["gamma_ph"]
    read_gain = math.sinh(0.2) / 0.2  # apparent conductance I / V of the sinh read I-V
    assert amplitude == pytest.approx(g_ph * read_gain, rel=0.03)
    assert baseline == pytest.approx((state["G_read"] - state["G_ph"]) * read_gain, rel=0.03)


def test_pulse_train_then_power_law_drift_on_prgo(tmp_path):
    with load_bench(None) as bench:
        chip = bench.world.chip
        before = chip.device_state(1, 2)["G"]
        result = run_procedure(Relaxation(row=1, col=2, duration_s=1000.0, points=120), bench, tmp_path)
        assert result.status == "completed", result.error
        state = chip.device_state(1, 2)
        assert outputs_off(bench)
    with RunReader(result.path) as r:
        t, g = r.stream("decay")["time"], r.stream("decay")["conductance"]
        log = [message for _, _, message in r.log()]
    assert state["G"] > 3 * before  # the SET train programmed the device; the reads did not
    assert any("before the stimulus" in m for m in log)
    # The chip's law: no drift for t0 after programming, then G (t / t0)^-nu, read through sinh.
    age = np.maximum(t, chip.params["drift_t0_s"]) / chip.params["drift_t0_s"]
    expected = state["G"] * age ** -state["drift"] * math.sinh(0.2) / 0.2
    ratio = g / expected
    assert abs(np.mean(ratio) - 1) < 0.004
    assert np.std(ratio) < 2 * chip.params["sigma_read"]
    late = t > 10
    assert np.mean(g[late]) < np.mean(g[t < 1]) * (1 - 0.5 * state["drift"] * math.log(10))


def test_linear_spacing_reads_evenly_in_one_sweep(tmp_path):
    with load_bench(None) as bench:
        result = run_procedure(Relaxation(spacing="linear", first_s=0.05, duration_s=2.0, points=40), bench,
                               tmp_path)
        assert result.status == "completed", result.error
    with RunReader(result.path) as r:
        t = r.stream("decay")["time"]
    assert len(t) == 40
    assert np.diff(t) == pytest.approx(np.full(39, 1.95 / 39), rel=0.02)
    assert 0.02 < t[0] < 0.08  # the relays switch after the pulses; the plan absorbs that
    for spacing, first in (("log", 1e-3), ("linear", 1e-2)):
        groups = sample_plan(first, 100.0, 50, spacing, 2500)
        assert sum(len(g) for g in groups) == 50 and groups[0][0] == pytest.approx(first)
        assert groups[-1][-1] == pytest.approx(100.0)


def test_bad_parameters_refused_before_anything_runs(tmp_path):
    with pytest.raises(ParameterError, match="first_s"):
        Relaxation(first_s=10.0, duration_s=5.0)
    with pytest.raises(ParameterError, match="stimulus"):
        Relaxation(stimulus="heat")
    with load_bench(None, family="optomemristor") as bench:
        with pytest.raises(ParameterError, match=r"power_w=0\.05 .*max_laser_power_w"):
            run_procedure(Relaxation(stimulus="light", power_w=0.05), bench, tmp_path)
        with pytest.raises(ParameterError, match=r"amplitude_v=12\.0 .*max_pulse_voltage_v"):
            run_procedure(Relaxation(amplitude_v=12.0), bench, tmp_path)
        assert outputs_off(bench)
    assert list(tmp_path.iterdir()) == []
