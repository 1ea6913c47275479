"""The Predict tab: drop photos or folders anywhere on it (or open, or paste), see each
image's top class in a list, the selected one in detail, and all results in a table.

Classification runs as one job at a time in a worker thread (engine.Predictor, cached per
checkpoint). Changing the checkpoint or the TTA level re-classifies everything. A bad file
shows its own error; the others are still classified.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
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

from ..background import engine_calls, prediction_calls
from ..background.current import CurrentTask
from ..background.task import TaskError
from ..settings import Settings
from ..widgets.checkpoint_picker import CheckpointPicker
from ..widgets.drops import carries_files, local_paths
from ..widgets.message_bar import MessageBar
from .compare import CompareDialog, image_filter
from .image_list import ImageList
from .prediction_view import PredictionView
from .results_table import ResultsTable
from .tta_choice import TtaChoice

__all__ = ["PredictTab"]

_logger = logging.getLogger(__name__)
_CHECKPOINT_SUFFIXES = {".pt", ".pth"}


@dataclass
class _ClassifyJob:
    """The current predict_files run: what the tab needs to place its results (kept off the Task)."""

    paths: list[str]
    expand: bool
    listed: bool  # its files have rows in the list (from the start when re-classifying listed entries)
    base: int = 0  # the row of its first file


class _Entry:
    __slots__ = ("heat", "path", "prediction")

    def __init__(self, path: str):
        self.path, self.prediction, self.heat = path, None, None


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except (OSError, RuntimeError):
        return a == b


class PredictTab(QWidget):
    classification_finished = Signal()  # nothing left to classify
    checkpoint_loaded = Signal(str)
    status_message = Signal(str)

    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self.cache = engine_calls.PredictorCache()
        self.entries: list[_Entry] = []
        self._queue: list[list[str]] = []
        self._reclassify = False
        # One classification job at a time; a new one (re-classify) or Clear retires the old one,
        # so its late results never reach entries that have changed or gone.
        self._classifying = CurrentTask()
        self._job: _ClassifyJob | None = None
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
        self._auto_select = True
        self.list.clear()
        self.table.clear_rows()
        self.view.clear()

    # ----------------------------------------------------------------- classification jobs
    @property
    def busy(self) -> bool:
        return self._job is not None or bool(self._queue) or self._reclassify or self.picker.loading

    def reclassify(self) -> None:
        """Classify every listed image again (new checkpoint, TTA level changed)."""
        for entry in self.entries:
            entry.heat = None
        self._retire_job()
        self._reclassify = bool(self.entries)
        self._pump()
        self._finish_if_idle()

    def _pump(self) -> None:
        if self._job is not None or self.checkpoint is None:
            return
        if self._reclassify and not self.entries:
            self._reclassify = False
        if self._reclassify:
            self._reclassify = False
            paths, expand = [e.path for e in self.entries], False
        elif self._queue:
            paths, expand = [p for batch in self._queue for p in batch], True
            self._queue.clear()
        else:
            return
        tta = self.tta.level
        args = (self.cache, self.checkpoint, paths, tta, expand)
        task = self._classifying.start(prediction_calls.predict_files, *args, name="classify")
        job = self._job = _ClassifyJob(paths, expand, listed=not expand)
        task.partial.connect(lambda value: self._on_partial(job, value))
        task.progress.connect(lambda f, text: self.status_message.emit(f"Classifying: {text}"))
        task.failed.connect(self._on_job_failed)
        task.finished.connect(lambda: self._on_job_done(job))
        task.start()

    def _retire_job(self) -> None:
        """Stop listening to the current job (it stops at its next chunk); files it had not
        listed yet stay queued."""
        job, self._job = self._job, None
        self._classifying.cancel()
        if job is not None and not job.listed:
            self._queue.insert(0, job.paths)

    def _on_partial(self, job: _ClassifyJob, value) -> None:
        if isinstance(value, prediction_calls.FoundFiles):
            self._on_files_found(job, value.paths)
        elif isinstance(value, prediction_calls.PredictedImage):
            self._on_predicted(job, value)

    def _on_files_found(self, job: _ClassifyJob, paths: list[str]) -> None:
        """List the files now; their results follow."""
        job.listed = True
        job.base = len(self.entries)
        self._append_entries(paths)
        if not paths:
            self.message.show_message("No image files found there.", "warning")

    def _on_predicted(self, job: _ClassifyJob, value: prediction_calls.PredictedImage) -> None:
        row = job.base + value.index
        if row >= len(self.entries) or self.entries[row].path != value.path:
            return  # the list was cleared meanwhile
        entry = self.entries[row]
        entry.prediction = value.prediction
        self.list.set_result(row, entry.path, entry.prediction, value.thumbnail)
        self.table.set_row(row, entry.path, entry.prediction)
        current = self.list.currentRow()
        if current == row:
            self._show_current(row)
        elif (
            self._auto_select
            and not entry.prediction.error
            and (current < 0 or self.entries[current].prediction is None or self.entries[current].prediction.error)
        ):
            self.list.setCurrentRow(row)  # show the first good result until the user picks one

    def _on_job_failed(self, error: TaskError) -> None:
        message = error.message
        self.message.show_message(f"Classification failed: {message}", "error")
        self.status_message.emit(message)

    def _on_job_done(self, job: _ClassifyJob) -> None:
        self._job = None
        if not job.listed:
            self._queue.insert(0, job.paths)  # stopped before listing its files: keep them queued
        self._pump()
        self._finish_if_idle()

    def _finish_if_idle(self) -> None:
        if not self.busy:
            if self.list.currentRow() < 0 and self.entries:
                self.list.setCurrentRow(0)
            done = [e for e in self.entries if e.prediction is not None]
            bad = sum(1 for e in done if e.prediction.error)
            if self.entries:
                errors = f", {engine.plural(bad, 'error')}" if bad else ""
                self.status_message.emit(f"Classified {engine.plural(len(done) - bad, 'image')}{errors}")
            self.classification_finished.emit()

    # ----------------------------------------------------------------- list and detail
    def _append_entries(self, paths: list[str]) -> None:
        """Pending rows for many files in one go (a dropped folder of 1,000 photos stays fluid)."""
        self.entries.extend(_Entry(path) for path in paths)
        for path in paths:
            self.list.add_pending(path)
        self.table.add_pending(paths)

    def _show_current(self, row: int) -> None:
        if 0 <= row < len(self.entries):
            entry = self.entries[row]
            self.view.show_item(entry.path, entry.prediction, entry.heat)
        else:
            self.view.clear()

    def _explain_current(self) -> None:
        row = self.list.currentRow()
        if not (0 <= row < len(self.entries)) or self.checkpoint is None:
            return
        entry = self.entries[row]
        p = entry.prediction
        if p is None or p.error or p.input_image is None or self._explaining.busy:
            return
        args = (self.cache, self.checkpoint, p.input_image, None)
        task = self._explaining.start(prediction_calls.explain_image, *args, name="grad-cam")
        task.succeeded.connect(lambda result, e=entry: self._on_heat(e, result))
        task.failed.connect(lambda error: self.message.show_message(f"Grad-CAM: {error.message}", "warning"))
        task.start()

    def explain_class(self, class_name: str) -> bool:
        """Grad-CAM of any class (clicked in the probability bars) for the selected image."""
        row = self.list.currentRow()
        if not (0 <= row < len(self.entries)) or self.checkpoint is None:
            return False
        entry = self.entries[row]
        p = entry.prediction
        if p is None or p.error or p.input_image is None or class_name not in p.probabilities:
            return False
        index = list(p.probabilities).index(class_name)  # probabilities are in the model's class order
        args = (self.cache, self.checkpoint, p.input_image, index)
        task = self._explaining.start(prediction_calls.explain_image, *args, name="grad-cam")
        task.succeeded.connect(lambda result, e=entry: self._on_class_heat(e, class_name, result))
        task.failed.connect(lambda error: self.message.show_message(f"Grad-CAM: {error.message}", "warning"))
        task.start()
        return True

    def _on_class_heat(self, entry: _Entry, class_name: str, result) -> None:
        entry.heat = result[0]
        if self.view.path != entry.path:
            return
        self.view.set_heat(entry.path, entry.heat)
        self.view.heatmap.setChecked(True)
        self.view.input_caption.setText(f"Where the model looks for {class_name}")
        self.status_message.emit(f"Grad-CAM for {class_name}")

    def _on_heat(self, entry: _Entry, result) -> None:
        entry.heat = result[0]
        self.view.set_heat(entry.path, entry.heat)
        current = self.list.currentRow()
        if 0 <= current < len(self.entries) and self.entries[current] is not entry and self.view.heatmap.isChecked():
            self._explain_current()  # the selection moved on while this one was computed

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
