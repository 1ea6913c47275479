"""Frozen-backbone features, computed once per image and kept in a cache on disk.

Training only a classifier on a frozen pretrained backbone ("transfer": "head") spends nearly
all its time in the backbone's forward pass, which gives the same answer for the same pixels
every time. So each image's pooled features (and its mirror image's, for flip augmentation and
flip TTA) are computed once and stored, keyed by the image's decoded pixels and by what makes
the features (the backbone's pinned weights, the input size, the normalisation). A second run on
the same photos, a run with one more photo, or the Teach tab's background extraction followed by
a command-line run on the same folder, all reuse them.

The cache is one SQLite file (``<cache dir>/features-v1.sqlite``): transactional, so a killed
process leaves whole rows or none, and safe for several processes at once. Features are stored
as float16 (pooled ReLU6 activations, in [0, 6]: 3 significant digits are plenty).
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..data.loader import batch_count, batch_indices
from ..errors import Cancelled
from ..paths import cache_dir

__all__ = ["FeatureBatches", "FeatureCache", "extract_features", "feature_namespace", "image_keys"]

_logger = logging.getLogger(__name__)
_FILE = "features-v1.sqlite"
# Images per forward pass: big enough to keep both cores busy, small enough that a stop request
# or a new photo waits well under a second on a CPU.
BATCH = 16


def feature_namespace(model, mean, std) -> str:
    """What the features depend on besides the pixels: weights, input size, normalisation."""
    weights = getattr(model, "weights_id", "")
    norm = ",".join(f"{v:.4f}" for v in [*mean, *std])
    return f"{weights}|{model.input_size}|{norm}"


def image_keys(images: np.ndarray) -> list[str]:
    """One key per uint8 ``(N, H, W, C)`` image: a hash of its shape and pixels."""
    keys = []
    for img in images:
        h = hashlib.blake2b(digest_size=16)
        h.update(repr(img.shape).encode())
        h.update(np.ascontiguousarray(img).data)
        keys.append(h.hexdigest())
    return keys


class FeatureCache:
    """``namespace, key -> (features, mirror features)`` in SQLite; a no-op when it cannot open."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else cache_dir() / _FILE
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS features (ns TEXT, key TEXT, dim INTEGER, vec BLOB, mirror BLOB, "
                "PRIMARY KEY (ns, key))"
            )
            conn.commit()
            self._conn = conn
        except (OSError, sqlite3.Error) as exc:  # read-only home, full disk, damaged file: compute, don't cache
            _logger.warning("feature cache %s unavailable (%s); features are computed every time", self.path, exc)

    def get(self, ns: str, keys: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        if self._conn is None or not keys:
            return {}
        found = {}
        with self._lock:
            for i in range(0, len(keys), 500):  # SQLite's limit on bound parameters
                part = keys[i : i + 500]
                rows = self._conn.execute(
                    f"SELECT key, dim, vec, mirror FROM features WHERE ns = ? AND key IN ({','.join('?' * len(part))})",
                    [ns, *part],
                ).fetchall()
                for key, dim, vec, mirror in rows:
                    a, b = np.frombuffer(vec, np.float16), np.frombuffer(mirror, np.float16)
                    if len(a) == dim and len(b) == dim:  # a damaged row is recomputed
                        found[key] = (a, b)
        return found

    def put(self, ns: str, rows: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        if self._conn is None or not rows:
            return
        data = [
            (ns, k, len(a), a.astype(np.float16).tobytes(), b.astype(np.float16).tobytes())
            for k, (a, b) in rows.items()
        ]
        with self._lock:
            try:
                with self._conn:  # one transaction
                    self._conn.executemany("INSERT OR REPLACE INTO features VALUES (?, ?, ?, ?, ?)", data)
            except sqlite3.Error as exc:  # full disk: the features are still used, just not kept
                _logger.warning("feature cache: cannot store %d rows (%s)", len(data), exc)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


@torch.inference_mode()
def extract_features(
    model,
    images: np.ndarray,
    mean: list[float],
    std: list[float],
    device: torch.device | str = "cpu",
    cache: FeatureCache | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Features of uint8 ``(N, H, W, C)`` images and of their mirror images, each ``(N, D)`` float32.

    ``model`` has ``features(x)`` (normalised input) and ``input_size``. Cached rows are reused;
    the rest are computed in batches, stored as each batch ends (a stop keeps what was done) and
    reported through ``progress(done, total, "features")``. A stop raises :class:`Cancelled`.
    """
    device = torch.device(device)
    ns = feature_namespace(model, mean, std)
    keys = image_keys(images)
    found = cache.get(ns, keys) if cache is not None else {}
    todo = [i for i, k in enumerate(keys) if k not in found]
    total, done = len(images), len(images) - len(todo)
    if progress is not None:
        progress(done, total, "features")
    m = torch.tensor(mean, device=device).view(1, -1, 1, 1) * 255
    s = torch.tensor(std, device=device).view(1, -1, 1, 1) * 255
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(todo), BATCH):
            if should_stop is not None and should_stop():
                raise Cancelled("stopped while computing features")
            idx = todo[start : start + BATCH]
            x = torch.from_numpy(np.ascontiguousarray(images[idx])).to(device).permute(0, 3, 1, 2)
            x = (x.float() - m) / s
            f = model.features(torch.cat([x, x.flip(3)])).float().cpu().numpy()
            rows = {keys[i]: (f[j], f[len(idx) + j]) for j, i in enumerate(idx)}
            if cache is not None:
                cache.put(ns, rows)
            found.update({k: (a.astype(np.float16), b.astype(np.float16)) for k, (a, b) in rows.items()})
            done += len(idx)
            if progress is not None:
                progress(done, total, "features")
    finally:
        model.train(was_training)
    feats = torch.from_numpy(np.stack([found[k][0] for k in keys]).astype(np.float32)) if keys else torch.zeros(0)
    mirror = torch.from_numpy(np.stack([found[k][1] for k in keys]).astype(np.float32)) if keys else torch.zeros(0)
    return feats, mirror


class FeatureBatches:
    """``(features, labels)`` batches with the interface of :class:`engine.data.loader.DeviceBatches`.

    Flip augmentation picks, per image and batch, its features or its mirror image's. Validation
    with flip TTA averages the two (``tta_pairs``), as image TTA level 1 averages the two views.
    """

    def __init__(
        self,
        features: torch.Tensor,
        mirror: torch.Tensor,
        labels: np.ndarray,
        batch_size: int,
        device: torch.device,
        flip: bool = False,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
    ):
        self.features, self.mirror = features.to(device), mirror.to(device)
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(device)
        self.batch_size, self.device = batch_size, torch.device(device)
        self.flip, self.shuffle, self.drop_last, self.seed = flip, shuffle, drop_last, seed
        self.epoch = 0
        self._gen = torch.Generator(device=self.device)

    def __len__(self) -> int:
        return batch_count(len(self.labels), self.batch_size, self.drop_last)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        self._gen.manual_seed(self.seed * 100_003 + self.epoch)
        n = len(self.labels)
        order = torch.randperm(n, device=self.device, generator=self._gen) if self.shuffle else None
        for idx in batch_indices(n, self.batch_size, self.drop_last, order, self.device):
            x = self.features[idx]
            if self.flip:
                pick = torch.rand(len(idx), device=self.device, generator=self._gen) < 0.5
                x = torch.where(pick[:, None], self.mirror[idx], x)
            yield x, self.labels[idx]

    def with_mirrors(self):
        """Validation batches of ``(features, mirror features, labels)``, in order."""
        n = len(self.labels)
        for start in range(0, n, self.batch_size):
            sl = slice(start, min(start + self.batch_size, n))
            yield self.features[sl], self.mirror[sl], self.labels[sl]
