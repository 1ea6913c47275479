"""The classic tutorial input pipeline, kept as the benchmark's point of comparison.

A torchvision-style dataset that hands out PIL images, per-image transforms (random crop
with padding, flip, ToTensor, Normalize) and a ``DataLoader`` with worker processes, fp32.
This is what the source tutorials use; the fast pipeline is measured against it.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

__all__ = ["PILImageDataset", "classic_loader"]


class PILImageDataset(torch.utils.data.Dataset):
    """uint8 arrays served as PIL images, like ``torchvision.datasets.CIFAR10`` does."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform=None):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        a = self.images[i]
        img = Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a)
        return (self.transform(img) if self.transform else img), int(self.labels[i])


def classic_loader(
    images: np.ndarray,
    labels: np.ndarray,
    mean: list[float],
    std: list[float],
    batch_size: int,
    workers: int = 2,
    augment: bool = True,
    shuffle: bool = True,
    seed: int = 0,
) -> torch.utils.data.DataLoader:
    steps = [T.RandomCrop(images.shape[1], padding=4), T.RandomHorizontalFlip()] if augment else []
    transform = T.Compose([*steps, T.ToTensor(), T.Normalize(mean, std)])
    return torch.utils.data.DataLoader(
        PILImageDataset(images, labels, transform),
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=workers,
        drop_last=shuffle and len(labels) >= batch_size,  # never an empty loader
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(seed),
    )
