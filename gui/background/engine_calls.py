"""The engine calls the GUI makes, as plain functions ``fn(state, ...)`` for :class:`gui.background.task.Task`:
start-up, data, checkpoints and evaluation here; prediction in :mod:`.prediction_calls`, runs, the
LR finder, export and model summaries in :mod:`.run_calls`.

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

# Imports inside functions: these functions run in worker threads, where the engine (and torch) is
# imported; the GUI thread never imports torch at start-up (tests/test_gui_startup.py).

__all__ = [
    "CheckpointInfo",
    "DataInfo",
    "EngineInfo",
    "PredictorCache",
    "RunView",
    "checkpoint_info",
    "count_parameters",
    "evaluate",
    "load_data_info",
    "load_engine",
    "open_run_info",
]

_logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- engine start-up
@dataclass
class EngineInfo:
    version: str
    torch_version: str
    device_name: str  # "CUDA: <GPU>", "Apple MPS" or "CPU, N threads" (N: what training here uses)
    torch_device: str  # "cuda", "mps" or "cpu"
    default_checkpoint: str | None  # the bundled model, when it exists
    presets: list[tuple[str, str, str, str]]  # (name, title, description, plain summary), "fast" first
    datasets: dict[str, str]  # built-in dataset name -> description
    models: list[tuple[str, str, str, str]]  # (name, family, description, input handling)
    # Why torch.compile cannot work on this machine's device (None: it can be tried); the
    # Train tab hides the option then (a frozen app has no compiler).
    compile_unavailable: str | None = None
    # Data that trains without a download (CIFAR-10 already downloaded, the shared archive):
    # (spec or None, where it came from), for a first start with no data chosen yet.
    default_data: tuple[str | None, str] = (None, "")
    # The other models that ship with the app (the CIFAR-only net the default is built on).
    bundled_checkpoints: list[str] = field(default_factory=list)


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
    # Named with the thread count training runs here use (one core kept for the window): the
    # status bar and the training log say the same number.
    device = engine.detect_device(reserve_for_ui=True)
    default = engine.default_checkpoint_path()
    presets = sorted(engine.PRESETS.values(), key=lambda p: p.name != "fast")
    models = [(m.name, m.family, m.description, m.input_handling) for m in engine.list_models()]
    return EngineInfo(
        engine.__version__,
        _torch_version(),
        device.name,
        device.torch_device,
        str(default) if default.exists() else None,
        [(p.name, p.title, p.description, p.summary) for p in presets],
        dict(engine.BUILTIN_DATASETS),
        models,
        engine.compile_unavailable_reason(device.torch_device),
        engine.find_default_data(),
        [str(p) for p in engine.bundled_checkpoint_paths() if p != default],
    )


def count_parameters(state, names: list[str]) -> int:
    """Build each model once to count its parameters; reports ``(name, count)`` as partial results."""
    import engine

    done = 0
    for name in names:
        if state.is_interruption_requested():
            break
        try:
            # A real build, not the meta device: building on "meta" imports torch._dynamo, whose
            # import holds the GIL long enough to stall the window (~170 ms, measured).
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
    return _describe(ck, path)


def _describe(ck, path) -> CheckpointInfo:
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
    info = _describe(ck, checkpoint)
    if state.is_interruption_requested():
        raise engine.Cancelled("stopped")
    last = engine.find_resumable(folder, unfinished_only=True)
    return RunView(info, str(last) if last else None, dict(ck.config or {}), engine.read_batch_history(folder))


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
