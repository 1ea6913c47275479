"""A horizontal bar chart of class probabilities, sorted, painted with the palette's colours.

Painted by hand rather than with pyqtgraph: it is a dozen rectangles and labels, stays
sharp at any scale factor, and needs no plot machinery.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from .. import theme

__all__ = ["ProbBars"]


class ProbBars(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.ranked: list[tuple[str, float]] = []
        self.muted = False  # "probably none of these": no bar is drawn as the answer
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumHeight(60)

    def set_probabilities(self, probabilities: dict[str, float] | list[tuple[str, float]] | None) -> None:
        """Class -> probability (any order); drawn from most to least likely."""
        items = probabilities.items() if isinstance(probabilities, dict) else (probabilities or [])
        self.ranked = sorted(items, key=lambda kv: kv[1], reverse=True)
        self.updateGeometry()
        self.update()

    def set_muted(self, muted: bool) -> None:
        """Draw every bar alike (no highlighted top class) when the image is likely none of the classes."""
        self.muted = bool(muted)
        self.update()

    def _row_height(self) -> int:
        return self.fontMetrics().height() + 6

    def sizeHint(self) -> QSize:
        return QSize(320, max(60, self._row_height() * max(len(self.ranked), 3) + 4))

    def minimumSizeHint(self) -> QSize:
        return QSize(200, self.sizeHint().height())

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        text = theme.color(pal, QPalette.ColorRole.Text)
        top_color = theme.color(pal, QPalette.ColorRole.Highlight)
        other = theme.blend(theme.color(pal, QPalette.ColorRole.Base), text, 0.35)
        track = theme.blend(theme.color(pal, QPalette.ColorRole.Base), text, 0.08)
        fm = self.fontMetrics()
        row = self._row_height()
        name_w = max((fm.horizontalAdvance(name) for name, _ in self.ranked), default=0) + 10
        pct_w = fm.horizontalAdvance("100.0%") + 8
        bar_x = name_w
        bar_w = max(10, self.width() - name_w - pct_w)
        for i, (name, p) in enumerate(self.ranked):
            y = 2 + i * row
            painter.setPen(text)
            painter.drawText(
                QRectF(0, y, name_w - 8, row), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name
            )
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(track)
            painter.drawRoundedRect(QRectF(bar_x, y + 3, bar_w, row - 6), 3, 3)
            painter.setBrush(top_color if i == 0 and not self.muted else other)
            painter.drawRoundedRect(QRectF(bar_x, y + 3, max(p * bar_w, 1.5), row - 6), 3, 3)
            painter.setPen(text)
            painter.drawText(
                QRectF(bar_x + bar_w + 4, y, pct_w, row),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                f"{p:.1%}",
            )
        painter.end()
