""" "None of these": a score that says a photo is likely none of the model's classes.

A classifier's softmax always sums to one, so an astronaut still gets a confident-looking
bar. Every prediction therefore also gets an *unknown score* (higher = less like the training
classes) and ``unknown = score > threshold``. Methods (``SCORES``), all post hoc, on the plain
(un-augmented) forward pass:

* ``max_softmax``: 1 - the top class probability (Hendrycks & Gimpel, 2017).
* ``max_logit``: minus the largest logit (Hendrycks et al., 2022).
* ``energy``: minus logsumexp of the logits (Liu et al., 2020).
* ``feature``: 1 - the cosine similarity of the penultimate features to the nearest class mean
  of the training images' features (a nearest-class-mean distance; the means are stored).
* ``nearest``: 1 - the cosine similarity of the penultimate features to the nearest stored
  training image's (a 1-nearest-neighbour distance; the features are stored, float16). For
  classifiers on a pretrained backbone, whose classes may be close (cat, dog and bird): on
  photos-dev classes it flagged 88-99% of real out-of-class photos against 25-100% for the
  class means, at a similar rate of right answers flagged (the issue-20 closing note).
* ``feature_norm``: minus the L2 norm of the penultimate features. A network's pooled
  activations are strong when the image contains the patterns it learnt for its classes and
  weak otherwise.
* ``imagenet_mass``: 1 - the probability an ImageNet head puts on the model's classes together,
  for models that report it as their features (``photo-fusion``, the bundled model: a photo of
  an espresso puts its ImageNet probability on cups, none on the ten classes). Its threshold is
  fixed by rule, not by the validation split, whose 32 px CIFAR images are not photos (the
  model card gives the rates).
* ``feature_norm_mirror``: the same, averaged over the image and its mirror image (one more
  forward pass). Averaging two views halves the score's noise; for the bundled model this
  separated out-of-class images best (see the model card's table,
  ``scripts/calibrate_unknown.py``).

The threshold is calibrated on held-out in-distribution images (the checkpoint's validation
split): it is the score that flags ``target_flag_rate`` of the correctly classified ones.
Calibration lives in a small JSON beside the checkpoint (``NAME.ood.json``, written by
``scripts/calibrate_unknown.py`` / :func:`calibrate`), tied to the checkpoint by its SHA-256.
A checkpoint without one falls back to ``max_softmax`` with the long-standing 0.5 confidence
hint (flag when the top class is under 50%), which is uncalibrated and says so.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError

__all__ = [
    "SCORES",
    "UnknownDetector",
    "calibrate",
    "compute_scores",
    "decode_prototypes",
    "encode_prototypes",
    "forward_with_features",
    "sidecar_path",
]

_logger = logging.getLogger(__name__)

SCORES = (
    "max_softmax",
    "max_logit",
    "energy",
    "feature",
    "nearest",
    "feature_norm",
    "feature_norm_mirror",
    "imagenet_mass",
)
FALLBACK_THRESHOLD = 0.5  # max_softmax: flag when the top class is under 50%


def sidecar_path(checkpoint_path: str | Path) -> Path:
    p = Path(checkpoint_path)
    return p.with_name(p.stem + ".ood.json")


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _last_linear(model: nn.Module) -> nn.Linear | None:
    last = None
    for m in model.modules():
        if isinstance(m, nn.Linear):
            last = m
    return last


def forward_with_features(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits and the penultimate features (the input of the last linear layer, if any).

    A model that knows better what to report defines ``forward_with_features(x)`` itself
    (photo-fusion: its ImageNet class mass, for ``imagenet_mass``).
    """
    own = getattr(model, "forward_with_features", None)
    if own is not None:
        logits, feats = own(x)
        return logits.float(), feats.flatten(1).float()
    head = _last_linear(model)
    seen: list[torch.Tensor] = []
    handle = head.register_forward_hook(lambda m, inp, out: seen.append(inp[0])) if head is not None else None
    try:
        logits = model(x)
    finally:
        if handle is not None:
            handle.remove()
    feats = seen[-1].flatten(1).float() if seen else None
    return logits.float(), feats


def compute_scores(
    logits: torch.Tensor,
    features: torch.Tensor | None,
    class_means: torch.Tensor | None = None,
    mirror_features: torch.Tensor | None = None,
    prototypes: torch.Tensor | None = None,
) -> dict[str, np.ndarray]:
    """Every available unknown score (higher = more likely none of the classes) per image.

    ``mirror_features``: the features of the mirrored images (for ``feature_norm_mirror``).
    """
    out = {
        "max_softmax": (1 - logits.softmax(1).amax(1)).numpy(),
        "max_logit": (-logits.amax(1)).numpy(),
        "energy": (-torch.logsumexp(logits, 1)).numpy(),
    }
    if features is not None:
        out["feature_norm"] = (-features.norm(dim=1)).numpy()
        if mirror_features is not None:
            out["feature_norm_mirror"] = (-(features.norm(dim=1) + mirror_features.norm(dim=1)) / 2).numpy()
    if features is not None and class_means is not None:
        f = torch.nn.functional.normalize(features, dim=1)
        m = torch.nn.functional.normalize(class_means, dim=1)
        out["feature"] = (1 - (f @ m.T).amax(1)).numpy()
    if features is not None and prototypes is not None:
        f = torch.nn.functional.normalize(features, dim=1)
        out["nearest"] = (1 - (f @ prototypes.T).amax(1)).numpy()
    return out


def encode_prototypes(features: torch.Tensor) -> str:
    """Unit-length features as base64 float16 (a JSON-friendly sidecar field)."""
    unit = torch.nn.functional.normalize(features.float(), dim=1)
    return base64.b64encode(unit.numpy().astype(np.float16).tobytes()).decode("ascii")


def decode_prototypes(text: str, dim: int) -> torch.Tensor:
    data = np.frombuffer(base64.b64decode(text.encode("ascii"), validate=True), dtype=np.float16)
    if dim <= 0 or len(data) % dim or not np.isfinite(data).all():
        raise ValueError("prototypes do not match their dimension")
    return torch.from_numpy(data.astype(np.float32).reshape(-1, dim))


@dataclass
class UnknownDetector:
    """Turns a forward pass into an unknown score and a yes/no (see the module docstring)."""

    method: str = "max_softmax"
    threshold: float = FALLBACK_THRESHOLD
    calibrated: bool = False
    class_means: list[list[float]] | None = None
    info: dict = field(default_factory=dict)  # how it was calibrated (data, rates, sha256)
    prototypes: str | None = None  # "nearest": training images' features (encode_prototypes)
    prototype_dim: int | None = None

    def __post_init__(self):
        if self.method not in SCORES:
            raise CheckpointError(f"unknown-detection method {self.method!r} is not one of {', '.join(SCORES)}")
        if self.method == "feature" and not self.class_means:
            raise CheckpointError("unknown-detection method 'feature' needs class means")
        if self.method == "nearest" and not (self.prototypes and self.prototype_dim):
            raise CheckpointError("unknown-detection method 'nearest' needs the training images' features")
        self._means = torch.tensor(self.class_means, dtype=torch.float32) if self.class_means else None
        self._prototypes = None
        if self.prototypes:
            try:
                self._prototypes = decode_prototypes(self.prototypes, int(self.prototype_dim or 0))
            except (ValueError, TypeError) as exc:
                raise CheckpointError(f"unknown-detection prototypes are damaged ({exc})") from None

    def scores(
        self, logits: torch.Tensor, features: torch.Tensor | None, mirror_features: torch.Tensor | None = None
    ) -> np.ndarray:
        if self.method == "feature" and (features is None or features.shape[1] != self._means.shape[1]):
            raise CheckpointError("the model's features do not match the stored unknown-detection class means")
        if self.method == "nearest" and (features is None or features.shape[1] != self._prototypes.shape[1]):
            raise CheckpointError("the model's features do not match the stored unknown-detection features")
        if self.method.startswith("feature_norm") and features is None:
            raise CheckpointError(f"unknown-detection method {self.method!r} needs a model with a final linear layer")
        if self.needs_mirror and mirror_features is None:
            raise CheckpointError(f"unknown-detection method {self.method!r} needs the mirror images' features")
        if self.method == "imagenet_mass":  # the features are the model's ImageNet mass per class
            if features is None or features.shape[1] != logits.shape[1]:
                raise CheckpointError("unknown-detection method 'imagenet_mass' needs a model reporting it")
            return (1 - features.cpu().sum(1)).numpy()
        cpu = [None if t is None else t.cpu() for t in (features, mirror_features)]
        return compute_scores(logits.cpu(), cpu[0], self._means, cpu[1], self._prototypes)[self.method]

    def flags(self, scores: np.ndarray) -> np.ndarray:
        return scores > self.threshold

    @property
    def needs_features(self) -> bool:
        return self.method in ("feature", "nearest", "feature_norm", "feature_norm_mirror", "imagenet_mass")

    @property
    def needs_mirror(self) -> bool:
        return self.method == "feature_norm_mirror"

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def for_checkpoint(cls, checkpoint_path: str | Path | None) -> UnknownDetector:
        """The calibrated detector stored beside ``checkpoint_path``, else the documented fallback."""
        if checkpoint_path is None:
            return cls()
        side = sidecar_path(checkpoint_path)
        if not side.exists():
            return cls()
        try:
            data = json.loads(side.read_text())
            det = cls(**data)
        except (OSError, ValueError, TypeError, CheckpointError) as exc:
            _logger.warning("%s: unreadable (%s); using the uncalibrated fallback", side.name, exc)
            return cls()
        expected = det.info.get("checkpoint_sha256")
        if expected and expected != file_sha256(checkpoint_path):
            _logger.warning("%s was calibrated for another checkpoint; using the uncalibrated fallback", side.name)
            return cls()
        return det


def calibrate(
    val_scores: dict[str, np.ndarray], correct: np.ndarray, method: str, target_flag_rate: float = 0.10
) -> float:
    """The threshold that flags ``target_flag_rate`` of the correctly classified held-out images."""
    if method not in val_scores:
        raise CheckpointError(f"unknown-detection method {method!r} needs a model whose last layer is linear")
    s = np.asarray(val_scores[method])[np.asarray(correct, bool)]
    if len(s) == 0:
        raise CheckpointError("cannot calibrate unknown detection: no correctly classified held-out images")
    return float(np.quantile(s, 1 - target_flag_rate))
