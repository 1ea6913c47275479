"""The model registry: a dict of architectures by name and the decorator that fills it.

A leaf: it imports no model module (and not torch). ``engine/models/__init__.py`` imports every
model module, whose ``@register`` decorators fill the dict before anyone asks it (timm's shape);
:mod:`engine.models.factory` builds models from it.

A checkpoint stores the registry name and the keyword arguments, so a model can be rebuilt
from plain data (no pickled classes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

__all__ = ["FAMILIES", "ModelInfo", "lookup", "register", "registered"]

# The order of the model menus (GUI) and of `python -m engine models`: by family in this order,
# then in each family the order its module declares them.
FAMILIES = ("Fast", "Pretrained", "CIFAR ResNet", "ImageNet ResNet", "DenseNet", "GoogLeNet", "Classic", "Tutorial")

_REGISTRY: dict[str, ModelInfo] = {}


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about one architecture."""

    name: str
    family: str  # groups models in menus: one of FAMILIES ("torchvision" for tv: models)
    description: str  # one line, shown as a tooltip and in `python -m engine models`
    factory: Callable[..., nn.Module]
    # How the network meets small inputs: "native" (built for 32x32 / 28x28) or
    # "upsample" (the original needs ~224 px, the model resizes its input first).
    input_handling: str = "native"
    defaults: dict[str, Any] = field(default_factory=dict)
    # False for a model assembled from trained parts (photo-fusion): it loads from checkpoints
    # but is not offered for training (menus, `python -m engine models`, train refuses it).
    trainable: bool = True


def register(
    name: str, family: str, description: str, input_handling: str = "native", trainable: bool = True, **defaults
):
    """Decorator adding a factory ``fn(num_classes, in_channels, **kwargs) -> nn.Module``."""
    if family not in FAMILIES:
        raise ValueError(f"model {name!r}: family {family!r} is not in FAMILIES (the menu order)")

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = ModelInfo(name, family, description, fn, input_handling, dict(defaults), trainable)
        return fn

    return wrap


def lookup(name: str) -> ModelInfo | None:
    """The registered architecture called ``name``, or None."""
    return _REGISTRY.get(name)


def registered() -> list[ModelInfo]:
    """Every registered architecture in menu order (FAMILIES, then declaration order)."""
    return sorted(_REGISTRY.values(), key=lambda info: FAMILIES.index(info.family))
