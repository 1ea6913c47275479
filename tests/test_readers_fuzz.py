"""Property-based fuzzing of the image reader and the dataset (zip) reader.

Whatever the bytes: the image reader returns the array asked for or raises a one-line
:class:`ImageError` naming the file; the dataset reader returns a dataset (bad members
skipped and counted, classes never named after a path fragment, nothing written) or raises a
one-line :class:`DataError`. Nothing else ever escapes.

About 3,400 cases (2,400 images, 1,000 archives), deterministic (``derandomize``), in well
under a minute on a 2-core CPU.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from engine.data.folder import load_image_folder
from engine.data.sources import load_dataset
from engine.errors import DataError, ImageError
from engine.imaging.decode import load_image_array

pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning", "ignore::UserWarning")

_FUZZ = settings(
    derandomize=True,  # the same cases on every run: a CI failure reproduces
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def _seed_images() -> list[bytes]:
    """One small file per supported format and awkward mode: the starting points for mutation."""
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8))
    out = []
    for img, fmt, kwargs in (
        (rgb, "JPEG", {}),
        (rgb, "JPEG", {"progressive": True}),
        (rgb.convert("CMYK"), "JPEG", {}),
        (rgb.convert("RGBA"), "PNG", {}),
        (rgb.convert("P"), "PNG", {"transparency": 0}),
        (Image.fromarray(rng.integers(0, 65535, (9, 7), dtype=np.uint16)), "PNG", {}),
        (rgb, "GIF", {"save_all": True, "append_images": [rgb.rotate(90)]}),
        (rgb, "TIFF", {"save_all": True, "append_images": [rgb.convert("L")]}),
        (rgb, "BMP", {}),
        (rgb, "WEBP", {}),
        (rgb.convert("L"), "PPM", {}),
    ):
        buf = io.BytesIO()
        try:
            img.save(buf, fmt, **kwargs)
        except (OSError, KeyError):  # a Pillow built without that codec
            continue
        out.append(buf.getvalue())
    return out


SEEDS = _seed_images()
MAGICS = [
    b"\xff\xd8\xff\xe0",
    b"\x89PNG\r\n\x1a\n",
    b"GIF89a",
    b"II*\x00",
    b"MM\x00*",
    b"BM",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"P6\n",
]


@pytest.fixture(scope="module", autouse=True)
def small_pixel_limit():
    """Mutated headers can declare any size: keep decodes small so thousands of cases stay fast."""
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = 1_000_000
    yield
    Image.MAX_IMAGE_PIXELS = limit


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        # half the changes hit the first 64 bytes, where sizes, modes and offsets live
        at = draw(st.integers(0, 63) | st.integers(0, len(data) - 1)) % len(data)
        op = draw(st.sampled_from(["set", "flip", "insert", "delete"]))
        if op == "set":
            data[at] = draw(st.integers(0, 255))
        elif op == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif len(data) > 1:
            del data[at]
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


random_bytes = st.binary(max_size=600) | st.builds(lambda m, b: m + b, st.sampled_from(MAGICS), st.binary(max_size=400))


def _check_image(data: bytes, min_side: int | None) -> None:
    try:
        arr = load_image_array(data, (8, 8), 3, name="f.bin", min_side=min_side)
    except ImageError as exc:
        msg = str(exc)
        assert msg.startswith("f.bin: ") and "\n" not in msg, msg
    else:
        assert arr.shape == (8, 8, 3) and arr.dtype == np.uint8


@settings(_FUZZ, max_examples=1600)
@given(data=mutated(), min_side=st.sampled_from([None, 16]))
def test_mutated_images_only_raise_image_error(data, min_side):
    _check_image(data, min_side)


@settings(_FUZZ, max_examples=800)
@given(data=random_bytes)
def test_random_bytes_only_raise_image_error(data):
    _check_image(data, None)


def test_every_seed_image_decodes():
    """The fuzzing starts from files that work, so the mutations test the reader, not the seeds."""
    assert len(SEEDS) >= 10
    for data in SEEDS:
        assert load_image_array(data, (8, 8), 3).shape == (8, 8, 3)


# ---------------------------------------------------------------------------- dataset (zip) reader
NAME_PARTS = ["red", "green", "blue", "train", "test", "val", "..", ".", "", "__MACOSX", ".hidden", "a\\b", "C:", "ü"]
FILE_NAMES = ["0.png", "1.jpg", "2.gif", "x.txt", "", ".DS_Store", "3.tif"]
METHODS = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]


@st.composite
def member(draw) -> tuple[str, bytes, int]:
    folders = draw(st.lists(st.sampled_from(NAME_PARTS), min_size=0, max_size=3))
    name = "/".join([*folders, draw(st.sampled_from(FILE_NAMES))])
    if draw(st.booleans()):
        name = "/" + name
    content = draw(st.sampled_from(SEEDS) | mutated() | st.binary(max_size=64))
    return name, content, draw(st.sampled_from(METHODS))


@st.composite
def archive(draw) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are part of the fuzzing
        with zipfile.ZipFile(buf, "w") as zf:
            for name, content, method in draw(st.lists(member(), min_size=1, max_size=10)):
                try:
                    zf.writestr(zipfile.ZipInfo(name or "x"), content, compress_type=method)
                except (ValueError, OSError):
                    continue
    data = bytearray(buf.getvalue())
    for _ in range(draw(st.integers(0, 4))):  # damage the archive itself: headers, CRCs, sizes
        at = draw(st.integers(0, len(data) - 1))
        data[at] = draw(st.integers(0, 255))
    return bytes(data)


@pytest.fixture(scope="module")
def zipdir():
    with tempfile.TemporaryDirectory(prefix="zip-fuzz-") as d:
        yield Path(d)


@settings(_FUZZ, max_examples=1000)
@given(data=archive(), training=st.booleans())
def test_any_zip_is_a_dataset_or_one_data_error(zipdir, data, training):
    path = zipdir / "f.zip"
    path.write_bytes(data)
    try:
        if training:
            ds = load_dataset(str(path), val_fraction=0.2)
        else:
            ds = load_image_folder(path, use_cache=False, workers=2)
    except DataError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg, msg
    else:
        for cls in ds.classes:
            assert cls and cls not in ("..", ".") and "/" not in cls and "\\" not in cls and cls[1:] != ":", cls
        assert all(isinstance(k, str) and v and "\n" not in v for k, v in ds.summary.skipped.items())
        n = len(ds.train) + sum(len(s) for s in (ds.val, ds.test) if s is not None)
        assert n > 0
        if training:
            assert len(set(ds.train.labels.tolist())) >= 2
    assert os.listdir(zipdir) == ["f.zip"]  # nothing extracted, nothing written beside it
