"""Start the dashboard: ``memlab gui [--bench FILE]`` (no file: the built-in simulated bench)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6 import QtCore, QtWidgets


def run_dashboard(bench_path: str | None = None, out_dir: str | Path | None = None,
                  operator: str | None = None, settings_file: str | Path | None = None,
                  family: str | None = None) -> int:
    """Open the main window and run the Qt event loop until it closes; returns the exit status."""
    if bench_path is not None and not Path(bench_path).is_file():
        raise FileNotFoundError(f"--bench {bench_path}: no such file")
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") and sys.platform.startswith("linux") \
            and not os.environ.get("QT_QPA_PLATFORM"):
        raise RuntimeError("no display: run memlab gui in a desktop session "
                           "(or set QT_QPA_PLATFORM=offscreen to render without one)")
    from memlab.gui import qt_problem

    problem = qt_problem()
    if problem is not None:
        raise RuntimeError(problem)
    from memlab.gui.main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("memlab dashboard")
    app.setOrganizationName("memlab")
    settings = (QtCore.QSettings(str(settings_file), QtCore.QSettings.Format.IniFormat)
                if settings_file is not None else None)
    window = MainWindow(bench_path=bench_path, out_dir=out_dir, settings=settings, operator=operator,
                        family=family)
    window.show()
    return int(app.exec())
