"""The names of the parts of a dataset that evaluation can use, declared once.

``SPLITS`` maps each name to the words used for it in reports and menus; the command line's
``evaluate --split`` choices, the GUI's split menu and the evaluation report all read it.
Light (no torch), so the GUI can list it before the engine loads.
"""

from __future__ import annotations

__all__ = ["DATASET_PARTS", "SPLITS"]

# What a loaded Dataset holds (Dataset.train / .val / .test), in that order.
DATASET_PARTS = ("train", "val", "test")

SPLITS: dict[str, str] = {
    "auto": "auto (test split if there is one, else all images)",
    "test": "test split",
    "val": "validation split (as held out in training)",
    "train": "training split",
    "all": "all images",
}
