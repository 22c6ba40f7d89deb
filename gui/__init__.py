"""The Qt dashboard (PySide6 + pyqtgraph): runs procedures, plots them live, browses old runs."""

from __future__ import annotations

import sys

BROKEN_PYSIDE = {"6.12.0": "each signal emitted from Python drops a reference to True, so after a few "
                           "hundred signals the interpreter aborts ('deallocating True or False')"}
"""PySide6 releases that cannot run the dashboard on this Python (bools and None are not immortal
before Python 3.12, so a lost reference ends in a crash)."""


def qt_problem() -> str | None:
    """Why the installed PySide6 cannot run the dashboard, or None if it can."""
    try:
        import PySide6
    except ImportError as exc:
        return f"PySide6 is not installed ({exc})"
    version = PySide6.__version__
    if version in BROKEN_PYSIDE and sys.version_info < (3, 12):
        return (f"PySide6 {version} on Python {sys.version_info.major}.{sys.version_info.minor}: "
                f"{BROKEN_PYSIDE[version]}. Install another release: "
                f"pip install 'PySide6-Essentials>=6.6,!={version}'")
    return None
