"""The checkpoint format: one ``torch.save`` file of tensors and plain data, loaded safely.

A checkpoint is a dict (format version 1)::

    format          "cifar-studio-checkpoint"
    format_version  1
    arch            {"name": registry name, "args": {keyword arguments}}
    state_dict      model weights (EMA weights when the run averaged them)
    classes         ["airplane", ...]
    normalization   {"mean": [per channel, 0-1], "std": [...]}
    input           {"height": 32, "width": 32, "channels": 3}
    config          the TrainConfig as a plain dict
    history         [{"epoch": 1, "train_loss": ..., "val_acc": ...}, ...]
    epoch           epochs completed
    best_val_acc    best validation accuracy so far (0-1), or None
    val_acc         validation accuracy of these weights, or None
    versions        {"cifar_studio": ..., "torch": ..., "torchvision": ...}
    train_state     only in ``last.pt``: optimizer, scheduler, EMA, RNG, step - what resume needs

Loading uses ``torch.load(weights_only=True)``, which refuses anything but tensors and
plain containers, so opening a checkpoint never runs code. Writes go to a temporary file
that is renamed over the target, so a crash mid-write leaves the previous file intact.
"""

from __future__ import annotations

import errno
import logging
import os
import pickle
import secrets
import shutil
import zipfile
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._version import __version__
from ..errors import CheckpointError, DiskFull, EngineError
from ..models import check_model_args, create_model, get_model_info
from ..models.factory import META_LOCK
from ..text import TTA_NAMES
from .checks import check_depth, check_metadata, short
from .container_checks import check_container
from .state_dict import clean_state_dict
from .weight_checks import check_weights

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Checkpoint",
    "atomic_torch_save",
    "clean_state_dict",
    "half_precision",
    "library_versions",
    "load_checkpoint",
    "remove_stale_temp_files",
    "save_checkpoint",
]

_logger = logging.getLogger(__name__)
FORMAT = "cifar-studio-checkpoint"
FORMAT_VERSION = 1
TEMP_SUFFIX = ".tmp"  # ".<name>.<pid>.<random>.tmp" while a save is being written
_REQUIRED = ("arch", "state_dict", "classes", "normalization", "input")


def library_versions() -> dict[str, str]:
    versions = {"cifar_studio": __version__, "torch": str(torch.__version__)}  # TorchVersion is not plain data
    try:
        versions["torchvision"] = metadata.version("torchvision")
    except Exception:
        pass
    return versions


_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class _RecordingFile:
    """A file for ``torch.save`` that remembers the OSError of a failed write: torch turns it
    into a RuntimeError ("inline_container.cc ... unexpected pos") that no longer says why."""

    def __init__(self, f):
        self._f = f
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self._f.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self._f.flush()


def _open_for_write(path: Path):
    return open(path, "xb")


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file in the same folder, flushed, then renamed into place.

    A full disk raises :class:`DiskFull` naming the file and the free space; the previous file
    at ``path`` is untouched and the temporary file removed either way.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique name opened with the usual umask-based mode (mkstemp's would leave the file 0600).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    recorder = None
    try:
        with _open_for_write(tmp) as f:
            recorder = _RecordingFile(f)
            torch.save(obj, recorder)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        cause = recorder.error if recorder is not None and recorder.error is not None else exc
        if isinstance(cause, OSError) and cause.errno in _NO_SPACE:
            raise DiskFull(
                f"disk full: cannot write {path.name} in {path.parent} ({_free_mb(path.parent)} MB free); "
                "the previous checkpoints are kept"
            ) from None
        raise


def _free_mb(folder: Path) -> str:
    try:
        return f"{shutil.disk_usage(folder).free / 2**20:.0f}"
    except OSError:
        return "?"


def remove_stale_temp_files(folder: str | Path) -> list[Path]:
    """Delete temporary files that saves interrupted by a crash left in ``folder``.

    Only call this while holding the folder (see :mod:`engine.training.run_lock`): a live
    save of another process would lose its file.
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        if p.name.startswith(".") and p.name.endswith(TEMP_SUFFIX) and p.is_file():
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


@dataclass
class Checkpoint:
    """A loaded checkpoint; ``build_model()`` gives the network in eval mode."""

    path: Path | None
    arch: str
    arch_args: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    classes: list[str]
    mean: list[float]
    std: list[float]
    input_size: tuple[int, int]  # (height, width)
    channels: int
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    epoch: int = 0
    best_val_acc: float | None = None
    val_acc: float | None = None
    versions: dict[str, str] = field(default_factory=dict)
    train_state: dict[str, Any] | None = None
    # Per-channel pixel mean and std (0-1) of the training split, {"mean": [...], "std": [...]}:
    # what tells the data it was trained on when the normalisation is a pretrained network's.
    data_stats: dict[str, list[float]] | None = None

    def build_model(self, device: torch.device | str = "cpu") -> nn.Module:
        model = create_model(self.arch, num_classes=len(self.classes), in_channels=self.channels, **self.arch_args)
        try:
            model.load_state_dict(clean_state_dict(self.state_dict))
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise CheckpointError(f"{self._name}: weights do not fit architecture {self.arch!r} ({first})") from None
        return model.to(device).eval()

    @property
    def _name(self) -> str:
        return self.path.name if self.path else "checkpoint"

    def to_payload(self) -> dict[str, Any]:
        payload = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "arch": {"name": self.arch, "args": self.arch_args},
            "state_dict": self.state_dict,
            "classes": list(self.classes),
            "normalization": {"mean": list(self.mean), "std": list(self.std)},
            "input": {"height": self.input_size[0], "width": self.input_size[1], "channels": self.channels},
            "config": self.config,
            "history": self.history,
            "epoch": self.epoch,
            "best_val_acc": self.best_val_acc,
            "val_acc": self.val_acc,
            "versions": self.versions or library_versions(),
        }
        if self.train_state is not None:
            payload["train_state"] = self.train_state
        if self.data_stats is not None:
            payload["data_stats"] = {"mean": list(self.data_stats["mean"]), "std": list(self.data_stats["std"])}
        return payload

    def summary(self) -> str:
        acc = ""
        if self.val_acc is not None:
            tta = (self.config or {}).get("tta")
            how = f" ({TTA_NAMES[tta]})" if tta in range(len(TTA_NAMES)) else ""  # how it was measured
            acc = f", validation accuracy {self.val_acc:.2%}{how}"
        return (
            f"{self.arch}, {len(self.classes)} classes, {self.input_size[0]}x{self.input_size[1]}x{self.channels}{acc}"
        )


def half_precision(ckpt: Checkpoint) -> Checkpoint:
    """A copy of ``ckpt`` whose floating-point weights are stored as fp16, without training state.

    Half the file size for shipping (the bundled model); ``build_model`` loads the weights into
    the architecture's fp32 parameters, so only storage precision changes. fp16 rather than
    bf16: its 10-bit mantissa keeps trained weights to about 1e-3 relative, and their magnitudes
    are far inside its range (``scripts/bundle_model.py`` checks the predictions still agree).
    """
    state = {
        k: v.detach().to(torch.float16) if v.is_floating_point() else v.detach() for k, v in ckpt.state_dict.items()
    }
    return replace(ckpt, path=None, state_dict=state, train_state=None)


def save_checkpoint(ckpt: Checkpoint, path: str | Path) -> Path:
    path = Path(path)
    atomic_torch_save(ckpt.to_payload(), path)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Load and check a checkpoint; any problem is a one-line :class:`CheckpointError`.

    Nothing is trusted before it is checked (see :mod:`engine.checkpoints.checks`): the
    container, then the plain data, then the weights against the declared architecture.
    """
    path = Path(path)
    name = path.name
    try:
        if not path.is_file():
            raise CheckpointError(f"{name}: no such file" if not path.exists() else f"{name}: not a file")
        check_container(path)
    except OSError as exc:
        raise CheckpointError(f"{name}: cannot read ({exc.strerror or type(exc).__name__})") from None
    try:
        with META_LOCK:  # never while another thread builds on "meta" (see engine.models.factory)
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc):  # the weights-only unpickler met an importable object
            raise CheckpointError(
                f"{name}: contains Python objects other than weights and plain data; "
                "refused (loading it could run code)"
            ) from None
        raise CheckpointError(f"{name}: not a checkpoint (unreadable pickle data)") from None
    except (RuntimeError, zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        # The container checks passed, so this is a record torch cannot make sense of.
        raise CheckpointError(f"{name}: damaged checkpoint ({_first_line(exc)})") from None
    except Exception as exc:  # torch raises assorted errors for crafted records
        raise CheckpointError(f"{name}: not a checkpoint ({type(exc).__name__})") from None
    ckpt = checkpoint_from_payload(payload, path)
    check_weights(ckpt, name)
    return ckpt


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0][:120] if text else type(exc).__name__).strip()


def checkpoint_from_payload(payload: Any, path: Path | None = None) -> Checkpoint:
    name = path.name if path else "checkpoint"
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{name}: not a CIFAR Studio checkpoint (a bare state_dict or another tool's file?)")
    check_depth(payload, name)
    version = payload.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{name}: malformed checkpoint metadata (format_version {short(version)})")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{name}: written by a newer CIFAR Studio (format {payload['format_version']}); update the app to open it"
        )
    missing = [k for k in _REQUIRED if k not in payload]
    if missing:
        raise CheckpointError(f"{name}: incomplete checkpoint (missing {', '.join(missing)})")
    if not isinstance(payload["state_dict"], dict):
        raise CheckpointError(f"{name}: malformed checkpoint metadata (state_dict)")
    check_metadata(payload, name)
    arch = payload["arch"]
    try:
        get_model_info(arch["name"])
    except EngineError:
        raise CheckpointError(f"{name}: names unknown architecture {short(arch['name'])}") from None

    try:  # each argument known to the architecture, of its type, within range
        check_model_args(arch["name"], dict(arch.get("args") or {}), from_file=True)
    except EngineError as exc:
        raise CheckpointError(f"{name}: malformed checkpoint metadata (arch.args: {str(exc)[:200]})") from None
    inp, norm = payload["input"], payload["normalization"]
    return Checkpoint(
        path=path,
        arch=arch["name"],
        arch_args=dict(arch.get("args") or {}),
        state_dict=payload["state_dict"],
        classes=list(payload["classes"]),
        mean=[float(v) for v in norm["mean"]],
        std=[float(v) for v in norm["std"]],
        input_size=(inp["height"], inp["width"]),
        channels=inp["channels"],
        config=payload.get("config") or {},
        history=payload.get("history") or [],
        epoch=payload.get("epoch") or 0,
        best_val_acc=payload.get("best_val_acc"),
        val_acc=payload.get("val_acc"),
        versions=payload.get("versions") or {},
        train_state=payload.get("train_state"),
        data_stats=_data_stats(payload.get("data_stats"), inp["channels"], name),
    )


def _data_stats(value: Any, channels: int, name: str) -> dict[str, list[float]] | None:
    if value is None:
        return None
    ok = isinstance(value, dict) and set(value) == {"mean", "std"}
    ok = ok and all(
        isinstance(v, list)
        and len(v) == channels
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) and 0 <= x <= 1 for x in v)
        for v in value.values()
    )
    if not ok:
        raise CheckpointError(f"{name}: malformed checkpoint metadata (data_stats {short(value)})")
    return {"mean": [float(x) for x in value["mean"]], "std": [float(x) for x in value["std"]]}
