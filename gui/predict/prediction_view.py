"""The selected image on the Predict tab: the photo, the small input the model actually sees
(enlarged with visible pixels), an optional Grad-CAM overlay, the top class with its
confidence, a low-confidence hint, and the sorted probability bars."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

import engine

from ..background.prediction_calls import PREVIEW_SIZE
from ..background.qimages import array_to_qimage, heatmap_overlay, load_photo, to_pixmap
from ..widgets.message_bar import MessageBar
from .class_bars import ClassBars

if TYPE_CHECKING:
    import numpy as np

__all__ = ["PredictionView"]

PHOTO_SIZE = PREVIEW_SIZE  # the photo's side on screen, decoded at this size in the classify worker
INPUT_SIZE = 160  # 32x32 inputs are shown 5x, pixel for pixel


def describe_source(prediction) -> str:
    """ "Model cifar10_fastnet.pt · whole photo · TTA: flips" for an answered prediction, else ""."""
    if prediction is None or prediction.error or prediction.checkpoint is None:
        return ""
    import engine  # light: the names below import no torch

    parts = [f"Model {Path(prediction.checkpoint).name}"]
    if prediction.view:
        parts.append(engine.PHOTO_VIEW_NAMES.get(prediction.view, prediction.view))
    if prediction.tta is not None:
        parts.append(engine.TTA_NAMES[prediction.tta])
    return " · ".join(parts)


class PredictionView(QWidget):
    """``show_item(path, prediction, heat)``; emits ``heatmap_wanted`` when the overlay is on
    and the current image has no heatmap yet."""

    heatmap_wanted = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.path: str | None = None
        self.prediction = None
        self.heat: np.ndarray | None = None
        self.headline = QLabel("Drop photos or folders anywhere on this tab")
        font = QFont(self.headline.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.headline.setFont(font)
        self.headline.setWordWrap(True)
        self.hint = MessageBar()
        self.file_label = QLabel()
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.file_label.setWordWrap(True)
        # Where the numbers came from: the checkpoint, the photo view and the TTA level.
        self.source_label = QLabel()
        self.source_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.source_label.setWordWrap(True)
        self.source_label.setEnabled(False)  # drawn in the palette's secondary text colour
        self.photo = QLabel()
        self.photo.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.photo.setFixedSize(PHOTO_SIZE, PHOTO_SIZE)
        self.model_input = QLabel()
        self.model_input.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.model_input.setFixedSize(INPUT_SIZE, INPUT_SIZE)
        self.input_caption = QLabel("What the model sees")
        self.input_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.heatmap = QCheckBox("Grad-CAM heatmap")
        self.heatmap.setToolTip("Overlay which parts of the input drove the top class (Grad-CAM)")
        self.bars = ClassBars()  # a click on a class shows its Grad-CAM (the Predict tab listens)

        # photo | what the model sees (+ heatmap toggle) | probability bars, side by side
        grid = QGridLayout()
        grid.addWidget(self.photo, 0, 0, 2, 1, Qt.AlignmentFlag.AlignTop)
        model_col = QVBoxLayout()
        model_col.addWidget(self.model_input, 0, Qt.AlignmentFlag.AlignHCenter)
        model_col.addWidget(self.input_caption)
        model_col.addWidget(self.heatmap, 0, Qt.AlignmentFlag.AlignHCenter)
        model_col.addStretch(1)
        grid.addLayout(model_col, 0, 1, 2, 1)
        grid.addWidget(self.bars, 0, 2, 2, 1, Qt.AlignmentFlag.AlignTop)
        grid.setColumnStretch(2, 1)
        inner = QWidget()
        col = QVBoxLayout(inner)
        col.addWidget(self.headline)
        col.addWidget(self.hint)
        col.addWidget(self.file_label)
        col.addWidget(self.source_label)
        col.addLayout(grid)
        col.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.heatmap.toggled.connect(self._on_heatmap_toggled)
        self.clear()

    def clear(self) -> None:
        self.path, self.prediction, self.heat = None, None, None
        self._photo_from_worker = False
        self.headline.setText("Drop photos or folders anywhere on this tab")
        self.file_label.setText("…or use Open images, or paste (Ctrl+V) an image or copied files.")
        self.hint.clear()
        self.source_label.clear()
        self.photo.clear()
        self.model_input.clear()
        self.bars.set_probabilities(None)

    def show_item(self, path: str, prediction, heat: np.ndarray | None = None, photo=None) -> None:
        """Show one list entry; ``prediction`` None means it is still being classified. ``photo``:
        the classify worker's decode of it (a QImage); without one it is decoded here."""
        new_photo = path != self.path or (photo is not None and not self._photo_from_worker)
        self.path, self.prediction, self.heat = path, prediction, heat
        self.file_label.setText(path)
        ratio = self.devicePixelRatioF()
        if new_photo:
            self._photo_from_worker = photo is not None
            if photo is None:  # not classified yet, or its decode was let go (Entry.preview)
                photo = load_photo(path, int(PHOTO_SIZE * ratio))
            if photo is not None:
                # Enlarged small photos keep hard pixel edges; large ones are smoothly reduced.
                smooth = max(photo.width(), photo.height()) >= PHOTO_SIZE * ratio
                self.photo.setPixmap(to_pixmap(photo, PHOTO_SIZE, ratio, smooth=smooth))
            else:
                self.photo.setText("(no preview)")
        self.source_label.setText(describe_source(prediction))
        if prediction is None:
            self.headline.setText(f"Classifying {Path(path).name}…")
            self.hint.clear()
            self.bars.set_probabilities(None)
            self.model_input.clear()
            return
        verdict = prediction.verdict  # the engine's one judgement (also the lists' and the table's)
        if verdict == "error":
            self.headline.setText("Cannot classify this file")
            self.hint.show_message(prediction.error, "error")
            self.bars.set_probabilities(None)
            self.model_input.clear()
            return
        self.bars.set_muted(verdict == "unknown")
        if verdict == "unknown":
            # Said plainly, instead of a confident-looking bar for the closest class.
            looks = prediction.looks_like
            # What the ImageNet backbone says the photo shows, when it is sure enough to name it.
            self.headline.setText(
                f"Probably none of these classes: looks like {engine.with_article(looks)}"
                if looks
                else "Probably none of these classes"
            )
            score = prediction.unknown_score
            self.hint.show_message(
                "This image does not look like anything this model was trained on. "
                f"Closest class: {prediction.top} ({prediction.confidence:.0%}); the model knows "
                f"{', '.join(prediction.probabilities)}.",
                "warning",
            )
            self.hint.setToolTip(
                f"Unknown score {score:.3f} (higher: less like the classes)" if score is not None else ""
            )
        elif verdict == "uncertain":
            self.headline.setText(f"{prediction.top} — {prediction.confidence:.1%}")
            self.hint.show_message(
                f"Low confidence ({prediction.confidence:.0%}): this photo may show none of the classes "
                f"this model knows ({', '.join(prediction.probabilities)}).",
                "warning",
            )
        else:
            self.headline.setText(f"{prediction.top} — {prediction.confidence:.1%}")
            self.hint.clear()
        self.bars.set_probabilities(prediction.probabilities)
        self._draw_input()
        if self.heatmap.isChecked() and heat is None:
            self.heatmap_wanted.emit()

    def set_heat(self, path: str, heat: np.ndarray) -> None:
        if path == self.path:
            self.heat = heat
            self._draw_input()

    def _on_heatmap_toggled(self, on: bool) -> None:
        if on and self.heat is None and self.prediction is not None and self.prediction.input_image is not None:
            self.heatmap_wanted.emit()
        self._draw_input()

    def _draw_input(self) -> None:
        p = self.prediction
        if p is None or p.input_image is None:
            self.model_input.clear()
            return
        h, w = p.input_image.shape[:2]
        self.input_caption.setText(f"What the model sees ({w}×{h})")
        ratio = self.devicePixelRatioF()
        device = max(1, round(INPUT_SIZE * ratio))
        if self.heatmap.isChecked() and self.heat is not None:
            image = heatmap_overlay(p.input_image, self.heat, device)
        else:
            image = array_to_qimage(p.input_image)
        self.model_input.setPixmap(to_pixmap(image, INPUT_SIZE, ratio, smooth=False))
