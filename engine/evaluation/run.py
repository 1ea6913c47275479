"""Evaluate a checkpoint on a dataset split, matching classes by name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..checkpoints.format import Checkpoint, load_checkpoint
from ..config import PRECISIONS
from ..data.dataset import ImageSet
from ..data.loader import DeviceBatches
from ..data.sources import DataSpec, load_dataset
from ..device import autocast_dtype, resolve_device
from ..errors import Cancelled, ConfigError, DataError
from ..imaging.decode import image_to_array
from ..models import get_model_info
from ..splits import SPLITS
from ..text import TTA_NAMES
from .metrics import EvalResult, evaluate_arrays

__all__ = [
    "SPLITS",
    "EvaluationReport",
    "check_same_training_data",
    "evaluate_checkpoint",
    "pixel_stats",
    "training_data_spec",
]

# How far the training images' per-channel mean/std (0-1) may drift and still count as the same
# data: decoders differing by a rounding step move them by ~1e-5; other data, or a subset of the
# same archive, moves them by ~1e-3 and more.
STATS_TOLERANCE = 2e-4


@dataclass
class EvaluationReport:
    result: EvalResult
    classes: list[str]
    split: str  # which images were used, in words
    images: ImageSet  # the evaluated images (for a mistakes gallery)
    precision: str = "fp32"  # what the forward passes ran in: "fp32" or "bf16"/"fp16" autocast
    tta: int = 0  # test-time augmentation level: 0 off, 1 flips, 2 flips and 1-pixel shifts
    checkpoint: str = ""  # the checkpoint's file name: every number says which model it came from

    def describe(self) -> str:
        """Where the numbers came from, in words: split and data, checkpoint, TTA, precision."""
        tta = TTA_NAMES[self.tta]
        model = f"{self.checkpoint} · " if self.checkpoint else ""
        return f"{self.split} · {model}{tta} · {self.precision}"

    def to_dict(self) -> dict:
        head = {"split": self.split, "checkpoint": self.checkpoint, "tta": self.tta, "precision": self.precision}
        return {**head, **self.result.to_dict(self.classes)}


def _resize(s: ImageSet, size: tuple[int, int], channels: int) -> ImageSet:
    if s.images.shape[1:3] == size and s.images.shape[3] == channels:
        return s
    arrays = [
        image_to_array(Image.fromarray(a.squeeze(-1) if a.shape[-1] == 1 else a), size, channels) for a in s.images
    ]
    return ImageSet(np.stack(arrays), s.labels)


def _eval_size(ck: Checkpoint, size: tuple[int, int]) -> tuple[int, int]:
    """The size to evaluate images of ``size`` at: the checkpoint's input, except that a model
    which resizes its input itself (``input_handling`` "upsample") gets smaller images as they
    are. Enlarging them here and again in the model only blurs them: the bundled photo model,
    handed CIFAR's 32 px images enlarged to 224 px, measured 90.9% instead of its CIFAR net's
    91.8% on 2,000 validation images."""
    info = get_model_info(ck.arch)
    smaller = size[0] <= ck.input_size[0] and size[1] <= ck.input_size[1]
    return tuple(size) if info.input_handling == "upsample" and smaller else ck.input_size


_STATS_CHUNK = 1 << 20  # pixels per np.bincount call


def pixel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std (0-1) of uint8 ``(N, H, W, C)`` images, as training normalises.

    The same numbers as the trainer's ``channel_stats`` (unbiased std, at least 1e-3), computed
    exactly from a 256-bin histogram per channel: fast, in float64, without a float copy.
    """
    values = np.arange(256, dtype=np.float64) / 255
    flat = images.reshape(-1, images.shape[-1])
    channels = flat.shape[1]
    hists = np.zeros((channels, 256), dtype=np.int64)
    # np.bincount holds the GIL: over 45,000 CIFAR images one call per channel froze the GUI
    # thread for 40-110 ms. Chunks of a million pixels keep each hold to about a millisecond.
    for start in range(0, len(flat), _STATS_CHUNK):
        chunk = flat[start : start + _STATS_CHUNK]
        for c in range(channels):
            hists[c] += np.bincount(chunk[:, c], minlength=256)
    mean, std = [], []
    for c in range(channels):
        hist = hists[c].astype(np.float64)
        n = hist.sum()
        m = float(hist @ values / n)
        var = float(hist @ (values - m) ** 2 / max(n - 1, 1))
        mean.append(m)
        std.append(max(var**0.5, 1e-3))
    return mean, std


def training_data_spec(ck: Checkpoint, data: str) -> DataSpec:
    """``data`` split as ``ck``'s training run split it (fraction, seed, classes, limit, size)."""
    cfg = ck.config or {}
    return DataSpec(
        data,
        classes=tuple(cfg["classes"]) if cfg.get("classes") else None,
        val_fraction=float(cfg.get("val_fraction", 0.1)),
        seed=int(cfg.get("seed", 0)),
        limit=cfg.get("limit"),
        image_size=cfg.get("image_size"),
    )


def check_same_training_data(ck: Checkpoint, ds, data: str) -> None:
    """Refuse (:class:`DataError`) unless ``ds`` split as ``ck`` was trained is the data it was trained on.

    The checkpoint records the per-channel mean and std of its training split (``data_stats``;
    in checkpoints from before it, the normalisation, which was those statistics). The same data
    split the same way (fraction, seed, classes, limit) reproduces them; other data does not, and
    its "validation split" was never held out. A model normalised as its pretrained weights
    expect (the "photos" preset) has no other record of its data.
    """
    name = ck.path.name if ck.path else "the checkpoint"
    if list(ds.classes) != list(ck.classes):
        raise DataError(
            f"{data}: its classes ({', '.join(ds.classes[:5])}{', ...' if len(ds.classes) > 5 else ''}) are not the "
            f"ones {name} was trained on, so it has no held-out validation split; use --split auto, test or all"
        )
    same = len(ds.train) > 0 and ds.channels == len(ck.mean)
    if same:
        mean, std = pixel_stats(ds.train.images)
        recorded = ck.data_stats or {"mean": ck.mean, "std": ck.std}
        expected = [*recorded["mean"], *recorded["std"]]
        same = max(abs(a - b) for a, b in zip([*mean, *std], expected)) <= STATS_TOLERANCE
    if not same:
        raise DataError(
            f"{data}: not the data {name} was trained on (its training images differ), so its held-out "
            "validation split cannot be rebuilt; use --split auto, test or all"
        )


def evaluate_checkpoint(
    checkpoint: Checkpoint | str | Path,
    data: str,
    split: str = "auto",
    tta: int = 0,
    device: str = "auto",
    batch_size: int = 256,
    should_stop=None,
    progress=None,
    precision: str = "auto",
) -> EvaluationReport:
    """Accuracy, per-class metrics and confusion matrix of ``checkpoint`` on ``data``.

    ``precision`` (``engine.PRECISIONS``): "auto" evaluates in the precision the checkpoint was
    validated in during training (its ``mixed_precision`` setting, resolved for this device), so
    ``--split val`` reproduces training's numbers; for the bundled model on a CPU with native
    bf16 (AMX/AVX512-BF16) that is bf16 autocast, about twice as fast as fp32. "off" is fp32.

    ``split``: "auto" uses the test split when the data has one, else every image; "val"
    rebuilds the validation split the checkpoint was trained with (same fraction, seed, classes
    and limit) and refuses data other than it was trained on (:func:`check_same_training_data`).
    ``progress(done, total, stage)`` reports loading ("checking", "decoding") and "evaluating";
    ``should_stop()`` cancels (raises :class:`Cancelled`).
    """
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
    if precision not in PRECISIONS:
        raise ConfigError("precision", f"{precision!r} is not one of {', '.join(PRECISIONS)}")
    ck = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    cfg = ck.config or {}
    if split == "val":  # the training run's own split, built exactly as training built it
        spec = training_data_spec(ck, data)
    else:
        spec = DataSpec(data, val_fraction=0.0, seed=int(cfg.get("seed", 0)))
    ds = load_dataset(spec, progress, should_stop, for_training=False)
    if split == "val":
        check_same_training_data(ck, ds, data)
        chosen = ds.val
    elif split == "auto":
        split = "test" if ds.test is not None else "all"
    if split in ("test", "train"):
        chosen = ds.test if split == "test" else ds.train
    elif split == "all":
        parts = [s for s in (ds.train, ds.val, ds.test) if s is not None]
        chosen = ImageSet(np.concatenate([p.images for p in parts]), np.concatenate([p.labels for p in parts]))
    name = SPLITS[split]
    if chosen is None or len(chosen) == 0:
        raise DataError(f"{data}: has no {split} split")
    unknown = [c for c in ds.classes if c not in ck.classes]
    if unknown:
        raise DataError(
            f"{data}: class(es) {', '.join(unknown[:5])} are not among the checkpoint's classes "
            f"({', '.join(ck.classes)})"
        )
    remap = np.array([ck.classes.index(c) for c in ds.classes])
    size = _eval_size(ck, chosen.images.shape[1:3])
    chosen = _resize(ImageSet(chosen.images, remap[chosen.labels]), size, ck.channels)
    dev = resolve_device(device)
    model = ck.build_model(dev)
    batches = DeviceBatches(
        chosen.images, chosen.labels, batch_size, dev, ck.mean, ck.std, channels_last=dev.type != "mps"
    )
    model = model.to(memory_format=torch.channels_last)
    if precision == "auto":
        precision = str(cfg.get("mixed_precision", "auto"))
        precision = precision if precision in PRECISIONS else "auto"
    dtype = autocast_dtype(dev, precision, model)
    result = evaluate_arrays(model, batches, len(ck.classes), tta, dtype, dev, should_stop, progress)
    if result is None:
        raise Cancelled("evaluation cancelled")
    used = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
    split = f"{name} of {data} ({len(chosen)} images)"
    source = ck.path.name if ck.path else ""
    return EvaluationReport(result, ck.classes, split, chosen, used, tta=int(tta), checkpoint=source)
