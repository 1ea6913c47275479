"""Live training curves: loss, accuracy and learning rate, drawn with pyqtgraph.

Curves are created once and fed with ``setData``; points are kept in growable numpy
buffers; batch updates only mark the view dirty and a timer redraws at most 20 times a
second. ``setClipToView`` and automatic peak downsampling keep long runs cheap. No grid
lines: blending them over the whole plot area was the most expensive part of a repaint.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .. import theme

# Imports inside functions: numpy arrives with pyqtgraph, imported in a worker after the first paint
# (gui/theme.py); the curves use it only once plots exist.

if TYPE_CHECKING:
    import numpy as np

__all__ = ["METRIC_COLUMNS", "CurvesView", "Series"]

METRIC_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "elapsed_s", "images_per_s"]
REDRAW_INTERVAL_MS = 50  # at most 20 redraws per second however fast batches arrive


class Series:
    """Growable (x, y) float buffers; amortised O(1) append, views without copying."""

    def __init__(self, capacity: int = 1024):
        self._capacity = capacity
        self._x = self._y = None  # allocated on the first point (numpy loads after the window shows)
        self.n = 0

    def append(self, x: float, y: float | None) -> None:
        if y is None:
            return
        if self._x is None:
            import numpy as np

            self._x, self._y = np.empty(self._capacity), np.empty(self._capacity)
        elif self.n == len(self._x):
            import numpy as np

            self._x = np.resize(self._x, 2 * self.n)
            self._y = np.resize(self._y, 2 * self.n)
        self._x[self.n] = x
        self._y[self.n] = y
        self.n += 1

    def clear(self) -> None:
        self.n = 0

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n] if self._x is not None else _empty()

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n] if self._y is not None else _empty()


def _empty():
    import numpy as np

    return np.empty(0)


def legend_html(pal) -> str:
    """One line naming every curve in its colour: "━ train (per batch)  ● train (epoch) ..."."""
    items, seen = [], set()
    for key, _plot, legend, color_key, per_batch in _SERIES:
        label = "loss per batch" if key == "batch_loss" else legend
        label = {"train_loss": "training", "train_acc": None, "val_loss": "validation", "val_acc": None}.get(key, label)
        if label is None or label in seen:
            continue
        seen.add(label)
        mark = "━━" if per_batch else "━●━"
        name = theme.series_color(color_key, pal).name()
        items.append(f'<span style="color:{name}; font-weight:bold">{mark}</span>&nbsp;{label}')
    return "&nbsp;&nbsp;&nbsp;&nbsp;".join(items)


def _steps_per_epoch(rows: list[dict]) -> int:
    """Batches per epoch from batches.jsonl rows: global_step = (epoch - 1) * steps + step."""
    for row in rows:
        if row["epoch"] > 1 and isinstance(row.get("global_step"), int):
            return max(1, (row["global_step"] - row["step"]) // (row["epoch"] - 1))
    return max((row["step"] for row in rows), default=1)


# (series key, plot, legend name, colour key, per-batch?)
_SERIES = [
    ("batch_loss", "loss", "train (per batch)", "train", True),
    ("train_loss", "loss", "train (epoch)", "train", False),
    ("val_loss", "loss", "validation", "val", False),
    ("train_acc", "acc", "train", "train", False),
    ("val_acc", "acc", "validation", "val", False),
    ("lr", "lr", "learning rate", "lr", True),
]


class CurvesView(QWidget):
    """``reset(history)``, ``add_batch(BatchEnd)``, ``add_epoch(row)``; exports PNG and CSV."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.series = {key: Series() for key, *_ in _SERIES}
        self.rows: list[dict] = []  # per-epoch metrics, for the CSV export
        self.epochs: int | None = None  # length of the run, for the x axes
        self.widget = None
        self.legend: QLabel | None = None
        self.plots: dict = {}
        self.curves: dict = {}
        self.redraws = 0
        self._dirty: set[str] = set()  # plots with new points ("loss", "acc", "lr")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._placeholder = QLabel("Training curves appear here")
        self._layout.addWidget(self._placeholder)
        self._timer = QTimer(self, interval=REDRAW_INTERVAL_MS, timeout=self._redraw_if_dirty)
        self._timer.start()

    # ----------------------------------------------------------------- building (deferred)
    def ensure_plots(self) -> None:
        if self.widget is not None:
            return
        pg = theme.pyqtgraph()
        # One PlotWidget (one viewport) per plot: a batch update repaints the loss and
        # learning-rate plots only, not the accuracy plot, which changes once per epoch.
        self.widget = QWidget()
        row = QHBoxLayout(self.widget)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        self.views = {}
        titles = {"loss": "Loss", "acc": "Accuracy", "lr": "Learning rate"}
        for name, title in titles.items():
            view = pg.PlotWidget(title=title)
            view.hideButtons()
            row.addWidget(view, 1)
            self.views[name] = view
            plot = view.getPlotItem()
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")
            plot.setLabel("bottom", "epoch")
            # A fixed axis width: new tick labels (0.5 -> 0.25 ...) then never re-lay out the
            # plots, which would repaint all three at once.
            plot.getAxis("left").setWidth(self.fontMetrics().horizontalAdvance("0.0000") + 14)
            plot.setMenuEnabled(False)
            self.plots[name] = plot
        self.plots["acc"].setYRange(0, 1, padding=0.02)
        for key, plot_name, legend, _color, per_batch in _SERIES:
            # Per-batch curves are long and thin: drawn without antialiasing, they paint several
            # times faster, which is what keeps each repaint (a GUI-thread stall) short.
            curve = self.plots[plot_name].plot([], [], name=legend, antialias=not per_batch)
            if not per_batch:
                curve.setSymbol("o")
                curve.setSymbolSize(5)
            self.curves[key] = curve
        # The legend is a line of text under the plots, never a box over them: whatever corner a
        # box takes, some run's curves pass through it.
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self._layout.removeWidget(self._placeholder)
        self._placeholder.deleteLater()
        self._layout.addWidget(self.widget, 1)
        self._layout.addWidget(self.legend)
        self._apply_x_range()
        self._apply_theme()
        self._dirty = {"loss", "acc", "lr"}

    def _apply_theme(self) -> None:
        if self.widget is None:
            return
        pg = theme.pyqtgraph()
        pal = self.palette()
        for view in self.views.values():
            theme.style_plot(view, pal)
        for key, _plot, _legend, color_key, per_batch in _SERIES:
            color = theme.series_color(color_key, pal)
            if per_batch and key == "batch_loss":
                color.setAlphaF(0.45)  # the noisy per-batch loss stays in the background
            curve = self.curves[key]
            curve.setPen(pg.mkPen(color, width=1 if per_batch else 2))
            if not per_batch:
                curve.setSymbolBrush(pg.mkBrush(color))
                curve.setSymbolPen(pg.mkPen(color))
        self.legend.setText(legend_html(pal))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_theme()
        super().changeEvent(event)

    # ----------------------------------------------------------------- data
    def reset(
        self,
        history: list[dict] | None = None,
        epochs: int | None = None,
        batch_history: list[dict] | None = None,
        steps_per_epoch: int | None = None,
    ) -> None:
        """Clear, then show earlier epochs (a resumed run's RunStarted.history) and, when
        given, the per-batch rows from before a stop (RunStarted.batch_history, batches.jsonl).

        With ``epochs`` the x axes span the whole run, so the curves grow towards the end.
        """
        for s in self.series.values():
            s.clear()
        self.rows = []
        batches = [r for r in batch_history or [] if isinstance(r.get("step"), int) and r.get("epoch")]
        spe = steps_per_epoch or _steps_per_epoch(batches)
        for row in batches:
            x = row["epoch"] - 1 + row["step"] / max(spe, 1)
            self.series["batch_loss"].append(x, row.get("loss"))
            self.series["lr"].append(x, row.get("lr"))
        for row in history or []:
            self.add_epoch(row)
            if not batches:
                self.series["lr"].append(row["epoch"], row.get("lr"))
        self.epochs = epochs
        self._apply_x_range()
        self._dirty = {"loss", "acc", "lr"}

    def _apply_x_range(self) -> None:
        if self.widget is None:
            return
        for plot in self.plots.values():
            if self.epochs:
                plot.setXRange(0, self.epochs, padding=0.02)
            else:
                plot.enableAutoRange(x=True)

    def add_batch(self, event) -> None:
        x = event.epoch - 1 + event.step / max(event.steps_per_epoch, 1)
        self.series["batch_loss"].append(x, event.loss)
        self.series["lr"].append(x, event.lr)
        self._dirty |= {"loss", "lr"}

    def add_epoch(self, row: dict) -> None:
        """One row of per-epoch metrics (EpochEnd.metrics / RunStarted.history)."""
        self.rows.append(dict(row))
        epoch = row["epoch"]
        for key in ("train_loss", "val_loss", "train_acc", "val_acc"):
            self.series[key].append(epoch, row.get(key))
        self._dirty |= {"loss", "acc"}

    @property
    def batch_count(self) -> int:
        return self.series["batch_loss"].n

    @property
    def epoch_count(self) -> int:
        return len(self.rows)

    def _redraw_if_dirty(self, force: bool = False) -> None:
        """Feed new points to one plot per timer tick (all of them when forced).

        Qt repaints every changed plot of the window in one pass, and that pass is time the
        event loop cannot use; one plot per tick keeps each pass short.
        """
        if not self._dirty or self.widget is None or not (force or self.isVisible()):
            return
        names = [n for n in ("loss", "lr", "acc") if n in self._dirty]
        for name in names if force else names[:1]:
            self._dirty.discard(name)
            self.redraws += 1
            for key, plot_name, *_ in _SERIES:
                if plot_name == name:
                    s = self.series[key]
                    self.curves[key].setData(s.x, s.y)

    def redraw_now(self) -> None:
        """Draw pending points even when hidden (export, screenshot)."""
        self.ensure_plots()
        self._dirty = {"loss", "acc", "lr"}
        self._redraw_if_dirty(force=True)

    # ----------------------------------------------------------------- export
    def export_png(self, path: str | Path) -> bool:
        """Save the three plots as shown (high-DPI screens give a sharper, larger image)."""
        self.ensure_plots()
        if not self.widget.isVisible() or self.widget.width() < 400:
            self.widget.resize(1200, 400)  # a hidden tab has no useful size of its own
        self.redraw_now()
        return self.widget.grab().save(str(path), "PNG")

    def export_csv(self, path: str | Path) -> None:
        extra = [k for row in self.rows for k in row if k not in METRIC_COLUMNS]
        columns = METRIC_COLUMNS + sorted(set(extra))
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for row in self.rows:
                writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
