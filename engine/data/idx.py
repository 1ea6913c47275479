"""MNIST-family datasets from their original idx files (raw or ``.gz``).

Fashion-MNIST from Debian's ``dataset-fashion-mnist`` package lives in
``/usr/share/datasets/fashion-mnist``; torchvision's downloads land in ``<data dir>/<Name>/raw``.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..paths import data_dir
from .dataset import Dataset, ImageSet

__all__ = ["FASHION_CLASSES", "MNIST_CLASSES", "find_idx_folder", "load_idx_dataset", "read_idx"]

MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_SYSTEM_FOLDERS = {
    "fashion-mnist": [Path("/usr/share/datasets/fashion-mnist")],
    "mnist": [Path("/usr/share/datasets/mnist")],
}
_TV_NAMES = {"fashion-mnist": "FashionMNIST", "mnist": "MNIST"}


def read_idx(path: Path) -> np.ndarray:
    """Parse one idx file: magic (0, 0, dtype, ndim), big-endian dims, then the data."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: unreadable idx file ({exc})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise DataError(f"{path}: not an idx file (bad magic number)")
    ndim = data[3]
    dims = np.frombuffer(data, ">u4", count=ndim, offset=4).astype(int)
    dtype = np.dtype(_DTYPES[data[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    body = data[4 + 4 * ndim :]
    if len(body) < expected:
        raise DataError(f"{path}: truncated idx file ({len(body)} of {expected} bytes)")
    return np.frombuffer(body, dtype, count=int(np.prod(dims))).reshape(dims)


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).exists():
            return folder / name
    return None


def find_idx_folder(kind: str) -> Path | None:
    """Where idx files for ``kind`` ("mnist" / "fashion-mnist") already are, if anywhere."""
    candidates = _SYSTEM_FOLDERS.get(kind, []) + [data_dir() / _TV_NAMES[kind] / "raw"]
    for folder in candidates:
        if _find(folder, "train-images-idx3-ubyte"):
            return folder
    return None


def load_idx_dataset(folder: Path, classes: list[str], name: str) -> Dataset:
    """A dataset from ``train-*`` and ``t10k-*`` idx files in ``folder``."""
    parts = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        img_path = _find(folder, f"{prefix}-images-idx3-ubyte")
        lbl_path = _find(folder, f"{prefix}-labels-idx1-ubyte")
        if img_path is None or lbl_path is None:
            if split == "train":
                raise DataError(f"{folder}: no train-images-idx3-ubyte / train-labels-idx1-ubyte files")
            continue
        images, labels = read_idx(img_path), read_idx(lbl_path)
        if images.ndim != 3 or len(images) != len(labels):
            raise DataError(f"{img_path}: images and labels do not match")
        parts[split] = ImageSet(images.astype(np.uint8)[..., None], labels.astype(np.int64))
    n = int(parts["train"].labels.max()) + 1
    names = classes if len(classes) >= n else [str(i) for i in range(n)]
    return Dataset(name, names[:n], parts["train"], None, parts.get("test"))
