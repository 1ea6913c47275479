"""Training batches drawn from one uint8 tensor on the training device.

No DataLoader, no worker processes, no per-image PIL work: the decoded dataset is copied to
the device once, each epoch is a seeded permutation, and augmentation runs on whole batches
(random crop with padding, horizontal flip, random or alternating by epoch, cutout) after
normalisation.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..config import Augment  # re-exported: the batch pipeline's settings

__all__ = [
    "Augment",
    "DeviceBatches",
    "batch_count",
    "batch_indices",
    "channel_stats",
    "cutout",
    "random_crop",
    "random_flip",
]


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std in [0, 1] of uint8 ``(N, H, W, C)`` images (the normalisation)."""
    x = torch.from_numpy(images).float().div_(255).flatten(0, 2)  # pixels x channels
    return x.mean(0).tolist(), x.std(0).clamp_min(1e-3).tolist()


def random_flip(x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    mask = torch.rand(len(x), device=x.device, generator=gen) < 0.5
    return torch.where(mask[:, None, None, None], x.flip(3), x)


def random_crop(x: torch.Tensor, pad: int, mode: str = "reflect", gen: torch.Generator | None = None) -> torch.Tensor:
    """Pad each side by ``pad`` and cut a random window of the original size, per image."""
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="constant" if mode == "zeros" else mode)
    dy = torch.randint(0, 2 * pad + 1, (n,), device=x.device, generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (n,), device=x.device, generator=gen)
    rows = dy[:, None] + torch.arange(h, device=x.device)  # n, h
    cols = dx[:, None] + torch.arange(w, device=x.device)  # n, w
    x = padded.gather(2, rows[:, None, :, None].expand(n, c, h, padded.shape[3]))
    return x.gather(3, cols[:, None, None, :].expand(n, c, h, w))


def cutout(x: torch.Tensor, size: int, gen: torch.Generator | None = None) -> torch.Tensor:
    """Zero (the normalised mean) a ``size`` square at a random centre in each image."""
    n, _, h, w = x.shape
    cy = torch.randint(0, h, (n, 1, 1), device=x.device, generator=gen)
    cx = torch.randint(0, w, (n, 1, 1), device=x.device, generator=gen)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    lo, hi = -(size // 2), size - size // 2  # exactly ``size`` pixels around the centre
    inside = ((ys - cy) >= lo) & ((ys - cy) < hi) & ((xs - cx) >= lo) & ((xs - cx) < hi)
    return x.masked_fill(inside[:, None], 0.0)


def batch_count(n: int, batch_size: int, drop_last: bool) -> int:
    """Batches in an epoch of ``n`` items (a last, partial batch is dropped only when asked and
    there is at least one whole batch)."""
    return n // batch_size if drop_last and n >= batch_size else -(-n // batch_size)


def batch_indices(n: int, batch_size: int, drop_last: bool, order: torch.Tensor | None, device):
    """Each batch's indices: slices of ``order`` (a permutation) or, without one, of 0..n-1."""
    for b in range(batch_count(n, batch_size, drop_last)):
        sl = slice(b * batch_size, min((b + 1) * batch_size, n))
        yield order[sl] if order is not None else torch.arange(sl.start, sl.stop, device=device)


class DeviceBatches:
    """Iterate ``(images, labels)`` batches: float, normalised, augmented, on ``device``.

    ``batch_size`` is the global batch; with ``world_size`` > 1 each rank yields its share.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        batch_size: int,
        device: torch.device,
        mean: list[float],
        std: list[float],
        augment: Augment | None = None,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
        channels_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.images = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2)
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(device)
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1) * 255
        self.std = torch.tensor(std, device=device).view(1, -1, 1, 1) * 255
        self.augment = augment if augment is not None and augment.enabled else None
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        self.channels_last = channels_last
        # Under torchrun every rank draws the same permutation and takes its share of each batch.
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self._gen = torch.Generator(device=self.device)
        self._flip_base = None
        if self.augment is not None and self.augment.flip and self.augment.alternate_flips:
            # Each image's orientation on even epochs, drawn once from the seed; odd epochs mirror it.
            base_gen = torch.Generator().manual_seed(seed * 100_003 + 99_991)
            self._flip_base = (torch.rand(len(self.labels), generator=base_gen) < 0.5).to(self.device)

    def __len__(self) -> int:
        return batch_count(len(self.labels), self.batch_size, self.drop_last)

    def set_epoch(self, epoch: int) -> None:
        """Each epoch has its own seed, so a resumed run sees the batches it would have seen."""
        self.epoch = epoch

    def forever(self):
        """Batches without end, a new epoch (and permutation) each pass: for time-budgeted loops."""
        epoch = self.epoch
        while True:
            self.set_epoch(epoch)
            yield from self
            epoch += 1

    def normalize(self, x_uint8: torch.Tensor) -> torch.Tensor:
        return (x_uint8.float() - self.mean) / self.std

    def __iter__(self):
        self._gen.manual_seed(self.seed * 100_003 + self.epoch)
        n = len(self.labels)
        order = torch.randperm(n, device=self.device, generator=self._gen) if self.shuffle else None
        for idx in batch_indices(n, self.batch_size, self.drop_last, order, self.device):
            if self.world_size > 1:
                idx = idx[self.rank :: self.world_size]
            x = self.normalize(self.images[idx])
            if self.augment is not None:
                a = self.augment
                if self._flip_base is not None:
                    flip = self._flip_base[idx] ^ (self.epoch % 2 == 1)
                    x = torch.where(flip[:, None, None, None], x.flip(3), x)
                elif a.flip:
                    x = random_flip(x, self._gen)
                if a.crop_padding > 0:
                    x = random_crop(x, a.crop_padding, a.padding_mode, self._gen)
                if a.cutout > 0:
                    x = cutout(x, a.cutout, self._gen)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.labels[idx]
