"""The on-device batch pipeline: shapes, normalisation, seeded epochs, sharding and the
batched augmentations (crop, flip, cutout)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.data.loader import Augment, DeviceBatches, channel_stats, cutout, random_crop, random_flip

CPU = torch.device("cpu")


def _images(n: int = 20, size: int = 8, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, channels), dtype=np.uint8)


def _batches(n=20, batch_size=6, **kwargs) -> DeviceBatches:
    images = _images(n)
    labels = np.arange(n)  # label = index: tells which image a batch row came from
    mean, std = channel_stats(images)
    return DeviceBatches(images, labels, batch_size, CPU, mean, std, **kwargs)


def _collect(batches) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    xs, ys = [], []
    for x, y in batches:
        xs.append(x)
        ys.append(y)
    return xs, ys


# ---------------------------------------------------------------------------- basics
def test_shapes_dtypes_and_normalisation():
    images = _images(10, size=8)
    mean, std = channel_stats(images)
    flat = images.reshape(-1, 3) / 255
    np.testing.assert_allclose(mean, flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(std, flat.std(0, ddof=1), rtol=1e-4)
    b = DeviceBatches(images, np.arange(10), 4, CPU, mean, std)
    assert len(b) == 3
    xs, ys = _collect(b)
    assert [tuple(x.shape) for x in xs] == [(4, 3, 8, 8), (4, 3, 8, 8), (2, 3, 8, 8)]
    assert all(x.dtype == torch.float32 and y.dtype == torch.int64 for x, y in zip(xs, ys, strict=True))
    x = torch.cat(xs)
    expected = (
        torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)
    ) / torch.tensor(std).view(1, 3, 1, 1)
    torch.testing.assert_close(x, expected, rtol=1e-5, atol=1e-5)
    # normalised: per-channel mean ~0 and std ~1 over the whole set
    torch.testing.assert_close(x.mean((0, 2, 3)), torch.zeros(3), atol=1e-4, rtol=0)
    torch.testing.assert_close(x.std((0, 2, 3)), torch.ones(3), atol=1e-3, rtol=0)


def test_grayscale_images_give_one_channel():
    images = _images(5, channels=1)
    mean, std = channel_stats(images)
    assert len(mean) == len(std) == 1
    x, _ = next(iter(DeviceBatches(images, np.zeros(5), 5, CPU, mean, std)))
    assert x.shape == (5, 1, 8, 8)


def test_constant_images_do_not_divide_by_zero():
    images = np.full((4, 8, 8, 3), 7, np.uint8)
    mean, std = channel_stats(images)
    assert min(std) > 0
    x, _ = next(iter(DeviceBatches(images, np.zeros(4), 4, CPU, mean, std)))
    assert torch.isfinite(x).all()


def test_channels_last_layout():
    x, _ = next(iter(_batches(channels_last=True)))
    assert x.is_contiguous(memory_format=torch.channels_last)


# ---------------------------------------------------------------------------- epochs
def test_same_epoch_gives_the_same_batches_and_a_new_epoch_a_new_order():
    b = _batches(shuffle=True, augment=Augment(crop_padding=2, flip=True, cutout=3), seed=5)
    b.set_epoch(3)
    xs1, ys1 = _collect(b)
    xs2, ys2 = _collect(b)
    for a, c in zip(xs1 + ys1, xs2 + ys2, strict=True):
        assert torch.equal(a, c)
    b.set_epoch(4)
    _, ys3 = _collect(b)
    assert not torch.equal(torch.cat(ys1), torch.cat(ys3))
    # a fresh object with the same seed and epoch reproduces the run (what resume relies on)
    other = _batches(shuffle=True, augment=Augment(crop_padding=2, flip=True, cutout=3), seed=5)
    other.set_epoch(3)
    xs4, ys4 = _collect(other)
    assert all(torch.equal(a, c) for a, c in zip(xs1 + ys1, xs4 + ys4, strict=True))
    # and another seed gives another order
    third = _batches(shuffle=True, seed=6)
    third.set_epoch(3)
    assert not torch.equal(torch.cat(_collect(third)[1]), torch.cat(ys1))


def test_every_image_once_per_epoch_without_augmentation():
    b = _batches(n=20, batch_size=6, shuffle=True)
    for epoch in range(3):
        b.set_epoch(epoch)
        xs, ys = _collect(b)
        assert sorted(torch.cat(ys).tolist()) == list(range(20))
        # rows are the untouched images (no augmentation): compare with the plain order
        plain = torch.cat(_collect(_batches(n=20, batch_size=20))[0])
        torch.testing.assert_close(torch.cat(xs), plain[torch.cat(ys)])


def test_no_shuffle_keeps_the_order():
    _, ys = _collect(_batches(n=10, batch_size=4))
    assert torch.cat(ys).tolist() == list(range(10))


def test_drop_last():
    b = _batches(n=20, batch_size=6, shuffle=True, drop_last=True)
    assert len(b) == 3
    _, ys = _collect(b)
    assert [len(y) for y in ys] == [6, 6, 6]
    assert len(set(torch.cat(ys).tolist())) == 18  # each image at most once
    # fewer images than one batch: drop_last keeps the single short batch rather than nothing
    small = _batches(n=4, batch_size=6, drop_last=True)
    assert len(small) == 1 and len(_collect(small)[1][0]) == 4


@pytest.mark.parametrize("world_size", [2, 3])
def test_rank_sharding_covers_each_batch_exactly_once(world_size):
    kwargs = dict(n=23, batch_size=6, shuffle=True, seed=1)
    full = _batches(**kwargs)
    full.set_epoch(2)
    _, full_ys = _collect(full)
    per_rank = []
    for rank in range(world_size):
        b = _batches(**kwargs, rank=rank, world_size=world_size)
        b.set_epoch(2)
        assert len(b) == len(full)  # every rank takes the same number of steps
        per_rank.append(_collect(b)[1])
    for step, y in enumerate(full_ys):
        shares = [per_rank[r][step] for r in range(world_size)]
        joined = torch.cat(shares).tolist()
        assert sorted(joined) == sorted(y.tolist())
        assert len(joined) == len(set(joined))


# ---------------------------------------------------------------------------- augmentations
def test_random_crop_is_a_window_of_the_padded_image():
    x = torch.randn(12, 3, 8, 8)
    pad = 2
    for mode in ("reflect", "zeros"):
        out = random_crop(x, pad, mode, torch.Generator().manual_seed(0))
        assert out.shape == x.shape
        padded = F.pad(x, (pad,) * 4, mode="constant" if mode == "zeros" else mode)
        offsets = set()
        for i in range(len(x)):
            found = [
                (dy, dx)
                for dy in range(2 * pad + 1)
                for dx in range(2 * pad + 1)
                if torch.equal(out[i], padded[i, :, dy : dy + 8, dx : dx + 8])
            ]
            assert found, f"image {i} is not a crop of its padded original"
            offsets.add(found[0])
        assert len(offsets) > 1  # the windows are random, not all centred


def test_random_crop_shifts_content_rather_than_destroying_it():
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 3, 4] = 1.0  # one bright pixel away from the border
    for seed in range(5):
        out = random_crop(x, 2, "zeros", torch.Generator().manual_seed(seed))
        assert out.sum() == 1.0 and out.max() == 1.0  # moved by at most 2, still there


def test_random_flip_mirrors_some_images_and_keeps_others():
    x = torch.randn(32, 3, 4, 4)
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = [torch.equal(out[i], x[i].flip(2)) for i in range(32)]
    kept = [torch.equal(out[i], x[i]) for i in range(32)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert any(flipped) and any(kept)


@pytest.mark.parametrize("size", [3, 4, 5])
def test_cutout_zeroes_one_square_of_the_given_side(size):
    x = torch.ones(64, 2, 12, 12)
    out = cutout(x, size, torch.Generator().manual_seed(0))
    zero = out == 0
    assert torch.equal(zero[:, 0], zero[:, 1])  # the same square in every channel
    assert torch.equal(out[~zero], x[~zero])  # nothing else changes
    for mask in zero[:, 0]:
        rows = torch.nonzero(mask.any(1)).flatten()
        cols = torch.nonzero(mask.any(0)).flatten()
        assert len(rows) and len(cols)
        # one filled rectangle (a square, clipped at the border), never larger than size x size
        assert mask.sum() == len(rows) * len(cols)
        assert rows.max() - rows.min() + 1 == len(rows) and cols.max() - cols.min() + 1 == len(cols)
        assert len(rows) <= size and len(cols) <= size
    inside = [m for m in zero[:, 0] if m.sum() == size * size]
    assert inside, "no unclipped square"


def test_augmented_batches_keep_labels_aligned():
    images = np.zeros((12, 8, 8, 3), np.uint8)
    for i in range(12):
        images[i] = i * 20  # brightness encodes the index
    mean, std = [0.0, 0.0, 0.0], [1 / 255] * 3  # x == raw pixel value
    b = DeviceBatches(
        images,
        np.arange(12),
        5,
        CPU,
        mean,
        std,
        shuffle=True,
        augment=Augment(crop_padding=2, padding_mode="reflect", flip=True, cutout=0),
    )
    for x, y in b:
        # reflect padding and flips keep a constant image constant: its value identifies it
        torch.testing.assert_close(x.amax((1, 2, 3)), (y * 20).float())
