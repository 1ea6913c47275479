"""One class of a Teach project as a bin: its name and count, its photos as thumbnails, and
everything a user does to it (drop photos or folders on it, Add photos…, Paste, rename,
remove; a photo's context menu or the Delete key removes it or moves it to another class)."""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..background.qimages import enlarge
from ..widgets.drops import FileDrops, local_paths, paint_placeholder

__all__ = ["PHOTO_MIME", "THUMB", "ClassBin", "DropArea", "dragged_photos"]

THUMB = 56  # thumbnail side in logical pixels
PHOTO_MIME = "application/x-cifar-studio-teach-photos"  # photos dragged from one bin to another


def dragged_photos(mime) -> tuple[str, list[str]] | None:
    """``(class, photo names)`` a drag from a bin carries, or None."""
    if mime is None or not mime.hasFormat(PHOTO_MIME):
        return None
    try:
        data = json.loads(bytes(mime.data(PHOTO_MIME)).decode("utf-8"))
        return str(data["class"]), [str(n) for n in data["names"]]
    except (ValueError, KeyError, TypeError):
        return None


class _PhotoStrip(QListWidget):
    """The class's thumbnails, wrapping left to right; Delete removes the selected photos."""

    delete_pressed = Signal()

    def __init__(self, owner: str, parent=None):
        super().__init__(parent)
        self.owner = owner  # the class these photos are in (what a drag from here carries)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 8, THUMB + 8))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.setUniformItemSizes(True)
        self.rows_shown = 3  # at most; more photos scroll
        # Photos can be dragged to another bin; drops go to the bin around the list (the list
        # would take them as moves inside itself).
        self.setDragEnabled(True)
        self.setDragDropMode(QListWidget.DragDropMode.DragOnly)
        self.setAcceptDrops(False)
        self.viewport().setAcceptDrops(False)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def mimeTypes(self) -> list[str]:
        return [PHOTO_MIME]

    def mimeData(self, items) -> QMimeData:
        mime = QMimeData()
        names = [i.data(Qt.ItemDataRole.UserRole) for i in items]
        mime.setData(PHOTO_MIME, json.dumps({"class": self.owner, "names": names}).encode("utf-8"))
        return mime

    def fit(self) -> None:
        """As tall as the rows the photos fill, up to ``rows_shown`` (then it scrolls)."""
        per_row = max(1, (self.viewport().width() or self.width()) // (THUMB + 8))
        rows = max(1, min(self.rows_shown, -(-self.count() // per_row)))
        height = rows * (THUMB + 8) + 2 * self.frameWidth() + 4
        if height != self.height() or self.minimumHeight() != height:
            self.setFixedHeight(height)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit()

    def keyPressEvent(self, event) -> None:
        if event.matches(QKeySequence.StandardKey.Delete) or event.key() == Qt.Key.Key_Backspace:
            self.delete_pressed.emit()
            return
        super().keyPressEvent(event)


class ClassBin(QFrame):
    """A class's bin. Signals carry the class name as it is when they are emitted."""

    files_dropped = Signal(str, list)  # class, paths
    add_requested = Signal(str)  # Add photos… (a file dialog)
    paste_requested = Signal(str)
    image_dropped = Signal(str, object)  # class, QImage (image data dropped from another app)
    rename_requested = Signal(str)
    remove_requested = Signal(str)
    remove_photos = Signal(str, list)  # class, photo names
    move_photos = Signal(str, list, str)  # class, photo names, to class

    def __init__(self, name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.name = name
        self.other_classes: list[str] = []
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAcceptDrops(True)
        self.setAutoFillBackground(True)
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.add_button = QToolButton()
        self.add_button.setText("Add photos…")
        self.add_button.setToolTip("Add photos or folders to this class (or drop them on it)")
        self.menu_button = QToolButton()
        self.menu_button.setText("⋯")
        self.menu_button.setToolTip("Rename, paste photos, remove this class")
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.menu_button)
        menu.addAction("Paste photos", lambda: self.paste_requested.emit(self.name))
        menu.addAction("Rename…", lambda: self.rename_requested.emit(self.name))
        menu.addSeparator()
        menu.addAction("Remove class…", lambda: self.remove_requested.emit(self.name))
        self.menu_button.setMenu(menu)
        self.strip = _PhotoStrip(name)
        self.hint = QLabel("Drop photos or folders of this class here")
        self.hint.setEnabled(False)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.add_button)
        head.addWidget(self.menu_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addWidget(self.hint)
        layout.addWidget(self.strip)
        self.add_button.clicked.connect(lambda: self.add_requested.emit(self.name))
        self.strip.delete_pressed.connect(self._delete_selected)
        self.strip.customContextMenuRequested.connect(self._photo_menu)
        self._items: dict[str, QListWidgetItem] = {}  # photo name -> item, in the order shown
        self.set_photos([], {})

    # ----------------------------------------------------------------- contents
    def set_photos(self, photos, thumbnails: dict, missing: set[str] | None = None) -> None:
        """Show ``photos`` (ProjectPhoto list) with the thumbnails known so far (sha256 -> QImage).

        Incremental: items of photos gone are taken out, new photos' items are added; the others
        are left as they are (a bin of 1,000 photos gets one more without redrawing 1,000 icons).
        """
        missing = missing or set()
        n = len(photos)
        title = f"<b>{self.name}</b> · {n} photo{'s' if n != 1 else ''}"
        if title != self.title.text():
            self.title.setText(title)
        names = {p.name for p in photos}
        for name in [k for k in self._items if k not in names]:
            self.strip.takeItem(self.strip.row(self._items.pop(name)))
        for p in photos:
            item = self._items.get(p.name)
            fresh = item is None
            if fresh:
                item = self._items[p.name] = QListWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, p.name)
                item.setSizeHint(QSize(THUMB + 6, THUMB + 6))
                self.strip.addItem(item)
            if p.name in missing:
                item.setToolTip(f"{p.name}: the original is gone ({p.source})")
                item.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning))
            elif fresh:
                item.setToolTip(f"{p.name}\n{p.source}")
                self.set_thumbnail(p.name, thumbnails.get(p.sha256))
        self.hint.setVisible(n == 0)
        self.strip.setVisible(n > 0)
        self.strip.fit()

    def set_thumbnail(self, photo_name: str, image) -> None:
        item = self._items.get(photo_name)
        if item is None or image is None:
            return
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap.fromImage(enlarge(image, round(THUMB * ratio), smooth=True))
        pixmap.setDevicePixelRatio(ratio)
        item.setIcon(QIcon(pixmap))

    def photo_names(self) -> list[str]:
        return list(self._items)

    def selected_names(self) -> list[str]:
        return [i.data(Qt.ItemDataRole.UserRole) for i in self.strip.selectedItems()]

    # ----------------------------------------------------------------- photo actions
    def _delete_selected(self) -> None:
        names = self.selected_names()
        if names:
            self.remove_photos.emit(self.name, names)

    def _photo_menu(self, pos) -> None:
        item = self.strip.itemAt(pos)
        if item is None:
            return
        if not item.isSelected():
            self.strip.clearSelection()
            item.setSelected(True)
        self.photo_menu().exec(self.strip.viewport().mapToGlobal(pos))

    def photo_menu(self) -> QMenu:
        """The selected photos' menu: remove, or move to another class."""
        names = self.selected_names()
        menu = QMenu(self)
        what = "photo" if len(names) == 1 else f"{len(names)} photos"
        remove = QAction(f"Remove {what} from the class", menu)
        remove.setShortcut(QKeySequence.StandardKey.Delete)
        remove.triggered.connect(lambda: self.remove_photos.emit(self.name, names))
        menu.addAction(remove)
        move = menu.addMenu("Move to ▸")
        for other in self.other_classes:
            move.addAction(other, lambda o=other: self.move_photos.emit(self.name, names, o))
        move.setEnabled(bool(self.other_classes))
        return menu

    # ----------------------------------------------------------------- drops
    def dragEnterEvent(self, event) -> None:
        moved = dragged_photos(event.mimeData())
        if (moved and moved[0] != self.name) or local_paths(event.mimeData()) or event.mimeData().hasImage():
            event.acceptProposedAction()
            self.setFrameShadow(QFrame.Shadow.Sunken)
            self.setBackgroundRole(self.palette().ColorRole.Highlight)

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self._unhighlight()

    def dropEvent(self, event) -> None:
        self._unhighlight()
        moved = dragged_photos(event.mimeData())
        paths = local_paths(event.mimeData())
        if moved:
            if moved[0] != self.name:
                # A copy as far as the list dragged from knows: the project moves the photos,
                # and the bins show it (a "move" would have the list take them out at once).
                event.setDropAction(Qt.DropAction.CopyAction)
                event.accept()
                self.move_photos.emit(moved[0], moved[1], self.name)
        elif paths:
            event.acceptProposedAction()
            self.files_dropped.emit(self.name, paths)
        elif event.mimeData().hasImage():
            event.acceptProposedAction()
            self.image_dropped.emit(self.name, event.mimeData().imageData())

    def _unhighlight(self) -> None:
        self.setFrameShadow(QFrame.Shadow.Plain)
        self.setBackgroundRole(self.palette().ColorRole.Window)


class DropArea(FileDrops, QWidget):
    """The column the bins stand in: a drop outside every bin (a folder of class folders) lands here."""

    files_dropped = Signal(list)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.placeholder = ""  # drawn while there are no bins

    def set_placeholder(self, text: str) -> None:
        self.placeholder = text
        self.update()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.placeholder:
            paint_placeholder(self, self.placeholder, margin=24)
