"""The dashboard fits a 1366 x 768 laptop screen and never grows, whatever runs show."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from memlab.gui.widgets import ElidedLabel

from .conftest import Gate

LAPTOP = QtCore.QSize(1366, 768)


def clipped_widgets(window: QtWidgets.QWidget) -> list[str]:
    """Visible buttons, labels and fields narrower or lower than they need to show their text.
    Widgets scrolled out of a dock's view are not clipped: the dock scrolls to them."""
    found = []
    for widget in window.findChildren(QtWidgets.QWidget):
        if not widget.isVisible() or widget.visibleRegion().isEmpty():
            continue
        if isinstance(widget, ElidedLabel) or widget.objectName().startswith("qt_"):
            continue  # cuts its text on purpose, whole in the tooltip; or a part inside a Qt widget
        if isinstance(widget, QtWidgets.QLabel) and (widget.wordWrap() or not widget.text()):
            continue
        if not isinstance(widget, (QtWidgets.QAbstractButton, QtWidgets.QLabel, QtWidgets.QComboBox,
                                   QtWidgets.QLineEdit)):
            continue
        need = widget.minimumSizeHint()
        if isinstance(widget, QtWidgets.QAbstractButton):  # its text, not the style's preferred button width
            text_width = widget.fontMetrics().horizontalAdvance(widget.text().replace("&&", "&"))
            need = QtCore.QSize(text_width + (24 if isinstance(widget, QtWidgets.QCheckBox) else 6), need.height())
        if widget.width() < need.width() or widget.height() < need.height():
            text = widget.text() if hasattr(widget, "text") else ""
            found.append(f"{type(widget).__name__} {widget.objectName()!r} {text!r}: "
                         f"{widget.width()}x{widget.height()} < {need.width()}x{need.height()}")
    return found


def check_fits(qtbot, window) -> None:
    qtbot.wait(50)
    QtWidgets.QApplication.processEvents()
    assert window.size() == LAPTOP, f"the window grew to {window.size()}"
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 720, f"minimum size {hint}"
    assert not clipped_widgets(window)


def finish(qtbot, window) -> tuple[str, str, str]:
    qtbot.waitUntil(lambda: not window.controller.running, timeout=30_000)
    return window.controller.last_result


@pytest.fixture
def laptop_window(make_window, sim_bench):
    window = make_window(sim_bench)
    window.resize(LAPTOP)
    window.default_layout()
    return window


def test_the_window_fits_a_laptop_and_keeps_its_size_after_runs_aborts_and_failures(qtbot, laptop_window,
                                                                                    sim_bench, monkeypatch):
    window = laptop_window
    panel = window.procedure_panel
    check_fits(qtbot, window)

    # a run with two panes (the map and the readings) and a long file name in the title
    panel.select_procedure("readout")
    panel.form.set_values({"devices": "0,0;1,1;2,2", "reads": 1})
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    assert finish(qtbot, window)[0] == "completed"
    assert len(window.live.plots.panes) == 2
    check_fits(qtbot, window)

    # an abort, mid-run
    panel.select_procedure("iv-sweep")
    panel.form.set_values({"cycles": 6, "row": 1, "col": 1})
    gate = Gate("iv")
    window.controller.extra_listeners = [gate]
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(gate.reached.is_set, timeout=20_000)
    check_fits(qtbot, window)
    window.controller.abort()
    gate.release.set()
    assert finish(qtbot, window)[0] == "aborted"
    window.controller.extra_listeners = []
    check_fits(qtbot, window)

    # a failure with a long error message
    def broken(*args, **kwargs):
        raise RuntimeError("the source-measure unit stopped answering " + "while reading the device " * 12)

    monkeypatch.setattr(sim_bench.smu, "list_sweep", broken)
    # the fault is put into this process's bench object: this run stays in a thread (a worker
    # process builds its own bench; tests/gui/test_worker_process.py covers a worker that fails)
    window.controller.run_mode = "thread"
    panel.select_procedure("readout")
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    status, error, _ = finish(qtbot, window)
    assert status == "failed" and "stopped answering" in error
    assert "stopped answering" in window.live.title.toolTip()  # the whole message is a hover away
    check_fits(qtbot, window)

    # the run browser with a two-pane run opened, and the campaign tab, fit as well
    browser = window.browser
    window.central.setCurrentWidget(browser)
    browser.refresh()
    qtbot.waitUntil(lambda: len(browser.rows) == 3, timeout=10_000)
    readout = next(r for r in browser.rows if r.procedure == "readout" and r.status == "completed")
    browser.open_run(readout.path)
    qtbot.waitUntil(lambda: browser.current is not None, timeout=10_000)
    assert len(browser.plots.panes) == 2
    check_fits(qtbot, window)
    window.central.setCurrentWidget(window.campaign_panel)
    check_fits(qtbot, window)


def test_empty_panes_say_no_data_yet_and_the_help_menu_lists_the_shortcuts(qtbot, laptop_window):
    window = laptop_window
    text = window.shortcuts_text()
    for keys in ("Ctrl+R", "Ctrl+.", "Ctrl+E", "Ctrl+Shift+X"):
        assert keys in text
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert any("shortcut" in a.text().lower() for a in help_menu.actions())
