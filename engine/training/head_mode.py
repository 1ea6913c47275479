"""Training a classifier on a frozen pretrained backbone: batches of cached features.

The trainer's loop is unchanged (optimizer, schedule, checkpoints, events, resume); only what it
feeds the model differs: :func:`head_batches` computes (or reads from the cache) every image's
backbone features once, and :class:`HeadOnly` runs the model's classifier on them. Checkpoints
still hold the whole model (its state dict leaves out the pinned backbone), so prediction,
evaluation and export run on images as for any other model.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from .features import FeatureBatches, FeatureCache, extract_features

__all__ = ["HeadOnly", "head_batches"]


class HeadOnly(nn.Module):
    """The model's classifier on features ``(N, D)``; ``(N, 2, D)`` (a view and its mirror
    image) averages the two logits, as flip TTA does on images."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            return self.model.classify(x.flatten(0, 1)).view(x.shape[0], x.shape[1], -1).mean(1)
        return self.model.classify(x)


class _PairedFeatureBatches(FeatureBatches):
    """Validation batches whose inputs are (features, mirror features) pairs: flip TTA."""

    def __iter__(self):
        for f, m, y in self.with_mirrors():
            yield torch.stack([f, m], 1), y


def head_batches(run, ds):
    """Training and validation batches of backbone features for the trainer's ``run``."""
    cfg, model = run.cfg, run.model
    cache = FeatureCache()
    t0 = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int, what: str) -> None:
        now = time.perf_counter()
        if done == total or now - last[0] >= 2.0:
            last[0] = now
            run.log(f"ImageNet features: {done:,} of {total:,} images")

    try:
        splits = [("training", ds.train)] + ([("validation", ds.val)] if ds.val is not None and len(ds.val) else [])
        feats = {}
        for name, split in splits:
            run.log(f"computing the frozen backbone's features of the {len(split):,} {name} images (cached on disk)")
            feats[name] = extract_features(
                model, split.images, run.mean, run.std, run.device, cache, progress, run.should_stop
            )
    finally:
        cache.close()
    run.log(f"features ready in {time.perf_counter() - t0:.1f} s; training the classifier on them")
    if cfg.augment.crop_padding or cfg.augment.cutout:
        run.log(
            "crops and cutout need images: with a frozen backbone only flips apply (features of both views are cached)",
            "warning",
        )
    if cfg.tta == 2:
        run.log("flip+shift TTA needs images: validation averages each image with its mirror (flip TTA)", "warning")
    f, m = feats["training"]
    batches = FeatureBatches(
        f,
        m,
        ds.train.labels,
        cfg.batch_size,
        run.device,
        flip=cfg.augment.flip,
        shuffle=True,
        drop_last=len(ds.train) > cfg.batch_size,
        seed=cfg.seed,
    )
    val = None
    if "validation" in feats:
        kind = _PairedFeatureBatches if cfg.tta else FeatureBatches
        val = kind(*feats["validation"], ds.val.labels, 1024, run.device)
    return batches, val
