"""The Evaluate tab: honest accuracy of a checkpoint on held-out data, per-class precision /
recall / F1, a confusion matrix, and a gallery of the most confident mistakes (click a
confusion cell to see that pair). Reports export as JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

import engine

from ..background import engine_calls
from ..background.task import Task, TaskError
from ..settings import Settings
from ..widgets.checkpoint_picker import CheckpointPicker
from ..widgets.data_picker import DataSourcePicker
from ..widgets.message_bar import MessageBar
from .confusion_view import ConfusionView
from .mistakes_gallery import MistakesGallery, rank_mistakes
from .report_png import report_image

__all__ = ["EvaluateTab"]


class EvaluateTab(QWidget):
    evaluation_finished = Signal()
    status_message = Signal(str)

    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self.report = None
        self.device = "cpu"
        self._follow_predict = True  # use the Predict tab's checkpoint until one is chosen here
        self._task: Task | None = None
        self._build()
        self.setEnabled(False)

    def _build(self) -> None:
        self.picker = CheckpointPicker()
        self.data = DataSourcePicker()
        self.split = QComboBox()
        for value, text in engine.SPLITS.items():  # the engine's names and words, written once
            self.split.addItem(text, value)
        self.tta = QCheckBox("Test-time augmentation")
        self.run_button = QPushButton("Evaluate")
        self.run_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        # Wide enough for the engine's progress text ("decoding 10,000/10,000"), never clipped:
        # it stretches with the row, and the tooltip holds the whole line.
        self.busy.setMinimumWidth(self.busy.fontMetrics().horizontalAdvance("evaluating 10,000/10,000 images") + 60)
        self.busy.hide()
        self.message = MessageBar()
        self.accuracy = QLabel("Choose a checkpoint and data, then Evaluate.")
        font = QFont(self.accuracy.font())
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.accuracy.setFont(font)
        self.accuracy.setWordWrap(True)
        self.metrics = QTableWidget(0, 5)
        self.metrics.setHorizontalHeaderLabels(["Class", "Precision", "Recall", "F1", "Images"])
        self.metrics.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.metrics.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.metrics.verticalHeader().hide()
        self.metrics.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.confusion = ConfusionView()
        self.gallery = MistakesGallery()
        self.gallery_label = QLabel("Mistakes appear here")
        self.show_all_button = QPushButton("Show all mistakes")
        self.export_json_button = QPushButton("Export JSON…")
        self.export_csv_button = QPushButton("Export CSV…")
        self.export_png_button = QPushButton("Export PNG…")
        self.export_png_button.setToolTip("The per-class table and the confusion matrix as one image")

        controls = QGridLayout()
        controls.addWidget(self.picker, 0, 0, 1, 4)
        controls.addWidget(QLabel("Data"), 1, 0)
        controls.addWidget(self.data, 1, 1)
        controls.addWidget(self.split, 1, 2)
        controls.addWidget(self.tta, 1, 3)
        controls.setColumnStretch(1, 1)
        buttons = QHBoxLayout()
        for w in (self.run_button, self.cancel_button):
            buttons.addWidget(w)
        buttons.addWidget(self.busy, 2)
        buttons.addStretch(1)
        buttons.addWidget(self.export_json_button)
        buttons.addWidget(self.export_csv_button)
        buttons.addWidget(self.export_png_button)
        gallery_head = QHBoxLayout()
        gallery_head.addWidget(self.gallery_label, 1)
        gallery_head.addWidget(self.show_all_button)
        gallery_box = QWidget()
        gallery_col = QVBoxLayout(gallery_box)
        gallery_col.setContentsMargins(0, 0, 0, 0)
        gallery_col.addLayout(gallery_head)
        gallery_col.addWidget(self.gallery)
        upper = QSplitter()
        upper.addWidget(self.metrics)
        upper.addWidget(self.confusion)
        upper.setSizes([380, 880])
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(upper)
        body.addWidget(gallery_box)
        body.setSizes([330, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(controls)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(self.accuracy)
        layout.addWidget(body, 1)

        self.run_button.clicked.connect(self.evaluate)
        self.cancel_button.clicked.connect(self.cancel)
        self.picker.combo.activated.connect(lambda _i: setattr(self, "_follow_predict", False))
        self.picker.browse_button.clicked.connect(lambda: setattr(self, "_follow_predict", False))
        self.picker.load_failed.connect(lambda msg: self.message.show_message(msg, "error"))
        self.confusion.pair_clicked.connect(lambda t, p: self._filter((t, p)))
        self.confusion.all_clicked.connect(lambda: self._filter(None))
        self.show_all_button.clicked.connect(lambda: self._filter(None))
        self.export_json_button.clicked.connect(lambda: self.export_json())
        self.export_csv_button.clicked.connect(lambda: self.export_csv())
        self.export_png_button.clicked.connect(lambda: self.export_png())
        self._update_buttons()

    # ----------------------------------------------------------------- wiring
    def engine_ready(self, info) -> None:
        self.device = info.torch_device
        self.data.set_builtins(info.datasets)
        if self.settings.evaluate_data:
            self.data.set_value(self.settings.evaluate_data)
        else:
            # Like the Train tab: data that needs no download when there is some (CIFAR-10
            # downloaded earlier, the shared archive), and the line under the result says so.
            found, where = getattr(info, "default_data", (None, ""))
            if found is not None:
                self.data.set_value(found)
                if found != "cifar10":
                    # The archive holds training images only: its validation split is the part
                    # the bundled model never trained on (what its model card reports).
                    self.split.setCurrentIndex(self.split.findData("val"))
                self.accuracy.setText(f"Choose a checkpoint, then Evaluate. Data: {where}.")
        self.picker.set_entries(info.default_checkpoint, self.settings.recent_checkpoints, info.bundled_checkpoints)
        self.setEnabled(True)

    def follow_checkpoint(self, path: str, info=None) -> None:
        """The Predict tab's checkpoint, used here until the user picks another; with ``info``
        (what the Predict tab loaded from it), shown without loading the file again."""
        if not self._follow_predict:
            return
        if path != self.picker.current_path():
            if info is not None:
                self.picker.show_loaded(path, info)
            else:
                self.picker.set_checkpoint(path)
        elif self.picker.info is None and info is not None:  # listed first (the bundled model) but not described yet
            self.picker.show_loaded(path, info)

    def set_checkpoint(self, path: str) -> None:
        self._follow_predict = False
        self.picker.set_checkpoint(path)

    # ----------------------------------------------------------------- running
    def evaluate(self) -> bool:
        checkpoint, data = self.picker.current_path(), self.data.value()
        if not checkpoint:
            self.message.show_message("Choose a checkpoint first.", "warning")
            return False
        if not data:
            self.message.show_message("Choose the data to evaluate on.", "warning")
            return False
        self.settings.evaluate_data = data
        self.message.clear()
        split, tta = self.split.currentData(), 2 if self.tta.isChecked() else 0
        task = Task(engine_calls.evaluate, checkpoint, data, split, tta, self.device, name="evaluate")
        task.succeeded.connect(self._show_report)
        task.failed.connect(self._on_failed)
        task.finished.connect(self._on_done)
        task.progress.connect(self._on_progress)
        self.busy.setRange(0, 0)  # busy until the engine reports how far it is
        self.last_progress: tuple[float | None, str] | None = None
        self._task = task.start()
        self.accuracy.setText(f"Evaluating {Path(checkpoint).name} on {data}…")
        self.status_message.emit("Evaluating…")
        self._update_buttons()
        return True

    def _on_progress(self, fraction, text: str) -> None:
        """The engine's evaluation progress ("decoding 1,200/10,000", "evaluating ...")."""
        self.last_progress = (fraction, text)
        if fraction is None:
            self.busy.setRange(0, 0)
        else:
            self.busy.setRange(0, 1000)
            self.busy.setValue(round(fraction * 1000))
        if text:
            self.busy.setFormat(f"{text}")
            self.busy.setToolTip(text)
            self.busy.setTextVisible(True)
            self.status_message.emit(f"Evaluating: {text}")

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def shutdown(self) -> None:
        self.cancel()

    @property
    def running(self) -> bool:
        return self._task is not None

    def _on_failed(self, error: TaskError) -> None:
        message = error.message
        if self._task is not None and self._task.state.is_interruption_requested():
            self.message.show_message("Evaluation cancelled.", "info")
            self.accuracy.setText("No result.")
            return
        self.message.show_message(f"Evaluation failed: {message}", "error")
        self.accuracy.setText("No result.")
        self.status_message.emit(f"Evaluation failed: {message}")

    def _on_done(self) -> None:
        self._task = None
        self._update_buttons()
        self.evaluation_finished.emit()

    def _update_buttons(self) -> None:
        running = self.running
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.busy.setVisible(running)
        self.export_json_button.setEnabled(self.report is not None)
        self.export_csv_button.setEnabled(self.report is not None)
        self.export_png_button.setEnabled(self.report is not None)
        self.show_all_button.setEnabled(self.report is not None and self.gallery.pair is not None)

    # ----------------------------------------------------------------- results
    def _show_report(self, report) -> None:
        self.report = report
        r = report.result
        wrong = int((r.predictions != r.labels).sum())
        self.accuracy.setText(
            f"Accuracy {r.accuracy:.2%} · {engine.plural(wrong, 'mistake')} · loss {r.loss:.4f} · {report.describe()}"
        )
        self.metrics.setRowCount(len(report.classes))
        support = r.confusion.sum(axis=1)
        for i, name in enumerate(report.classes):
            cells = [name, f"{r.precision[i]:.3f}", f"{r.recall[i]:.3f}", f"{r.f1[i]:.3f}", str(int(support[i]))]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.metrics.setItem(i, j, item)
        self.confusion.set_matrix(r.confusion, report.classes)
        self.gallery.set_report(report)
        self.gallery_label.setText(self.gallery.describe())
        self.status_message.emit(f"Accuracy {r.accuracy:.2%} ({report.describe()})")

    def _filter(self, pair: tuple[int, int] | None) -> None:
        if self.report is None:
            return
        self.gallery.show_pair(pair)
        self.gallery_label.setText(self.gallery.describe())
        self._update_buttons()

    def export_json(self, path: str | None = None) -> str | None:
        if self.report is None:
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export report", "evaluation.json", "JSON files (*.json)")
        if not path:
            return None
        data = self.report.to_dict()
        r = self.report.result
        data["checkpoint"] = self.picker.current_path()
        data["mistakes"] = [
            {
                "index": int(i),
                "true": self.report.classes[int(r.labels[i])],
                "predicted": self.report.classes[int(r.predictions[i])],
                "confidence": float(r.probabilities[i, r.predictions[i]]),
            }
            for i in rank_mistakes(r.labels, r.predictions, r.probabilities)
        ]
        return self._write(path, json.dumps(data, indent=2) + "\n")

    def export_csv(self, path: str | None = None) -> str | None:
        """Per-class precision, recall, F1 and support, then that class's confusion-matrix row."""
        if self.report is None:
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export report", "evaluation.csv", "CSV files (*.csv)")
        if not path:
            return None
        r, classes = self.report.result, self.report.classes
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["class", "precision", "recall", "f1", "support", *(f"predicted:{c}" for c in classes)])
        for i, c in enumerate(classes):
            row = [c, f"{r.precision[i]:.6f}", f"{r.recall[i]:.6f}", f"{r.f1[i]:.6f}", int(r.confusion[i].sum())]
            writer.writerow([*row, *map(int, r.confusion[i])])
        writer.writerow(["accuracy", f"{r.accuracy:.6f}", "", "", len(r.labels)])
        return self._write(path, buffer.getvalue())

    def export_png(self, path: str | None = None) -> str | None:
        """The accuracy line, the per-class table and the confusion matrix as one PNG."""
        if self.report is None:
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export report", "evaluation.png", "PNG images (*.png)")
        if not path:
            return None
        if not report_image(self.accuracy, self.metrics, self.confusion).save(path, "PNG"):
            self.message.show_message(f"Could not write {path}", "error")
            return None
        self.status_message.emit(f"Report image saved to {path}")
        return path

    def _write(self, path: str, text: str) -> str | None:
        try:
            Path(path).write_text(text, encoding="utf-8", newline="")  # csv rows carry their own \r\n
        except OSError as exc:
            self.message.show_message(f"Could not write {path}: {exc.strerror}", "error")
            return None
        self.status_message.emit(f"Report saved to {path}")
        return path
