"""The Runs tab: every run under the runs folder (and folders the user adds) in a sortable,
filterable table; the selected runs' curves overlaid (the Train tab's live run too); and what
to do with a run: resume it, open its best checkpoint, show its config, copy the equivalent
command, rename, move to trash, export.

The engine owns the run-folder format (engine.list_runs / read_run), so this view and
``python -m engine runs`` agree. The list refreshes when the Train tab starts or ends a run,
when a watched folder changes, and every few seconds while a listed run is training.

What the actions do is in gui/runs/run_actions.py; here: the table, listing and watching the
folders, the selection and the curves overlay.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..background import run_calls
from ..background.current import CurrentTask
from ..settings import Settings
from ..widgets.export_dialog import ExportDialog
from ..widgets.message_bar import MessageBar
from .dialogs import ask_text, ask_yes_no
from .overlay import RunsOverlay
from .run_actions import RunActions
from .runs_model import PATH_ROLE, RunsFilter, RunsTableModel

# Imports inside functions: `engine` is imported when the user acts on a run, after it has loaded in
# a worker; never at the window's start-up.

__all__ = ["RunsTab"]

_logger = logging.getLogger(__name__)
_FOLDERS_KEY = "runs/folders"
BUSY_REFRESH_MS = 3000  # while a listed run is training: its epochs and status move on
LIVE_POLL_MS = 1000


class RunsTab(RunActions, QWidget):
    """Signals: ``resume_requested(run folder)``, ``open_in_predict(checkpoint)``,
    ``open_in_evaluate(checkpoint)``, ``status_message(text)``.

    ``confirm(parent, title, text) -> bool`` and ``ask_text(parent, title, label, text)`` are
    attributes so tests can answer the dialogs; ``live_source() -> (name, rows) | None`` is set
    by the window to the Train tab's current run.
    """

    resume_requested = Signal(str)
    open_in_predict = Signal(str)
    open_in_evaluate = Signal(str)
    status_message = Signal(str)
    refreshed = Signal()
    runs_listed = Signal(list)  # every listed engine.RunSummary (the checkpoint menus list their best.pt)

    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self.confirm: Callable[[QWidget, str, str], bool] = ask_yes_no
        self.ask_text: Callable[[QWidget, str, str, str], str | None] = ask_text
        self.live_source: Callable[[], tuple[str, list[dict]] | None] | None = None
        self.export_dialog: ExportDialog | None = None
        self._listing = CurrentTask()
        self._reading = CurrentTask()
        self._live_count = -1
        self._build()
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(lambda _p: self._debounce.start())
        self._debounce = QTimer(self, singleShot=True, interval=500, timeout=self.refresh)
        self._busy_timer = QTimer(self, interval=BUSY_REFRESH_MS, timeout=self._refresh_if_running)
        self._live_timer = QTimer(self, interval=LIVE_POLL_MS, timeout=self._poll_live)
        self.setEnabled(False)  # until the engine has loaded

    # ----------------------------------------------------------------- layout
    def _build(self) -> None:
        self.model = RunsTableModel(self)
        self.proxy = RunsFilter(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(6, Qt.SortOrder.DescendingOrder)  # newest first
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.doubleClicked.connect(lambda _i: self.open_selected("predict"))
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter runs (name, model, data, status…)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.setToolTip("Also list the runs in another folder")
        self.refresh_button = QPushButton("Refresh")
        self.live_check = QCheckBox("Overlay the live run")
        self.live_check.setToolTip("Add the Train tab's current run to the plots")
        self.live_check.setChecked(True)
        self.live_check.toggled.connect(lambda _on: self._poll_live(force=True))
        self.message = MessageBar()
        self.overlay = RunsOverlay()

        self.actions: dict[str, QAction] = {}
        specs = [
            ("resume", "Resume", "Continue this stopped run on the Train tab", self.resume_selected),
            (
                "predict",
                "Open in Predict",
                "Load its best checkpoint in the Predict tab",
                lambda: self.open_selected("predict"),
            ),
            ("evaluate", "Open in Evaluate", "Evaluate its best checkpoint", lambda: self.open_selected("evaluate")),
            ("config", "Show config", "The run's settings (config.json)", self.show_config),
            ("command", "Copy command", "Copy the equivalent `python -m engine train …` command", self.copy_command),
            ("rename", "Rename…", "Rename the run's folder", self.rename_selected),
            ("trash", "Move to trash…", "Move the run's folder to the trash", self.trash_selected),
            (
                "export",
                "Export…",
                "Export its best checkpoint to ONNX, TorchScript or safetensors",
                self.export_selected,
            ),
        ]
        buttons = QHBoxLayout()
        for key, text, tip, slot in specs:
            action = QAction(text, self)
            action.setToolTip(tip)
            action.triggered.connect(lambda _c=False, s=slot: s())
            self.actions[key] = action
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(action.trigger)
            action.changed.connect(lambda b=button, a=action: b.setEnabled(a.isEnabled()))
            buttons.addWidget(button)
        buttons.addStretch(1)

        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.add_folder_button)
        top.addWidget(self.refresh_button)
        upper = QWidget()
        col = QVBoxLayout(upper)
        col.setContentsMargins(0, 0, 0, 0)
        col.addLayout(top)
        col.addWidget(self.message)
        col.addWidget(self.table, 1)
        col.addLayout(buttons)
        lower = QWidget()
        low = QVBoxLayout(lower)
        low.setContentsMargins(0, 0, 0, 0)
        low.addWidget(self.live_check)
        low.addWidget(self.overlay, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(upper)
        splitter.addWidget(lower)
        splitter.setSizes([330, 420])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(splitter)
        self.add_folder_button.clicked.connect(self.add_folder_dialog)
        self.refresh_button.clicked.connect(self.refresh)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._on_selection())
        self._update_actions()

    # ----------------------------------------------------------------- folders and listing
    @property
    def folders(self) -> list[str]:
        """Folders the user added (the default runs folder is always listed)."""
        try:
            value = json.loads(str(self.settings.store.value(_FOLDERS_KEY) or "[]"))
        except ValueError:
            return []
        return [str(v) for v in value] if isinstance(value, list) else []

    def add_folder(self, folder: str) -> None:
        folders = self.folders
        if folder not in folders:
            self.settings.store.setValue(_FOLDERS_KEY, json.dumps([*folders, folder]))
        self.refresh()

    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of training runs")
        if folder:
            self.add_folder(folder)

    def engine_ready(self, info) -> None:
        self.setEnabled(True)
        self.refresh()
        self._live_timer.start()

    @property
    def busy(self) -> bool:
        return self._listing.busy or self._reading.busy

    def refresh(self) -> None:
        """List the runs again in the background; the selection is kept (by folder)."""
        task = self._listing.start(run_calls.list_runs, self.folders, name="list runs")
        task.succeeded.connect(self._show_runs)
        task.failed.connect(lambda error: self.message.show_message(f"Cannot list runs: {error.message}", "error"))
        task.start()

    def _show_runs(self, runs: list) -> None:
        import engine

        selected = set(self.selected_paths())
        self.model.set_runs(runs)
        selection = self.table.selectionModel()
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if index.data(PATH_ROLE) in selected:
                selection.select(index, selection.SelectionFlag.Select | selection.SelectionFlag.Rows)
        self._watch([str(engine.runs_dir()), *self.folders])
        running = any(s.status == "running" for s in runs)
        if running and not self._busy_timer.isActive():
            self._busy_timer.start()
        elif not running:
            self._busy_timer.stop()
        self._update_actions()
        self.runs_listed.emit(list(runs))
        self.refreshed.emit()

    def _watch(self, roots: list[str]) -> None:
        # The roots (a run appears or goes) and each run folder (its files change as it trains).
        wanted = {r for r in roots if Path(r).is_dir()}
        wanted |= {s.path for s in self.model.runs if Path(s.path).is_dir()}
        current = set(self._watcher.directories())
        if current - wanted:
            self._watcher.removePaths(sorted(current - wanted))
        if wanted - current:
            self._watcher.addPaths(sorted(wanted - current))

    def _refresh_if_running(self) -> None:
        if not self._listing.busy:
            self.refresh()

    # ----------------------------------------------------------------- selection and overlay
    def selected_paths(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.proxy.index(r, 0).data(PATH_ROLE) for r in rows]

    def selected_summaries(self) -> list:
        by_path = {s.path: s for s in self.model.runs}
        return [by_path[p] for p in self.selected_paths() if p in by_path]

    def select_paths(self, paths: list[str]) -> None:
        selection = self.table.selectionModel()
        selection.clearSelection()
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if index.data(PATH_ROLE) in paths:
                selection.select(index, selection.SelectionFlag.Select | selection.SelectionFlag.Rows)

    def _on_selection(self) -> None:
        self._update_actions()
        paths = self.selected_paths()
        task = self._reading.start(run_calls.read_run_curves, paths, name="read runs")
        task.succeeded.connect(self._show_curves)
        task.start()

    def _show_curves(self, curves: list) -> None:
        problems = [f"{c.name}: {c.error}" for c in curves if c.error]
        if problems:
            self.message.show_message("; ".join(problems), "warning")
        self.overlay.set_runs([(c.path, c.name, c.epochs) for c in curves if not c.error])

    def _poll_live(self, force: bool = False) -> None:
        live = self.live_source() if self.live_source is not None and self.live_check.isChecked() else None
        count = len(live[1]) if live else -1
        if force or count != self._live_count:
            self._live_count = count
            self.overlay.set_live(*(live or (None, None)))

    def shutdown(self) -> None:
        self._listing.cancel()
        self._reading.cancel()
        for timer in (self._busy_timer, self._live_timer, self._debounce):
            timer.stop()
