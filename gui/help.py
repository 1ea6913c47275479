"""Help ▸ User guide and Help ▸ Keyboard shortcuts: offline, from files that ship with the app.

The guide is ``resources/user_guide.md``, a copy of the README's "Using the app" section (a
test keeps the two equal), shown as rendered Markdown in a dialog; no network, no browser.
The shortcuts are one table (:data:`SHORTCUTS`): the main window makes its actions from it and
the shortcuts dialog lists it, so the list cannot drift from what the keys do.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

__all__ = ["SHORTCUTS", "ShortcutsDialog", "UserGuideDialog", "guide_path", "guide_text"]

# (action name in MainWindow, key sequence in Qt's portable text: "Ctrl" is Cmd on macOS, what it does)
SHORTCUTS: tuple[tuple[str, str, str], ...] = (
    ("start", "Ctrl+Return", "Start: train (Train tab) or evaluate (Evaluate tab)"),
    ("stop", "Ctrl+.", "Stop the training run (Train tab) or the evaluation (Evaluate tab)"),
    ("tab_train", "Ctrl+1", "Show the Train tab"),
    ("tab_predict", "Ctrl+2", "Show the Predict tab"),
    ("tab_evaluate", "Ctrl+3", "Show the Evaluate tab"),
    ("tab_runs", "Ctrl+4", "Show the Runs tab"),
    ("tab_teach", "Ctrl+5", "Show the Teach tab"),
    ("open_checkpoint", "Ctrl+O", "Open a checkpoint"),
    ("open_images", "Ctrl+Shift+O", "Open images on the Predict tab"),
    ("guide", "F1", "This user guide"),
    ("quit", "Ctrl+Q", "Quit"),
)


def guide_path() -> Path:
    import engine  # resources_dir is light: no torch

    return engine.resources_dir() / "user_guide.md"


def guide_text() -> str:
    """The guide's Markdown with the shortcuts table after it, or a one-line reason."""
    try:
        text = guide_path().read_text(encoding="utf-8")
    except OSError as exc:
        text = f"The user guide could not be read ({guide_path()}: {exc.strerror or exc})."
    return f"{text}\n\n{shortcuts_markdown()}"


def shortcuts_markdown() -> str:
    rows = "\n".join(
        f"| {QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText)} | {what} |"
        for _name, keys, what in SHORTCUTS
    )
    return f"## Keyboard shortcuts\n\n| Keys | What |\n|---|---|\n{rows}\n"


class _MarkdownDialog(QDialog):
    def __init__(self, title: str, markdown: str, parent: QWidget | None = None, size=(760, 640)):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(False)  # offline: links are text, not fetches
        self.browser.setOpenLinks(False)
        self.browser.setMarkdown(markdown)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(*size)


class UserGuideDialog(_MarkdownDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("CIFAR Studio user guide", guide_text(), parent)


class ShortcutsDialog(_MarkdownDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("Keyboard shortcuts", shortcuts_markdown(), parent, size=(520, 380))
