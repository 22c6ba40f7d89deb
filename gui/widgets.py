"""Small widgets the dashboard's panels share."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets


class ElidedLabel(QtWidgets.QLabel):
    """A one-line label that never asks for more width than it gets: a long text is cut with
    "…" and shown whole in the tooltip. Keeps titles and messages from widening the window."""

    def __init__(self, text: str = "", parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(20)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        text = str(text)
        if text == self._full and self._full:
            return
        self._full = text
        self.setToolTip(self._full if self._full.strip() else "")
        self._elide()

    def full_text(self) -> str:
        return self._full

    def text(self) -> str:  # noqa: D401 - the whole text, not the elided one on screen
        return self._full

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802
        return QtCore.QSize(20, super().minimumSizeHint().height())

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802
        return QtCore.QSize(min(super().sizeHint().width(), 400), super().sizeHint().height())

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, QtCore.Qt.TextElideMode.ElideRight,
                                              max(10, self.width() - 2))
        if shown != super().text():  # an unchanged text costs no relayout
            super().setText(shown)


class VerticalScrollArea(QtWidgets.QScrollArea):
    """Scrolls its widget up and down, never sideways: the widget always gets the area's width
    (and asks for at least its own minimum width), so a panel taller than its dock scrolls
    instead of forcing the window taller, and nothing is hidden off its right edge."""

    def __init__(self, widget: QtWidgets.QWidget, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(widget)

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802
        inner = self.widget().minimumSizeHint() if self.widget() is not None else QtCore.QSize(0, 0)
        return QtCore.QSize(inner.width() + self.verticalScrollBar().sizeHint().width(), 80)

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802
        inner = self.widget().sizeHint() if self.widget() is not None else QtCore.QSize(0, 0)
        return QtCore.QSize(inner.width() + self.verticalScrollBar().sizeHint().width(), min(inner.height(), 400))


def scrolling(widget: QtWidgets.QWidget) -> QtWidgets.QScrollArea:
    """``widget`` in a scroll area, so a dock scrolls instead of forcing the window larger."""
    return VerticalScrollArea(widget)
