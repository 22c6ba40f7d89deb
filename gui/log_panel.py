"""The log panel: run and instrument messages, each with its time, level and source."""

from __future__ import annotations

import html
import logging
import time
from collections import deque
from dataclasses import dataclass

from PySide6 import QtWidgets

LEVEL_COLOURS = {logging.DEBUG: "#757575", logging.INFO: "#1565c0", logging.WARNING: "#ef6c00",
                 logging.ERROR: "#c62828", logging.CRITICAL: "#b71c1c"}
MAX_ENTRIES = 20_000
"""Older messages are dropped from the panel (each run file keeps its own full log)."""


@dataclass(frozen=True)
class LogEntry:
    time_unix_s: float
    level: int
    source: str
    message: str


def _level_colour(level: int) -> str:
    for threshold in sorted(LEVEL_COLOURS, reverse=True):
        if level >= threshold:
            return LEVEL_COLOURS[threshold]
    return LEVEL_COLOURS[logging.DEBUG]


class LogPanel(QtWidgets.QWidget):
    """See the module docstring. Shows messages at or above the chosen level."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: deque[LogEntry] = deque(maxlen=MAX_ENTRIES)
        self.level = QtWidgets.QComboBox()
        self.level.setObjectName("log_level")
        for name in ("DEBUG", "INFO", "WARNING", "ERROR"):
            self.level.addItem(name, getattr(logging, name))
        self.level.setCurrentIndex(1)
        self.level.currentIndexChanged.connect(self._rerender)
        clear = QtWidgets.QPushButton("Clear")
        clear.clicked.connect(self.clear)
        self.view = QtWidgets.QPlainTextEdit()
        self.view.setObjectName("log_view")
        self.view.setReadOnly(True)
        self.view.setMaximumBlockCount(MAX_ENTRIES)
        self.view.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)
        font = self.view.font()
        font.setFamily("DejaVu Sans Mono")
        font.setStyleHint(font.StyleHint.Monospace)
        self.view.setFont(font)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Show from level"))
        top.addWidget(self.level)
        top.addStretch(1)
        top.addWidget(clear)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)

    @property
    def threshold(self) -> int:
        return int(self.level.currentData())

    def add(self, level: int, source: str, message: str, time_unix_s: float | None = None) -> None:
        entry = LogEntry(time.time() if time_unix_s is None else time_unix_s, int(level), source, message)
        self.entries.append(entry)
        if entry.level >= self.threshold:
            self.view.appendHtml(self._html(entry))

    def add_record(self, time_unix_s: float, level: int, source: str, message: str) -> None:
        """Slot for :class:`gui.bridge.QtLogHandler` records."""
        self.add(level, source, message, time_unix_s)

    @staticmethod
    def _html(entry: LogEntry) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(entry.time_unix_s))
        name = logging.getLevelName(entry.level)
        colour = _level_colour(entry.level)
        weight = "bold" if entry.level >= logging.WARNING else "normal"
        text = html.escape(entry.message).replace("\n", "<br>&nbsp;&nbsp;")
        return (f"<span style='color:#757575'>{stamp}</span> "
                f"<span style='color:{colour}; font-weight:{weight}'>{name:<8}</span> "
                f"<span style='color:#455a64'>[{html.escape(entry.source)}]</span> {text}").replace("  ", "&nbsp; ")

    def _rerender(self, *args: object) -> None:
        self.view.clear()
        threshold = self.threshold
        shown = [self._html(e) for e in self.entries if e.level >= threshold]
        if shown:
            self.view.appendHtml("<br>".join(shown))

    def clear(self) -> None:
        self.entries.clear()
        self.view.clear()

    def text(self) -> str:
        return self.view.toPlainText()
