"""Side-by-side checkpoints: two to four models classify the same photo, one column each,
with what each model sees (inputs of different sizes are shown at their own resolution),
its probabilities, and Grad-CAM for any class: click a class's bar in any column and every
model that knows that class shows where it looks for it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import engine

from ..background import prediction_calls
from ..background.current import CurrentTask
from ..background.qimages import array_to_qimage, heatmap_overlay, to_pixmap
from ..widgets.checkpoint_picker import CHECKPOINT_FILTER
from ..widgets.fields import PathField
from ..widgets.message_bar import MessageBar
from .class_bars import ClassBars
from .prediction_view import describe_source

__all__ = ["MAX_CHECKPOINTS", "CompareColumn", "CompareDialog", "image_filter"]

MAX_CHECKPOINTS = 4
INPUT_SIZE = 150


def image_filter() -> str:
    """The file dialogs' filter: every format the engine reads (HEIC and AVIF where installed), in
    both cases (cameras and iPhones write IMG_0001.JPG / .HEIC; filters are case-sensitive on Linux)."""
    patterns = " ".join(f"*{e} *{e.upper()}" for e in sorted(engine.IMAGE_EXTENSIONS))
    return f"Images ({patterns});;All files (*)"


class CompareColumn(QWidget):
    """One checkpoint's answer: name, what it sees (optionally with Grad-CAM), top class, bars."""

    def __init__(self, checkpoint: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.checkpoint = checkpoint
        self.item = None  # prediction_calls.ComparedPrediction
        self.heat = None
        self.heat_class: str | None = None
        self.title = QLabel(f"<b>{Path(checkpoint).parent.name}/{Path(checkpoint).name}</b>")
        self.title.setToolTip(checkpoint)
        self.title.setWordWrap(True)
        self.input = QLabel("…")
        self.input.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.input.setFixedSize(INPUT_SIZE, INPUT_SIZE)
        self.caption = QLabel()
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.headline = QLabel()
        font = QFont(self.headline.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.headline.setFont(font)
        self.headline.setWordWrap(True)
        self.bars = ClassBars()
        col = QVBoxLayout(self)
        col.setContentsMargins(4, 4, 4, 4)
        col.addWidget(self.title)
        col.addWidget(self.input, 0, Qt.AlignmentFlag.AlignHCenter)
        col.addWidget(self.caption)
        col.addWidget(self.headline)
        col.addWidget(self.bars)
        col.addStretch(1)

    def set_item(self, item) -> None:
        self.item, self.heat, self.heat_class = item, None, None
        if item.error or item.prediction is None:
            self.headline.setText("Cannot classify")
            self.caption.setText(item.error or "")
            self.caption.setWordWrap(True)
            self.bars.set_probabilities(None)
            self.input.clear()
            return
        p = item.prediction
        self.headline.setText(f"{p.top} — {p.confidence:.1%}")
        self.headline.setToolTip(describe_source(p))  # which file, view and TTA level answered
        self.bars.set_probabilities(p.probabilities)
        self._draw()

    def set_heat(self, class_name: str | None, heat) -> None:
        self.heat_class, self.heat = class_name, heat
        self._draw()

    def _draw(self) -> None:
        p = self.item.prediction if self.item is not None else None
        if p is None or p.input_image is None:
            return
        h, w = p.input_image.shape[:2]
        ratio = self.devicePixelRatioF()
        if isinstance(self.heat, str):  # this model cannot explain (no convolution layer)
            self.caption.setText(f"What it sees ({w}×{h}); Grad-CAM: {self.heat}")
            image = array_to_qimage(p.input_image)
        elif self.heat is not None:
            self.caption.setText(f"Where it looks for {self.heat_class} ({w}×{h})")
            image = heatmap_overlay(p.input_image, self.heat, max(1, round(INPUT_SIZE * ratio)))
        else:
            tta = f", {engine.TTA_NAMES[p.tta]}" if p.tta is not None else ""
            self.caption.setText(f"What it sees ({w}×{h}){tta}")
            image = array_to_qimage(p.input_image)
        self.input.setPixmap(to_pixmap(image, INPUT_SIZE, ratio, smooth=False))


class CompareDialog(QDialog):
    """``compare()`` runs every checkpoint on the photo; ``explain(class)`` adds Grad-CAM.

    ``compared`` when all columns are filled; ``explained`` when the heatmaps are in.
    """

    compared = Signal()
    explained = Signal()

    def __init__(self, cache, checkpoints: list[str] | None = None, image: str | None = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Compare checkpoints")
        self.cache = cache
        self.columns: list[CompareColumn] = []
        self._predicting = CurrentTask()
        self._explaining = CurrentTask()
        self.list = QListWidget()
        self.list.setMaximumHeight(80)
        self.add_button = QPushButton("Add checkpoint…")
        self.remove_button = QPushButton("Remove")
        self.image = PathField("file", image_filter(), placeholder="a photo to classify")
        self.compare_button = QPushButton("Compare")
        self.compare_button.setDefault(True)
        self.message = MessageBar()
        self.hint = QLabel("Click a class in any column to see where each model looks for it.")
        self._grid = QGridLayout()
        side = QVBoxLayout()
        side.addWidget(self.add_button)
        side.addWidget(self.remove_button)
        side.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.list, 1)
        top.addLayout(side)
        image_row = QHBoxLayout()
        image_row.addWidget(QLabel("Photo"))
        image_row.addWidget(self.image, 1)
        image_row.addWidget(self.compare_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Checkpoints (2 to {MAX_CHECKPOINTS})"))
        layout.addLayout(top)
        layout.addLayout(image_row)
        layout.addWidget(self.message)
        layout.addWidget(self.hint)
        layout.addLayout(self._grid, 1)
        self.resize(1100, 640)
        self.add_button.clicked.connect(self.add_checkpoint_dialog)
        self.remove_button.clicked.connect(self._remove_selected)
        self.compare_button.clicked.connect(lambda: self.compare())
        for path in checkpoints or []:
            self.add_checkpoint(path)
        if image:
            self.image.setText(image)

    # ----------------------------------------------------------------- choosing
    @property
    def checkpoints(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def add_checkpoint(self, path: str) -> bool:
        if path in self.checkpoints:
            return False
        if len(self.checkpoints) >= MAX_CHECKPOINTS:
            self.message.show_message(f"At most {MAX_CHECKPOINTS} checkpoints side by side.", "warning")
            return False
        self.list.addItem(path)
        return True

    def add_checkpoint_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add checkpoints", "", CHECKPOINT_FILTER)
        for f in files:
            self.add_checkpoint(f)

    def _remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))

    # ----------------------------------------------------------------- comparing
    @property
    def busy(self) -> bool:
        return self._predicting.busy or self._explaining.busy

    def compare(self) -> bool:
        checkpoints, image = self.checkpoints, self.image.text()
        if not 2 <= len(checkpoints) <= MAX_CHECKPOINTS:
            self.message.show_message(f"Choose 2 to {MAX_CHECKPOINTS} checkpoints to compare.", "warning")
            return False
        if not image or not Path(image).is_file():
            self.message.show_message(f"Photo: {image or '(none)'} is not a file.", "error")
            return False
        self.message.clear()
        self._explaining.cancel()
        for column in self.columns:
            self._grid.removeWidget(column)
            column.deleteLater()
        self.columns = [CompareColumn(c) for c in checkpoints]
        for i, column in enumerate(self.columns):
            self._grid.addWidget(column, 0, i)
            column.bars.class_clicked.connect(self.explain)
        task = self._predicting.start(prediction_calls.compare_predict, self.cache, checkpoints, image, name="compare")
        task.partial.connect(self._on_item)
        task.failed.connect(lambda error: self.message.show_message(f"Compare: {error.message}", "error"))
        task.finished.connect(self.compared)
        task.start()
        return True

    def _on_item(self, item) -> None:
        for column in self.columns:
            if column.checkpoint == item.checkpoint:
                column.set_item(item)

    def explain(self, class_name: str) -> bool:
        """Grad-CAM of ``class_name`` in every column whose model knows that class."""
        jobs, targets = [], []
        for column in self.columns:
            item = column.item
            if item is None or item.prediction is None or item.prediction.input_image is None:
                continue
            if class_name not in item.classes:
                column.set_heat(None, f"no class {class_name!r} in this model")
                continue
            jobs.append((item.checkpoint, item.prediction.input_image, item.classes.index(class_name)))
            targets.append(column)
        if not jobs:
            return False
        task = self._explaining.start(prediction_calls.explain_class, self.cache, jobs, name="compare grad-cam")
        task.succeeded.connect(lambda heats: self._on_heats(class_name, targets, heats))
        task.failed.connect(lambda error: self.message.show_message(f"Grad-CAM: {error.message}", "warning"))
        task.finished.connect(self.explained)
        task.start()
        self.hint.setText(f"Grad-CAM for “{class_name}”: computing…")
        return True

    def _on_heats(self, class_name: str, columns: list[CompareColumn], heats: list) -> None:
        for column, heat in zip(columns, heats, strict=False):
            column.set_heat(class_name, heat)
        self.hint.setText(f"Grad-CAM for “{class_name}”. Click another class to switch.")

    def done(self, code: int) -> None:
        self._predicting.cancel()
        self._explaining.cancel()
        super().done(code)
