"""Learning-rate range test (Smith 2017; fastai's ``lr_find``): train briefly while the learning
rate grows exponentially, record the loss per step, suggest a rate.

The suggestion rule, what a practitioner reads off the curve: **the learning rate where the loss
falls fastest in the decade just below its minimum**, i.e. the most negative slope of the loss (a
centred moving average over a tenth of the steps) against log10(lr), looked for only between a
tenth of the rate where the loss reaches its minimum (the start of its floor: within 5% of the
drop) and that rate. Past the minimum the loss is about to
diverge; far below it, the first steps' noise wiggles the loss while nothing is learnt yet, and
the old rule (steepest descent anywhere before the minimum) picked such a wiggle: 0.00076 on the
quick preset, whose own rate is 0.2 (17.3% against 38.6% after 6 epochs, issue 21). Checked on
real sweeps of the shared CIFAR-10 archive (3,000 images, 100 steps, recorded in
``tests/data/lr_sweep_*.json``) against each preset's own rate: ResNet-20 with Nesterov SGD 0.2
(quick) gives 0.022, the residual CNN with Adam 1e-3 (mnist-resnet's recipe) 0.00091, the tutorial
CNN with plain SGD 0.01 (birds-vs-airplanes, a textbook rate) 0.29. The minimum-loss rate is
reported too (``min_loss_lr / 10`` is the other common rule of thumb).

``smoothed`` is the bias-corrected exponential moving average of the loss (weight ``beta`` on
the past), for plotting and for the divergence check: the sweep ends early when it exceeds
``diverge`` times its lowest value or the loss turns NaN. Weights, optimizer state and the
random number generators are restored afterwards, so the caller's model trains on as if the
sweep never ran.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..config import TrainConfig
from ..data.loader import DeviceBatches, channel_stats
from ..data.sources import DataSpec, load_dataset
from ..device import autocast_context, autocast_dtype, grad_scaler, resolve_device
from ..errors import EngineError
from ..models import create_model, data_init
from .optim import build_optimizer

__all__ = ["SUGGESTION_RULE", "LRFindResult", "centred_average", "lr_find", "suggest_lr"]

_logger = logging.getLogger(__name__)

SUGGESTION_RULE = (
    "steepest descent of the loss against log10(lr) (centred moving average) in the decade below where it bottoms out"
)


@dataclass
class LRFindResult:
    lrs: list[float] = field(default_factory=list)  # learning rate of each step
    losses: list[float] = field(default_factory=list)  # raw training loss of each step
    smoothed: list[float] = field(default_factory=list)  # bias-corrected EMA of the loss
    suggestion: float | None = None  # see SUGGESTION_RULE; None when too few steps were measured
    min_loss_lr: float | None = None  # learning rate at the smoothed loss's minimum
    rule: str = SUGGESTION_RULE
    stopped_early: bool = False  # ended before ``steps``: diverged, or asked to stop
    reason: str = ""  # why it ended

    def to_dict(self) -> dict[str, Any]:
        """Plain data; non-finite values become None (JSON has no NaN)."""

        def clean(v):
            return v if v is not None and math.isfinite(v) else None

        return {
            "lrs": [clean(v) for v in self.lrs],
            "losses": [clean(v) for v in self.losses],
            "smoothed": [clean(v) for v in self.smoothed],
            "suggestion": clean(self.suggestion),
            "min_loss_lr": clean(self.min_loss_lr),
            "min_loss_lr_over_10": clean(self.min_loss_lr / 10) if self.min_loss_lr else None,
            "rule": self.rule,
            "stopped_early": self.stopped_early,
            "reason": self.reason,
        }


def centred_average(values: list[float], window: int) -> np.ndarray:
    """Moving average over ``window`` points centred on each point (fewer at the ends)."""
    y = np.asarray(values, dtype=np.float64)
    kernel = np.ones(window)
    return np.convolve(y, kernel, mode="same") / np.convolve(np.ones_like(y), kernel, mode="same")


def suggest_lr(lrs: list[float], losses: list[float]) -> tuple[float | None, float | None]:
    """(suggestion, min_loss_lr) from a sweep's raw losses, by the rule in the module docstring.

    The slope is taken on a centred moving average (a tenth of the points): unlike the
    running average shown to people, it does not lag, which would push the suggestion
    towards too-high rates.
    """
    pts = [(lr, v) for lr, v in zip(lrs, losses) if lr > 0 and math.isfinite(v)]
    if len(pts) < 5:
        return None, None
    x = np.log10([p[0] for p in pts])
    y = centred_average([p[1] for p in pts], max(3, (len(pts) // 10) | 1))
    low = int(np.argmin(y))
    # Where the loss stops falling: the first point within 5% (of the drop so far) of the
    # minimum. A loss that reaches a flat floor (an easy task) keeps its minimum anywhere on
    # the floor; the descent that matters ends where the floor begins.
    top = float(np.max(y[: low + 1]))
    floor = int(np.argmax(y[: low + 1] <= y[low] + 0.05 * (top - y[low])))
    # The descent that matters lies in the decade below that point (at least three points).
    start = min(int(np.searchsorted(x, x[floor] - 1.0)), max(floor - 2, 0))
    end = max(floor, start + 2)
    slopes = np.gradient(y[start : end + 1], x[start : end + 1])
    return float(10 ** x[start + int(np.argmin(slopes))]), float(10 ** x[low])


def _lr_at(step: int, steps: int, start: float, end: float) -> float:
    return start * (end / start) ** (step / max(steps - 1, 1))


def lr_find(
    config: TrainConfig,
    dataset=None,
    *,
    model: torch.nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 100,
    beta: float = 0.9,
    diverge: float = 4.0,
    progress: Callable[[int, int, float, float], None] | None = None,
    stop=None,
) -> LRFindResult:
    """Sweep the learning rate from ``start_lr`` to ``end_lr`` over ``steps`` training steps.

    Uses ``config``'s model, data, batch size, optimizer, augmentation, label smoothing,
    precision and device; ``dataset`` skips loading when the caller has it. Pass ``model``
    and ``optimizer`` to sweep on them (their state is restored afterwards; the model is
    moved to the config's device); otherwise a fresh model is built and dropped.
    ``progress(step, steps, lr, smoothed_loss)`` is called after each step; ``stop`` (a
    StopFlag, threading.Event or callable) ends the sweep early with what was measured.
    Bad settings raise :class:`EngineError`.
    """
    cfg = config.validate()
    if not (0 < start_lr < end_lr) or not math.isfinite(end_lr):
        raise EngineError(f"lr-find: need 0 < start_lr < end_lr, got {start_lr:g} and {end_lr:g}")
    if steps < 5:
        raise EngineError(f"lr-find: need at least 5 steps, got {steps}")
    should_stop = (stop.is_set if hasattr(stop, "is_set") else stop) or (lambda: False)
    # Building the model seeds the global generator and the sweep draws from it: put it back.
    rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        run = _Sweep(cfg, dataset, model, optimizer)
        with run.restoring():
            return run.sweep(start_lr, end_lr, steps, beta, diverge, progress, should_stop)
    finally:
        torch.set_rng_state(rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)


class _Sweep:
    def __init__(self, cfg: TrainConfig, dataset, model, optimizer):
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        ds = dataset or load_dataset(DataSpec.of(cfg))
        mean, std = channel_stats(ds.train.images)
        if model is None:
            torch.manual_seed(cfg.seed)
            model = create_model(cfg.model, num_classes=ds.num_classes, in_channels=ds.image_shape[2], **cfg.model_args)
            data_init(model, ds.train.images, mean, std, cfg.seed)
        memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model = model.to(self.device, memory_format=memory_format)
        self.optimizer = optimizer or build_optimizer(self.model, cfg)
        self.amp_dtype = autocast_dtype(self.device, cfg.mixed_precision, self.model)
        self.scaler = grad_scaler(self.device, self.amp_dtype)  # as in training
        self.batches = DeviceBatches(
            ds.train.images,
            ds.train.labels,
            cfg.batch_size,
            self.device,
            mean,
            std,
            cfg.augment,
            shuffle=True,
            drop_last=len(ds.train) > cfg.batch_size,
            seed=cfg.seed,
            channels_last=cfg.channels_last,
        )

    def restoring(self):
        """Context manager: put weights, optimizer state and train/eval mode back afterwards."""

        @contextlib.contextmanager
        def guard():
            model_state = copy.deepcopy(self.model.state_dict())
            opt_state = copy.deepcopy(self.optimizer.state_dict())
            was_training = self.model.training
            try:
                yield
            finally:
                self.model.load_state_dict(model_state)
                self.optimizer.load_state_dict(opt_state)
                self.model.train(was_training)

        return guard()

    def sweep(self, start_lr, end_lr, steps, beta, diverge, progress, should_stop) -> LRFindResult:
        result = LRFindResult()
        avg, best = 0.0, math.inf
        self.model.train()
        batches = self.batches.forever()
        for step in range(steps):
            if should_stop():
                result.stopped_early, result.reason = True, f"stopped after {step} of {steps} steps"
                break
            lr = _lr_at(step, steps, start_lr, end_lr)
            for g in self.optimizer.param_groups:
                g["lr"] = lr * g.get("lr_scale", 1.0)  # the config's per-group scales still apply
            x, y = next(batches)
            with autocast_context(self.device, self.amp_dtype):
                logits = self.model(x)
                loss = F.cross_entropy(logits.float(), y, label_smoothing=self.cfg.label_smoothing)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            value = float(loss.detach())
            avg = beta * avg + (1 - beta) * value
            smooth = avg / (1 - beta ** (step + 1))  # bias correction: the average starts at 0
            result.lrs.append(lr)
            result.losses.append(value)
            result.smoothed.append(smooth)
            if progress is not None:
                progress(step + 1, steps, lr, smooth)
            if not math.isfinite(smooth):
                result.stopped_early, result.reason = True, f"loss became {value} at lr {lr:.3g}"
                break
            best = min(best, smooth)
            if step > 3 and smooth > diverge * best:
                result.stopped_early = True
                result.reason = f"loss diverged at lr {lr:.3g} (over {diverge:g}x its lowest)"
                break
        else:
            result.reason = f"swept {steps} steps up to lr {end_lr:g}"
        result.suggestion, result.min_loss_lr = suggest_lr(result.lrs, result.losses)
        return result
