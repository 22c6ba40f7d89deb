"""A run in a worker process (the dashboard's way on a simulated bench), without Qt: it completes and
reports what it records, carries the simulated chip's state and time across runs, aborts, and a
worker killed with SIGKILL ends the run failed with the outputs checked and the file readable."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from memlab.procedures import RunListener, get_procedure, run_procedure
from memlab.procedures.demo import demo_bench
from memlab.procedures.process_run import ProcessRunHandle, WorkerDied, can_run_in_process
from memlab.storage import RunReader

sys.path.insert(0, str(Path(__file__).parents[1] / "gui"))
from gates import Gate  # noqa: E402 - a run gate that works across processes (files)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and the fork server are POSIX")


class Events(RunListener):
    """What reaches the parent, in order, and in which thread."""

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.rows: dict[str, int] = {}
        self.logs: list[str] = []
        self.finish: tuple[str, str, str] | None = None
        self.threads: set[str] = set()

    def _seen(self, kind: str) -> None:
        import threading

        self.kinds.append(kind)
        self.threads.add(threading.current_thread().name)

    def on_start(self, info):
        self._seen("start")

    def on_batch(self, stream, batch):
        self._seen("batch")
        self.rows[stream] = self.rows.get(stream, 0) + len(next(iter(batch.values())))

    def on_log(self, level, message):
        self._seen("log")
        self.logs.append(message)

    def on_progress(self, done, total, eta_s):
        self._seen("progress")

    def on_finish(self, status, error, path):
        self._seen("finish")
        self.finish = (status, error, path)


def outputs_off(bench) -> bool:
    twins = bench.twins
    return (not twins["smu"].state["output"] and not any(twins["pulser"].state[f"out{ch}"] for ch in (1, 2))
            and not twins["laser"].state["ld_on"] and bench.world.laser_power_w == 0.0)


@pytest.fixture
def bench():
    b = demo_bench("prgo", True)  # an unformed chip: forming changes it for everyone after
    yield b
    b.close()


def test_a_run_in_the_worker_completes_and_its_batches_reach_the_parent(bench, tmp_path):
    assert can_run_in_process(bench)
    events = Events()
    handle = ProcessRunHandle(get_procedure("iv-sweep")(cycles=2), bench, tmp_path, listeners=[events])
    assert handle.pid is not None and handle.pid != os.getpid()
    result = handle.join(60)
    assert handle.done and not handle.alive
    assert result.status == "completed", result.error
    assert events.kinds[0] == "start" and events.kinds[-1] == "finish"
    assert events.finish == ("completed", "", str(result.path))
    with RunReader(result.path) as reader:
        assert reader.status == "completed"
        assert events.rows["iv"] == len(reader.stream("iv")) > 0  # every row, none twice
    assert all(name.endswith("(worker)") for name in events.threads)  # the reader thread, never the caller's
    assert outputs_off(bench)


def test_the_chip_and_its_clock_carry_over_between_worker_runs_as_on_one_bench(bench, tmp_path):
    """forming then iv-sweep in two workers leave the chip as the same two runs on one bench do."""
    steps = [get_procedure("forming")(), get_procedure("iv-sweep")(cycles=1)]
    before = bench.world.chip.conductance.copy()
    worker_files = []
    for procedure in steps:
        t_before = bench.clock.now()
        result = ProcessRunHandle(procedure, bench, tmp_path / "worker").join(60)
        assert result.status == "completed", result.error
        assert bench.clock.now() > t_before  # the worker's time came back
        worker_files.append(result.path)
    assert bench.world.chip.conductance[0, 0] != before[0, 0]  # formed: the state came back

    reference = demo_bench("prgo", True)
    try:
        thread_files = [run_procedure(procedure, reference, tmp_path / "thread").path for procedure in steps]
        assert np.array_equal(bench.world.chip.conductance, reference.world.chip.conductance)
        assert bench.clock.now() == pytest.approx(reference.clock.now(), abs=0.01)
    finally:
        reference.close()
    with RunReader(worker_files[1]) as w, RunReader(thread_files[1]) as t:
        # the sweep on the formed device: the same currents within noise (a fresh, unformed
        # device would conduct orders of magnitude less)
        worker_i, thread_i = np.abs(w.stream("iv")["current"]), np.abs(t.stream("iv")["current"])
        assert np.allclose(worker_i, thread_i, rtol=0.05, atol=1e-9)


def test_abort_stops_the_worker_run_with_outputs_off_and_the_file_aborted(bench, tmp_path):
    gate = Gate("iv")
    try:
        events = Events()
        handle = ProcessRunHandle(get_procedure("iv-sweep")(cycles=6), bench, tmp_path, listeners=[events],
                                  worker_listeners=[gate])
        assert gate.reached.wait(30)
        assert not handle.done  # held mid-run in the worker
        handle.abort()
        gate.release.set()
        result = handle.join(30)
    finally:
        gate.release.set()
        gate.remove()
    assert result.status == "aborted"
    with RunReader(result.path) as reader:
        assert reader.status == "aborted"
    assert events.finish[0] == "aborted"
    assert outputs_off(bench)


def test_a_worker_killed_mid_run_ends_the_run_failed_with_outputs_checked_and_the_file_readable(bench, tmp_path):
    gate = Gate("iv")
    chip_before = None
    try:
        events = Events()
        handle = ProcessRunHandle(get_procedure("iv-sweep")(cycles=6), bench, tmp_path, listeners=[events],
                                  worker_listeners=[gate])
        chip_before = bench.world.chip.conductance.copy()
        assert gate.reached.wait(30)
        deadline = time.monotonic() + 10
        while "batch" not in events.kinds and time.monotonic() < deadline:  # the first rows reached us
            time.sleep(0.01)
        os.kill(handle.pid, signal.SIGKILL)
        result = handle.join(30)
    finally:
        gate.release.set()
        gate.remove()
    assert handle.done and result is not None
    assert result.status == "failed"
    assert "killed by SIGKILL" in result.error and "worker process" in result.error
    assert result.shutdown_errors == [] and result.safety_failures == []
    assert events.finish == ("failed", result.error, str(result.path))
    assert any("every output is off (verified)" in line for line in events.logs)
    assert any("is kept as interrupted" in line for line in events.logs)
    assert outputs_off(bench)
    with RunReader(result.path) as reader:  # readable, and the dead writer's flags are cleared
        assert reader.status == "interrupted"
        # the rows flushed before the kill (the writer flushes at least once a second; this run
        # was held at its first batch, so possibly none yet): never more than the parent saw
        assert "current" in reader.stream("iv").columns
        assert len(reader.stream("iv")) <= events.rows["iv"]
    assert np.array_equal(bench.world.chip.conductance, chip_before)  # the state from before the run
    # the bench is usable again
    again = ProcessRunHandle(get_procedure("iv-sweep")(cycles=1), bench, tmp_path).join(60)
    assert again.status == "completed"


def test_a_worker_that_cannot_load_the_procedure_reports_why(bench, tmp_path):
    class Unpicklable(RunListener):  # a local class: the worker cannot import it
        pass

    with pytest.raises(Exception) as caught:
        ProcessRunHandle(get_procedure("iv-sweep")(cycles=1), bench, tmp_path,
                         worker_listeners=[Unpicklable()]).join(60)
    assert isinstance(caught.value, (WorkerDied, AttributeError, TypeError)) or "pickle" in str(caught.value).lower()


def test_the_state_handed_over_moves_the_clock_forward_never_back_and_keeps_real_time_pacing():
    from memlab.instruments.sim.clock import VirtualClock

    clock = VirtualClock(start_s=10.0)
    clock.catch_up_to(5.0)
    assert clock.now() == 10.0  # never back
    clock.catch_up_to(12.5)
    assert clock.now() == 12.5
    with pytest.raises(ValueError, match="finite"):
        clock.catch_up_to(float("nan"))

    a, b = demo_bench("prgo", True), demo_bench("prgo", True)
    other = demo_bench("optomemristor", False)
    try:
        a.world.chip.pulse(1, 2, 3.5, 1e-3)  # forms it: a state b does not have
        a.clock.sleep(100.0)
        a.clock.speed = 50.0
        a.clock.realtime = True
        assert not np.array_equal(a.world.chip.conductance, b.world.chip.conductance)
        b.world.import_state(a.world.export_state())
        assert np.array_equal(a.world.chip.conductance, b.world.chip.conductance)
        assert b.clock.now() >= 100.0 and b.clock.realtime and b.clock.speed == 50.0
        with pytest.raises(ValueError, match="optomemristor"):
            other.world.import_state(a.world.export_state())  # another chip: refused, not mixed
    finally:
        a.clock.realtime = False
        for bench in (a, b, other):
            bench.close()


def test_a_bench_with_a_real_instrument_stays_in_the_dashboards_process(bench):
    from dataclasses import replace

    assert can_run_in_process(bench)
    role, instrument = next(iter(bench.config.instruments.items()))
    mixed = replace(bench.config, instruments={**bench.config.instruments, role: replace(instrument, simulated=False)})

    class Mixed:  # the bench as the dashboard sees it, with one instrument on real hardware
        simulated, world, errors, config = True, bench.world, {}, mixed

    assert not can_run_in_process(Mixed())
    with pytest.raises(ValueError, match="simulated bench"):
        ProcessRunHandle(get_procedure("iv-sweep")(), Mixed(), ".")


# -- a whole campaign in a worker --------------------------------------------------------------

CAMPAIGN_PLAN = ("name: night\ndevices: [[0, 0], [0, 1]]\nsteps:\n"
                 "  - procedure: readout\n    params: {reads: 2}\n"
                 "  - procedure: iv-sweep\n    params: {cycles: 2}\n")
CAMPAIGN_TASKS = {"r0c0/rep0/readout", "r0c0/rep0/iv-sweep", "r0c1/rep0/readout", "r0c1/rep0/iv-sweep"}


class TaskEvents(Events):
    def __init__(self) -> None:
        super().__init__()
        self.started: list[tuple[str, int, int, float]] = []
        self.ended: dict[str, str] = {}

    def on_task_started(self, key, index, total, estimate_s, clock_s):
        self.started.append((key, index, total, clock_s))

    def on_task_ended(self, key, record, clock_s):
        self.ended[key] = record["status"]


def campaign_handle(bench, folder, events, *, resume=False, worker_listeners=()):
    from memlab.procedures.process_run import ProcessCampaignHandle

    return ProcessCampaignHandle(CAMPAIGN_PLAN, "<plan>", "night", bench, folder, resume=resume,
                                 listeners=[events], worker_listeners=list(worker_listeners))


def manifest_of(folder):
    import json

    return json.loads((folder / "manifest.json").read_text())


def test_a_campaign_in_the_worker_runs_every_task_and_reports_them_with_the_bench_clock(bench, tmp_path):
    events = TaskEvents()
    clock_before = bench.clock.now()
    handle = campaign_handle(bench, tmp_path / "night", events)
    assert handle.pid != os.getpid()
    assert handle.join(120) == ("completed", "")
    assert {key for key, *_ in events.started} == CAMPAIGN_TASKS
    assert [index for _, index, _, _ in events.started] == [0, 1, 2, 3]
    assert events.ended == dict.fromkeys(CAMPAIGN_TASKS, "completed")
    clocks = [clock for *_, clock in events.started]
    assert clocks == sorted(clocks) and clocks[-1] > clock_before  # the worker's instrument time
    assert handle.clock_s >= clocks[-1]
    assert events.kinds.count("start") == events.kinds.count("finish") == 4  # the runs' own events, too
    manifest = manifest_of(tmp_path / "night")
    assert manifest["status"] == "completed"
    assert bench.clock.now() >= handle.clock_s  # the chip's state and time came back
    assert outputs_off(bench)


@contextlib.contextmanager
def held_at_first_sweep(bench, folder):
    """A worker campaign held at its first I-V sweep's first batch: yields (handle, events). On the
    way out the hold is released and the campaign's end awaited (the worker reads the gate's files
    until then)."""
    gate, handle = Gate("iv"), None
    try:
        events = TaskEvents()
        handle = campaign_handle(bench, folder, events, worker_listeners=[gate])
        assert gate.reached.wait(30)
        yield handle, events
    finally:
        gate.release.set()
        if handle is not None:
            handle.wait_ended(60)
        gate.remove()


def test_aborting_a_worker_campaign_stops_its_run_aborted_and_a_resume_finishes_it(bench, tmp_path):
    with held_at_first_sweep(bench, tmp_path / "night") as (handle, _):
        handle.abort()
    status, error = handle.join(60)  # released, the worker saw the abort at its next event
    assert status == "aborted" and "aborted from the dashboard" in error
    manifest = manifest_of(tmp_path / "night")
    assert manifest["status"] == "aborted"
    assert manifest["attempts"][-1] == {**manifest["attempts"][-1], "task": "r0c0/rep0/iv-sweep", "status": "aborted"}
    assert outputs_off(bench)
    again = campaign_handle(bench, tmp_path / "night", TaskEvents(), resume=True)
    assert again.join(120) == ("completed", "")
    completed = [a["task"] for a in manifest_of(tmp_path / "night")["attempts"] if a["status"] == "completed"]
    assert sorted(completed) == sorted(CAMPAIGN_TASKS)  # every task once


def test_a_worker_campaign_killed_mid_run_fails_loudly_and_a_resume_redoes_the_interrupted_run(bench, tmp_path):
    with held_at_first_sweep(bench, tmp_path / "night") as (handle, events):
        deadline = time.monotonic() + 10
        while events.kinds.count("start") < 2 and time.monotonic() < deadline:  # the sweep's start reached us
            time.sleep(0.01)
        os.kill(handle.pid, signal.SIGKILL)
        status, error = handle.join(30)
    assert status == "failed" and "killed by SIGKILL" in error and "campaign night" in error
    assert events.finish is not None and events.finish[0] == "failed"  # the open run's live view ends
    assert any("every output is off (verified)" in line for line in events.logs)
    assert outputs_off(bench)
    assert manifest_of(tmp_path / "night")["attempts"][-1]["status"] == "running"  # as a killed `memlab campaign`
    again = campaign_handle(bench, tmp_path / "night", TaskEvents(), resume=True)
    assert again.join(120) == ("completed", "")
    attempts = manifest_of(tmp_path / "night")["attempts"]
    assert [a["status"] for a in attempts].count("interrupted") == 1
    assert sorted(a["task"] for a in attempts if a["status"] == "completed") == sorted(CAMPAIGN_TASKS)


def test_a_worker_campaign_the_worker_cannot_start_reports_why(bench, tmp_path):
    from memlab.procedures.plan import PlanError

    (tmp_path / "night").mkdir()
    (tmp_path / "night" / "manifest.json").write_text("{}")  # a folder that holds a campaign already
    handle = campaign_handle(bench, tmp_path / "night", TaskEvents())
    with pytest.raises(PlanError, match="already holds a campaign"):
        handle.join(60)
