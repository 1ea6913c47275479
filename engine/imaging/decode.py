"""Safe decoding of user images with Pillow, shared by dataset loading and prediction.

One boundary (:func:`one_file`) turns *any* failure while reading one file into that file's
:class:`ImageError` with a one-line reason, so a single bad file never aborts a batch.
Inside it:

* only regular files are opened (a FIFO, device or socket named ``x.jpg`` is refused without
  blocking), and only the formats in :data:`IMAGE_EXTENSIONS` are decoded (a PostScript file
  named ``.jpg`` never reaches Ghostscript);
* the decompression-bomb limit is checked from the header, before any pixel is decoded, by
  plain arithmetic (no process-global warning filters: images are decoded on thread pools);
* only the first frame/page is decoded (counting the frames of a GIF or TIFF can take
  seconds, or fail);
* with ``min_side`` a JPEG is decoded at a reduced scale (libjpeg's DCT scaling, "draft"
  mode) that keeps its shorter side at least that long: a 12 MP photo meant for a 32x32
  model decodes several times faster, and the antialiased resize after it gives nearly the
  same pixels (``tests/test_fast_decode.py``).

Camera and web quirks are handled: EXIF rotation, 16-bit and palette images, transparency
(composited over white), CMYK. Phone formats too: HEIC/HEIF (iPhone photos) through the
``pillow-heif`` plugin and AVIF through Pillow's own, each listed in :data:`IMAGE_EXTENSIONS`
only where its decoder is installed, and read through the same boundary (header checks first,
first image only).
"""

from __future__ import annotations

import importlib.util
import io
import os
import stat
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageMode, ImageOps, UnidentifiedImageError

from ..errors import ImageError
from .framing import DEFAULT_VIEW, photo_view, to_mode

# Imports inside functions: pillow_heif is optional (HEIC photos), and PIL.features probes codecs
# only when a file needs the answer.

__all__ = [
    "AVIF_EXTENSIONS",
    "GRAY_MODES",
    "HEIF_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "check_regular",
    "decode_array",
    "image_to_array",
    "load_image_array",
    "natural_channels",
    "one_file",
    "open_checked",
    "open_image",
    "pillow_formats",
    "probe_image",
    "reader",
    "to_mode",
]


def _heif_available() -> bool:
    return importlib.util.find_spec("pillow_heif") is not None  # found without importing it


def _avif_available() -> bool:
    from PIL import features

    try:  # Pillow 11.2+ built with libavif: its own plugin (pillow-heif 1.x no longer reads AVIF)
        return importlib.util.find_spec("PIL.AvifImagePlugin") is not None and bool(features.check_module("avif"))
    except (ValueError, ImportError):  # "avif" unknown to an older Pillow
        return False


HEIF_EXTENSIONS = {".heic", ".heif"}
AVIF_EXTENSIONS = {".avif"}
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm"}
IMAGE_EXTENSIONS |= HEIF_EXTENSIONS if _heif_available() else set()
IMAGE_EXTENSIONS |= AVIF_EXTENSIONS if _avif_available() else set()

# Grayscale modes keep one channel when a dataset is entirely grayscale.
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F", "La"}
_EXIF_ORIENTATION = 0x0112

Source = str | Path | bytes


@cache
def pillow_formats() -> tuple[str, ...]:
    """Pillow format names for :data:`IMAGE_EXTENSIONS`: the only decoders ever used.

    Only the plugins of these formats are imported. ``Image.registered_extensions()`` would run
    Pillow's ``init()``, importing every plugin (about 40 modules): on a decoding thread pool that
    held the GIL for ~130 ms and stalled the window (benchmarks/gui_responsiveness.py --scenario
    decode --trace-stalls). With ``formats`` given, ``Image.open`` never calls ``init()`` for a
    format whose plugin is loaded.
    """
    from PIL import (  # noqa: F401  (importing registers the decoders)
        BmpImagePlugin,
        GifImagePlugin,
        JpegImagePlugin,
        PngImagePlugin,
        PpmImagePlugin,
        TiffImagePlugin,
        WebPImagePlugin,
    )

    if AVIF_EXTENSIONS <= IMAGE_EXTENSIONS:
        from PIL import AvifImagePlugin  # noqa: F401
    if HEIF_EXTENSIONS <= IMAGE_EXTENSIONS:
        import pillow_heif

        # Registers the "HEIF" format for .heic/.heif. Its thumbnails are not offered as frames,
        # so only the primary image is ever decoded, as for every other format.
        pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

    return tuple(sorted({Image.EXTENSION[e] for e in IMAGE_EXTENSIONS if e in Image.EXTENSION}))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= 160 else line[:157] + "..."


def _too_large(label: str) -> ImageError:
    return ImageError(
        f"{label}: image too large (over {Image.MAX_IMAGE_PIXELS or 0:,} pixels), "
        "refused as a possible decompression bomb"
    )


@contextmanager
def one_file(label: str):
    """The boundary: whatever goes wrong while reading one file becomes its one-line ImageError."""
    try:
        yield
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{label}: file not found") from None
    except IsADirectoryError:
        raise ImageError(f"{label}: is a folder, not an image") from None
    except PermissionError:
        raise ImageError(f"{label}: permission denied") from None
    except UnidentifiedImageError:
        raise ImageError(f"{label}: not an image in a supported format ({', '.join(pillow_formats())})") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(label) from None
    except MemoryError:
        raise ImageError(f"{label}: too large to decode in the memory available") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{label}: truncated or corrupt image ({_first_line(exc)})") from None
    except Exception as exc:  # e.g. IndexError from a corrupt GIF: still this file's error
        raise ImageError(f"{label}: corrupt image ({type(exc).__name__}: {_first_line(exc)})") from None


def _label(source: Source, name: str | None) -> str:
    return name or (Path(source).name if not isinstance(source, bytes | bytearray) else "image")


def _file_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a plain file"


def check_regular(mode: int, label: str) -> None:
    """Raise the ImageError for anything but a regular file (``mode`` from ``os.stat``)."""
    if stat.S_ISDIR(mode):
        raise ImageError(f"{label}: is a folder, not an image")
    if not stat.S_ISREG(mode):
        raise ImageError(f"{label}: not a regular file ({_file_kind(mode)}), not opened")


def _open_regular(path: str | Path, label: str):
    """A binary file object for ``path``, refusing FIFOs, devices and sockets without blocking.

    ``stat`` first (opening a FIFO for reading blocks until a writer appears), then open with
    O_NONBLOCK and check the opened descriptor again, in case the path was swapped in between.
    """
    check_regular(os.stat(path).st_mode, label)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        check_regular(os.fstat(fd).st_mode, label)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_header(img: Image.Image, label: str) -> None:
    """Refuse a decompression bomb from the header: pixels and bytes, before any decoding."""
    limit = Image.MAX_IMAGE_PIXELS  # read on each call, so a changed limit applies at once
    if not limit:
        return
    w, h = img.size
    mode = ImageMode.getmode(img.mode)
    bytes_per_pixel = len(mode.bands) * int(mode.typestr[-1])
    # 4 bytes per pixel is RGBA/CMYK at the pixel limit: wider modes get proportionally fewer pixels.
    if w * h > limit or w * h * bytes_per_pixel > 4 * limit:
        raise _too_large(label)


def open_checked(fp, label: str) -> Image.Image:
    """Parse the header (supported formats only) and refuse bombs; nothing decoded yet."""
    img = Image.open(fp, formats=pillow_formats())
    _check_header(img, label)
    return img


def _load(img: Image.Image, min_side: int | None) -> Image.Image:
    """Decode the first frame/page, EXIF-rotated.

    Image.open is positioned on the first frame; n_frames (which walks every frame of a
    GIF or TIFF: seconds for 50,000 pages, an IndexError for some corrupt GIFs) is never asked.
    """
    if min_side and img.format in ("JPEG", "MPO"):
        img.draft(None, (min_side, min_side))  # libjpeg scales by 1/2..1/8, never below min_side
    img.load()
    try:
        orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # a broken EXIF block must not lose an otherwise good photo
        orientation = 1
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        try:
            img = ImageOps.exif_transpose(img)
        except Exception:  # same: keep the unrotated pixels
            pass
    return img


def reader(source: Source, label: str):
    """A file object for ``source`` (bytes or a path to a regular file)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(source)
    return _open_regular(source, label)


def _decode(source: Source, label: str, min_side: int | None) -> Image.Image:
    with reader(source, label) as fp:
        return _load(open_checked(fp, label), min_side)


def probe_image(source: Source, name: str | None = None) -> tuple[tuple[int, int], str]:
    """(width, height) and mode from the header alone: cheap, and refuses bombs before decoding."""
    label = _label(source, name)
    with one_file(label), reader(source, label) as fp:
        img = open_checked(fp, label)
        return img.size, img.mode


def open_image(source: Source, name: str | None = None, min_side: int | None = None) -> Image.Image:
    """Open and decode an image (first frame, EXIF-rotated); raise :class:`ImageError` with a one-line reason.

    ``source`` is a path or the file's bytes; ``name`` labels error messages. ``min_side``
    (optional) allows a reduced-scale decode where the format supports it (JPEG) as long as
    the shorter side stays at least ``min_side`` pixels; pass twice the size you will resize to.
    """
    label = _label(source, name)
    with one_file(label):
        return _decode(source, label, min_side)


def _to_array(img: Image.Image, size: tuple[int, int] | None, channels: int, view: str | None = None) -> np.ndarray:
    """uint8 ``(H, W, C)``; with ``size``, framed by :func:`engine.imaging.framing.photo_view`.

    Framing is photo mode's, ``view`` None meaning its default: a model trained on a folder of
    photos then sees each photo the way ``predict`` will show it one later.
    """
    if size is not None:
        return photo_view(img, size, channels, view or DEFAULT_VIEW)
    arr = np.array(to_mode(img, channels), dtype=np.uint8)  # a writable copy (torch.from_numpy warns on read-only)
    return arr[:, :, None] if arr.ndim == 2 else arr


def image_to_array(img: Image.Image, size: tuple[int, int], channels: int, view: str | None = None) -> np.ndarray:
    """uint8 ``(H, W, C)`` at ``size`` (H, W), framed as ``predict`` frames photos (``view``: see framing)."""
    with one_file("image"):
        return _to_array(img, size, channels, view)


def load_image_array(
    source: Source,
    size: tuple[int, int],
    channels: int,
    name: str | None = None,
    min_side: int | None = None,
) -> np.ndarray:
    """Decode ``source`` into the uint8 array a model with that input expects.

    ``min_side``: see :func:`open_image`; ``2 * max(size)`` gives the fast path that keeps the
    resized pixels within a few levels of a full decode.
    """
    label = _label(source, name)
    with one_file(label):
        return _to_array(_decode(source, label, min_side), size, channels)


def natural_channels(mode: str) -> int:
    """1 for grayscale modes, 3 for everything else (colour, palette, CMYK...)."""
    return 1 if mode in GRAY_MODES else 3


def decode_array(
    source: Source,
    size: tuple[int, int] | None = None,
    name: str | None = None,
    min_side: int | None = None,
    max_pixels: int | None = None,
    view: str | None = None,
) -> tuple[np.ndarray | None, tuple[int, int], int]:
    """Dataset decoding: ``(array, (height, width), channels)`` in one read of the file.

    ``channels`` is the image's own (1 for grayscale, else 3) and so is the array's. ``size``
    (H, W) frames (photo ``view``, default predict's) and resizes to it; without
    it the image keeps its size, and an image over ``max_pixels`` is not decoded at all
    (``array`` is None): the caller reads it again once it knows the size, instead of holding
    full-size photos in memory.
    """
    label = _label(source, name)
    with one_file(label), reader(source, label) as fp:
        img = open_checked(fp, label)
        channels = natural_channels(img.mode)
        if size is None and max_pixels is not None and img.width * img.height > max_pixels:
            return None, (img.height, img.width), channels
        arr = _to_array(_load(img, min_side if size is not None else None), size, channels, view)
        return arr, arr.shape[:2], channels
