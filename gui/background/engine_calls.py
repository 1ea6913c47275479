"""The engine calls the GUI makes, as plain functions ``fn(state, ...)`` for :class:`gui.background.task.Task`.

These run in worker threads. They use only ``engine``'s public names and return small
plain objects (no widgets, no QPixmap: QImage is fine off the GUI thread). Predictors are
cached per checkpoint path, and each one is used by one thread at a time (Grad-CAM adds
hooks to the model, which a concurrent forward pass would trip over).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QImage

if TYPE_CHECKING:
    import numpy as np

from .qimages import load_photo

__all__ = [
    "THUMBNAIL_SIZE",
    "CheckpointInfo",
    "ComparedPrediction",
    "DataInfo",
    "EngineInfo",
    "FoundFiles",
    "PredictedImage",
    "PredictorCache",
    "RunCurves",
    "RunView",
    "checkpoint_info",
    "compare_predict",
    "count_parameters",
    "evaluate",
    "explain_class",
    "explain_image",
    "export_model",
    "find_lr",
    "list_runs",
    "load_data_info",
    "load_engine",
    "model_summary",
    "open_run_info",
    "predict_files",
    "read_run_curves",
]

_logger = logging.getLogger(__name__)

THUMBNAIL_SIZE = 96


# ---------------------------------------------------------------------------- engine start-up
@dataclass
class EngineInfo:
    version: str
    torch_version: str
    device_name: str  # "CUDA: <GPU>", "Apple MPS" or "CPU, N threads"
    torch_device: str  # "cuda", "mps" or "cpu"
    default_checkpoint: str | None  # the bundled model, when it exists
    presets: list[tuple[str, str, str]]  # (name, title, description), "fast" first
    datasets: dict[str, str]  # built-in dataset name -> description
    models: list[tuple[str, str, str, str]]  # (name, family, description, input handling)
    # Why torch.compile cannot work on this machine's device (None: it can be tried); the
    # Train tab hides the option then (a frozen app has no compiler).
    compile_unavailable: str | None = None


def _torch_version() -> str:
    import sys
    from importlib import metadata

    module = sys.modules.get("torch")  # already imported by the engine; never import it here
    if module is not None:
        return str(module.__version__)
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "unknown"


def load_engine(state) -> EngineInfo:
    """Import the engine's heavy parts (torch) and describe the machine; runs once at start-up."""
    import engine

    state.set_progress(None, "importing torch")
    engine.TrainConfig  # noqa: B018 - first touch of a lazy name imports torch
    device = engine.detect_device()
    default = engine.default_checkpoint_path()
    presets = sorted(engine.PRESETS.values(), key=lambda p: p.name != "fast")
    models = [(m.name, m.family, m.description, m.input_handling) for m in engine.list_models()]
    return EngineInfo(
        engine.__version__,
        _torch_version(),
        device.name,
        device.torch_device,
        str(default) if default.exists() else None,
        [(p.name, p.title, p.description) for p in presets],
        dict(engine.BUILTIN_DATASETS),
        models,
        engine.compile_unavailable_reason(device.torch_device),
    )


def count_parameters(state, names: list[str]) -> int:
    """Build each model once to count its parameters; reports ``(name, count)`` as partial results."""
    import engine

    done = 0
    for name in names:
        if state.is_interruption_requested():
            break
        try:
            count = engine.count_parameters(engine.create_model(name, num_classes=10, in_channels=3))
        except Exception as exc:  # one odd model must not hide the others' counts
            _logger.warning("cannot count parameters of %s: %s", name, exc)
            continue
        state.set_partial_result((name, count))
        done += 1
    return done


# ---------------------------------------------------------------------------- data
@dataclass
class DataInfo:
    source: str
    description: str  # Dataset.describe()
    classes: list[str]
    train_counts: list[int]
    summary_lines: list[str]  # skipped files, empty classes
    shape: tuple[int, int, int]


def _progress_to(state):
    """An engine ``progress(done, total, stage)`` callback feeding a task's progress bar."""

    def report(done: int, total: int, stage: str) -> None:
        state.set_progress(done / total if total else None, f"{stage} {done:,}/{total:,}")

    return report


def load_data_info(
    state, source: str, val_fraction: float, seed: int, limit: int | None, image_size: int | None
) -> DataInfo:
    """Load (decode and cache) a dataset and describe it; the images themselves stay in the engine."""
    import numpy as np

    import engine

    state.set_progress(None, f"loading {source}")
    ds = engine.load_dataset(
        engine.DataSpec(source, None, val_fraction, seed, limit, image_size),
        progress=_progress_to(state),
        should_stop=state.is_interruption_requested,
    )
    counts = np.bincount(ds.train.labels, minlength=ds.num_classes).tolist()
    return DataInfo(source, ds.describe(), list(ds.classes), counts, ds.summary.lines(), ds.image_shape)


# ---------------------------------------------------------------------------- checkpoints
class PredictorCache:
    """One engine.Predictor per checkpoint path, built on first use, each with its own lock."""

    def __init__(self, device: str = "cpu"):
        self.device = device
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[object, threading.Lock]] = {}

    def get(self, path: str):
        """``(predictor, lock)``; hold the lock while using the predictor."""
        import engine

        key = str(Path(path).resolve())
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            predictor = engine.Predictor(key, device=self.device)  # slow part, outside the cache lock
            with self._lock:
                entry = self._entries.setdefault(key, (predictor, threading.Lock()))
        return entry

    def forget(self, path: str) -> None:
        with self._lock:
            self._entries.pop(str(Path(path).resolve()), None)


@dataclass
class CheckpointInfo:
    path: str
    summary: str  # Checkpoint.summary()
    arch: str
    classes: list[str]
    val_acc: float | None
    best_val_acc: float | None
    history: list[dict] = field(default_factory=list)
    epochs: int | None = None  # the run's planned length (its config)


def checkpoint_info(state, path: str, cache: PredictorCache | None = None) -> CheckpointInfo:
    """Load and describe a checkpoint; with ``cache``, build (and keep) its Predictor as well."""
    import engine

    ck = cache.get(path)[0].checkpoint if cache is not None else engine.load_checkpoint(path)
    return CheckpointInfo(
        str(path),
        ck.summary(),
        ck.arch,
        list(ck.classes),
        ck.val_acc,
        ck.best_val_acc,
        list(ck.history),
        (ck.config or {}).get("epochs"),
    )


@dataclass
class RunView:
    """An earlier run opened on the Train tab: its checkpoint, the last.pt Resume can continue
    (None when the run finished or cannot be resumed), its settings and per-batch rows."""

    info: CheckpointInfo
    resumable: str | None
    config: dict
    batch_history: list[dict]


def open_run_info(state, checkpoint: str) -> RunView:
    """Describe a run folder's checkpoint and whether it can be resumed (any stopped run: from
    this window or the command line)."""
    import engine

    ck = engine.load_checkpoint(checkpoint)
    folder = Path(checkpoint).parent
    info = CheckpointInfo(
        str(checkpoint),
        ck.summary(),
        ck.arch,
        list(ck.classes),
        ck.val_acc,
        ck.best_val_acc,
        list(ck.history),
        (ck.config or {}).get("epochs"),
    )
    if state.is_interruption_requested():
        raise engine.Cancelled("stopped")
    last = engine.find_resumable(folder, unfinished_only=True)
    return RunView(info, str(last) if last else None, dict(ck.config or {}), engine.read_batch_history(folder))


# ---------------------------------------------------------------------------- prediction
@dataclass
class FoundFiles:
    """First partial result of :func:`predict_files` when it expands folders: the files to classify."""

    paths: list[str]


@dataclass
class PredictedImage:
    index: int  # position in the Predict tab's list
    path: str
    prediction: object  # engine.Prediction (probabilities, error, input_image)
    thumbnail: QImage | None


def predict_files(
    state, cache: PredictorCache, checkpoint: str, paths: list[str], tta: int = 0, expand: bool = True, chunk: int = 16
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
            thumb = load_photo(path, THUMBNAIL_SIZE) if prediction.error is None else None
            state.set_partial_result(PredictedImage(start + offset, path, prediction, thumb))
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


# ---------------------------------------------------------------------------- evaluation
def evaluate(state, checkpoint: str, data: str, split: str, tta: int, device: str):
    """engine.evaluate_checkpoint, cancellable through the state."""
    import engine

    state.set_progress(None, f"evaluating on {data}")
    return engine.evaluate_checkpoint(
        checkpoint,
        data,
        split=split,
        tta=tta,
        device=device,
        should_stop=state.is_interruption_requested,
        progress=_progress_to(state),
    )


# ---------------------------------------------------------------------------- runs, LR finder, export
def list_runs(state, folders: list[str]) -> list:
    """engine.RunSummary of every run under the default runs folder and ``folders``, newest first."""
    import engine

    return engine.list_runs(folders)


@dataclass
class RunCurves:
    """One run's per-epoch metrics for the overlay plot (or why they could not be read)."""

    path: str
    name: str
    epochs: list[dict] = field(default_factory=list)
    error: str | None = None


def read_run_curves(state, paths: list[str]) -> list[RunCurves]:
    """Per-epoch metrics of each run folder; a run that cannot be read carries its own error."""
    import engine

    from .task import describe_error

    out = []
    for path in paths:
        if state.is_interruption_requested():
            break
        try:
            details = engine.read_run(path)
        except Exception as exc:  # one damaged run must not hide the others' curves
            out.append(RunCurves(path, Path(path).name, error=describe_error(exc)))
            continue
        out.append(RunCurves(path, details.summary.name, list(details.epochs)))
    return out


def find_lr(state, config, steps: int = 100):
    """engine.lr_find on ``config``'s model and data; progress per step, cancel keeps what was measured."""
    import engine

    state.set_progress(None, f"loading {config.data}")

    def progress(step: int, total: int, lr: float, loss: float) -> None:
        state.set_progress(step / total if total else None, f"step {step}/{total}: lr {lr:.2g}, loss {loss:.3f}")

    return engine.lr_find(config, steps=steps, progress=progress, stop=state)


def export_model(state, checkpoint: str, fmt: str, out: str):
    """engine.export_checkpoint (writes ``out`` and its JSON sidecar, verified against PyTorch)."""
    import engine

    state.set_progress(None, f"exporting {Path(checkpoint).name} as {fmt}")
    return engine.export_checkpoint(checkpoint, fmt, out)


def model_summary(state, name: str, model_args: dict, num_classes: int = 10, input_size: int = 32):
    """engine.model_summary of a registry model for ``input_size`` square images."""
    import engine

    return engine.model_summary(name, num_classes=num_classes, input_size=(input_size, input_size), **model_args)


@dataclass
class ComparedPrediction:
    """One checkpoint's answer for the compared photo (``error`` when the checkpoint failed)."""

    checkpoint: str
    prediction: object | None = None  # engine.Prediction
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
