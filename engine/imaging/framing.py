"""Framing: a decoded image shaped into the model input.

A *view* says which part of the frame the model sees (``crop``, ``full``, ``letterbox``; see
engine/imaging/photo.py for how they were measured); :func:`to_mode` makes any Pillow mode 8-bit
grayscale or RGB; :func:`photo_view` crops or pads and resizes. Dataset decoding
(engine/imaging/decode.py) and photo mode (engine/imaging/photo.py) both frame through here.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

from ..errors import ConfigError

__all__ = [
    "DEFAULT_PHOTO_VIEW",
    "DEFAULT_RESAMPLING",
    "DEFAULT_VIEW",
    "PHOTO_VIEWS",
    "PHOTO_VIEW_NAMES",
    "RESAMPLING",
    "VIEWS",
    "VIEW_DESCRIPTIONS",
    "VIEW_NAMES",
    "photo_view",
    "to_mode",
]

# Each view in words, as the export sidecar's ``input.resize`` tells other runtimes.
VIEW_DESCRIPTIONS = {
    "crop": "the centred region with the input's aspect ratio, resized to height x width",
    "full": "the whole photo resized to height x width (its aspect ratio is not kept)",
    "letterbox": "the whole photo padded with its mean colour to the input's aspect ratio, then resized",
}
VIEWS = tuple(VIEW_DESCRIPTIONS)
# Each view in a few words, as results show it beside the answer.
VIEW_NAMES = {"crop": "centre square", "full": "whole photo", "letterbox": "whole photo, padded"}
# Chosen by benchmarks/photo_mode.py on photos-dev (see the model card's "Photo mode" section).
DEFAULT_VIEW = "full"
PHOTO_VIEWS, DEFAULT_PHOTO_VIEW, PHOTO_VIEW_NAMES = VIEWS, DEFAULT_VIEW, VIEW_NAMES  # as engine/__init__ exports them
RESAMPLING = {"box": Image.Resampling.BOX, "bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS}
DEFAULT_RESAMPLING = "bicubic"

_ALPHA_MODES = ("RGBA", "LA", "La", "RGBa", "PA")
_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def to_mode(img: Image.Image, channels: int) -> Image.Image:
    """``img`` as 8-bit "L" (``channels`` 1) or "RGB": wide modes rescaled, transparency over white."""
    if img.mode in _WIDE_MODES:
        # 16/32-bit data: convert("L") would clip at 255, so rescale to 8 bits instead.
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        img = Image.fromarray(np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in _ALPHA_MODES:
        # Composite transparency over white, as image viewers show it.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba).convert("RGB")
    want = "L" if channels == 1 else "RGB"
    return img if img.mode == want else img.convert(want)


def photo_view(
    img: Image.Image, size: tuple[int, int], channels: int, view: str = DEFAULT_VIEW, resample: str = DEFAULT_RESAMPLING
) -> np.ndarray:
    """The uint8 ``(H, W, C)`` model input for ``img`` under ``view`` (see :data:`VIEWS`)."""
    if view not in VIEWS:
        raise ConfigError("view", f"unknown photo view {view!r}; choose one of {', '.join(VIEWS)}")
    img = to_mode(img, channels)
    h, w = size
    if view == "crop" and img.width * h != img.height * w:
        # The largest centred region with the model's aspect ratio.
        scale = min(img.width / w, img.height / h)
        cw, ch = round(w * scale), round(h * scale)
        left, top = (img.width - cw) // 2, (img.height - ch) // 2
        img = img.crop((left, top, left + cw, top + ch))
    elif view == "letterbox" and img.width * h != img.height * w:
        # Pad with the photo's mean colour: a neutral border carries no class evidence.
        mean = np.asarray(img).reshape(-1, channels).mean(0).round().astype(int)
        fill = int(mean[0]) if channels == 1 else tuple(int(v) for v in mean)
        img = ImageOps.pad(img, (max(img.width, img.height * w // h), max(img.height, img.width * h // w)), color=fill)
    if img.size != (w, h):
        img = img.resize((w, h), RESAMPLING[resample], reducing_gap=None if resample == "box" else 3.0)
    arr = np.array(img, dtype=np.uint8)  # a writable copy (torch.from_numpy warns on read-only)
    return arr[:, :, None] if arr.ndim == 2 else arr
