"""Curves of several runs on one set of axes: loss, accuracy and learning rate per epoch.

Each run has one colour in all three plots (validation solid, training dashed). The legend
is a row of labels under the plots, not an item inside them, so it never hides a curve
however many runs are shown. The Train tab's live run can be added as one more series.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .. import theme

__all__ = ["LIVE_KEY", "RunsOverlay", "run_color"]

LIVE_KEY = "<live>"
# (plot, metric, dashed)
_METRICS = [
    ("loss", "val_loss", False),
    ("loss", "train_loss", True),
    ("acc", "val_acc", False),
    ("acc", "train_acc", True),
    ("lr", "lr", False),
]
_TITLES = {"loss": "Loss", "acc": "Accuracy", "lr": "Learning rate"}


def run_color(i: int, dark: bool) -> QColor:
    """Well-separated hues (golden-ratio steps), lightness readable on the theme's background."""
    return QColor.fromHslF((0.6 + i * 0.381966) % 1.0, 0.70 if dark else 0.75, 0.64 if dark else 0.42)


def _points(rows: list[dict], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i, row in enumerate(rows):
        value = row.get(key)
        if isinstance(value, (int, float)) and value == value:  # skips None and NaN
            xs.append(float(row.get("epoch", i + 1)))
            ys.append(float(value))
    return xs, ys


class RunsOverlay(QWidget):
    """``set_runs([(key, name, rows)])`` and ``set_live(name, rows)``; ``series`` lists what is drawn."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.runs: list[tuple[str, str, list[dict]]] = []
        self.live: tuple[str, list[dict]] | None = None
        self.views: dict = {}
        self.items: dict[tuple[str, str], object] = {}  # (run key, metric) -> PlotDataItem
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self._plots = QWidget()
        self._row = QHBoxLayout(self._plots)
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.setSpacing(2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._plots, 1)
        layout.addWidget(self.legend)

    def _ensure_plots(self) -> None:
        if self.views:
            return
        pg = theme.pyqtgraph()
        for name, title in _TITLES.items():
            view = pg.PlotWidget(title=title)
            view.hideButtons()
            plot = view.getPlotItem()
            plot.setLabel("bottom", "epoch")
            plot.setMenuEnabled(False)
            theme.style_plot(view, self.palette())
            self._row.addWidget(view, 1)
            self.views[name] = view

    def set_runs(self, runs: list[tuple[str, str, list[dict]]]) -> None:
        """``(key, name, per-epoch rows)`` per run, in legend order."""
        self.runs = list(runs)
        self.redraw()

    def set_live(self, name: str | None, rows: list[dict] | None) -> None:
        self.live = (name, list(rows)) if name and rows is not None else None
        self.redraw()

    @property
    def series(self) -> list[tuple[str, str, list[dict]]]:
        out = list(self.runs)
        if self.live is not None:
            out.append((LIVE_KEY, f"{self.live[0]} (live)", self.live[1]))
        return out

    def redraw(self) -> None:
        self._ensure_plots()
        pg = theme.pyqtgraph()
        for view in self.views.values():
            view.getPlotItem().clear()
        self.items.clear()
        dark = theme.is_dark(self.palette())
        legend = []
        for i, (key, name, rows) in enumerate(self.series):
            color = run_color(i, dark)
            for plot, metric, dashed in _METRICS:
                xs, ys = _points(rows, metric)
                if not xs:
                    continue
                style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
                pen = pg.mkPen(color, width=1.5 if dashed else 2, style=style)
                item = self.views[plot].plot(xs, ys, pen=pen, symbol=None if dashed else "o", symbolSize=4)
                if not dashed:
                    item.setSymbolBrush(pg.mkBrush(color))
                    item.setSymbolPen(pg.mkPen(color))
                self.items[(key, metric)] = item
            label = Path(name).name if key != LIVE_KEY else name
            legend.append(f'<span style="color:{color.name()}; font-weight:bold">━━</span>&nbsp;{label}')
        if legend:
            self.legend.setText(
                "&nbsp;&nbsp;&nbsp; ".join(legend) + "&nbsp;&nbsp;&nbsp; <i>(solid: validation, dashed: training)</i>"
            )
        else:
            self.legend.setText("<i>Select runs above to compare their curves.</i>")
