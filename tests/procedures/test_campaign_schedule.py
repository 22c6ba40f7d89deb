"""Interleaved campaigns: waits filled by other runs, reads on time, the same figures as one run
after another, kill and resume, one run driving the switch at a time."""

from __future__ import annotations

import dataclasses
import json
import math
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

sys.path.insert(0, str(Path(__file__).parent))
from campaign_helpers import FakeBench  # noqa: E402

from memlab.analysis import metrics as m  # noqa: E402
from memlab.instruments.bench import Bench, read_bench_config  # noqa: E402
from memlab.procedures.campaign import ON_TIME_S, Campaign  # noqa: E402
from memlab.procedures.plan import PlanError, parse_plan  # noqa: E402
from memlab.storage import RunReader  # noqa: E402

SIM_PLAN = """
name: small
schedule: {schedule}
devices: [[0, 0], [1, 2], [2, 1]]
steps:
  - procedure: retention
    params: {{program: target, target_s: 5.0e-6, duration_s: 300, points: 8, max_pulses: 400}}
  - procedure: endurance
    params: {{cycles: 3000, samples_per_decade: 3}}
"""


def _run_sim(tmp_path, schedule):
    config = read_bench_config(None)
    with Bench(config) as bench:
        t0 = bench.clock.now()
        result = Campaign(parse_plan(SIM_PLAN.format(schedule=schedule)), bench, tmp_path / schedule).run()
        return result, bench.clock.now() - t0


def _figures(result):
    """Per device: the programmed conductance, the retention drift exponent (a figure with its
    interval) and the endurance windows."""
    figures = {}
    for a in result.manifest["attempts"]:
        with RunReader(result.out_dir / a["file"]) as r:
            device = tuple(a["device"])
            if a["procedure"] == "retention":
                ret = r.stream("retention")
                figures[device, "programmed"] = float(r.stream("programmed")["conductance"][0])
                figures[device, "drift"] = m.retention(np.asarray(ret["time"]), np.asarray(ret["conductance"])).drift_nu
                figures[device, "late"] = np.asarray(ret["time"]) - np.asarray(ret["planned_time"])
            else:
                e = r.stream("endurance")
                figures[device, "windows"] = np.asarray(e["window"])
    return figures


def test_interleaved_and_sequential_give_the_same_figures_and_reads_stay_on_time(tmp_path):
    scheduled, scheduled_s = _run_sim(tmp_path, "interleaved")
    sequential, sequential_s = _run_sim(tmp_path, "sequential")
    assert scheduled.status == sequential.status == "completed"
    assert scheduled.manifest["schedule"] == "interleaved"
    assert scheduled_s < 0.5 * sequential_s  # three 300 s retentions overlap
    a, b = _figures(scheduled), _figures(sequential)
    for device in [(0, 0), (1, 2), (2, 1)]:
        for fig in (a, b):
            assert abs(fig[device, "programmed"] / 5e-6 - 1) <= 0.03  # both reach the target
            assert fig[device, "late"].min() >= 0  # a read is never early
        da, db = a[device, "drift"], b[device, "drift"]
        spread = math.hypot(da.high - da.low, db.high - db.low)
        assert abs(da.value - db.value) <= spread, (device, da, db)
        # A sampled cycle is one SET and one RESET pulse, and now and then a pulse switches only
        # part of the way (cycle-to-cycle noise: ~6 % of device (0, 0)'s 2.8 V pulses), so single
        # samples differ between the schedules, which draw the programming noise in different
        # orders (on a passive array the half-select disturbs of the other devices' bursts draw
        # from the same stream). The figure, the typical window, agrees; dips stay exceptions.
        wa, wb = a[device, "windows"], b[device, "windows"]
        assert wa.shape == wb.shape and np.median(wa) == pytest.approx(np.median(wb), rel=0.15), (device, wa, wb)
        for w in (wa, wb):
            assert np.mean(w < 0.5 * np.median(w)) <= 0.25, (device, w)
        assert a[device, "late"].max() <= ON_TIME_S, a[device, "late"]
    assert scheduled.manifest["max_wait_delay_s"] <= ON_TIME_S


def test_the_dry_run_shows_the_schedule_and_both_totals(tmp_path):
    with Bench(read_bench_config(None)) as bench:
        text = Campaign(parse_plan(SIM_PLAN.format(schedule="interleaved")), bench, tmp_path).dry_run()
    assert "schedule interleaved" in text and "starts" in text and "ends" in text
    last = text.splitlines()[-1]
    assert "estimated instrument time:" in last and "one run after another:" in last
    planned_h, sequential_h = (float(x.split(" h)")[0]) for x in last.split("(")[1:3])
    assert planned_h < sequential_h


@pytest.mark.parametrize("value", ["parallel", 3, ["sequential"]])
def test_an_unknown_schedule_names_the_key_the_value_and_the_allowed_values(value):
    text = f"name: x\nschedule: {json.dumps(value)}\ndevices: [[0, 0]]\nsteps: [{{procedure: test-probe}}]\n"
    with pytest.raises(PlanError) as info:
        parse_plan(text)
    message = str(info.value)
    assert ":2: schedule:" in message and "'interleaved', 'sequential'" in message
    assert repr(value)[:8] in message


FAKE_PLAN = """
name: waits
devices: [[0, 0], [1, 1], [2, 2], [3, 3]]
steps:
  - procedure: test-wait-probe
    name: wait
    params: {reads: 4, interval_s: 10}
  - procedure: test-probe
    name: probe
    params: {reads: 2}
"""


def test_waits_overlap_and_fillers_keep_plan_order_per_device(tmp_path):
    bench = FakeBench()
    result = Campaign(parse_plan(FAKE_PLAN), bench, tmp_path).run()
    assert result.status == "completed"
    # one run after another: 4 x (40 s + 2 s); interleaved: the four 40 s waits overlap
    assert result.instrument_s < 60
    attempts = result.manifest["attempts"]
    assert len(attempts) == 8
    for device in ("r0c0", "r1c1", "r2c2", "r3c3"):  # a device's probe starts after its wait ended
        steps = [a["step"] for a in attempts if a["task"].startswith(device)]
        assert steps == ["wait", "probe"]
    assert sum(a["step"] == "wait" for a in attempts[:4]) == 4  # the four waits overlap
    for a in result.manifest["attempts"]:
        with RunReader(tmp_path / a["file"]) as r:
            assert r.status == "completed"
            if a["step"] == "wait":
                reads = r.stream("reads")
                late = np.asarray(reads["time"]) - np.asarray(reads["planned_time"])
                assert len(late) == 4 and late.min() >= 0


def test_a_run_failing_while_others_wait_is_isolated(tmp_path):
    bench = FakeBench(broken={(1, 1)})
    result = Campaign(parse_plan(FAKE_PLAN), bench, tmp_path).run()
    assert result.status == "completed_with_failures"
    last = {a["task"]: a["status"] for a in result.manifest["attempts"]}
    assert last["r1c1/rep0/probe"] == "failed"
    assert all(s == "completed" for k, s in last.items() if not k.startswith("r1c1/rep0/probe"))


KILLED_RUN = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    from campaign_helpers import FakeBench
    from memlab.procedures.campaign import Campaign
    from memlab.procedures.plan import parse_plan
    Campaign(parse_plan(open(sys.argv[2]).read()), FakeBench(), sys.argv[3]).run()
""")


def test_sigkill_mid_way_then_resume_completes_every_task_once_and_every_file_opens(tmp_path):
    plan_text = FAKE_PLAN.replace("params: {reads: 4, interval_s: 10}",
                                  "params: {reads: 4, interval_s: 10, wall_s: 0.1}")
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(plan_text)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(Path(__file__).parent),
                             str(plan_file), str(out)], env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # kill while several runs are open at once, one done
            time.sleep(0.05)
            try:
                attempts = json.loads((out / "manifest.json").read_text())["attempts"]
            except (OSError, ValueError):
                continue
            running = [a for a in attempts if a["status"] == "running"]
            if any(a["status"] == "completed" for a in attempts) and len(running) >= 2:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = json.loads((out / "manifest.json").read_text())["attempts"]
    killed = [a for a in before if a["status"] == "running"]
    assert len(killed) >= 2 and any(a["status"] == "completed" for a in before)

    result = Campaign(parse_plan(plan_text), FakeBench(), out, resume=True).run()
    assert result.status == "completed"
    completed = [a for a in result.manifest["attempts"] if a["status"] == "completed"]
    assert sorted(a["task"] for a in completed) == sorted(t.key for t in Campaign(
        parse_plan(plan_text), FakeBench(), tmp_path / "fresh").tasks)  # every task, once
    for a in killed:
        assert any(b["task"] == a["task"] and b["status"] == "interrupted" for b in result.manifest["attempts"])
    for path in out.glob("*.h5"):  # every file opens with plain h5py
        with h5py.File(path, "r") as f:
            assert len(f) > 0
    for a in completed:
        with RunReader(out / a["file"]) as r:
            assert r.status == "completed"
            assert len(r.stream("reads")) == (4 if a["step"] == "wait" else 2)


def test_one_run_at_a_time_drives_the_switch(tmp_path):
    from memlab.procedures.common import Device, RouteConflict, release_routes

    class Ctx:
        def __init__(self, bench, name):
            self.bench = bench
            self.devices_in_use = []
            self.procedure = type("P", (), {"name": name})()

    with Bench(dataclasses.replace(read_bench_config(None))) as bench:
        first, second = Ctx(bench, "retention"), Ctx(bench, "endurance")
        a = Device(first, 0, 0, read_v=0.1, compliance_a=1e-3, nplc=0.01)
        b = Device(second, 1, 1, read_v=0.1, compliance_a=1e-3, nplc=0.01)
        a.route("smu")
        with pytest.raises(RouteConflict, match=r"device \(1,1\).*retention.*\(0,0\)"):
            b.route("pulse")
        assert b._routed is None
        release_routes(first)  # what a paused run does before another takes the instruments
        b.route("pulse")
        with pytest.raises(RouteConflict):
            a.route("smu")


def test_a_stop_ends_the_runs_still_waiting_as_aborted_with_outputs_off(tmp_path):
    plan = parse_plan("""
name: stops
devices: [[0, 0], [1, 1], [2, 2]]
steps:
  - procedure: test-probe
    name: probe
    params: {reads: 1}
    on_failure: stop
  - procedure: test-wait-probe
    name: wait
""")
    bench = FakeBench(broken={(1, 1)})
    result = Campaign(plan, bench, tmp_path).run()
    assert result.status == "failed"
    last = {a["task"]: a for a in result.manifest["attempts"]}
    assert last["r1c1/rep0/probe"]["status"] == "failed"
    waiting = last["r0c0/rep0/wait"]  # it was waiting for its first read when the stop came
    assert waiting["status"] == "aborted" and "campaign stopped" in waiting["error"]
    assert "r2c2/rep0/probe" not in last  # nothing new starts after a stop
    with RunReader(tmp_path / waiting["file"]) as r:
        assert r.status == "aborted"
    assert bench.shutdowns == 3 and not bench.output_on  # every run ended with the safe shutdown
