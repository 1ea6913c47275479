"""Photos to probabilities with a checkpoint (the bundled model by default), each figure the
engine's way against the straightforward way in the same run.

* one photo at 0.3, 3 and 12 megapixels, decode to probabilities: :meth:`Predictor.prepare`
  (JPEG decoded reduced to twice the model input, then the antialiased resize) against
  decoding every pixel first (``Predictor(fast_decode=False)``), and how far their
  probabilities differ;
* a folder of photos: :meth:`Predictor.predict_paths` (decoding on every core, overlapped
  with the forward pass) against decoding the files one after another at full size, then the
  forward pass on each batch;
* the model's load time and its forward pass on one image.

The photos are made here: a sample photo scaled to each size with film-grain noise, so the
JPEG has real detail to decode, and with no embedded EXIF thumbnail, so the fast path has to
decode the photo itself (phone photos carry a thumbnail it may use instead: faster still).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from .. import paths
from ..imaging.photo import DEFAULT_PHOTO_TTA
from ..inference.predict import Predictor
from .common import ms, time_calls, time_interleaved
from .options import MEGAPIXELS

__all__ = ["MEGAPIXELS", "bench_predict", "make_photo", "report_lines"]

# 4:3 photos: 640x480 (a web image), 2000x1500 (3 MP), 4000x3000 (a 12 MP phone camera).


def make_photo(path: Path, megapixels: float, seed: int = 0) -> Path:
    """A 4:3 JPEG of about ``megapixels`` from the first sample photo (or a gradient), with grain."""
    w = round((megapixels * 1e6 * 4 / 3) ** 0.5)
    h = round(w * 3 / 4)
    samples = sorted((paths.resources_dir() / "samples").glob("*.jpg"))
    if samples:
        with Image.open(samples[0]) as im:
            base = im.convert("RGB").resize((w, h), Image.Resampling.BICUBIC)
    else:
        ramp = np.linspace(0, 255, w, dtype=np.uint8)
        base = Image.fromarray(np.stack([np.tile(ramp, (h, 1))] * 3, axis=-1))
    grain = np.random.default_rng(seed).normal(0, 6, (h, w, 1))
    pixels = np.clip(np.asarray(base, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=90)
    return path


def _libjpeg_floor(path: Path) -> None:
    """The JPEG decoded at the smallest scale libjpeg offers (1/8 a side) and nothing else: its
    entropy decoding still reads every byte of the file, so no code around it can go below this."""
    with Image.open(path) as im:
        im.draft("RGB", (1, 1))
        im.load()


def _one_photo(fast, slow, path: Path, repeats: int) -> dict:
    fast_t, slow_t, floor_t = time_interleaved(
        [
            lambda: fast.predict_arrays(fast.prepare(path)[None]),
            lambda: slow.predict_arrays(slow.prepare(path)[None]),
            lambda: _libjpeg_floor(path),
        ],
        repeats,
    )
    diff = np.abs(fast.predict_arrays(fast.prepare(path)[None]) - slow.predict_arrays(slow.prepare(path)[None]))
    with Image.open(path) as im:
        w, h = im.size
    return {
        "megapixels": round(w * h / 1e6, 1),
        "size": f"{w}x{h}",
        "fast_ms_median": ms(fast_t),
        "full_decode_ms_median": ms(slow_t),
        "libjpeg_eighth_scale_decode_ms_median": ms(floor_t),
        "file_megabytes": round(path.stat().st_size / 1e6, 2),
        "ratio": round(statistics.median(slow_t) / statistics.median(fast_t), 2),
        "max_probability_difference": round(float(diff.max()), 4),
    }


def _folder(fast, slow, folder: Path, batch_size: int) -> dict:
    files = sorted(folder.iterdir())
    t = time.perf_counter()
    results = fast.predict_paths([folder], batch_size=batch_size)
    fast_s = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(0, len(files), batch_size):  # the straightforward loop: decode all, then the model
        # at predict_paths' default TTA level: the photo model's mirror image is a second pass
        slow.predict_arrays(np.stack([slow.prepare(f) for f in files[i : i + batch_size]]), tta=DEFAULT_PHOTO_TTA)
    slow_s = time.perf_counter() - t
    return {
        "photos": len(results),
        "errors": sum(1 for r in results if r.error),
        "fast_images_per_s": round(len(files) / fast_s, 1),
        "sequential_images_per_s": round(len(files) / slow_s, 1),
        "ratio": round(slow_s / fast_s, 2),
    }


def bench_predict(
    checkpoint,
    repeats: int = 10,
    folder_size: int = 100,
    folder_megapixels: float = 3.0,
    megapixels: tuple[float, ...] = MEGAPIXELS,
) -> dict:
    t = time.perf_counter()
    fast = Predictor(checkpoint, device="cpu")
    load_s = time.perf_counter() - t
    slow = Predictor(fast.checkpoint, device="cpu", fast_decode=False)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        x = fast.prepare(make_photo(tmp / "forward.jpg", 0.3))[None]
        out = {
            "checkpoint": str(fast.checkpoint.path),
            "model": fast.checkpoint.arch,
            "load_seconds": round(load_s, 3),
            "forward_ms_median": ms(time_calls(lambda: fast.predict_arrays(x), repeats * 3)),
            "photos": [],
        }
        for mp in megapixels:
            out["photos"].append(_one_photo(fast, slow, make_photo(tmp / f"{mp}mp.jpg", mp), repeats))
        folder = tmp / "folder"
        folder.mkdir()
        # A few distinct photos, copied under many names: decoding costs the same, making them does not.
        distinct = [make_photo(tmp / f"distinct{i}.jpg", folder_megapixels, seed=i) for i in range(min(8, folder_size))]
        for i in range(folder_size):
            shutil.copyfile(distinct[i % len(distinct)], folder / f"{i:04d}.jpg")
        out["folder"] = {"megapixels": folder_megapixels, **_folder(fast, slow, folder, 64)}
    return out


def report_lines(p: dict) -> list[str]:
    if "skipped" in p:
        return [f"prediction: skipped ({p['skipped']})"]
    lines = [
        f"prediction ({p['model']}, CPU):",
        f"  model load             {p['load_seconds'] * 1000:8.1f} ms",
        f"  forward pass, 1 image  {p['forward_ms_median']:8.2f} ms median",
        "  one photo, decode to probabilities (median):  reduced decode | every pixel decoded",
    ]
    for ph in p["photos"]:
        lines.append(
            f"    {ph['megapixels']:>4} MP ({ph['size']:>9})  {ph['fast_ms_median']:8.1f} ms | "
            f"{ph['full_decode_ms_median']:8.1f} ms  ({ph['ratio']:.1f}x; probabilities within "
            f"{ph['max_probability_difference']:.3f}); libjpeg's 1/8-scale decode of the "
            f"{ph['file_megabytes']} MB file alone: {ph['libjpeg_eighth_scale_decode_ms_median']:.1f} ms"
        )
    f = p["folder"]
    lines.append(
        f"  folder of {f['photos']} photos ({f['megapixels']} MP): {f['fast_images_per_s']:.1f} images/s "
        f"(decoding on every core, overlapped) | {f['sequential_images_per_s']:.1f} images/s (one after another, "
        f"every pixel)  ({f['ratio']:.1f}x)"
    )
    return lines
