"""Test and benchmark photos shaped like a phone camera's: large JPEGs with an EXIF
orientation and an embedded EXIF thumbnail (the IFD1 JPEG that cameras write)."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["exif_with_thumbnail", "phone_jpeg"]


def exif_with_thumbnail(thumbnail_jpeg: bytes | None, orientation: int = 1) -> bytes:
    """Raw EXIF (APP1 payload): IFD0 with the orientation, IFD1 pointing at the thumbnail."""
    ifd1_at = 8 + 2 + 12 + 4
    thumb_at = ifd1_at + 2 + 3 * 12 + 4
    tiff = b"II*\x00" + struct.pack("<I", 8)
    tiff += struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, orientation)
    tiff += struct.pack("<I", ifd1_at if thumbnail_jpeg else 0)
    if thumbnail_jpeg:
        tiff += struct.pack("<H", 3)
        tiff += struct.pack("<HHII", 0x0103, 3, 1, 6)  # compression: JPEG
        tiff += struct.pack("<HHII", 0x0201, 4, 1, thumb_at)
        tiff += struct.pack("<HHII", 0x0202, 4, 1, len(thumbnail_jpeg))
        tiff += struct.pack("<I", 0) + thumbnail_jpeg
    return b"Exif\x00\x00" + tiff


def phone_jpeg(
    path: Path,
    source: Image.Image,
    megapixels: float = 12.0,
    orientation: int = 1,
    thumbnail: tuple[int, int] | None = (160, 120),
    noise: float = 6.0,
    seed: int = 0,
    quality: int = 92,
) -> Path:
    """Write ``source`` upscaled to ``megapixels`` (4:3 landscape, plus sensor-like noise so the
    file is as large as a real photo's) as a JPEG stored for ``orientation``, with an embedded
    thumbnail of the stored pixels (as a camera writes it) unless ``thumbnail`` is None."""
    w = round((megapixels * 1e6 * 4 / 3) ** 0.5)
    h = w * 3 // 4
    big = source.convert("RGB").resize((w, h), Image.Resampling.BILINEAR)
    arr = np.asarray(big, dtype=np.float32)
    arr += np.random.default_rng(seed).normal(0, noise, arr.shape).astype(np.float32)
    stored = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    # Stored pixels are the displayed picture turned back (what a camera held sideways writes).
    undo = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
    if orientation in undo:
        stored = stored.transpose(undo[orientation])
    thumb_bytes = None
    if thumbnail is not None:
        t = stored.resize(thumbnail if stored.width >= stored.height else thumbnail[::-1], Image.Resampling.BOX)
        buf = io.BytesIO()
        t.save(buf, "JPEG", quality=85)
        thumb_bytes = buf.getvalue()
    stored.save(path, "JPEG", quality=quality, exif=exif_with_thumbnail(thumb_bytes, orientation))
    return path
