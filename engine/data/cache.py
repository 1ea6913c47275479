"""On-disk cache of decoded datasets, so a source is decoded once.

An entry is a folder of ``.npy`` arrays plus ``meta.json``, keyed by a hash of what the
source is made of (file names, sizes, modification times) and how it was decoded. Entries
are written to a temporary folder and renamed into place, so an interrupted write never
leaves a half entry behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..paths import cache_dir
from .dataset import Dataset, ImageSet, LoadSummary

__all__ = ["cache_key", "load_cached", "store_cached"]

_logger = logging.getLogger(__name__)
_FORMAT = 2  # bump when decoding changes, so old entries are ignored (2: draft-mode JPEG decoding)


def cache_key(*parts: object) -> str:
    h = hashlib.sha256(repr((_FORMAT, *parts)).encode())
    return h.hexdigest()[:24]


def _label_dtype(num_classes: int) -> type:
    return np.uint8 if num_classes <= 256 else np.uint16 if num_classes <= 65536 else np.int64


def _entry(key: str) -> Path:
    return cache_dir() / "datasets" / key


def load_cached(key: str) -> Dataset | None:
    folder = _entry(key)
    try:
        meta = json.loads((folder / "meta.json").read_text())
        splits = {}
        for split in ("train", "val", "test"):
            if split in meta["splits"]:
                labels = np.load(folder / f"{split}_labels.npy")
                if labels.size and not 0 <= int(labels.min()) <= int(labels.max()) < len(meta["classes"]):
                    raise ValueError("labels out of range")
                splits[split] = ImageSet(np.load(folder / f"{split}_images.npy"), labels)
        summary = LoadSummary(meta.get("skipped", {}), meta.get("empty_classes", []), from_cache=True)
        return Dataset(meta["name"], meta["classes"], splits["train"], splits.get("val"), splits.get("test"), summary)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:  # damaged entry: decode again
        _logger.warning("ignoring damaged dataset cache %s (%s)", folder, exc)
        return None


def store_cached(key: str, ds: Dataset) -> None:
    folder = _entry(key)
    tmp = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=folder.parent))
        splits = {"train": ds.train, "val": ds.val, "test": ds.test}
        for split, s in splits.items():
            if s is not None:
                np.save(tmp / f"{split}_images.npy", s.images)
                # Labels in the smallest type that holds them: the entry stays smaller than the
                # arrays it restores (int64 in memory), headers and meta.json included.
                np.save(tmp / f"{split}_labels.npy", s.labels.astype(_label_dtype(len(ds.classes))))
        meta = {
            "name": ds.name,
            "classes": ds.classes,
            "splits": [k for k, v in splits.items() if v is not None],
            "skipped": ds.summary.skipped,
            "empty_classes": ds.summary.empty_classes,
        }
        (tmp / "meta.json").write_text(json.dumps(meta))
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    except OSError as exc:  # a read-only or full disk only costs speed next time
        _logger.warning("could not cache decoded dataset in %s: %s", folder, exc)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
