"""What the Teach tab's parts share: timings, file filters, texts and limits."""

from __future__ import annotations

__all__ = ["DEBOUNCE_MS", "EMPTY", "IMAGE_FILTER", "MAX_LINES", "PASTED"]

DEBOUNCE_MS = 1000  # training starts this long after the last change
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.gif *.ppm *.pgm);;All files (*)"
EMPTY = (
    "Add class… makes a class: then drop photos or folders of it on it.\n\n"
    "Or drop here a folder with one sub-folder of photos per class (Import folder…)."
)
MAX_LINES = 8  # per-file lines shown in the message bar; the rest are counted (all are in the log)
PASTED = ".pasted"  # where a project keeps image data pasted or dropped into a class
