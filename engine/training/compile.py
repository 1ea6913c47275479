"""``torch.compile`` where it can work, and eager mode with a visible note where it cannot.

Compilation is lazy: ``torch.compile(model)`` returns at once and the compiler runs at the
first forward (and backward) pass, which is where a missing C++ compiler or Triton shows up.
:class:`CompiledStep` therefore runs the first training step under a guard and falls back
to the eager model when it fails.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import sys

import torch

__all__ = ["CompiledStep", "compile_available", "compile_unavailable_reason"]

_logger = logging.getLogger(__name__)


def compile_unavailable_reason(device: str = "cpu") -> str | None:
    """Why ``torch.compile`` cannot work here (one line), or None when it can be tried.

    ``device`` is a device type ("cpu", "cuda", "mps"). Checks what compilation needs
    without compiling: a normal Python install (not a frozen app), a C++ compiler for CPU
    code, Triton for CUDA code.
    """
    if getattr(sys, "frozen", False):
        return "the packaged app has no compiler toolchain"
    if device.startswith("mps"):
        return "torch.compile does not support Apple MPS yet"
    if device.startswith("cuda"):
        if importlib.util.find_spec("triton") is None:
            return "Triton is not installed (needed to compile for CUDA)"
        return None
    compilers = [os.environ.get("CXX"), "c++", "g++", "clang++", "cl"]
    if not any(c and shutil.which(c) for c in compilers):
        return "no C++ compiler found (install g++ or clang, or set CXX)"
    return None


def compile_available(device: str = "cpu") -> bool:
    """Whether offering ``TrainConfig.compile`` makes sense on this machine and device."""
    return compile_unavailable_reason(device) is None


class CompiledStep:
    """The model the training step calls: compiled until the first step proves it works.

    ``run(step_fn)`` calls ``step_fn(model)``. While the first step has not succeeded, an
    error in it (compile errors surface there) switches to the eager model for good, logs a
    warning through ``log`` and runs the step again eagerly. Out-of-memory is not a compile
    failure and propagates.
    """

    def __init__(self, eager, device_type: str, log):
        self.eager = eager
        self.model = eager
        self.log = log
        self._pending = False
        reason = compile_unavailable_reason(device_type)
        if reason is not None:
            log(f"torch.compile is not available ({reason}); training without it", "warning")
            return
        try:
            self.model = torch.compile(eager)
            self._pending = True
            log("torch.compile enabled (the first step compiles the model)")
        except Exception as exc:  # unsupported platform or Python version
            log(f"torch.compile failed ({_one_line(exc)}); training without it", "warning")

    def run(self, step_fn):
        if not self._pending:
            return step_fn(self.model)
        try:
            result = step_fn(self.model)
        except torch.OutOfMemoryError:
            raise
        except Exception as exc:
            _logger.debug("compiled step failed", exc_info=True)
            self.model, self._pending = self.eager, False
            self.log(f"torch.compile failed at the first step ({_one_line(exc)}); training without it", "warning")
            return step_fn(self.model)
        self._pending = False
        return result


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__
