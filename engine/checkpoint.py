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

import logging
import os
import pickle
import secrets
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import CheckpointError, EngineError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Checkpoint",
    "atomic_torch_save",
    "clean_state_dict",
    "library_versions",
    "load_checkpoint",
    "save_checkpoint",
]

_logger = logging.getLogger(__name__)
FORMAT = "cifar-studio-checkpoint"
FORMAT_VERSION = 1
_REQUIRED = ("arch", "state_dict", "classes", "normalization", "input")


def library_versions() -> dict[str, str]:
    from . import __version__

    versions = {"cifar_studio": __version__, "torch": str(torch.__version__)}  # TorchVersion is not plain data
    try:
        from importlib.metadata import version

        versions["torchvision"] = version("torchvision")
    except Exception:
        pass
    return versions


def clean_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip wrapper prefixes (``module.`` from DDP, ``_orig_mod.`` from torch.compile)."""
    out = {}
    for k, v in state.items():
        stripped = True
        while stripped:  # in any order: compile(DDP(model)) gives "_orig_mod.module."
            stripped = False
            for prefix in ("module.", "_orig_mod."):
                if k.startswith(prefix):
                    k, stripped = k[len(prefix) :], True
        out[k.replace("._orig_mod.", ".")] = v
    return out


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file in the same folder, flushed, then renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique name opened with the usual umask-based mode (mkstemp's would leave the file 0600).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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

    def build_model(self, device: torch.device | str = "cpu") -> nn.Module:
        from .models import create_model

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
        return payload

    def summary(self) -> str:
        acc = f", validation accuracy {self.val_acc:.2%}" if self.val_acc is not None else ""
        return (
            f"{self.arch}, {len(self.classes)} classes, {self.input_size[0]}x{self.input_size[1]}x{self.channels}{acc}"
        )


def save_checkpoint(ckpt: Checkpoint, path: str | Path) -> Path:
    path = Path(path)
    atomic_torch_save(ckpt.to_payload(), path)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Load and check a checkpoint; any problem is a one-line :class:`CheckpointError`."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise CheckpointError(f"{name}: no such file" if not path.exists() else f"{name}: not a file")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise CheckpointError(
                f"{name}: contains Python objects other than weights and plain data; "
                "refused (loading it could run code)"
            ) from None
        raise CheckpointError(f"{name}: not a checkpoint (unreadable pickle data)") from None
    except (RuntimeError, zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        msg = str(exc).lower()
        if (
            "zip" in msg
            or "central directory" in msg
            or "eof" in msg
            or isinstance(exc, EOFError)
            or _starts_like_zip(path)
        ):  # torch.save files are zips; a cut one fails in assorted ways
            raise CheckpointError(f"{name}: truncated or damaged file (not a complete checkpoint)") from None
        raise CheckpointError(f"{name}: not a checkpoint ({str(exc).splitlines()[0][:120]})") from None
    except Exception as exc:  # torch raises assorted errors for random bytes
        raise CheckpointError(f"{name}: not a checkpoint ({type(exc).__name__})") from None
    return checkpoint_from_payload(payload, path)


def _starts_like_zip(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def checkpoint_from_payload(payload: Any, path: Path | None = None) -> Checkpoint:
    name = path.name if path else "checkpoint"
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{name}: not a CIFAR Studio checkpoint (a bare state_dict or another tool's file?)")
    version = payload.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{name}: malformed checkpoint metadata (format_version {version!r})")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{name}: written by a newer CIFAR Studio (format {payload['format_version']}); update the app to open it"
        )
    missing = [k for k in _REQUIRED if k not in payload]
    if missing:
        raise CheckpointError(f"{name}: incomplete checkpoint (missing {', '.join(missing)})")
    arch = payload["arch"]
    bad = next(
        (
            key
            for key, value, kind in (
                ("arch", arch, dict),
                ("state_dict", payload["state_dict"], dict),
                ("classes", payload["classes"], list),
            )
            if not isinstance(value, kind)
        ),
        None,
    )
    if bad is None and (not isinstance(arch.get("name"), str) or not isinstance(arch.get("args") or {}, dict)):
        bad = "arch"
    if bad is not None:
        raise CheckpointError(f"{name}: malformed checkpoint metadata ({bad})")
    from .models import get_model_info

    try:
        get_model_info(arch["name"])
    except EngineError:
        raise CheckpointError(f"{name}: names unknown architecture {arch['name']!r}") from None
    try:
        inp, norm = payload["input"], payload["normalization"]
        return Checkpoint(
            path=path,
            arch=arch["name"],
            arch_args=dict(arch.get("args") or {}),
            state_dict=payload["state_dict"],
            classes=[str(c) for c in payload["classes"]],
            mean=[float(v) for v in norm["mean"]],
            std=[float(v) for v in norm["std"]],
            input_size=(int(inp["height"]), int(inp["width"])),
            channels=int(inp["channels"]),
            config=payload.get("config") or {},
            history=payload.get("history") or [],
            epoch=int(payload.get("epoch") or 0),
            best_val_acc=payload.get("best_val_acc"),
            val_acc=payload.get("val_acc"),
            versions=payload.get("versions") or {},
            train_state=payload.get("train_state"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{name}: malformed checkpoint metadata ({exc})") from None
