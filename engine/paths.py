"""Per-user folders and the app's bundled resources, found the same way from source and from a bundle."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir

__all__ = ["APP_NAME", "cache_dir", "data_dir", "default_checkpoint_path", "resources_dir"]

APP_NAME = "cifar-studio"


def cache_dir() -> Path:
    """Decoded-dataset cache; ``CIFAR_STUDIO_CACHE`` overrides (tests, CI)."""
    return Path(os.environ.get("CIFAR_STUDIO_CACHE") or user_cache_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """Where downloadable datasets (CIFAR-10, MNIST) live; ``CIFAR_STUDIO_DATA`` overrides."""
    return Path(os.environ.get("CIFAR_STUDIO_DATA") or user_data_dir(APP_NAME, appauthor=False))


def runs_dir() -> Path:
    """Default parent folder of training runs (GUI and CLI alike); ``CIFAR_STUDIO_RUNS`` overrides."""
    return Path(os.environ.get("CIFAR_STUDIO_RUNS") or data_dir() / "runs")


def resources_dir() -> Path:
    """The ``resources/`` folder: next to the packages from source, inside the bundle when frozen."""
    if getattr(sys, "frozen", False):
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def default_checkpoint_path() -> Path:
    """The pretrained CIFAR-10 model that ships with the app."""
    return resources_dir() / "models" / "cifar10_fastnet.pt"
