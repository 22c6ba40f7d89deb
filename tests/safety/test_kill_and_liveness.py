"""kill -9 then --resume: every file in the campaign folder opens with plain h5py. A suspended
writer (SIGSTOP) is alive: only a writer process that is gone makes a file interrupted."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import h5py

sys.path.insert(0, str(Path(__file__).parent))
from safety_helpers import finish, manifest, realtime_bench, running_attempt_started, start_child, wait_for  # noqa: E402

from memlab.cli import main  # noqa: E402
from memlab.storage import RunReader  # noqa: E402
from memlab.storage.recovery import process_start_token, writer_flags, writer_process_state  # noqa: E402

PLAN = """
name: killed
devices: [[0, 0], [1, 1], [2, 2]]
steps:
  - procedure: readout
    params: {reads: 60, nplc: 1.0}
"""


def test_after_kill_9_and_resume_every_file_opens_with_plain_h5py(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    bench = realtime_bench(tmp_path)
    out = tmp_path / "out"
    proc = start_child(tmp_path, ["campaign", str(plan), "--bench", str(bench), "--out", str(out)])
    try:
        wait_for(lambda: running_attempt_started(out) and len(manifest(out)["attempts"]) >= 2,
                 what="the second run of the campaign")
        time.sleep(0.3)  # rows flushed into the killed file
    finally:
        proc.kill()
        finish(proc)
    killed = manifest(out)["attempts"][-1]
    assert killed["status"] == "running" and writer_flags(out / killed["file"])  # the dead writer's mark

    assert main(["campaign", str(plan), "--bench", str(bench), "--out", str(out), "--resume"]) == 0
    files = sorted(out.glob("*.h5"))
    assert len(files) == 4  # three runs and the killed one
    for path in files:
        with h5py.File(path) as f:  # the default mode, as any reader would open it
            assert f.attrs["memlab_format"] == "memlab-run"
        assert not writer_flags(path)
    assert not list(out.glob(".*.creating"))
    with RunReader(out / killed["file"]) as r:
        assert r.status == "interrupted"


def test_a_suspended_writer_is_alive_and_its_file_is_left_alone(tmp_path, monkeypatch):
    out = tmp_path / "runs"
    proc = start_child(tmp_path, ["run", "readout", "--set", "reads=200", "--set", "nplc=1",
                                  "--bench", str(realtime_bench(tmp_path)), "--out", str(out)])
    try:
        wait_for(lambda: any(out.glob("*.h5")), what="the run file")
        time.sleep(0.3)
        [path] = out.glob("*.h5")
        proc.send_signal(signal.SIGSTOP)
        # seen 35 s later: its heartbeat is stale, but the process exists
        later = time.time() + 35.0
        monkeypatch.setattr(time, "time", lambda: later)
        with RunReader(path) as r:
            assert r.status == "running"
        assert writer_flags(path)  # the live writer's flags were not touched
        monkeypatch.undo()
        proc.send_signal(signal.SIGCONT)
        rc, _, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
            finish(proc)
    assert rc == 0, err
    with h5py.File(path) as f:
        assert f.attrs["status"] == "completed"


def test_liveness_is_judged_by_host_pid_and_process_start():
    host, me = socket.gethostname(), os.getpid()
    token = process_start_token(me)
    assert writer_process_state(host, me, token) is True
    assert writer_process_state(host, me, "") is True  # files of older versions: pid only
    if token:  # the same pid, but a process that started at another time: the pid was reused
        assert writer_process_state(host, me, token + "0") is False
    dead = _a_dead_pid()
    assert writer_process_state(host, dead, "") is False
    assert writer_process_state("another-host", me, token) is None  # cannot tell: use the heartbeat
    assert writer_process_state(host, "garbage", token) is None
    assert writer_process_state(host, 10**30, token) is None


def _a_dead_pid() -> int:
    import subprocess
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid
