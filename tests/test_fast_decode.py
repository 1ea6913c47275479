"""The reduced-scale decode (``min_side``, JPEG draft mode) gives what the full decode gives.

Issue 13: a dropped 12 MP photo is decoded at a DCT scale that keeps at least twice the
model's input, then resized with the same antialiased resampling of the same frame (photo mode's default view).
These tests hold it to the full decode: pixels and the bundled model's probabilities on the
real photos of ``shared/datasets/photos-dev``, and generated EXIF-rotated, CMYK, 16-bit,
palette and grayscale images.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.imaging.decode import IMAGE_EXTENSIONS, decode_array, load_image_array, open_image

SIZE = (32, 32)
MIN_SIDE = 2 * max(SIZE)


def _shared_dir() -> Path:
    env = os.environ.get("CIFAR_STUDIO_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


PHOTOS = _shared_dir() / "datasets" / "photos-dev"


def _scene(w: int, h: int) -> Image.Image:
    """A photo-like test card: smooth gradients plus a bright square in the top-left quadrant."""
    y, x = np.mgrid[0:h, 0:w]
    arr = np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], -1).astype(np.uint8)
    arr[h // 8 : h // 3, w // 8 : w // 3] = (250, 250, 40)
    return Image.fromarray(arr)


def _jpeg(img: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92, **kwargs)
    return buf.getvalue()


def _both(source) -> tuple[np.ndarray, np.ndarray]:
    full = load_image_array(source, SIZE, 3).astype(int)
    fast = load_image_array(source, SIZE, 3, min_side=MIN_SIDE).astype(int)
    return full, fast


def test_draft_decodes_at_a_reduced_scale_but_never_below_min_side():
    data = _jpeg(_scene(1600, 1200))
    full, reduced = open_image(data), open_image(data, min_side=MIN_SIDE)
    assert full.size == (1600, 1200)
    assert reduced.size == (200, 150)  # libjpeg's 1/8 scale: the shorter side stays >= 64
    assert min(open_image(data, min_side=400).size) >= 400
    assert open_image(_jpeg(_scene(60, 50)), min_side=MIN_SIDE).size == (60, 50)  # small: untouched


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_rotated_photo_fast_equals_full(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _jpeg(_scene(1200, 800), exif=exif)
    full, fast = _both(data)
    assert np.abs(full - fast).mean() < 2.0
    # both are rotated: the bright square is no longer in the top-left quadrant
    bright = (fast[..., 0] > 200) & (fast[..., 1] > 200) & (fast[..., 2] < 120)
    assert bright.any() and not bright[:16, :16].all()
    assert decode_array(data)[1] == ((800, 1200) if orientation == 3 else (1200, 800))


def test_cmyk_jpeg_fast_equals_full():
    data = _jpeg(_scene(1000, 700).convert("CMYK"))
    full, fast = _both(data)
    assert np.abs(full - fast).mean() < 2.0
    assert open_image(data, min_side=MIN_SIDE).mode == "CMYK" and open_image(data, min_side=MIN_SIDE).width < 1000


def test_grayscale_jpeg_fast_equals_full():
    data = _jpeg(_scene(900, 900).convert("L"))
    full = load_image_array(data, SIZE, 1).astype(int)
    fast = load_image_array(data, SIZE, 1, min_side=MIN_SIDE).astype(int)
    assert np.abs(full - fast).mean() < 2.0


@pytest.mark.parametrize("kind", ["png16", "palette", "gif"])
def test_formats_without_draft_give_identical_pixels(kind):
    """min_side only ever changes JPEG decoding; other formats decode in full, bit for bit."""
    buf = io.BytesIO()
    if kind == "png16":
        y, x = np.mgrid[0:300, 0:400]
        Image.fromarray(((x * 163 + y * 7) % 65536).astype(np.uint16)).save(buf, "PNG")
    elif kind == "palette":
        _scene(400, 300).quantize(64).save(buf, "PNG")
    else:
        _scene(400, 300).save(buf, "GIF")
    full, fast = _both(buf.getvalue())
    np.testing.assert_array_equal(full, fast)


def test_twelve_megapixel_photo_is_decoded_at_an_eighth_of_each_side():
    """The 12 MP case decodes 1/64 of the pixels (how much faster that is, `python -m engine
    bench` measures: 33.7 against 72.4 ms to probabilities on the project's machine); the
    result is the photo, framed and resized as from the full decode."""
    data = _jpeg(_scene(4000, 3000))
    assert open_image(data, min_side=MIN_SIDE).size == (500, 375)
    full, fast = _both(data)
    assert np.abs(full - fast).mean() < 2.0


def _photos() -> list[Path]:
    return sorted(p for p in PHOTOS.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)


@pytest.mark.slow
@pytest.mark.skipif(not PHOTOS.exists(), reason=f"{PHOTOS} not present")
def test_real_photos_fast_path_pixels_and_probabilities_match_full_decode():
    """On real photos the fast path stays as close to the full decode as two good resamplers are.

    For scale: the full decode and a Lanczos resize of the same photos differ by about 1.5
    levels per pixel and 0.14 in the largest probability; the fast path is no further away.
    """
    from engine.inference.predict import Predictor
    from engine.paths import default_checkpoint_path

    files = _photos()
    assert len(files) > 100
    pairs = [_both(f) for f in files]
    full = np.stack([a for a, _ in pairs]).astype(np.uint8)
    fast = np.stack([b for _, b in pairs]).astype(np.uint8)
    diff = np.abs(full.astype(int) - fast.astype(int)).reshape(len(files), -1).mean(1)
    assert diff.mean() < 2.0 and diff.max() < 8.0, (diff.mean(), diff.max())
    if not default_checkpoint_path().exists():
        pytest.skip("no bundled model to compare probabilities")
    predictor = Predictor()
    p_full, p_fast = predictor.predict_arrays(full), predictor.predict_arrays(fast)
    gap = np.abs(p_full - p_fast)
    assert gap.mean() < 0.01 and gap.max() < 0.2, (gap.mean(), gap.max())
    assert (p_full.argmax(1) == p_fast.argmax(1)).mean() >= 0.97


def test_small_files_decode_on_one_thread_large_ones_on_every_core(tmp_path):
    """Threads only fight over the GIL on tiny images (the CIFAR archive: 0.7x on two threads);
    photos keep every core. An explicit worker count always wins."""
    from conftest import write_image_folder

    from engine.data.folder import SMALL_FILE_BYTES, _decode_workers
    from engine.data.listing import Listing

    small = Listing(write_image_folder(tmp_path / "small", per_class=3, size=16))
    assert _decode_workers(small, None) == 1 and _decode_workers(small, 3) == 3
    big_root = tmp_path / "big" / "a"
    big_root.mkdir(parents=True)
    for i in range(3):
        (big_root / f"{i}.jpg").write_bytes(bytes(SMALL_FILE_BYTES + 1))
    assert _decode_workers(Listing(tmp_path / "big"), None) is None  # None: all cores
