"""Run folders as the Train tab sees them: where a new run goes and the record of a stopped run
that Resume continues (``Settings.last_run``). What a run folder holds is the engine's to know
(``engine.new_run_dir``, ``engine.holds_run``, ``engine.run_checkpoint``)."""

from __future__ import annotations

from pathlib import Path

import engine  # light here: the names below need no torch until called

__all__ = ["default_run_dir", "runs_root", "stopped_run"]


def runs_root() -> Path:
    """Per-user folder for training runs, shared with the command line; ``CIFAR_STUDIO_RUNS`` overrides."""
    return engine.runs_dir()


def default_run_dir(model: str) -> Path:
    """A new, not yet existing folder under :func:`runs_root` named by the time and ``model``."""
    return engine.new_run_dir(runs_root(), model)


def stopped_run(folder: str | Path, last: str, best: str | None = None) -> dict:
    """The ``Settings.last_run`` record of a stopped run in ``folder`` that Resume continues from ``last``."""
    if best is None:
        best_path = Path(folder) / "best.pt"
        best = str(best_path) if best_path.is_file() else None
    return {"out_dir": str(folder), "status": "stopped", "best": best, "last": str(last)}
