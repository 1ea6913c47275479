"""The image reader against hostile files: every failure is that file's one-line ImageError.

Covers issue 8's "Images" class: exceptions Pillow does not document (IndexError from a
corrupt GIF), files that are not regular files (FIFO, device, socket), formats outside the
allow-list (PostScript named .jpg never reaches Ghostscript), many-page TIFFs (first page
only), the decompression-bomb check without warning filters, and permission errors.
"""

from __future__ import annotations

import io
import os
import socket
import threading
import time
import warnings

import numpy as np
import pytest
from PIL import Image, ImageFile

from engine.errors import ImageError
from engine.imaging.decode import decode_array, load_image_array, open_image, pillow_formats, probe_image


def _png(size=(16, 12), colour=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def _one_line_error(fn, *args, **kwargs) -> str:
    with pytest.raises(ImageError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert msg and "\n" not in msg, msg
    return msg


def _within(seconds: float, fn, *args):
    """Run ``fn`` in a thread; fail (instead of hanging the suite) if it blocks."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # handed to the test thread
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"{fn.__name__} blocked for over {seconds} s"
    if "error" in box:
        raise box["error"]
    return box.get("value")


# ---------------------------------------------------------------------------- any exception
def test_an_undocumented_pillow_exception_is_that_files_image_error(tmp_path, monkeypatch):
    """A corrupt GIF makes Pillow raise IndexError: it must stay that file's error."""
    good = tmp_path / "good.png"
    good.write_bytes(_png())
    bad = tmp_path / "bad.gif"
    Image.new("P", (8, 8)).save(bad, "GIF")
    real_load = ImageFile.ImageFile.load

    def load(self):
        if getattr(self, "format", None) == "GIF":
            raise IndexError("list index out of range")
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    results = []
    for path in (good, bad, good):  # a batch: the bad file in the middle
        try:
            results.append(load_image_array(path, (8, 8), 3).shape)
        except ImageError as exc:
            results.append(str(exc))
    assert results[0] == results[2] == (8, 8, 3)
    assert results[1].startswith("bad.gif: corrupt image (IndexError")


def test_errors_after_decoding_are_the_files_errors_too(monkeypatch):
    """Conversion and resizing run inside the same boundary as decoding."""

    def broken_resize(self, *args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(Image.Image, "resize", broken_resize)
    msg = _one_line_error(load_image_array, _png(), (4, 4), 3, name="x.png")
    assert msg == "x.png: corrupt image (ZeroDivisionError: division by zero)"


def test_frame_counting_is_never_done(tmp_path, monkeypatch):
    """n_frames walks every frame (a 50,000-page TIFF takes 25 s): only the first is read."""
    frames = [Image.new("RGB", (8, 8), (i, 255 - i, 0)) for i in range(0, 250, 5)]
    tif, gif = tmp_path / "pages.tif", tmp_path / "anim.gif"
    frames[0].save(tif, save_all=True, append_images=frames[1:])
    frames[0].save(gif, save_all=True, append_images=frames[1:])

    def forbidden(self):
        raise AssertionError("n_frames was asked")

    from PIL import GifImagePlugin, TiffImagePlugin

    monkeypatch.setattr(TiffImagePlugin.TiffImageFile, "n_frames", property(forbidden))
    monkeypatch.setattr(GifImagePlugin.GifImageFile, "n_frames", property(forbidden))
    for path in (tif, gif):
        arr = load_image_array(path, (8, 8), 3)
        assert abs(int(arr[..., 0].mean()) - 0) <= 2 and abs(int(arr[..., 1].mean()) - 255) <= 2  # frame 0


def _many_page_tiff(pages: int) -> bytes:
    """A little-endian TIFF of ``pages`` 4x4 grey pages sharing one strip (5 MB for 50,000)."""
    import struct

    tags = [(256, 3, 4), (257, 3, 4), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8), (278, 3, 4), (279, 4, 16)]
    out = bytearray(b"II*\x00" + struct.pack("<I", 24) + bytes([7]) * 16)
    for i in range(pages):
        start = len(out)
        out += struct.pack("<H", len(tags))
        for tag, kind, value in tags:
            out += struct.pack("<HHII", tag, kind, 1, value)
        out += struct.pack("<I", 0 if i == pages - 1 else start + 2 + 12 * len(tags) + 4)
    return bytes(out)


def test_a_many_page_tiff_costs_one_page(tmp_path):
    path = tmp_path / "many.tif"
    path.write_bytes(_many_page_tiff(50_000))
    with Image.open(path) as check:  # the fixture really is a 50,000-page TIFF (slow to count)
        assert check.size == (4, 4)
    t0 = time.perf_counter()
    arr = load_image_array(path, (4, 4), 1)
    assert time.perf_counter() - t0 < 0.5
    assert (arr == 7).all()


# ---------------------------------------------------------------------------- regular files only
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_named_like_an_image_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    for fn in (load_image_array, decode_array):
        with pytest.raises(ImageError) as info:
            _within(5, fn, fifo, (8, 8)) if fn is decode_array else _within(5, fn, fifo, (8, 8), 3)
        assert str(info.value) == "photo.jpg: not a regular file (a FIFO), not opened"
    with pytest.raises(ImageError):
        _within(5, probe_image, fifo)


def test_a_device_is_refused(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    link = tmp_path / "endless.png"
    link.symlink_to("/dev/zero")  # a link is judged by what it points to
    msg = _one_line_error(_within, 5, open_image, link)
    assert "not a regular file (a character device)" in msg


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no unix sockets")
def test_a_socket_is_refused(tmp_path):
    path = tmp_path / "s.png"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(path))
        msg = _one_line_error(_within, 5, open_image, path)
        assert "not a regular file (a socket)" in msg
    finally:
        server.close()


def test_folder_missing_file_and_permission_errors_say_so(tmp_path, monkeypatch):
    assert "is a folder" in _one_line_error(open_image, tmp_path)
    assert "file not found" in _one_line_error(open_image, tmp_path / "gone.png")
    locked = tmp_path / "locked.png"
    locked.write_bytes(_png())
    real_open = os.open

    def deny(path, *args, **kwargs):  # chmod 000 does not stop root, so deny the open itself
        if str(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    assert _one_line_error(load_image_array, locked, (8, 8), 3) == "locked.png: permission denied"


# ---------------------------------------------------------------------------- supported formats only
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto 10 10 lineto stroke\nshowpage\n"


def test_postscript_named_jpg_never_reaches_ghostscript(tmp_path, monkeypatch):
    from PIL import EpsImagePlugin

    calls = []
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(EpsImagePlugin, "has_ghostscript", lambda: True)
    path = tmp_path / "invoice.jpg"
    path.write_bytes(EPS)
    msg = _one_line_error(load_image_array, path, (8, 8), 3)
    assert "not an image in a supported format" in msg and not calls
    assert "EPS" not in pillow_formats() and "JPEG" in pillow_formats() and "PNG" in pillow_formats()


def test_a_png_named_jpg_is_still_read(tmp_path):
    path = tmp_path / "really_a_png.jpg"
    path.write_bytes(_png())
    assert load_image_array(path, (4, 4), 3).shape == (4, 4, 3)


# ---------------------------------------------------------------------------- decompression bombs
def test_bomb_check_needs_no_warning_filters(monkeypatch):
    """Refused from the header whatever the warning filters, and the filters are never touched."""
    data = _png((100, 100))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)

    def no_catch(*a, **k):
        raise AssertionError("process-global warning filters used")

    monkeypatch.setattr(warnings, "catch_warnings", no_catch)
    before = list(warnings.filters)
    for action in ("ignore", "default", "error"):
        warnings.simplefilter(action, Image.DecompressionBombWarning)
        try:
            msg = _one_line_error(load_image_array, data, (8, 8), 3, name="bomb.png")
        finally:
            warnings.filters[:] = before
        assert msg.startswith("bomb.png: image too large")
    # 2x over the limit: Pillow itself raises DecompressionBombError, reported the same way
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert "too large" in _one_line_error(probe_image, data, name="bomb.png")


def test_bytes_per_pixel_count_too(monkeypatch):
    """A 32-bit float image at the pixel limit holds as many bytes as RGBA: wider modes are refused sooner."""
    buf = io.BytesIO()
    Image.new("F", (60, 60)).save(buf, "TIFF")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3700)  # 3,600 pixels pass ...
    load_image_array(buf.getvalue(), (4, 4), 1)
    buf2 = io.BytesIO()
    Image.new("RGBA", (60, 60)).save(buf2, "TIFF")
    load_image_array(buf2.getvalue(), (4, 4), 3)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3599)
    assert "too large" in _one_line_error(load_image_array, buf.getvalue(), (4, 4), 1)


def test_bombs_refused_on_many_threads_while_good_images_decode():
    """Thread safety: refusals on some threads never leak into decodes on others."""
    from concurrent.futures import ThreadPoolExecutor

    good, big = _png((32, 32)), _png((400, 400))
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = 40_000  # 400x400 = 160,000 pixels: refused, 32x32 passes
    try:

        def one(i):
            try:
                return load_image_array(big if i % 2 else good, (8, 8), 3).shape
            except ImageError as exc:
                return "too large" in str(exc)

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(one, range(200)))
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    assert results[0::2] == [(8, 8, 3)] * 100 and results[1::2] == [True] * 100


# ---------------------------------------------------------------------------- camera quirks kept
def test_exif_rotation_cmyk_16_bit_and_palette_still_handled():
    # EXIF orientation 6 (rotate 90° clockwise to view): a 20x10 stored image shows as 10x20
    img = Image.new("RGB", (20, 10), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 10, 10))  # left half blue as stored
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif, quality=95)
    arr, shape, channels = decode_array(buf.getvalue())
    assert shape == (20, 10) and channels == 3
    assert arr[2, 5, 2] > 200 and arr[17, 5, 0] > 200  # stored left (blue) is now on top
    cmyk = io.BytesIO()
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(cmyk, "JPEG")  # pure red in CMYK
    assert load_image_array(cmyk.getvalue(), (4, 4), 3)[..., 0].min() > 200
    deep = io.BytesIO()
    Image.fromarray(np.full((8, 8), 65535 // 2, np.uint16)).save(deep, "PNG")  # 16-bit mid-grey
    assert abs(int(load_image_array(deep.getvalue(), (4, 4), 1).mean()) - 128) <= 1
    pal = Image.new("P", (8, 8), 1)
    pal.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    p = io.BytesIO()
    pal.save(p, "PNG")
    np.testing.assert_array_equal(load_image_array(p.getvalue(), (2, 2), 3)[0, 0], [10, 200, 30])


# ---------------------------------------------------------------------------- issue 21: phone formats
def _phone_photo(tmp_path, fmt: str, suffix: str, size=(64, 48), colour=(200, 30, 30)):
    """A tiny HEIC (written by pillow-heif) or AVIF (Pillow's own plugin), made here."""
    if fmt == "HEIF":
        pillow_heif = pytest.importorskip("pillow_heif")
        pillow_heif.register_heif_opener()
    else:
        from PIL import features

        if not features.check_module("avif"):
            pytest.skip("this Pillow has no AVIF support")
    path = tmp_path / f"photo{suffix}"
    Image.new("RGB", size, colour).save(path, format=fmt)
    return path


@pytest.mark.parametrize(("fmt", "suffix"), [("HEIF", ".heic"), ("HEIF", ".HEIF"), ("AVIF", ".avif")])
def test_iphone_heic_and_avif_photos_are_read(tmp_path, fmt, suffix):
    """HEIC/HEIF (iPhone) and AVIF photos were "not an image in a supported format"."""
    from engine.imaging.decode import IMAGE_EXTENSIONS

    path = _phone_photo(tmp_path, fmt, suffix)
    assert suffix.lower() in IMAGE_EXTENSIONS  # so folders and file dialogs include them
    assert probe_image(path)[0] == (64, 48)
    arr = load_image_array(path, (32, 32), 3)
    assert arr.shape == (32, 32, 3)
    assert abs(int(arr[..., 0].mean()) - 200) < 25 and int(arr[..., 1].mean()) < 70  # red, lossy codecs
    assert decode_array(path.read_bytes(), (16, 16), name=path.name)[0].shape == (16, 16, 3)


@pytest.mark.parametrize(("fmt", "suffix"), [("HEIF", ".heic"), ("AVIF", ".avif")])
def test_hostile_heic_and_avif_are_that_files_one_line_error(tmp_path, monkeypatch, fmt, suffix):
    good = _phone_photo(tmp_path, fmt, suffix).read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(good[: len(good) // 2])
    assert "cut" in _one_line_error(load_image_array, cut, (32, 32), 3)
    noise = tmp_path / f"noise{suffix}"
    noise.write_bytes(np.random.default_rng(0).bytes(2048))
    assert "not an image in a supported format" in _one_line_error(open_image, noise)
    fake = tmp_path / f"text{suffix}"
    fake.write_bytes(good[:32] + b"\x00" * 64)  # a real header, no image data
    _one_line_error(open_image, fake)
    # the bomb check reads the header, before any pixel is decoded
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert "too large" in _one_line_error(probe_image, good, name=f"big{suffix}")
    assert "too large" in _one_line_error(load_image_array, good, (32, 32), 3, name=f"big{suffix}")


def test_a_folder_of_phone_photos_is_listed_and_predicted(tmp_path):
    """Folders (and so datasets and predict) include the new formats."""
    from engine.inference.predict import expand_inputs

    pytest.importorskip("pillow_heif")
    folder = tmp_path / "photos"
    folder.mkdir()
    heic = _phone_photo(folder, "HEIF", ".heic")
    files = expand_inputs([folder])
    assert heic in [type(heic)(f) for f in files]
