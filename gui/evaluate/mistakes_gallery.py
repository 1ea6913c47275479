"""The mistakes gallery: wrongly classified images, most confident first, each labelled
"true → predicted (p%)"; filterable to one (true, predicted) pair."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem

import engine

from ..background.qimages import array_to_qimage, enlarge

# Imports inside functions: numpy is imported when the first report arrives, after start-up.

if TYPE_CHECKING:
    import numpy as np

__all__ = ["MAX_SHOWN", "MistakesGallery", "rank_mistakes"]

MAX_SHOWN = 400  # thumbnails beyond this add little and cost memory
_THUMB = 80


def rank_mistakes(
    labels: np.ndarray, predictions: np.ndarray, probabilities: np.ndarray, pair: tuple[int, int] | None = None
) -> np.ndarray:
    """Indices of the wrong predictions (optionally of one true/predicted pair), most confident first."""
    import numpy as np

    wrong = predictions != labels
    if pair is not None:
        wrong &= (labels == pair[0]) & (predictions == pair[1])
    index = np.flatnonzero(wrong)
    confidence = probabilities[index, predictions[index]] if len(index) else np.zeros(0)
    return index[np.argsort(-confidence, kind="stable")]


class MistakesGallery(QListWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(_THUMB, _THUMB))
        self.setGridSize(QSize(_THUMB + 90, _THUMB + 44))
        self.setWordWrap(True)
        self.report = None
        self.pair: tuple[int, int] | None = None
        self.shown: list[int] = []
        self.total = 0

    def set_report(self, report) -> None:
        self.report = report
        self.show_pair(None)

    def show_pair(self, pair: tuple[int, int] | None) -> None:
        """Show all mistakes (None) or only true ``pair[0]`` predicted as ``pair[1]``."""
        self.pair = pair
        self.clear()
        if self.report is None:
            self.shown, self.total = [], 0
            return
        r, classes = self.report.result, self.report.classes
        order = rank_mistakes(r.labels, r.predictions, r.probabilities, pair)
        self.total = len(order)
        self.shown = [int(i) for i in order[:MAX_SHOWN]]
        ratio = self.devicePixelRatioF()
        images = self.report.images.images
        for i in self.shown:
            true, pred = int(r.labels[i]), int(r.predictions[i])
            p = float(r.probabilities[i, pred])
            image = enlarge(array_to_qimage(images[i]), round(_THUMB * ratio))  # nearest: pixels stay visible
            pixmap = QPixmap.fromImage(image)
            pixmap.setDevicePixelRatio(ratio)
            item = QListWidgetItem(QIcon(pixmap), f"{classes[true]} → {classes[pred]} ({p:.0%})")
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            item.setToolTip(f"image #{i}: true {classes[true]}, predicted {classes[pred]} with {p:.1%}")
            item.setData(Qt.ItemDataRole.UserRole, int(i))
            self.addItem(item)

    def describe(self) -> str:
        if self.report is None:
            return ""
        classes = self.report.classes
        what = (
            f"{classes[self.pair[0]]} predicted as {classes[self.pair[1]]}" if self.pair is not None else "all mistakes"
        )
        if self.total == 0:
            return f"No mistakes ({what})"
        more = f" (showing the {len(self.shown)} most confident)" if self.total > len(self.shown) else ""
        return f"{engine.plural(self.total, 'image')}: {what}, most confident first{more}"
