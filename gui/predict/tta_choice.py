"""The Predict tab's test-time augmentation menu: which copies of each photo are averaged."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QWidget

__all__ = ["TtaChoice"]


class TtaChoice(QComboBox):
    """The test-time augmentation level photos are classified with; starts at the engine's
    photo-mode default (the photo and its mirror image averaged, measured best on real photos)."""

    _ITEMS = (
        (0, "No TTA", "The photo only (fastest)"),
        (
            1,
            "Average with mirror image",
            "The photo and its mirror image averaged (the default: measured best on real photos, no slower)",
        ),
        (2, "Mirrors and 1-pixel shifts", "Six copies averaged: mirror images and 1-pixel shifts (slower)"),
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        import engine  # light: no torch

        for level, text, tip in self._ITEMS:
            self.addItem(text, level)
            self.setItemData(self.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.setCurrentIndex(self.findData(engine.DEFAULT_PHOTO_TTA))
        self.setToolTip("Test-time augmentation: which copies of each photo the model's answers are averaged over")

    @property
    def level(self) -> int:
        return int(self.currentData())

    def set_level(self, level: int) -> None:
        self.setCurrentIndex(self.findData(level))
