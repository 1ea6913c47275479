"""Classify images with a checkpoint: files and folders in batches, one error per bad file."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .checkpoint import Checkpoint, load_checkpoint
from .errors import CheckpointError, ImageError
from .evaluate import tta_logits
from .images import IMAGE_EXTENSIONS, load_image_array
from .paths import default_checkpoint_path

__all__ = ["LOW_CONFIDENCE", "Prediction", "Predictor", "expand_inputs"]

_logger = logging.getLogger(__name__)

# Below this top-class probability the photo may show none of the classes: say so.
LOW_CONFIDENCE = 0.5


@dataclass
class Prediction:
    path: str
    probabilities: dict[str, float] = field(default_factory=dict)  # class -> probability, model order
    error: str | None = None
    input_image: np.ndarray | None = None  # the small uint8 H,W,C image the model saw

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def ranked(self) -> list[tuple[str, float]]:
        return sorted(self.probabilities.items(), key=lambda kv: kv[1], reverse=True)

    @property
    def top(self) -> str | None:
        return self.ranked[0][0] if self.probabilities else None

    @property
    def confidence(self) -> float:
        return self.ranked[0][1] if self.probabilities else 0.0

    @property
    def uncertain(self) -> bool:
        return self.ok and self.confidence < LOW_CONFIDENCE

    def to_dict(self) -> dict:
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        return {"path": self.path, "top": self.top, "confidence": self.confidence, "probabilities": self.probabilities}


def expand_inputs(paths: list[str | Path]) -> list[Path]:
    """Files as given; folders replaced by the image files under them (sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(
                sorted(
                    f
                    for f in p.rglob("*")
                    if f.is_file()
                    and f.suffix.lower() in IMAGE_EXTENSIONS
                    and not any(part.startswith(".") for part in f.relative_to(p).parts)
                )
            )
        else:
            out.append(p)
    return out


class Predictor:
    """A checkpoint's model, ready to classify images. ``None`` means the bundled default model."""

    def __init__(self, checkpoint: Checkpoint | str | Path | None = None, device: str | torch.device = "cpu"):
        if checkpoint is None:
            path = default_checkpoint_path()
            if not path.exists():
                raise CheckpointError(f"no bundled default model at {path}; pass a checkpoint")
            checkpoint = path
        self.checkpoint = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
        self.device = torch.device(device)
        self.model = self.checkpoint.build_model(self.device)
        ck = self.checkpoint
        self.classes = ck.classes
        self._mean = torch.tensor(ck.mean, device=self.device).view(1, -1, 1, 1) * 255
        self._std = torch.tensor(ck.std, device=self.device).view(1, -1, 1, 1) * 255

    @property
    def input_size(self) -> tuple[int, int]:
        return self.checkpoint.input_size

    def prepare(self, source: str | Path | bytes, name: str | None = None) -> np.ndarray:
        """Decode one image into the uint8 array the model sees (raises ImageError)."""
        return load_image_array(source, self.input_size, self.checkpoint.channels, name)

    @torch.inference_mode()
    def predict_arrays(self, images: np.ndarray, tta: int = 0) -> np.ndarray:
        """Class probabilities (N x classes) for uint8 ``(N, H, W, C)`` images."""
        x = torch.from_numpy(np.ascontiguousarray(images)).to(self.device).permute(0, 3, 1, 2)
        x = ((x.float() - self._mean) / self._std).contiguous(memory_format=torch.channels_last)
        return tta_logits(self.model, x, tta).float().softmax(1).cpu().numpy()

    def explain(self, image: np.ndarray, class_index: int | None = None) -> tuple[np.ndarray, int]:
        """Grad-CAM heatmap (H, W) in [0, 1] for one uint8 ``(H, W, C)`` input, and the class explained."""
        from .explain import gradcam

        x = torch.from_numpy(np.ascontiguousarray(image)).to(self.device).permute(2, 0, 1)[None]
        x = (x.float() - self._mean) / self._std
        heat, cls = gradcam(self.model, x, class_index)
        return heat.numpy(), cls

    def predict_paths(
        self, paths: list[str | Path], tta: int = 0, batch_size: int = 64, keep_inputs: bool = False, progress=None
    ) -> list[Prediction]:
        """Classify files and folders; unreadable files get an error, the rest still run."""
        files = expand_inputs(paths)
        results: list[Prediction] = []
        for start in range(0, len(files), batch_size):
            chunk = files[start : start + batch_size]
            batch, good = [], []
            for f in chunk:
                try:
                    batch.append(self.prepare(f))
                    good.append(len(results))
                    results.append(Prediction(str(f)))
                except ImageError as exc:
                    results.append(Prediction(str(f), error=str(exc)))
            if batch:
                arrays = np.stack(batch)
                probs = self.predict_arrays(arrays, tta)
                for i, p, a in zip(good, probs, arrays):
                    results[i].probabilities = {c: float(v) for c, v in zip(self.classes, p)}
                    if keep_inputs:
                        results[i].input_image = a
            if progress is not None:
                progress(len(results), len(files))
        return results
