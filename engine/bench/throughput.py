"""Training throughput: the fast pipeline against the classic one, same model, batch and device.

Fast: data on the device, batched augmentation, channels_last, the fast preset's mixed
precision. Classic: the tutorials' DataLoader over PIL images with per-image transforms, fp32.
Both use the classic recipe's augmentation and optimizer (preset ``resnet32-keras``) so only
the pipeline differs, and they alternate round by round so both see the same machine state.
"""

from __future__ import annotations

import statistics
import time

import torch

from ..data.loader import DeviceBatches, channel_stats
from ..device import autocast_dtype
from ..models import create_model
from ..presets import preset_config
from ..training.optim import build_optimizer
from .classic_pipeline import classic_loader
from .common import cycle, say, sync, train_step

__all__ = ["CLASSIC_PRESET", "FAST_PRESET", "bench_throughput", "report_lines"]

FAST_PRESET, CLASSIC_PRESET = "fast", "resnet32-keras"


def bench_throughput(
    ds, model_name: str, batch_size: int, device: torch.device, rounds: int, steps: int, classic_workers: int
) -> dict:
    cfg = preset_config(CLASSIC_PRESET).replace(model=model_name, batch_size=batch_size)
    mean, std = channel_stats(ds.train.images)
    torch.manual_seed(0)
    fast_model = create_model(model_name, ds.num_classes, ds.channels).to(device, memory_format=torch.channels_last)
    torch.manual_seed(0)
    classic_model = create_model(model_name, ds.num_classes, ds.channels).to(device)
    fast_amp = autocast_dtype(device, preset_config(FAST_PRESET).mixed_precision)
    fast_step = train_step(fast_model, build_optimizer(fast_model, cfg), device, fast_amp)
    classic_step = train_step(classic_model, build_optimizer(classic_model, cfg), device, None)
    fast_batches = DeviceBatches(
        ds.train.images,
        ds.train.labels,
        batch_size,
        device,
        mean,
        std,
        cfg.augment,
        shuffle=True,
        drop_last=True,
        channels_last=True,
    )
    loader = classic_loader(ds.train.images, ds.train.labels, mean, std, batch_size, workers=classic_workers)
    fast_iter, classic_iter = fast_batches.forever(), cycle(loader)

    def measure(step, it, n, to_device):
        sync(device)
        t = time.perf_counter()
        for _ in range(n):
            x, y = next(it)
            if to_device:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            step(x, y)
        sync(device)
        return n * batch_size / (time.perf_counter() - t)

    measure(fast_step, fast_iter, 2, False)  # warm-up: allocator, oneDNN/cuDNN kernel choice
    measure(classic_step, classic_iter, 2, True)  # ... and the DataLoader's worker start-up
    fast_runs, classic_runs = [], []
    for r in range(rounds):
        fast_runs.append(measure(fast_step, fast_iter, steps, False))
        classic_runs.append(measure(classic_step, classic_iter, steps, True))
        say(f"  round {r + 1}/{rounds}: fast {fast_runs[-1]:.0f} img/s, classic {classic_runs[-1]:.0f} img/s")
    fast, classic = statistics.median(fast_runs), statistics.median(classic_runs)
    precision = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[fast_amp]
    return {
        "model": model_name,
        "batch_size": batch_size,
        "fast_images_per_s": round(fast, 1),
        "classic_images_per_s": round(classic, 1),
        "ratio": round(fast / classic, 2),
        "fast_precision": precision,
        "classic_workers": classic_workers,
        "fast_runs": [round(v, 1) for v in fast_runs],
        "classic_runs": [round(v, 1) for v in classic_runs],
    }


def report_lines(t: dict) -> list[str]:
    return [
        f"training throughput ({t['model']}, batch {t['batch_size']}):",
        f"  fast pipeline    {t['fast_images_per_s']:8.1f} img/s  (on-device data, {t['fast_precision']}, "
        "channels_last)",
        f"  classic pipeline {t['classic_images_per_s']:8.1f} img/s  (DataLoader + PIL transforms, "
        f"{t['classic_workers']} workers, fp32)",
        f"  ratio            {t['ratio']:8.2f}x",
    ]
