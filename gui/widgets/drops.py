"""Files and folders dropped (or pasted) onto a widget: the local paths a drag carries, a mixin
that takes such drops, and the placeholder an empty drop target paints ("Drop photos here")."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter

__all__ = ["FileDrops", "carries_files", "local_paths", "paint_placeholder"]


def local_paths(mime) -> list[str]:
    """The local files and folders a drop or a paste carries."""
    if mime is None or not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]


def carries_files(mime, images: bool = False) -> bool:
    """Whether a drag brings local files or folders (or, with ``images``, image data)."""
    if mime is None:
        return False
    return (mime.hasUrls() and any(u.isLocalFile() for u in mime.urls())) or (images and mime.hasImage())


class FileDrops:
    """Mixin for a widget (put before the Qt class) that takes drops of local files and
    folders and emits them as ``files_dropped(list)``, a signal the widget declares."""

    def dragEnterEvent(self, event) -> None:
        if carries_files(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = local_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)


def paint_placeholder(widget, text: str, margin: int = 12) -> None:
    """``text`` centred and wrapped in the placeholder colour on ``widget`` (a list's viewport,
    or the widget itself): what an empty drop target shows. Call from a paintEvent."""
    painter = QPainter(widget)
    painter.setPen(widget.palette().color(widget.palette().ColorRole.PlaceholderText))
    painter.drawText(
        widget.rect().adjusted(margin, margin, -margin, -margin),
        Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
        text,
    )
    painter.end()
