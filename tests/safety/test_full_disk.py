"""A full disk (here a file-size limit, as ``ulimit -f`` sets) ends a run as failed at once:
no traceback, no segfault, outputs off, and a file plain h5py opens with the rows written
before the failure."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from safety_helpers import child_states, finish, manifest, start_child  # noqa: E402

from memlab.storage import Column, RunWriteError, RunWriter, StreamSpec  # noqa: E402

LIMIT_BYTES = 3_000_000
# about 5 MB of rows: well past the limit
BIG_SWEEP = ["--set", "cycles=300", "--set", "step_v=0.01"]


def assert_clean_exit(rc: int, err: str) -> None:
    assert rc == 1, err
    assert rc != -signal.SIGSEGV and rc != 128 + signal.SIGSEGV
    assert "Traceback" not in err and "Segmentation" not in err, err


def assert_failed_file_with_rows(path: Path) -> None:
    with h5py.File(path, "r") as f:  # plain h5py, no SWMR flag, no repair
        assert f.attrs["status"] == "failed"
        assert "writing the run file failed" in f.attrs["error"]
        columns = {name: f[f"streams/iv/{name}"][:] for name in ("cycle", "voltage", "current", "time")}
    lengths = {len(v) for v in columns.values()}
    assert len(lengths) == 1 and lengths.pop() > 1000  # the rows up to the failure, all columns
    assert np.all(np.diff(columns["cycle"]) >= 0) and np.all(np.diff(columns["time"]) >= 0)
    assert np.count_nonzero(columns["voltage"]) > len(columns["voltage"]) // 2  # real rows, not zeros
    assert path.stat().st_size < LIMIT_BYTES


def test_a_run_under_a_file_size_limit_fails_cleanly_with_its_rows_and_outputs_off(tmp_path):
    out = tmp_path / "runs"
    proc = start_child(tmp_path, ["run", "iv-sweep", *BIG_SWEEP, "--out", str(out)], fsize=LIMIT_BYTES)
    rc, stdout, err = finish(proc)
    assert_clean_exit(rc, err)
    assert stdout.startswith("failed:")
    [path] = out.glob("*.h5")
    assert_failed_file_with_rows(path)
    [state] = child_states(tmp_path)
    assert not (state["smu"] or state["pulser"] or state["laser"])


def test_a_campaign_under_a_file_size_limit_stops_at_the_first_full_file(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("name: full\ndevices: [[0, 0], [1, 1], [2, 2]]\nsteps:\n"
                    "  - procedure: iv-sweep\n    params: {cycles: 300, step_v: 0.01}\n")
    out = tmp_path / "out"
    proc = start_child(tmp_path, ["campaign", str(plan), "--out", str(out)], fsize=LIMIT_BYTES)
    rc, _, err = finish(proc)
    assert_clean_exit(rc, err)
    data = manifest(out)
    assert data["status"] == "failed" and "could not be written" in data["error"]
    [attempt] = data["attempts"]  # the campaign stopped: no more runs into a full disk
    assert attempt["status"] == "failed" and attempt["write_failed"]
    assert_failed_file_with_rows(out / attempt["file"])
    [state] = child_states(tmp_path)
    assert not (state["smu"] or state["pulser"] or state["laser"])


def test_writer_refuses_to_write_past_the_room_left_and_closes_failed(tmp_path, monkeypatch):
    spec = StreamSpec("s", (Column("x", "V"),))
    writer = RunWriter(tmp_path / "r.h5", procedure="p", procedure_version="1", streams=[spec])
    writer.append("s", {"x": np.arange(10.0)})
    writer.flush()
    monkeypatch.setattr(RunWriter, "room_bytes", lambda self: 1000.0)  # the disk is now full
    writer.append("s", {"x": np.arange(5.0)})  # buffered: nothing written yet
    with pytest.raises(RunWriteError, match="no room"):
        writer.flush()
    with pytest.raises(RunWriteError, match="writing the run file failed"):
        writer.append("s", {"x": [1.0]})
    writer.log("still queued")  # the log never raises for a write failure
    writer.close("completed")
    assert writer.status_written
    with h5py.File(tmp_path / "r.h5", "r") as f:
        assert f.attrs["status"] == "failed" and "no room" in f.attrs["error"]
        assert f["streams/s/x"][:].tolist() == list(np.arange(10.0))
