"""Run folders as the Train tab sees them: where a new run goes, which checkpoint shows an
earlier run, and the record of a stopped run that Resume continues (``Settings.last_run``)."""

from __future__ import annotations

import re
import time
from pathlib import Path

__all__ = ["default_run_dir", "holds_run", "run_checkpoint", "runs_root", "stopped_run"]


def runs_root() -> Path:
    """Per-user folder for training runs, shared with the command line; ``CIFAR_STUDIO_RUNS`` overrides."""
    import engine  # light: engine.paths needs no torch

    return engine.runs_dir()


def default_run_dir(model: str) -> Path:
    """A new, not yet existing folder under :func:`runs_root` named by the time and ``model``."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", model).strip("-") or "model"
    base = runs_root() / f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}"
    path, n = base, 2
    while path.exists():
        path, n = base.with_name(f"{base.name}-{n}"), n + 1
    return path


def holds_run(folder: Path) -> bool:
    """Whether ``folder`` already has a run's checkpoints (a new run must not write over them)."""
    return (folder / "last.pt").exists() or (folder / "best.pt").exists()


def run_checkpoint(folder: Path) -> Path | None:
    """The checkpoint that describes a run: last.pt (it has the whole history), else best.pt."""
    return next((folder / n for n in ("last.pt", "best.pt") if (folder / n).is_file()), None)


def stopped_run(folder: str | Path, last: str, best: str | None = None) -> dict:
    """The ``Settings.last_run`` record of a stopped run in ``folder`` that Resume continues from ``last``."""
    if best is None:
        best_path = Path(folder) / "best.pt"
        best = str(best_path) if best_path.is_file() else None
    return {"out_dir": str(folder), "status": "stopped", "best": best, "last": str(last)}
