"""Which export formats work in this installation, without importing torch or the exporters.

ONNX export needs the ``onnx`` package and safetensors export the ``safetensors`` package
(the ``export`` extra); TorchScript needs only torch. The window offers only the formats that
work here and says why the others do not; ``engine.checkpoints.export`` refuses them with the same reason.
"""

from __future__ import annotations

import importlib.util

__all__ = ["EXPORT_FORMATS", "EXPORT_INSTALL_HINT", "default_export_format", "export_formats"]

EXPORT_FORMATS = {"onnx": ".onnx", "torchscript": ".pt", "safetensors": ".safetensors"}
EXPORT_INSTALL_HINT = "pip install 'cifar-studio[export]'"
_NEEDS = {"onnx": "onnx", "torchscript": None, "safetensors": "safetensors"}


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def export_formats() -> dict[str, str | None]:
    """Each format -> None when it can be exported here, else the one-line reason why not."""
    out: dict[str, str | None] = {}
    for fmt in EXPORT_FORMATS:
        package = _NEEDS[fmt]
        out[fmt] = (
            None
            if package is None or _installed(package)
            else (f"needs the {package} package, not installed here ({EXPORT_INSTALL_HINT})")
        )
    return out


def default_export_format() -> str:
    """ONNX (the most widely runnable) when it works here, else the first format that does."""
    available = [fmt for fmt, why in export_formats().items() if why is None]
    return "onnx" if "onnx" in available else available[0] if available else "torchscript"
