"""The Train tab's slots for a live run's events: the curves, the progress bars, the log and the
message bar follow ``TrainingRun``'s typed signals (``started``, ``batch``, ``epoch``, ``log``,
``finished``, ``failed``, ``done``). A mixin of :class:`gui.train.tab.TrainTab`: it uses the tab's
widgets and its run state (``self.shown``, :mod:`.run_state`)."""

from __future__ import annotations

import time

import engine

from ..background.task import TaskError
from .config_fields import describe_config_error
from .run_progress import format_duration

__all__ = ["RunEvents"]


class RunEvents:
    """The Train tab's methods that react to the live run."""

    def _on_started(self, ev) -> None:
        # A resumed run redraws its earlier epochs and the per-batch curves from before the stop.
        self.curves.reset(
            ev.history, epochs=ev.epochs, batch_history=ev.batch_history, steps_per_epoch=ev.steps_per_epoch
        )
        self.progress.started(ev)
        self.state_label.setText(f"Training on {ev.device}")
        self._append_log(
            f"Training {ev.model} ({ev.parameters:,} parameters) on {ev.device}: "
            f"{ev.train_size:,} train / {ev.val_size:,} validation images, {engine.plural(len(ev.classes), 'class')}"
        )
        if ev.history:
            self._append_log(f"Resumed after epoch {ev.start_epoch}: earlier epochs shown again")
        self.status_message.emit(f"Training {ev.model} on {ev.device}")
        self._update_buttons()

    def _on_batch(self, ev) -> None:
        self.curves.add_batch(ev)
        self.progress.batch(ev)

    def _on_epoch(self, ev) -> None:
        self.curves.add_epoch(ev.metrics)
        val = (
            f"validation loss {ev.val_loss:.4f}, accuracy {ev.val_acc:.2%}"
            if ev.val_acc is not None
            else "no validation images"
        )
        best = "  ★ best" if ev.is_best and ev.val_acc is not None else ""
        self._append_log(
            f"Epoch {ev.epoch}/{ev.epochs}: train loss {ev.train_loss:.4f}, accuracy "
            f"{ev.train_acc:.2%}; {val}; lr {ev.lr:.3g}; {ev.images_per_s:,.0f} images/s; "
            f"ETA {format_duration(ev.eta)}{best}"
        )
        self._update_buttons()

    def _on_log(self, level: str, message: str) -> None:
        self._append_log(message if level == "info" else f"{level}: {message}")
        if level in ("warning", "error") and self.message.kind != "error":
            # Said in the window, not only in the log: missing pretrained weights (random
            # initialisation instead), torch.compile falling back to eager, skipped files.
            self.message.show_message("\n".join(self.shown.warn(message)), "warning")

    def _on_finished(self, rf) -> None:
        self.shown.finish(rf)
        best = f"; best validation accuracy {rf.best_val_acc:.2%}" if rf.best_val_acc is not None else ""
        if rf.status == "completed":
            text, kind = f"Run completed: {rf.message}{best}.", "info"
        elif rf.status == "stopped":
            text, kind = f"Run stopped: {rf.message}{best}. Checkpoints kept in {rf.out_dir}.", "info"
        else:
            text, kind = f"Training failed: {rf.message}", "error"
        self.status_message.emit(text)
        warnings = self.shown.warnings
        if warnings:  # what went differently than asked stays in view after the run
            text, kind = "\n".join([text, *warnings]), "warning" if kind == "info" else kind
        self.message.show_message(text, kind)
        self.state_label.setText(rf.status.capitalize())
        self.progress.finished(rf.status)
        self.settings.last_run = {
            "out_dir": rf.out_dir,
            "status": rf.status,
            "best": rf.best_checkpoint,
            "last": rf.last_checkpoint,
        }
        self.run_finished.emit(rf)

    def _on_failed(self, error: TaskError) -> None:
        """The run did not start (bad data, no download, a device that is not there): the
        previous run's bars and curves go, so nothing on screen belongs to another run."""
        message = error.message
        if error.field:
            message = describe_config_error(error.field, message)
        self.curves.reset()
        self.progress.reset()
        self.progress.run_bar.setFormat("Run: did not start")
        self.shown.did_not_start()
        self.message.show_message(f"Could not train: {message}", "error")
        self._append_log(f"error: {message}")
        self.state_label.setText("Failed")
        self.status_message.emit(f"Could not train: {message}")
        # A setting only the engine can judge (e.g. "device: CUDA was requested but ..."): mark its field.
        if error.field:
            self.form.mark_external_error(error.field, message)

    def _on_done(self) -> None:
        self.shown.end()
        self._update_buttons()

    def _append_log(self, line: str) -> None:
        self.log.appendPlainText(f"{time.strftime('%H:%M:%S')}  {line}")
