"""The Teach tab: your own classes from a few photos each, trained in seconds, tried at once.

A project is a folder (engine.TeachProject): one bin per class here, photos dropped on a bin
(or added, pasted, imported as a folder of class folders). Every change is saved by the
engine at once. In the background, one thing of each kind at a time:

* project changes (hashing and linking photos) run one after another in a worker, in order;
* the ImageNet backbone's features of new photos are computed and cached (coalesced: photos
  dropped meanwhile are done by the next pass);
* once every class has enough photos, the last layer trains (1 s after the last change, never
  two runs at once: a change during a run trains again after it), then the model is measured
  on its own held-out photos, and the test area's photos are classified again.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTemporaryDir, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

import engine

from ..background import engine_calls, prediction_calls, teach_calls
from ..background.current import CurrentTask
from ..background.task import Task, TaskError
from ..background.training_run import TrainingRun
from ..settings import Settings
from ..widgets.message_bar import MessageBar
from .class_bin import THUMB, ClassBin, DropArea, local_paths
from .model_panel import ModelPanel
from .test_area import TestList

__all__ = ["DEBOUNCE_MS", "TeachTab"]

_logger = logging.getLogger(__name__)
DEBOUNCE_MS = 1000  # training starts this long after the last change
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.gif *.ppm *.pgm);;All files (*)"
_EMPTY = (
    "Add class… makes a class: then drop photos or folders of it on it.\n\n"
    "Or drop here a folder with one sub-folder of photos per class (Import folder…)."
)
MAX_LINES = 8  # per-file lines shown in the message bar; the rest are counted (all are in the log)
PASTED = ".pasted"  # where a project keeps image data pasted or dropped into a class


class TeachTab(QWidget):
    status_message = Signal(str)
    open_in_predict = Signal(str)  # a checkpoint
    export_requested = Signal(str)  # a checkpoint
    fine_tune_requested = Signal(object, str)  # TrainConfig, run folder: the Train tab runs it
    model_ready = Signal(str)  # a trained checkpoint, measured and shown

    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self.project = None  # engine.TeachProject
        self.missing: set[str] = set()  # "class/name" whose original is gone
        self.checkpoint: str | None = None
        self.report = None  # teach_calls.HeldOutReport
        self.fine_tuned = False
        self.train_changes: dict = {}  # TrainConfig changes on top of engine.teach_config (tests: fewer epochs)
        self.cache = engine_calls.PredictorCache()
        self._bins: dict[str, ClassBin] = {}
        self._thumbs: dict[str, object] = {}  # sha256 -> QImage
        self._where: dict[str, list[tuple[str, str]]] = {}  # sha256 -> [(class, photo name)]
        self._thumb_jobs: list[tuple[str, str]] = []
        self._thumb_asked: set[str] = set()  # sha256 of every photo whose thumbnail was asked for
        self._thumb_task: Task | None = None
        self._ops: list[tuple] = []  # (project, method, args, on_done)
        self._op_task: Task | None = None
        self._opening = CurrentTask()
        self._features_task: Task | None = None
        self._features_dirty = False
        self._feature_errors: dict[str, str] = {}
        self._generation = 0  # counts changes to the project's photos and classes
        self._training: TrainingRun | None = None
        self._train_dirty = False
        self._trained_generation = -1
        self._reporting = CurrentTask()
        self._test_paths: list[str] = []
        self._test_queue: list[str] = []
        self._test_reclassify = False
        self._predicting = CurrentTask()
        self._predict_job: dict | None = None
        self._tmp = QTemporaryDir()
        self._pasted = 0
        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self._pump)
        self._build()
        self.setEnabled(False)  # until the engine has loaded

    # ----------------------------------------------------------------- layout
    def _build(self) -> None:
        self.new_button = QPushButton("New project…")
        self.open_button = QPushButton("Open project…")
        self.save_as_button = QPushButton("Save as…")
        self.save_as_button.setToolTip("Copy the project to another folder and continue there")
        self.import_button = QPushButton("Import folder…")
        self.import_button.setToolTip("A folder with one sub-folder of photos per class, in one step")
        self.project_label = QLabel()
        self.project_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message = MessageBar()
        self.add_class_button = QPushButton("Add class…")
        self.classes_hint = QLabel()
        self.classes_hint.setWordWrap(True)
        self.bins_box = DropArea()
        self.bins_layout = QVBoxLayout(self.bins_box)
        self.bins_layout.setContentsMargins(0, 0, 0, 0)
        self.bins_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(self.bins_box)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.model_panel = ModelPanel()
        self.test_open_button = QPushButton("Open photos…")
        self.test_clear_button = QPushButton("Clear")
        self.test_list = TestList()
        self.test_note = QLabel()
        self.test_note.setWordWrap(True)
        self.test_note.setEnabled(False)

        top = QHBoxLayout()
        for b in (self.new_button, self.open_button, self.save_as_button, self.import_button):
            top.addWidget(b)
        top.addWidget(self.project_label, 1)
        class_head = QHBoxLayout()
        title = QLabel("<b>Classes</b>")
        class_head.addWidget(title)
        class_head.addWidget(self.classes_hint, 1)
        class_head.addWidget(self.add_class_button)
        left = QWidget()
        left_col = QVBoxLayout(left)
        left_col.setContentsMargins(0, 0, 0, 0)
        left_col.addLayout(class_head)
        left_col.addWidget(scroll, 1)
        test_box = QGroupBox("Try it")
        test_buttons = QHBoxLayout()
        test_buttons.addWidget(self.test_open_button)
        test_buttons.addWidget(self.test_clear_button)
        test_buttons.addStretch(1)
        test_col = QVBoxLayout(test_box)
        test_col.addLayout(test_buttons)
        test_col.addWidget(self.test_list, 1)
        test_col.addWidget(self.test_note)
        right = QWidget()
        right_col = QVBoxLayout(right)
        right_col.setContentsMargins(0, 0, 0, 0)
        right_col.addWidget(self.model_panel)
        right_col.addWidget(test_box, 1)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([740, 520])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(splitter, 1)

        self.new_button.clicked.connect(self.new_project_dialog)
        self.open_button.clicked.connect(self.open_project_dialog)
        self.save_as_button.clicked.connect(self.save_as_dialog)
        self.import_button.clicked.connect(self.import_folder_dialog)
        self.add_class_button.clicked.connect(self.add_class_dialog)
        self.test_open_button.clicked.connect(self.open_test_dialog)
        self.test_clear_button.clicked.connect(self.clear_tests)
        self.test_list.files_dropped.connect(self.add_test_photos)
        self.bins_box.files_dropped.connect(self._dropped_beside_bins)
        self.test_list.add_to_class.connect(lambda path, name: self.add_files(name, [path]))
        self.test_list.remove_requested.connect(self._remove_tests)
        self.model_panel.predict_button.clicked.connect(
            lambda: self.checkpoint and self.open_in_predict.emit(self.checkpoint)
        )
        self.model_panel.export_button.clicked.connect(
            lambda: self.checkpoint and self.export_requested.emit(self.checkpoint)
        )
        self.model_panel.fine_tune_button.clicked.connect(self.fine_tune)
        QShortcut(QKeySequence.StandardKey.Paste, self, activated=self.paste)
        self._show_project()

    # ----------------------------------------------------------------- engine / start
    def engine_ready(self, info) -> None:
        self.cache.device = info.torch_device
        self.setEnabled(True)
        last = self.settings.teach_project
        if last and (Path(last) / engine.PROJECT_FILE).is_file():
            self.open_project(last)
        else:
            self._show_project()

    # ----------------------------------------------------------------- projects
    def _default_folder(self) -> Path:
        root = engine.data_dir() / "teach-projects"
        n = 1
        while (root / f"project-{n}").exists():
            n += 1
        return root / f"project-{n}"

    def new_project_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "New project: choose an empty folder (or make one)")
        if folder:
            self.new_project(folder)

    def open_project_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a Teach project folder")
        if folder:
            self.open_project(folder)

    def save_as_dialog(self) -> None:
        if self.project is None:
            return
        folder = QFileDialog.getExistingDirectory(self, "Save the project as: choose an empty folder (or make one)")
        if folder:
            self.save_as(folder)

    def new_project(self, folder: str | Path, then=None) -> None:
        self._start_open(teach_calls.open_project, str(folder), True, then=then, verb="Created")

    def open_project(self, folder: str | Path) -> None:
        self._start_open(teach_calls.open_project, str(folder), False, verb="Opened")

    def save_as(self, folder: str | Path) -> None:
        if self.project is not None:
            self._start_open(teach_calls.save_project_as, teach_calls.snapshot(self.project), str(folder), verb="Saved")

    def _start_open(self, fn, *args, then=None, verb: str) -> None:
        task = self._opening.start(fn, *args, name="open project")
        task.succeeded.connect(lambda opened: self._on_opened(opened, verb, then))
        task.failed.connect(lambda error: self.message.show_message(error.message, "error"))
        task.start()
        self.status_message.emit("Opening the project…")

    def _on_opened(self, opened: teach_calls.OpenedProject, verb: str, then=None) -> None:
        self._retire_project()
        self.project = opened.project
        self.missing = set(opened.missing)
        self.settings.teach_project = str(self.project.folder)
        self.message.clear()
        if opened.missing:
            shown = ", ".join(opened.missing[:MAX_LINES])
            more = f" and {len(opened.missing) - MAX_LINES} more" if len(opened.missing) > MAX_LINES else ""
            self.message.show_message(
                f"{engine.plural(len(opened.missing), 'photo')} of this project can no longer be opened (the "
                f"original was moved or deleted): {shown}{more}. Training skips them; remove them or add them again.",
                "warning",
            )
        self.status_message.emit(f"{verb} project {self.project.name} ({self.project.folder})")
        self._show_project()
        self._rebuild_bins()
        self._features_dirty = True
        if opened.model is not None:  # trained after the last change: shown as is, nothing retrained
            self._trained_generation = self._generation
            self.fine_tuned = "-finetune-" in Path(opened.model).parent.name
            self._set_model(opened.model)
        else:
            self._train_dirty = self.project.ready()
        self._pump()
        if then is not None:
            then()

    def _retire_project(self) -> None:
        """Let the old project go: its queued changes, its runs (they finish unheard)."""
        self._ops.clear()
        self._debounce.stop()
        if self._training is not None:
            self._training.stop()
        self._reporting.cancel()
        self.checkpoint = None
        self.report = None
        self.fine_tuned = False
        self._train_dirty = False
        self._features_dirty = False
        self._generation += 1
        self._trained_generation = -1
        self.model_panel.set_model(None)
        self.model_panel.clear_report()
        for b in list(self._bins.values()):
            b.deleteLater()
        self._bins.clear()

    def _ensure_project(self, then) -> bool:
        """A project to add to: a new one in the default place when none is open (said so)."""
        if self.project is not None:
            return True
        folder = self._default_folder()

        def created() -> None:
            self.message.show_message(
                f"New project in {folder}: changes save themselves. New project… or Save as… "
                "puts a project in a folder of your choice.",
                "info",
            )
            then()

        self.new_project(folder, then=created)
        return False

    def _show_project(self) -> None:
        enabled = self.project is not None
        self.save_as_button.setEnabled(enabled)
        if not enabled:
            self.bins_box.set_placeholder(_EMPTY)
            self.project_label.setText("No project yet: add a class, import a folder, or open a project.")
            self.classes_hint.setText("")
            self.model_panel.set_state(
                f"Add two classes or more, with at least {engine.MIN_PHOTOS} photos each: the model trains by itself."
            )
            return
        self.project_label.setText(
            f"Project <b>{self.project.name}</b> in {self.project.folder} · changes save themselves"
        )
        self.project_label.setToolTip(
            "A project is its folder: one sub-folder per class holding links to your photos, and a "
            f"{engine.PROJECT_FILE} file. Every change is saved at once; Save as… copies it elsewhere."
        )

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
        self.bins_box.set_placeholder("" if names else _EMPTY)
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

    # ----------------------------------------------------------------- features and training
    def _pump(self) -> None:
        """Start whatever is due: a features pass, then (once settled and ready) a training."""
        if self.project is None or self._opening.busy:
            return
        if self._features_dirty and self._features_task is None:
            self._start_features()  # on a snapshot: photos being added meanwhile come in the next pass
        if (
            self._train_dirty
            and self._training is None
            and self._features_task is None
            and not self._features_dirty
            and not self._debounce.isActive()
            and self._op_task is None
            and not self._ops
        ):
            if self.project.ready():
                self._start_training()
            else:
                self._train_dirty = False
                self._show_idle_state()

    def _start_features(self) -> None:
        self._features_dirty = False
        project = teach_calls.snapshot(self.project)
        if not project.all_photos():
            return
        task = self._features_task = Task(teach_calls.compute_features, project, name="features")
        task.progress.connect(self._on_features_progress)
        task.succeeded.connect(lambda errors: self._on_features(project, errors))
        task.failed.connect(lambda error: self.message.show_message(f"Reading the photos: {error.message}", "error"))
        task.finished.connect(self._features_done)
        task.start()

    def _on_features_progress(self, fraction, text: str) -> None:
        if self._training is None:
            self.model_panel.set_state(f"Reading the photos with the ImageNet network: {text}", fraction, busy=True)

    def _on_features(self, project, errors: dict) -> None:
        if self.project is None or project.folder != self.project.folder:
            return
        current = {f"{c}/{p.name}" for c, p in self.project.all_photos()}
        # photos whose original is gone were named when the project opened: said once
        new = {
            k: v for k, v in errors.items() if k in current and k not in self._feature_errors and k not in self.missing
        }
        self._feature_errors = {k: v for k, v in errors.items() if k in current}
        if new:
            lines = [f"{k}: {v}" for k, v in list(new.items())[:MAX_LINES]]
            self.message.show_message(
                "\n".join([f"{engine.plural(len(new), 'photo')} could not be read; training skips them:", *lines]),
                "warning",
            )

    def _features_done(self) -> None:
        self._features_task = None
        self._show_idle_state()
        self._pump()

    def _start_training(self) -> None:
        self._train_dirty = False
        project = self.project
        config = engine.teach_config(project, **self.train_changes)
        out_dir = teach_calls.run_folder(project)
        run = self._training = TrainingRun(config, str(out_dir), overwrite=True)
        generation = self._generation
        counts = project.counts()
        self.model_panel.set_state("Training the last layer on your photos…", None, busy=True)
        self.status_message.emit(f"Teach: training on {engine.plural(sum(counts.values()), 'photo')}")
        run.epoch.connect(
            lambda ev: self.model_panel.set_state(
                f"Training the last layer: epoch {ev.epoch} of {ev.epochs}", ev.epoch / max(ev.epochs, 1), busy=True
            )
        )
        run.log.connect(lambda level, text: level != "info" and _logger.warning("teach training: %s", text))
        run.finished.connect(lambda rf: self._on_trained(project, rf, generation, counts, config))
        run.failed.connect(lambda error: self._on_train_failed(project, error, generation))
        run.done.connect(self._training_done)
        run.start()

    def _on_trained(self, project, rf, generation: int, counts: dict, config) -> None:
        if project is not self.project:
            return
        if rf.status != "completed" or not rf.best_checkpoint:
            if rf.status == "failed" and generation != self._generation:
                # The photos changed under it (a class renamed mid-run): the next run is due anyway.
                _logger.info("teach: a run on changed photos failed (%s); training again", rf.message)
                self._train_dirty = True
            elif rf.status == "failed":
                self.message.show_message(f"Training failed: {rf.message}", "error")
            return
        self._trained_generation = generation
        self.fine_tuned = False
        self._set_model(rf.best_checkpoint, tta=config.tta, counts=counts)

    def _on_train_failed(self, project, error: TaskError, generation: int) -> None:
        if project is self.project and generation != self._generation:
            _logger.info("teach: a run on changed photos could not start (%s); training again", error.message)
            self._train_dirty = True
        elif project is self.project:
            self.message.show_message(f"Training could not start: {error.message}", "error")

    def _training_done(self) -> None:
        self._training = None
        self._show_idle_state()
        self._pump()

    def _set_model(self, checkpoint: str, tta: int | None = None, counts: dict | None = None) -> None:
        """A new model: forget the old predictor, measure it on its held-out photos, reclassify the tests."""
        self.checkpoint = checkpoint
        self.cache.forget(checkpoint)
        self.model_panel.set_model(checkpoint)
        self._reclassify_tests()
        if tta is None:
            tta = engine.teach_config(self.project).tta
        self._measure(checkpoint, tta, counts or self.project.counts())
        self._show_idle_state()

    def _measure(self, checkpoint: str, tta: int, counts: dict) -> None:
        """The held-out report, unless the photos changed since the model was trained (a new run is due)."""
        if self._generation != self._trained_generation:
            return
        project, generation = self.project, self._generation
        args = (checkpoint, str(project.folder), counts, tta)
        task = self._reporting.start(teach_calls.held_out_report, *args, name="held-out accuracy")
        task.succeeded.connect(lambda report: self._on_report(project, generation, report, counts))
        task.failed.connect(
            lambda error: self.model_panel.clear_report(f"Could not measure the model: {error.message}")
        )
        task.finished.connect(self._show_idle_state)
        task.finished.connect(self._pump)
        task.start()
        self._show_idle_state()

    def _on_report(self, project, generation: int, report, counts: dict) -> None:
        if project is not self.project or generation != self._generation:
            return  # the photos changed meanwhile: the next training measures again
        self.report = report
        trained_on = sum(counts.values()) - report.images
        self.model_panel.set_report(report, trained_on, self.fine_tuned)
        self.model_panel.set_tips(report.guidance)
        self.status_message.emit(
            f"Teach: {report.accuracy:.0%} right on {engine.plural(report.images, 'held-out photo')} "
            f"({Path(report.checkpoint).parent.name})"
        )
        self.model_ready.emit(report.checkpoint)

    def _show_idle_state(self) -> None:
        """The model panel's line when nothing reports progress."""
        if self.project is None:
            return
        if self._training is not None:
            return
        if self._features_task is not None:
            return
        if self._reporting.busy:
            self.model_panel.set_state("Measuring the model on its held-out photos…", None, busy=True)
            return
        if self._train_dirty and self.project.ready():
            self.model_panel.set_state("Training starts in a moment…")
            return
        if not self.project.ready():
            self.model_panel.set_state(
                f"The model trains by itself once there are two classes or more with at least "
                f"{engine.MIN_PHOTOS} photos each."
                + (" The model below is from before the last change." if self.checkpoint else "")
            )
            return
        if self.checkpoint is not None:
            kind = "Fine-tuned model" if self.fine_tuned else "Trained"
            self.model_panel.set_state(f"{kind}: up to date with your photos. Try it below.")

    # ----------------------------------------------------------------- fine-tuning (on the Train tab)
    def fine_tune(self) -> None:
        """The whole network, trained on the Train tab (curves, Stop, Resume); adopted here when done."""
        if self.project is None or not self.project.ready():
            self.message.show_message(
                f"Fine-tuning needs two classes or more with at least {engine.MIN_PHOTOS} photos each.", "info"
            )
            return
        config = engine.teach_config(
            self.project,
            model_args={"transfer": "finetune", "input_size": 224},
            epochs=10,
            lr=1e-3,
            batch_size=32,
            **{k: v for k, v in self.train_changes.items() if k not in ("model_args", "epochs", "lr", "batch_size")},
        )
        out = teach_calls.run_folder(self.project)
        folder = out.with_name(f"{out.name}-finetune-{time.strftime('%Y%m%d-%H%M%S')}")
        self._fine_tune_folder = str(folder)
        self.fine_tune_requested.emit(config, str(folder))

    def fine_tune_finished(self, rf) -> None:
        """A Train-tab run ended: the fine-tuning asked for here becomes this tab's model."""
        folder = getattr(self, "_fine_tune_folder", None)
        best = getattr(rf, "best_checkpoint", None)
        if not folder or not best or Path(best).parent != Path(folder) or rf.status != "completed":
            return
        self._fine_tune_folder = None
        self.fine_tuned = True
        self._trained_generation = self._generation
        self.message.show_message(f"Fine-tuning finished: the model is now {best}.", "info")
        self._set_model(best)

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

    # ----------------------------------------------------------------- shutdown
    def shutdown(self) -> None:
        self._debounce.stop()
        self._ops.clear()
        if self._training is not None:
            self._training.stop()
        for current in (self._predicting, self._reporting, self._opening):
            current.cancel()
        for task in (self._features_task, self._thumb_task, self._op_task):
            if task is not None:
                task.cancel()
