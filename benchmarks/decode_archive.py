"""Decode speed: the 50,000-image archive (first decode and cache load) and one 12 MP photo.

Compares, in the same run and interleaved (old, new, old, new...), today's decoding with the
code it replaced (``_before`` below: two passes over the zip through zipfile, each image
fully decoded, frame-counted, EXIF-transposed, square-cropped and resized in two steps).
Wall time and CPU time (all threads) are both reported: on a shared machine the wall time
moves with the load, the CPU time much less.

    python benchmarks/decode_archive.py [--zip PATH] [--rounds 2] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("CIFAR_STUDIO_CACHE", tempfile.mkdtemp(prefix="decode-bench-cache-"))

from engine.data.folder import load_image_folder  # noqa: E402 - after the cache folder is chosen
from engine.imaging.decode import load_image_array  # noqa: E402

DEFAULT_ZIP = ROOT.parent / "shared" / "datasets" / "cifar10-train.zip"


# ---------------------------------------------------------------------------- the code it replaced
def _before_open(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)
    img.load()
    return ImageOps.exif_transpose(img) or img


def _before_array(img: Image.Image, size: tuple[int, int]) -> np.ndarray:
    img = img.convert("RGB")
    if img.width != img.height:
        side = min(img.size)
        img = ImageOps.fit(img, (side, side))
    if img.size != (size[1], size[0]):
        img = img.resize((size[1], size[0]), Image.Resampling.BICUBIC, reducing_gap=3.0)
    return np.array(img, dtype=np.uint8)


def _before(zip_path: Path) -> int:
    """Pass 1 reads every header, pass 2 decodes every image (as engine/data/folder.py did)."""
    zf = zipfile.ZipFile(zip_path)
    names = [i.filename for i in zf.infolist() if not i.is_dir()]
    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        headers = list(pool.map(lambda n: Image.open(io.BytesIO(zf.read(n))).size, names, chunksize=32))
        size = (32, 32) if len(set(headers)) != 1 else headers[0][::-1]
        arrays = list(pool.map(lambda n: _before_array(_before_open(zf.read(n)), size), names, chunksize=32))
    return len(np.stack(arrays))


def _now(zip_path: Path) -> int:
    return len(load_image_folder(zip_path, use_cache=False).train)


def _timed(fn, *args) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


# ---------------------------------------------------------------------------- one 12 MP photo
def _photo_jpeg(path: Path, w: int = 4000, h: int = 3000) -> Path:
    """A photo-like 12 MP JPEG (about 3 MB, like a phone's): gradients, blotchy texture, sensor noise."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([x / w * 200, y / h * 200, (np.sin(x / 37) + np.cos(y / 53)) * 60 + 120], -1)
    blotches = Image.fromarray(np.clip(rng.normal(128, 20, (h // 8, w // 8, 3)), 0, 255).astype(np.uint8))
    texture = np.asarray(blotches.resize((w, h), Image.Resampling.BICUBIC), np.float32) - 128
    pixels = np.clip(base + texture + rng.normal(0, 3, (h, w, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, "JPEG", quality=90)
    return path


def _photo_times(path: Path, repeats: int = 7) -> dict:
    def median_ms(fn):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
        return round(statistics.median(times), 1)

    data = path.read_bytes()
    return {
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "before_full_decode_ms": median_ms(lambda: _before_array(_before_open(data), (32, 32))),
        "full_decode_ms": median_ms(lambda: load_image_array(path, (32, 32), 3)),
        "draft_decode_ms": median_ms(lambda: load_image_array(path, (32, 32), 3, min_side=64)),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    report: dict = {"cpu_count": os.cpu_count()}
    if args.zip.exists():
        runs: dict[str, list] = {"before": [], "now": []}
        for _ in range(args.rounds):
            for name, fn in (("before", _before), ("now", _now)):
                runs[name].append(_timed(fn, args.zip))
                print(f"{name:7s} wall {runs[name][-1][0]:6.2f} s  cpu {runs[name][-1][1]:6.2f} s", file=sys.stderr)
        load_image_folder(args.zip)  # stores the cache entry
        t0 = time.perf_counter()
        cached = load_image_folder(args.zip)
        cache_load = time.perf_counter() - t0
        entry_bytes = sum(f.stat().st_size for f in Path(os.environ["CIFAR_STUDIO_CACHE"]).rglob("*") if f.is_file())
        arrays = sum(s.images.nbytes + s.labels.nbytes for s in (cached.train, cached.val, cached.test) if s)
        med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in runs.items()}
        report["archive"] = {
            "images": len(cached.train),
            "before_wall_s": round(med["before"][0], 2),
            "now_wall_s": round(med["now"][0], 2),
            "before_cpu_s": round(med["before"][1], 2),
            "now_cpu_s": round(med["now"][1], 2),
            "speedup_wall": round(med["before"][0] / med["now"][0], 2),
            "speedup_cpu": round(med["before"][1] / med["now"][1], 2),
            "cache_load_s": round(cache_load, 2),
            "cache_bytes": entry_bytes,
            "array_bytes": arrays,
        }
    with tempfile.TemporaryDirectory() as d:
        report["photo_12mp"] = _photo_times(_photo_jpeg(Path(d) / "photo.jpg"))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for section, values in report.items():
            print(f"{section}: {values}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
