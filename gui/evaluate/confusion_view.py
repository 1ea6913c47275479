"""Confusion matrix as a coloured grid (rows: true class, columns: predicted), shaded by the
fraction of each true class; clicking an off-diagonal cell asks for that pair's mistakes."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from .. import theme

__all__ = ["ConfusionView"]


class ConfusionView(QTableWidget):
    """``pair_clicked(true_index, predicted_index)``; a diagonal cell emits ``all_clicked``."""

    pair_clicked = Signal(int, int)
    all_clicked = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.matrix = None  # numpy array (true x predicted counts) once set
        self.classes: list[str] = []
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.setToolTip("Rows: true class; columns: predicted class. Click a cell to see those mistakes.")
        self.cellClicked.connect(self._on_click)

    def set_matrix(self, matrix, classes: list[str]) -> None:
        self.matrix = matrix
        self.classes = list(classes)
        n = len(classes)
        self.clear()
        self.setRowCount(n)
        self.setColumnCount(n)
        short = [c if len(c) <= 10 else c[:9] + "…" for c in classes]
        self.setHorizontalHeaderLabels([f"→ {c}" for c in short])
        self.setVerticalHeaderLabels(short)
        for i in range(n):
            self.horizontalHeaderItem(i).setToolTip(f"predicted {classes[i]}")
            self.verticalHeaderItem(i).setToolTip(f"true {classes[i]}")
        self._paint_cells()

    def _paint_cells(self) -> None:
        pal = self.palette()
        base = theme.color(pal, QPalette.ColorRole.Base)
        text = theme.color(pal, QPalette.ColorRole.Text)
        good = theme.color(pal, QPalette.ColorRole.Highlight)
        bad = theme.series_color("bad", pal)
        totals = self.matrix.sum(axis=1) if self.matrix is not None else []
        for i in range(len(self.classes)):
            for j in range(len(self.classes)):
                count = int(self.matrix[i, j])
                fraction = count / totals[i] if totals[i] else 0.0
                item = QTableWidgetItem(str(count))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                shade = theme.blend(base, good if i == j else bad, fraction if i == j else min(1.0, fraction * 2.5))
                item.setBackground(shade)
                item.setForeground(
                    text
                    if shade.lightnessF() > 0.55 or (shade.lightnessF() > 0.35 and text.lightnessF() > 0.5)
                    else theme.color(pal, QPalette.ColorRole.HighlightedText)
                )
                item.setToolTip(
                    f"true {self.classes[i]}, predicted {self.classes[j]}: {count} "
                    f"({fraction:.1%} of {self.classes[i]})"
                )
                self.setItem(i, j, item)

    def _on_click(self, row: int, col: int) -> None:
        if row == col:
            self.all_clicked.emit()
        else:
            self.pair_clicked.emit(row, col)

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange and self.classes:
            self._paint_cells()
        super().changeEvent(event)
