"""Input fields shared by the tabs: a number field that accepts any text, a path field with a
browse button, and helpers to mark a field invalid (and clear the mark)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QStyle,
    QStyleOptionFrame,
    QWidget,
)

from .. import theme

__all__ = ["NumberEdit", "PathEdit", "PathField", "clear_invalid", "mark_invalid"]


def mark_invalid(widget: QWidget, message: str) -> None:
    """Tint a field's background and put the reason in its tooltip (cleared by clear_invalid)."""
    if widget.property("invalid"):
        widget.setToolTip(message)
        return
    widget.setProperty("invalid", True)
    widget.setProperty("_tooltip", widget.toolTip())
    pal = widget.palette()
    color = theme.invalid_background(pal)
    for role in (QPalette.ColorRole.Base, QPalette.ColorRole.Button):
        pal.setColor(role, color)
    widget.setPalette(pal)
    widget.setAutoFillBackground(True)
    widget.setToolTip(message)


def clear_invalid(widget: QWidget) -> None:
    if not widget.property("invalid"):
        return
    widget.setProperty("invalid", False)
    widget.setPalette(QPalette())  # back to inheriting the app palette (follows theme changes)
    widget.setToolTip(widget.property("_tooltip") or "")


class NumberEdit(QLineEdit):
    """A number typed as text (``1e-3`` works); any text is accepted so TrainConfig can judge it.

    ``value()`` raises ValueError for text that is not a number.
    """

    def __init__(self, integer: bool = False, optional: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.integer = integer
        self.optional = optional  # empty text means None
        self.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.setMaximumWidth(140)

    def value(self):
        text = self.text().strip().replace(",", ".") if not self.integer else self.text().strip()
        if text == "" and self.optional:
            return None
        if self.integer:
            try:
                return int(text)
            except ValueError:
                number = float(text)  # "10.0" is fine, "10.5" is not a whole number
                if not number.is_integer():
                    raise ValueError(f"{text} is not a whole number") from None
                return int(number)
        return float(text)

    def set_value(self, value) -> None:
        if value is None:
            self.setText("")
        elif self.integer:
            self.setText(str(int(value)))
        else:
            # Short when that is exact ("0.1", "1e-05"), else every digit: a preset read back
            # from the form must equal the preset, or the form would show "Custom".
            short = f"{float(value):g}"
            self.setText(short if float(short) == float(value) else repr(float(value)))


class PathEdit(QLineEdit):
    """A line edit for a path: while it does not have the focus, a path too long for the box is
    shown elided in the middle (its start and its file name both stay visible); the full path is
    in the tooltip, and editing shows it whole."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._tooltip = ""
        self.textChanged.connect(self._update_tooltip)

    def setToolTip(self, text: str) -> None:  # Qt's name; the full path is added to it
        if self.property("invalid"):
            super().setToolTip(text)  # mark_invalid's reason, shown as it is
            return
        self._tooltip = text
        self._update_tooltip()

    def toolTip(self) -> str:  # Qt's name: the tooltip set, without the path
        return self._tooltip

    def _update_tooltip(self) -> None:
        if self.property("invalid"):
            return  # mark_invalid's reason is showing
        path = self.text()
        super().setToolTip("\n".join(t for t in (path, self._tooltip) if t))

    def displayed_text(self) -> str:
        """What the box shows now (elided in the middle when the path does not fit)."""
        text = self.text()
        if self.hasFocus() or not text:
            return text
        return self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, self._text_rect().width())

    def _text_rect(self):
        opt = QStyleOptionFrame()
        self.initStyleOption(opt)
        return self.style().subElementRect(QStyle.SubElement.SE_LineEditContents, opt, self).adjusted(2, 0, -2, 0)

    def paintEvent(self, event) -> None:
        shown = self.displayed_text()
        if shown == self.text():
            super().paintEvent(event)
            return
        opt = QStyleOptionFrame()
        self.initStyleOption(opt)
        painter = QPainter(self)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_PanelLineEdit, opt, painter, self)
        painter.setPen(self.palette().color(QPalette.ColorRole.Text))
        painter.drawText(self._text_rect(), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, shown)
        painter.end()


class PathField(QWidget):
    """A path line edit with a browse button: a folder, or a file matching ``file_filter``.
    It stretches to the width it is given; a long path is elided in the middle (:class:`PathEdit`)."""

    changed = Signal(str)

    def __init__(
        self, mode: str = "folder", file_filter: str = "", placeholder: str = "", parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.mode = mode
        self.file_filter = file_filter
        self.edit = PathEdit()
        self.edit.setMinimumWidth(120)
        self.edit.setPlaceholderText(placeholder)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.edit.textChanged.connect(self.changed)
        self.button = QPushButton("Browse…")
        self.button.clicked.connect(self.browse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.button)

    def text(self) -> str:
        return self.edit.text().strip()

    def setText(self, text: str) -> None:
        self.edit.setText(text)

    def browse(self) -> None:
        start = self.text()
        if self.mode == "folder":
            path = QFileDialog.getExistingDirectory(self, "Choose a folder", start)
        elif self.mode == "save":
            path, _ = QFileDialog.getSaveFileName(self, "Save as", start, self.file_filter)
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Choose a file", start, self.file_filter)
        if path:
            self.edit.setText(path)
