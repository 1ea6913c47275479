"""Probability bars you can click: a click on a class's row asks for that class's Grad-CAM
(the Predict tab's selected image, and every column of the checkpoint comparison)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QWidget

from .prob_bars import ProbBars

__all__ = ["ClassBars"]


class ClassBars(ProbBars):
    """``class_clicked(class name)`` when a row is clicked."""

    class_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click a class to see where the model looks for it (Grad-CAM)")

    def class_at(self, y: float) -> str | None:
        """The class drawn at height ``y`` (rows as ProbBars paints them), or None."""
        row = int((y - 2) // self._row_height())
        return self.ranked[row][0] if 0 <= row < len(self.ranked) else None

    def mousePressEvent(self, event) -> None:
        name = self.class_at(event.position().y())
        if name is not None:
            self.class_clicked.emit(name)
        super().mousePressEvent(event)
