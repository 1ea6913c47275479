"""Prediction calls for :class:`gui.background.task.Task`: classify files, compare checkpoints
on one photo, Grad-CAM. Each Predictor comes from a :class:`~.engine_calls.PredictorCache` and is
used under its lock (Grad-CAM adds hooks a concurrent forward pass would trip over).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QImage

from .engine_calls import PredictorCache
from .qimages import load_photo, shrink

# Imports inside functions: these functions run in worker threads, where the engine (and torch) is
# imported; the GUI thread never imports torch at start-up.

if TYPE_CHECKING:
    import numpy as np

    import engine

__all__ = [
    "THUMBNAIL_SIZE",
    "ComparedPrediction",
    "FoundFiles",
    "PredictedImage",
    "compare_predict",
    "explain_class",
    "explain_image",
    "predict_files",
]

THUMBNAIL_SIZE = 96
PREVIEW_SIZE = 280  # the Predict view's photo, in device-independent pixels


@dataclass
class FoundFiles:
    """First partial result of :func:`predict_files` when it expands folders: the files to classify."""

    paths: list[str]


@dataclass
class PredictedImage:
    index: int  # position in the Predict tab's list
    path: str
    prediction: engine.Prediction  # its verdict and answer() are what every view shows
    thumbnail: QImage | None
    preview: QImage | None = None  # the view's photo, from the same decode as the thumbnail


def predict_files(
    state,
    cache: PredictorCache,
    checkpoint: str,
    paths: list[str],
    tta: int = 0,
    expand: bool = True,
    chunk: int = 16,
    preview_side: int = PREVIEW_SIZE,
) -> int:
    """Classify files (and, with ``expand``, the images inside folders) in chunks.

    With ``expand`` the first partial result is :class:`FoundFiles` (the files found); then
    come :class:`PredictedImage` results whose ``index`` is the position in that list. A bad file
    gets its error and the rest still run (the engine's per-file errors).
    """
    import engine

    files = [str(p) for p in engine.expand_inputs(paths)] if expand else [str(p) for p in paths]
    if expand:
        state.set_partial_result(FoundFiles(files))
    if not files:
        return 0
    predictor, lock = cache.get(checkpoint)
    done = 0
    for start in range(0, len(files), chunk):
        if state.is_interruption_requested():
            break
        part = files[start : start + chunk]
        with lock:
            predictions = predictor.predict_paths(part, tta=tta, keep_inputs=True)
        for offset, (path, prediction) in enumerate(zip(part, predictions, strict=False)):
            # One decode for the list's thumbnail and the view's photo (a 12 MP JPEG: 43-56 ms each
            # on the project's VM), here instead of the thumbnail here and the photo in the GUI thread.
            preview = load_photo(path, preview_side) if prediction.error is None else None
            thumb = shrink(preview, THUMBNAIL_SIZE) if preview is not None else None
            state.set_partial_result(PredictedImage(start + offset, path, prediction, thumb, preview))
        done += len(part)
        state.set_progress(done / len(files), f"{done}/{len(files)} images")
    return done


def explain_image(
    state, cache: PredictorCache, checkpoint: str, image: np.ndarray, class_index: int | None
) -> tuple[np.ndarray, int]:
    """Grad-CAM heatmap (H, W in [0, 1]) of one model input, and the class it explains."""
    predictor, lock = cache.get(checkpoint)
    with lock:
        return predictor.explain(image, class_index)


@dataclass
class ComparedPrediction:
    """One checkpoint's answer for the compared photo (``error`` when the checkpoint failed)."""

    checkpoint: str
    prediction: engine.Prediction | None = None
    input_size: tuple[int, int] | None = None
    classes: list[str] = field(default_factory=list)
    error: str | None = None


def compare_predict(state, cache: PredictorCache, checkpoints: list[str], path: str) -> list[ComparedPrediction]:
    """Classify one photo with each checkpoint; each is reported as a partial result as it is done."""
    from .task import describe_error

    out = []
    for i, checkpoint in enumerate(checkpoints):
        if state.is_interruption_requested():
            break
        state.set_progress(i / len(checkpoints), f"{Path(checkpoint).name}")
        try:
            predictor, lock = cache.get(checkpoint)
            with lock:
                prediction = predictor.predict_paths([path], keep_inputs=True)[0]
            item = ComparedPrediction(
                checkpoint, prediction, tuple(predictor.input_size), list(predictor.classes), prediction.error
            )
        except Exception as exc:  # a checkpoint that does not load is that column's error
            item = ComparedPrediction(checkpoint, error=describe_error(exc))
        state.set_partial_result(item)
        out.append(item)
    return out


def explain_class(state, cache: PredictorCache, jobs: list[tuple[str, np.ndarray, int]]) -> list:
    """Grad-CAM of one class for several checkpoints: ``(checkpoint, model input, class index)``
    each; the result per job is the heatmap, or a one-line error for that checkpoint."""
    from .task import describe_error

    out = []
    for checkpoint, image, class_index in jobs:
        if state.is_interruption_requested():
            break
        try:
            out.append(explain_image(state, cache, checkpoint, image, class_index)[0])
        except Exception as exc:  # a model without convolutions: that column says so
            out.append(describe_error(exc))
    return out
