"""Architectures by name: ``create_model(name, num_classes, in_channels)`` and ``list_models()``.

Importing this package imports every model module, so their ``@register`` decorators have
filled the registry (a leaf, :mod:`.registry`) before anyone asks it; the menu order is
``registry.FAMILIES``, not the order of these imports.
"""

from . import (  # noqa: F401  (they register)
    cifar_resnet,
    classic,
    densenet,
    efficientnet_lite,
    fast,
    fusion,
    googlenet,
    resnet,
    small,
)
from .factory import (
    check_model_args,
    count_parameters,
    create_model,
    data_init,
    get_model_info,
    list_models,
    parameter_count,
)
from .registry import FAMILIES, ModelInfo, register

__all__ = [
    "FAMILIES",
    "ModelInfo",
    "check_model_args",
    "count_parameters",
    "create_model",
    "data_init",
    "get_model_info",
    "list_models",
    "parameter_count",
    "register",
]
