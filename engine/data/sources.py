"""One entry point for every data source: ``load_dataset(spec, ...)``.

``spec`` is a built-in name (``cifar10``, ``mnist``, ``fashion-mnist``) or a path to an image
folder, a ``.zip`` of one, or a folder of MNIST-style idx files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from ..paths import data_dir
from .dataset import Dataset, check_trainable, limit_images, select_classes, stratified_split

# Imports inside functions: each source's reader (and torchvision's CIFAR-10 download) is imported
# when that source is asked for; torchvision's import costs 0.3-1.2 s.

__all__ = [
    "BUILTIN_DATASETS",
    "DataSpec",
    "default_data_candidates",
    "find_default_data",
    "load_dataset",
    "normalize_spec",
]

_logger = logging.getLogger(__name__)

# name -> what the GUI shows
BUILTIN_DATASETS = {
    "cifar10": "CIFAR-10 (torchvision download)",
    "fashion-mnist": "Fashion-MNIST (28x28 grayscale)",
    "mnist": "MNIST (28x28 grayscale digits)",
}
_ALIASES = {
    "cifar-10": "cifar10",
    "cifar": "cifar10",
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
}


def default_data_candidates() -> list[Path]:
    """Where a CIFAR-10 archive that needs no download may be: the shared data sets folder beside
    the checkout (``../shared/datasets/cifar10-train.zip``) or inside it."""
    repo = Path(__file__).resolve().parents[2]
    return [
        repo.parent / "shared" / "datasets" / "cifar10-train.zip",
        repo / "shared" / "datasets" / "cifar10-train.zip",
    ]


def cifar10_downloaded() -> bool:
    """True when torchvision's CIFAR-10 is already in the data folder (no download needed)."""
    return (data_dir() / "cifar-10-batches-py" / "data_batch_1").is_file()


def find_default_data() -> tuple[str | None, str]:
    """Data to train on that works offline, and where it came from: (spec, reason), or
    (None, why nothing was found). First CIFAR-10 already downloaded, then the shared archive."""
    if cifar10_downloaded():
        return "cifar10", f"CIFAR-10, already downloaded into {data_dir()}"
    for candidate in default_data_candidates():
        if candidate.is_file():
            return str(candidate), f"the CIFAR-10 archive found at {candidate}"
    return None, "no CIFAR-10 on this machine (not downloaded, no shared archive): choose the data to train on"


def normalize_spec(spec: str) -> str:
    key = spec.strip().lower()
    key = _ALIASES.get(key, key)
    return key if key in BUILTIN_DATASETS else spec


@dataclass(frozen=True)
class DataSpec:
    """How to load and split a dataset (the data part of a training config)."""

    source: str
    classes: tuple[str, ...] | None = None
    val_fraction: float = 0.1
    seed: int = 0
    limit: int | None = None
    image_size: int | None = None

    @classmethod
    def of(cls, cfg) -> DataSpec:
        """The data part of TrainConfig ``cfg``: what training (and the LR finder) load."""
        return cls(
            cfg.data, tuple(cfg.classes) if cfg.classes else None, cfg.val_fraction, cfg.seed, cfg.limit, cfg.image_size
        )


# Each source's reader is imported when that source is loaded (start-up: the folder reader brings
# Pillow's decoders, MNIST's download torchvision), so asking for the built-in names imports none.
def _load_idx(kind: str) -> Dataset:
    from .idx import FASHION_CLASSES, MNIST_CLASSES, find_idx_folder, load_idx_dataset

    classes = FASHION_CLASSES if kind == "fashion-mnist" else MNIST_CLASSES
    title = "Fashion-MNIST" if kind == "fashion-mnist" else "MNIST"
    folder = find_idx_folder(kind)
    if folder is None:
        try:
            from torchvision import datasets

            getattr(datasets, "FashionMNIST" if kind == "fashion-mnist" else "MNIST")(
                str(data_dir()), train=True, download=True
            )
        except Exception as exc:
            hint = " (or `apt install dataset-fashion-mnist`)" if kind == "fashion-mnist" else ""
            where = data_dir() / title.replace("-", "") / "raw"
            raise DataError(
                f"{title} is not on this machine and could not be downloaded ({type(exc).__name__}); "
                f"put its idx files in {where}{hint}"
            ) from None
        folder = find_idx_folder(kind)
    return load_idx_dataset(folder, classes, title)


def _load_source(source: str, image_size: int | None, progress=None, should_stop=None) -> Dataset:
    name = normalize_spec(source)
    if name == "cifar10":
        from .cifar import load_cifar10

        return load_cifar10()
    if name in ("mnist", "fashion-mnist"):
        return _load_idx(name)
    path = Path(source).expanduser()
    if path.is_dir() and any(path.glob("train-images-idx3-ubyte*")):
        from .idx import load_idx_dataset

        return load_idx_dataset(path, [], path.name)
    if not path.exists():
        raise DataError(f"{source}: no such file or folder, and not one of: {', '.join(BUILTIN_DATASETS)}")
    from .folder import load_image_folder

    return load_image_folder(path, image_size=image_size, progress=progress, should_stop=should_stop)


def load_dataset(
    spec: DataSpec | str, progress=None, should_stop=None, *, for_training: bool = True, **kwargs
) -> Dataset:
    """Load, select classes, hold out a stratified validation split and apply ``limit``.

    ``progress(done, total, stage)`` reports decoding of image folders (the slow case: a
    cached or built-in source loads in seconds); ``should_stop()`` cancels it.

    A split the source provides (``val/``) is used as given; otherwise ``val_fraction`` of the
    training images is held out (seeded, every class in proportion). A ``test`` split is never
    used for training or model selection. ``limit`` samples per class and never leaves a
    class without images.

    ``for_training`` (the default) refuses, with a one-line :class:`DataError`, data a model
    cannot learn from (no training images, or fewer than two classes with images). Pass
    False to evaluate: a one-class folder or a ``test/`` folder on its own is fine there.
    """
    if isinstance(spec, str):
        spec = DataSpec(spec, **kwargs)
    ds = _load_source(spec.source, spec.image_size, progress, should_stop)
    if spec.classes:
        ds = select_classes(ds, list(spec.classes))
    if ds.val is None and spec.val_fraction > 0 and len(ds.train) > 0:
        train_idx, val_idx = stratified_split(ds.train.labels, spec.val_fraction, spec.seed)
        ds.val, ds.train = ds.train.subset(val_idx), ds.train.subset(train_idx)
    if spec.limit:
        ds.train = limit_images(ds.train, spec.limit, spec.seed, ds.classes)
    if for_training:
        check_trainable(ds, spec.source)
    return ds
