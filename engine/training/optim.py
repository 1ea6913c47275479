"""Optimizers and learning-rate schedules built from a :class:`TrainConfig`.

The schedule is a pure function of the step (plus a scale that reduce-on-plateau changes),
so the GUI can draw the whole curve before training starts (:func:`schedule_preview`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..config import TrainConfig
from .muon import MuonSGD

__all__ = ["LRSchedule", "build_optimizer", "param_groups", "schedule_preview"]


def param_groups(model: nn.Module, cfg: TrainConfig) -> list[dict]:
    """Two groups: normalisation-layer parameters, and everything else (for ``muon``, a
    third: the convolution filters, at ``muon_lr`` and ``muon_momentum``; other layers'
    biases then join the normalisation group).

    Norm parameters get ``norm_bias_lr_scale`` times the learning rate and the weight decay
    divided by the same factor, so the decay applied per step (lr x decay) is unchanged
    while the batch-norm shifts move faster (a fast-recipe trick; 1.0 = plain training).
    """
    norm_types = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)
    norm, other = [], []
    for module in model.modules():
        for p in module.parameters(recurse=False):
            if p.requires_grad:
                (norm if isinstance(module, norm_types) else other).append(p)
    scale = cfg.norm_bias_lr_scale
    filters = []
    if cfg.optimizer == "muon":  # convolution filter banks (4-D) take Muon steps at their own rate
        filters = [p for p in other if p.ndim == 4]
        # Other layers' biases (fastnet: the whitening stem's) move at the norm-bias rate too, as
        # in airbench94_muon, where one "bias" rate serves both and the head's rate is 12.6x it.
        norm += [p for p in other if p.ndim == 1]
        other = [p for p in other if p.ndim not in (1, 4)]
    groups = [{"params": other, "lr": cfg.lr, "weight_decay": cfg.weight_decay, "lr_scale": 1.0}]
    if filters:
        groups.append(
            {
                "params": filters,
                "lr": cfg.muon_lr,
                "lr_scale": cfg.muon_lr / cfg.lr,  # the schedule sets lr = cfg.lr * lr_scale * factor
                "momentum": cfg.muon_momentum,
                "weight_decay": 0.0,
                "muon": True,
            }
        )
    if norm:
        groups.append(
            {"params": norm, "lr": cfg.lr * scale, "weight_decay": cfg.weight_decay / scale, "lr_scale": scale}
        )
    return _scale_backbone(model, groups, cfg.backbone_lr_scale)


def _scale_backbone(model: nn.Module, groups: list[dict], factor: float) -> list[dict]:
    """Fine-tuning a pretrained backbone (a model with ``backbone_parameters()``): its
    parameters move at ``factor`` times their group's rate, so the new classifier can learn
    before the ImageNet features are disturbed."""
    if factor == 1.0 or not hasattr(model, "backbone_parameters"):
        return groups
    backbone = {id(p) for p in model.backbone_parameters()}
    out = []
    for g in groups:
        mine = [p for p in g["params"] if id(p) not in backbone]
        theirs = [p for p in g["params"] if id(p) in backbone]
        out.append({**g, "params": mine})
        if theirs:
            out.append({**g, "params": theirs, "lr": g["lr"] * factor, "lr_scale": g["lr_scale"] * factor})
    return out


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    groups = [g for g in param_groups(model, cfg) if g["params"]]
    if cfg.optimizer == "muon":
        return MuonSGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    if cfg.optimizer in ("sgd", "nesterov"):
        return torch.optim.SGD(
            groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.optimizer == "nesterov" and cfg.momentum > 0
        )
    betas = (cfg.momentum if cfg.momentum > 0 else 0.9, 0.999)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr, betas=betas)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=betas)


class LRSchedule:
    """Learning-rate factor per optimizer step (multiply by each group's base lr)."""

    def __init__(self, cfg: TrainConfig, steps_per_epoch: int):
        self.cfg = cfg
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.total_steps = cfg.epochs * self.steps_per_epoch
        # reduce-on-plateau state
        self.plateau_scale = 1.0
        self.best = -math.inf
        self.bad_epochs = 0

    def factor(self, step: int) -> float:
        c = self.cfg
        e = step / self.steps_per_epoch  # progress in epochs (fractional)
        total = c.epochs
        if c.schedule == "onecycle":
            up = c.warmup_epochs or 0.25 * total  # default ramp: the first quarter
            if e < up:
                return c.warmup_start_factor + (1 - c.warmup_start_factor) * e / up
            t = min(1.0, (e - up) / max(total - up, 1e-9))
            return 1 - (1 - c.final_lr_factor) * t
        if c.schedule == "constant":
            f = 1.0
        elif c.schedule == "step":
            f = c.gamma ** math.floor(e / c.step_size)
        elif c.schedule == "multistep":
            f = c.gamma ** sum(e >= m for m in c.milestones)
        elif c.schedule in ("cosine", "linear"):
            t = min(1.0, max(0.0, (e - c.warmup_epochs) / max(total - c.warmup_epochs, 1e-9)))
            shape = 0.5 * (1 + math.cos(math.pi * t)) if c.schedule == "cosine" else 1 - t
            f = c.final_lr_factor + (1 - c.final_lr_factor) * shape
        else:  # plateau
            f = self.plateau_scale
        if c.warmup_epochs > 0 and e < c.warmup_epochs:
            f *= c.warmup_start_factor + (1 - c.warmup_start_factor) * e / c.warmup_epochs
        return f

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        """Set every group's lr for ``step``; returns the base lr now in effect."""
        f = self.factor(step)
        for g in optimizer.param_groups:
            g["lr"] = self.cfg.lr * g.get("lr_scale", 1.0) * f
        return self.cfg.lr * f

    def epoch_end(self, metric: float | None) -> None:
        """Feed the validation accuracy (higher is better) to reduce-on-plateau."""
        if self.cfg.schedule != "plateau" or metric is None:
            return
        if metric > self.best + 1e-4:
            self.best, self.bad_epochs = metric, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs > self.cfg.plateau_patience:
                self.plateau_scale *= self.cfg.gamma
                self.bad_epochs = 0

    def state_dict(self) -> dict:
        return {"plateau_scale": self.plateau_scale, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.plateau_scale = float(state.get("plateau_scale", 1.0))
        self.best = float(state.get("best", -math.inf))
        self.bad_epochs = int(state.get("bad_epochs", 0))


def schedule_preview(cfg: TrainConfig, points: int = 200, steps_per_epoch: int = 100) -> list[tuple[float, float]]:
    """(epoch, learning rate) pairs over the whole run, for plotting before training."""
    sched = LRSchedule(cfg, steps_per_epoch)
    total = sched.total_steps
    steps = sorted({round(i * total / max(points - 1, 1)) for i in range(points)})
    return [(s / steps_per_epoch, cfg.lr * sched.factor(s)) for s in steps]
