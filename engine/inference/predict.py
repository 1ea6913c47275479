"""Classify images with a checkpoint: files and folders in batches, one error per bad file.

Photos go through photo mode (:mod:`engine.imaging.photo`: reduced JPEG decode, the measured best
view); every answer also says whether the image is likely none of the classes
(:mod:`engine.inference.ood`). Folders are decoded on a thread pool while the model runs on the
previous batch.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ..checkpoints.format import Checkpoint, load_checkpoint
from ..errors import CheckpointError, ConfigError, ImageError
from ..evaluation.metrics import batch_layout, tta_logits
from ..imaging.decode import IMAGE_EXTENSIONS
from ..imaging.photo import DEFAULT_PHOTO_TTA, DEFAULT_VIEW, VIEWS, load_photo
from ..paths import default_checkpoint_path
from .gradcam import gradcam
from .looks_like import LooksLike
from .onnx_runner import cpu_runner
from .ood import UnknownDetector, forward_with_features
from .prediction import LOW_CONFIDENCE, Prediction

__all__ = ["LOW_CONFIDENCE", "Prediction", "Predictor", "expand_inputs"]  # the first two from .prediction

_logger = logging.getLogger(__name__)

NON_FINITE = "the model's output is not finite (NaN or infinity): the checkpoint's weights may be corrupt"


def expand_inputs(paths: list[str | Path]) -> list[Path]:
    """Files as given; folders replaced by the image files under them (sorted).

    Anything named like an image that is not a folder is kept, special files and dangling links
    included: the reader refuses each with its own one-line error instead of it vanishing."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(
                sorted(
                    f
                    for f in p.rglob("*")
                    if not f.is_dir()
                    and f.suffix.lower() in IMAGE_EXTENSIONS
                    and not any(part.startswith(".") for part in f.relative_to(p).parts)
                )
            )
        else:
            out.append(p)
    return out


# Pixels per batch on a CPU: 32 px inputs keep batches of 64; the 224 px photo model runs 4
# photos at a time. Its ImageNet network, per image, fp32, 2 threads: 43-46 ms in batches of
# 1-2, 57-75 ms in batches of 16 and 74-118 ms in 64 (its activations outgrow the caches).
CPU_BATCH_PIXELS = 4 * 224 * 224


class Predictor:
    """A checkpoint's model, ready to classify images. ``None`` means the bundled default model.

    ``view`` is the photo-mode view (:data:`engine.imaging.photo.VIEWS`); ``fast_decode=False`` decodes
    every pixel of a photo before shrinking it (slower, the same answer within rounding).
    """

    def __init__(
        self,
        checkpoint: Checkpoint | str | Path | None = None,
        device: str | torch.device = "cpu",
        view: str = DEFAULT_VIEW,
        fast_decode: bool = True,
        looks_like: bool = True,
    ):
        if checkpoint is None:
            path = default_checkpoint_path()
            if not path.exists():
                raise CheckpointError(f"no bundled default model at {path}; pass a checkpoint")
            checkpoint = path
        if view not in VIEWS:
            raise ConfigError("view", f"unknown photo view {view!r}; choose one of {', '.join(VIEWS)}")
        self.checkpoint = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
        self.device = torch.device(device)
        self.model = self.checkpoint.build_model(self.device)
        ck = self.checkpoint
        self.classes = ck.classes
        self.view = view
        self.fast_decode = fast_decode
        self.detector = UnknownDetector.for_checkpoint(ck.path)
        self.looks_like = LooksLike(self.model) if looks_like else None
        # Classification runs here: ONNX Runtime for a model that measured faster there on a CPU
        # (the photo model), else the PyTorch model itself, which Grad-CAM and looks-like use.
        runner = cpu_runner(self.model, ck.path, (ck.channels, *ck.input_size)) if self.device.type == "cpu" else None
        self.runner = runner or self.model
        self.last_rate: float | None = None  # images/s of the last predict_paths call
        self._mean = torch.tensor(ck.mean, device=self.device).view(1, -1, 1, 1) * 255
        self._std = torch.tensor(ck.std, device=self.device).view(1, -1, 1, 1) * 255

    @property
    def source(self) -> str:
        """The checkpoint's file, as results name it."""
        return str(self.checkpoint.path) if self.checkpoint.path else "(in memory)"

    @property
    def input_size(self) -> tuple[int, int]:
        return self.checkpoint.input_size

    def prepare(self, source: str | Path | bytes, name: str | None = None) -> np.ndarray:
        """Decode one image into the uint8 array the model sees, exactly (raises ImageError)."""
        return load_photo(source, self.input_size, self.checkpoint.channels, self.view, name, self.fast_decode)

    def _tensor(self, images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(images)).to(self.device).permute(0, 3, 1, 2)
        return (x.float() - self._mean) / self._std

    @torch.inference_mode()
    def classify_arrays(self, images: np.ndarray, tta: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Probabilities (N x classes), unknown scores (N) and a finite-output mask (N).

        The unknown score comes from the plain forward pass (and the mirror images' for
        ``feature_norm_mirror``), the one it was calibrated on, whatever the TTA level. Rows
        whose logits are not finite get NaN probabilities and ``False`` in the mask: callers
        turn them into errors.
        """
        x = self._tensor(images)
        # One forward pass over the images and their mirror images when the score or TTA level 1
        # needs the mirror: the plain half gives the unknown score, the pair's mean level 1.
        if self.detector.needs_mirror or tta == 1:
            both, both_feats = forward_with_features(self.runner, batch_layout(torch.cat([x, x.flip(3)])))
            n = len(x)
            logits, feats, mirror = both[:n], both_feats[:n], both_feats[n:]
            scores = self.detector.scores(logits, feats, mirror)
            if tta == 1:  # the mirror pass is already done: level 1 is the mean of the two (as tta_logits)
                logits, tta = both.view(2, n, -1).mean(0), 0
        else:
            logits, feats = forward_with_features(self.runner, batch_layout(x))
            scores = self.detector.scores(logits, feats if self.detector.needs_features else None)
        if tta:
            logits = tta_logits(self.runner, x, tta).float()
        finite = torch.isfinite(logits).all(1).cpu().numpy() & np.isfinite(scores)
        return logits.softmax(1).cpu().numpy(), scores, finite

    def predict_arrays(self, images: np.ndarray, tta: int = 0) -> np.ndarray:
        """Class probabilities (N x classes) for uint8 ``(N, H, W, C)`` images."""
        probs, _, finite = self.classify_arrays(images, tta)
        if not finite.all():
            raise CheckpointError(f"{int((~finite).sum())} of {len(finite)} image(s): {NON_FINITE}")
        return probs

    def explain(self, image: np.ndarray, class_index: int | None = None) -> tuple[np.ndarray, int]:
        """Grad-CAM heatmap (H, W) in [0, 1] for one uint8 ``(H, W, C)`` input, and the class explained."""
        x = torch.from_numpy(np.ascontiguousarray(image)).to(self.device).permute(2, 0, 1)[None]
        x = (x.float() - self._mean) / self._std
        heat, cls = gradcam(self.model, x, class_index)
        return heat.numpy(), cls

    def _decode(self, path: Path):
        try:
            return self.prepare(path)
        except ImageError as exc:
            return exc

    def predict_paths(
        self,
        paths: list[str | Path],
        tta: int = DEFAULT_PHOTO_TTA,
        batch_size: int = 64,
        keep_inputs: bool = False,
        progress=None,
        workers: int | None = None,
    ) -> list[Prediction]:
        """Classify files and folders; unreadable files get an error, the rest still run.

        ``tta`` defaults to photo mode's measured best (the view and its mirror image averaged).

        Decoding runs on ``workers`` threads (default: the CPU count) up to two batches ahead
        of the model, so decoding and the forward pass overlap. ``progress(done, total)`` is
        called after each batch; :attr:`last_rate` holds the images/s achieved.
        """
        files = expand_inputs(paths)
        results = [Prediction(str(f)) for f in files]
        start_time = time.perf_counter()
        if self.device.type == "cpu":  # big inputs run fastest in small batches on a CPU
            h, w = self.input_size
            batch_size = max(1, min(batch_size, CPU_BATCH_PIXELS // (h * w)))
        workers = workers or min(8, os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
            pending: deque = deque()
            ahead = iter(enumerate(files))

            def fill():
                while len(pending) < 2 * batch_size:
                    item = next(ahead, None)
                    if item is None:
                        return
                    pending.append((item[0], pool.submit(self._decode, item[1])))

            fill()
            done = 0
            while pending:
                batch, good = [], []
                for _ in range(min(batch_size, len(pending))):
                    done += 1
                    i, fut = pending.popleft()
                    out = fut.result()
                    if isinstance(out, ImageError):
                        results[i].error = str(out)
                    else:
                        batch.append(out)
                        good.append(i)
                fill()  # keep the decoders busy while the model runs on this batch
                if batch:
                    self._fill(results, good, np.stack(batch), tta, keep_inputs)
                if progress is not None:
                    progress(done, len(files))
        elapsed = time.perf_counter() - start_time
        self.last_rate = len(files) / elapsed if files and elapsed > 0 else None
        return results

    def _fill(self, results: list[Prediction], good: list[int], arrays: np.ndarray, tta: int, keep: bool) -> None:
        probs, scores, finite = self.classify_arrays(arrays, tta)
        flags = self.detector.flags(scores)
        for i, p, s, flag, ok, a in zip(good, probs, scores, flags, finite, arrays):
            r = results[i]
            if not ok:
                r.error = NON_FINITE
                continue
            r.probabilities = {c: float(v) for c, v in zip(self.classes, p)}
            r.checkpoint, r.view, r.tta = self.source, self.view, tta
            r.unknown, r.unknown_score = bool(flag), float(s)
            if keep:
                r.input_image = a
        self._name_flagged(results, [i for i, flag, ok in zip(good, flags, finite) if flag and ok], good, arrays)

    def _name_flagged(self, results: list[Prediction], flagged: list[int], good: list[int], arrays: np.ndarray) -> None:
        """What each photo flagged as none of the classes looks like (only those pay for it)."""
        if not flagged or self.looks_like is None:
            return
        if self.looks_like.own_head:
            rows = [good.index(i) for i in flagged]
            labels = self.looks_like.from_inputs(self._tensor(arrays[rows]))
        else:
            labels = self.looks_like.from_files([results[i].path for i in flagged])
        for i, label in zip(flagged, labels):
            if label is not None:
                results[i].looks_like, results[i].looks_like_probability = label
