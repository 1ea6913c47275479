"""Photo mode: how a photo of any size becomes the model's small input.

A CIFAR image is a whole scene shrunk to 32x32 by averaging pixels; a phone photo is 12
megapixels in 4:3. Decoding every pixel only to average 100,000 of them into one is waste, so
JPEGs are decoded reduced (libjpeg's DCT scaling, Pillow's ``draft``) to at least four times the
model input, or taken from the photo's own embedded EXIF thumbnail when that thumbnail is at
least twice the model input and shows the same frame. The reduced image is then shrunk with Pillow's antialiased
bicubic filter (an area/box filter measured the same within one photo; see the benchmark).

Which part of the frame the model sees is a *view*: ``crop`` (the centre square), ``full``
(the whole frame squashed to a square) or ``letterbox`` (the whole frame padded to a square).
``benchmarks/photo_mode.py`` measures them on real photos; :data:`DEFAULT_VIEW` is the best
single view measured (averaging crop and full was within half a photo of it, at twice the cost),
and averaging it with its mirror image (:data:`DEFAULT_PHOTO_TTA`) measured better still.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image

# The thumbnail path opens files with exactly the same safety checks as a full decode.
from .decode import one_file, open_checked, open_image, reader
from .framing import (
    DEFAULT_PHOTO_VIEW,
    DEFAULT_RESAMPLING,
    DEFAULT_VIEW,
    PHOTO_VIEW_NAMES,
    PHOTO_VIEWS,
    RESAMPLING,
    VIEW_DESCRIPTIONS,
    VIEW_NAMES,
    VIEWS,
    photo_view,
)

__all__ = [
    "DEFAULT_PHOTO_TTA",
    "DEFAULT_PHOTO_VIEW",
    "DEFAULT_RESAMPLING",
    "DEFAULT_VIEW",
    "PHOTO_VIEWS",
    "PHOTO_VIEW_NAMES",
    "RESAMPLING",
    "VIEWS",
    "VIEW_DESCRIPTIONS",
    "VIEW_NAMES",
    "load_photo",
    "open_photo",
    "photo_view",
]

_logger = logging.getLogger(__name__)

# Photos are classified by default with test-time augmentation level 1: the logits of the view
# and of its left-right mirror, averaged (engine.evaluation.metrics.tta_logits). On photos-dev with the
# bundled model it measured 93.7% macro accuracy against 91.7% for the view alone; for that CIFAR
# net it costs no extra forward pass (its unknown score already runs the mirror image), for the
# photo model it is a second pass (engine.inference.predict runs both in one batch).
DEFAULT_PHOTO_TTA = 1

# The reduced decode keeps at least this many times the model input on the short side, so the
# final downscale still averages several source pixels into each model pixel. Measured on
# photos-dev: 2x changed probabilities by up to 0.11 against a full decode, 4x by up to 0.055
# (one photo's answer instead of two), at no cost for phone photos (still decoded at 1/8).
OVERSAMPLE = 4
# An embedded thumbnail (typically 160x120) needs only twice the model input: the camera made
# it from every pixel with a proper filter, and no answer on photos-dev changed with it.
THUMBNAIL_OVERSAMPLE = 2
# An embedded thumbnail is only trusted when its shape matches the photo's this closely: a
# cropped-then-saved photo with a stale thumbnail, or a 16:9 photo with a letterboxed 4:3
# thumbnail, fails the check and is decoded from the main image instead.
_THUMB_ASPECT_TOLERANCE = 0.02


def _exif_thumbnail(img: Image.Image, min_side: int) -> Image.Image | None:
    """The embedded JPEG thumbnail of ``img`` when it is large enough and shows the same frame."""
    try:
        ifd1 = img.getexif().get_ifd(ExifTags.IFD.IFD1)
        offset, length = ifd1.get(0x0201), ifd1.get(0x0202)  # JPEGInterchangeFormat (+Length)
        raw = img.info.get("exif")
        if not offset or not length or not raw:
            return None
        start = 6 + offset if raw.startswith(b"Exif\x00\x00") else offset  # offsets count from the TIFF header
        thumb = Image.open(io.BytesIO(raw[start : start + length]), formats=("JPEG",))
        if min(thumb.size) < min_side:
            return None
        if abs(thumb.width / thumb.height - img.width / img.height) > _THUMB_ASPECT_TOLERANCE * img.width / img.height:
            return None
        thumb.load()
        return thumb
    except Exception:  # any oddity in the EXIF block: fall back to decoding the photo itself
        return None


# EXIF orientation -> the transpose that shows the picture upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _thumbnail_of(source: str | Path | bytes, min_side: int, name: str | None) -> Image.Image | None:
    """A JPEG's usable embedded thumbnail, turned upright like the photo, or None."""
    label = name or (Path(source).name if not isinstance(source, bytes | bytearray) else "image")
    with one_file(label), reader(source, label) as fp:
        img = open_checked(fp, label)  # the same checks (regular file, bomb limit) as a full decode
        if img.format not in ("JPEG", "MPO"):
            return None
        thumb = _exif_thumbnail(img, min_side)
        if thumb is None:
            return None
        try:
            orientation = img.getexif().get(0x0112, 1)
        except Exception:
            orientation = 1
    return thumb.transpose(_UPRIGHT[orientation]) if orientation in _UPRIGHT else thumb


def open_photo(
    source: str | Path | bytes,
    min_side: int | None = None,
    name: str | None = None,
    thumbnail: bool = True,
    thumbnail_min_side: int | None = None,
) -> Image.Image:
    """Decode ``source`` upright, reduced to no less than ``min_side`` pixels on its short side.

    ``min_side=None`` decodes at full size; ``thumbnail`` allows the embedded EXIF thumbnail when
    its short side is at least ``thumbnail_min_side`` (default ``min_side``). Raises
    :class:`ImageError` with a one-line reason.
    """
    if min_side and thumbnail:
        thumb = _thumbnail_of(source, thumbnail_min_side or min_side, name)
        if thumb is not None:
            return thumb
    return open_image(source, name, min_side)


def load_photo(
    source: str | Path | bytes,
    size: tuple[int, int],
    channels: int,
    view: str = DEFAULT_VIEW,
    name: str | None = None,
    fast: bool = True,
    thumbnail: bool = True,
) -> np.ndarray:
    """Decode ``source`` straight into the model input.

    ``fast=False`` decodes every pixel first; ``thumbnail=False`` keeps the reduced decode but
    never uses an embedded thumbnail.
    """
    min_side = OVERSAMPLE * max(size) if fast else None
    img = open_photo(source, min_side, name, fast and thumbnail, THUMBNAIL_OVERSAMPLE * max(size))
    return photo_view(img, size, channels, view)
