"""Building models by name: registered architectures and torchvision's (``tv:NAME``)."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from ..errors import EngineError
from .registry import ModelInfo, lookup, registered
from .torchvision_models import torchvision_model_info

__all__ = [
    "ARG_RANGES",
    "META_LOCK",
    "check_model_args",
    "count_parameters",
    "create_model",
    "data_init",
    "get_model_info",
    "list_models",
    "on_meta_device",
    "parameter_count",
]

# ``with torch.device("meta")`` sets torch's process-wide default device
# (torch.utils._device.CURRENT_DEVICE) for as long as it is open, not only the calling thread's.
# The app loads checkpoints and builds models on several threads at once; a meta build on one
# while torch.load unpickled on another crashed the process (SIGSEGV, seen in CI). Every meta
# build and every torch.load of a checkpoint hold this lock.
META_LOCK = threading.RLock()


@contextmanager
def on_meta_device() -> Iterator[None]:
    """Build on PyTorch's "meta" device (shapes only, no memory), one thread at a time."""
    with META_LOCK, torch.device("meta"):
        yield


def list_models() -> list[ModelInfo]:
    """Trainable registered architectures in menu order (torchvision models not included)."""
    return [info for info in registered() if info.trainable]


def get_model_info(name: str) -> ModelInfo:
    if name.startswith("tv:"):
        return torchvision_model_info(name)
    info = lookup(name)
    if info is None:
        raise EngineError(f"unknown architecture {name!r}; `python -m engine models` lists the known ones")
    return info


# Sane bounds of arguments that no weight shows: input_size sets no weight (tv: models resize
# their input to it), so only this keeps a checkpoint's input_size=100000 from asking for 120 GB
# of activations. Arguments that size the weights (width, n_blocks) are bounded by the checkpoint
# checks' parameter cap and build-time limit (engine/checkpoint_checks.py).
ARG_RANGES = {"input_size": (16, 1024)}
_ARG_TYPES = {"input_size": int}  # arguments whose default (None) does not tell their type
# Arguments a checkpoint may not declare: a stranger's file must not name files to read.
_NOT_FROM_FILES = ("weights_path",)


def _kind(value) -> str:
    return "true/false" if isinstance(value, bool) else type(value).__name__


def check_model_args(name: str, args: dict, from_file: bool = False) -> None:
    """Every argument in ``args`` must be one that ``name``'s builder takes, of its type and
    within :data:`ARG_RANGES`; :class:`EngineError` names the first that is not. ``from_file``:
    the arguments come from a checkpoint (see ``_NOT_FROM_FILES``)."""
    info = get_model_info(name)
    takes = {
        key: param.default
        for key, param in inspect.signature(info.factory).parameters.items()
        if key not in ("num_classes", "in_channels")
        and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)
        and not (from_file and key in _NOT_FROM_FILES)
    }
    for key, value in args.items():
        if key not in takes:
            raise EngineError(f"{name} takes no argument {key!r} (it takes: {', '.join(sorted(takes)) or 'none'})")
        default = info.defaults.get(key, takes[key])
        want = _ARG_TYPES.get(key) or (type(default) if default is not None else None)
        if value is None and default is None:
            continue
        if want is bool:
            ok = isinstance(value, bool)
        elif want is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif want is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
        elif want in (tuple, list):
            ok = isinstance(value, (list, tuple)) and all(
                isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4096 for v in value
            )
        else:
            ok = want is None or isinstance(value, want)
        if not ok:
            expected = {bool: "true/false", int: "a whole number", float: "a number", str: "text"}.get(
                want, "a list of whole numbers" if want in (tuple, list) else str(want)
            )
            raise EngineError(f"{name}'s {key} must be {expected}, got {_kind(value)}")
        if key in ARG_RANGES and isinstance(value, int):
            low, high = ARG_RANGES[key]
            if not low <= value <= high:
                raise EngineError(f"{name}'s {key} must be between {low} and {high}, got {value}")


def create_model(name: str, num_classes: int = 10, in_channels: int = 3, **kwargs) -> nn.Module:
    """Build architecture ``name``. Unknown names and bad arguments raise :class:`EngineError`."""
    info = get_model_info(name)
    check_model_args(name, kwargs)
    args = {**info.defaults, **kwargs}
    if num_classes < 1:
        raise EngineError(f"num_classes must be at least 1, got {num_classes}")
    if in_channels not in (1, 3):
        raise EngineError(f"in_channels must be 1 or 3, got {in_channels}")
    try:
        return info.factory(num_classes=num_classes, in_channels=in_channels, **args)
    except TypeError as exc:
        raise EngineError(f"bad arguments for model {name!r}: {exc}") from None


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def data_init(model: nn.Module, images, mean: list[float], std: list[float], seed: int = 0, n: int = 5000) -> None:
    """Run a model's data-dependent initialisation (``init_from_data``), if it has one.

    ``images`` are uint8 ``(N, H, W, C)``; a seeded sample of ``n`` is normalised as training
    batches are. A model restored from a checkpoint already holds the result.
    """
    if not hasattr(model, "init_from_data"):
        return
    pick = np.random.default_rng(seed).permutation(len(images))[:n]
    x = torch.from_numpy(images[np.sort(pick)]).permute(0, 3, 1, 2).float() / 255
    model.init_from_data((x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1))


def parameter_count(name: str, num_classes: int = 10, in_channels: int = 3, **kwargs) -> int:
    """Parameters of architecture ``name`` without paying for real weights.

    Built on PyTorch's "meta" device (shapes only, no memory, no initialisation), which makes
    listing every model instant; a model that cannot be built there is built normally.
    """
    try:
        with on_meta_device():
            model = create_model(name, num_classes, in_channels, **kwargs)
    except (RuntimeError, NotImplementedError, TypeError):
        model = create_model(name, num_classes, in_channels, **kwargs)
    return count_parameters(model)
