"""SIGTERM, SIGHUP and Ctrl-C (even pressed four times in a row) stop a run or a campaign with
its outputs off and its run file and manifest final. Real child processes, real signals."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import h5py
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from safety_helpers import (  # noqa: E402
    child_states,
    finish,
    manifest,
    realtime_bench,
    running_attempt_started,
    start_child,
    wait_for,
)

# Each read integrates one power-line cycle (20 ms of wall time on the real-time bench).
PLAN = """
name: signals
devices: [[0, 0], [1, 1], [2, 2]]
steps:
  - procedure: readout
    params: {reads: 300, nplc: 1.0}
"""


def start_campaign(tmp_path: Path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    out = tmp_path / "out"
    proc = start_child(tmp_path, ["campaign", str(plan), "--bench", str(realtime_bench(tmp_path)),
                                  "--out", str(out)])
    wait_for(lambda: running_attempt_started(out), what="a run of the campaign to start")
    time.sleep(0.3)
    return proc, out


def assert_final(tmp_path: Path, out: Path, expected_error: str) -> None:
    data = manifest(out)
    assert data["status"] == "aborted", data
    assert expected_error in data["error"]
    assert all(a["status"] != "running" for a in data["attempts"]), data["attempts"]
    stopped = data["attempts"][-1]
    assert stopped["status"] == "aborted" and expected_error in stopped["error"]
    for path in out.glob("*.h5"):
        with h5py.File(path, "r") as f:  # plain h5py: closed, final, writer flags gone
            assert f.attrs["status"] in ("completed", "aborted"), path
    with h5py.File(out / stopped["file"], "r") as f:
        assert f.attrs["status"] == "aborted"
        assert expected_error in f.attrs["error"]
        messages = [m.decode() for m in f["log/message"][:]]
    assert any(m.startswith("finished: aborted") for m in messages)
    for state in child_states(tmp_path):  # the twins themselves: everything off
        assert not (state["smu"] or state["pulser"] or state["laser"]) and state["laser_power_w"] == 0.0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_stop_a_campaign_safely_with_file_and_manifest_final(tmp_path, signum):
    proc, out = start_campaign(tmp_path)
    proc.send_signal(signum)
    rc, _, err = finish(proc)
    assert rc == 1, err
    assert "Traceback" not in err
    assert_final(tmp_path, out, signal.Signals(signum).name)


def test_four_rapid_ctrl_c_leave_the_manifest_final(tmp_path):
    proc, out = start_campaign(tmp_path)
    for _ in range(4):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.02)
    rc, _, err = finish(proc)
    assert rc == 1, err
    assert "Traceback" not in err
    assert_final(tmp_path, out, "Ctrl-C")


def test_sigterm_stops_memlab_run_with_the_file_final(tmp_path):
    out = tmp_path / "runs"
    proc = start_child(tmp_path, ["run", "readout", "--set", "reads=500", "--set", "nplc=1",
                                  "--bench", str(realtime_bench(tmp_path)), "--out", str(out)])
    wait_for(lambda: any(out.glob("*.h5")), what="the run file")
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    rc, _, err = finish(proc)
    assert rc == 1 and "Traceback" not in err, err
    [path] = out.glob("*.h5")
    with h5py.File(path, "r") as f:
        assert f.attrs["status"] == "aborted" and "SIGTERM" in f.attrs["error"]
        assert f["streams/reads/current"].shape[0] >= 0
    [state] = child_states(tmp_path)
    assert not (state["smu"] or state["pulser"] or state["laser"])


def test_stop_signals_restore_the_previous_handlers():
    from memlab.procedures.signals import Interrupted, StopSignals

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    guard = StopSignals()
    finished = False
    with pytest.raises(Interrupted) as caught:
        with guard:
            assert signal.getsignal(signal.SIGTERM) == guard._handle
            with guard.deferred():
                signal.raise_signal(signal.SIGTERM)  # remembered, not raised, inside deferred()
                signal.raise_signal(signal.SIGINT)
                finished = True
    assert finished and caught.value.signum == signal.SIGTERM  # raised once, after the block
    assert {s: signal.getsignal(s) for s in before} == before
    guard2 = StopSignals()
    with pytest.raises(Interrupted) as caught:
        with guard2:
            with guard2.deferred():
                signal.raise_signal(signal.SIGHUP)
    assert caught.value.signum == signal.SIGHUP
    assert {s: signal.getsignal(s) for s in before} == before


def test_a_ctrl_c_swallowed_inside_an_instrument_still_aborts_the_run(tmp_path):
    """The 707B twin's Lua once turned a KeyboardInterrupt into an instrument error (-286) and
    the campaign went on: the runner remembers the signal and aborts whatever surfaces."""
    from memlab.procedures import Procedure, run_procedure
    from memlab.storage import Column, RunReader, StreamSpec

    sys.path.insert(0, str(Path(__file__).parents[1] / "procedures"))
    from campaign_helpers import FakeBench

    class Swallowing(Procedure):
        name = "swallowing"
        streams = (StreamSpec("data", (Column("x", ""),)),)

        def execute(self, ctx):
            ctx.append_row("data", (1.0,))
            try:
                signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt:
                raise RuntimeError("-286,TSP runtime error: KeyboardInterrupt") from None

    class SwallowingAndCarryingOn(Swallowing):
        name = "carrying-on"

        def execute(self, ctx):
            try:
                signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt:
                pass
            ctx.append_row("data", (2.0,))

    for procedure in (Swallowing(), SwallowingAndCarryingOn()):
        bench = FakeBench()
        with pytest.raises(KeyboardInterrupt):
            run_procedure(procedure, bench, tmp_path)
        [path] = [p for p in tmp_path.glob(f"*{procedure.name}*.h5")]
        with RunReader(path) as r:
            assert r.status == "aborted" and "Ctrl-C" in r.error
        assert bench.shutdowns == 1 and not bench.output_on
