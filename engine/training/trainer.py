"""The training loop: events through a callback, a stop flag checked between batches,
atomic ``last.pt`` / ``best.pt`` each epoch, exact resume (mid-epoch too), torchrun support.

The run's setup is in engine/training/run_setup.py, one epoch in engine/training/run_epoch.py,
its checkpoints in engine/training/run_checkpoints.py; here: the run from start to finish.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ..checkpoints.format import Checkpoint, load_checkpoint
from ..config import TrainConfig
from ..data.dataset import Dataset
from ..device import set_thread_budget, threads_label
from ..errors import CheckpointError, EngineError
from ..models import count_parameters, get_model_info
from . import distributed as dist
from .early_stop import early_stop_message
from .events import LogMessage, RunFinished, RunStarted
from .head_mode import calibrate_head_unknown
from .resume import resume_config
from .run_checkpoints import RunCheckpoints, TrainingFailed
from .run_epoch import RunEpoch
from .run_files import RunFiles
from .run_folder import claim_run_folder
from .run_setup import RunSetup

__all__ = ["StopFlag", "TrainingFailed", "train"]

_logger = logging.getLogger(__name__)
FEW_STEPS = 4  # fewer optimizer steps per epoch than this is warned about


class StopFlag:
    """Thread-safe stop request the loop checks between batches (``threading.Event`` works too)."""

    def __init__(self):
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


def train(
    config: TrainConfig | None,
    out_dir: str | Path,
    callback: Callable | None = None,
    stop=None,
    resume: str | Path | None = None,
    dataset: Dataset | None = None,
    reserve_ui_thread: bool = False,
    overwrite: bool = False,
) -> RunFinished:
    """Train ``config`` writing into ``out_dir``; returns (and reports) how the run ended.

    ``resume`` is a run folder or its ``last.pt`` (any stopped run: see
    :func:`engine.find_resumable`): its saved config is used (pass ``config=None``), and
    ``config.epochs`` may change the length of the run (extend it, or shorten it while
    that is still ahead). ``dataset`` skips loading when the caller has it.
    ``out_dir`` belongs to one run: a folder holding another run's checkpoints is refused
    unless ``overwrite`` (which deletes that run's files) or this resumes that run; a folder
    another process is training into is refused (see :mod:`engine.training.run_folder`).
    Bad input raises :class:`EngineError` before training starts; problems during training
    end the run with status "failed" and a readable message.
    """
    run = _Run(config, Path(out_dir), callback, stop, resume, dataset, reserve_ui_thread, overwrite)
    return run.execute()


class _Run(RunSetup, RunEpoch, RunCheckpoints):
    """One training run: setup (:class:`RunSetup`), the epoch loop (:class:`RunEpoch`) and its
    events (checkpoints: :class:`RunCheckpoints`)."""

    def __init__(self, config, out_dir, callback, stop, resume, dataset, reserve_ui_thread, overwrite=False):
        self.resume_ckpt: Checkpoint | None = None
        self.resume_path = None
        if resume is not None:
            path = Path(resume)
            self.resume_path = path / "last.pt" if path.is_dir() else path
            self.resume_ckpt = load_checkpoint(self.resume_path)
            if not self.resume_ckpt.train_state:
                raise CheckpointError(f"{path.name}: has no training state to resume from (use a last.pt)")
            config = resume_config(self.resume_ckpt, config, self.resume_path.name)
        elif config is None:
            raise EngineError("a training config is needed unless resuming")
        self.cfg = config.validate()
        info = get_model_info(self.cfg.model)
        if not info.trainable:  # assembled from trained parts (photo-fusion)
            raise EngineError(f"{self.cfg.model} is not trained but built: {info.description}")
        self.out = out_dir
        self.overwrite = overwrite
        self.lock = None
        self.callback = callback or (lambda event: None)
        self.should_stop = (stop.is_set if hasattr(stop, "is_set") else stop) or (lambda: False)
        self.dataset = dataset
        self.threads = set_thread_budget(reserve_ui_thread)
        self.ctx = dist.setup()
        self.files = RunFiles(self.out) if self.ctx.is_main else None

    # ----------------------------------------------------------------- helpers
    def emit(self, event) -> None:
        if self.ctx.is_main:
            self.callback(event)

    def log(self, message: str, level: str = "info") -> None:
        # Marked: a listener that shows the LogMessage events (the CLI) can leave the record out.
        getattr(_logger, level)(message, extra={"reported_as_event": True})
        self.emit(LogMessage(level, message))

    # ----------------------------------------------------------------- loop
    def execute(self) -> RunFinished:
        try:
            if self.ctx.is_main:  # before any work: a second process must fail at once
                self.lock = claim_run_folder(self.out, self.resume_path, self.overwrite)
            self._prepare()
        except BaseException:
            if self.lock is not None:
                self.lock.undo()
                self.lock = None
            dist.teardown(self.ctx)
            raise
        try:
            return self._execute()
        finally:
            self._release()

    def _release(self) -> None:
        if getattr(self, "threads_before_head", None):
            torch.set_num_threads(self.threads_before_head)
        if self.files:
            self.files.close()
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def elapsed(self) -> float:
        """Training time of the whole run, earlier sessions (before a resume) included."""
        return self.elapsed_before + time.perf_counter() - self.t0

    def _execute(self) -> RunFinished:
        cfg = self.cfg
        precision = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.amp_dtype]
        where = f"CPU, {threads_label(self.threads)}" if self.device.type == "cpu" else str(self.device)
        if self.ctx.world_size > 1:
            where += f" x{self.ctx.world_size} processes"
        if self.chunk < cfg.batch_size:  # said where the run starts: an automatic choice is visible
            where += f", batches of {cfg.batch_size} in micro-batches of {self.chunk}"
        self.t0 = time.perf_counter()
        batch_history: list[dict] = []
        if self.files:
            resume_step = self.start_epoch * len(self.batches) + self.skip_steps if self.resume_ckpt else None
            source = self.resume_path.parent if self.resume_path is not None else None
            self.files.start(cfg, self.history, resume_step, source)
            batch_history = list(self.files.batch_rows)
        self.emit(
            RunStarted(
                cfg.model,
                count_parameters(self.model),
                f"{where} ({precision})",
                self.ds.classes,
                len(self.ds.train),
                len(self.ds.val) if self.ds.val is not None else 0,
                cfg.epochs,
                self.start_epoch,
                len(self.batches),
                str(self.out),
                list(self.history),
                batch_history,
                self.elapsed_before,
            )
        )
        self.log(
            f"{self.ds.describe()}; {cfg.model} ({count_parameters(self.model):,} parameters) on {where}, {precision}"
        )
        self._warn_few_steps()
        if cfg.early_stop_patience and self.val_batches is None:
            self.log("early stopping needs validation data (val_fraction > 0); it is off for this run", "warning")
        status, message = "completed", ""
        epoch = self.start_epoch
        try:
            for epoch in range(self.start_epoch, cfg.epochs):
                if not self._train_epoch(epoch):
                    status = "stopped"
                    message = f"stopped during epoch {epoch + 1}; resume continues from there"
                    break
                if self.early_stop_epoch is not None:
                    message = early_stop_message(self.history, cfg.early_stop_patience)
                    break
            else:
                message = f"finished {cfg.epochs} epochs"
        except EngineError as exc:  # TrainingFailed, DiskFull: already one readable line
            status, message = "failed", str(exc)
        except OSError as exc:
            status = "failed"
            if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
                message = f"disk full: cannot write to {self.out}; the checkpoints already written are kept"
            else:
                message = f"cannot write to {self.out} ({exc.strerror or type(exc).__name__})"
        except torch.OutOfMemoryError:
            status, message = (
                "failed",
                (
                    f"out of memory on {self.device} at batch size {cfg.batch_size}; "
                    "lower the batch size or use a smaller model"
                ),
            )
        except Exception as exc:  # report, never leave a dead thread behind
            _logger.exception("training failed")
            status, message = "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        finally:
            dist.teardown(self.ctx)
        best = self.out / "best.pt"
        last = self.out / "last.pt"
        if self.head_only and status == "completed" and self.ctx.is_main:
            try:
                line = calibrate_head_unknown(self, self.head_features)
                if line:
                    self.log(line)
            except (OSError, EngineError, ValueError) as exc:  # the model is fine; the flag stays uncalibrated
                self.log(
                    f"could not calibrate 'none of these' ({exc}); predictions use the uncalibrated hint", "warning"
                )
        finished = RunFinished(
            status,
            message,
            len(self.history),
            self.best_acc,
            str(best) if best.exists() else None,
            str(last) if last.exists() else None,
            str(self.out),
            list(self.history),
            self.early_stop_epoch,
        )
        self.log(f"run {status}: {message}", "warning" if status == "failed" else "info")
        self.emit(finished)
        return finished

    def _warn_few_steps(self) -> None:
        """Too few images for the batch size: a handful of optimizer steps per epoch barely trains."""
        steps, n, batch = len(self.batches), len(self.ds.train), self.cfg.batch_size
        # A classifier on cached features (a frozen backbone) learns from few steps: a linear
        # layer, 40 epochs of them in the photos preset.
        if steps >= FEW_STEPS or (self.head_only and steps * self.cfg.epochs >= 40):
            return
        suggested = 1 << max(0, (n // (2 * FEW_STEPS)).bit_length() - 1)  # a power of two giving 8+ steps
        advice = (
            f"a batch size of {suggested} gives {n // suggested} steps per epoch"
            if suggested >= 8
            else "more images would help more than any batch size"
        )
        self.log(
            f"only {n} training images for batch size {batch}: {steps} optimizer step{'s' if steps != 1 else ''} "
            f"per epoch, too few to learn much; {advice}",
            "warning",
        )
