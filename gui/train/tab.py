"""The Train tab: the configuration form on the left; run control, progress, live curves,
log and exports on the right (the run on display and its exports: :mod:`.run_results`). A run
is a :class:`gui.background.training_run.TrainingRun` (engine.train in a QThread); Stop acts
within one batch and keeps the checkpoints, Resume continues the last stopped run from its
last.pt."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

import engine

from ..background.current import CurrentTask
from ..background.training_run import TrainingRun
from ..settings import Settings
from ..widgets.fields import PathField, clear_invalid, mark_invalid
from ..widgets.message_bar import MessageBar
from .config_form import ConfigForm
from .curves import CurvesView
from .lr_finder import LRFinderDialog
from .run_events import RunEvents
from .run_folders import default_run_dir, runs_root, stopped_run
from .run_progress import RunProgress
from .run_results import RunResults
from .run_state import RunOnDisplay

__all__ = ["TrainTab"]

_logger = logging.getLogger(__name__)
LOG_LINES = 5000  # the log panel keeps the most recent lines only


class TrainTab(RunEvents, RunResults, QWidget):
    open_checkpoint = Signal(str)  # "Open in Predict tab"
    status_message = Signal(str)
    run_finished = Signal(object)  # RunFinished

    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self.shown = RunOnDisplay()  # the run on display: live, just ended, or opened from disk
        self.engine_info = None
        self._opening = CurrentTask()  # loading an earlier run's history; the last one opened wins
        self._build()
        self.setEnabled(False)  # until the engine has loaded

    # ----------------------------------------------------------------- layout
    def _build(self) -> None:
        self.form = ConfigForm()
        scroll = QScrollArea()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(390)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.message = MessageBar()
        self.output = PathField("folder", placeholder=f"automatic: {runs_root()}/<time>-<model>")
        self.output.setToolTip("Folder for this run's checkpoints and metrics")
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current batch; keeps best.pt and a resumable last.pt")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the last stopped run from its last.pt")
        self.lr_button = QPushButton("Find LR…")
        self.lr_button.setToolTip("Sweep the learning rate briefly on this model and data, and suggest one")
        self.state_label = QLabel("Ready")
        self.progress = RunProgress()
        self.curves = CurvesView()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setMaximumHeight(150)
        self.log.setPlaceholderText("Training log")
        self.export_png_button = QPushButton("Curves PNG…")
        self.export_csv_button = QPushButton("Metrics CSV…")
        self.open_predict_button = QPushButton("Open in Predict tab")
        self.open_predict_button.setToolTip("Load this run's best checkpoint into the Predict tab")
        self.export_png_button.setToolTip("Export the curves as a PNG image")
        self.export_csv_button.setToolTip("Export the per-epoch metrics as CSV")
        self.open_folder_button = QPushButton("Run folder")
        self.open_folder_button.setToolTip("Open the run's folder (checkpoints, config.json, metrics)")

        buttons = QHBoxLayout()
        for b in (self.start_button, self.stop_button, self.resume_button, self.lr_button):
            buttons.addWidget(b)
        buttons.addWidget(self.state_label, 1)
        out_row = QHBoxLayout()
        out_row.addWidget(QLabel("Output folder"))
        out_row.addWidget(self.output, 1)
        exports = QHBoxLayout()
        for b in (self.export_png_button, self.export_csv_button, self.open_folder_button):
            exports.addWidget(b)
        exports.addStretch(1)
        exports.addWidget(self.open_predict_button)
        right = QWidget()
        col = QVBoxLayout(right)
        col.addWidget(self.message)
        col.addLayout(out_row)
        col.addLayout(buttons)
        col.addWidget(self.progress)
        col.addWidget(self.curves, 1)
        col.addWidget(self.log)
        col.addLayout(exports)
        splitter = QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([460, 820])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        self.start_button.clicked.connect(lambda: self.start())
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(lambda: self.start(resume=True))
        self.lr_button.clicked.connect(lambda: self.open_lr_finder())
        self.export_png_button.clicked.connect(lambda: self.export_png())
        self.export_csv_button.clicked.connect(lambda: self.export_csv())
        self.open_predict_button.clicked.connect(self._open_in_predict)
        self.open_folder_button.clicked.connect(self._open_folder)
        self.form.data.load_failed.connect(self._on_data_failed)
        self.form.data.loaded.connect(self._on_data_loaded)
        self._update_buttons()

    def _on_data_failed(self, message: str) -> None:
        self._data_error = f"Data: {message}"
        self.message.show_message(self._data_error, "error")

    def _on_data_loaded(self, _info) -> None:
        """A Load that worked takes away the banner of the one that failed before it."""
        if getattr(self, "_data_error", None) and self.message.text() == self._data_error:
            self.message.clear()
        self._data_error = None

    # ----------------------------------------------------------------- engine ready
    def engine_ready(self, info) -> None:
        self.engine_info = info
        self.form.set_choices(info)
        cfg = None
        if self.settings.train_config_json:
            try:
                cfg = engine.TrainConfig.from_json(self.settings.train_config_json)
            except engine.ConfigError as exc:
                _logger.warning("ignoring the saved training settings: %s", exc)
        preset = self.settings.preset or "fast"
        if cfg is None:
            preset = preset if preset in engine.PRESETS else "fast"
            cfg = engine.preset_config(preset)
        # The data: the last used; else data that needs no download (CIFAR-10 downloaded
        # earlier, the shared archive); else the user is asked to choose (Start says so).
        found, where = getattr(info, "default_data", (None, ""))
        note = None
        if self.settings.train_config_json is None or (cfg.data == "cifar10" and found not in (None, "cifar10")):
            if found is not None and found != cfg.data:
                cfg = engine.TrainConfig.from_dict({**cfg.to_dict(), "data": found})
                note = f"Data: {where} (no data chosen yet; choose another under Source)."
            elif found is None and cfg.data == "cifar10":
                note = f"Data: {where}."
                cfg = None
        self.form.set_preset(preset)
        if cfg is None:  # nothing that trains offline: ask for data
            self.form.set_config(engine.preset_config(preset))
            self.form.data.source.set_value("")
            self.form.refresh()
        else:
            self.form.set_config(cfg)
        if note:
            self.form.data.set_note(note)
        self.setEnabled(True)
        self._update_buttons()

    def save_settings(self) -> None:
        """Remember the form (when valid) and the preset, e.g. when the window closes."""
        if self.engine_info is None:
            return  # the form was never filled: keep what is stored
        cfg = self.form.config()
        if cfg is not None:
            self.settings.train_config_json = cfg.to_json()
        self.settings.preset = self.form.preset_name

    def ensure_plots(self) -> None:
        self.curves.ensure_plots()
        self.form.preview.ensure_plot()

    # ----------------------------------------------------------------- run control
    @property
    def running(self) -> bool:
        return self.shown.running

    @property
    def run(self) -> TrainingRun | None:
        """The live run, if any."""
        return self.shown.run

    @property
    def last_outcome(self):
        """How the last run here ended (engine.RunFinished), while it is on display."""
        return self.shown.outcome

    def resumable(self) -> dict | None:
        """The stopped run Resume continues: the one on display (opened, or the last run here)."""
        if self.shown.unresumable:
            return None  # an opened run that finished (or has no last.pt) is on display
        last = self.settings.last_run
        if last.get("status") in ("stopped", "failed") and last.get("last") and Path(last["last"]).is_file():
            return last
        return None

    def start(self, resume: bool = False) -> bool:
        """Start (or resume) a run; False with a message when refused."""
        if self.running:
            return False
        cfg = self.form.check()
        if cfg is None:
            self.message.show_message(f"Cannot start: {self.form.error}", "error")
            self.form.focus_error()
            return False
        resume_from = None
        if resume:
            last = self.resumable()
            if last is None:
                self.message.show_message("Nothing to resume: no stopped run with a last.pt.", "warning")
                return False
            out_dir, resume_from = Path(last["out_dir"]), last["last"]
        elif self.form.model.weights_panel.downloading == cfg.model and not cfg.pretrained_path:
            # Starting now would train from random initialisation while the weights arrive.
            self.message.show_message(
                f"The ImageNet weights for {cfg.model} are still downloading: Start once they are here, "
                "or Cancel the download to train from random initialisation.",
                "warning",
            )
            return False
        else:
            out_dir = Path(self.output.text()).expanduser() if self.output.text() else default_run_dir(cfg.model)
            if engine.holds_run(out_dir):
                self.message.show_message(
                    f"{out_dir} already holds a run: choose another output folder. The run is shown "
                    "below; if it was stopped, Resume continues it.",
                    "error",
                )
                mark_invalid(self.output.edit, "this folder already holds a run")
                self.open_run(str(out_dir))  # any stopped run there becomes resumable
                return False
            clear_invalid(self.output.edit)
        self.save_settings()
        self.message.clear()
        run = TrainingRun(cfg, str(out_dir), resume_from)
        self.shown.start(run)
        run.started.connect(self._on_started)
        run.batch.connect(self._on_batch)
        run.epoch.connect(self._on_epoch)
        run.log.connect(self._on_log)
        run.finished.connect(self._on_finished)
        run.failed.connect(self._on_failed)
        run.done.connect(self._on_done)
        self._append_log(f"{'Resuming' if resume else 'Starting'} {cfg.model} → {out_dir}")
        self.state_label.setText("Loading data…")
        self.status_message.emit("Training: loading data…")
        run.start()
        self._update_buttons()
        return True

    def stop(self) -> None:
        if self.run is not None and not self.run.stop_requested:
            self.run.stop()
            self.state_label.setText("Stopping after this batch…")
            self._update_buttons()

    def resume_run(self, folder: str) -> bool:
        """Continue any stopped run (handed over by the Runs tab; stopped here or from the command
        line): its saved settings go into the form, then Resume continues from its last.pt."""
        if self.running:
            self.message.show_message("A run is in progress: stop it before resuming another.", "warning")
            return False
        last = engine.find_resumable(folder, unfinished_only=True)
        if last is None:
            self.message.show_message(f"{folder}: nothing to resume (no stopped run with a last.pt).", "warning")
            return False
        try:
            # The checkpoint's own copy of the settings: it is what resuming continues with
            # (config.json may be missing or edited).
            cfg = engine.TrainConfig.from_dict(engine.load_checkpoint(last).config)
        except engine.EngineError as exc:
            self.message.show_message(f"Cannot resume {folder}: {exc}", "error")
            return False
        self.form.set_config(cfg)
        self.settings.last_run = stopped_run(folder, last)
        self.shown.may_resume()
        return self.start(resume=True)

    def live_curves(self) -> tuple[str, list[dict]] | None:
        """The current run's folder name and per-epoch rows (the Runs tab overlays them)."""
        if self.run is None:
            return None
        return Path(self.run.out_dir).name, list(self.curves.rows)

    def open_lr_finder(self) -> LRFinderDialog | None:
        """The LR finder on the form's settings; Apply writes the suggestion into the form."""
        cfg = self.form.check()
        if cfg is None:
            self.message.show_message(f"Cannot run the LR finder: {self.form.error}", "error")
            self.form.focus_error()
            return None
        self.lr_finder = LRFinderDialog(cfg, self)
        self.lr_finder.applied.connect(self.apply_lr)
        self.lr_finder.show()
        self.lr_finder.run()
        return self.lr_finder

    def apply_lr(self, lr: float) -> None:
        self.form.widget_for("lr").set_value(lr)
        self.form.refresh()
        self.status_message.emit(f"Learning rate set to {lr:g}")

    def shutdown(self) -> None:
        """Window closing: ask the run to stop (it saves a resumable last.pt within one batch);
        the window waits for it together with every other task, for a bounded time
        (gui.background.task.stop_all). Checkpoints are written atomically, so a save cut
        short leaves the previous one intact."""
        self.form.model.stop()
        if self.run is not None:
            self.run.stop()

    def _update_buttons(self) -> None:
        running = self.running
        stopping = running and self.run.stop_requested
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running and not stopping)
        self.resume_button.setEnabled(not running and self.resumable() is not None)
        self.lr_button.setEnabled(not running)
        self.form.setEnabled(not running)
        self.output.setEnabled(not running)
        has_rows = self.curves.epoch_count > 0
        self.export_csv_button.setEnabled(has_rows)
        self.export_png_button.setEnabled(has_rows or self.curves.batch_count > 0)
        self.open_predict_button.setEnabled(self._best_checkpoint() is not None and not running)
        self.open_folder_button.setEnabled(self._run_folder() is not None)
