"""Imaging: how a file becomes pixels. ``decode`` opens any image safely (formats, limits, EXIF
orientation), ``framing`` shapes it into the model input (views, resampling), ``photo`` is photo
mode (reduced JPEG decode, embedded thumbnails)."""
