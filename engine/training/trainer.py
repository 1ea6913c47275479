"""The training loop: events through a callback, a stop flag checked between batches,
atomic ``last.pt`` / ``best.pt`` each epoch, exact resume (mid-epoch too), torchrun support.
"""

from __future__ import annotations

import errno
import logging
import math
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoints.format import Checkpoint, load_checkpoint
from ..config import TrainConfig, micro_batch_size
from ..data.dataset import Dataset
from ..data.loader import DeviceBatches, channel_stats
from ..data.sources import DataSpec, load_dataset
from ..device import autocast_context, autocast_dtype, grad_scaler, resolve_device, set_thread_budget, threads_label
from ..errors import CheckpointError, EngineError
from ..evaluation.metrics import evaluate_arrays
from ..models import count_parameters, create_model, data_init, get_model_info
from . import distributed as dist
from .compile import CompiledStep
from .early_stop import best_row, early_stop_message, improves, should_stop_early
from .ema import ModelEma
from .events import BatchEnd, EpochEnd, LogMessage, RunFinished, RunStarted
from .head_mode import HeadOnly, calibrate_head_unknown, head_batches
from .optim import LRSchedule, build_optimizer
from .recipe_options import Lookahead, per_chunk_norm_momentum, whiten_bias
from .resume import elapsed_before, resume_config
from .run_checkpoints import RunCheckpoints, TrainingFailed
from .run_files import RunFiles
from .run_folder import claim_run_folder

__all__ = ["StopFlag", "TrainingFailed", "train"]

HEAD_SAVE_EVERY = 10  # epochs between checkpoints of a classifier trained on cached features

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


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


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


class _Run(RunCheckpoints):
    """One training run: setup, the epoch loop and its events (checkpoints: :class:`RunCheckpoints`)."""

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

    # ----------------------------------------------------------------- setup
    def _prepare(self) -> None:
        cfg = self.cfg
        _seed_everything(cfg.seed)
        self.device = self.ctx.device or resolve_device(cfg.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        ds = self.dataset or load_dataset(DataSpec.of(cfg))
        for line in ds.summary.lines():
            self.log(f"{ds.name}: {line}", "warning")
        self.ds = ds
        _h, _w, c = ds.image_shape
        self.mean, self.std = channel_stats(ds.train.images)
        # Kept in checkpoints: they tell the training data apart even when the normalisation
        # below becomes a pretrained network's (engine.evaluation.run.check_same_training_data).
        self.data_stats = {"mean": list(self.mean), "std": list(self.std)}
        # A local weights file (tv: models) is read for a new run only; a resume has its weights.
        weights = {"weights_path": cfg.pretrained_path} if cfg.pretrained_path and self.resume_ckpt is None else {}
        self.model = create_model(cfg.model, num_classes=ds.num_classes, in_channels=c, **cfg.model_args, **weights)
        norm = getattr(self.model, "input_normalization", None)
        if self.resume_ckpt is not None:
            self.mean, self.std = list(self.resume_ckpt.mean), list(self.resume_ckpt.std)  # as the run began
        elif norm is not None and len(norm[0]) == c:
            self.mean, self.std = list(norm[0]), list(norm[1])  # pretrained weights: their own normalisation
            self.log(f"{cfg.model}: inputs normalised as its pretrained weights expect (mean {self.mean})")
        if self.resume_ckpt is None:
            data_init(self.model, ds.train.images, self.mean, self.std, cfg.seed)
        # A frozen pretrained backbone: train the classifier on cached features (engine.training.head_mode).
        self.head_only = getattr(self.model, "transfer", None) == "head"
        self.chunk = micro_batch_size(cfg.micro_batch, cfg.batch_size, self.device.type)
        if self.chunk < cfg.batch_size:
            per_chunk_norm_momentum(self.model, math.ceil(min(cfg.batch_size, len(ds.train)) / self.chunk))
        memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model = self.model.to(self.device, memory_format=memory_format)
        self.amp_dtype = autocast_dtype(self.device, cfg.mixed_precision, self.model)
        self.scaler = grad_scaler(self.device, self.amp_dtype)
        if self.head_only:
            self.batches, self.val_batches = head_batches(self, ds)
        else:
            self._image_batches(ds)
        self.optimizer = build_optimizer(self.model, cfg)
        self.schedule = LRSchedule(cfg, len(self.batches))
        self.ema = ModelEma(self.model, cfg.ema_decay) if cfg.ema_decay > 0 else None
        self.lookahead = None
        if cfg.lookahead_every:
            steps = cfg.epochs * len(self.batches)
            self.lookahead = Lookahead(self.model, cfg.lookahead_every, cfg.lookahead_decay, steps)
        self.whiten_bias = whiten_bias(self.model, cfg.model) if cfg.whiten_bias_epochs else None
        if self.whiten_bias is not None and self.ctx.world_size > 1:
            # DDP fixes the set of parameters with gradients when it wraps the model.
            raise EngineError("whiten_bias_epochs does not work with several processes (torchrun); set it to 0")
        self.train_model = dist.wrap(HeadOnly(self.model) if self.head_only else self.model, self.ctx)
        self.step_model = CompiledStep(self.train_model, self.device.type, self.log) if cfg.compile else None
        self.history: list[dict] = []
        self.start_epoch, self.skip_steps, self.best_acc, self.partial = 0, 0, None, None
        self.best_loss: float | None = None  # the best epoch's validation loss: it breaks accuracy ties
        self.elapsed_before = 0.0  # training time of the run before this resume
        self.early_stop_epoch: int | None = None
        if self.resume_ckpt is not None:
            self._restore(self.resume_ckpt)

    def _image_batches(self, ds) -> None:
        cfg = self.cfg
        self.batches = DeviceBatches(
            ds.train.images,
            ds.train.labels,
            cfg.batch_size,
            self.device,
            self.mean,
            self.std,
            cfg.augment,
            shuffle=True,
            drop_last=len(ds.train) > cfg.batch_size,
            seed=cfg.seed,
            channels_last=cfg.channels_last,
            rank=self.ctx.rank,
            world_size=self.ctx.world_size,
        )
        self.val_batches = None
        if ds.val is not None and len(ds.val):
            self.val_batches = DeviceBatches(
                ds.val.images,
                ds.val.labels,
                # a micro-batch size bounds what fits (memory, CPU caches) for validation too
                max(self.chunk, 256),
                self.device,
                self.mean,
                self.std,
                channels_last=cfg.channels_last,
            )

    def _restore(self, ckpt: Checkpoint) -> None:
        state = ckpt.train_state
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.ema is not None and state.get("ema"):
                self.ema.load_state_dict(state["ema"])
            if self.lookahead is not None and state.get("lookahead"):
                self.lookahead.load_state_dict(state["lookahead"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise CheckpointError(
                f"cannot resume: the checkpoint does not match this run ({str(exc).splitlines()[0]})"
            ) from None
        self.schedule.load_state_dict(state.get("schedule", {}))
        if "scaler" in state and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler"])
        self.history = list(ckpt.history)
        best = best_row(list(ckpt.history or []))
        self.best_acc = ckpt.best_val_acc
        self.best_loss = best.get("val_loss") if best is not None and best["val_acc"] == self.best_acc else None
        self.start_epoch = ckpt.epoch
        self.skip_steps = int(state.get("step_in_epoch", 0))
        self.partial = state.get("partial")
        self.elapsed_before = elapsed_before(ckpt)
        if "torch_rng" in state:
            torch.set_rng_state(state["torch_rng"])
        self.log(f"resuming from {ckpt.path} at {self._resume_point()}")

    def _resume_point(self) -> str:
        """Where a resumed run goes on, in the words of its progress (batches 1-based)."""
        epoch, steps = self.start_epoch + 1, len(self.batches)
        if not self.skip_steps:
            return f"epoch {epoch}"
        if self.skip_steps >= steps:  # stopped during validation: every batch of the epoch was done
            return f"the validation of epoch {epoch} (its {steps} batches are done)"
        return f"epoch {epoch}, batch {self.skip_steps + 1} of {steps}"

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

    def _train_epoch(self, epoch: int) -> bool:
        """One epoch; False when stopped (the partial epoch is saved for resume)."""
        cfg, model = self.cfg, self.train_model
        self.batches.set_epoch(epoch)
        if self.whiten_bias is not None:  # no gradient: SGD leaves it (and its momentum) alone
            self.whiten_bias.requires_grad_(epoch < cfg.whiten_bias_epochs)
        model.train()
        steps = len(self.batches)
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        seen = 0
        # Images and training seconds of this epoch from before a resume: rates count only time
        # spent training, never the skipped batches or the gap between the sessions.
        seen_before, seconds_before = 0, 0.0
        if self.partial and self.skip_steps:
            loss_sum += self.partial["loss_sum"]
            correct += int(self.partial["correct"])
            seen = seen_before = int(self.partial["seen"])
            seconds_before = self.partial.get("train_s")  # None: saved by a version that did not record it
        report_every = 0.0 if self.device.type == "cpu" else 0.25  # GPU: avoid a sync per batch
        chunk = self.chunk
        last_report, last_seen, t_first = time.perf_counter(), seen, None

        def partial_now() -> dict:
            trained = time.perf_counter() - t_first if t_first is not None else 0.0
            seconds = None if seconds_before is None else seconds_before + trained
            return {"loss_sum": float(loss_sum), "correct": int(correct), "seen": seen, "train_s": seconds}

        for step, (x, y) in enumerate(self.batches):
            if step < self.skip_steps:
                continue  # resuming mid-epoch: same batches, same augmentation, skipped
            if t_first is None:  # the first batch trained in this session starts its clocks
                t_first = last_report = time.perf_counter()
            if self.should_stop():
                self._save(epoch, step_in_epoch=step, partial=partial_now())
                return False
            global_step = epoch * steps + step
            lr = self.schedule.apply(self.optimizer, global_step)

            def forward_backward(net, x=x, y=y):
                self.optimizer.zero_grad(set_to_none=True)
                outs, step_loss = [], 0.0
                # micro_batch: chunks' gradients add up to the whole batch's (each chunk's mean
                # loss weighted by its share); one optimizer step follows either way.
                for xc, yc in zip(x.split(chunk), y.split(chunk)):
                    with autocast_context(self.device, self.amp_dtype):
                        out = net(xc)
                        loss = F.cross_entropy(out.float(), yc, label_smoothing=cfg.label_smoothing)
                        loss = loss * (len(yc) / len(y)) if len(yc) < len(y) else loss
                    self.scaler.scale(loss).backward()
                    outs.append(out.detach())
                    step_loss = step_loss + loss.detach()
                return (outs[0] if len(outs) == 1 else torch.cat(outs)), step_loss

            if self.step_model is not None:
                logits, loss = self.step_model.run(forward_backward)
            else:
                logits, loss = forward_backward(model)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            if self.ema is not None:
                self.ema.update(self.model)
            if self.lookahead is not None:
                self.lookahead.step(self.model, global_step + 1)
            loss_sum += loss.detach() * len(y)
            correct += (logits.argmax(1) == y).sum()
            seen += len(y)
            now = time.perf_counter()
            if now - last_report >= report_every or step == steps - 1:
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise TrainingFailed(
                        f"loss became {value} at epoch {epoch + 1}, batch {step + 1}; "
                        "lower the learning rate or turn off fp16"
                    )
                ips = (seen - last_seen) * self.ctx.world_size / max(now - last_report, 1e-9)
                self.emit(BatchEnd(epoch + 1, step + 1, steps, global_step + 1, steps * cfg.epochs, value, lr, ips))
                if self.files:
                    self.files.batch(
                        {
                            "epoch": epoch + 1,
                            "step": step + 1,
                            "global_step": global_step + 1,
                            "loss": value,
                            "lr": lr,
                            "images_per_s": round(ips, 1),
                            "elapsed_s": round(self.elapsed(), 3),
                        }
                    )
                last_report, last_seen = now, seen
        self.skip_steps, self.partial = 0, None
        partial = partial_now()
        return self._end_epoch(epoch, partial, self._epoch_rate(epoch, partial, seen_before, t_first))

    def _epoch_rate(self, epoch: int, partial: dict, seen_before: int, t_first: float | None) -> float:
        """Images per second of the epoch's training, counting only work actually timed: the
        epoch's images over its training seconds (both sessions when it was resumed)."""
        seen, seconds = partial["seen"], partial["train_s"]
        if seconds is None and seen > seen_before:  # an older checkpoint: this session's batches only
            seen, seconds = seen - seen_before, time.perf_counter() - t_first
        if seconds:
            return seen * self.ctx.world_size / max(seconds, 1e-9)
        # Nothing left to time (an older checkpoint stopped during validation): the last rate measured.
        previous = self.history[-1].get("images_per_s") if self.history else None
        self.log(f"epoch {epoch + 1}: its training speed was not recorded before the stop; showing the previous one")
        return float(previous) if isinstance(previous, (int, float)) else 0.0

    def _saves_after(self, epoch: int, is_best: bool, val_acc) -> bool:
        """Checkpoints after every epoch, except for a classifier on cached features: its epochs
        take milliseconds and two checkpoint writes took 60 ms each (benchmarks/teach.py), so it
        saves every HEAD_SAVE_EVERY epochs, on a new best validation accuracy, and at the end (a
        stop still saves where it stopped)."""
        if not self.head_only:
            return True
        last = epoch + 1 == self.cfg.epochs or self.early_stop_epoch is not None
        return last or (is_best and val_acc is not None) or (epoch + 1) % HEAD_SAVE_EVERY == 0

    def _end_epoch(self, epoch: int, partial: dict, ips: float) -> bool:
        cfg = self.cfg
        # The loss is checked before each step, so the epoch's last step can still have broken the
        # weights: never save (or offer as "best") a model that is NaN. Same on every rank.
        self._check_finite(f"in epoch {epoch + 1}")
        train_loss = partial["loss_sum"] / max(partial["seen"], 1)
        train_acc = partial["correct"] / max(partial["seen"], 1)
        val_loss = val_acc = None
        if self.val_batches is not None:
            eval_model = self.ema.module if self.ema is not None else self.model
            result = evaluate_arrays(
                HeadOnly(eval_model) if self.head_only else eval_model,
                self.val_batches,
                self.ds.num_classes,
                0 if self.head_only else cfg.tta,  # features: the batches pair each view with its mirror
                self.amp_dtype,
                self.device,
                self.should_stop,
            )
            if result is None:  # stopped during validation: resume re-runs only the validation
                self._save(epoch, step_in_epoch=len(self.batches), partial=partial)
                return False
            val_loss, val_acc = result.loss, result.accuracy
        # A loss that overflowed means a diverged model even when its weights are still finite:
        # fail the run like a non-finite training loss, before anything is saved or marked best.
        for what, value in (("training", train_loss), ("validation", val_loss)):
            if value is not None and not math.isfinite(value):
                raise TrainingFailed(
                    f"{what} loss became {value} in epoch {epoch + 1}; the model diverged: "
                    "lower the learning rate (or turn off fp16)"
                )
        self.schedule.epoch_end(val_acc)
        # best.pt: the higher accuracy, a tie going to the lower loss (engine.training.early_stop).
        is_best = val_acc is None or improves(val_acc, val_loss, self.best_acc, self.best_loss)
        if val_acc is not None and is_best:
            self.best_acc, self.best_loss = val_acc, val_loss
        elapsed = self.elapsed()
        done = epoch + 1 - self.start_epoch
        eta = (time.perf_counter() - self.t0) / max(done, 1) * (cfg.epochs - epoch - 1)
        lr = cfg.lr * self.schedule.factor((epoch + 1) * len(self.batches) - 1)
        row = {
            "epoch": epoch + 1,
            "train_loss": train_loss,
            "train_acc": train_acc,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "lr": lr,
            "elapsed_s": round(elapsed, 2),
            "images_per_s": round(ips, 1),
        }
        self.history.append(row)
        if should_stop_early(self.history, cfg.early_stop_patience, cfg.epochs):
            self.early_stop_epoch = epoch + 1  # decided before saving, so last.pt records it
        if self._saves_after(epoch, is_best, val_acc):
            self._save(epoch + 1, step_in_epoch=0, partial=None, val_acc=val_acc, best=is_best)
        if self.files:
            self.files.epoch(row)
        self.emit(
            EpochEnd(
                epoch + 1, cfg.epochs, train_loss, train_acc, val_loss, val_acc, lr, elapsed, eta, ips, is_best, row
            )
        )
        return True
