"""The Train tab's results: the run on display (the current or last run, or an earlier one
opened from its folder: its curves, and its settings when it can be resumed), and what is done
with it: open its best checkpoint in the Predict tab, open its folder, export its curves as a
PNG and its metrics as CSV.

:class:`RunResults` is a part of :class:`.tab.TrainTab` (a mixin): it uses the tab's run,
``last_outcome``, ``curves``, ``progress``, ``form``, ``message``, ``settings``, signals and log.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog

import engine

from ..background import engine_calls
from .run_folders import stopped_run

__all__ = ["RunResults"]

_logger = logging.getLogger(__name__)


class RunResults:
    """The Train tab's methods for the run on display and its exports."""

    def _best_checkpoint(self) -> str | None:
        return self.shown.best_checkpoint

    def _open_in_predict(self) -> None:
        best = self._best_checkpoint()
        if best:
            self.open_checkpoint.emit(best)

    def _run_folder(self) -> str | None:
        return self.shown.folder

    def _open_folder(self) -> None:
        folder = self._run_folder()
        if folder:
            QDesktopServices.openUrl(QUrl.fromLocalFile(folder))

    def open_run(self, folder: str) -> bool:
        """Show an earlier run's per-epoch curves (from its last.pt, else best.pt)."""
        if self.running:
            return False
        folder_path = Path(folder)
        checkpoint = engine.run_checkpoint(folder_path)
        if checkpoint is None:
            self.message.show_message(f"{folder}: no last.pt or best.pt in this folder", "error")
            return False
        task = self._opening.start(engine_calls.open_run_info, str(checkpoint), name="open run")
        task.succeeded.connect(lambda run: self._show_run(folder_path, run))
        task.failed.connect(lambda error: self.message.show_message(error.message, "error"))
        task.start()
        return True

    @property
    def busy(self) -> bool:
        return self.running or self._opening.busy

    def _show_run(self, folder: Path, run) -> None:
        """Show an opened run; when it was stopped (here or from the command line) its settings
        go into the form and Resume continues it."""
        info = run.info
        self.curves.reset(info.history, epochs=info.epochs, batch_history=run.batch_history)
        best = folder / "best.pt"
        self.shown.open(str(folder), str(best) if best.is_file() else None, run.resumable is not None)
        acc = f", best validation accuracy {info.best_val_acc:.2%}" if info.best_val_acc is not None else ""
        self._append_log(f"Showing {folder}: {engine.plural(len(info.history), 'epoch')} of {info.arch}{acc}")
        if run.resumable is not None:
            try:
                self.form.set_config(engine.TrainConfig.from_dict(run.config))
            except engine.ConfigError as exc:
                _logger.warning("the opened run's settings do not fit the form: %s", exc)
            self.settings.last_run = stopped_run(folder, run.resumable, self.shown.opened_best)
            self._append_log("This run was stopped before its last epoch: Resume continues it")
        self.progress.opened(folder.name, info.arch, len(info.history), info.epochs, run.resumable is not None)
        self.status_message.emit(f"Showing run {folder}")
        self._update_buttons()

    def export_png(self, path: str | None = None) -> str | None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export curves", "curves.png", "PNG images (*.png)")
        if path and self.curves.export_png(path):
            self.status_message.emit(f"Curves saved to {path}")
            return path
        return None

    def export_csv(self, path: str | None = None) -> str | None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export metrics", "metrics.csv", "CSV files (*.csv)")
        if not path:
            return None
        try:
            self.curves.export_csv(path)
        except OSError as exc:
            self.message.show_message(f"Could not write {path}: {exc.strerror}", "error")
            return None
        self.status_message.emit(f"Metrics saved to {path}")
        return path
