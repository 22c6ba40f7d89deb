"""Loading runs: files, lists, folders; arrays and DataFrames; filters; skipping bad files."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from memlab.analysis import (
    MissingStreamError,
    Run,
    SkippedRunWarning,
    find_run_files,
    load_runs,
    open_run,
    summarize_file,
)
from memlab.procedures.synthetic import declared_streams
from memlab.storage import RunFileError, RunWriter, canonical


def test_import_analysis_pulls_in_no_instrument_procedure_or_gui_code():
    code = ("import sys, memlab.analysis, memlab.analysis.metrics\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyvisa', 'pymeasure', "
            "'pyqtgraph') or m.split('.')[:2] in (['memlab', 'instruments'], ['memlab', 'procedures'], "
            "['memlab', 'gui']))\n"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_one_file_as_arrays_and_dataframe(tmp_path, makers):
    path = makers.iv(tmp_path / "a.h5", cycles=2)
    run = open_run(path)
    assert run.procedure == "iv-sweep" and run.status == "completed" and run.device == (0, 1)
    assert run.streams["iv"] == ["cycle", "voltage", "current", "time"]
    a = run.arrays("iv", ["voltage", "current"])
    assert set(a) == {"voltage", "current"} and a["voltage"].dtype == np.float64
    df = run.frame("iv")
    assert len(df) == run.rows["iv"] == 2 * 41
    assert df.attrs["units"] == {"cycle": "", "voltage": "V", "current": "A", "time": "s"}
    np.testing.assert_array_equal(df["current"].to_numpy(), a["current"])


def test_array_columns_become_object_cells(campaign):
    run = open_run(campaign.files["vmm"][0])
    df = run.frame("vmm")
    assert df["inputs"].dtype == object and df["inputs"].iloc[0].shape == (campaign.rows,)
    assert df["measured"].iloc[0].shape == (campaign.cols,)


def test_folder_and_list_give_the_same_runs_and_ignore_other_files(campaign, tmp_path):
    (campaign.folder / "manifest.json").write_text("{}")  # a campaign's manifest is not a run
    folder = load_runs(campaign.folder)
    files = find_run_files(campaign.folder)
    assert all(p.suffix == ".h5" for p in files)
    listed = load_runs([str(p) for p in files])
    assert [r.name for r in folder] == [r.name for r in listed] and len(folder) == len(files)
    assert not folder.skipped
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_runs(tmp_path / "nowhere")


def test_concatenated_frame_has_run_metadata_columns(campaign):
    runs = load_runs(campaign.folder, procedure="iv-sweep")
    df = runs.frame("iv", parameters=[canonical.READ_V])
    assert set(df["run"].cat.categories) == {r.name for r in runs}
    assert set(df["procedure"]) == {"iv-sweep"} and set(df["status"]) == {"completed"}
    assert df["device_row"].dtype == "Int64"
    devices = {(int(r), int(c)) for r, c in zip(df["device_row"], df["device_col"])}
    assert devices == {r.device for r in runs}
    assert (df[canonical.READ_V] == campaign.read_voltage_v).all()
    assert df.attrs["units"]["current"] == "A" and df.attrs["units"][canonical.READ_V] == "V"
    assert len(df) == sum(r.rows["iv"] for r in runs)
    table = runs.table()
    assert list(table["run"]) == [r.name for r in runs] and (table["devices"] == 1).all()


def test_filters(campaign):
    everything = load_runs(campaign.folder)
    assert {r.procedure for r in everything.filter(procedure=["forming", "retention"])} == {"forming", "retention"}
    on_device = everything.filter(device="r0c1")
    assert on_device and all((0, 1) in map(tuple, r.devices.tolist()) for r in on_device)
    assert len(everything.filter(device=(0, 1))) == len(on_device)
    assert len(everything.filter(status="aborted")) == 0
    first, last = everything[0].start_time, everything[-1].start_time
    assert len(everything.filter(since=last)) >= 1
    assert len(everything.filter(until=first - pd.Timedelta(seconds=1))) == 0
    assert len(everything.filter(since=first.isoformat(), until=last.isoformat())) == len(everything)


@pytest.mark.parametrize("kwargs, message", [
    ({"status": "finished"}, r"status='finished': allowed \['running', 'completed'"),
    ({"device": "row 3"}, r"device='row 3': give a device as \(row, col\)"),
    ({"since": "yesterday"}, r"since='yesterday': not a date/time"),
])
def test_bad_filters_name_the_value(campaign, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_runs(campaign.folder, **kwargs)


def test_bad_files_in_a_folder_are_skipped_with_a_warning_naming_each(tmp_path, makers, live_writer):
    live_path, _ = live_writer
    folder = live_path.parent
    good = makers.iv(folder / "good.h5")
    bad = {
        makers.corrupted(folder / "cut.h5"): "damaged",
        makers.foreign(folder / "other.h5"): "not a memlab run file",
        makers.interrupted(folder / "died.h5"): "interrupted",
        live_path: "still being written",
    }
    (folder / "notes.h5").write_text("not hdf5 at all")
    bad[folder / "notes.h5"] = "not an HDF5 file"
    before = (folder / "died.h5").read_bytes()
    with pytest.warns(SkippedRunWarning) as record:
        runs = load_runs(folder)
    assert [r.path for r in runs] == [good]
    messages = [str(w.message) for w in record]
    for path, why in bad.items():
        assert any(str(path) in msg and why in msg for msg in messages), (path, messages)
    assert {p for p, _ in runs.skipped} == set(bad)
    assert (folder / "died.h5").read_bytes() == before  # analysis never rewrites a run file


def test_a_run_without_the_stream_a_metric_needs(tmp_path):
    path = tmp_path / "odd.h5"  # an iv-sweep file holding a clock-check's stream
    writer = RunWriter(path, procedure="iv-sweep", procedure_version="1",
                       streams=declared_streams("clock-check")[:1], devices=[(0, 0)])
    writer.append("signal", {"sample": [0, 1], "time": [0.0, 1.0], "value": [0.0, 1.0]})
    writer.close("completed")
    run = Run.open(path)
    with pytest.raises(MissingStreamError, match=r"odd\.h5 \(iv-sweep\): no stream 'iv', needed for the I-V "
                                                 r"figures; it has \['signal'\]"):
        run.arrays("iv", ["voltage"], purpose="the I-V figures")
    with pytest.raises(MissingStreamError, match=r"no stream 'signal/current'.*signal/value"):
        run.arrays("signal", ["current"])
    summary = summarize_file(path)
    assert summary.rows == [] and "no stream 'iv'" in summary.error


def test_open_run_refuses_non_runs_with_the_reason(tmp_path, makers):
    with pytest.raises(RunFileError, match="not a memlab run file"):
        open_run(makers.foreign(tmp_path / "x.h5"))
    with pytest.raises(RunFileError, match="no such file"):
        open_run(tmp_path / "missing.h5")


def test_summarize_file_reports_skips_without_raising(tmp_path, makers):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the worker function itself warns about nothing
        s = summarize_file(makers.corrupted(tmp_path / "cut.h5"))
    assert s.skipped.startswith("damaged")
