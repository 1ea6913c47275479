"""Choose a checkpoint: the bundled models (the default first), the best.pt of the user's recent runs
(newest first), recent checkpoints, or a file; shows its summary (architecture, classes,
validation accuracy) or its one-line CheckpointError. Each file is listed once, however its
path was spelled. Used by the Predict and Evaluate tabs."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..background import engine_calls
from ..background.current import CurrentTask
from ..background.task import TaskError

__all__ = ["CHECKPOINT_FILTER", "MAX_RUNS", "CheckpointPicker", "run_label"]

CHECKPOINT_FILTER = "Checkpoints (*.pt *.pth);;All files (*)"
MAX_RUNS = 10  # the newest runs with a best.pt listed in the menu (the Runs tab has them all)


def _same_file_key(path: str) -> str:
    """One key per file however it is spelled (relative, ``~``, a symlink, ``..``)."""
    try:
        return os.path.normcase(str(Path(path).expanduser().resolve()))
    except (OSError, RuntimeError):
        return os.path.normcase(os.path.abspath(path))


def _is_copy_of(path: str, other: str) -> bool:
    """Another copy of the same file (the bundled model from a checkout and from an installed
    package): same name and size. Never reads the files."""
    try:
        a, b = Path(path), Path(other)
        return a.name == b.name and a.stat().st_size == b.stat().st_size
    except OSError:
        return False


def run_label(run) -> str:
    """ "Run 2026-12-07 13:05 — resnet20, best 61.2% (stopped)" for an engine.RunSummary."""
    parts = [run.model or "unknown model"]
    if run.best_val_acc is not None:
        parts.append(f"best {run.best_val_acc:.1%}")
    status = "" if run.status == "completed" else f" ({run.status})"
    when = f", {run.date}" if run.date else ""
    return f"Run {run.name} — {', '.join(parts)}{when}{status}"


def _label(path: str, default: str | None) -> str:
    if default and _same_file_key(path) == _same_file_key(default):
        return f"Bundled default model ({Path(path).name})"
    p = Path(path)
    return f"{p.name} — {p.parent.name}" if p.parent.name else p.name


class CheckpointPicker(QWidget):
    """``loaded(CheckpointInfo)`` after a successful load, ``load_failed(message)`` otherwise.

    With a :class:`gui.engine_calls.PredictorCache`, loading also builds the Predictor, so the first
    classification does not pay for it again.
    """

    loaded = Signal(object)
    load_failed = Signal(str)

    def __init__(self, cache: engine_calls.PredictorCache | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.cache = cache
        self.default: str | None = None
        self._recent: list[str] = []
        self._bundled: list[str] = []
        self._runs: list = []  # engine.RunSummary of the newest runs with a best.pt
        self.info: engine_calls.CheckpointInfo | None = None
        self.error = ""
        self._loading = CurrentTask()  # the latest choice wins; an older load never reports
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(24)
        self.combo.setPlaceholderText("No checkpoint: open one, or train a model first")
        self.browse_button = QPushButton("Open…")
        self.browse_button.setToolTip("Open a checkpoint file (.pt)")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Checkpoint"))
        row.addWidget(self.combo, 1)
        row.addWidget(self.browse_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.summary)
        self.browse_button.clicked.connect(self.browse)
        self.combo.activated.connect(lambda _i: self._load(self.combo.currentData()))

    # ----------------------------------------------------------------- entries
    def set_entries(self, default: str | None, recent: list[str], bundled: list[str] = ()) -> None:
        """The bundled default model (when it exists) first, the other bundled models, then the
        user's runs (:meth:`set_runs`), then recent checkpoints that still exist; each file once."""
        self.default = default
        self._bundled = list(bundled)
        self._recent = list(recent)
        self._fill()

    def set_runs(self, runs: list) -> None:
        """The user's runs (engine.RunSummary, as the Runs tab lists them): the best.pt of the
        newest :data:`MAX_RUNS` that have one, newest first, labelled with run, model and accuracy."""
        with_best = [r for r in runs if r.best_checkpoint and Path(r.best_checkpoint).is_file()]
        with_best.sort(key=lambda r: r.started or r.modified or 0.0, reverse=True)
        self._runs = with_best[:MAX_RUNS]
        self._fill()

    def _fill(self) -> None:
        current = self.current_path()
        default = self.default
        self.combo.blockSignals(True)
        self.combo.clear()
        seen: set[str] = set()

        def add(path: str, label: str) -> None:
            key = _same_file_key(path)
            if key in seen or (default and path != default and _is_copy_of(path, default)):
                return
            seen.add(key)
            self.combo.addItem(label, path)
            self.combo.setItemData(self.combo.count() - 1, path, Qt.ItemDataRole.ToolTipRole)

        if default:
            add(default, _label(default, default))
        for path in self._bundled:
            add(path, f"Bundled model ({Path(path).name})")
        if self._runs and self.combo.count():
            self.combo.insertSeparator(self.combo.count())
        for run in self._runs:
            add(run.best_checkpoint, run_label(run))
        recent = [p for p in self._recent if Path(p).exists() and _same_file_key(p) not in seen]
        if recent and self.combo.count():
            self.combo.insertSeparator(self.combo.count())
        for path in recent:
            add(path, _label(path, default))
        if current:
            self._select(current)
        self.combo.blockSignals(False)

    def paths(self) -> list[str]:
        """The files listed, in menu order (separators left out)."""
        return [self.combo.itemData(i) for i in range(self.combo.count()) if self.combo.itemData(i)]

    def _find(self, path: str) -> int:
        key = _same_file_key(path)
        for i in range(self.combo.count()):
            data = self.combo.itemData(i)
            if data and _same_file_key(data) == key:
                return i
        return -1

    def _select(self, path: str) -> None:
        index = self._find(path)
        if index < 0:
            self.combo.insertItem(0 if not self.default else 1, _label(path, self.default), path)
            index = self._find(path)
            self.combo.setItemData(index, path, Qt.ItemDataRole.ToolTipRole)
        self.combo.setCurrentIndex(index)

    def _select_quietly(self, path: str) -> None:
        """Select ``path`` without the combo's ``activated`` loading it."""
        self.combo.blockSignals(True)
        self._select(path)
        self.combo.blockSignals(False)

    def current_path(self) -> str | None:
        return self.combo.currentData() if self.combo.currentIndex() >= 0 else None

    # ----------------------------------------------------------------- loading
    def set_checkpoint(self, path: str) -> None:
        """Select ``path`` (adding it if needed) and load it in a worker thread."""
        path = str(path)
        self._select_quietly(path)
        self._load(path)

    def show_loaded(self, path: str, info: engine_calls.CheckpointInfo) -> None:
        """Select ``path`` with what another picker has just loaded from it, without reading
        the file a second time (the Evaluate tab following the Predict tab)."""
        self._loading.cancel()
        path = str(path)
        self._select_quietly(path)
        self._on_loaded(path, info)

    def browse(self) -> None:
        start = str(Path(self.current_path()).parent) if self.current_path() else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", start, CHECKPOINT_FILTER)
        if path:
            self.set_checkpoint(path)

    def _load(self, path: str | None) -> None:
        if not path:
            return
        if self.cache is not None:
            self.cache.forget(path)  # the file may have changed since (a run writes best.pt again)
        self.info = None
        self.summary.setText(f"Loading {Path(path).name}…")
        task = self._loading.start(engine_calls.checkpoint_info, path, self.cache, name="load checkpoint")
        task.succeeded.connect(lambda info, p=path: self._on_loaded(p, info))
        task.failed.connect(self._on_failed)
        task.start()

    @property
    def loading(self) -> bool:
        return self._loading.busy

    def _on_loaded(self, path: str, info: engine_calls.CheckpointInfo) -> None:
        self.info, self.error = info, ""
        best = f" (best {info.best_val_acc:.2%})" if info.best_val_acc is not None and info.val_acc is None else ""
        self.summary.setText(f"{info.summary}{best}\nClasses: {', '.join(info.classes)}")
        self.summary.setToolTip(path)
        self.loaded.emit(info)

    def _on_failed(self, error: TaskError) -> None:
        message = error.message
        self.info, self.error = None, message
        self.summary.setText(f"⚠ {message}")
        self.load_failed.emit(message)
