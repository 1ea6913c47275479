"""Per-user folders and the app's bundled resources, found the same way from source and from a bundle."""

from __future__ import annotations

import importlib.resources
import os
import sys
from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir

__all__ = [
    "APP_NAME",
    "RESOURCES_PACKAGE",
    "bundled_checkpoint_paths",
    "cache_dir",
    "data_dir",
    "default_checkpoint_path",
    "resources_dir",
    "runs_dir",
]

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


RESOURCES_PACKAGE = "cifar_studio_resources"  # the repository's resources/ folder, installed (setup.py)


def resources_dir() -> Path:
    """The app's data folder (bundled model and card, sample photos, icons).

    Frozen (PyInstaller): ``resources/`` inside the bundle. Installed (a wheel, or ``pip install
    -e .``): the package ``cifar_studio_resources``, found with importlib.resources. Run from a
    checkout that was never installed: the ``resources/`` folder beside ``engine/``.
    """
    if getattr(sys, "frozen", False):
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "resources"
    try:
        found = importlib.resources.files(RESOURCES_PACKAGE)
    except ModuleNotFoundError:
        found = None
    # pip unpacks wheels, so an installed package is a real folder; anything else (a zip
    # import) would need extracting, which nothing here supports: use the checkout instead.
    if isinstance(found, Path) and found.is_dir():
        return found
    return Path(__file__).resolve().parent.parent / "resources"


# The CIFAR-10 models that ship with the app, the default first: the photo model (fastnet-wide
# times the ImageNet network, engine/models/fusion.py) and the CIFAR-only net it is built on.
BUNDLED_MODELS = ("cifar10_fusion.pt", "cifar10_fastnet.pt")


def default_checkpoint_path() -> Path:
    """The pretrained CIFAR-10 model that ships with the app (Predict's and ``predict``'s default)."""
    return resources_dir() / "models" / BUNDLED_MODELS[0]


def bundled_checkpoint_paths() -> list[Path]:
    """Every model that ships with the app and is present, the default first."""
    return [p for p in (resources_dir() / "models" / name for name in BUNDLED_MODELS) if p.exists()]
