"""A campaign on the simulated bench survives a shorted device and an instrument fault."""

from __future__ import annotations

from memlab.instruments.bench import load_bench
from memlab.instruments.sim.base import Faults
from memlab.procedures.campaign import Campaign, CampaignListener
from memlab.procedures.plan import parse_plan
from memlab.storage import RunReader

PLAN = """
name: faults
devices: [[0, 0], [1, 1], [2, 2], [3, 3]]
steps:
  - procedure: readout
    name: read
    params: {reads: 5}
  - procedure: switching
    params: {cycles: 2}
"""


class FaultOnDevice(CampaignListener):
    """Makes the SMU stop answering during the run on one device, and restores it after."""

    def __init__(self, bench, device):
        self.bench, self.device = bench, device

    def on_task_start(self, task, index, total, estimate_s):
        if task.device == self.device and task.step.name == "switching":
            self.bench.twins["smu"].faults = Faults(disconnect_after=3)

    def on_task_end(self, task, record):
        self.bench.twins["smu"].faults = Faults()


def test_shorted_device_and_instrument_fault_are_isolated(tmp_path):
    with load_bench(None) as bench:
        bench.world.chip.set_fault(1, 1, "short")
        campaign = Campaign(parse_plan(PLAN), bench, tmp_path, listeners=[FaultOnDevice(bench, (2, 2))])
        result = campaign.run()
        assert not bench.smu.output_enabled() and not bench.pulser.output_enabled()
    status = {a["task"]: (a["status"], a["error"]) for a in result.manifest["attempts"]}
    assert status["r1c1/rep0/read"][0] == "failed" and "shorted" in status["r1c1/rep0/read"][1]
    assert status["r1c1/rep0/switching"][0] == "skipped"
    assert status["r2c2/rep0/switching"][0] == "failed"
    assert "smu" in status["r2c2/rep0/switching"][1].lower() or "connection" in status["r2c2/rep0/switching"][1].lower()
    for device in ("r0c0", "r3c3"):  # the others went on
        assert status[f"{device}/rep0/read"][0] == "completed"
        assert status[f"{device}/rep0/switching"][0] == "completed"
    assert result.status == "completed_with_failures"
    # the lost SMU could not be verified off: recorded, and the campaign went on only because
    # every output read back off once the SMU answered again
    assert "could not verify output off" in failed_record(result)["safety_failure"]
    assert result.safety_failures and result.manifest["safety_failures"] == result.safety_failures
    failed = next(a for a in result.manifest["attempts"] if a["task"] == "r2c2/rep0/switching")
    with RunReader(tmp_path / failed["file"]) as r:
        assert r.status == "failed"


def failed_record(result):
    return next(a for a in result.manifest["attempts"] if a["task"] == "r2c2/rep0/switching")


def test_a_safety_failure_that_persists_stops_the_campaign_and_reaches_notify(tmp_path):
    plan = parse_plan(PLAN.replace("name: faults", f"name: faults\nnotify: env > {tmp_path / 'env.txt'}"))
    with load_bench(None) as bench:
        campaign = Campaign(plan, bench, tmp_path / "out")
        bench.twins["smu"].faults = Faults(timeout_after=3)  # silent from the first run on
        result = campaign.run()
        bench.twins["smu"].faults = Faults()
    assert result.status == "failed" and not result.ok
    assert len(result.manifest["attempts"]) == 1  # nothing ran after it
    assert "smu" in result.manifest["safety_failures"][0]
    assert "could not verify output off" in result.manifest["error"]
    env = (tmp_path / "env.txt").read_text()
    assert "MEMLAB_CAMPAIGN_STATUS=failed" in env
    assert "MEMLAB_CAMPAIGN_SAFETY_FAILURE=r0c0/rep0/read: SAFETY FAILURE: smu" in env


def test_all_formed_takes_the_devices_an_earlier_campaign_formed(tmp_path):
    import dataclasses

    from memlab.instruments.bench import Bench, read_bench_config
    from memlab.procedures.plan import PlanError

    config = read_bench_config(None)
    config = dataclasses.replace(config, chip=dataclasses.replace(config.chip, rows=4, cols=4, formed=False))
    form = parse_plan("name: form\ndevices: [[0, 0], [0, 1], [2, 2]]\nsteps:\n"
                      "  - procedure: forming\n    params: {ceiling_v: 4.5}\n")
    later = parse_plan("name: later\ndevices: [all_formed]\nsteps:\n  - procedure: readout\n")
    with Bench(config) as bench:
        try:
            Campaign(later, bench, tmp_path / "later")
        except PlanError as exc:
            assert "all_formed found no device" in str(exc)
        else:
            raise AssertionError("all_formed with no forming runs must be refused")
        bench.world.chip.set_fault(2, 2, "open")  # this one cannot form
        Campaign(form, bench, tmp_path / "form").run()
        campaign = Campaign(later, bench, tmp_path / "later")
        assert campaign.plan.devices == [(0, 0), (0, 1)]
        assert campaign.run().status == "completed"
