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

This module holds the layout and the projects (new, open, save as); the classes and photos
are in :mod:`.photos`, features and training in :mod:`.pipeline`, the test area in :mod:`.try_it`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTemporaryDir, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

import engine

from ..background import engine_calls, teach_calls
from ..background.current import CurrentTask
from ..background.task import Task
from ..background.training_run import TrainingRun
from ..settings import Settings
from ..widgets.message_bar import MessageBar
from .class_bin import ClassBin, DropArea
from .common import DEBOUNCE_MS, EMPTY, MAX_LINES
from .model_panel import ModelPanel
from .photos import PhotosMixin
from .pipeline import PipelineMixin
from .test_area import TestList
from .try_it import TryItMixin

__all__ = ["DEBOUNCE_MS", "TeachTab"]


class TeachTab(PhotosMixin, PipelineMixin, TryItMixin, QWidget):
    """The tab; its parts: classes and photos (.photos), features and training (.pipeline),
    the test area (.try_it). The projects and the layout are here."""

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
        self._warm_up_task: Task | None = None
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
        if self.isVisible():
            self._warm_up()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.isEnabled():  # the engine is ready
            self._warm_up()

    def _warm_up(self) -> None:
        """Once, when the tab is first seen: the imports the first features pass and the first
        training need, in a worker, before photos arrive (otherwise they run beside the first
        photos' hashing, thumbnails and features, and the window stalls for them)."""
        if self._warm_up_task is None:
            self._warm_up_task = Task(teach_calls.warm_up, name="teach: warm up")
            self._warm_up_task.yielding = True
            self._warm_up_task.start()

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
            self.bins_box.set_placeholder(EMPTY)
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
