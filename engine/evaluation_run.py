"""Evaluate a checkpoint on a dataset split, matching classes by name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .checkpoint import Checkpoint, load_checkpoint
from .data.dataset import ImageSet
from .data.loader import DeviceBatches
from .data.sources import DataSpec, load_dataset
from .device import autocast_dtype, resolve_device
from .errors import Cancelled, DataError
from .evaluate import EvalResult, evaluate_arrays
from .images import image_to_array

__all__ = ["SPLITS", "EvaluationReport", "evaluate_checkpoint"]

SPLITS = ("auto", "test", "val", "train", "all")


@dataclass
class EvaluationReport:
    result: EvalResult
    classes: list[str]
    split: str  # which images were used, in words
    images: ImageSet  # the evaluated images (for a mistakes gallery)

    def to_dict(self) -> dict:
        return {"split": self.split, **self.result.to_dict(self.classes)}


def _resize(s: ImageSet, size: tuple[int, int], channels: int) -> ImageSet:
    if s.images.shape[1:3] == size and s.images.shape[3] == channels:
        return s
    from PIL import Image

    arrays = [
        image_to_array(Image.fromarray(a.squeeze(-1) if a.shape[-1] == 1 else a), size, channels) for a in s.images
    ]
    return ImageSet(np.stack(arrays), s.labels)


def evaluate_checkpoint(
    checkpoint: Checkpoint | str | Path,
    data: str,
    split: str = "auto",
    tta: int = 0,
    device: str = "auto",
    batch_size: int = 256,
    should_stop=None,
    progress=None,
) -> EvaluationReport:
    """Accuracy, per-class metrics and confusion matrix of ``checkpoint`` on ``data``.

    ``split``: "auto" uses the test split when the data has one, else every image; "val"
    rebuilds the validation split the checkpoint was trained with (same fraction and seed).
    ``progress(done, total, stage)`` reports loading ("checking", "decoding") and "evaluating";
    ``should_stop()`` cancels (raises :class:`Cancelled`).
    """
    ck = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    cfg = ck.config or {}
    val_fraction = float(cfg.get("val_fraction", 0.1)) if split == "val" else 0.0
    ds = load_dataset(DataSpec(data, val_fraction=val_fraction, seed=int(cfg.get("seed", 0))), progress, should_stop)
    if split == "val":
        chosen, name = ds.val, "validation split (as held out in training)"
    elif split == "test" or (split == "auto" and ds.test is not None):
        chosen, name = ds.test, "test split"
    elif split == "train":
        chosen, name = ds.train, "training split"
    else:
        parts = [s for s in (ds.train, ds.val, ds.test) if s is not None]
        chosen = ImageSet(np.concatenate([p.images for p in parts]), np.concatenate([p.labels for p in parts]))
        name = "all images"
    if chosen is None or len(chosen) == 0:
        raise DataError(f"{data}: has no {split} split")
    unknown = [c for c in ds.classes if c not in ck.classes]
    if unknown:
        raise DataError(
            f"{data}: class(es) {', '.join(unknown[:5])} are not among the checkpoint's classes "
            f"({', '.join(ck.classes)})"
        )
    remap = np.array([ck.classes.index(c) for c in ds.classes])
    chosen = _resize(ImageSet(chosen.images, remap[chosen.labels]), ck.input_size, ck.channels)
    dev = resolve_device(device)
    model = ck.build_model(dev)
    batches = DeviceBatches(
        chosen.images, chosen.labels, batch_size, dev, ck.mean, ck.std, channels_last=dev.type != "mps"
    )
    model = model.to(memory_format=torch.channels_last)
    result = evaluate_arrays(
        model, batches, len(ck.classes), tta, autocast_dtype(dev, "off"), dev, should_stop, progress
    )
    if result is None:
        raise Cancelled("evaluation cancelled")
    return EvaluationReport(result, ck.classes, f"{name} of {data} ({len(chosen)} images)", chosen)
