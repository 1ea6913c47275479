"""CIFAR-10 through torchvision: downloaded once into the per-user data folder."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..paths import data_dir
from .dataset import Dataset, ImageSet

__all__ = ["CIFAR10_CLASSES", "CIFAR10_URL", "load_cifar10"]

_logger = logging.getLogger(__name__)
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def _torchvision_cifar10():
    from torchvision.datasets import CIFAR10  # heavy import, only when this source is used

    return CIFAR10


def load_cifar10(root: Path | None = None, download: bool = True) -> Dataset:
    """CIFAR-10 train and test splits; downloads when missing and online."""
    root = Path(root or data_dir())
    cls = _torchvision_cifar10()
    try:
        train = cls(str(root), train=True, download=False)
    except RuntimeError:  # torchvision: "Dataset not found or corrupted"
        if not download:
            raise DataError(f"CIFAR-10 not found in {root}") from None
        _logger.info("downloading CIFAR-10 into %s", root)
        try:
            root.mkdir(parents=True, exist_ok=True)
            train = cls(str(root), train=True, download=True)
        except Exception as exc:  # URLError, timeouts, checksum errors... all mean "not here"
            raise DataError(
                f"CIFAR-10 is not in {root} and could not be downloaded ({type(exc).__name__}); put "
                f"cifar-10-python.tar.gz from {CIFAR10_URL} in that folder, or use a folder/zip of images"
            ) from None
    test = cls(str(root), train=False, download=False)
    classes = list(getattr(train, "classes", CIFAR10_CLASSES))
    return Dataset(
        "CIFAR-10",
        classes,
        ImageSet(np.asarray(train.data, np.uint8), np.asarray(train.targets)),
        None,
        ImageSet(np.asarray(test.data, np.uint8), np.asarray(test.targets)),
    )
