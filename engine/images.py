"""Safe decoding of user images with Pillow, shared by dataset loading and prediction.

Handles what arrives from cameras and the web: EXIF rotation, 16-bit and palette PNGs,
transparency, CMYK, animated GIF/WebP (first frame). Decompression bombs are refused
rather than decoded: Pillow's pixel limit is kept and its warning is treated as an error.
"""

from __future__ import annotations

import io
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError

__all__ = ["GRAY_MODES", "IMAGE_EXTENSIONS", "image_to_array", "load_image_array", "open_image", "probe_image"]

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm"}

# Grayscale modes keep one channel when a dataset is entirely grayscale.
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F", "La"}


@contextmanager
def _pillow_errors(label: str):
    """Turn Pillow's many exception types into one-line :class:`ImageError` messages."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except FileNotFoundError:
        raise ImageError(f"{label}: file not found") from None
    except IsADirectoryError:
        raise ImageError(f"{label}: is a folder, not an image") from None
    except UnidentifiedImageError:
        raise ImageError(f"{label}: not an image Pillow can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"{label}: image too large (over {Image.MAX_IMAGE_PIXELS:,} pixels), refused as a possible "
            "decompression bomb"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageError(f"{label}: truncated or corrupt image ({reason})") from None


def _label(source, name):
    return name or (Path(source).name if not isinstance(source, bytes) else "image")


def probe_image(source: str | Path | bytes, name: str | None = None) -> tuple[tuple[int, int], str]:
    """(width, height) and mode from the header alone: cheap, and refuses bombs before decoding."""
    with _pillow_errors(_label(source, name)):
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:
            return img.size, img.mode


def open_image(source: str | Path | bytes, name: str | None = None) -> Image.Image:
    """Open and fully decode an image; raise :class:`ImageError` with a one-line reason."""
    with _pillow_errors(_label(source, name)):
        img = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)  # animated GIF / WebP: classify the first frame
        img.load()
    try:
        return ImageOps.exif_transpose(img) or img
    except Exception:  # a broken EXIF block should not lose an otherwise good photo
        return img


def _to_mode(img: Image.Image, channels: int) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16/32-bit data: convert("L") would clip at 255, so rescale to 8 bits instead.
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        img = Image.fromarray(np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        # Composite transparency over white, as image viewers show it.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("L" if channels == 1 else "RGB")


def image_to_array(img: Image.Image, size: tuple[int, int], channels: int, crop_square: bool = True) -> np.ndarray:
    """uint8 ``(H, W, C)`` at ``size`` (H, W); a centre square crop keeps photos undistorted."""
    img = _to_mode(img, channels)
    if crop_square and img.width != img.height:
        side = min(img.size)
        img = ImageOps.fit(img, (side, side))
    if img.size != (size[1], size[0]):
        img = img.resize((size[1], size[0]), Image.Resampling.BICUBIC, reducing_gap=3.0)
    arr = np.array(img, dtype=np.uint8)  # a writable copy (torch.from_numpy warns on read-only)
    return arr[:, :, None] if arr.ndim == 2 else arr


def load_image_array(
    source: str | Path | bytes, size: tuple[int, int], channels: int, name: str | None = None
) -> np.ndarray:
    """Decode ``source`` into the uint8 array a model with that input expects."""
    return image_to_array(open_image(source, name), size, channels)
