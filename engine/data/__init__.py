"""Data sources and the on-device batch pipeline."""

from .dataset import Dataset, ImageSet, LoadSummary
from .loader import Augment, DeviceBatches
from .sources import BUILTIN_DATASETS, DataSpec, load_dataset

__all__ = [
    "BUILTIN_DATASETS",
    "Augment",
    "DataSpec",
    "Dataset",
    "DeviceBatches",
    "ImageSet",
    "LoadSummary",
    "load_dataset",
]
