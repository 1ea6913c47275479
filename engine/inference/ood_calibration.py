"""Calibrate "none of these" for a checkpoint on its own held-out validation split.

The result is written beside the checkpoint as ``NAME.ood.json`` (see :mod:`engine.inference.ood`);
``Predictor`` picks it up from there. Only in-distribution data is needed: the threshold is
the score that flags a chosen small fraction of the correctly classified validation images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..checkpoints.format import Checkpoint, load_checkpoint
from ..data.sources import load_dataset
from ..errors import DataError
from ..evaluation.run import training_data_spec
from .ood import UnknownDetector, calibrate, compute_scores, file_sha256, forward_with_features, sidecar_path

__all__ = ["ModelOutputs", "calibrate_unknown", "model_outputs"]

# Features of this many training images give the class means (more changes them by < 1%).
MEAN_IMAGES = 12_000


@dataclass
class ModelOutputs:
    logits: torch.Tensor
    features: torch.Tensor | None
    mirror_features: torch.Tensor | None = None  # of the mirrored images


@torch.inference_mode()
def model_outputs(model, images: np.ndarray, mean, std, batch_size: int = 500) -> ModelOutputs:
    """Plain-forward logits and penultimate features (also of the mirror images) for uint8
    ``(N, H, W, C)`` images."""
    m = torch.tensor(mean).view(1, -1, 1, 1) * 255
    s = torch.tensor(std).view(1, -1, 1, 1) * 255
    logits, feats, mirror = [], [], []
    for i in range(0, len(images), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(images[i : i + batch_size])).permute(0, 3, 1, 2)
        x = ((x.float() - m) / s).contiguous(memory_format=torch.channels_last)
        lg, ft = forward_with_features(model, torch.cat([x, x.flip(3)]))
        logits.append(lg[: len(x)])
        if ft is not None:
            feats.append(ft[: len(x)])
            mirror.append(ft[len(x) :])
    if not feats:
        return ModelOutputs(torch.cat(logits), None)
    return ModelOutputs(torch.cat(logits), torch.cat(feats), torch.cat(mirror))


def class_means(outputs: ModelOutputs, labels: np.ndarray, num_classes: int) -> torch.Tensor:
    f = torch.nn.functional.normalize(outputs.features, dim=1)
    return torch.stack([f[torch.from_numpy(labels == c)].mean(0) for c in range(num_classes)])


def calibrate_unknown(
    checkpoint: Checkpoint | str | Path,
    data: str,
    method: str = "feature_norm_mirror",
    target_flag_rate: float = 0.10,
    write: bool = True,
) -> tuple[UnknownDetector, dict]:
    """Calibrate ``method`` on ``data``'s validation split as held out for this checkpoint.

    Returns the detector (also saved as the checkpoint's ``.ood.json`` when ``write``) and the
    validation outputs used (``{"scores": {method: array}, "correct": mask}``) for reports.
    """
    ck = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    ds = load_dataset(training_data_spec(ck, data))  # the training run's own validation split
    if ds.val is None or len(ds.val) == 0:
        raise DataError(f"{data}: has no validation split to calibrate on")
    if ds.train.images.shape[1:3] != tuple(ck.input_size):
        raise DataError(f"{data}: images are not the checkpoint's input size {ck.input_size}")
    remap = np.array([ck.classes.index(c) for c in ds.classes])
    model = ck.build_model("cpu").to(memory_format=torch.channels_last)
    step = max(1, len(ds.train) // MEAN_IMAGES)
    train = model_outputs(model, ds.train.images[::step], ck.mean, ck.std)
    means = class_means(train, remap[ds.train.labels[::step]], len(ck.classes)) if train.features is not None else None
    val = model_outputs(model, ds.val.images, ck.mean, ck.std)
    scores = compute_scores(val.logits, val.features, means, val.mirror_features)
    correct = val.logits.argmax(1).numpy() == remap[ds.val.labels]
    threshold = calibrate(scores, correct, method, target_flag_rate)
    info = {
        "checkpoint_sha256": file_sha256(ck.path) if ck.path else None,
        "data": Path(str(data)).name,  # no machine-specific folders in a shipped file
        "validation_images": len(ds.val),
        "target_flag_rate": target_flag_rate,
        "val_correct_flagged": float((scores[method][correct] > threshold).mean()),
        "val_wrong_flagged": float((scores[method][~correct] > threshold).mean()) if (~correct).any() else None,
    }
    detector = UnknownDetector(
        method,
        threshold,
        calibrated=True,
        class_means=means.round(decimals=6).tolist() if means is not None and method == "feature" else None,
        info=info,
    )
    if write and ck.path is not None:
        detector.save(sidecar_path(ck.path))
    return detector, {"scores": scores, "correct": correct, "class_means": means}
