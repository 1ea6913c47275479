"""Setting up a training run: seed, data, model, batches, optimizer and schedule, and the
state a resume restores.

A mixin of the trainer's run (engine/training/trainer.py): it sets the attributes the epoch
loop (engine/training/run_epoch.py) and the checkpoints (engine/training/run_checkpoints.py) use.
"""

from __future__ import annotations

import math
import random

import numpy as np
import torch

from ..checkpoints.format import Checkpoint
from ..config import micro_batch_size
from ..data.loader import DeviceBatches, channel_stats
from ..data.sources import DataSpec, load_dataset
from ..device import autocast_dtype, grad_scaler, resolve_device
from ..errors import CheckpointError, EngineError
from ..models import create_model, data_init
from . import distributed as dist
from .compile import CompiledStep
from .early_stop import best_row
from .ema import ModelEma
from .head_mode import HeadOnly, head_batches
from .optim import LRSchedule, build_optimizer
from .recipe_options import Lookahead, per_chunk_norm_momentum, whiten_bias
from .resume import elapsed_before

__all__ = ["RunSetup"]


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class RunSetup:
    """``_prepare`` and ``_restore`` for the trainer's run (its config, data and context are set by the run)."""

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
