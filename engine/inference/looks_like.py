""" "None of these, it looks like ...": the ImageNet label of a photo that fits no class.

A model flags a photo as none of its classes (engine.inference.ood); the ImageNet head of the pretrained
backbone then says what the photo most likely shows, out of ImageNet's 1,000 categories
("espresso", "tabby", "mountain bike"). Models built on that backbone (efficientnet_lite0) answer
from the features they already computed. Any other model (the bundled CIFAR-10 net, a ResNet
trained from scratch) borrows the backbone: the flagged photo is decoded again at 224 px, as
the backbone was trained, and run through it once. Only flagged photos pay for this.

The category names are torchvision's (the weights' metadata), loaded on first use.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from ..errors import EngineError, ImageError
from ..imaging.photo import load_photo
from ..models.efficientnet_lite import shared_backbone
from ..text import with_article

__all__ = ["LooksLike", "imagenet_categories", "with_article"]

# Below this probability the top ImageNet category is not worth naming ("looks like" nothing sure).
MIN_PROBABILITY = 0.15
_JUDGE_SIZE = 224
# Below this input size a model's own ImageNet head sees too little (a 64 px coffee cup was an
# "anemone fish"); the photo is then decoded again at _JUDGE_SIZE.
OWN_HEAD_MIN_SIZE = 160


@functools.lru_cache(maxsize=1)
def imagenet_categories() -> tuple[str, ...]:
    # Start-up: torchvision is a large import (12 s after torch on a busy 2-core machine), needed only
    # once a photo is flagged and named.
    from torchvision.models import ResNet18_Weights

    return tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


class LooksLike:
    """ImageNet labels for flagged photos (see the module docstring). Thread-safe, lazy."""

    def __init__(self, model: torch.nn.Module | None = None):
        # A model with its own ImageNet head (efficientnet_lite0) at a resolution where ImageNet
        # categories are recognisable answers from its features; any other borrows the backbone.
        own = hasattr(model, "imagenet_logits") and getattr(model, "input_size", 0) >= OWN_HEAD_MIN_SIZE
        self._own = model if own else None

    def _labels(self, logits: torch.Tensor) -> list[tuple[str, float] | None]:
        probs = logits.float().softmax(1)
        top = probs.max(1)
        names = imagenet_categories()
        return [
            (names[int(i)], float(p)) if float(p) >= MIN_PROBABILITY else None for p, i in zip(top.values, top.indices)
        ]

    @torch.inference_mode()
    def from_inputs(self, x: torch.Tensor) -> list[tuple[str, float] | None]:
        """For a model with its own ImageNet head: ``x`` is the normalised batch it classified."""
        return self._labels(self._own.imagenet_logits(self._own.features(x)))

    @torch.inference_mode()
    def from_files(self, paths: list[str | Path]) -> list[tuple[str, float] | None]:
        """For any model: each photo decoded at 224 px (the whole frame) and run through the backbone."""
        judge = shared_backbone()
        mean = torch.tensor(judge.input_normalization[0]).view(1, -1, 1, 1) * 255
        std = torch.tensor(judge.input_normalization[1]).view(1, -1, 1, 1) * 255
        out: list[tuple[str, float] | None] = []
        for path in paths:
            try:
                arr = load_photo(path, (_JUDGE_SIZE, _JUDGE_SIZE), 3, "full")
            except (ImageError, EngineError, OSError):
                out.append(None)  # the photo was readable for the model; a second failure says nothing
                continue
            x = (torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)[None].float() - mean) / std
            out += self._labels(judge.imagenet_logits(judge.features(x)))
        return out

    @property
    def own_head(self) -> bool:
        return self._own is not None
