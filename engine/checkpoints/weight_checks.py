"""Step 3 of what the loader checks (see engine/checkpoints/checks.py): the weights, tensors
only, finite, and shaped as the declared architecture built on PyTorch's ``meta`` device under a
time limit.
"""

from __future__ import annotations

import sys
import time

import torch

from ..errors import CheckpointError, EngineError
from ..models.factory import create_model, on_meta_device
from .checks import LIMITS, short
from .state_dict import clean_state_dict

__all__ = ["check_weights", "tensor_finite"]


def check_weights(ckpt, name: str) -> None:
    """Tensors only, finite, and shaped as the declared architecture (checked on ``meta``)."""
    state = ckpt.state_dict
    if not all(isinstance(k, str) for k in state) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{name}: malformed checkpoint metadata (state_dict must map names to tensors)")
    for key, value in state.items():
        if not tensor_finite(value):
            raise CheckpointError(f"{name}: weights contain NaN or infinite values ({key}); the model is broken")
    expected = _meta_shapes(ckpt, name)
    if expected is None:
        return
    got = {k: tuple(v.shape) for k, v in clean_state_dict(state).items()}
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    wrong = sorted(k for k in set(got) & set(expected) if got[k] != expected[k])
    if missing or extra or wrong:
        if wrong:
            k = wrong[0]
            detail = f"{k} is {list(got[k])}, the architecture needs {list(expected[k])}"
            if ckpt.classes and expected[k] and expected[k][0] == len(ckpt.classes):
                detail += f" (the checkpoint names {len(ckpt.classes)} classes)"
        elif missing:
            detail = f"{len(missing)} missing, e.g. {missing[0]}"
        else:
            detail = f"{len(extra)} unexpected, e.g. {extra[0]}"
        raise CheckpointError(f"{name}: weights do not fit architecture {short(ckpt.arch)} ({detail})")


def tensor_finite(t) -> bool:
    """No NaN or infinity in ``t``. A sum is finite exactly when no element is NaN or
    infinite (or the sum overflowed, checked element-wise then): far faster than
    ``isfinite().all()`` on channels-last CPU tensors."""
    if not (t.is_floating_point() or t.is_complex()):
        return True
    # Reduce over memory order (a channels-last weight is a permuted contiguous block).
    order = sorted(range(t.dim()), key=lambda d: -t.stride(d))
    flat = t.permute(order)
    flat = flat.reshape(-1) if flat.is_contiguous() else t.reshape(-1)
    if bool(torch.isfinite(flat.sum())):
        return True
    return bool(torch.isfinite(flat).all())


class _BuildTooSlow(Exception):
    pass


def _meta_shapes(ckpt, name: str) -> dict[str, tuple] | None:
    """The declared architecture's state_dict shapes, built on ``meta`` within a time limit."""

    deadline = time.monotonic() + LIMITS["build_seconds"]

    def watchdog(frame, event, arg):  # called on every Python call while building
        if event == "call" and time.monotonic() > deadline:
            raise _BuildTooSlow

    # A profiler or debugger may already be installed: leave it alone (no time limit then).
    previous = sys.getprofile()
    if previous is None:
        sys.setprofile(watchdog)
    try:
        with on_meta_device():
            model = create_model(ckpt.arch, len(ckpt.classes), ckpt.channels, **ckpt.arch_args)
    except _BuildTooSlow:
        raise CheckpointError(
            f"{name}: building {short(ckpt.arch)} with {short(ckpt.arch_args)} takes longer than "
            f"{LIMITS['build_seconds']:.0f} s; refused"
        ) from None
    except EngineError as exc:
        raise CheckpointError(f"{name}: cannot build its architecture ({exc})") from None
    except MemoryError:
        raise CheckpointError(
            f"{name}: its architecture {short(ckpt.arch)} {short(ckpt.arch_args)} is too large; refused"
        ) from None
    except Exception:  # a model that cannot be built on meta: the strict load in build_model checks it
        return None
    finally:
        if previous is None:
            sys.setprofile(None)
    state = model.state_dict()
    elements = sum(v.numel() for v in state.values())
    if elements > LIMITS["parameters"]:
        raise CheckpointError(
            f"{name}: its architecture {short(ckpt.arch)} {short(ckpt.arch_args)} would have {elements:,} weights "
            f"(limit {LIMITS['parameters']:,}); refused"
        )
    return {k: tuple(v.shape) for k, v in state.items()}
