"""The small dialogs the Runs tab opens: yes/no, a new name, a run's settings; and the trash."""

from __future__ import annotations

import json

from PySide6.QtCore import QFile, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QInputDialog,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

__all__ = ["ask_text", "ask_yes_no", "config_dialog", "move_to_trash"]


def ask_yes_no(parent: QWidget, title: str, text: str) -> bool:
    answer = QMessageBox.question(parent, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def ask_text(parent: QWidget, title: str, label: str, text: str) -> str | None:
    value, ok = QInputDialog.getText(parent, title, label, QLineEdit.EchoMode.Normal, text)
    return value if ok else None


def move_to_trash(path: str) -> bool:
    """The desktop's trash (recoverable), never a permanent delete; False where there is none."""
    result = QFile.moveToTrash(path)  # PySide6 returns a bool, or (bool, path in trash) in some versions
    return bool(result[0] if isinstance(result, tuple) else result)


def config_dialog(parent: QWidget, name: str, config: dict) -> QDialog:
    """A read-only view of a run's settings (its config.json), shown and deleted on close."""
    dialog = QDialog(parent)
    dialog.setWindowTitle(f"Settings of {name}")
    text = QPlainTextEdit(json.dumps(config, indent=2))
    text.setReadOnly(True)
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    box.rejected.connect(dialog.reject)
    col = QVBoxLayout(dialog)
    col.addWidget(text)
    col.addWidget(box)
    dialog.resize(520, 560)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
