"""Grad-CAM overlays: the heatmap (engine/inference/gradcam.py) coloured and blended over the
photo, and ``explain_files`` behind ``python -m engine explain`` (one PNG per image, any class).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import EngineError, ImageError
from ..imaging.photo import DEFAULT_PHOTO_TTA, open_photo, photo_view
from .gradcam import gradcam, pick_cam_layer
from .predict import Predictor, expand_inputs

__all__ = [
    "ExplainResult",
    "colorize",
    "explain_files",
    "gradcam",
    "overlay_heatmap",
    "pick_cam_layer",
    "resolve_class",
]


# ---------------------------------------------------------------------------- overlays and files
def colorize(heat: np.ndarray) -> np.ndarray:
    """A heatmap in [0, 1] as uint8 RGB in a blue-cyan-yellow-red ("jet"-like) palette."""
    t = np.clip(np.asarray(heat, dtype=np.float32), 0.0, 1.0)[..., None]
    centres = np.array([0.75, 0.5, 0.25], dtype=np.float32)  # where R, G and B peak
    rgb = np.clip(1.5 - np.abs(4.0 * (t - centres)), 0.0, 1.0)
    return (rgb * 255 + 0.5).astype(np.uint8)


def overlay_heatmap(image: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend ``heat`` (H', W') over uint8 ``image`` (H, W, C); the map is resized to the image."""
    h, w = image.shape[:2]
    if heat.shape != (h, w):
        heat = np.asarray(Image.fromarray(heat.astype(np.float32), mode="F").resize((w, h), Image.Resampling.BILINEAR))
    base = image if image.shape[-1] == 3 else np.repeat(image[..., :1], 3, axis=2)
    out = (1 - alpha) * base.astype(np.float32) + alpha * colorize(heat).astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


@dataclass
class ExplainResult:
    path: str
    out: str | None = None  # the PNG written
    class_name: str | None = None  # the class explained
    probability: float | None = None  # the model's probability for that class
    top: str | None = None  # the model's top class
    error: str | None = None
    # Where the probability came from, as a prediction says it: checkpoint, photo view, TTA level.
    checkpoint: str | None = None
    view: str | None = None
    tta: int | None = None

    def to_dict(self) -> dict:
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        return {
            "path": self.path,
            "out": self.out,
            "class": self.class_name,
            "probability": self.probability,
            "top": self.top,
            "checkpoint": self.checkpoint,
            "view": self.view,
            "tta": self.tta,
        }


def resolve_class(classes: list[str], name: str) -> int:
    """Index of class ``name`` (exact, else case-insensitive); EngineError listing the classes."""
    if name in classes:
        return classes.index(name)
    folded = [i for i, c in enumerate(classes) if c.lower() == name.lower()]
    if len(folded) == 1:
        return folded[0]
    raise EngineError(f"unknown class {name!r}; this model's classes: {', '.join(classes)}")


def _display_image(path: Path, input_size: tuple[int, int], view: str) -> np.ndarray:
    """The photo framed as the model sees it (the predictor's photo view), at a size people can
    look at, so the heatmap lies over the right places."""
    h, w = input_size
    # At least 256 px (a 32x32 input is a smudge on screen), at most 512 or the photo's own size.
    img = open_photo(path, min_side=512)
    side = max(256, min(min(img.size), 512))
    return photo_view(img, (side, max(1, round(side * w / h))), 3, view)


def _safe_stem(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip("._") or "image"


def explain_files(
    checkpoint,
    paths: list[str | Path],
    out_dir: str | Path,
    class_name: str | None = None,
    device: str = "cpu",
    alpha: float = 0.45,
    progress: Callable[[int, int], None] | None = None,
    tta: int | None = None,
) -> list[ExplainResult]:
    """Write a Grad-CAM overlay PNG per image into ``out_dir``: ``<stem>_gradcam_<class>.png``.

    ``class_name`` explains that class for every image (default: each image's top class).
    The probabilities (and so the top class) are ``predict``'s: the same photo view and ``tta``
    level, by default predict's (``engine.imaging.photo.DEFAULT_PHOTO_TTA``); each result names them.
    A bad image gets its own error and the rest go on; an unknown class or a model without
    convolutions raises :class:`EngineError` before anything is written.
    """
    tta = DEFAULT_PHOTO_TTA if tta is None else tta
    predictor = Predictor(checkpoint, device=device)
    classes = list(predictor.classes)
    fixed = resolve_class(classes, class_name) if class_name is not None else None
    files = expand_inputs(paths)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    results: list[ExplainResult] = []
    for i, f in enumerate(files):
        try:
            arr = predictor.prepare(f)
            probs = predictor.predict_arrays(arr[None], tta)[0]
            try:
                # The top class of the probabilities shown (with TTA it can differ from one forward pass's).
                heat, cls = predictor.explain(arr, fixed if fixed is not None else int(probs.argmax()))
            except ValueError as exc:  # no convolution layer: the same for every image
                raise EngineError(f"Grad-CAM: {exc}") from None
            picture = overlay_heatmap(_display_image(f, predictor.input_size, predictor.view), heat, alpha)
        except ImageError as exc:
            results.append(ExplainResult(str(f), error=str(exc)))
        else:
            base = f"{_safe_stem(Path(f).stem)}_gradcam_{_safe_stem(classes[cls])}"
            name, n = f"{base}.png", 1
            while name in used:  # two inputs with one name (different folders) keep both overlays
                n += 1
                name = f"{base}_{n}.png"
            used.add(name)
            target = out_dir / name
            tmp = target.with_name(f".{name}.tmp")
            Image.fromarray(picture).save(tmp, format="PNG")
            os.replace(tmp, target)
            top = classes[int(probs.argmax())]
            where = {"checkpoint": predictor.source, "view": predictor.view, "tta": tta}
            results.append(ExplainResult(str(f), str(target), classes[cls], float(probs[cls]), top, **where))
        if progress is not None:
            progress(i + 1, len(files))
    return results
