"""The Predict tab: drop photos or folders anywhere on it (or open, or paste), see each
image's top class in a list, the selected one in detail, and all results in a table.

Classification runs as one job at a time in a worker thread (engine.Predictor, cached per
checkpoint). Changing the checkpoint or the TTA level re-classifies everything. A bad file
shows its own error; the others are still classified.

The classification jobs are in gui/predict/classify_jobs.py, Grad-CAM heatmaps in
gui/predict/grad_cam.py; here: the tab's widgets, its checkpoint, adding images, export.
"""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path

from PySide6.QtCore import Qt, QTemporaryDir, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

import engine

from ..background import engine_calls
from ..background.current import CurrentTask
from ..settings import Settings
from ..widgets.checkpoint_picker import CheckpointPicker
from ..widgets.drops import carries_files, local_paths
from ..widgets.message_bar import MessageBar
from .classify_jobs import ClassifyJob, ClassifyJobs, Entry
from .compare import CompareDialog, image_filter
from .grad_cam import GradCam
from .image_list import ImageList
from .prediction_view import PredictionView
from .results_table import ResultsTable
from .tta_choice import TtaChoice

__all__ = ["PredictTab"]

_logger = logging.getLogger(__name__)
_CHECKPOINT_SUFFIXES = {".pt", ".pth"}


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except (OSError, RuntimeError):
        return a == b


class PredictTab(ClassifyJobs, GradCam, QWidget):
    classification_finished = Signal()  # nothing left to classify
    checkpoint_loaded = Signal(str)
    status_message = Signal(str)

    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self.cache = engine_calls.PredictorCache()
        self.entries: list[Entry] = []
        self._previews: deque[Entry] = deque()  # entries holding their photo, oldest first (PREVIEWS_KEPT)
        self._queue: list[list[str]] = []
        self._reclassify = False
        # One classification job at a time; a new one (re-classify) or Clear retires the old one,
        # so its late results never reach entries that have changed or gone.
        self._classifying = CurrentTask()
        self._job: ClassifyJob | None = None
        self._explaining = CurrentTask()  # one Grad-CAM at a time; requests meanwhile wait for it
        self._tmp = QTemporaryDir()
        self._pasted = 0
        self._auto_select = True  # pick the first good result for the detail view until the user clicks
        self._initial_checkpoint: str | None = None  # chosen at engine_ready, loaded later (see there)
        self.setAcceptDrops(True)
        self._build()
        self.setEnabled(False)  # until the engine has loaded

    def _build(self) -> None:
        self.picker = CheckpointPicker(self.cache)
        self.tta = TtaChoice()
        self.open_button = QPushButton("Open images…")
        self.folder_button = QPushButton("Open folder…")
        self.paste_button = QPushButton("Paste")
        self.clear_button = QPushButton("Clear")
        self.export_button = QPushButton("Export CSV…")
        self.compare_button = QPushButton("Compare checkpoints…")
        self.compare_button.setToolTip("Classify the selected photo with 2 to 4 checkpoints side by side")
        self.message = MessageBar()
        self.list = ImageList()
        self.view = PredictionView()
        self.table = ResultsTable()
        self.pages = QTabWidget()
        self.pages.addTab(self.view, "Selected image")
        self.pages.addTab(self.table, "All results")

        top = QHBoxLayout()
        top.addWidget(self.picker, 1)
        top.addWidget(self.tta, 0, Qt.AlignmentFlag.AlignTop)
        buttons = QHBoxLayout()
        for b in (self.open_button, self.folder_button, self.paste_button, self.clear_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.compare_button)
        buttons.addWidget(self.export_button)
        splitter = QSplitter()
        splitter.addWidget(self.list)
        splitter.addWidget(self.pages)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([320, 940])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        layout.addWidget(splitter, 1)

        self.picker.loaded.connect(self._on_checkpoint_loaded)
        self.picker.load_failed.connect(self._on_checkpoint_failed)
        self.tta.currentIndexChanged.connect(lambda _i: self.reclassify())
        self.open_button.clicked.connect(self.open_images_dialog)
        self.folder_button.clicked.connect(self.open_folder_dialog)
        self.paste_button.clicked.connect(self.paste)
        self.clear_button.clicked.connect(self.clear)
        self.export_button.clicked.connect(lambda: self.export_csv())
        self.compare_button.clicked.connect(lambda: self.open_compare())
        self.list.currentRowChanged.connect(self._show_current)
        self.list.itemPressed.connect(lambda _item: setattr(self, "_auto_select", False))
        self.view.heatmap_wanted.connect(self._explain_current)
        self.view.bars.class_clicked.connect(self.explain_class)
        QShortcut(QKeySequence.StandardKey.Paste, self, activated=self.paste)

    # ----------------------------------------------------------------- engine / checkpoint
    def engine_ready(self, info, load_checkpoint: bool = True) -> None:
        """Enable the tab and choose its first checkpoint (the last one used if it is the user's
        own, else the bundled default model). ``load_checkpoint=False`` defers loading it to
        :meth:`load_initial_checkpoint` (the window calls it when this tab or the Evaluate tab is
        first shown, or photos arrive): at start-up the load competes for the GIL with whatever
        the user starts on the tab in front of them, and the GUI thread waits for it."""
        self.cache.device = info.torch_device
        self.picker.set_entries(info.default_checkpoint, self.settings.recent_checkpoints, info.bundled_checkpoints)
        last = self.settings.last_checkpoint
        # A remembered bundled model gives way to the current default: bundled models come with
        # the app, so after an upgrade the new default is shown (the others stay in the menu);
        # a checkpoint of the user's own is kept.
        bundled = [p for p in (info.default_checkpoint, *info.bundled_checkpoints) if p]
        remembered = last and Path(last).is_file() and not any(_same_file(last, p) for p in bundled)
        initial = last if remembered else info.default_checkpoint
        self.setEnabled(True)
        if initial:
            self._initial_checkpoint = initial
            if load_checkpoint:
                self.load_initial_checkpoint()
        else:
            self.message.show_message(
                "No checkpoint yet: the bundled default model is not installed. Train a "
                "model on the Train tab, or open a checkpoint (File ▸ Open checkpoint…).",
                "info",
            )

    def load_initial_checkpoint(self) -> None:
        """Load the start-up checkpoint chosen by :meth:`engine_ready` if it is still pending."""
        path, self._initial_checkpoint = self._initial_checkpoint, None
        if path:
            self.picker.set_checkpoint(path)

    @property
    def initial_checkpoint(self) -> str | None:
        """The start-up checkpoint not loaded yet (None once loaded or replaced)."""
        return self._initial_checkpoint

    def set_checkpoint(self, path: str) -> None:
        self._initial_checkpoint = None  # the user's choice replaces the start-up one
        self.picker.set_checkpoint(path)

    @property
    def checkpoint(self) -> str | None:
        return self.picker.info.path if self.picker.info is not None else None

    def _on_checkpoint_loaded(self, info) -> None:
        self.message.clear()
        self.settings.last_checkpoint = info.path
        self.settings.add_recent_checkpoint(info.path)
        self.table.set_classes(info.classes)
        self.checkpoint_loaded.emit(info.path)
        self.status_message.emit(f"Checkpoint: {info.summary}")
        self.reclassify()

    def _on_checkpoint_failed(self, message: str) -> None:
        self.message.show_message(message, "error")
        self.status_message.emit(message)
        self._finish_if_idle()

    # ----------------------------------------------------------------- adding images
    def add_paths(self, paths) -> None:
        """Files and folders to classify (folders: the images inside, recursively)."""
        images, checkpoints = [], []
        for p in map(str, paths):
            (checkpoints if Path(p).suffix.lower() in _CHECKPOINT_SUFFIXES else images).append(p)
        if checkpoints:
            self.set_checkpoint(checkpoints[-1])
        if images:
            self._queue.append(images)
            self.load_initial_checkpoint()
            if self.checkpoint is None and not self.picker.loading:
                waiting = engine.plural(sum(map(len, self._queue)), "file")
                self.message.show_message(f"{waiting} waiting for a checkpoint: open one to classify them.", "info")
            self._pump()

    def open_images_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open images", "", image_filter())
        self.add_paths(files)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images")
        if folder:
            self.add_paths([folder])

    def paste(self) -> None:
        """Clipboard: copied files (URLs) or image data (saved to a temporary PNG)."""
        self._add_mime(QGuiApplication.clipboard().mimeData())

    def _add_mime(self, mime) -> bool:
        if mime is None:
            return False
        local = local_paths(mime)
        if local:
            self.add_paths(local)
            return True
        if mime.hasImage():
            image = mime.imageData()
            if image is not None and not image.isNull():
                self._pasted += 1
                path = Path(self._tmp.path()) / f"pasted-{self._pasted}.png"
                if image.save(str(path), "PNG"):
                    self.add_paths([str(path)])
                    return True
        return False

    def dragEnterEvent(self, event) -> None:
        if carries_files(event.mimeData(), images=True):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        if self._add_mime(event.mimeData()):
            event.acceptProposedAction()

    def clear(self) -> None:
        self._retire_job()
        self._queue.clear()
        self._reclassify = False
        self.entries.clear()
        self._previews.clear()
        self._auto_select = True
        self.list.clear()
        self.table.clear_rows()
        self.view.clear()

    # ----------------------------------------------------------------- list and detail
    def _show_current(self, row: int) -> None:
        if 0 <= row < len(self.entries):
            entry = self.entries[row]
            self.view.show_item(entry.path, entry.prediction, entry.heat, entry.preview)
        else:
            self.view.clear()

    def open_compare(self, checkpoints: list[str] | None = None) -> CompareDialog:
        """Side-by-side checkpoints on the selected photo (this tab's checkpoint first)."""
        row = self.list.currentRow()
        image = self.entries[row].path if 0 <= row < len(self.entries) else None
        chosen = checkpoints if checkpoints is not None else [c for c in (self.checkpoint,) if c]
        self.compare_dialog = CompareDialog(self.cache, chosen, image, self)
        self.compare_dialog.show()
        if len(chosen) >= 2 and image:
            self.compare_dialog.compare()
        return self.compare_dialog

    # ----------------------------------------------------------------- export
    def export_csv(self, path: str | None = None) -> str | None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export results", "predictions.csv", "CSV files (*.csv)")
        if not path:
            return None
        try:
            n = self.table.export_csv(path)
        except OSError as exc:
            self.message.show_message(f"Could not write {path}: {exc.strerror}", "error")
            return None
        self.status_message.emit(f"{engine.plural(n, 'result')} saved to {path}")
        return path

    def shutdown(self) -> None:
        self._classifying.cancel()
        self._explaining.cancel()
