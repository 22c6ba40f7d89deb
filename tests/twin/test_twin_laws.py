"""Ground-truth recovery of the voltage laws (pulsed-iv, iv-sweep) and the optical parameters:
a chip with non-preset values (drawn within physical ranges), characterised, fitted, each
device's estimate checked against the truth within its reported uncertainty."""

from __future__ import annotations

import numpy as np
import pytest

from memlab.procedures import get_procedure, run_procedure
from memlab.twin import fit_twin, write_twin
from memlab.twin.file import FITTED, ChipEstimate, DeviceEstimates, Twin

from .conftest import SHAPE, truth_twin, twin_bench

DEVICES = [(0, 0), (1, 2), (2, 1), (3, 3)]
WIDTHS_S = (1e-7, 1e-6, 1e-5)
POWERS_W = "1e-4, 1.5e-4, 2e-4, 3e-4, 5e-4, 7e-4, 1e-3, 1.5e-3, 2e-3, 3e-3, 5e-3, 1e-2"


def _chip_truth(twin: Twin, values: dict[str, float]) -> None:
    for name, v in values.items():
        twin.chip[name] = ChipEstimate(v, 0.0, v, v, 1, FITTED)


def _run(bench, folder, name: str, **parameters: object) -> None:
    result = run_procedure(get_procedure(name)(**parameters), bench, folder)
    assert result.status == "completed", result


def _recovered(twin: Twin, truth: dict[str, float], devices: list[tuple[int, int]]) -> tuple[int, list[str]]:
    hits, misses = 0, []
    for name, value in truth.items():
        d = twin.devices[name]
        for i, j in devices:
            est, se = d.value[i, j], d.stderr[i, j]
            assert np.isfinite(est) and se > 0, (name, (i, j), twin.notes)
            if abs(est - value) <= 1.96 * se:
                hits += 1
            else:
                misses.append(f"{name}{(i, j)}: {est:.4g} +- {se:.2g} vs truth {value:.4g}")
    return hits, misses


def test_switching_and_read_laws_recovered_within_reported_uncertainty(tmp_path):
    rng = np.random.default_rng(11)
    truth = {"v0_switch_v": float(rng.uniform(0.2, 0.4)), "width_exponent": float(rng.uniform(0.3, 0.8)),
             "v0_read_v": float(rng.uniform(0.6, 1.5))}
    twin = truth_twin(7)
    _chip_truth(twin, truth)
    path = write_twin(twin, tmp_path / "truth.h5")
    runs = tmp_path / "runs"
    with twin_bench(path, array="1t1r") as bench:
        for r, c in DEVICES:
            _run(bench, runs, "iv-sweep", row=r, col=c, cycles=3, step_v=0.02, delay_s=1e-3, v_max=1.6, v_min=-1.6)
            # the amplitude x width grid, each width from a reset, both polarities
            for width in WIDTHS_S:
                for start, stop in ((-0.8, -2.2), (0.8, 2.2)):
                    _run(bench, runs, "pulsed-iv", row=r, col=c, start_v=start, stop_v=stop, step_v=0.1,
                         width_s=width, reads=4)
    fitted = fit_twin(runs)
    hits, misses = _recovered(fitted, truth, DEVICES)
    assert hits >= 0.9 * len(truth) * len(DEVICES), misses
    for name, value in truth.items():
        e = fitted.chip[name]
        assert e.status == "fitted" and e.n == len(DEVICES)
        assert e.low <= value <= e.high, (name, e)
    # all the device's pulsed-iv runs are its sources
    assert len(fitted.devices["v0_switch_v"].sources[1, 2].split(",")) == 2 * len(WIDTHS_S)


def test_one_width_leaves_the_width_exponent_to_the_preset(tmp_path):
    twin = truth_twin(3)
    path = write_twin(twin, tmp_path / "truth.h5")
    with twin_bench(path, array="1t1r") as bench:
        for start, stop in ((-0.8, -2.2), (0.8, 2.2)):
            _run(bench, tmp_path, "pulsed-iv", row=0, col=0, start_v=start, stop_v=stop, step_v=0.1,
                 width_s=1e-6, reads=4)
    fitted = fit_twin(tmp_path)
    assert fitted.chip["v0_switch_v"].status == "fitted"
    assert fitted.chip["width_exponent"].status == "preset"
    assert any("width_exponent not determined" in note and "two widths" in note for note in fitted.notes)
    assert "not in the data" in fitted.chip["wear_exponent"].reason


def test_optical_parameters_recovered_within_reported_uncertainty(tmp_path):
    rng = np.random.default_rng(5)
    truth = {"gamma_ph": float(rng.uniform(0.5, 0.9)), "tau_on_s": float(rng.uniform(0.01, 0.03)),
             "tau_ph_s": float(rng.uniform(1.0, 3.0)), "k_shunt_per_w": float(rng.uniform(300.0, 900.0)),
             "tau_pl_s": float(rng.uniform(0.2, 1.0)), "g_ph_ref_s": float(rng.uniform(1e-6, 2e-5))}
    truth["tau_e_s"] = float(rng.uniform(0.5, 2.0))  # drawn last: the draws above stay as they were
    twin = Twin("optomemristor", *SHAPE, sources=["drawn truth"])
    _chip_truth(twin, truth)
    path = write_twin(twin, tmp_path / "truth.h5")
    devices = [(0, 0), (1, 1), (2, 3)]
    runs = tmp_path / "runs"
    with twin_bench(path, array="1t1r", family="optomemristor") as bench:
        for r, c in devices:
            # dark waits of >= 10 photoconductance decay times (the procedure's rule: >= 5), and 12
            # powers: the photo-response law's 3 parameters leave 9 degrees of freedom; 120 step reads resolve the
            # photoconductance's rise from the shunting's
            _run(bench, runs, "optical-pulses", row=r, col=c, count=0, relax_s=30.0, powers_w=POWERS_W,
                 step_reads=120)
            _run(bench, runs, "relaxation", row=r, col=c, stimulus="light", duration_s=20)
            _run(bench, runs, "three-factor", row=r, col=c, relax_s=30.0)
    fitted = fit_twin(runs)
    hits, misses = _recovered(fitted, truth, devices)
    assert hits >= 0.9 * len(truth) * len(devices), misses
    for name in truth:
        assert fitted.chip[name].status == "fitted"


def test_wear_law_recovered_from_endurance_runs(tmp_path):
    rng = np.random.default_rng(8)
    truth = {"wear_exponent": float(rng.uniform(0.8, 3.0)), "wear_center": float(rng.uniform(0.2, 0.8))}
    twin = truth_twin(7)
    _chip_truth(twin, truth)
    n_end = 10 ** rng.uniform(3.3, 3.8, SHAPE)
    twin.devices["endurance_cycles"] = DeviceEstimates(n_end, np.zeros(SHAPE), np.full(SHAPE, "0", dtype=object))
    path = write_twin(twin, tmp_path / "truth.h5")
    runs = tmp_path / "runs"
    with twin_bench(path, array="1t1r") as bench:
        for r, c in DEVICES:  # the defaults: saturating 2.8 V pulses, stop at the failure
            _run(bench, runs, "endurance", row=r, col=c, cycles=int(20 * n_end[r, c]), samples_per_decade=20)
    fitted = fit_twin(runs)
    hits, misses = _recovered(fitted, truth, DEVICES)
    d = fitted.devices["endurance_cycles"]
    for i, j in DEVICES:
        if abs(d.value[i, j] - n_end[i, j]) <= 1.96 * d.stderr[i, j]:
            hits += 1
        else:
            misses.append(f"endurance_cycles{(i, j)}: {d.value[i, j]:.4g} +- {d.stderr[i, j]:.2g} vs {n_end[i, j]:.4g}")
    assert hits >= 0.9 * 3 * len(DEVICES), misses
    for name, value in truth.items():
        assert fitted.chip[name].status == "fitted" and fitted.chip[name].low <= value <= fitted.chip[name].high
