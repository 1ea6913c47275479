"""Any torchvision classification model by name ("tv:resnet18"), for transfer learning.

The models are built for ImageNet (~224 px), so the input is upsampled (bilinear) to
``input_size`` inside the model. With ``pretrained`` the ImageNet weights are loaded, but only
from the torch hub cache (``<torch hub dir>/checkpoints/<file>``) or from a local file the user
names (``weights_path``, ``TrainConfig.pretrained_path``): building a model never downloads (the
user downloads them on request: :mod:`.weights_download`, the Train tab, ``python -m engine
weights``). A missing cache file is a logged warning and the model trains from random initialisation; a missing named
file is an error. With weights, the model takes their own preprocessing: the input size is the
weights' crop size (unless ``input_size`` is given) and ``input_normalization`` holds their
mean and std, which the trainer uses instead of the dataset's.
The classifier is then replaced for ``num_classes``, and for grayscale input the first conv
gets one input channel whose weights are the mean of the RGB ones.

torchvision is imported inside the functions so that importing the engine stays light.
"""

from __future__ import annotations

import functools
import logging
import os
import pickle
import re
from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import EngineError
from .registry import ModelInfo

# Imports inside functions: torchvision (0.3-1.2 s to import) loads only when a tv: model is built
# or its weights are listed.

__all__ = ["UpsampleInput", "cached_weights_path", "torchvision_model_info", "torchvision_model_names"]

_logger = logging.getLogger(__name__)
_PREFIX = "tv:"

# Torchvision's Inception nets return (logits, aux) tuples in training mode unless built
# without their auxiliary heads; the weights files still hold those heads (skipped on load).
_NO_AUX = ("googlenet", "inception_v3")
# Models whose layers are sized for one input resolution: keyword naming it for the builder.
_SIZE_KWARG = {"vit_": "image_size", "maxvit_": "input_size"}
# Old DenseNet weight files name "norm.1" what the modules now call "norm1".
_DENSENET_OLD_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\."
    r"([12]\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)


class UpsampleInput(nn.Module):
    """Resizes the input to ``size`` x ``size`` (bilinear) before running ``net``."""

    def __init__(self, net: nn.Module, size: int):
        super().__init__()
        self.net, self.size = net, int(size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return self.net(x)


@functools.lru_cache(maxsize=1)
def _arch_names() -> tuple[str, ...]:
    import torchvision

    # module=torchvision.models keeps only the classification builders (no detection,
    # segmentation, video or quantized ones).
    return tuple(sorted(torchvision.models.list_models(module=torchvision.models)))


def torchvision_model_names() -> list[str]:
    """Registry names of all torchvision classification models, e.g. ``"tv:resnet18"``."""
    return [_PREFIX + n for n in _arch_names()]


def _arch(name: str) -> str:
    arch = name.removeprefix(_PREFIX)
    if arch not in _arch_names():
        raise EngineError(f"unknown torchvision model {name!r}; `python -m engine models` lists the known ones")
    return arch


def torchvision_model_info(name: str) -> ModelInfo:
    """Registry entry for ``"tv:<arch>"``; unknown architectures raise :class:`EngineError`."""
    arch = _arch(name)
    return ModelInfo(
        name=_PREFIX + arch,
        family="torchvision",
        description=(
            f"torchvision {arch} (ImageNet architecture), upsampled to its weights' input size (224 for most); "
            "ImageNet weights when cached or given as a file"
        ),
        factory=functools.partial(_build, arch),
        input_handling="upsample",
        defaults={"pretrained": True, "input_size": None},
    )


def _default_weights(arch: str):
    from torchvision.models import get_model_weights

    return get_model_weights(arch).DEFAULT


def cached_weights_path(arch: str) -> Path:
    """Where the ImageNet weights of ``arch`` must be for ``pretrained`` to use them."""
    url = _default_weights(_arch(arch)).url
    # Same place torch.hub.load_state_dict_from_url caches downloads, so files fetched by
    # any torchvision script are found.
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, EOFError, RuntimeError, ValueError, pickle.UnpicklingError) as exc:
        # Unreadable, truncated or corrupt file, or a pickle needing more than tensors.
        raise EngineError(f"cannot read weights {path} ({type(exc).__name__}); replace or delete the file") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a training script's {"state_dict": ..., "epoch": ...}
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise EngineError(f"weights {path} are not a torchvision state dict (name -> tensor)")
    return {_DENSENET_OLD_KEY.sub(r"\1\2", k): v for k, v in state.items()}


def _replace(root: nn.Module, dotted: str, new: nn.Module) -> None:
    parent_name, _, attr = dotted.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, attr, new)


def _new_head(old: nn.Module, num_classes: int) -> nn.Module:
    if isinstance(old, nn.Linear):
        return nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    # SqueezeNet classifies with a 1x1 conv followed by ReLU and global pooling.
    return nn.Conv2d(old.in_channels, num_classes, old.kernel_size, old.stride, bias=old.bias is not None)


def _adapt_head(model: nn.Module, num_classes: int, arch: str) -> None:
    """Replace the final classification layer by one with ``num_classes`` outputs."""
    candidates = ("fc", "classifier", "heads.head", "head")
    for path in candidates:
        try:
            head = model.get_submodule(path)
        except AttributeError:
            continue
        if isinstance(head, nn.Linear):
            _replace(model, path, _new_head(head, num_classes))
            return
        if isinstance(head, nn.Sequential):
            # e.g. VGG / MobileNet / EfficientNet: (..., Dropout, Linear); SqueezeNet: a conv.
            for i in reversed(range(len(head))):
                if isinstance(head[i], (nn.Linear, nn.Conv2d)):
                    head[i] = _new_head(head[i], num_classes)
                    return
    raise EngineError(f"cannot adapt head of torchvision model {arch!r} to {num_classes} classes")


def _adapt_first_conv(model: nn.Module, in_channels: int) -> None:
    """Give the first RGB conv ``in_channels`` inputs, averaging its (pretrained) RGB weights."""
    for name, conv in model.named_modules():
        if isinstance(conv, nn.Conv2d) and conv.in_channels == 3:
            new = nn.Conv2d(
                in_channels,
                conv.out_channels,
                conv.kernel_size,
                conv.stride,
                conv.padding,
                conv.dilation,
                conv.groups,
                conv.bias is not None,
                conv.padding_mode,
            )
            with torch.no_grad():
                # The mean keeps each filter's pattern and the pretrained weight scale; the
                # response to a gray image is a third of that to the same image in RGB, a
                # constant factor the following normalisation and fine-tuning absorb.
                new.weight.copy_(conv.weight.mean(1, keepdim=True).expand_as(new.weight))
                if conv.bias is not None:
                    new.bias.copy_(conv.bias)
            _replace(model, name, new)
            return
    raise EngineError("cannot adapt the first convolution of this torchvision model to grayscale input")


def _build(
    arch: str,
    num_classes: int,
    in_channels: int,
    pretrained: bool = True,
    input_size: int | None = None,
    weights_path: str = "",
) -> nn.Module:
    from torchvision.models import get_model

    path, weights = None, None
    if weights_path:
        weights = _default_weights(arch)  # for its preprocessing; the tensors come from the file
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise EngineError(f"pretrained weights file {path} not found (pretrained_path)")
    elif pretrained:
        weights = _default_weights(arch)
        path = cached_weights_path(arch)
        if not path.is_file():
            _logger.warning(
                "No cached ImageNet weights for %s: training starts from random initialisation. "
                "To fine-tune from them, download them (Download in the Train tab, or "
                "`python -m engine weights tv:%s`), choose a weights file (%s from torchvision) or put it in %s.",
                arch,
                arch,
                path.name,
                path.parent,
            )
            path = None
    # The weights' own preprocessing, known from torchvision's weights enum even without the
    # file, so a checkpoint rebuilt for prediction gets the same input size as in training.
    preprocessing = _preprocessing(weights or _default_weights(arch))
    if input_size is None:
        input_size = preprocessing[2] if preprocessing is not None else 224
    input_size = int(input_size)
    kwargs: dict = {}
    if arch in _NO_AUX:
        # transform_input re-normalises RGB for Google's weights; it indexes three channels.
        kwargs.update(
            aux_logits=False, init_weights=path is None, transform_input=path is not None and in_channels == 3
        )
    for prefix, key in _SIZE_KWARG.items():
        if arch.startswith(prefix):
            native = weights.meta["min_size"][0] if path is not None else input_size
            if native != input_size:
                # Position embeddings are learnt for one resolution: the weights decide.
                _logger.warning(
                    "%s weights expect %d px input; using input_size %d instead of %d", arch, native, native, input_size
                )
                input_size = native
            kwargs[key] = input_size if key == "image_size" else (input_size, input_size)
    model = get_model(arch, weights=None, **kwargs)  # 1000 classes, the weights' head
    if path is not None:
        state = _load_state_dict(path)
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # shape mismatch
            raise EngineError(f"weights {path} do not fit {arch}: {str(exc).splitlines()[0]}") from None
        if missing:
            raise EngineError(f"weights {path} do not fit {arch}: {len(missing)} tensors missing (first: {missing[0]})")
        if unexpected:
            _logger.info(
                "%s: ignored %d tensors of %s not in the model (%s...)", arch, len(unexpected), path.name, unexpected[0]
            )
        _logger.info("%s: loaded ImageNet weights from %s", arch, path)
    _adapt_head(model, num_classes, arch)
    if in_channels != 3:
        _adapt_first_conv(model, in_channels)
    wrapped = UpsampleInput(model, input_size)
    if preprocessing is not None and path is not None:
        # The weights were trained on inputs normalised with these statistics (gray input: their mean).
        mean, std = preprocessing[0], preprocessing[1]
        if in_channels != 3:
            mean, std = [sum(mean) / 3] * in_channels, [sum(std) / 3] * in_channels
        wrapped.input_normalization = (list(mean), list(std))
    return wrapped


def _preprocessing(weights) -> tuple[list[float], list[float], int] | None:
    """(mean, std, crop size) of a torchvision weights enum entry's own transforms; None when
    they are not the usual image-classification ones."""
    try:
        transform = weights.transforms()
        size = transform.crop_size
        size = size[0] if isinstance(size, (list, tuple)) else size
        return list(transform.mean), list(transform.std), int(size)
    except (AttributeError, TypeError, ValueError, IndexError):
        return None
