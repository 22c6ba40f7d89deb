"""optical-pulses' continuous-illumination step and photo-response on the simulated optomemristor,
analysed with the combined photoconductance-plus-shunting law: each figure comes back with an
uncertainty that holds the chip's own parameter."""

from __future__ import annotations

import numpy as np
import pytest

from memlab.analysis.metrics.optical import photoresponse_law, step_response
from memlab.instruments.bench import DEFAULT_BENCH, load_bench
from memlab.instruments.sim.chip.optics import responsivity
from memlab.procedures import get_procedure, run_procedure
from memlab.storage import RunReader

OpticalPulses = get_procedure("optical-pulses")


def run(bench, path, **values):
    result = run_procedure(OpticalPulses(**values), bench, path)
    assert result.status == "completed", result.error
    assert not bench.laser.output_enabled()
    with RunReader(result.path) as r:
        return r.stream("step").arrays(), r.stream("photoresponse").arrays(), r.stream("optical").arrays()


def within(estimate, truth, sigmas=3.0):
    return estimate.determined and abs(estimate.value - truth) <= sigmas * estimate.stderr


def test_step_is_labelled_and_recovers_the_decay_and_the_shunting_fall_time(tmp_path):
    with load_bench(None, family="optomemristor") as bench:
        step, _, optical = run(bench, tmp_path, count=3, powers_w="")
        p = bench.world.chip.params
    t, lit = step["time"], step["lit"]
    assert np.all(np.diff(t) > 0)
    assert np.all(lit[t < 0] == 0) and np.all(lit[(t > 0) & (t < 0.2)] == 1) and np.all(lit[t > 0.21] == 0)
    assert np.all(optical["lit"] == 0)  # every read of the pulse train is taken in the dark
    result = step_response(t, step["conductance"], lit)
    assert within(result.decay_s, p["tau_ph_s"]) and result.decay_s.value == pytest.approx(p["tau_ph_s"], rel=0.15)
    # After the light goes off the current recovers with the shunting fall time.
    assert within(result.shunt_fall_s, p["tau_shunt_off_s"])
    assert result.shunt_fall_s.value == pytest.approx(p["tau_shunt_off_s"], rel=0.15)
    for estimate in (result.rise_s, result.shunt_rise_s):  # too few reads in 10 ms: said so
        assert within(estimate, p["tau_on_s"] if estimate is result.rise_s else p["tau_shunt_on_s"]) \
            or (not estimate.determined and estimate.reason)


def test_slower_rise_is_recovered_within_its_uncertainty(tmp_path):
    bench_file = tmp_path / "bench.toml"
    bench_file.write_text(DEFAULT_BENCH.read_text()
                          + "\n[chip.overrides]\ntau_on_s = 0.1\ntau_shunt_on_s = 0.03\n")
    (tmp_path / "runs").mkdir()
    with load_bench(bench_file, family="optomemristor") as bench:
        step, _, _ = run(bench, tmp_path / "runs", count=0, powers_w="", step_on_s=1.0, step_reads=150)
    result = step_response(step["time"], step["conductance"], step["lit"])
    assert within(result.rise_s, 0.1) and result.rise_s.value == pytest.approx(0.1, rel=0.15)
    assert within(result.shunt_rise_s, 0.03)


def test_photoresponse_law_recovers_gamma_and_shunting(tmp_path):
    with load_bench(None, family="optomemristor") as bench:
        _, photo, _ = run(bench, tmp_path, count=0, powers_w="1e-4, 3e-4, 1e-3, 2e-3, 5e-3, 1e-2", step_power_w=0.0,
                          reads=10)
        p = bench.world.chip.params
        per_set_w = bench.config.coupling_efficiency * responsivity(bench.laser.wavelength_m, p)
    fit = photoresponse_law(photo["power"], photo["photoconductance"], photo["dark_conductance"])
    assert within(fit.gamma, p["gamma_ph"]) and fit.gamma.value == pytest.approx(p["gamma_ph"], rel=0.1)
    assert within(fit.k_shunt_per_w, p["k_shunt_per_w"] * per_set_w)
    # A plain power law on the same non-monotone data would say something else entirely.
    assert np.argmax(photo["photoconductance"]) < len(photo["power"]) - 1


def test_meaningless_fits_are_not_determined():
    fit = photoresponse_law([1e-3, 2e-3, 3e-3], [1e-7, 2e-7, 3e-7], 1e-7)
    assert not fit.gamma.determined and "at least 4" in fit.gamma.reason
    assert str(fit.gamma).startswith("not determined (")
    t = np.concatenate([[-1, -0.5], np.linspace(0.01, 1, 20), np.linspace(1.1, 5, 20)])
    lit = (t > 0) & (t <= 1)
    flat = step_response(t, np.full(t.size, 1e-6) + 1e-9 * np.sin(t * 50), lit)
    assert not flat.decay_s.determined and flat.decay_s.reason
