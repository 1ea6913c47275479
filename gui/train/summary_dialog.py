"""A layer-by-layer summary of a model (engine.model_summary): output shape, parameters and
multiply-adds per layer, for the model and input size chosen in the form. Built in the
background (the model is created on torch's meta device, so even large ones are quick)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from ..background import run_calls
from ..background.current import CurrentTask
from ..background.task import TaskError

__all__ = ["SummaryDialog"]

_HEADERS = ["Layer", "Type", "Output shape", "Parameters", "Multiply-adds"]


class SummaryDialog(QDialog):
    """``ready`` once the table is filled (or the error shown)."""

    ready = Signal()

    def __init__(
        self, model: str, model_args: dict | None = None, num_classes: int = 10, input_size: int = 32, parent=None
    ):
        super().__init__(parent)
        self.setWindowTitle(f"Model summary: {model}")
        self.summary = None
        self.heading = QLabel(f"Building {model} for {input_size}×{input_size} images…")
        self.heading.setWordWrap(True)
        self.table = QTableWidget(0, len(_HEADERS))
        self.table.setHorizontalHeaderLabels(_HEADERS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.table, 1)
        layout.addWidget(box)
        self.resize(760, 600)
        self._task = CurrentTask()
        task = self._task.start(
            run_calls.model_summary, model, dict(model_args or {}), num_classes, input_size, name="model summary"
        )
        task.succeeded.connect(self._show)
        task.failed.connect(self._on_failed)
        task.start()

    def _show(self, summary) -> None:
        self.summary = summary
        self.table.setRowCount(len(summary.rows))
        for i, row in enumerate(summary.rows):
            shape = "×".join(map(str, row.output_shape[1:])) if row.output_shape else "–"
            cells = ["  " * row.depth + row.name, row.type, shape, f"{row.params:,}", f"{row.macs:,}"]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j >= 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
        size = "×".join(map(str, summary.input_shape[1:]))
        self.heading.setText(
            f"<b>{summary.model}</b>: input {size}, {summary.total_params:,} parameters "
            f"({summary.trainable_params:,} trainable), {summary.total_macs / 1e6:,.2f} M multiply-adds per image"
        )
        self.ready.emit()

    def _on_failed(self, error: TaskError) -> None:
        self.heading.setText(f"Cannot summarize this model: {error.message}")
        self.ready.emit()

    def done(self, code: int) -> None:
        self._task.cancel()
        super().done(code)
