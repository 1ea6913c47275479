"""The Teach tab's background pipeline: features of new photos, then (once every class has
enough photos and things settle) the last layer trained, measured on its held-out photos and
shown; fine-tuning the whole network is handed to the Train tab and adopted when done."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import engine

from ..background import teach_calls
from ..background.task import Task, TaskError
from ..background.training_run import TrainingRun
from .common import MAX_LINES

__all__ = ["PipelineMixin"]

_logger = logging.getLogger(__name__)


class PipelineMixin:
    """Part of :class:`gui.teach.tab.TeachTab` (its state is set up there)."""

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
        task.yielding = True  # the window stays responsive while photos are added
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
        run.task.yielding = True
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
        task.yielding = True
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
