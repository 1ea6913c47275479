"""Errors the engine raises for bad input. Each carries a one-line, user-facing message."""

from __future__ import annotations

__all__ = ["Cancelled", "CheckpointError", "ConfigError", "DataError", "DiskFull", "EngineError", "ImageError"]


class EngineError(Exception):
    """Base class: the message is one line a user can act on; no traceback needed."""


class ConfigError(EngineError, ValueError):
    """An invalid configuration value; ``field`` names the offending field."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


class DataError(EngineError):
    """A dataset that cannot be found, read or used."""


class CheckpointError(EngineError):
    """A file that is not a usable CIFAR Studio checkpoint."""


class DiskFull(EngineError):
    """A write failed for lack of space (ENOSPC / EDQUOT); earlier files were kept."""


class ImageError(EngineError):
    """One image that cannot be classified (not an image, truncated, too large...)."""


class Cancelled(EngineError):
    """Work stopped because the caller asked (``should_stop`` returned True)."""
