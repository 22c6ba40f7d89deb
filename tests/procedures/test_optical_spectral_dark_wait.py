"""The absorption edge (band_gap_ev, urbach_energy_ev) of optical-pulses at its default parameters
on a device whose photoconductance decays slowly (tau_ph = 3 s against relax_s = 10 s): each
spectral step's dark read still holds a little of the previous wavelength's photoconductance.
Unmodelled, that residual moved both figures up by about 3 standard errors (1 at tau_ph = 2 s)
against runs with 60 s dark waits; modelled, the default run agrees with the long-waited one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from memlab.analysis import metrics as m
from memlab.analysis.loading import Run
from memlab.analysis.summary import spectral_edge_of_run, summarize_run
from memlab.instruments.bench import DEFAULT_BENCH, Bench
from memlab.instruments.bench_file import read_bench_config
from memlab.procedures import get_procedure, run_procedure
from memlab.twin import fit_twin

from tests.procedures.test_optical_dark_wait import as_version_2

OpticalPulses = get_procedure("optical-pulses")
WAVELENGTHS = ", ".join(f"{w:g}" for w in np.linspace(420e-9, 780e-9, 13))
EDGE = ("band_gap_ev", "urbach_energy_ev")


def tunable_bench(tmp_path, seed: int, **truth: float) -> Bench:
    path = tmp_path / "bench.toml"
    path.write_text(DEFAULT_BENCH.read_text().replace(
        "[instruments.laser.calibration]",
        "[instruments.laser.options]\nwavelength_range_m = [400e-9, 900e-9]\n\n[instruments.laser.calibration]"))
    config = read_bench_config(path, family="optomemristor")
    overrides = {**config.chip.overrides, "stuck_fraction": 0.0, "drift_nu": 0.0, "sigma_drift_nu": 0.0, **truth}
    return Bench(replace(config, chip=replace(config.chip, seed=seed, overrides=overrides)))


def spectral_run(tmp_path, seed: int, name: str, **parameters: object) -> tuple[Run, dict]:
    with tunable_bench(tmp_path, seed, tau_ph_s=3.0) as bench:
        truth = dict(bench.world.chip.params)
        result = run_procedure(OpticalPulses(row=1, col=2, wavelengths_m=WAVELENGTHS, **parameters), bench,
                               tmp_path / name)
    assert result.status == "completed", result.error
    return Run.open(result.path), truth


def uncorrected(run: Run) -> m.SpectralEdge:
    s = run.arrays("spectral", ("wavelength", "power", "photoconductance", "dark_conductance"))
    ph = run.arrays("photoresponse", ("power", "photoconductance", "dark_conductance", "wavelength"))
    return m.spectral_edge(ph["power"], ph["photoconductance"], ph["dark_conductance"], 635e-9, s["wavelength"],
                           s["power"], s["photoconductance"], s["dark_conductance"])


def test_default_run_edge_agrees_with_long_dark_waits_on_a_slow_device(tmp_path):
    shift = {name: [] for name in EDGE}  # default run less the 60 s one, in the default run's standard errors
    old = {name: [] for name in EDGE}  # the same without the residual modelled
    for seed in (800, 801, 802):
        run, truth = spectral_run(tmp_path, seed, f"default-{seed}")
        long, _ = spectral_run(tmp_path, seed, f"long-{seed}", relax_s=60.0)
        row, reference = summarize_run(run), summarize_run(long).rows[0]
        assert any("modelled in the absorption edge's fit" in note for note in row.notes), row.notes
        naive = uncorrected(run)
        for name in EDGE:
            figure = row.rows[0][name]
            assert figure.determined and figure.low <= truth[name] <= figure.high, (name, figure, truth[name])
            shift[name].append((figure.value - reference[name].value) / figure.stderr)
            est = getattr(naive, name)
            old[name].append((est.value - reference[name].value) / est.stderr)
    for name in EDGE:
        assert abs(np.mean(shift[name])) < 1.0, (name, shift[name])
        assert np.mean(old[name]) > 2.0, (name, old[name])  # the bias the correction removes


def test_edge_without_a_decay_time_is_not_corrected_and_version_2_files_are(tmp_path):
    run, _ = spectral_run(tmp_path, 803, "no-step", step_power_w=0.0)
    found = spectral_edge_of_run(run)
    assert not found.corrected and "not corrected" in found.note
    assert any("absorption edge: " in note and "not corrected" in note for note in summarize_run(run).notes)
    twin = fit_twin(tmp_path / "no-step")
    assert any("band_gap_ev and urbach_energy_ev not taken from it" in note for note in twin.notes)
    for name in EDGE:
        assert twin.chip[name].status != "fitted", name
    run, _ = spectral_run(tmp_path, 803, "v2")
    s = run.arrays("step", ("time", "conductance", "lit"))
    step = m.step_response(s["time"], s["conductance"], s["lit"])
    new = spectral_edge_of_run(run, step)
    exact = spectral_edge_of_run(run, replace(step, decay_s=replace(step.decay_s, stderr=0.0)))
    as_version_2(run.path)
    old = spectral_edge_of_run(Run.open(run.path))
    assert new.corrected and old.corrected
    assert old.residual_fraction == pytest.approx(new.residual_fraction, rel=0.1)
    # the waits differ by the reads' own duration only
    assert old.fit.band_gap_ev.value == pytest.approx(new.fit.band_gap_ev.value, abs=0.1 * new.fit.band_gap_ev.stderr)
    # the decay time's uncertainty is carried into the figures
    assert exact.fit.band_gap_ev.value == pytest.approx(new.fit.band_gap_ev.value, rel=1e-9)
    for name in EDGE:
        assert getattr(new.fit, name).stderr > getattr(exact.fit, name).stderr, name
