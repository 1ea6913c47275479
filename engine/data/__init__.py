"""Data sources and the on-device batch pipeline."""

from .dataset import Dataset, ImageSet, LoadSummary
from .loader import Augment, DeviceBatches
from .sources import BUILTIN_DATASETS, DataSpec, load_dataset

__all__ = ["Dataset", "ImageSet", "LoadSummary", "Augment", "DeviceBatches", "DataSpec", "load_dataset",
           "BUILTIN_DATASETS"]
