"""The Predict tab's classification jobs (a mixin of gui/predict/tab.py's tab): one
``predict_files`` run at a time in a worker thread, its files listed as they are found and their
results placed as they arrive; a new job (re-classify) or Clear retires the old one.
"""

from __future__ import annotations

from dataclasses import dataclass

import engine

from ..background import prediction_calls
from ..background.task import TaskError

__all__ = ["PREVIEWS_KEPT", "ClassifyJob", "ClassifyJobs", "Entry"]

# Photos of the latest results kept decoded for the view: about 0.2 MB each at 280 px (0.9 MB at
# twice the pixel ratio), so a folder of thousands never holds them all; an older entry's photo
# is decoded again when it is shown.
PREVIEWS_KEPT = 48


@dataclass
class ClassifyJob:
    """The current predict_files run: what the tab needs to place its results (kept off the Task)."""

    paths: list[str]
    expand: bool
    listed: bool  # its files have rows in the list (from the start when re-classifying listed entries)
    base: int = 0  # the row of its first file


class Entry:
    """One listed image: its path, its prediction and Grad-CAM heatmap once computed, and the
    view's photo from the classify worker's decode (kept for the latest PREVIEWS_KEPT results)."""

    __slots__ = ("heat", "path", "prediction", "preview")

    def __init__(self, path: str):
        self.path, self.prediction, self.heat, self.preview = path, None, None, None


class ClassifyJobs:
    """The tab's classification jobs (its entries, queue, list, table and checkpoint are the tab's)."""

    @property
    def busy(self) -> bool:
        return self._job is not None or bool(self._queue) or self._reclassify or self.picker.loading

    def _keep_preview(self, entry: Entry, preview) -> None:
        if preview is None:
            return
        if entry.preview is not None:  # classified again (new checkpoint, TTA): one place in the queue
            self._previews.remove(entry)
        entry.preview = preview
        self._previews.append(entry)
        while len(self._previews) > PREVIEWS_KEPT:
            self._previews.popleft().preview = None

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
        side = round(prediction_calls.PREVIEW_SIZE * self.devicePixelRatioF())  # the view's photo, in pixels
        task = self._classifying.start(prediction_calls.predict_files, *args, preview_side=side, name="classify")
        job = self._job = ClassifyJob(paths, expand, listed=not expand)
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

    def _on_partial(self, job: ClassifyJob, value) -> None:
        if isinstance(value, prediction_calls.FoundFiles):
            self._on_files_found(job, value.paths)
        elif isinstance(value, prediction_calls.PredictedImage):
            self._on_predicted(job, value)

    def _on_files_found(self, job: ClassifyJob, paths: list[str]) -> None:
        """List the files now; their results follow."""
        job.listed = True
        job.base = len(self.entries)
        self._append_entries(paths)
        if not paths:
            self.message.show_message("No image files found there.", "warning")

    def _on_predicted(self, job: ClassifyJob, value: prediction_calls.PredictedImage) -> None:
        row = job.base + value.index
        if row >= len(self.entries) or self.entries[row].path != value.path:
            return  # the list was cleared meanwhile
        entry = self.entries[row]
        entry.prediction = value.prediction
        self._keep_preview(entry, value.preview)
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

    def _on_job_done(self, job: ClassifyJob) -> None:
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
        self.entries.extend(Entry(path) for path in paths)
        for path in paths:
            self.list.add_pending(path)
        self.table.add_pending(paths)
