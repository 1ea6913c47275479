"""The Teach tab's test area ("Try it"): photos opened, dropped or pasted there are classified
by the current model, and again whenever a new model is trained."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QWidget

import engine

from ..background import prediction_calls
from ..widgets.drops import local_paths
from .common import IMAGE_FILTER

__all__ = ["TryItMixin"]


class TryItMixin:
    """Part of :class:`gui.teach.tab.TeachTab` (its state is set up there)."""

    # ----------------------------------------------------------------- test area
    def open_test_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Photos to try", "", IMAGE_FILTER)
        if files:
            self.add_test_photos(files)

    def paste(self) -> None:
        """Ctrl+V: into the class whose photos have the focus, otherwise into the test area."""
        focus = QGuiApplication.focusObject()
        for name, b in self._bins.items():
            if isinstance(focus, QWidget) and (focus is b or b.isAncestorOf(focus)):
                self.paste_into(name)
                return
        self.paste_tests()

    def paste_tests(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        paths = local_paths(mime)
        if not paths and mime is not None and mime.hasImage():
            path = self._save_pasted(mime.imageData())
            paths = [path] if path else []
        if paths:
            self.add_test_photos(paths)

    def add_test_photos(self, paths: list[str]) -> None:
        self._test_queue.extend(str(p) for p in paths)
        if self.checkpoint is None:
            self.test_note.setText("The photos are classified as soon as a model is trained.")
        self._pump_tests()

    def clear_tests(self) -> None:
        self._predicting.cancel()
        self._predict_job = None
        self._test_paths.clear()
        self._test_queue.clear()
        self.test_list.clear()
        self.test_note.clear()

    def _remove_tests(self, rows: list[int]) -> None:
        if self._predict_job is not None:
            return  # rows are being filled: try again in a moment
        for row in sorted(rows, reverse=True):
            if 0 <= row < len(self._test_paths):
                del self._test_paths[row]
                self.test_list.takeItem(row)

    def _reclassify_tests(self) -> None:
        if self._predict_job is not None and not self._predict_job["expand"]:
            self._predicting.cancel()
            self._predict_job = None
        self._test_reclassify = bool(self._test_paths)
        for row in range(len(self._test_paths)):
            self.test_list.set_waiting(row, "classifying…")
        self._pump_tests()

    def _pump_tests(self) -> None:
        if self._predict_job is not None or self.checkpoint is None:
            return
        if self._test_reclassify:
            self._test_reclassify = False
            paths, expand, base = list(self._test_paths), False, 0
        elif self._test_queue:
            paths, expand, base = list(self._test_queue), True, len(self._test_paths)
            self._test_queue.clear()
        else:
            return
        self.test_note.setText("")
        checkpoint = self.checkpoint
        job = self._predict_job = {"expand": expand, "base": base, "checkpoint": checkpoint}
        args = (self.cache, checkpoint, paths, engine.DEFAULT_PHOTO_TTA, expand)
        task = self._predicting.start(prediction_calls.predict_files, *args, name="teach: try it")
        task.partial.connect(lambda value: self._on_test_result(job, value))
        task.failed.connect(lambda error: self.test_note.setText(f"Could not classify: {error.message}"))
        task.finished.connect(lambda: self._tests_done(job))
        task.start()

    def _on_test_result(self, job: dict, value) -> None:
        if job is not self._predict_job:
            return
        if isinstance(value, prediction_calls.FoundFiles):
            job["base"] = len(self._test_paths)
            for path in value.paths:
                self._test_paths.append(path)
                self.test_list.add_pending(path)
            if not value.paths:
                self.test_note.setText("No image files found there.")
            return
        row = job["base"] + value.index
        if row >= len(self._test_paths) or self._test_paths[row] != value.path:
            return
        tta = engine.TTA_NAMES[engine.DEFAULT_PHOTO_TTA] if engine.DEFAULT_PHOTO_TTA else "no TTA"
        where = f"model: {Path(job['checkpoint']).parent.name}/{Path(job['checkpoint']).name} · {tta}"
        self.test_list.set_result(row, value.prediction, where)
        self.test_list.set_thumbnail(row, value.thumbnail)
        self.test_note.setText(f"Answers from {where}. Wrong? Right-click a photo: Add to class ▸")

    def _tests_done(self, job: dict) -> None:
        if job is self._predict_job:
            self._predict_job = None
        self._pump_tests()

    def test_answers(self) -> list[str]:
        """The test area's lines as shown (tests, screenshots)."""
        return [self.test_list.item(i).text() for i in range(self.test_list.count())]
