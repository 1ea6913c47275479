"""Training a classifier on a frozen pretrained backbone: batches of cached features.

The trainer's loop is unchanged (optimizer, schedule, checkpoints, events, resume); only what it
feeds the model differs: :func:`head_batches` computes (or reads from the cache) every image's
backbone features once, and :class:`HeadOnly` runs the model's classifier on them. Checkpoints
still hold the whole model (its state dict leaves out the pinned backbone), so prediction,
evaluation and export run on images as for any other model.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from ..inference.ood import UnknownDetector, encode_prototypes, file_sha256, sidecar_path
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
    # A linear layer on a batch of features is microseconds of work: extra threads only add
    # synchronisation, which on a busy 2-core machine cost 30-60 ms per step (dropout, backward).
    run.threads_before_head = torch.get_num_threads()  # restored when the run ends (trainer._release)
    torch.set_num_threads(1)
    run.threads = 1
    if cfg.augment.crop_padding or cfg.augment.cutout:
        run.log(
            "crops and cutout need images: with a frozen backbone only flips apply (features of both views are cached)",
            "warning",
        )
    if cfg.tta == 2:
        run.log("flip+shift TTA needs images: validation averages each image with its mirror (flip TTA)", "warning")
    run.head_features = feats  # for calibrate_head_unknown at the end of the run
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


# Share of the in-class photos the automatic "none of these" threshold flags. Low, because a
# user's own model flagging its own classes is the failure users notice first.
UNKNOWN_FLAG_RATE = 0.02
# Training images whose features the sidecar keeps for the nearest-neighbour score (every one up
# to this many, then an even sample): 2,000 x 1,280 float16 is 5 MB, as base64 in JSON 6.8 MB.
MAX_PROTOTYPES = 2000


def calibrate_head_unknown(run, feats: dict) -> str | None:
    """Calibrate "none of these" for the run's ``best.pt`` from the cached features; the
    sidecar (``best.ood.json``) is written beside it. Returns a line for the log.

    Score: one minus the cosine similarity of a photo's features to the nearest training
    photo's (the ``nearest`` method of :mod:`engine.inference.ood`). The threshold flags
    :data:`UNKNOWN_FLAG_RATE` of the in-class photos: each training photo scored against the
    others (leave one out: a photo is its own nearest neighbour otherwise), each held-out photo
    against the training photos.
    """
    best = run.out / "best.pt"
    if not best.exists() or "training" not in feats:
        return None
    # The plain view's features: the ones the unknown score reads at prediction time (engine.inference.predict).
    f = torch.nn.functional.normalize(feats["training"][0], dim=1)
    if len(f) < 2:
        return None
    sims = f @ f.T
    sims.fill_diagonal_(-1.0)
    scores = [(1 - sims.amax(1)).numpy()]
    if "validation" in feats:
        vf = torch.nn.functional.normalize(feats["validation"][0], dim=1)
        scores.append((1 - (vf @ f.T).amax(1)).numpy())
    all_scores = np.concatenate(scores)
    threshold = float(np.quantile(all_scores, 1 - UNKNOWN_FLAG_RATE))
    keep = f[:: max(1, -(-len(f) // MAX_PROTOTYPES))]
    detector = UnknownDetector(
        "nearest",
        threshold,
        calibrated=True,
        info={
            "checkpoint_sha256": file_sha256(best),
            "data": "the run's own photos (training photos scored leave-one-out)",
            "photos": len(all_scores),
            "target_flag_rate": UNKNOWN_FLAG_RATE,
        },
        prototypes=encode_prototypes(keep),
        prototype_dim=int(keep.shape[1]),
    )
    detector.save(sidecar_path(best))
    return (
        f"'none of these' calibrated on {len(all_scores)} photos of the classes "
        f"(flags {UNKNOWN_FLAG_RATE:.0%} of them): {sidecar_path(best).name}"
    )
