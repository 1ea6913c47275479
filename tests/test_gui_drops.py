"""gui.widgets.drops: the one place the tabs' drop targets read what a drag carries."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication, QWidget

from gui.widgets.drops import FileDrops, carries_files, local_paths


class _Target(FileDrops, QWidget):
    files_dropped = Signal(list)

    def __init__(self):
        super().__init__()
        self.setAcceptDrops(True)


def _mime(paths=(), urls=(), image=False) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths] + [QUrl(u) for u in urls])
    if image:
        mime.setImageData(QImage(4, 4, QImage.Format.Format_RGB32))
    return mime


def _events(mime):
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    return QDragEnterEvent(QPoint(5, 5), *args), QDropEvent(QPointF(5, 5), *args)


def test_local_files_and_folders_are_read_and_web_links_ignored(tmp_path):
    mime = _mime([tmp_path / "a.jpg", tmp_path], ["https://example.com/b.jpg"])
    assert local_paths(mime) == [str(tmp_path / "a.jpg"), str(tmp_path)]
    assert carries_files(mime)
    assert local_paths(None) == [] and not carries_files(None)
    web_only = _mime(urls=["https://example.com/b.jpg"])
    assert local_paths(web_only) == [] and not carries_files(web_only)
    image = _mime(image=True)
    assert not carries_files(image) and carries_files(image, images=True)


def test_a_file_drop_target_emits_the_paths_and_refuses_other_drags(qtbot, tmp_path):
    target = _Target()
    qtbot.addWidget(target)
    got = []
    target.files_dropped.connect(got.append)
    mime = _mime([tmp_path / "a.jpg"])  # kept: the events only point at it
    enter, drop = _events(mime)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(target, drop)
    assert got == [[str(tmp_path / "a.jpg")]]
    web = _mime(urls=["https://example.com/b.jpg"])
    enter, drop = _events(web)
    enter.ignore()
    QApplication.sendEvent(target, enter)
    assert not enter.isAccepted()
