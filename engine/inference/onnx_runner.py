"""The forward pass on ONNX Runtime, for models whose CPU speed needs it (the photo model).

PyTorch's CPU kernels are slow on EfficientNet-Lite0's depthwise convolutions. The bundled photo
model (engine/models/fusion.py), fp32, 2 threads, on the project's 2-core VM with nothing else
running: 46 ms per image in PyTorch, 16 ms in ONNX Runtime at batch 1; 86 against 35 ms at
batch 2 (a photo and its mirror image); 1,269 against 259 ms at batch 16. A model opts in with
``onnx_on_cpu = True``; :func:`cpu_runner` then exports it once (about 3 s), keeps the file in
the cache folder under the checkpoint's SHA-256 and the library versions, and runs it there. The
PyTorch model stays for everything else (Grad-CAM, the "looks like" label, GPUs). Any failure
(no onnxruntime, an export error, a damaged cached file) falls back to PyTorch, the same answers
more slowly, and says so in the log; ``CIFAR_STUDIO_ONNX=0`` turns it off.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from ..paths import cache_dir
from .ood import file_sha256

__all__ = ["OnnxRunner", "cpu_runner"]

_logger = logging.getLogger(__name__)
_EXPORT_BATCH = 2  # a photo and its mirror image; the batch dimension is dynamic


class _WithFeatures(nn.Module):
    """What the exported graph computes: the logits and the features the unknown score reads."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        return self.model.forward_with_features(x)


class OnnxRunner(nn.Module):
    """Callable like the model (``forward``, ``forward_with_features``), run by ONNX Runtime for
    inputs of the exported shape; any other shape (``predict_arrays`` of 32 px images) runs the
    PyTorch model, which takes every size."""

    def __init__(self, session, model: nn.Module, input_shape: tuple[int, int, int]):
        super().__init__()
        self.session, self.input_shape = session, tuple(input_shape)
        self._model = [model]  # a list: not registered as a submodule (no second copy in .to())

    @torch.inference_mode()
    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if tuple(x.shape[1:]) != self.input_shape:
            return self._model[0].forward_with_features(x)
        logits, feats = self.session.run(None, {"pixels": x.detach().float().contiguous().cpu().numpy()})
        return torch.from_numpy(logits), torch.from_numpy(feats)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_features(x)[0]


def _cached_file(checkpoint_path: Path, ort_version: str) -> Path:
    digest = file_sha256(checkpoint_path)[:16]
    return cache_dir() / "onnx" / f"{digest}-torch{torch.__version__}-ort{ort_version}.onnx"


def _export(model: nn.Module, out: Path, input_shape: tuple[int, ...]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on its shape checks: expected here
            torch.onnx.export(
                _WithFeatures(model).eval(),
                torch.rand(_EXPORT_BATCH, *input_shape),
                tmp,
                input_names=["pixels"],
                output_names=["logits", "features"],
                dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}, "features": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        os.replace(tmp, out)  # atomic: a killed export leaves no half file under the final name
    finally:
        Path(tmp).unlink(missing_ok=True)


def cpu_runner(model: nn.Module, checkpoint_path: Path | None, input_shape: tuple[int, int, int]) -> nn.Module | None:
    """An :class:`OnnxRunner` for ``model`` (eval mode, on the CPU) when it opts in and all goes
    well, else ``None`` (the caller runs the PyTorch model). ``input_shape`` is (C, H, W)."""
    if not getattr(model, "onnx_on_cpu", False) or checkpoint_path is None:
        return None
    if os.environ.get("CIFAR_STUDIO_ONNX", "1") == "0":
        return None
    try:
        import onnxruntime as ort  # optional: the app works without it, more slowly
    except ImportError:
        _logger.info("onnxruntime is not installed: %s runs in PyTorch (slower)", checkpoint_path.name)
        return None
    path = None
    try:
        path = _cached_file(Path(checkpoint_path), ort.__version__)
        if not path.exists():
            _export(model, path, input_shape)
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.log_severity_level = 3  # errors only
        # Its threads sleep between calls instead of spinning: spinning took the cores from the
        # decoding threads beside it (a 0.3 MP photo's decode-to-probabilities 77 ms against 46).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return OnnxRunner(session, model, input_shape)
    except Exception as exc:  # any failure: the PyTorch model gives the same answers, slower
        if path is not None:
            path.unlink(missing_ok=True)  # a damaged cached file is exported again next time
        _logger.warning("%s: ONNX Runtime unavailable (%s); running in PyTorch", checkpoint_path.name, exc)
        return None
