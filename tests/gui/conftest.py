"""Fixtures for dashboard tests: offscreen Qt, the real simulated bench, a window on a temp folder."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import gc  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6 import QtCore  # noqa: E402

from memlab.gui import qt_problem  # noqa: E402

from .gates import Gate  # noqa: E402, F401 - a run gate for thread and worker process alike

_QT_PROBLEM = qt_problem()


def pytest_collection_modifyitems(config, items) -> None:
    """With a PySide6 known to crash the interpreter, skip (loudly) rather than abort the whole
    test session on the first Qt signal."""
    if _QT_PROBLEM is None:
        return
    here = Path(__file__).parent
    marker = pytest.mark.skip(reason=f"dashboard tests cannot run: {_QT_PROBLEM}")
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(marker)


@pytest.fixture(autouse=True)
def garbage_collected_in_the_gui_thread():
    """A window switches automatic collection off (it would free widgets from run threads, which
    deadlocks Qt); each test's garbage is collected here, in the GUI thread, and the rest of the
    suite runs with automatic collection again."""
    yield
    gc.collect()
    gc.enable()


def outputs_off(bench) -> bool:
    """Every source off and no light, as the simulated instruments themselves hold it (works
    after the dashboard closed the bench's connections too)."""
    twins = bench.twins
    return (not twins["smu"].state["output"] and not any(twins["pulser"].state[f"out{ch}"] for ch in (1, 2))
            and not twins["laser"].state["ld_on"] and bench.world.laser_power_w == 0.0)


@pytest.fixture
def sim_bench():
    from memlab.instruments.bench import load_bench

    bench = load_bench(None)
    yield bench
    bench.close()


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "dashboard.ini"


@pytest.fixture
def make_window(qtbot, tmp_path: Path, settings_file: Path):
    """Builds MainWindows on the given bench; closes each at the end (answering yes) and checks
    that no run or bench thread is left behind."""
    from memlab.gui.main_window import MainWindow

    windows = []

    def make(bench, **kwargs):
        settings = QtCore.QSettings(str(settings_file), QtCore.QSettings.Format.IniFormat)
        window = MainWindow(bench=bench, out_dir=tmp_path / "runs", settings=settings, connect=False,
                            operator="test", **kwargs)
        qtbot.addWidget(window)
        # a failed test's teardown closes the window mid-run: a modal question would hang the suite
        window.confirm = lambda title, text: True
        window.resize(1400, 900)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        for listener in window.controller.extra_listeners:
            if isinstance(listener, Gate):
                listener.release.set()
                listener.remove()
        window.confirm = lambda title, text: True
        window.close()
    leftover = [t.name for t in threading.enumerate()
                if t.is_alive() and (t.name.startswith("run ") or t.name.startswith("memlab-"))]
    assert not leftover, f"threads left running: {leftover}"


@pytest.fixture
def window(make_window, sim_bench):
    return make_window(sim_bench)
