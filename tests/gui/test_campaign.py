"""Campaigns in the dashboard: built from the forms and the chip map, saved, run (in a worker
process), the dashboard killed in the middle of a run, resumed from a restarted dashboard, every
task done once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from PySide6 import QtCore

from memlab.procedures.campaign import MANIFEST
from memlab.procedures.plan import load_plan
from memlab.storage import RunReader

# Builds the campaign in a dashboard of its own process, runs it (in a worker process), and kills
# the dashboard (SIGKILL: no clean-up at all) in the middle of the second device's I-V sweep.
BUILD_RUN_AND_DIE = textwrap.dedent("""
    import os, signal, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from pathlib import Path
    from PySide6 import QtCore, QtWidgets
    app = QtWidgets.QApplication([])
    from memlab.gui.main_window import MainWindow
    from memlab.instruments.bench import load_bench
    sys.path.insert(0, sys.argv[4])
    from tests.gui.gates import KillAt

    settings_path, runs, plan_path = sys.argv[1:4]
    settings = QtCore.QSettings(settings_path, QtCore.QSettings.Format.IniFormat)
    window = MainWindow(bench=load_bench(None), out_dir=runs, settings=settings, connect=False, operator="test")
    window.resize(1366, 768)
    window.show()
    panel, campaign = window.procedure_panel, window.campaign_panel
    campaign.new_plan()
    panel.select_procedure("readout")
    panel.form.set_values({"reads": 2})
    campaign.add_current_step()
    panel.select_procedure("iv-sweep")
    panel.form.set_values({"cycles": 1})
    campaign.add_current_step()
    window.chip_map.select([(0, 0), (0, 1), (1, 0)])
    campaign.use_selected_devices()
    campaign.repeat.setValue(1)
    campaign.save_plan(plan_path)
    assert campaign.check() is not None, campaign.message.toPlainText()

    # runs in the campaign's worker process, and kills this one
    window.controller.extra_listeners = [KillAt(os.getpid(), "iv-sweep", "iv", nth=2)]
    campaign.run()
    assert campaign.runner is not None and campaign.runner.pid not in (None, os.getpid())
    settings.sync()
    QtCore.QTimer.singleShot(60_000, app.quit)  # never reached: killed first
    app.exec()
    sys.exit(3)
""")


def test_a_campaign_built_in_the_gui_survives_a_kill_and_resumes_after_a_restart(qtbot, make_window, sim_bench,
                                                                                 tmp_path, settings_file):
    """The dashboard is killed mid-run: its worker, left unwatched, aborts the campaign cleanly
    (outputs off, run file and manifest final); a restarted dashboard resumes it."""
    runs, plan_path = tmp_path / "runs", tmp_path / "night.yaml"
    script = tmp_path / "build_and_die.py"
    script.write_text(BUILD_RUN_AND_DIE)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    root = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([sys.executable, str(script), str(settings_file), str(runs), str(plan_path), root],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr[-3000:]  # killed, as planned
    assert "the dashboard that started it has ended: aborting" in done.stderr

    # the saved plan is the one built: two steps from the forms, the chip-map devices
    plan = load_plan(plan_path)
    assert [s.procedure.name for s in plan.steps] == ["readout", "iv-sweep"]
    assert plan.steps[0].params == {"reads": 2} and plan.steps[1].params == {"cycles": 1}
    assert yaml.safe_load(plan_path.read_text())["devices"] == [[0, 0], [0, 1], [1, 0]]
    folder = runs / plan.name
    deadline = time.monotonic() + 30  # the worker outlives the dashboard by its clean-up
    while json.loads((folder / MANIFEST).read_text())["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    stopped = json.loads((folder / MANIFEST).read_text())
    assert stopped["status"] == "aborted" and stopped["attempts"][-1]["status"] == "aborted"
    assert stopped["attempts"][-1]["task"] == "r0c1/rep0/iv-sweep"
    assert "the dashboard that started the campaign ended" in stopped["attempts"][-1]["error"]
    with RunReader(folder / stopped["attempts"][-1]["file"]) as reader:
        assert reader.status == "aborted"

    # a restarted dashboard shows the campaign, its grid with the aborted run, and resumes it
    window = make_window(sim_bench)
    panel = window.campaign_panel
    assert "Resume" in panel.state.text()
    assert panel.resume_button.isEnabled()
    assert panel.grid.rowCount() == 3 and panel.grid.columnCount() == 2
    status = QtCore.Qt.ItemDataRole.UserRole
    assert panel.grid.item(1, 1).data(status) == "aborted" and panel.grid.item(1, 1).text() == "aborted"
    assert panel.grid.item(0, 0).data(status) == "completed" and panel.grid.item(0, 0).text() == "ok"
    qtbot.mouseClick(panel.resume_button, QtCore.Qt.MouseButton.LeftButton)
    assert window.controller.running
    qtbot.waitUntil(lambda: panel.runner is None, timeout=60_000)
    assert not window.controller.running

    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["status"] == "completed", panel.message.toPlainText()
    completed = Counter(a["task"] for a in manifest["attempts"] if a["status"] == "completed")
    assert set(completed) == set(manifest["tasks"]) and set(completed.values()) == {1}  # every task once
    assert [a["status"] for a in manifest["attempts"]].count("aborted") == 1
    states = {panel.grid.item(r, c).data(QtCore.Qt.ItemDataRole.UserRole) for r in range(3) for c in range(2)}
    assert states == {"completed"}
    assert panel.time_left.text() == "Time left: none"


def test_a_campaigns_forming_outcome_marks_the_chip_map(qtbot, make_window, sim_bench):
    window = make_window(sim_bench)
    panel = window.campaign_panel
    panel._task_ended("r2c3/rep0/form", {"procedure": "forming", "device": [2, 3], "status": "failed"})
    panel._task_ended("r1c1/rep0/form", {"procedure": "forming", "device": [1, 1], "status": "completed"})
    panel._task_ended("r1c1/rep0/iv", {"procedure": "iv-sweep", "device": [4, 4], "status": "failed"})
    assert window.chip_map.marks == {(2, 3): "failed"}


def test_checking_a_plan_shows_the_dry_run_estimate_and_refuses_a_bad_plan_with_the_reason(qtbot, make_window,
                                                                                          sim_bench):
    window = make_window(sim_bench)
    panel = window.campaign_panel
    panel.set_plan_text("name: t\ndevices: [[0, 0], [1, 1]]\nsteps:\n  - procedure: readout\n    params: {reads: 2}\n")
    assert panel.check() is not None
    assert panel.time_left.text().startswith("Estimated instrument time:")
    assert "2 devices x 1 repeat(s) x 1 steps = 2 runs" in panel.state.text()
    assert panel.grid.rowCount() == 2 and panel.grid.columnCount() == 1
    panel.set_plan_text("name: t\ndevices: [[0, 99]]\nsteps:\n  - procedure: readout\n")
    assert panel.check() is None
    assert "off the chip" in panel.message.toPlainText().splitlines()[-1]


def test_an_interleaved_campaign_counts_its_time_left_as_scheduled_not_as_a_sum(qtbot, make_window, sim_bench,
                                                                              tmp_path):
    """Four one-hour retentions overlap: what is left mid-way is under the one hour the schedule
    plans, not the four hours their estimates add up to."""
    from .gates import Gate

    window = make_window(sim_bench)
    panel = window.campaign_panel
    panel.set_plan_text("name: overlap\ndevices: [[0, 0], [0, 1], [1, 0], [1, 1]]\nsteps:\n"
                        "  - procedure: retention\n    params: {duration_s: 3600, points: 8, program: as-is}\n"
                        "  - procedure: readout\n    params: {reads: 2}\n")
    panel.out_edit.setText(str(tmp_path / "overlap"))
    campaign = panel.check()
    assert campaign is not None and campaign.scheduled, panel.message.toPlainText()
    planned, summed = campaign.planned_total_s(), sum(campaign.estimate_s(t) for t in campaign.tasks)
    assert planned < 0.4 * summed  # the premise: the runs overlap
    gate = Gate("retention")  # held at a device's first retention read, the others under way
    window.controller.extra_listeners = [gate]
    panel.run()
    qtbot.waitUntil(gate.reached.is_set, timeout=30_000)
    panel._update_time_left()
    left = panel.instrument_time_left_s()
    assert 0.5 * 3600 < left <= planned
    assert "of virtual instrument time" in panel.time_left.text()
    gate.release.set()
    qtbot.waitUntil(lambda: panel.runner is None, timeout=120_000)
    window.controller.extra_listeners = []
    gate.remove()
    assert panel.time_left.text() == "Time left: none"


TWO_DEVICE_PLAN = ("name: {name}\ndevices: [[0, 0], [0, 1]]\nsteps:\n"
                   "  - procedure: iv-sweep\n    params: {{cycles: 4}}\n")


@pytest.mark.parametrize("run_mode", ["auto", "thread"])
def test_abort_stops_a_campaign_in_its_worker_or_thread_with_the_run_recorded_aborted(qtbot, make_window, sim_bench,
                                                                                      tmp_path, run_mode):
    from memlab.gui.campaign_panel import ProcessCampaignRunner

    from .gates import Gate

    window = make_window(sim_bench, run_mode=run_mode)
    panel = window.campaign_panel
    panel.set_plan_text(TWO_DEVICE_PLAN.format(name=f"abort-{run_mode}"))
    panel.out_edit.setText(str(tmp_path / run_mode))
    gate = Gate("iv")
    window.controller.extra_listeners = [gate]
    panel.run()
    assert isinstance(panel.runner, ProcessCampaignRunner) == (run_mode == "auto")
    assert ("worker process" in panel.message.toPlainText()) == (run_mode == "auto")
    qtbot.waitUntil(gate.reached.is_set, timeout=30_000)
    qtbot.waitUntil(lambda: panel.grid.item(0, 0).data(QtCore.Qt.ItemDataRole.UserRole) == "running", timeout=10_000)
    panel.abort()
    gate.release.set()
    qtbot.waitUntil(lambda: panel.runner is None, timeout=30_000)
    assert not window.controller.running
    assert panel.state.text() == f"Campaign abort-{run_mode}: aborted (aborted from the dashboard)"
    assert panel.grid.item(0, 0).data(QtCore.Qt.ItemDataRole.UserRole) == "aborted"
    manifest = json.loads((tmp_path / run_mode / MANIFEST).read_text())
    assert manifest["status"] == "aborted" and manifest["attempts"][-1]["status"] == "aborted"
    assert manifest["error"] == manifest["attempts"][-1]["error"] == "aborted from the dashboard"  # not "Ctrl-C"
    with RunReader(tmp_path / run_mode / manifest["attempts"][-1]["file"]) as reader:
        assert reader.status == "aborted" and reader.error == "aborted from the dashboard"
    assert panel.resume_button.isEnabled()
    twins = sim_bench.twins
    assert not twins["smu"].state["output"] and not twins["laser"].state["ld_on"]


def test_closing_the_dashboard_mid_campaign_stops_its_worker_with_the_manifest_final(qtbot, make_window, sim_bench,
                                                                                     tmp_path):
    from .gates import Gate

    window = make_window(sim_bench)
    panel = window.campaign_panel
    panel.set_plan_text(TWO_DEVICE_PLAN.format(name="closing"))
    panel.out_edit.setText(str(tmp_path / "closing"))
    gate = Gate("iv")
    window.controller.extra_listeners = [gate]
    panel.run()
    qtbot.waitUntil(gate.reached.is_set, timeout=30_000)
    handle = panel.runner.handle
    gate.release.set()
    problems = window.controller.shutdown(timeout_s=20)
    assert problems == []
    assert handle.done and not handle.alive and handle.result[0] == "aborted"
    manifest = json.loads((tmp_path / "closing" / MANIFEST).read_text())
    assert manifest["status"] == "aborted"


def test_on_a_virtual_clock_the_time_left_counts_wall_time_per_run_not_instrument_time(qtbot, make_window, sim_bench):
    """A day of retention takes seconds on the simulated bench: the wall-time estimate comes from the
    runs' pace so far, and the instrument time is said as virtual."""
    window = make_window(sim_bench)
    panel = window.campaign_panel
    panel.set_plan_text("name: t\ndevices: [[0, 0], [1, 1]]\nsteps:\n  - procedure: readout\n    params: {reads: 2}\n")
    assert panel.check() is not None
    panel.runner = object()  # as if running: two runs took 10 s of wall time
    panel._ended_here, panel._started_wall = 2, time.monotonic() - 10.0
    panel._virtual_time_left(86_400.0, 6)
    text = panel.time_left.text()
    panel.runner = None
    assert text.startswith("Time left: about 30") and "6 runs" in text and "24.0 h of virtual instrument time" in text
