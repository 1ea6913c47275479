"""The training loop: events through a callback, a stop flag checked between batches,
atomic ``last.pt`` / ``best.pt`` each epoch, exact resume (mid-epoch too), torchrun support.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from ..config import TrainConfig
from ..data.dataset import Dataset
from ..data.loader import DeviceBatches, channel_stats
from ..data.sources import DataSpec, load_dataset
from ..device import autocast_context, autocast_dtype, resolve_device, set_thread_budget, threads_label
from ..errors import CheckpointError, EngineError
from ..evaluate import evaluate_arrays
from ..models import count_parameters, create_model, data_init
from . import distributed as dist
from .ema import ModelEma
from .events import BatchEnd, EpochEnd, LogMessage, RunFinished, RunStarted
from .optim import LRSchedule, build_optimizer
from .run_files import RunFiles

__all__ = ["StopFlag", "TrainingFailed", "train"]

_logger = logging.getLogger(__name__)


class TrainingFailed(EngineError):
    """The run cannot go on (NaN loss, out of memory...); the message says why."""


class StopFlag:
    """Thread-safe stop request the loop checks between batches (``threading.Event`` works too)."""

    def __init__(self):
        import threading

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
) -> RunFinished:
    """Train ``config`` writing into ``out_dir``; returns (and reports) how the run ended.

    ``resume`` is a ``last.pt`` written by an earlier run: its saved config is used (pass
    ``config=None``), and only a larger ``config.epochs`` extends the run. ``dataset`` skips
    loading when the caller has it.
    Bad input raises :class:`EngineError` before training starts; problems during training
    end the run with status "failed" and a readable message.
    """
    run = _Run(config, Path(out_dir), callback, stop, resume, dataset, reserve_ui_thread)
    return run.execute()


class _Run:
    def __init__(self, config, out_dir, callback, stop, resume, dataset, reserve_ui_thread):
        self.resume_ckpt: Checkpoint | None = None
        if resume is not None:
            path = Path(resume)
            self.resume_ckpt = load_checkpoint(path / "last.pt" if path.is_dir() else path)
            if not self.resume_ckpt.train_state:
                raise CheckpointError(f"{path.name}: has no training state to resume from (use a last.pt)")
            saved = TrainConfig.from_dict(self.resume_ckpt.config)
            config = saved if config is None else saved.replace(epochs=max(saved.epochs, config.epochs))
        elif config is None:
            raise EngineError("a training config is needed unless resuming")
        self.cfg = config.validate()
        self.out = out_dir
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
        getattr(_logger, level)(message)
        self.emit(LogMessage(level, message))

    # ----------------------------------------------------------------- setup
    def _prepare(self) -> None:
        cfg = self.cfg
        _seed_everything(cfg.seed)
        self.device = self.ctx.device or resolve_device(cfg.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        ds = self.dataset or load_dataset(
            DataSpec(
                cfg.data,
                tuple(cfg.classes) if cfg.classes else None,
                cfg.val_fraction,
                cfg.seed,
                cfg.limit,
                cfg.image_size,
            )
        )
        for line in ds.summary.lines():
            self.log(f"{ds.name}: {line}", "warning")
        self.ds = ds
        _h, _w, c = ds.image_shape
        self.mean, self.std = channel_stats(ds.train.images)
        self.model = create_model(cfg.model, num_classes=ds.num_classes, in_channels=c, **cfg.model_args)
        if self.resume_ckpt is None:
            data_init(self.model, ds.train.images, self.mean, self.std, cfg.seed)
        memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model = self.model.to(self.device, memory_format=memory_format)
        self.amp_dtype = autocast_dtype(self.device, cfg.mixed_precision)
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=self.amp_dtype == torch.float16 and self.device.type == "cuda"
        )
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
                max(cfg.batch_size, 256),
                self.device,
                self.mean,
                self.std,
                channels_last=cfg.channels_last,
            )
        self.optimizer = build_optimizer(self.model, cfg)
        self.schedule = LRSchedule(cfg, len(self.batches))
        self.ema = ModelEma(self.model, cfg.ema_decay) if cfg.ema_decay > 0 else None
        self.train_model = dist.wrap(self.model, self.ctx)
        if cfg.compile:
            self.train_model = _try_compile(self.train_model, self.log)
        self.history: list[dict] = []
        self.start_epoch, self.skip_steps, self.best_acc, self.partial = 0, 0, None, None
        if self.resume_ckpt is not None:
            self._restore(self.resume_ckpt)

    def _restore(self, ckpt: Checkpoint) -> None:
        state = ckpt.train_state
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.ema is not None and state.get("ema"):
                self.ema.load_state_dict(state["ema"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise CheckpointError(
                f"cannot resume: the checkpoint does not match this run ({str(exc).splitlines()[0]})"
            ) from None
        self.schedule.load_state_dict(state.get("schedule", {}))
        if "scaler" in state and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler"])
        self.history = list(ckpt.history)
        self.best_acc = ckpt.best_val_acc
        self.start_epoch = ckpt.epoch
        self.skip_steps = int(state.get("step_in_epoch", 0))
        self.partial = state.get("partial")
        if "torch_rng" in state:
            torch.set_rng_state(state["torch_rng"])
        where = f"epoch {self.start_epoch + 1}" + (f", batch {self.skip_steps + 1}" if self.skip_steps else "")
        self.log(f"resuming from {ckpt.path} at {where}")

    # ----------------------------------------------------------------- loop
    def execute(self) -> RunFinished:
        try:
            self._prepare()
        except EngineError:
            dist.teardown(self.ctx)
            raise
        cfg = self.cfg
        precision = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.amp_dtype]
        where = f"CPU, {threads_label(self.threads)}" if self.device.type == "cpu" else str(self.device)
        if self.ctx.world_size > 1:
            where += f" x{self.ctx.world_size} processes"
        if self.files:
            self.files.start(cfg, self.history)
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
            )
        )
        self.log(
            f"{self.ds.describe()}; {cfg.model} ({count_parameters(self.model):,} parameters) on {where}, {precision}"
        )
        status, message = "completed", ""
        self.t0 = time.perf_counter()
        epoch = self.start_epoch
        try:
            for epoch in range(self.start_epoch, cfg.epochs):
                if not self._train_epoch(epoch):
                    status = "stopped"
                    message = f"stopped during epoch {epoch + 1}; resume continues from there"
                    break
            else:
                message = f"finished {cfg.epochs} epochs"
        except TrainingFailed as exc:
            status, message = "failed", str(exc)
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
        finished = RunFinished(
            status,
            message,
            len(self.history),
            self.best_acc,
            str(best) if best.exists() else None,
            str(last) if last.exists() else None,
            str(self.out),
            list(self.history),
        )
        self.log(f"run {status}: {message}", "warning" if status == "failed" else "info")
        self.emit(finished)
        return finished

    def _train_epoch(self, epoch: int) -> bool:
        """One epoch; False when stopped (the partial epoch is saved for resume)."""
        cfg, model = self.cfg, self.train_model
        self.batches.set_epoch(epoch)
        model.train()
        steps = len(self.batches)
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        seen = 0
        if self.partial and self.skip_steps:
            loss_sum += self.partial["loss_sum"]
            correct += int(self.partial["correct"])
            seen = int(self.partial["seen"])
        report_every = 0.0 if self.device.type == "cpu" else 0.25  # GPU: avoid a sync per batch
        last_report, last_seen, t_epoch = time.perf_counter(), seen, time.perf_counter()
        for step, (x, y) in enumerate(self.batches):
            if step < self.skip_steps:
                continue  # resuming mid-epoch: same batches, same augmentation, skipped
            if self.should_stop():
                self._save(
                    epoch,
                    step_in_epoch=step,
                    partial={"loss_sum": float(loss_sum), "correct": int(correct), "seen": seen},
                )
                return False
            global_step = epoch * steps + step
            lr = self.schedule.apply(self.optimizer, global_step)
            with autocast_context(self.device, self.amp_dtype):
                logits = model(x)
                loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            if self.ema is not None:
                self.ema.update(self.model)
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
                last_report, last_seen = now, seen
        self.skip_steps, self.partial = 0, None
        partial = {"loss_sum": float(loss_sum), "correct": int(correct), "seen": seen}
        return self._end_epoch(epoch, partial, seen * self.ctx.world_size / max(time.perf_counter() - t_epoch, 1e-9))

    def _end_epoch(self, epoch: int, partial: dict, ips: float) -> bool:
        cfg = self.cfg
        # The loss is checked before each step, so the epoch's last step can still have broken the
        # weights: never save (or offer as "best") a model that is NaN. Same on every rank.
        if not bool(torch.stack([p.detach().isfinite().all() for p in self.model.parameters()]).all()):
            raise TrainingFailed(
                f"weights became NaN or infinite in epoch {epoch + 1}; lower the learning rate or turn off fp16"
            )
        train_loss = partial["loss_sum"] / max(partial["seen"], 1)
        train_acc = partial["correct"] / max(partial["seen"], 1)
        val_loss = val_acc = None
        if self.val_batches is not None:
            eval_model = self.ema.module if self.ema is not None else self.model
            result = evaluate_arrays(
                eval_model,
                self.val_batches,
                self.ds.num_classes,
                cfg.tta,
                self.amp_dtype,
                self.device,
                self.should_stop,
            )
            if result is None:  # stopped during validation: resume re-runs only the validation
                self._save(epoch, step_in_epoch=len(self.batches), partial=partial)
                return False
            val_loss, val_acc = result.loss, result.accuracy
        self.schedule.epoch_end(val_acc)
        is_best = val_acc is None or self.best_acc is None or val_acc > self.best_acc
        if val_acc is not None and is_best:
            self.best_acc = val_acc
        elapsed = time.perf_counter() - self.t0
        done = epoch + 1 - self.start_epoch
        eta = elapsed / max(done, 1) * (cfg.epochs - epoch - 1)
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
        self._save(epoch + 1, step_in_epoch=0, partial=None, val_acc=val_acc, best=is_best)
        if self.files:
            self.files.epoch(row)
        self.emit(
            EpochEnd(
                epoch + 1, cfg.epochs, train_loss, train_acc, val_loss, val_acc, lr, elapsed, eta, ips, is_best, row
            )
        )
        return True

    # ----------------------------------------------------------------- checkpoints
    def _save(self, epochs_done: int, step_in_epoch: int, partial, val_acc=None, best=False) -> None:
        if not self.ctx.is_main:
            return
        eval_model = self.ema.module if self.ema is not None else self.model
        h, w, c = self.ds.image_shape
        ckpt = Checkpoint(
            path=None,
            arch=self.cfg.model,
            arch_args=dict(self.cfg.model_args),
            state_dict={k: v.detach().cpu() for k, v in eval_model.state_dict().items()},
            classes=list(self.ds.classes),
            mean=self.mean,
            std=self.std,
            input_size=(h, w),
            channels=c,
            config=self.cfg.to_dict(),
            history=list(self.history),
            epoch=epochs_done,
            best_val_acc=self.best_acc,
            val_acc=val_acc,
        )
        if best:
            save_checkpoint(ckpt, self.out / "best.pt")
        ckpt.train_state = {
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {},
            "step_in_epoch": step_in_epoch,
            "partial": partial,
            "torch_rng": torch.get_rng_state(),
        }
        save_checkpoint(ckpt, self.out / "last.pt")


def _try_compile(model, log):
    try:
        compiled = torch.compile(model)
        log("torch.compile enabled")
        return compiled
    except Exception as exc:  # no compiler toolchain, unsupported platform...
        log(f"torch.compile unavailable ({type(exc).__name__}); training without it", "warning")
        return model
