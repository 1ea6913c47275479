"""Model registry: ``create_model(name, num_classes, in_channels)`` and ``list_models()``."""

from .registry import (
    ModelInfo,
    count_parameters,
    create_model,
    data_init,
    get_model_info,
    list_models,
    parameter_count,
    register,
)

__all__ = [
    "ModelInfo",
    "count_parameters",
    "create_model",
    "data_init",
    "get_model_info",
    "list_models",
    "parameter_count",
    "register",
]
