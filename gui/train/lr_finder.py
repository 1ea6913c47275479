"""The learning-rate finder: a short sweep of the learning rate (engine.lr_find) in the
background, loss against learning rate on a log axis drawn as each step is measured, the
engine's suggestion marked at the end, and Apply to put the suggestion into the form (and
close the dialog).

The sweep trains a throwaway copy of the configured model on the configured data, so the
form's run is unaffected; Cancel ends it early with what was measured so far.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .. import theme
from ..background import run_calls
from ..background.current import CurrentTask
from ..background.task import TaskError
from ..widgets.message_bar import MessageBar

__all__ = ["LRFinderDialog"]

DEFAULT_STEPS = 100


class LRFinderDialog(QDialog):
    """``run()`` sweeps ``config``; ``applied(lr)`` when the user applies the suggestion."""

    applied = Signal(float)
    sweep_done = Signal()

    def __init__(self, config, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Learning-rate finder")
        self.config = config
        self.result = None
        self._task = CurrentTask()
        self.steps = QSpinBox()
        self.steps.setRange(10, 1000)
        self.steps.setValue(DEFAULT_STEPS)
        self.steps.setToolTip("Training steps of the sweep (one batch each), from 1e-7 to 10")
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Set the form's learning rate to the suggestion")
        self.progress = QProgressBar()
        self.progress.setFormat("%p%")
        self.message = MessageBar()
        self.summary = QLabel(
            f"Sweeps {config.model} on {config.data} (batch {config.batch_size}, {config.optimizer}); "
            "the model you train is not changed."
        )
        self.summary.setWordWrap(True)
        self.suggestion_label = QLabel()
        self.suggestion_label.setWordWrap(True)
        pg = theme.pyqtgraph()
        self.plot_widget = pg.PlotWidget(title="Loss against learning rate")
        self.plot_widget.hideButtons()
        plot = self.plot_widget.getPlotItem()
        plot.setLogMode(x=True, y=False)
        plot.setLabel("bottom", "learning rate (log scale)")
        plot.setLabel("left", "loss")
        plot.setMenuEnabled(False)
        theme.style_plot(self.plot_widget, self.palette())
        pal = self.palette()
        faint = theme.series_color("train", pal)
        faint.setAlphaF(0.4)  # the raw per-step loss is noisy: the smoothed curve is the one to read
        self.raw_curve = plot.plot([], [], pen=pg.mkPen(faint, width=1))
        self.smooth_curve = plot.plot([], [], pen=pg.mkPen(theme.series_color("train", pal), width=2))
        self.marker = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(theme.series_color("val", pal), width=2))
        self.marker.setVisible(False)
        plot.addItem(self.marker)
        self.point = plot.plot([], [], pen=None, symbol="o", symbolSize=10, symbolBrush=theme.series_color("val", pal))

        row = QHBoxLayout()
        row.addWidget(QLabel("Steps"))
        row.addWidget(self.steps)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress, 1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.addButton(self.apply_button, QDialogButtonBox.ButtonRole.ActionRole)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.suggestion_label)
        layout.addWidget(close)
        self.resize(720, 520)
        self.run_button.clicked.connect(lambda: self.run())
        self.cancel_button.clicked.connect(self.cancel)
        self.apply_button.clicked.connect(self.apply)
        self._update_buttons()

    @property
    def busy(self) -> bool:
        return self._task.busy

    def run(self) -> bool:
        if self.busy:
            return False
        self.message.clear()
        self.result = None
        self._live_lrs: list[float] = []
        self._live_losses: list[float] = []
        self.raw_curve.setData([], [])
        self.smooth_curve.setData([], [])
        self.marker.setVisible(False)
        self.point.setData([], [])
        self.plot_widget.getPlotItem().enableAutoRange(y=True)
        self.progress.setValue(0)
        self.progress.setRange(0, 0)  # loading data: no step count yet
        task = self._task.start(run_calls.find_lr, self.config, self.steps.value(), name="lr finder")
        task.progress.connect(self._on_progress)
        task.partial.connect(self._on_point)
        task.succeeded.connect(self._show_result)
        task.failed.connect(self._on_failed)
        task.finished.connect(self._on_finished)
        task.start()
        self.suggestion_label.setText("Sweeping…")
        self._update_buttons()
        return True

    def cancel(self) -> None:
        """End the sweep now; what was measured is still shown (the engine returns it)."""
        task = self._task.task
        if task is not None:
            task.cancel()

    def _on_progress(self, fraction, text: str) -> None:
        if fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(fraction * 1000))
        self.progress.setFormat(text or "%p%")

    def _on_point(self, point) -> None:
        """One measured step, ``(lr, smoothed loss)``: the smoothed curve grows as the sweep runs."""
        lr, loss = point
        if not math.isfinite(loss):
            return
        self._live_lrs.append(lr)
        self._live_losses.append(loss)
        self.smooth_curve.setData(self._live_lrs, self._live_losses)

    def _show_result(self, result) -> None:
        self.result = result
        lrs = list(result.lrs)
        self.raw_curve.setData(lrs, list(result.losses))
        self.smooth_curve.setData(lrs, list(result.smoothed))
        finite = [v for v in result.smoothed if math.isfinite(v)]
        if finite:
            # The diverging tail would squash the part that matters: show from the lowest loss
            # to a little above where the sweep started.
            lo, hi = min(finite), max(finite[0], min(finite)) + 1e-6
            self.plot_widget.getPlotItem().setYRange(lo - 0.1 * (hi - lo), hi + 0.35 * (hi - lo), padding=0)
        if result.suggestion is not None:
            log_lr = math.log10(result.suggestion)
            self.marker.setValue(log_lr)  # the x axis is in log10 units in log mode
            self.marker.setVisible(True)
            nearest = min(range(len(lrs)), key=lambda i: abs(math.log10(lrs[i]) - log_lr)) if lrs else None
            if nearest is not None:
                self.point.setData([lrs[nearest]], [result.smoothed[nearest]])
            ended = f" ({result.reason})" if result.stopped_early and result.reason else ""
            self.suggestion_label.setText(
                f"Suggested learning rate: <b>{result.suggestion:.2g}</b> — {result.rule}. "
                f"Lowest loss at {result.min_loss_lr:.2g}.{ended}"
                if result.min_loss_lr is not None
                else f"Suggested learning rate: <b>{result.suggestion:.2g}</b> — {result.rule}.{ended}"
            )
        else:
            self.marker.setVisible(False)
            self.point.setData([], [])
            self.suggestion_label.setText(
                f"No suggestion: too few steps were measured{f' ({result.reason})' if result.reason else ''}."
            )
        self.sweep_done.emit()

    def _on_failed(self, error: TaskError) -> None:
        self.message.show_message(f"LR finder: {error.message}", "error")
        self.suggestion_label.clear()
        self.sweep_done.emit()

    def _on_finished(self) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(1000 if self.result is not None else 0)
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.busy
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.steps.setEnabled(not busy)
        self.apply_button.setEnabled(not busy and self.result is not None and self.result.suggestion is not None)

    def apply(self) -> float | None:
        if self.result is None or self.result.suggestion is None:
            return None
        lr = float(f"{self.result.suggestion:.2g}")  # a value a person would type
        self.applied.emit(lr)
        self.accept()  # applied: the dialog has done its job
        return lr

    def done(self, code: int) -> None:
        self._task.cancel()
        super().done(code)
