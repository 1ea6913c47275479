"""Files the operating system asks the app to open while it runs.

macOS delivers "Open with", Finder drops on the Dock icon and double-clicked documents as
``QFileOpenEvent``s to the application, not as command-line arguments.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject

__all__ = ["FileOpenForwarder"]


class FileOpenForwarder(QObject):
    """Application event filter passing each opened file to ``open_images([path])``."""

    def __init__(self, open_images: Callable[[list[str]], None], parent: QObject | None = None):
        super().__init__(parent)
        self._open_images = open_images

    def eventFilter(self, obj, event) -> bool:  # Qt's name
        if event.type() == QEvent.Type.FileOpen and event.file():
            self._open_images([event.file()])
            return True
        return False
