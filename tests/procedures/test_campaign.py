"""Campaign plans and runs: checks before running, isolation of failures, conditions, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from campaign_helpers import FakeBench, Probe  # noqa: E402

from memlab.procedures.campaign import Campaign  # noqa: E402
from memlab.procedures.plan import PlanError, parse_plan  # noqa: E402
from memlab.storage import RunReader  # noqa: E402

PLAN = """
name: night
devices:
  - [0, 0]
  - {rows: [1, 2], cols: [3, 3]}
steps:
  - procedure: test-probe
    name: first
    params: {reads: 2}
  - procedure: test-probe
    name: second
    only_if: {step: first, column: conductance, above: 1.5e-6}
"""


def test_plan_errors_name_line_and_key():
    bad = PLAN.replace("params: {reads: 2}", "params: {reads: 500}")
    with pytest.raises(PlanError, match=r"<plan>:9: steps\.0\.params\.reads: parameter reads=500"):
        parse_plan(bad)
    with pytest.raises(PlanError, match=r":7: steps\.0\.procedure: unknown procedure 'nope'"):
        parse_plan(PLAN.replace("procedure: test-probe\n    name: first", "procedure: nope\n    name: first"))
    with pytest.raises(PlanError, match=r":2: nmae: unknown key"):
        parse_plan(PLAN.replace("name: night", "nmae: night"))
    with pytest.raises(PlanError, match=r"on_failure: 'later' is not allowed"):
        parse_plan(PLAN.replace("name: second", "name: second\n    on_failure: later"))
    with pytest.raises(PlanError, match=r"only_if\.step: 'third' is not an earlier step"):
        parse_plan(PLAN.replace("step: first,", "step: third,"))
    with pytest.raises(PlanError, match=r":4: not valid YAML"):
        parse_plan("name: x\ndevices:\n  - [0, 0\nsteps: []\n")


def test_devices_off_the_chip_are_refused_before_anything_runs(tmp_path):
    plan = parse_plan(PLAN.replace("[0, 0]", "[0, 9]"))
    with pytest.raises(PlanError, match=r"device \(0, 9\) is off the chip \(4 x 4"):
        Campaign(plan, FakeBench(), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_failures_are_isolated_and_conditions_apply(tmp_path):
    bench = FakeBench(broken={(2, 3)})
    result = Campaign(parse_plan(PLAN), bench, tmp_path).run()
    assert result.status == "completed_with_failures"
    status = {a["task"]: a["status"] for a in result.manifest["attempts"]}
    assert status["r0c0/rep0/first"] == "completed"
    assert status["r0c0/rep0/second"] == "skipped"      # 1 uS is not above 1.5 uS
    assert status["r1c3/rep0/second"] == "completed"    # 2 uS is
    assert status["r2c3/rep0/first"] == "failed"
    assert status["r2c3/rep0/second"] == "skipped"      # skip_device after the failure
    failed = next(a for a in result.manifest["attempts"] if a["status"] == "failed")
    assert "shorted" in failed["error"]
    with RunReader(tmp_path / failed["file"]) as r:
        assert r.status == "failed"
    assert not bench.output_on
    assert "(2,3)" in result.summary and "FAILED" in result.summary
    assert (tmp_path / "campaign.log").read_text().count("shorted") >= 1


def test_retries_and_stop(tmp_path):
    Probe.attempts.clear()
    plan = parse_plan(PLAN.replace("params: {reads: 2}", "params: {reads: 2, flaky: 1}\n    retries: 1"))
    result = Campaign(plan, FakeBench(), tmp_path / "a").run()
    firsts = [a for a in result.manifest["attempts"] if a["step"] == "first"]
    assert [a["status"] for a in firsts] == ["failed", "completed"] * 3
    Probe.attempts.clear()
    plan = parse_plan(PLAN.replace("params: {reads: 2}", "params: {reads: 2, flaky: 1}\n    on_failure: stop"))
    result = Campaign(plan, FakeBench(), tmp_path / "b").run()
    assert result.status == "failed" and len(result.manifest["attempts"]) == 1


def test_notify_and_refuse_existing_campaign_without_resume(tmp_path):
    marker = tmp_path / "notified"
    plan = parse_plan(PLAN + f"notify: echo $MEMLAB_CAMPAIGN_STATUS > {marker}\n")
    Campaign(plan, FakeBench(), tmp_path / "out").run()
    assert marker.read_text().strip() == "completed"
    with pytest.raises(PlanError, match="--resume"):
        Campaign(parse_plan(PLAN), FakeBench(), tmp_path / "out").run()


KILLED_RUN = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    from campaign_helpers import FakeBench
    from memlab.procedures.campaign import Campaign
    from memlab.procedures.plan import parse_plan
    Campaign(parse_plan(open(sys.argv[2]).read()), FakeBench(), sys.argv[3]).run()
""")


def test_sigkill_then_resume_finishes_without_duplicates(tmp_path):
    plan_text = PLAN.replace("params: {reads: 2}", "params: {reads: 20, wall_s: 0.05}")
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(plan_text)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(Path(__file__).parent),
                             str(plan_file), str(out)], env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # kill once one run completed and the next is running
            time.sleep(0.1)
            try:
                attempts = json.loads((out / "manifest.json").read_text())["attempts"]
            except (OSError, ValueError):
                continue
            if (len(attempts) >= 3 and attempts[-1]["status"] == "running"
                    and (out / attempts[-1]["file"]).exists()):
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = json.loads((out / "manifest.json").read_text())["attempts"]
    completed_before = {a["task"]: a["file"] for a in before if a["status"] == "completed"}
    killed = [a for a in before if a["status"] == "running"]
    assert completed_before and len(killed) == 1

    result = Campaign(parse_plan(plan_text), FakeBench(), out, resume=True).run()
    assert result.status == "completed"
    attempts = result.manifest["attempts"]
    completed = [a for a in attempts if a["status"] == "completed"]
    assert len(completed) == len({a["task"] for a in completed})  # each completed once
    for task, file in completed_before.items():  # earlier runs kept, not redone
        assert [a["file"] for a in completed if a["task"] == task] == [file]
    assert any(a["task"] == killed[0]["task"] and a["status"] == "interrupted" for a in attempts)
    assert killed[0]["task"] in {a["task"] for a in completed}  # the killed run was redone
    with RunReader(out / killed[0]["file"]) as r:
        assert r.status == "interrupted"
    files = sorted(p.name for p in out.glob("*.h5"))
    assert len(files) == len(set(files))
    for a in completed:
        with RunReader(out / a["file"]) as r:
            assert r.status == "completed"
            assert len(r.stream("reads")) == (20 if a["step"] == "first" else 3)
