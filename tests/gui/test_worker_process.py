"""The dashboard runs a simulated bench's procedures in a worker process: the run's batches reach the
plots, the chip's state carries over to the next run and to the manual controls, ALL OUTPUTS OFF
works during a worker run (also when the worker does not stop), and a worker killed with SIGKILL
ends the run failed, said in the log, with the file readable and the window ready for the next run."""

from __future__ import annotations

import os
import signal
import sys

import numpy as np
import pytest
from PySide6 import QtCore

from memlab.gui import controller as controller_module
from memlab.procedures.process_run import ProcessRunHandle
from memlab.storage import RunReader

from .conftest import Gate, outputs_off

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and the fork server are POSIX")


def start(qtbot, window, name: str, values: dict, gate: Gate | None = None) -> ProcessRunHandle:
    panel = window.procedure_panel
    panel.select_procedure(name)
    panel.form.set_values(values)
    assert panel.form.valid, panel.form.error
    window.controller.extra_listeners = [gate] if gate is not None else []
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.controller.handle is not None or not window.controller.running, timeout=20_000)
    handle = window.controller.handle
    assert isinstance(handle, ProcessRunHandle), "a simulated bench's run goes to a worker process"
    assert handle.pid != os.getpid()
    if gate is not None:
        qtbot.waitUntil(gate.reached.is_set, timeout=20_000)
    return handle


def finish(qtbot, window, timeout_ms: int = 30_000) -> tuple[str, str, str]:
    qtbot.waitUntil(lambda: not window.controller.running, timeout=timeout_ms)
    return window.controller.last_result


def test_a_worker_run_plots_live_and_its_chip_state_reaches_the_next_run_and_the_bench(qtbot, window, sim_bench):
    assert window.controller.in_process()
    before = sim_bench.world.chip.conductance.copy()
    t_before = sim_bench.clock.now()
    gate = Gate("pulses")
    start(qtbot, window, "potentiation-depression",
          {"row": 4, "col": 5, "pulses": 40, "repeats": 1, "start": "as-is"}, gate)
    plots = window.live.plots
    qtbot.waitUntil(lambda: plots.points("pulses") > 0, timeout=10_000)  # live, while the worker is held
    assert window.controller.running and not window.bench_panel.manual_box.isEnabled()
    gate.release.set()
    status, error, path = finish(qtbot, window)
    assert status == "completed", error
    with RunReader(path) as reader:
        rows = len(reader.stream("pulses"))
        last_g = float(reader.stream("pulses")["conductance"][-1])
    assert plots.points("pulses") == rows > 0
    after = sim_bench.world.chip.conductance
    assert sim_bench.clock.now() > t_before  # the worker's virtual time came back
    changed = np.argwhere(after != before).tolist()
    assert [4, 5] in changed  # the device the worker pulsed, in the dashboard's copy of the chip
    assert outputs_off(sim_bench)

    # a second worker run reads what the first left: the same conductance the bench holds now
    start(qtbot, window, "readout", {"devices": "4,5", "reads": 1})
    status, error, path = finish(qtbot, window)
    assert status == "completed", error
    with RunReader(path) as reader:
        g = float(reader.stream("reads")["conductance"][0])
    # what the first run last read, what the dashboard's chip holds and what the second run reads agree
    assert after[4, 5] == pytest.approx(last_g, rel=0.1)
    assert g == pytest.approx(after[4, 5], rel=0.1)


def test_all_outputs_off_during_a_worker_run_aborts_it_and_verifies_the_outputs_off(qtbot, window, sim_bench):
    gate = Gate("iv")
    start(qtbot, window, "iv-sweep", {"cycles": 6, "row": 1, "col": 1}, gate)
    qtbot.mouseClick(window.all_off_button, QtCore.Qt.MouseButton.LeftButton)
    gate.release.set()  # the worker sees the abort at its next step
    status, error, path = finish(qtbot, window)
    assert status == "aborted", error
    qtbot.waitUntil(lambda: "all outputs off: every output is off" in window.log_panel.text(), timeout=10_000)
    assert RunReader(path).status == "aborted"
    assert outputs_off(sim_bench)
    assert window.controller.queue_held


def test_all_outputs_off_kills_a_worker_that_does_not_stop(qtbot, window, sim_bench, monkeypatch):
    monkeypatch.setattr(controller_module, "OUTPUTS_OFF_GRACE_S", 1.0)
    gate = Gate("iv")  # never released: the worker does not get to its next abort check
    handle = start(qtbot, window, "iv-sweep", {"cycles": 6, "row": 1, "col": 1}, gate)
    qtbot.mouseClick(window.all_off_button, QtCore.Qt.MouseButton.LeftButton)
    status, error, path = finish(qtbot, window, timeout_ms=20_000)
    assert status == "failed" and "killed" in error
    assert not handle.alive
    log = window.log_panel.text()
    assert "killing its worker process" in log
    qtbot.waitUntil(lambda: "all outputs off: every output is off" in window.log_panel.text(), timeout=10_000)
    assert outputs_off(sim_bench)
    with RunReader(path) as reader:
        assert reader.status == "interrupted"


def test_a_worker_killed_from_outside_fails_the_run_loudly_and_the_window_recovers(qtbot, window, sim_bench):
    gate = Gate("iv")
    handle = start(qtbot, window, "iv-sweep", {"cycles": 6, "row": 2, "col": 2}, gate)
    qtbot.waitUntil(lambda: window.live.plots.points("iv") > 0, timeout=10_000)
    os.kill(handle.pid, signal.SIGKILL)
    status, error, path = finish(qtbot, window)
    assert status == "failed" and "killed by SIGKILL" in error
    log = window.log_panel.text()
    assert "ended before the run did" in log and "every output is off (verified)" in log
    assert "failed" in window.live.title.text()
    with RunReader(path) as reader:  # readable, flagged as interrupted by its dead writer
        assert reader.status == "interrupted"
    assert outputs_off(sim_bench)
    assert window.procedure_panel.start_button.isEnabled() and window.bench_panel.manual_box.isEnabled()

    gate.release.set()
    start(qtbot, window, "iv-sweep", {"cycles": 1, "row": 2, "col": 2})
    status, error, _ = finish(qtbot, window)
    assert status == "completed", error


def test_closing_with_a_stuck_worker_kills_it_and_switches_the_bench_off(qtbot, make_window, sim_bench, monkeypatch):
    monkeypatch.setattr(controller_module, "OUTPUTS_OFF_GRACE_S", 1.0)
    window = make_window(sim_bench)
    gate = Gate("iv")  # never released
    handle = start(qtbot, window, "iv-sweep", {"cycles": 6, "row": 1, "col": 1}, gate)
    window.confirm = lambda title, text: True
    window.close()
    assert not window.isVisible() and not handle.alive
    status, error, path = window.controller.last_result
    assert status == "failed" and "killed" in error
    assert outputs_off(sim_bench)


def test_a_real_bench_keeps_runs_in_a_thread(qtbot, window, sim_bench, monkeypatch):
    from memlab.procedures.runner import RunHandle

    monkeypatch.setattr(type(sim_bench), "simulated", property(lambda self: False))
    assert not window.controller.in_process()
    window.procedure_panel.select_procedure("clock-check")
    window.procedure_panel.form.set_values({"samples": 200})
    qtbot.mouseClick(window.procedure_panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.controller.handle is not None or not window.controller.running, timeout=10_000)
    assert window.controller.handle is None or isinstance(window.controller.handle, RunHandle)
    assert finish(qtbot, window)[0] == "completed"


def test_a_dashboard_script_without_a_main_guard_is_not_run_again_in_its_workers(tmp_path):
    """multiprocessing runs the parent's main script again in each worker unless told not to: a
    dashboard scripted without ``if __name__ == "__main__"`` would open a second dashboard there."""
    import subprocess
    import textwrap

    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent("""
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        with open(sys.argv[1], "a") as seen:
            seen.write(f"{os.getpid()}\\n")
        from PySide6 import QtCore, QtWidgets
        app = QtWidgets.QApplication([])
        from memlab.gui.main_window import MainWindow
        from memlab.instruments.bench import load_bench
        from memlab.procedures import get_procedure
        settings = QtCore.QSettings(sys.argv[3], QtCore.QSettings.Format.IniFormat)
        window = MainWindow(bench=load_bench(None), out_dir=sys.argv[2], settings=settings, connect=False)
        window.controller.start(get_procedure("clock-check")(samples=100))
        deadline = QtCore.QDeadlineTimer(60_000)
        while window.controller.running and not deadline.hasExpired():
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
        print(window.controller.last_result[0], type(window.controller.handle).__name__)
        window.confirm = lambda title, text: True
        window.close()
    """))
    seen = tmp_path / "seen.txt"
    done = subprocess.run([sys.executable, str(script), str(seen), str(tmp_path / "runs"), str(tmp_path / "s.ini")],
                          env=dict(os.environ, QT_QPA_PLATFORM="offscreen"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[0] == "completed"
    assert len(seen.read_text().split()) == 1  # the script body ran in the dashboard's process only
    [run_file] = (tmp_path / "runs").glob("*.h5")
    assert RunReader(run_file).status == "completed"


def test_a_procedure_defined_in_the_main_script_runs_in_a_thread_with_a_log_line(tmp_path):
    """Workers do not run the main script, so they cannot load a procedure class defined there:
    auto mode runs it in a thread of the dashboard and says why; process mode refuses it."""
    import subprocess
    import textwrap

    script = tmp_path / "own_procedure.py"
    script.write_text(textwrap.dedent("""
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6 import QtCore, QtWidgets
        app = QtWidgets.QApplication([])
        from memlab.gui.main_window import MainWindow
        from memlab.instruments.bench import load_bench
        from memlab.procedures.clock_check import ClockCheck

        class ScriptCheck(ClockCheck):  # defined here, in the main script: no module to import
            name = "script-check"

        def run(mode):
            settings = QtCore.QSettings(sys.argv[2] + mode, QtCore.QSettings.Format.IniFormat)
            window = MainWindow(bench=load_bench(None), out_dir=sys.argv[1], settings=settings, connect=False,
                                run_mode=mode)
            said = []
            window.controller.message.connect(lambda level, source, text: said.append(text))
            window.controller.start(ScriptCheck(samples=100))
            deadline = QtCore.QDeadlineTimer(60_000)
            while window.controller.running and not deadline.hasExpired():
                app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
            print(mode, window.controller.last_result[0], any("main script" in t for t in said))
            window.confirm = lambda title, text: True
            window.close()

        if __name__ == "__main__":
            run("auto")
            run("process")
    """))
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "runs"), str(tmp_path / "s.ini")],
                          env=dict(os.environ, QT_QPA_PLATFORM="offscreen"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line.split() for line in done.stdout.splitlines() if line.startswith(("auto", "process"))]
    assert lines == [["auto", "completed", "True"], ["process", "failed", "True"]], done.stdout
    [run_file] = (tmp_path / "runs").glob("*.h5")  # the refused run wrote nothing
    assert RunReader(run_file).status == "completed"
