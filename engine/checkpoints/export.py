"""Export a checkpoint for other runtimes: ONNX, TorchScript or safetensors, plus a JSON sidecar.

Every export writes two files: the model (``FILE``) and ``FILE.json`` beside it, which says
what another program needs to use it without this app: class names in output order, the
input size and channel count, the normalisation, and the output (logits; softmax gives
probabilities). The models take float32 NCHW input::

    x = (pixels / 255 - mean) / std        # pixels: RGB (or grey) uint8, H x W as in "input"

Photos are framed and resized to the input size first as the app's photo mode does
(engine/imaging/photo.py; the sidecar's ``input.resize`` says how). The batch dimension of the ONNX
graph is dynamic. ``verify_export`` runs the exported file (onnxruntime, ``torch.jit.load``,
``safetensors``) and compares its probabilities with PyTorch's. Writes are atomic: a temporary file renamed into place.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError, EngineError
from ..imaging.photo import DEFAULT_PHOTO_TTA, DEFAULT_VIEW, VIEW_DESCRIPTIONS
from .export_formats import EXPORT_FORMATS, EXPORT_INSTALL_HINT
from .format import Checkpoint, clean_state_dict, library_versions, load_checkpoint

# What the app does at each TTA level, for runtimes that want the app's answers exactly.
TTA_DESCRIPTIONS = (
    "none: one forward pass",
    "average the logits of the input and of its left-right mirror image",
    "average the logits of the input and its mirror image (weight 1/2) and of both shifted by one pixel down-right "
    "and up-left with reflect padding (weight 1/2)",
)

__all__ = [
    "EXPORT_FORMATS",
    "ONNX_OPSET",
    "ExportResult",
    "export_checkpoint",
    "load_safetensors_checkpoint",
    "run_exported",
    "sidecar_path",
    "verify_export",
]

_logger = logging.getLogger(__name__)

# Opset 17 runs on every onnxruntime since 1.11 (2022) and has every operator the built-in
# models need; newer opsets would only narrow the set of runtimes that can load the file.
ONNX_OPSET = 17
_INSTALL_HINT = EXPORT_INSTALL_HINT


@dataclass
class ExportResult:
    path: str
    sidecar: str
    format: str
    max_prob_diff: float | None = None  # exported file vs PyTorch on a check batch, when verified

    def to_dict(self) -> dict:
        diff = self.max_prob_diff
        return {
            "path": self.path,
            "sidecar": self.sidecar,
            "format": self.format,
            "max_prob_diff": diff if diff is None or math.isfinite(diff) else None,  # JSON has no NaN
        }


def sidecar_path(path: str | Path) -> Path:
    """``model.onnx`` -> ``model.onnx.json`` (one sidecar per exported file, whatever the format)."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def _tmp_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _atomic(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename over ``path``; a failure leaves ``path`` untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_for(path)
    try:
        # Some writers (safetensors) create their file 0600: keep the mode a plain new file gets.
        open(tmp, "xb").close()
        mode = stat.S_IMODE(tmp.stat().st_mode)
        write(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _metadata(ck: Checkpoint, fmt: str, source: str) -> dict:
    h, w = ck.input_size
    meta = {
        "format": fmt,
        "model": ck.arch,
        "model_args": ck.arch_args,
        "classes": list(ck.classes),
        "input": {
            "name": "input",
            "shape": ["batch", ck.channels, h, w],
            "dtype": "float32",
            "layout": "NCHW",
            "height": h,
            "width": w,
            "channels": ck.channels,
            "color": "RGB" if ck.channels == 3 else "grayscale",
            "photo_view": DEFAULT_VIEW,
            "resize": f"{VIEW_DESCRIPTIONS[DEFAULT_VIEW]}; bicubic, antialiased (Pillow, reducing_gap=3)",
            "test_time_augmentation": TTA_DESCRIPTIONS[DEFAULT_PHOTO_TTA],
        },
        "normalization": {"mean": list(ck.mean), "std": list(ck.std), "formula": "(pixel / 255 - mean) / std"},
        "output": {"name": "logits", "shape": ["batch", len(ck.classes)], "activation": "softmax over axis 1"},
        "val_acc": ck.val_acc,
        "source_checkpoint": source,
        "versions": library_versions(),
    }
    if fmt == "onnx":
        meta["onnx_opset"] = ONNX_OPSET
    return meta


def _example(ck: Checkpoint, batch: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn((batch, ck.channels, *ck.input_size), generator=g)


def _export_onnx(model, ck: Checkpoint, tmp: Path) -> None:
    try:
        import onnx  # noqa: F401  (the exporter needs it; fail early with the install hint)
    except ImportError:
        raise EngineError(f"ONNX export needs the onnx package: {_INSTALL_HINT}") from None
    with warnings.catch_warnings():
        # The TorchScript-based exporter is deprecated in favour of the torch.export one, which
        # needs onnxscript; the old one still ships, is exact for these models and needs nothing more.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (_example(ck),),
            str(tmp),
            dynamo=False,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
        )


def _export_torchscript(model, ck: Checkpoint, tmp: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated but still the one self-contained format
        with torch.no_grad():
            traced = torch.jit.trace(model, _example(ck), check_trace=False)
        torch.jit.save(traced, str(tmp))


def _export_safetensors(model, ck: Checkpoint, tmp: Path, meta: dict) -> None:
    try:
        from safetensors.torch import save_file  # optional (the export extra): imported only to export
    except ImportError:
        raise EngineError(f"safetensors export needs the safetensors package: {_INSTALL_HINT}") from None
    # safetensors refuses shared or non-contiguous storage: give each tensor its own copy.
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in clean_state_dict(ck.state_dict).items()}
    # The file carries the sidecar too (string metadata), so it stays usable on its own.
    save_file(tensors, str(tmp), metadata={"cifar_studio": json.dumps(meta)})


def export_checkpoint(
    checkpoint: Checkpoint | str | Path, fmt: str, out: str | Path, verify: bool = True
) -> ExportResult:
    """Export ``checkpoint`` as ``fmt`` (onnx, torchscript, safetensors) to ``out`` plus ``out.json``.

    ``verify`` runs the written file on a random batch and records the largest probability
    difference from PyTorch (skipped for ONNX when onnxruntime is not installed).
    Raises :class:`EngineError` with a one-line reason.
    """
    if fmt not in EXPORT_FORMATS:
        raise EngineError(f"unknown export format {fmt!r}; choose {', '.join(EXPORT_FORMATS)}")
    ck = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    out = Path(out)
    if out.is_dir():
        raise EngineError(f"{out}: is a folder; give a file name such as {out / ('model' + EXPORT_FORMATS[fmt])}")
    model = ck.build_model("cpu").float().eval()
    source = ck.path.name if ck.path else "checkpoint"
    meta = _metadata(ck, fmt, source)
    try:
        if fmt == "onnx":
            _atomic(out, lambda tmp: _export_onnx(model, ck, tmp))
        elif fmt == "torchscript":
            _atomic(out, lambda tmp: _export_torchscript(model, ck, tmp))
        else:
            _atomic(out, lambda tmp: _export_safetensors(model, ck, tmp, meta))
    except EngineError:
        raise
    except OSError as exc:
        raise EngineError(f"{out}: cannot write ({exc.strerror or exc})") from None
    except Exception as exc:  # an exporter that cannot handle this architecture
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EngineError(f"{fmt} export of {ck.arch} failed: {first[:200]}") from None
    side = sidecar_path(out)
    _atomic(side, lambda tmp: tmp.write_text(json.dumps(meta, indent=2) + "\n"))
    result = ExportResult(str(out), str(side), fmt)
    if verify:
        try:
            result.max_prob_diff = verify_export(out, ck, fmt=fmt)
        except ImportError:
            _logger.info("%s: not verified (runtime not installed)", out)
    return result


def _probabilities(logits) -> np.ndarray:
    t = torch.as_tensor(np.asarray(logits, dtype=np.float32))
    return t.softmax(1).numpy()


def run_exported(path: str | Path, x: np.ndarray, fmt: str | None = None) -> np.ndarray:
    """Logits of the exported file at ``path`` for float32 NCHW ``x`` (normalised).

    ONNX needs onnxruntime and safetensors needs safetensors (ImportError otherwise).
    """
    path = Path(path)
    fmt = fmt or next((f for f, ext in EXPORT_FORMATS.items() if path.suffix == ext), None)
    x = np.ascontiguousarray(x, dtype=np.float32)
    if fmt == "onnx":
        import onnxruntime as ort  # optional (the export extra): ImportError without it, as documented

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(["logits"], {"input": x})[0]
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "torch.jit.load is deprecated"
            module = torch.jit.load(str(path), map_location="cpu")
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()
    if fmt == "safetensors":
        ck = load_safetensors_checkpoint(path)
        with torch.no_grad():
            return ck.build_model("cpu")(torch.from_numpy(x)).numpy()
    raise EngineError(f"{path.name}: cannot tell the export format from the name; pass fmt")


def verify_export(
    path: str | Path, checkpoint: Checkpoint, x: np.ndarray | None = None, fmt: str | None = None
) -> float:
    """Largest absolute difference between the exported file's probabilities and PyTorch's."""
    if x is None:
        x = _example(checkpoint, batch=3, seed=1).numpy()  # a batch size other than the export's
    model = checkpoint.build_model("cpu").float().eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).softmax(1).numpy()
    got = _probabilities(run_exported(path, x, fmt))
    return float(np.abs(got - expected).max())


def load_safetensors_checkpoint(path: str | Path) -> Checkpoint:
    """A :class:`Checkpoint` (weights and metadata) from a safetensors file this module wrote."""
    from safetensors import safe_open  # optional (the export extra)

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("cifar_studio")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise CheckpointError(
            f"{path.name}: not a readable safetensors file ({str(exc).splitlines()[0][:120]})"
        ) from None
    if not raw:
        raise CheckpointError(f"{path.name}: has no CIFAR Studio metadata (exported by another tool?)")
    try:
        meta = json.loads(raw)
        inp, norm = meta["input"], meta["normalization"]
        return Checkpoint(
            path=path,
            arch=meta["model"],
            arch_args=dict(meta.get("model_args") or {}),
            state_dict=tensors,
            classes=[str(c) for c in meta["classes"]],
            mean=[float(v) for v in norm["mean"]],
            std=[float(v) for v in norm["std"]],
            input_size=(int(inp["height"]), int(inp["width"])),
            channels=int(inp["channels"]),
            val_acc=meta.get("val_acc"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path.name}: malformed CIFAR Studio metadata ({exc})") from None
