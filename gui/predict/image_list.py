"""The Predict tab's list of images: thumbnail, file name and top class with confidence (or
the file's error), with a hint on what to do while it is empty."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle

from ..background.qimages import enlarge
from ..widgets.drops import paint_placeholder

__all__ = ["ICON_SIZE", "ImageList"]

ICON_SIZE = 64


class ImageList(QListWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        # An error is a whole sentence: items wrap (and so differ in height) instead of cutting
        # it off; the tooltip and the view beside the list show it in full too.
        self.setWordWrap(True)
        self.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setMinimumWidth(260)

    def add_pending(self, path: str) -> None:
        item = QListWidgetItem(f"{Path(path).name}\nclassifying…")
        item.setToolTip(path)
        self.addItem(item)

    def set_result(self, row: int, path: str, prediction, thumbnail) -> None:
        """Show one image's outcome; ``thumbnail`` is a small QImage (or None)."""
        item = self.item(row)
        name = Path(path).name
        item.setText(f"{name}\n{prediction.answer()}")  # the engine's one-line answer (Prediction.verdict)
        if prediction.error:
            item.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning))
        elif thumbnail is not None:
            ratio = self.devicePixelRatioF()
            small = min(thumbnail.width(), thumbnail.height()) <= 48  # tiny images: keep the pixels
            pixmap = QPixmap.fromImage(enlarge(thumbnail, round(ICON_SIZE * ratio), smooth=not small))
            pixmap.setDevicePixelRatio(ratio)
            item.setIcon(QIcon(pixmap))
        item.setToolTip(f"{path}\n{prediction.answer()}")

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.count() == 0:
            paint_placeholder(self.viewport(), "Drop photos or folders here\n(or anywhere on this tab)")
