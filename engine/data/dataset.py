"""The in-memory form every data source produces: uint8 images, int labels, class names."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError
from ..text import plural

__all__ = [
    "Dataset",
    "ImageSet",
    "LoadSummary",
    "check_trainable",
    "limit_images",
    "plural",
    "select_classes",
    "stratified_split",
]


@dataclass
class ImageSet:
    """Images as uint8 ``(N, H, W, C)`` and labels as int64 ``(N,)``."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self):
        if self.images.ndim != 4 or self.images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 N,H,W,C, got {self.images.dtype} {self.images.shape}")
        if len(self.images) != len(self.labels):
            raise ValueError("images and labels differ in length")
        self.labels = self.labels.astype(np.int64, copy=False)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> ImageSet:
        return ImageSet(self.images[index], self.labels[index])

    def class_counts(self, num_classes: int) -> np.ndarray:
        return np.bincount(self.labels, minlength=num_classes)


@dataclass
class LoadSummary:
    """What loading found: skipped files (with reasons) and classes without images."""

    skipped: dict[str, str] = field(default_factory=dict)  # file -> reason
    empty_classes: list[str] = field(default_factory=list)
    from_cache: bool = False

    def reasons(self) -> dict[str, int]:
        """How many files were skipped for each kind of reason (the reason up to its details)."""
        counts: dict[str, int] = {}
        for reason in self.skipped.values():
            kind = reason.split(" (", 1)[0].split(", ", 1)[0]
            counts[kind] = counts.get(kind, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def lines(self) -> list[str]:
        out = []
        if self.skipped:
            kinds = "; ".join(f"{n} {kind}" for kind, n in self.reasons().items())
            examples = "; ".join(f"{k}: {v}" for k, v in list(self.skipped.items())[:3])
            out.append(f"skipped {plural(len(self.skipped), 'file')} ({kinds}), e.g. {examples}")
        if self.empty_classes:
            out.append(f"classes without images: {', '.join(self.empty_classes)}")
        return out


@dataclass
class Dataset:
    """A loaded dataset: ``train`` always; ``val`` (for model selection); ``test`` if the source has one."""

    name: str
    classes: list[str]
    train: ImageSet
    val: ImageSet | None = None
    test: ImageSet | None = None
    summary: LoadSummary = field(default_factory=LoadSummary)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of every image."""
        return tuple(self.train.images.shape[1:])  # type: ignore[return-value]

    @property
    def channels(self) -> int:
        return self.train.images.shape[3]

    def describe(self) -> str:
        parts = [f"{self.name}: {len(self.train)} train"]
        if self.val is not None:
            parts.append(f"{len(self.val)} validation")
        if self.test is not None:
            parts.append(f"{len(self.test)} test")
        h, w, c = self.image_shape
        return ", ".join(parts) + f" images, {plural(self.num_classes, 'class')}, {h}x{w}x{c}"


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held_out) with ``fraction`` of every class held out, reproducible by seed."""
    rng = np.random.default_rng(seed)
    train_idx, held_idx = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_held = round(fraction * len(idx))
        if fraction > 0 and len(idx) > 1:
            n_held = min(max(n_held, 1), len(idx) - 1)  # keep both sides non-empty
        held_idx.append(idx[:n_held])
        train_idx.append(idx[n_held:])
    return np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(held_idx))


def select_classes(ds: Dataset, wanted: list[str]) -> Dataset:
    """Keep only ``wanted`` classes (in the given order), relabelled 0..k-1."""
    unknown = [c for c in wanted if c not in ds.classes]
    if unknown:
        raise DataError(f"unknown class(es) {', '.join(unknown)}; this dataset has: {', '.join(ds.classes)}")
    if len(set(wanted)) < 2:
        raise DataError("choose at least two different classes")
    remap = np.full(len(ds.classes), -1, dtype=np.int64)
    for new, name in enumerate(wanted):
        remap[ds.classes.index(name)] = new

    def keep(s: ImageSet | None) -> ImageSet | None:
        if s is None:
            return None
        mask = remap[s.labels] >= 0
        return ImageSet(s.images[mask], remap[s.labels[mask]])

    return Dataset(ds.name, list(wanted), keep(ds.train), keep(ds.val), keep(ds.test), ds.summary)


def limit_images(s: ImageSet, limit: int, seed: int, classes: list[str] | None = None) -> ImageSet:
    """Exactly ``min(limit, len(s))`` images, drawn at random per class, keeping every class.

    Each class present gets at least one image and the rest in proportion (largest
    remainders); a ``limit`` below the number of classes is a :class:`DataError` naming the
    classes it would leave without images.
    """
    if limit >= len(s):
        return s
    present, counts = np.unique(s.labels, return_counts=True)
    if limit < len(present):
        names = [classes[c] if classes and c < len(classes) else str(c) for c in present]
        shown = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
        raise DataError(
            f"limit {limit} is smaller than the number of classes ({len(present)}: {shown}); "
            f"{len(present) - limit} of them would have no training images: use a limit of at least {len(present)}"
        )
    share = 1 + (limit - len(present)) * (counts - 1) / max(int(counts.sum()) - len(present), 1)
    take = np.minimum(np.floor(share).astype(int), counts)
    remainder = share - take
    for i in np.argsort(-remainder, kind="stable"):  # hand out what rounding left, largest remainder first
        if take.sum() >= limit:
            break
        if take[i] < counts[i]:
            take[i] += 1
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(np.flatnonzero(s.labels == c))[:n] for c, n in zip(present, take)]
    return s.subset(np.sort(np.concatenate(keep)))


def check_trainable(ds: Dataset, source: str = "") -> None:
    """Refuse, with one line, a dataset a model cannot learn from: under two classes with training images."""
    where = f"{source or ds.name}: "
    if len(ds.train) == 0:
        held = " (it has only a test/validation split: use it to evaluate)" if ds.test or ds.val else ""
        raise DataError(f"{where}no training images{held}")
    counts = ds.train.class_counts(ds.num_classes)
    present = [c for c, n in zip(ds.classes, counts) if n > 0]
    if len(present) < 2:
        found = f"only {present[0]!r} has" if present else "no class has"
        raise DataError(
            f"{where}training needs images of at least two classes; {found} training images (one sub-folder per class)"
        )
