"""Evaluation throughput: :func:`evaluate_checkpoint` (the engine's evaluation, with progress)
against the tutorials' test loop (a DataLoader over PIL images with per-image ToTensor and
Normalize, fp32 forward passes) on the same images, in the same run.

The data is decoded (and cached) once before either is timed, so both measure what a user
waits for once the data is on the machine: loading the cached arrays, then evaluating. With
the bundled model on the archive it was trained on, the images are its 5,000 held-out ones.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..checkpoints.format import load_checkpoint
from ..data.sources import DataSpec, load_dataset
from ..errors import DataError
from ..evaluation.run import evaluate_checkpoint, training_data_spec
from .classic_pipeline import classic_loader
from .common import say

__all__ = ["bench_evaluation", "report_lines"]


def _straightforward(ck, data: str, spec, split: str, batch_size: int) -> tuple[int, float]:
    """The tutorials' loop over the images ``evaluate_checkpoint`` chose; (images, accuracy)."""
    ds = load_dataset(spec, for_training=False)
    chosen = {"val": ds.val, "test": ds.test, "train": ds.train}.get(split) or ds.test or ds.train
    remap = np.array([ck.classes.index(c) for c in ds.classes])
    model = ck.build_model("cpu")
    loader = classic_loader(
        chosen.images, remap[chosen.labels], ck.mean, ck.std, batch_size, workers=0, augment=False, shuffle=False
    )
    correct = 0
    with torch.inference_mode():
        for x, y in loader:
            correct += int((model(x).argmax(1) == y).sum())
    return len(chosen), correct / max(len(chosen), 1)


def bench_evaluation(checkpoint, data: str, batch_size: int = 256) -> dict:
    ck = load_checkpoint(checkpoint)
    say("  decoding the data once (not timed)...")
    spec = training_data_spec(ck, data)  # the checkpoint's own split of the data, when it is that data
    load_dataset(spec, for_training=False)
    calls = []
    split = "val"
    t = time.perf_counter()
    try:
        report = evaluate_checkpoint(ck, data, split="val", device="cpu", progress=lambda *a: calls.append(a))
    except DataError:  # not the data the checkpoint was trained on: its test split, or every image
        split = "auto"
        calls.clear()
        spec = DataSpec(data, val_fraction=0.0)
        load_dataset(spec, for_training=False)
        t = time.perf_counter()
        report = evaluate_checkpoint(ck, data, split="auto", device="cpu", progress=lambda *a: calls.append(a))
    engine_s = time.perf_counter() - t
    images = int(report.result.confusion.sum())
    t = time.perf_counter()
    plain_images, plain_acc = _straightforward(ck, data, spec, "val" if split == "val" else "test", batch_size)
    plain_s = time.perf_counter() - t
    return {
        "split": report.split,
        "images": images,
        "engine_seconds": round(engine_s, 2),
        "engine_images_per_s": round(images / engine_s, 1),
        "engine_accuracy": round(report.result.accuracy, 4),
        "progress_reports": len(calls),
        "straightforward_seconds": round(plain_s, 2),
        "straightforward_images_per_s": round(plain_images / plain_s, 1),
        "straightforward_accuracy": round(plain_acc, 4),
        "ratio": round(plain_s / engine_s, 2),
    }


def report_lines(e: dict) -> list[str]:
    if "skipped" in e:
        return [f"evaluation: skipped ({e['skipped']})"]
    return [
        f"evaluation ({e['split']}):",
        f"  engine           {e['engine_seconds']:8.2f} s  {e['engine_images_per_s']:8.1f} images/s  accuracy "
        f"{e['engine_accuracy']:.2%}  ({e['progress_reports']} progress reports)",
        f"  straightforward  {e['straightforward_seconds']:8.2f} s  {e['straightforward_images_per_s']:8.1f} images/s  "
        f"accuracy {e['straightforward_accuracy']:.2%}  (DataLoader over PIL images, fp32)",
        f"  ratio            {e['ratio']:8.2f}x",
    ]
