"""The dashboard driven as a user would, offscreen, on the real simulated bench."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from memlab.gui.controller import QueuedRun
from memlab.gui.run_browser import COLUMNS
from memlab.gui.units import format_quantity
from memlab.storage import RunReader

from .conftest import Gate, outputs_off

# (procedure, form values, stream its plot shows). Each is slow enough to be caught mid-run by
# the gate; iv-sweep is the acceptance case, clock-check needs no instrument at all.
LIVE_RUNS = [
    pytest.param("iv-sweep", {"cycles": 6, "step_v": 0.05, "row": 2, "col": 3}, "iv", id="iv-sweep"),
    pytest.param("clock-check", {"samples": 200_000, "interval_s": 0.001}, "signal", id="clock-check"),
]


def wait_idle(qtbot, window, timeout_ms: int = 20_000) -> None:
    qtbot.waitUntil(lambda: not window.controller.running, timeout=timeout_ms)


def start_gated(qtbot, window, name: str, values: dict, stream: str) -> Gate:
    panel = window.procedure_panel
    panel.select_procedure(name)
    panel.form.set_values(values)
    assert panel.form.valid, panel.form.error
    gate = Gate(stream)
    window.controller.extra_listeners = [gate]
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    assert window.controller.running
    # the event loop must turn meanwhile: the run is launched from it, and its batches reach it
    qtbot.waitUntil(gate.reached.is_set, timeout=20_000)
    return gate


@pytest.mark.parametrize("name, values, stream", LIVE_RUNS)
def test_run_plots_live_points_then_abort_leaves_outputs_off_and_file_aborted(qtbot, window, sim_bench,
                                                                               name, values, stream):
    gate = start_gated(qtbot, window, name, values, stream)
    plots = window.live.plots
    # the batch reaches the plot through the listener's Qt signal while the worker is held
    qtbot.waitUntil(lambda: plots.points(stream) > 0, timeout=10_000)
    qtbot.waitUntil(lambda: any(len(c) for p in plots.panes for c in p.curves.values()
                                if p.hint.stream == stream), timeout=5_000)
    pane = next(p for p in plots.panes if p.hint.stream == stream)
    qtbot.waitUntil(lambda: any(c.item.getData()[0] is not None for c in pane.curves.values()), timeout=5_000)
    assert window.procedure_panel.abort_button.isEnabled()
    assert not window.procedure_panel.start_button.isEnabled()
    assert not window.bench_panel.manual_box.isEnabled()  # the run owns the bench

    qtbot.mouseClick(window.procedure_panel.abort_button, QtCore.Qt.MouseButton.LeftButton)
    gate.release.set()
    wait_idle(qtbot, window)

    status, error, path = window.controller.last_result
    assert status == "aborted", error
    with RunReader(path) as reader:
        assert reader.status == "aborted"
        assert len(reader.stream(stream)) >= plots.points(stream) > 0
    assert outputs_off(sim_bench)
    assert "aborted" in window.live.title.text()
    assert window.procedure_panel.start_button.isEnabled()


def test_out_of_bounds_parameter_blocks_start_and_flags_the_field(qtbot, window):
    panel = window.procedure_panel
    panel.select_procedure("iv-sweep")
    field = panel.form.fields["v_max"]
    assert panel.start_button.isEnabled()

    field.setText("25 V")  # the declared maximum is 20 V
    assert not panel.start_button.isEnabled()
    assert field.property("invalid") is True
    assert "v_max" in field.toolTip() and "20" in field.toolTip()
    # the error shows under its field and beside the disabled Start, not at the foot of the form
    assert panel.form.field_errors["v_max"].isVisibleTo(panel.form)
    assert "v_max" in panel.form.field_errors["v_max"].text()
    assert "v_max" in panel.start_reason.full_text() and "20" in panel.start_reason.toolTip()
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    assert not window.controller.running

    field.setText("1500 mV")  # SI prefixes are understood
    assert field.property("invalid") is False and field.value() == pytest.approx(1.5)
    assert panel.start_button.isEnabled()

    field.setText("1.5 x")
    assert field.property("invalid") is True and "unknown unit" in field.toolTip()

    # a check across parameters flags the field it names
    field.setText("10")
    panel.form.fields["v_min"].setText("-10")
    panel.form.fields["step_v"].setText("0.1 mV")  # each bound alone is fine; 400000 points per loop are not
    assert not panel.form.valid and panel.form.fields["step_v"].property("invalid") is True
    assert not panel.start_button.isEnabled()


def test_a_value_beyond_the_bench_limits_is_flagged_before_start(qtbot, window, tmp_path):
    panel = window.procedure_panel
    panel.select_procedure("iv-sweep")
    panel.form.set_values({"v_max": 15.0})  # allowed by the procedure, beyond the bench's 10 V
    assert not panel.start_button.isEnabled()
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    assert not window.controller.running
    assert panel.form.fields["v_max"].property("invalid") is True
    assert "max_voltage_v" in panel.form.field_errors["v_max"].text()
    assert "max_voltage_v" in panel.start_reason.full_text()
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").glob("*.h5"))


def test_chip_map_selection_sets_the_runs_devices(qtbot, window):
    chip, panel = window.chip_map, window.procedure_panel
    assert (chip.rows, chip.cols) == (16, 16)
    viewport = chip.view.viewport()

    # a click selects one device: a single-device procedure gets its row and col
    panel.select_procedure("iv-sweep")
    settle(qtbot, chip)
    qtbot.mouseClick(viewport, QtCore.Qt.MouseButton.LeftButton, pos=chip.device_position((5, 9)))
    assert chip.selected == [(5, 9)]
    assert panel.form.raw_values()["row"] == 5 and panel.form.raw_values()["col"] == 9
    assert window.bench_panel.device == (5, 9)

    # a drag selects a rectangle: a multi-device procedure gets them all
    panel.select_procedure("readout")
    drag(qtbot, chip, (1, 1), (2, 3))
    expected = [(r, c) for r in (1, 2) for c in (1, 2, 3)]
    assert sorted(chip.selected) == expected
    assert panel.form.raw_values()["devices"] == ";".join(f"{r},{c}" for r, c in chip.selected)
    panel.form.set_values({"reads": 2})
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    status, error, path = window.controller.last_result
    assert status == "completed", error
    with RunReader(path) as reader:
        assert sorted(map(tuple, reader.devices.tolist())) == expected
    # the readout coloured exactly those devices on the map
    read = np.argwhere(np.isfinite(chip.conductance_s))
    assert sorted(map(tuple, read.tolist())) == expected

    chip.select_all()
    assert panel.form.raw_values()["devices"] == "all"


def settle(qtbot, chip) -> None:
    """Wait until the map stopped moving on screen (pyqtgraph lays a new view out over a few
    event-loop turns), so device positions computed now are where the mouse will land."""
    last = None

    def stable() -> bool:
        nonlocal last
        now = (chip.device_position((0, 0)), chip.device_position((chip.rows - 1, chip.cols - 1)))
        same, last = now == last, now
        return same

    qtbot.waitUntil(lambda: qtbot.wait(30) or stable(), timeout=5_000)


def drag(qtbot, chip, start: tuple[int, int], end: tuple[int, int]) -> None:
    """Press on ``start``, move over ``end`` with the button held, release there (moves spaced
    like a hand's: pyqtgraph drops mouse moves that come faster than its refresh rate)."""
    settle(qtbot, chip)
    viewport = chip.view.viewport()
    left = QtCore.Qt.MouseButton.LeftButton
    none = QtCore.Qt.KeyboardModifier.NoModifier
    a, b = chip.device_position(start), chip.device_position(end)

    def send(kind, pos, buttons):
        event = QtGui.QMouseEvent(kind, QtCore.QPointF(pos), QtCore.QPointF(viewport.mapToGlobal(pos)),
                                  left, buttons, none)
        QtWidgets.QApplication.sendEvent(viewport, event)

    send(QtCore.QEvent.Type.MouseButtonPress, a, left)
    for step in range(1, 6):
        qtbot.wait(30)
        send(QtCore.QEvent.Type.MouseMove, a + (b - a) * step / 5, left)
    send(QtCore.QEvent.Type.MouseButtonRelease, b, QtCore.Qt.MouseButton.NoButton)


def test_browser_lists_and_opens_a_finished_run_and_reports_bad_files(qtbot, window, tmp_path):
    panel = window.procedure_panel
    panel.select_procedure("clock-check")
    panel.form.set_values({"samples": 3000})
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    runs = tmp_path / "runs"
    (runs / "zz-corrupt.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8)
    with h5py.File(runs / "foreign.h5", "w") as foreign:
        foreign["x"] = np.arange(3)

    browser = window.browser
    browser.open_folder(runs)
    qtbot.waitUntil(lambda: len(browser.rows) == 3, timeout=10_000)
    by_name = {row.path.name: row for row in browser.rows}
    assert by_name["zz-corrupt.h5"].status == "unreadable"
    assert "not a memlab run file" in by_name["foreign.h5"].error
    finished = next(row for row in browser.rows if row.procedure == "clock-check")
    assert finished.status == "completed"
    status_column = COLUMNS.index("status")
    statuses = [browser.table.item(i, status_column).text() for i in range(browser.table.rowCount())]
    assert statuses.count("unreadable") == 2

    browser.open_run(finished.path)
    qtbot.waitUntil(lambda: browser.current is not None, timeout=10_000)
    assert browser.plots.points("signal") == 3000
    assert browser.plots.panes and browser.plots.panes[0].points == 3000
    keys = [browser.metadata.topLevelItem(i).text(0) for i in range(browser.metadata.topLevelItemCount())]
    assert {"procedure", "status", "parameters", "instruments"} <= set(keys)
    assert "finished: completed" in browser.log_view.toPlainText()
    from memlab.gui.run_browser import export_csv
    written = {path.name.rsplit("-", 1)[-1]: path for path in export_csv(browser.current, tmp_path)}
    lines = written["signal.csv"].read_text().splitlines()
    assert len(lines) == 3001 and "(s)" in lines[0]

    browser.open_run(runs / "zz-corrupt.h5")
    qtbot.waitUntil(lambda: "Cannot open" in browser.state.text(), timeout=10_000)
    assert browser.current is None
    browser.open_run(runs / "foreign.h5")
    qtbot.waitUntil(lambda: "foreign.h5" in browser.state.text() and "Cannot open" in browser.state.text(),
                    timeout=10_000)


def test_browser_follows_a_file_still_being_written(qtbot, window, tmp_path):
    from memlab.storage import Column, RunWriter, StreamSpec

    folder = tmp_path / "elsewhere"
    folder.mkdir()
    spec = StreamSpec("data", (Column("t", "s"), Column("v", "V")))
    writer = RunWriter(folder / "live.h5", procedure="clock-check", procedure_version="1", streams=[spec])
    try:
        writer.append("data", {"t": np.arange(10.0), "v": np.ones(10)})
        writer.flush()
        browser = window.browser
        browser.follow_timer.setInterval(100)  # the writer flushes at once here: no need to wait 1 s
        browser.open_folder(folder)
        qtbot.waitUntil(lambda: len(browser.rows) == 1, timeout=10_000)
        assert browser.rows[0].status == "running"
        browser.open_run(folder / "live.h5")
        qtbot.waitUntil(lambda: browser.current is not None, timeout=10_000)
        assert browser.plots.points("data") == 10 and browser.follow_timer.isActive()
        writer.append("data", {"t": np.arange(10.0, 25.0), "v": np.ones(15)})
        writer.flush()
        qtbot.waitUntil(lambda: browser.plots.points("data") == 25, timeout=10_000)
    finally:
        writer.close("completed")
    qtbot.waitUntil(lambda: not browser.follow_timer.isActive(), timeout=10_000)


def test_closing_during_a_run_asks_then_aborts_with_outputs_off(qtbot, make_window, sim_bench):
    window = make_window(sim_bench)
    gate = start_gated(qtbot, window, "iv-sweep", {"cycles": 6, "row": 1, "col": 1}, "iv")
    questions = []
    window.confirm = lambda title, text: questions.append(text) or False
    window.close()
    assert questions and window.isVisible() and window.controller.running  # "no" keeps it running

    window.confirm = lambda title, text: questions.append(text) or True
    # the run goes on only once the close has asked it to abort (the close turns the event loop)
    QtCore.QTimer.singleShot(50, gate.release.set)
    window.close()
    assert len(questions) == 2 and not window.isVisible()
    status, _, path = window.controller.last_result
    assert status == "aborted"
    assert RunReader(path).status == "aborted"
    assert outputs_off(sim_bench)


def test_manual_controls_obey_the_safety_limits_and_all_outputs_off(qtbot, window, sim_bench):
    bench_panel = window.bench_panel
    qtbot.waitUntil(lambda: bench_panel.table.rowCount() == 5, timeout=5_000)
    qtbot.waitUntil(lambda: bench_panel.table.item(0, 4).text() == "connected", timeout=10_000)
    kinds = {bench_panel.table.item(r, 3).text() for r in range(5)}
    assert kinds == {"simulated"}

    bench_panel.voltage.setText("12 V")  # beyond max_voltage_v = 10 V
    assert bench_panel.voltage.property("invalid") is True
    assert "max_voltage_v" in bench_panel.voltage.toolTip()
    assert not bench_panel.read_button.isEnabled()
    bench_panel.voltage.setText("200 mV")
    assert bench_panel.read_button.isEnabled()
    qtbot.mouseClick(bench_panel.read_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "I =" in bench_panel.reading.text(), timeout=10_000)
    assert not sim_bench.twins["smu"].state["output"]

    row, col = bench_panel.device  # one SET pulse through the pulse generator moves that device only
    before = sim_bench.world.chip.conductance
    bench_panel.pulse_v.setText("2.5 V")
    bench_panel.pulse_width.setText("1 us")
    qtbot.mouseClick(bench_panel.pulse_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bench_panel.reading.text().startswith("pulse of"), timeout=10_000)
    after = sim_bench.world.chip.conductance
    changed = np.argwhere(after != before)
    assert changed.tolist() == [[row, col]] and after[row, col] > before[row, col]
    assert not sim_bench.twins["pulser"].state["out1"]

    bench_panel.laser_power.setText("50 mW")  # beyond max_laser_power_w = 20 mW
    assert not bench_panel.laser_on_button.isEnabled()
    bench_panel.laser_power.setText("2 mW")
    qtbot.mouseClick(bench_panel.laser_on_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bench_panel.laser_state.text().startswith("ON"), timeout=10_000)
    assert sim_bench.twins["laser"].state["ld_on"] and sim_bench.world.laser_power_w > 0

    qtbot.mouseClick(window.all_off_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "every output is off" in window.log_panel.text(), timeout=10_000)
    assert outputs_off(sim_bench)
    assert bench_panel.laser_state.text() == "off"


def test_queue_is_editable_and_runs_in_order(qtbot, window):
    panel, controller = window.procedure_panel, window.controller
    panel.select_procedure("clock-check")
    for samples in (100, 200, 300):
        panel.form.set_values({"samples": samples})
        qtbot.mouseClick(panel.queue_button, QtCore.Qt.MouseButton.LeftButton)
    assert panel.queue_list.count() == 3
    panel.queue_list.setCurrentRow(2)
    panel._move(-2)  # the "up" button twice over
    assert [q.values["samples"] for q in controller.queue] == [300, 100, 200]
    panel.queue_list.setCurrentRow(1)
    panel._remove_queued()
    assert [q.values["samples"] for q in controller.queue] == [300, 200]
    panel.queue_list.setCurrentRow(1)
    panel.form.set_values({"samples": 250})
    panel._update_queued()
    assert [q.values["samples"] for q in controller.queue] == [300, 250]

    finished = []
    controller.run_finished.connect(lambda status, error, path: finished.append((status, path)))
    qtbot.mouseClick(panel.run_queue_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(finished) == 2 and not controller.running, timeout=20_000)
    assert [s for s, _ in finished] == ["completed", "completed"]
    assert [RunReader(p).parameters["samples"] for _, p in finished] == [300, 250]
    assert panel.queue_list.count() == 0


def test_compare_the_current_run_with_a_previous_one(qtbot, window):
    panel = window.procedure_panel
    panel.select_procedure("clock-check")
    panel.form.set_values({"samples": 2000, "amplitude_v": 1.0})
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    first = window.controller.last_result[2]
    window.compare_path(first)
    qtbot.waitUntil(lambda: window.live.clear_button.isEnabled(), timeout=10_000)
    panel.form.set_values({"samples": 1000, "amplitude_v": 2.0})
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    pane = window.live.plots.panes[0]
    assert len(pane.references) == 1 and pane.references[0].getData()[0].size == 2000
    assert pane.points == 1000
    window.clear_comparison()
    assert not pane.references


def test_layout_and_last_settings_are_restored(qtbot, make_window, sim_bench, settings_file):
    first = make_window(sim_bench)
    first.procedure_panel.select_procedure("iv-sweep")
    first.procedure_panel.form.set_values({"v_max": 1.25, "cycles": 7})
    first.chip_map.quantity.setCurrentIndex(1)
    first.removeDockWidget(first.docks["log"])
    first.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, first.docks["log"])
    first.docks["log"].show()
    first.close()
    saved = QtCore.QSettings(str(settings_file), QtCore.QSettings.Format.IniFormat)
    assert json.loads(saved.value("procedure/values/iv-sweep"))["cycles"] == 7

    second = make_window(sim_bench)
    assert second.procedure_panel.name == "iv-sweep"
    assert second.procedure_panel.form.raw_values()["v_max"] == pytest.approx(1.25)
    assert second.procedure_panel.form.raw_values()["cycles"] == 7
    assert second.chip_map.quantity.currentData() == "resistance"
    assert second.dockWidgetArea(second.docks["log"]) == QtCore.Qt.DockWidgetArea.RightDockWidgetArea


def test_log_panel_shows_run_messages_with_their_level(qtbot, window):
    panel = window.procedure_panel
    panel.select_procedure("clock-check")
    panel.form.set_values({"samples": 100})
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: "finished: completed" in window.log_panel.text(), timeout=5_000)
    lines = window.log_panel.text().splitlines()
    assert any("INFO" in line and "[run]" in line and "started clock-check" in line for line in lines)
    window.log_panel.add(40, "instrument", "smu: -222 Data out of range")
    assert "ERROR" in window.log_panel.text().splitlines()[-1]
    window.log_panel.level.setCurrentText("ERROR")
    assert window.log_panel.text().splitlines() == [window.log_panel.text().splitlines()[-1]]
    assert "Data out of range" in window.log_panel.text()


def test_disconnect_switches_off_and_connect_opens_the_bench_again(qtbot, window, sim_bench):
    from memlab.instruments.bench import load_bench

    opened = []
    window.controller.bench_loader = lambda path: opened.append(load_bench(path)) or opened[-1]
    panel, bench_panel = window.procedure_panel, window.bench_panel
    qtbot.mouseClick(bench_panel.connect_button, QtCore.Qt.MouseButton.LeftButton)  # disconnect
    assert window.controller.bench is None
    assert not panel.start_button.isEnabled() and "Connect the bench" in panel.start_button.toolTip()
    assert bench_panel.connect_button.text() == "Connect" and not bench_panel.manual_box.isEnabled()
    qtbot.waitUntil(lambda: "disconnected: every output is off" in window.log_panel.text(), timeout=10_000)
    assert outputs_off(sim_bench)

    qtbot.mouseClick(bench_panel.connect_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.controller.bench is not None, timeout=20_000)
    assert window.controller.bench is opened[0] and window.controller.bench.simulated
    assert panel.start_button.isEnabled() and bench_panel.connect_button.text() == "Disconnect"
    qtbot.waitUntil(lambda: bench_panel.table.item(0, 4).text() == "connected", timeout=10_000)


def test_manual_controls_use_the_procedures_device_actions_and_show_what_is_on(qtbot, window, sim_bench):
    """"leave on" holds the SMU on one device (shown as ON); a pulse on another device switches it
    off and releases it first, and moves only the pulsed device."""
    bench_panel = window.bench_panel
    qtbot.waitUntil(lambda: "SMU off" in bench_panel.outputs_label.text(), timeout=10_000)
    bench_panel.set_device((2, 3))
    bench_panel.voltage.setText("0.2")
    bench_panel.keep_on.setChecked(True)
    qtbot.mouseClick(bench_panel.read_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "SMU ON" in bench_panel.outputs_label.text(), timeout=10_000)
    assert sim_bench.twins["smu"].state["output"]

    bench_panel.set_device((7, 8))
    before = sim_bench.world.chip.conductance
    bench_panel.pulse_v.setText("2.5 V")
    bench_panel.pulse_width.setText("1 us")
    qtbot.mouseClick(bench_panel.pulse_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bench_panel.reading.text().startswith("pulse of"), timeout=10_000)
    qtbot.waitUntil(lambda: "SMU off" in bench_panel.outputs_label.text(), timeout=10_000)
    changed = np.argwhere(sim_bench.world.chip.conductance != before)
    assert changed.tolist() == [[7, 8]]
    assert not sim_bench.twins["smu"].state["output"] and not sim_bench.twins["pulser"].state["out1"]
    assert sim_bench.switch.closed() == []

    qtbot.mouseClick(bench_panel.power_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bench_panel.power_label.text().endswith("W</b>"), timeout=10_000)


def test_form_labels_are_words_with_units_and_numbers_take_a_decimal_comma(qtbot, window):
    panel = window.procedure_panel
    panel.select_procedure("write-verify")
    form = panel.form
    assert form.findChild(QtWidgets.QLabel, "label_g_low_s").text() == "Low conductance target [S]"
    form.fields["read_v"].setText("0,15")
    assert form.fields["read_v"].value() == pytest.approx(0.15)
    panel.select_procedure("optical-pulses")
    assert panel.form.fields["wavelength_m"].placeholderText() != "e.g. 100 mm"
    assert "mm" not in panel.form.fields["wavelength_m"].placeholderText()


def test_a_width_the_pulse_generator_cannot_do_is_refused_in_the_form(qtbot, window, tmp_path):
    """1 ns passes the procedure's own bounds but not the 33500B: refused in the form, naming the
    instrument's minimum as its driver declares it, and no file is made."""
    panel = window.procedure_panel
    panel.select_procedure("write-verify")
    low = window.controller.bench.pulser.width_range_s[0]
    panel.form.fields["width_s"].setText("1 ns")
    assert not panel.start_button.isEnabled()
    message = panel.form.field_errors["width_s"].text()
    assert "33500B" in message and format_quantity(low, "s") in message
    assert "33500B" in panel.start_reason.full_text()
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    assert not window.controller.running
    assert not list((tmp_path / "runs").glob("**/*.h5"))
    panel.form.fields["width_s"].setText("100 ns")
    assert panel.start_button.isEnabled()


def test_the_readout_map_pane_shows_the_values_the_run_file_holds(qtbot, window):
    panel = window.procedure_panel
    panel.select_procedure("readout")
    panel.form.set_values({"devices": "0,0;3,5;15,15", "reads": 1})
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    status, error, path = window.controller.last_result
    assert status == "completed", error
    with RunReader(path) as reader:
        stored = reader.stream("map").column("conductance")[-1]
    pane = next(p for p in window.live.plots.panes if p.hint.kind == "image")
    shown = pane.image.image
    assert shown is not None and shown.shape == stored.shape == (16, 16)
    expected = np.where(stored > 0, np.log10(np.where(stored > 0, stored, 1.0)), np.nan)  # the pane is log-scaled
    assert np.array_equal(np.isfinite(shown), np.isfinite(expected))
    assert np.allclose(shown[np.isfinite(shown)], expected[np.isfinite(expected)])
    low, high = pane.colorbar.levels()
    assert low == pytest.approx(np.nanmin(expected)) and high == pytest.approx(np.nanmax(expected))


def _write_run(path, procedure: str, chip_rows: int = 16):
    """A small finished run file of ``procedure`` (its declared streams) on a chip of that size."""
    from memlab.procedures import get_procedure
    from memlab.storage.writer import ParameterRecord, RunWriter

    cls = get_procedure(procedure)
    writer = RunWriter(path, procedure=procedure, procedure_version="1", parameters={"samples": ParameterRecord(10)},
                       streams=cls.streams, chip={"family": "prgo", "rows": chip_rows, "cols": chip_rows},
                       devices=[(0, 0)], instruments={}, operator="test")
    return writer


def test_browser_finds_campaign_subfolders_sorts_filters_and_refuses_meaningless_comparisons(qtbot, window, tmp_path):
    panel = window.procedure_panel
    panel.select_procedure("clock-check")
    panel.form.set_values({"samples": 200})
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    runs = tmp_path / "runs"
    campaign = runs / "campaign-1"
    campaign.mkdir()
    # a readout run in a campaign's subfolder, and a damaged file beside it
    window.controller.out_dir = campaign
    panel.select_procedure("readout")
    panel.form.set_values({"devices": "0,0;1,1", "reads": 1})
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    (campaign / "broken.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))

    browser = window.browser
    browser.open_folder(runs)
    qtbot.waitUntil(lambda: len(browser.rows) == 3, timeout=10_000)
    assert {r.folder for r in browser.rows} == {"", "campaign-1"}
    broken = next(r for r in browser.rows if r.path.name == "broken.h5")
    assert broken.status == "unreadable" and broken.error
    assert "skipped" in browser.state.text()
    readout = next(r for r in browser.rows if r.procedure == "readout")
    assert readout.chip.endswith("16x16") and "reads=1" in readout.parameters

    browser.procedure_filter.setCurrentIndex(browser.procedure_filter.findData("readout"))
    assert [r.procedure for r in browser.visible_rows()] == ["readout"]
    browser.procedure_filter.setCurrentIndex(0)
    browser.filter_edit.setText("clock")
    assert [r.procedure for r in browser.visible_rows()] == ["clock-check"]
    browser.filter_edit.setText("")
    browser.table.sortItems(COLUMNS.index("procedure"), QtCore.Qt.SortOrder.AscendingOrder)
    assert [r.procedure for r in browser.visible_rows()] == ["?", "clock-check", "readout"]

    # the live plots show readout; overlaying a clock-check is refused, with the reason
    clock = next(r for r in browser.rows if r.procedure == "clock-check")
    browser.open_run(clock.path)
    qtbot.waitUntil(lambda: browser.current is not None and browser.current.path == clock.path, timeout=10_000)
    browser.compare_button.click()
    assert "Cannot compare" in browser.state.text() and "clock-check" in browser.state.text()
    assert not window.live.clear_button.isEnabled()


def test_browser_warns_when_a_run_is_from_another_chip_size_and_stops_its_timers_on_close(qtbot, window, tmp_path):
    from memlab.gui.run_browser import RunBrowser, load_run

    folder = tmp_path / "small"
    folder.mkdir()
    writer = _write_run(folder / "small.h5", "clock-check", chip_rows=8)
    writer.close("completed")
    browser = window.browser
    browser.open_folder(folder)
    qtbot.waitUntil(lambda: len(browser.rows) == 1, timeout=10_000)
    browser.open_run(folder / "small.h5")
    qtbot.waitUntil(lambda: browser.current is not None, timeout=10_000)
    assert "8 x 8" in browser.state.text() and "16 x 16" in browser.state.text()

    other = RunBrowser(folder)
    qtbot.addWidget(other)
    other.refresh()
    other._debounce.start()
    other.shutdown()
    assert not other._debounce.isActive() and not other.follow_timer.isActive()
    other.refresh()  # after close: nothing is scheduled, no error
    qtbot.wait(600)
    assert load_run(folder / "small.h5").summary["status"] == "completed"


def test_chip_family_choice_reconnects_and_light_procedures_are_refused_on_a_prgo_chip(qtbot, make_window):
    from memlab.instruments.bench import load_bench

    window = make_window(load_bench(None))  # this window closes (and owns) its bench
    panel = window.procedure_panel
    assert window.controller.bench.chip_info()["family"] == "prgo"
    panel.select_procedure("optical-pulses")
    assert not panel.start_button.isEnabled()
    assert "optomemristor" in panel.start_reason.full_text()
    index = panel.picker.findData("optical-pulses")
    assert panel.picker.itemText(index).startswith("⚠")
    assert "light" in panel.picker.itemData(index, QtCore.Qt.ItemDataRole.ToolTipRole)
    assert not panel.picker.itemText(panel.picker.findData("iv-sweep")).startswith("⚠")

    families = [window.bench_panel.family.itemData(i) for i in range(window.bench_panel.family.count())]
    assert {"prgo", "optomemristor"} <= set(families)
    window.bench_panel.choose_bench(None, "optomemristor")
    qtbot.waitUntil(lambda: window.controller.bench is not None
                    and window.controller.bench.chip_info()["family"] == "optomemristor", timeout=20_000)
    assert "optomemristor" in window.bench_panel.bench_source.full_text()
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=5_000)
    assert not panel.picker.itemText(panel.picker.findData("optical-pulses")).startswith("⚠")


def test_chip_map_click_shows_the_device_history_and_the_chip_edge(qtbot, window):
    panel = window.procedure_panel
    panel.select_procedure("readout")
    panel.form.set_values({"devices": "2,3;4,4", "reads": 1})
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    browser = window.browser
    qtbot.waitUntil(lambda: len(browser.rows) == 1 and bool(browser.rows[0].device_list), timeout=10_000)
    chip = window.chip_map
    assert chip.chip_edge.rect() == QtCore.QRectF(0, 0, 16, 16)
    settle(qtbot, chip)
    qtbot.mouseClick(chip.view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=chip.device_position((2, 3)))
    text = chip.history.text()
    assert text.startswith("(2,3): 1 runs") and "readout completed" in text and "G = " in text
    qtbot.mouseClick(chip.view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=chip.device_position((9, 9)))
    assert "no runs" in chip.history.text() and "not read" in chip.history.text()


def test_the_queue_survives_a_restart_held_and_can_go_on_after_a_failure(qtbot, make_window, sim_bench, monkeypatch):
    first = make_window(sim_bench)
    panel = first.procedure_panel
    panel.select_procedure("clock-check")
    for samples in (120, 130):
        panel.form.set_values({"samples": samples})
        qtbot.mouseClick(panel.queue_button, QtCore.Qt.MouseButton.LeftButton)
    first.confirm = lambda title, text: True
    first.close()

    from memlab.instruments.bench import load_bench

    bench = load_bench(None)  # the first window closed its bench; a restart opens it again
    second = make_window(bench)  # a restart: the same settings file
    controller, panel = second.controller, second.procedure_panel
    assert [q.values["samples"] for q in controller.queue] == [120, 130]
    assert controller.queue_held and "held" in panel.queue_state.text()

    # a failing run first; with "hold on failure" unticked the queue goes on by itself
    panel.hold_check.setChecked(False)
    panel.select_procedure("readout")
    panel.form.set_values({"devices": "0,0", "reads": 1})
    controller.queue.insert(0, QueuedRun("readout", panel.form.make().values))
    real = bench.smu.list_sweep
    calls = []

    def fail_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the SMU stopped answering")
        return real(*args, **kwargs)

    monkeypatch.setattr(bench.smu, "list_sweep", fail_once)
    # the fault is put into this process's bench object: runs stay in a thread here (a worker
    # process builds its own bench; tests/gui/test_worker_process.py covers a worker that fails)
    controller.run_mode = "thread"
    running_now = []
    controller.current_changed.connect(running_now.append)
    finished = []
    controller.run_finished.connect(lambda status, error, path: finished.append(status))
    qtbot.mouseClick(panel.run_queue_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(finished) == 3 and not controller.running, timeout=30_000)
    assert finished == ["failed", "completed", "completed"]
    assert any(text.startswith("readout") for text in running_now)  # the running item was shown
    assert not controller.queue and panel.running_now.text() == "Running now: nothing"


def test_a_voltage_beyond_the_smus_own_range_is_refused_naming_the_model(qtbot, window, monkeypatch):
    """A bench file may allow more than the SMU can source: the form refuses what the SMU's driver
    declares it cannot do (here its range made 1 V for the test)."""
    panel = window.procedure_panel
    panel.select_procedure("iv-sweep")
    monkeypatch.setattr(window.controller.bench.smu, "max_voltage_v", 1.0)
    panel.form.fields["v_max"].setText("1.4 V")
    assert not panel.start_button.isEnabled()
    assert "2450" in panel.form.field_errors["v_max"].text()


def test_a_whole_chip_readout_has_a_time_estimate(qtbot, window):
    panel = window.procedure_panel
    panel.select_procedure("readout")
    panel.form.set_values({"devices": "0,0"})
    one = panel.estimate.full_text()
    window.chip_map.select_all()
    assert panel.form.raw_values()["devices"] == "all"
    whole = panel.estimate.full_text()
    assert whole.startswith("Estimated instrument time:") and whole != one


def test_cyclic_garbage_is_collected_from_the_event_loop_not_from_run_threads(qtbot, window):
    """Python's collector would otherwise run in whichever thread allocates, and a widget freed in
    a run's thread deadlocks Qt (it hung the suite once): with a window open, automatic collection
    is off and the event loop collects."""
    import gc
    import weakref

    assert not gc.isenabled()

    class Node:
        pass

    node = Node()
    node.self = node  # a cycle: only the cycle collector frees it
    freed = weakref.ref(node)
    del node
    _churn = [[] for _ in range(5000)]  # pass the collector's allocation threshold
    qtbot.waitUntil(lambda: freed() is None, timeout=5000)
