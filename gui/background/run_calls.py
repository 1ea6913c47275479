"""Calls for :class:`gui.background.task.Task` behind the Runs tab, the LR finder, export and
the model summary: thin wrappers over ``engine``'s public names, cancellable through the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# Imports inside functions: these functions run in worker threads, where the engine (and torch) is
# imported; the GUI thread never imports torch at start-up.

__all__ = ["RunCurves", "export_model", "find_lr", "list_runs", "model_summary", "read_run_curves"]


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
    """engine.lr_find on ``config``'s model and data; progress per step, each step's
    ``(lr, smoothed loss)`` as a partial result (the curve is drawn as it is measured);
    cancel keeps what was measured."""
    import engine

    state.set_progress(None, f"loading {config.data}")

    def progress(step: int, total: int, lr: float, loss: float) -> None:
        state.set_partial_result((lr, loss))
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
