"""The Teach tab's classes and photos: adding, renaming and removing classes, photos dropped,
added, pasted or imported, the queue that applies every change to the project in a worker, one
after another, and the bins that show the classes with their thumbnails (decoded in a worker)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

import engine

from ..background import teach_calls
from ..background.task import Task
from ..widgets.drops import local_paths
from .class_bin import THUMB, ClassBin
from .common import EMPTY, IMAGE_FILTER, MAX_LINES, PASTED

__all__ = ["PhotosMixin"]

_logger = logging.getLogger(__name__)


class PhotosMixin:
    """Part of :class:`gui.teach.tab.TeachTab` (its state is set up there)."""

    # ----------------------------------------------------------------- classes
    def add_class_dialog(self) -> None:
        name, ok = QInputDialog.getText(self, "Add class", "Name of the new class (e.g. cat, my mug, ripe):")
        if ok and name.strip():
            self.add_class(name.strip())

    def add_class(self, name: str) -> None:
        if not self._ensure_project(lambda: self.add_class(name)):
            return
        self._queue_op("add_class", name)

    def rename_class_dialog(self, name: str) -> None:
        new, ok = QInputDialog.getText(self, "Rename class", f"New name for “{name}”:", text=name)
        if ok and new.strip() and new.strip() != name:
            self.rename_class(name, new.strip())

    def rename_class(self, old: str, new: str) -> None:
        self._queue_op("rename_class", old, new)

    def remove_class_dialog(self, name: str) -> None:
        n = len(self.project.get(name).photos) if self.project else 0
        answer = QMessageBox.question(
            self,
            "Remove class",
            f"Remove the class “{name}” and its {engine.plural(n, 'photo')} from the project? "
            "Your own photo files are not touched.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.remove_class(name)

    def remove_class(self, name: str) -> None:
        self._queue_op("remove_class", name)

    # ----------------------------------------------------------------- photos
    def add_files(self, class_name: str, paths: list[str]) -> None:
        """Photos and folders into a class (in the background); the report says what happened."""
        paths = [str(p) for p in paths]
        if paths:
            self.status_message.emit(f"Adding {engine.plural(len(paths), 'item')} to {class_name}…")
            self._queue_call(teach_calls.add_photos, class_name, paths, on_done=self._on_added)

    def _dropped_beside_bins(self, paths: list[str]) -> None:
        """A drop outside every bin: one folder is imported as a folder of class folders."""
        if len(paths) == 1:
            self.import_folder(paths[0])
        else:
            self.message.show_message(
                "Drop photos on the class they show (Add class… makes one), or drop here one folder "
                "with a sub-folder of photos per class.",
                "info",
            )

    def import_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a folder with one sub-folder of photos per class")
        if folder:
            self.import_folder(folder)

    def import_folder(self, folder: str) -> None:
        if not self._ensure_project(lambda: self.import_folder(folder)):
            return
        self.status_message.emit(f"Importing {folder}…")
        self._queue_call(teach_calls.import_folder, folder, on_done=self._on_added)

    def add_files_dialog(self, class_name: str) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, f"Add photos to {class_name}", "", IMAGE_FILTER)
        if files:
            self.add_files(class_name, files)

    def paste_into(self, class_name: str) -> None:
        """Clipboard: copied files, or image data (saved as a PNG in a temporary folder, then added)."""
        mime = QGuiApplication.clipboard().mimeData()
        paths = local_paths(mime)
        if paths:
            self.add_files(class_name, paths)
        elif mime is not None and mime.hasImage():
            self.add_image(class_name, mime.imageData())
        else:
            self.message.show_message("The clipboard holds no photos or image files.", "info")

    def add_image(self, class_name: str, image) -> None:
        # Kept in the project (a hidden folder the training ignores): the class links to it, and
        # a temporary file would be gone when the app closes.
        path = self._save_pasted(image, self.project.folder / PASTED if self.project is not None else None)
        if path:
            self.add_files(class_name, [path])

    def _save_pasted(self, image, folder: Path | None = None) -> str | None:
        if image is None or image.isNull():
            return None
        self._pasted += 1
        folder = folder or Path(self._tmp.path())
        path = folder / f"pasted-{time.strftime('%Y%m%d-%H%M%S')}-{self._pasted}.png"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # said below: the save fails
        if not image.save(str(path), "PNG"):
            self.message.show_message(f"Could not save the pasted image in {path.parent}.", "error")
            return None
        return str(path)

    def remove_photos(self, class_name: str, names: list[str]) -> None:
        for name in names:
            self._queue_op("remove_photo", class_name, name)

    def move_photos(self, class_name: str, names: list[str], to_class: str) -> None:
        for name in names:
            self._queue_op("move_photo", name, class_name, to_class)

    def _on_added(self, reports: dict) -> None:
        """One summary line, then each duplicate and each unreadable file on its own line."""
        added = sum(len(r.added) for r in reports.values())
        where = ", ".join(f"{len(r.added)} to {name}" for name, r in reports.items() if r.added)
        lines = [f"Added {engine.plural(added, 'photo')}" + (f" ({where})" if len(reports) > 1 and where else "")]
        if len(reports) == 1 and added:
            lines[0] += f" to {next(iter(reports))}"
        problems = []
        for r in reports.values():
            for path, other in r.duplicates:
                problems.append(f"{Path(path).name}: already in the project (in {other}), not added twice")
            for path, reason in r.errors:
                problems.append(reason if Path(path).name in reason else f"{Path(path).name}: {reason}")
        for line in problems:
            _logger.info("teach: %s", line)
        if problems:
            shown = problems[:MAX_LINES]
            if len(problems) > MAX_LINES:
                shown.append(f"… and {len(problems) - MAX_LINES} more (all in the log)")
            errors = any(r.errors for r in reports.values())
            self.message.show_message("\n".join([lines[0] + ":", *shown]), "warning" if errors or not added else "info")
        else:
            self.message.clear()
        self.status_message.emit(lines[0])

    # ----------------------------------------------------------------- the change queue
    def _queue_op(self, method: str, *args, on_done=None) -> None:
        """``project.<method>(*args)`` after the changes queued before it, in a worker."""
        self._queue_call(teach_calls.project_call, method, *args, on_done=on_done)

    def _queue_call(self, fn, *args, on_done=None) -> None:
        """``fn(state, project, *args)`` after the changes queued before it; its partial results
        (:class:`teach_calls.Added`) update the window as they come."""
        if self.project is None:
            return
        self._ops.append((self.project, fn, args, on_done))
        self._next_op()

    @property
    def busy(self) -> bool:
        """Anything still to do: changes, features, training, measuring, classifying tests."""
        return (
            self._op_task is not None
            or bool(self._ops)
            or self._opening.busy
            or self._features_task is not None
            or self._features_dirty
            or self._training is not None
            or (self._train_dirty and self.project is not None and self.project.ready())
            or self._debounce.isActive()
            or self._reporting.busy
            or self._predict_job is not None
            or bool(self._test_queue)
            or (self._test_reclassify and self.checkpoint is not None)
        )

    def _next_op(self) -> None:
        if self._op_task is not None or not self._ops:
            return
        project, fn, args, on_done = self._ops.pop(0)
        task = Task(fn, project, *args, name=f"project {args[0] if fn is teach_calls.project_call else fn.__name__}")
        self._op_task = task
        task.yielding = True  # the window stays responsive while photos are added
        task.partial.connect(lambda added: project is self.project and self._on_chunk(added))
        task.progress.connect(
            lambda fraction, text: project is self.project and self.status_message.emit(f"Adding photos: {text}")
        )
        if on_done is not None:
            task.succeeded.connect(lambda result: project is self.project and on_done(result))
        task.failed.connect(lambda error: project is self.project and self.message.show_message(error.message, "error"))
        task.finished.connect(lambda: self._op_finished(project))
        task.start()

    def _op_finished(self, project) -> None:
        self._op_task = None
        if project is self.project:
            self._changed()
        self._next_op()

    def _on_chunk(self, added: teach_calls.Added) -> None:
        """Some photos went in while more are being added: show them, start their features."""
        self._changed()

    def _changed(self) -> None:
        """The project changed: bins, features, and a new training once things settle."""
        self._generation += 1
        self._rebuild_bins()
        self._features_dirty = True
        self._train_dirty = True
        if self.checkpoint is not None and self.report is not None:
            self.model_panel.set_state("The photos changed: the model trains again in a moment.")
        self._debounce.start()
        self._pump()

    # ----------------------------------------------------------------- bins
    def _rebuild_bins(self) -> None:
        if self.project is None:
            return
        names = self.project.class_names()
        self._where = {}
        for cname, p in self.project.all_photos():
            self._where.setdefault(p.sha256, []).append((cname, p.name))
        for name in list(self._bins):
            if name not in names:
                self._bins.pop(name).deleteLater()
        for i, c in enumerate(self.project.classes):
            b = self._bins.get(c.name)
            if b is None:
                b = self._make_bin(c.name)
            if self.bins_layout.indexOf(b) != i:
                self.bins_layout.insertWidget(i, b)  # new, or the order changed
            b.other_classes = [n for n in names if n != c.name]
            b.set_photos(
                c.photos, self._thumbs, {n.split("/", 1)[1] for n in self.missing if n.startswith(f"{c.name}/")}
            )
            for p in c.photos:
                if p.sha256 not in self._thumb_asked and f"{c.name}/{p.name}" not in self.missing:
                    self._thumb_asked.add(p.sha256)
                    self._thumb_jobs.append((p.sha256, str(self.project.photo_path(c.name, p))))
        self.test_list.classes = names
        self.bins_box.set_placeholder("" if names else EMPTY)
        self._next_thumbs()
        counts = self.project.counts()
        total = sum(counts.values())
        self.classes_hint.setText(
            f"{engine.plural(len(counts), 'class')}, {engine.plural(total, 'photo')}: drop photos or folders on a class"
        )
        if self.report is None or self._training is not None:
            self.model_panel.set_tips(engine.guidance(counts))
        self._show_idle_state()

    def _make_bin(self, name: str) -> ClassBin:
        b = ClassBin(name)
        b.files_dropped.connect(self.add_files)
        b.add_requested.connect(self.add_files_dialog)
        b.paste_requested.connect(self.paste_into)
        b.image_dropped.connect(self.add_image)
        b.rename_requested.connect(self.rename_class_dialog)
        b.remove_requested.connect(self.remove_class_dialog)
        b.remove_photos.connect(self.remove_photos)
        b.move_photos.connect(self.move_photos)
        self._bins[name] = b
        return b

    def bin(self, name: str) -> ClassBin:
        return self._bins[name]

    def _next_thumbs(self) -> None:
        if self._thumb_task is not None or not self._thumb_jobs:
            return
        jobs, self._thumb_jobs = self._thumb_jobs, []
        task = self._thumb_task = Task(teach_calls.load_thumbnails, jobs, 2 * THUMB, name="thumbnails")
        task.yielding = True  # the window stays responsive while photos are added
        task.partial.connect(self._on_thumbnail)
        task.finished.connect(self._thumbs_done)
        task.start()

    def _on_thumbnail(self, thumb: teach_calls.Thumbnail) -> None:
        if thumb.image is None:
            return
        self._thumbs[thumb.key] = thumb.image
        for cname, name in self._where.get(thumb.key, []):
            if cname in self._bins:
                self._bins[cname].set_thumbnail(name, thumb.image)

    def _thumbs_done(self) -> None:
        self._thumb_task = None
        self._next_thumbs()
