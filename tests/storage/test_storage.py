"""RunWriter / RunReader: layout, SWMR following, crash safety, metadata."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from memlab.storage import (
    Column,
    ParameterRecord,
    RunFileError,
    RunReader,
    RunWriter,
    StreamSpec,
)

IV = StreamSpec("iv", (Column("voltage", "V"), Column("current", "A"), Column("cycle", "", "i4")))
MAP = StreamSpec("map", (Column("conductance", "S", shape=(3, 4)),))


def make_writer(path: Path, **kw) -> RunWriter:
    return RunWriter(
        path, procedure="iv-sweep", procedure_version="1.0", streams=[IV, MAP],
        parameters={"v_max": ParameterRecord(1.5, "V", "peak"), "cycles": ParameterRecord(3, ""),
                    "target": ParameterRecord(None, "S")},
        chip={"family": "prgo", "rows": 3, "cols": 4, "seed": 7}, devices=[(0, 1), (2, 3)],
        instruments={"smu": {"model": "2450", "identity": "KEITHLEY", "simulated": True,
                             "settings": {"nplc": 0.01}}},
        operator="ana", software_version="0.1.0", **kw)


def test_roundtrip_with_plain_h5py(tmp_path):
    path = tmp_path / "run.h5"
    with make_writer(path) as w:
        w.append("iv", {"voltage": np.linspace(0, 1, 50), "current": np.arange(50) * 1e-6,
                        "cycle": np.zeros(50)})
        w.append_row("iv", (2.0, 3e-6, 1))
        w.append("map", {"conductance": np.full((3, 4), 1e-6)})
        w.log("hello", logging.WARNING)
    with h5py.File(path, "r") as f:  # a user with plain h5py and no memlab
        assert f.attrs["memlab_format"] == "memlab-run"
        assert f.attrs["status"] == "completed"
        assert f.attrs["end_time"] != ""
        assert f["streams/iv/voltage"].shape == (51,)
        assert f["streams/iv/current"].attrs["units"] == "A"
        assert f["streams/map/conductance"].shape == (1, 3, 4)
        params = {row["name"].decode(): row for row in f["parameters"][()]}
        assert json.loads(params["v_max"]["value"]) == 1.5
        assert params["v_max"]["units"].decode() == "V"
        assert json.loads(params["target"]["value"]) is None
        metadata = json.loads(f.attrs["metadata"])
        assert metadata["operator"] == "ana" and metadata["chip"]["family"] == "prgo"
        assert f["chip/devices"][()].tolist() == [[0, 1], [2, 3]]
        assert f["log/message"][0].decode() == "hello"
        for name, obj in f["streams"].items():
            for col in obj.values():
                assert "units" in col.attrs
    with RunReader(path) as r:
        assert r.status == "completed"
        assert r.parameters == {"v_max": 1.5, "cycles": 3, "target": None}
        assert r.parameter_units["v_max"] == "V"
        assert r.chip["family"] == "prgo"
        assert r.instruments["smu"]["settings"] == {"nplc": 0.01}
        s = r.stream("iv")
        assert len(s) == 51 and s.units["current"] == "A"
        np.testing.assert_allclose(s["voltage"][:50], np.linspace(0, 1, 50))
        assert s["cycle"][-1] == 1
        assert r.log()[0][1:] == (logging.WARNING, "hello")
        summary = r.summary()
        assert summary["streams"]["map"]["conductance"]["shape"] == [1, 3, 4]


def test_rows_larger_than_buffer_and_many_small(tmp_path):
    path = tmp_path / "big.h5"
    with make_writer(path) as w:
        big = 200_000
        w.append("iv", {"voltage": np.arange(big), "current": np.ones(big), "cycle": np.ones(big)})
        for i in range(1000):
            w.append_row("iv", (float(i), 0.0, 2))
        assert w.rows("iv") == big + 1000
    with RunReader(path) as r:
        v = r.stream("iv")["voltage"]
        assert len(v) == 201_000
        np.testing.assert_array_equal(v[:big], np.arange(big))
        np.testing.assert_array_equal(v[big:], np.arange(1000))


def test_bad_appends_are_refused(tmp_path):
    with make_writer(tmp_path / "r.h5") as w:
        with pytest.raises(KeyError, match="missing columns .*cycle"):
            w.append("iv", {"voltage": [1], "current": [2]})
        with pytest.raises(KeyError, match="no stream 'nope'"):
            w.append_row("nope", (1,))
        with pytest.raises(ValueError, match="unequal length"):
            w.append("iv", {"voltage": [1, 2], "current": [2], "cycle": [0]})
        with pytest.raises(ValueError, match="2 values given"):
            w.append_row("iv", (1, 2))


def test_never_overwrites(tmp_path):
    path = tmp_path / "r.h5"
    make_writer(path).close("completed")
    with pytest.raises(FileExistsError):
        make_writer(path)


def test_exception_in_block_records_failed(tmp_path):
    path = tmp_path / "r.h5"
    with pytest.raises(RuntimeError):
        with make_writer(path) as w:
            w.append_row("iv", (1.0, 1.0, 1))
            raise RuntimeError("smu on fire")
    with RunReader(path) as r:
        assert r.status == "failed"
        assert "smu on fire" in r.error
        assert len(r.stream("iv")) == 1


def test_foreign_and_corrupt_files(tmp_path):
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = 1
    with pytest.raises(RunFileError, match="not a memlab run file"):
        RunReader(foreign)
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(2000))
    with pytest.raises(RunFileError):
        RunReader(corrupt)
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    with pytest.raises(RunFileError, match="not an HDF5 file"):
        RunReader(text)


WRITER_SCRIPT = textwrap.dedent("""
    import sys, time
    import numpy as np
    from memlab.storage import Column, RunWriter, StreamSpec
    spec = StreamSpec("signal", (Column("index", "", "i8"), Column("value", "V")))
    w = RunWriter(sys.argv[1], procedure="p", procedure_version="1", streams=[spec],
                  flush_interval_s=0.1)
    i = 0
    while True:
        w.append("signal", {"index": np.arange(i, i + 100), "value": np.arange(i, i + 100) * 0.5})
        i += 100
        print(i, flush=True)
        time.sleep(0.01)
""")


def _start_writer(path: Path) -> subprocess.Popen:
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, str(path)], stdout=subprocess.PIPE,
                            text=True, env=env)


def _wait_rows(proc: subprocess.Popen, rows: int) -> int:
    while True:
        line = proc.stdout.readline()
        assert line, "writer exited early"
        if int(line) >= rows:
            return int(line)


def test_sigkill_leaves_readable_interrupted_file(tmp_path):
    path = tmp_path / "killed.h5"
    proc = _start_writer(path)
    try:
        appended = _wait_rows(proc, 3000)
        time.sleep(0.3)  # let the 0.1 s flusher write what was appended by then
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with RunReader(path) as r:
        assert r.status == "interrupted"
        s = r.stream("signal")
        n = len(s)
        assert n >= appended  # every row appended 0.3 s before the kill was flushed
        np.testing.assert_array_equal(s["index"], np.arange(n))
        np.testing.assert_array_equal(s["value"], np.arange(n) * 0.5)
    with h5py.File(path, "r") as f:  # and plain h5py opens it too
        assert f["streams/signal/index"].shape[0] == n


def test_reader_follows_a_live_file(tmp_path):
    path = tmp_path / "live.h5"
    proc = _start_writer(path)
    try:
        _wait_rows(proc, 100)
        time.sleep(0.3)
        with RunReader(path) as r:
            assert r.status == "running"
            s = r.stream("signal")
            first = len(s)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                time.sleep(0.2)
                r.refresh()
                if len(s) > first + 500:
                    break
            assert len(s) > first + 500, "reader saw no new rows arrive"
            np.testing.assert_array_equal(s["index"], np.arange(len(s)))
    finally:
        proc.kill()
        proc.wait()


def test_truncated_copy_is_refused(tmp_path):
    path = tmp_path / "run.h5"
    with make_writer(path) as w:
        w.append("iv", {"voltage": np.arange(100_000), "current": np.ones(100_000), "cycle": np.ones(100_000)})
    data = path.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 3])  # an interrupted copy still opens in HDF5
    with pytest.raises(RunFileError, match="truncated"):
        RunReader(cut)


def write_format_1(path: Path) -> None:
    """A run file as memlab wrote them before format 2: an attribute per item, a dataset per
    parameter, a group of attributes per instrument."""
    with h5py.File(path, "w", libver="latest") as f:
        a = f.attrs
        for key, value in {"memlab_format": "memlab-run", "format_version": 1, "procedure": "iv-sweep",
                           "procedure_version": "1.0", "software_version": "0.1.0", "operator": "ana",
                           "start_time": "2026-11-23T10:15:00.000+00:00", "start_time_unix_s": 1.8e9,
                           "end_time": "2026-11-23T10:16:00.000+00:00", "status": "completed", "error": "",
                           "safety_failure": "", "heartbeat_unix_s": 1.8e9, "writer_host": "h",
                           "writer_pid": 1, "writer_process_start": "", "title": "I-V sweep"}.items():
            a[key] = value
        params = f.create_group("parameters")
        for name, value, unit in (("v_max", 1.5, "V"), ("cycles", 3, ""), ("target", None, "S")):
            ds = params.create_dataset(name, data="" if value is None else value)
            ds.attrs["units"], ds.attrs["help"], ds.attrs["is_none"] = unit, "", value is None
        chip = f.create_group("chip")
        chip.attrs["family"], chip.attrs["rows"] = "prgo", 3
        chip.create_dataset("devices", data=np.array([[0, 1]], dtype="i4"))
        smu = f.create_group("instruments/smu")
        smu.attrs["model"], smu.attrs["settings"] = "2450", json.dumps({"nplc": 0.01})
        iv = f.create_group("streams/iv")
        iv.attrs["columns"] = ["voltage"]
        iv.create_dataset("voltage", data=np.arange(3.0)).attrs["units"] = "V"
        for name, dtype in (("time_unix_s", "f8"), ("level", "i2"), ("message", h5py.string_dtype("utf-8", 1024))):
            f.create_dataset(f"log/{name}", shape=(0,), maxshape=(None,), dtype=dtype)


def test_reads_a_format_1_file(tmp_path):
    path = tmp_path / "old.h5"
    write_format_1(path)
    with RunReader(path) as r:
        assert r.status == "completed" and r.procedure == "iv-sweep" and r.operator == "ana"
        assert r.attrs["title"] == "I-V sweep"
        assert r.parameters == {"v_max": 1.5, "cycles": 3, "target": None}
        assert r.parameter_units == {"v_max": "V", "cycles": "", "target": "S"}
        assert r.chip == {"family": "prgo", "rows": 3}
        assert r.instruments == {"smu": {"model": "2450", "settings": {"nplc": 0.01}}}
        assert r.devices.tolist() == [[0, 1]]
        assert r.stream("iv")["voltage"].tolist() == [0.0, 1.0, 2.0]
        assert r.summary()["parameters"]["v_max"] == {"value": 1.5, "unit": "V"}


def test_format_2_header_is_a_few_objects(tmp_path):
    """The run start stays cheap: the header is a handful of attributes and two datasets,
    however many parameters and instruments the run has (plus the command trace's group, which
    records that no trace was taken)."""
    path = tmp_path / "run.h5"
    with make_writer(path, extra={"title": "I-V sweep", "campaign": {"task": 3}}):
        pass
    with h5py.File(path, "r") as f:
        assert f.attrs["format_version"] == 2
        assert len(f.attrs) <= 10  # device_states (created at the start, filled at close) is the 10th
        assert set(f) == {"parameters", "chip", "streams", "log", "trace"}
        assert not f["trace"].attrs["enabled"]
    with RunReader(path) as r:
        assert r.attrs["title"] == "I-V sweep" and r.attrs["campaign"] == {"task": 3}
        assert r.attrs["writer_pid"] > 0 and r.operator == "ana"
        assert r.instruments["smu"]["settings"] == {"nplc": 0.01}


def test_runs_from_one_cached_skeleton_keep_their_own_values(tmp_path):
    """Runs of one shape start from the same cached skeleton: nothing of one run's parameters,
    devices, description, rows or status may reach another's file."""
    from memlab.storage import writer as writer_module

    def run(path, v_max, devices, operator, status, error=""):
        w = RunWriter(path, procedure="shape-test", procedure_version="1.0", streams=[IV],
                      parameters={"v_max": ParameterRecord(v_max, "V", "peak")},
                      devices=devices, operator=operator)
        w.append("iv", {"voltage": [v_max], "current": [1e-6], "cycle": [1]})
        w.close(status, error)

    run(tmp_path / "a.h5", 1.5, [(0, 1)], "ana", "failed", "it broke")
    skeletons = len(writer_module._skeletons)
    run(tmp_path / "b.h5", 2.5, [(3, 2)], "bo", "completed")
    assert len(writer_module._skeletons) == skeletons  # the second run reused the skeleton
    with RunReader(tmp_path / "b.h5") as r:
        assert r.parameters["v_max"] == 2.5 and r.operator == "bo" and r.status == "completed"
        assert r.error == "" and r.devices.tolist() == [[3, 2]]
        assert r.stream("iv")["voltage"].tolist() == [2.5]
    with RunReader(tmp_path / "a.h5") as r:
        assert r.parameters["v_max"] == 1.5 and r.status == "failed" and "it broke" in r.error
    # another shape (more devices, another stream) gets a skeleton of its own
    w = RunWriter(tmp_path / "c.h5", procedure="shape-test", procedure_version="1.0",
                  streams=[IV, MAP], devices=[(0, 0), (1, 1), (2, 2)])
    w.close("completed")
    with h5py.File(tmp_path / "c.h5", "r") as f:
        assert set(f["streams"]) == {"iv", "map"} and f["chip/devices"].shape == (3, 2)
        assert f["parameters"].shape == (0,)


def test_the_skeleton_cache_is_bounded(tmp_path):
    from memlab.storage import writer as writer_module
    for i in range(writer_module._SKELETON_CACHE_SIZE + 5):
        RunWriter(tmp_path / f"{i}.h5", procedure=f"p{i}", procedure_version="1",
                  streams=[IV]).close("completed")
    assert len(writer_module._skeletons) == writer_module._SKELETON_CACHE_SIZE
    with h5py.File(tmp_path / "0.h5", "r") as f:
        assert f.attrs["procedure"] == "p0"
