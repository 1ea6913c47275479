"""Resuming a run: which settings it continues with, and the time it had already trained."""

from __future__ import annotations

import math

from ..checkpoints.format import Checkpoint
from ..config import TrainConfig
from ..errors import EngineError

__all__ = ["elapsed_before", "resume_config"]


def resume_config(ckpt: Checkpoint, config: TrainConfig | None, name: str) -> TrainConfig:
    """The saved run's settings, with the requested number of epochs unless the run is past it."""
    saved = TrainConfig.from_dict(ckpt.config)
    if config is None or config.epochs == saved.epochs:
        return saved
    mid_epoch = bool((ckpt.train_state or {}).get("step_in_epoch"))
    least = ckpt.epoch + (1 if mid_epoch else 0)  # an epoch under way must be finished
    if config.epochs < least:
        done = f"is already in epoch {least}" if mid_epoch else f"has already done {ckpt.epoch} epochs"
        raise EngineError(
            f"{name}: the run {done}, so it cannot end after {config.epochs}; "
            f"give --epochs {least} or more (or leave it out to finish the planned {saved.epochs})"
        )
    return saved.replace(epochs=config.epochs)


def elapsed_before(ckpt: Checkpoint) -> float:
    """Training seconds the run had done when ``ckpt`` (a last.pt) was saved; older
    checkpoints without the field fall back to the last epoch's ``elapsed_s``."""
    state = ckpt.train_state or {}
    last = ckpt.history[-1] if ckpt.history and isinstance(ckpt.history[-1], dict) else {}
    value = state.get("elapsed_s", last.get("elapsed_s", 0.0))
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else 0.0
