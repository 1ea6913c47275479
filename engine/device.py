"""Device, precision and thread decisions, made once per run."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass

import torch

from .errors import ConfigError

__all__ = [
    "DeviceInfo",
    "autocast_context",
    "autocast_dtype",
    "cpu_has_fast_bf16",
    "detect_device",
    "grad_scaler",
    "resolve_device",
    "set_thread_budget",
    "thread_budget",
    "threads_label",
]

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # "cuda", "mps" or "cpu"
    name: str  # "CUDA: NVIDIA H100 80GB HBM3", "Apple MPS", "CPU, 2 threads"
    torch_device: str


def detect_device(reserve_for_ui: bool = False) -> DeviceInfo:
    """The best device on this machine, named for a status bar; on a CPU with the thread count
    training uses (:func:`thread_budget`, the one rule for it: the window passes
    ``reserve_for_ui=True`` as its training runs do)."""
    if torch.cuda.is_available():
        return DeviceInfo("cuda", f"CUDA: {torch.cuda.get_device_name(0)}", "cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return DeviceInfo("mps", "Apple MPS", "mps")
    return DeviceInfo("cpu", f"CPU, {threads_label(thread_budget(reserve_for_ui))}", "cpu")


def threads_label(n: int) -> str:
    return f"{n} thread" if n == 1 else f"{n} threads"


def resolve_device(requested: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; an unavailable explicit choice is an error."""
    if requested == "auto":
        return torch.device(detect_device().torch_device)
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("device", "CUDA was requested but no CUDA GPU is available")
        return torch.device(requested)
    if requested == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ConfigError("device", "Apple MPS was requested but is not available")
        return torch.device("mps")
    return torch.device("cpu")


def cpu_has_fast_bf16() -> bool:
    """True where oneDNN runs bf16 convolutions natively (AVX512-BF16 or AMX)."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return " amx_bf16" in flags or " avx512_bf16" in flags


def autocast_dtype(device: torch.device, setting: str, model=None) -> torch.dtype | None:
    """The autocast dtype for ``mixed_precision`` on ``device``; None means full fp32.

    "auto" keeps fp32 on a CPU for a model whose ``cpu_bf16_slow`` is true (depthwise
    convolutions: EfficientNet-Lite0 ran 0.3 images/s in bf16 against 5 in fp32 on this
    project's CPU, /tmp/lite_check.py in the issue-19 note)."""
    if setting == "off":
        return None
    if setting == "fp16":
        return torch.float16 if device.type in ("cuda", "mps") else torch.bfloat16
    if setting == "bf16":
        return torch.bfloat16
    # auto
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_fast_bf16() and not getattr(model, "cpu_bf16_slow", False):
        return torch.bfloat16
    return None


def autocast_context(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """The loss scaler for autocast ``dtype``: fp16 on CUDA needs one; elsewhere a pass-through."""
    return torch.amp.GradScaler(device.type, enabled=dtype == torch.float16 and device.type == "cuda")


def thread_budget(reserve_for_ui: bool = False) -> int:
    """The intra-op thread count a training run uses (see :func:`set_thread_budget`), without setting it."""
    cores = os.cpu_count() or 1
    env = os.environ.get("CIFAR_STUDIO_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    if reserve_for_ui and cores >= 2:
        return cores - 1
    return cores


def set_thread_budget(reserve_for_ui: bool = False) -> int:
    """Choose torch's intra-op thread count deliberately (:func:`thread_budget`) and return it.

    Torch defaults to one thread per core, and its OpenMP threads can starve a GUI thread
    (pytorch#37259). With ``reserve_for_ui`` one core stays free for the window on any machine
    with two or more cores. Measured on a 2-core CPU while training ResNet-20 from the Train tab
    (benchmarks/gui_responsiveness.py): two torch threads stalled the event loop for up to
    235 ms; one thread kept every stall under 40 ms for about 38% fewer images per second. The
    command line keeps every core. ``CIFAR_STUDIO_THREADS`` overrides both.
    """
    threads = thread_budget(reserve_for_ui)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
