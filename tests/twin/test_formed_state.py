"""Run files record what a run knows of its devices' formed state; the twin fit prefers it."""

from __future__ import annotations

from dataclasses import replace

import h5py
import numpy as np

from memlab.analysis.loading import Run
from memlab.instruments.bench import Bench
from memlab.instruments.bench_file import read_bench_config
from memlab.procedures import get_procedure, run_procedure
from memlab.storage import RunReader
from memlab.twin import fit_twin, write_twin
from memlab.twin.file import DeviceEstimates

from .conftest import truth_twin, twin_bench


def _form(bench, folder, r: int, c: int):
    result = run_procedure(get_procedure("forming")(row=r, col=c), bench, folder)
    assert result.status == "completed", result
    return result.path


def test_forming_runs_record_formed_state_and_the_twin_uses_it(tmp_path):
    truth = truth_twin(2)
    shape = (truth.rows, truth.cols)
    v_form = np.random.default_rng(1).uniform(2.5, 3.5, shape)
    truth.devices["v_form_v"] = DeviceEstimates(v_form, np.zeros(shape), np.full(shape, "0", dtype=object))
    config = read_bench_config(None)
    chip = replace(config.chip, twin=str(write_twin(truth, tmp_path / "truth.h5")), formed=False)
    with Bench(replace(config, chip=chip)) as bench:
        virgin = _form(bench, tmp_path / "runs", 0, 0)
        again = _form(bench, tmp_path / "runs", 0, 0)  # formed now: this ramp only SETs it
    with RunReader(virgin) as r:
        state = r.device_states[(0, 0)]
        assert state["formed_at_start"] is False and state["formed_at_end"] is True
    assert Run.open(again).device_states[(0, 0)]["formed_at_start"] is True
    fitted = fit_twin(tmp_path / "runs")
    d = fitted.devices["v_form_v"]
    assert d.sources[0, 0] == "0" and abs(d.value[0, 0] - v_form[0, 0]) <= 1.96 * d.stderr[0, 0]
    # the record wins over the inference: marked formed at the start, the virgin run is not used
    with h5py.File(virgin, "r+") as f:
        f.attrs["device_states"] = '[{"row": 0, "col": 0, "formed_at_start": true, "formed_at_end": true}]'
    assert np.isnan(fit_twin(virgin).devices["v_form_v"].value[0, 0])


def test_files_without_the_attribute_read_as_no_states(tmp_path):
    twin = truth_twin(2)
    with twin_bench(write_twin(twin, tmp_path / "truth.h5")) as bench:
        result = run_procedure(get_procedure("readout")(devices="0,0", reads=3), bench, tmp_path)
    with h5py.File(result.path, "r+") as f:  # as memlab wrote files before it recorded states
        del f.attrs["device_states"]
    assert Run.open(result.path).device_states == {}
    with RunReader(result.path) as r:
        assert r.device_states == {} and r.status == "completed"
