"""Accuracy at equal training time: the fast preset against the tutorials' classic recipe.

Both recipes are the presets themselves (``fast`` and ``resnet32-keras``), trained for the same
wall-clock budget on the same held-out split. Each runs its own schedule (:class:`LRSchedule`)
on the clock: the fraction of the budget spent stands for the fraction of the preset's epochs,
so each anneals fully within the budget. The classic recipe runs as the tutorials ran it:
DataLoader over PIL images, fp32.
"""

from __future__ import annotations

import time

import torch

from ..data.loader import DeviceBatches, channel_stats
from ..device import autocast_dtype
from ..evaluation.metrics import evaluate_arrays
from ..models import create_model, data_init
from ..presets import preset_config
from ..training.optim import LRSchedule, build_optimizer
from .classic_pipeline import classic_loader
from .common import cycle, say, sync, train_step

__all__ = ["RECIPES", "bench_accuracy", "clock_factor", "report_lines"]

# name in the report -> (preset, input pipeline)
RECIPES = {"fast": ("fast", "fast"), "classic": ("resnet32-keras", "classic")}
_STEPS_PER_EPOCH = 1000  # resolution of the clock-driven schedule


def _schedule(cfg):
    return LRSchedule(cfg, _STEPS_PER_EPOCH)


def clock_factor(cfg, progress: float) -> float:
    """The preset's learning-rate factor once ``progress`` (0-1) of the time budget is spent."""
    schedule = _schedule(cfg)
    return schedule.factor(round(min(max(progress, 0.0), 1.0) * schedule.total_steps))


def _train_for(budget: float, recipe: str, ds, device, classic_workers: int) -> dict:
    preset, pipeline = RECIPES[recipe]
    fast = pipeline == "fast"
    cfg = preset_config(preset)
    if not fast:  # the tutorials train in fp32 on contiguous tensors
        cfg = cfg.replace(mixed_precision="off", channels_last=False)
    mean, std = channel_stats(ds.train.images)
    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model, ds.num_classes, ds.channels)
    if fast:
        data_init(model, ds.train.images, mean, std, cfg.seed)
    model = model.to(device, memory_format=torch.channels_last if cfg.channels_last else torch.contiguous_format)
    optimizer = build_optimizer(model, cfg)
    schedule = _schedule(cfg)
    amp = autocast_dtype(device, cfg.mixed_precision, model)
    step = train_step(model, optimizer, device, amp, cfg.label_smoothing)
    if fast:
        it = DeviceBatches(
            ds.train.images,
            ds.train.labels,
            cfg.batch_size,
            device,
            mean,
            std,
            cfg.augment,
            shuffle=True,
            drop_last=True,
            channels_last=cfg.channels_last,
        ).forever()
    else:
        it = cycle(classic_loader(ds.train.images, ds.train.labels, mean, std, cfg.batch_size, workers=classic_workers))
    model.train()
    seen, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < budget:
        schedule.apply(optimizer, round(elapsed / budget * schedule.total_steps))
        x, y = next(it)
        step(x.to(device, non_blocking=True), y.to(device, non_blocking=True))
        seen += len(y)
    sync(device)
    train_time = time.perf_counter() - t0
    val = DeviceBatches(ds.val.images, ds.val.labels, 500, device, mean, std, channels_last=cfg.channels_last)
    out = {
        "preset": preset,
        "model": cfg.model,
        "train_seconds": round(train_time, 1),
        "images_seen": seen,
        "epochs": round(seen / len(ds.train), 2),
        "val_accuracy": round(evaluate_arrays(model, val, ds.num_classes, 0, None, device).accuracy, 4),
    }
    if fast and cfg.tta:
        tta = evaluate_arrays(model, val, ds.num_classes, cfg.tta, None, device).accuracy
        out["val_accuracy_tta"] = round(tta, 4)
    return out


def bench_accuracy(ds, device, budget: float, classic_workers: int) -> dict:
    say(f"  fast recipe (preset {RECIPES['fast'][0]}) for {budget:.0f} s...")
    fast = _train_for(budget, "fast", ds, device, classic_workers)
    say(f"  classic recipe (preset {RECIPES['classic'][0]}: DataLoader, fp32) for {budget:.0f} s...")
    classic = _train_for(budget, "classic", ds, device, classic_workers)
    return {
        "budget_seconds": budget,
        "val_images": len(ds.val),
        "fast": fast,
        "classic": classic,
        "accuracy_gain_points": round(100 * (fast["val_accuracy"] - classic["val_accuracy"]), 2),
    }


def report_lines(a: dict) -> list[str]:
    f, c = a["fast"], a["classic"]
    tta = f" ({f['val_accuracy_tta']:.2%} with TTA)" if "val_accuracy_tta" in f else ""
    return [
        f"accuracy after {a['budget_seconds']:.0f} s of training ({a['val_images']} held-out images):",
        f"  fast recipe    {f['model']:<9} {f['val_accuracy']:.2%}{tta}, {f['epochs']} epochs",
        f"  classic recipe {c['model']:<9} {c['val_accuracy']:.2%}, {c['epochs']} epochs",
        f"  difference     {a['accuracy_gain_points']:+.2f} points",
    ]
