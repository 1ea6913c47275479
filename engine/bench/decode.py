"""First decode of an image folder or archive (the shared CIFAR-10 archive by default): the
engine's loader against the straightforward loop, in the same run.

Engine: :func:`load_dataset` with an empty cache folder (the engine's own decoding: straight
from the zip, reduced where the images are larger than needed, on every core), then the same
call again, which reads the decoded cache. Straightforward: each file in turn read from the
zip (or folder), decoded by Pillow at full size, converted to RGB and resized to the set's
image size, on one core. The cache's size on disk is set against the arrays it holds.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.folder import _cores, _decode_workers
from ..data.listing import Listing
from ..data.sources import DataSpec, load_dataset
from ..imaging.decode import IMAGE_EXTENSIONS

__all__ = ["bench_decode", "report_lines", "straightforward_decode"]


@contextmanager
def _cache_folder(folder: Path):
    """Point the engine's dataset cache at ``folder`` for the duration (then restore it)."""
    old = os.environ.get("CIFAR_STUDIO_CACHE")
    os.environ["CIFAR_STUDIO_CACHE"] = str(folder)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("CIFAR_STUDIO_CACHE", None)
        else:
            os.environ["CIFAR_STUDIO_CACHE"] = old


def _files(path: Path):
    """(name, bytes reader) of every image file in a folder or zip, in name order."""
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()):
            yield f.name, f.read_bytes
    else:
        with zipfile.ZipFile(path) as zf:
            for info in sorted(zf.infolist(), key=lambda i: i.filename):
                if not info.is_dir() and Path(info.filename).suffix.lower() in IMAGE_EXTENSIONS:
                    yield info.filename, (lambda info=info: zf.read(info))


def straightforward_decode(path: Path, size: tuple[int, int]) -> int:
    """Decode every image of ``path`` the plain way into ``size`` (H, W) RGB arrays; the count."""
    h, w = size
    count = 0
    for _name, read in _files(path):
        try:
            with Image.open(io.BytesIO(read())) as im:
                im = im.convert("RGB")
                if im.size != (w, h):
                    im = im.resize((w, h), Image.Resampling.BICUBIC)
                np.asarray(im)
            count += 1
        except OSError:  # unreadable files are skipped by both
            pass
    return count


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def bench_decode(data: str) -> dict:
    path = Path(data).expanduser()
    if not path.exists():
        return {"skipped": f"{data} is not an image folder or zip (the decode benchmark reads files)"}
    spec = DataSpec(str(path), val_fraction=0.0)
    with tempfile.TemporaryDirectory() as tmp, _cache_folder(Path(tmp)):
        t, cpu = time.perf_counter(), time.process_time()
        ds = load_dataset(spec, for_training=False)
        first, first_cpu = time.perf_counter() - t, time.process_time() - cpu
        t = time.perf_counter()
        again = load_dataset(spec, for_training=False)
        cached = time.perf_counter() - t
        parts = [s for s in (ds.train, ds.val, ds.test) if s is not None]
        arrays = sum(s.images.nbytes + s.labels.nbytes for s in parts)
        cache_bytes = _folder_bytes(Path(tmp))
    images = sum(len(s) for s in parts)
    h, w, _ = ds.image_shape
    t, cpu = time.perf_counter(), time.process_time()
    plain_count = straightforward_decode(path, (h, w))
    plain, plain_cpu = time.perf_counter() - t, time.process_time() - cpu
    return {
        "data": str(path),
        "images": images,
        "image_size": f"{h}x{w}",
        "first_decode_seconds": round(first, 4),
        "cache_load_seconds": round(cached, 4),
        "cache_hit": bool(again.summary.from_cache),
        "straightforward_seconds": round(plain, 4),
        "straightforward_images": plain_count,
        "ratio": round(plain / first, 2),
        # CPU time of every thread: on a shared machine it moves much less with the load than wall time.
        "first_decode_cpu_seconds": round(first_cpu, 4),
        "straightforward_cpu_seconds": round(plain_cpu, 4),
        "cache_megabytes": round(cache_bytes / 2**20, 1),
        "arrays_megabytes": round(arrays / 2**20, 1),
        "workers": _threads(path),
    }


def _threads(path: Path) -> int:
    """How many threads the engine decoded ``path`` with (one for folders of small files)."""
    src = Listing(path)
    try:
        return _decode_workers(src, None) or _cores()
    finally:
        src.close()


def report_lines(d: dict) -> list[str]:
    if "skipped" in d:
        return [f"decode: skipped ({d['skipped']})"]
    return [
        f"first decode of {Path(d['data']).name} ({d['images']} images, {d['image_size']}):",
        f"  engine           {d['first_decode_seconds']:8.2f} s  ({d['images'] / d['first_decode_seconds']:.0f} "
        f"images/s, {d['workers']} decoding thread(s); {d['first_decode_cpu_seconds']:.1f} s of CPU)",
        f"  straightforward  {d['straightforward_seconds']:8.2f} s  (Pillow, full decode, one file after another; "
        f"{d['straightforward_cpu_seconds']:.1f} s of CPU)",
        f"  ratio            {d['ratio']:8.2f}x",
        f"  cached load      {d['cache_load_seconds']:8.2f} s  (cache {d['cache_megabytes']} MB for "
        f"{d['arrays_megabytes']} MB of arrays)",
    ]
