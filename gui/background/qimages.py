"""Turning arrays and files into crisp images: uint8 arrays to QImage, nearest-neighbour
enlargement (so the 32x32 input's pixels stay visible), Grad-CAM overlays, photo loading."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QImageReader, QPainter, QPixmap

# Imports inside functions: numpy is imported by the worker threads that convert arrays; the GUI
# thread's start-up does not need it.

if TYPE_CHECKING:  # numpy itself is imported on use: it is not needed to open the window
    import numpy as np

__all__ = ["array_to_qimage", "colorize", "enlarge", "heatmap_overlay", "load_photo", "shrink", "to_pixmap"]

# Anchor colours of a perceptually ordered dark-to-bright map (like "inferno") for heatmaps.
_MAP = [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]]


def array_to_qimage(array: np.ndarray) -> QImage:
    """A deep copy of a uint8 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array as a QImage."""
    import numpy as np

    a = np.ascontiguousarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = np.ascontiguousarray(a[:, :, 0])
    h, w = a.shape[:2]
    if a.ndim == 2:
        fmt, channels = QImage.Format.Format_Grayscale8, 1
    elif a.shape[2] == 3:
        fmt, channels = QImage.Format.Format_RGB888, 3
    else:
        fmt, channels = QImage.Format.Format_RGBA8888, 4
    return QImage(a.data, w, h, w * channels, fmt).copy()  # copy: the QImage must own its pixels


def enlarge(image: QImage, size: int, smooth: bool = False) -> QImage:
    """Scale to fit ``size`` x ``size`` pixels; nearest-neighbour unless ``smooth``."""
    mode = Qt.TransformationMode.SmoothTransformation if smooth else Qt.TransformationMode.FastTransformation
    return image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, mode)


def shrink(image: QImage, max_side: int) -> QImage:
    """``image`` smoothly reduced to fit ``max_side`` (as it is when it already fits)."""
    if max(image.width(), image.height()) <= max_side:
        return image
    return enlarge(image, max_side, smooth=True)


def colorize(heat: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """(H, W) values in [0, 1] to RGBA uint8 through the heat colour map; transparency grows
    as the value falls, so cold regions leave the image visible."""
    import numpy as np

    cmap = np.array(_MAP, dtype=np.float32)
    h = np.clip(np.nan_to_num(heat.astype(np.float32)), 0, 1)
    pos = h * (len(cmap) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(cmap) - 2)
    t = (pos - lo)[..., None]
    rgb = cmap[lo] * (1 - t) + cmap[lo + 1] * t
    a = (alpha * (0.25 + 0.75 * h) * 255)[..., None]
    return np.concatenate([rgb, a], axis=-1).round().astype(np.uint8)


def heatmap_overlay(input_image: np.ndarray, heat: np.ndarray, size: int) -> QImage:
    """The model input enlarged (pixels visible) with the Grad-CAM map blended on top (smooth)."""
    base = enlarge(array_to_qimage(input_image), size)
    overlay = enlarge(array_to_qimage(colorize(heat)), base.width(), smooth=True)
    result = base.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(result)
    painter.drawImage(
        0,
        0,
        overlay.scaled(base.size(), Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation),
    )
    painter.end()
    return result


def load_photo(path: str, max_side: int) -> QImage | None:
    """Decode a photo at (about) display size, EXIF rotation applied; None if unreadable.

    Only regular files are opened: reading a FIFO named like an image would block the
    calling thread (here: the GUI thread, for the Predict tab's preview) forever.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
    except OSError:
        return None
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    full = reader.size()
    if not full.isValid() or full.width() * full.height() > 200_000_000:
        return None  # unreadable, or too large to decode safely (the engine refuses those too)
    if max(full.width(), full.height()) > max_side:
        reader.setScaledSize(full.scaled(QSize(max_side, max_side), Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    return None if image.isNull() else image


def to_pixmap(image: QImage, logical_size: int, ratio: float, smooth: bool = True) -> QPixmap:
    """A pixmap filling ``logical_size`` logical pixels at device-pixel ``ratio`` (sharp on high DPI)."""
    device = max(1, round(logical_size * ratio))
    scaled = enlarge(image, device, smooth=smooth)
    pixmap = QPixmap.fromImage(scaled)
    pixmap.setDevicePixelRatio(ratio)
    return pixmap
