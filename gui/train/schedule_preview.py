"""A small plot of the learning rate over the whole run (engine.schedule_preview), redrawn as
the form changes. The pyqtgraph widget is created on first use, after the window is up."""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .. import theme

__all__ = ["SchedulePreview"]


class SchedulePreview(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumHeight(120)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._placeholder = QLabel("Learning-rate preview appears here")
        self._layout.addWidget(self._placeholder)
        self.plot = None
        self._curve = None
        self.points: list[tuple[float, float]] = []

    def ensure_plot(self) -> None:
        if self.plot is not None:
            return
        pg = theme.pyqtgraph()
        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(120)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "epoch")
        item.setLabel("left", "learning rate")
        item.showGrid(x=True, y=True, alpha=0.2)
        self._curve = self.plot.plot([], [])
        self._layout.removeWidget(self._placeholder)
        self._placeholder.deleteLater()
        self._layout.addWidget(self.plot)
        self._apply_theme()
        self._redraw()

    def set_points(self, points: list[tuple[float, float]]) -> None:
        """(epoch, lr) pairs from engine.schedule_preview."""
        self.points = list(points)
        self._redraw()  # drawn now if the plot exists, else by ensure_plot (pyqtgraph loads late)

    def _redraw(self) -> None:
        if self._curve is None:
            return
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        self._curve.setData(xs, ys)
        if ys:
            top = max(ys)
            self.plot.getPlotItem().setYRange(0, top * 1.05 if top > 0 else 1, padding=0)

    def _apply_theme(self) -> None:
        if self.plot is None:
            return
        pg = theme.pyqtgraph()
        theme.style_plot(self.plot, self.palette())
        color = theme.series_color("lr", self.palette())
        self._curve.setPen(pg.mkPen(color, width=2))
        self._curve.setFillLevel(0)
        fill = color.lighter(100)
        fill.setAlphaF(0.18)
        self._curve.setBrush(pg.mkBrush(fill))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_theme()
        super().changeEvent(event)
