"""The Teach tab's test area: photos dropped here are classified by the current model at once
(class and confidence, or "probably none of these classes"), and a wrong answer is corrected
by adding the photo to the right class (its context menu, "Add to class ▸")."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QMenu, QStyle

from ..background.qimages import enlarge
from ..widgets.drops import FileDrops, paint_placeholder

__all__ = ["TEST_ICON", "TestList"]

TEST_ICON = 64


class TestList(FileDrops, QListWidget):
    """Test photos and their answers; drops of files or folders land here."""

    files_dropped = Signal(list)
    add_to_class = Signal(str, str)  # photo path, class
    remove_requested = Signal(list)  # rows

    def __init__(self, parent=None):
        super().__init__(parent)
        self.classes: list[str] = []
        self.setIconSize(QSize(TEST_ICON, TEST_ICON))
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDragDropMode(QListWidget.DragDropMode.DropOnly)
        self.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.setWordWrap(True)

    def add_pending(self, path: str) -> QListWidgetItem:
        item = QListWidgetItem(f"{Path(path).name}\nwaiting for the model…")
        item.setData(Qt.ItemDataRole.UserRole, path)
        item.setToolTip(path)
        self.addItem(item)
        return item

    def path(self, row: int) -> str:
        return self.item(row).data(Qt.ItemDataRole.UserRole)

    def set_result(self, row: int, prediction, where: str) -> None:
        item = self.item(row)
        name = Path(self.path(row)).name
        item.setText(f"{name}\n{prediction.answer()}")
        item.setToolTip(f"{self.path(row)}\n{prediction.answer()}\n{where}")
        if prediction.error:
            item.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning))

    def set_waiting(self, row: int, text: str) -> None:
        item = self.item(row)
        item.setText(f"{Path(self.path(row)).name}\n{text}")

    def set_thumbnail(self, row: int, image) -> None:
        if image is None or not (0 <= row < self.count()):
            return
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap.fromImage(enlarge(image, round(TEST_ICON * ratio), smooth=True))
        pixmap.setDevicePixelRatio(ratio)
        self.item(row).setIcon(QIcon(pixmap))

    def row_menu(self, row: int) -> QMenu:
        menu = QMenu(self)
        add = menu.addMenu("Add to class ▸")
        for name in self.classes:
            add.addAction(name, lambda n=name, p=self.path(row): self.add_to_class.emit(p, n))
        add.setEnabled(bool(self.classes))
        menu.addAction("Remove from the test area", lambda: self.remove_requested.emit([row]))
        return menu

    def _menu(self, pos) -> None:
        item = self.itemAt(pos)
        if item is not None:
            self.row_menu(self.row(item)).exec(self.viewport().mapToGlobal(pos))

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.count() == 0:
            paint_placeholder(self.viewport(), "Try it: drop photos here to see what the model says")
