"""Run folders, read side: list the runs under a folder, summarize one, read its config, curves
and checkpoints, rename it. The trainer writes them (engine/training/run_files.py, and the
checkpoints); this module only reads, so the GUI's runs view and ``python -m engine runs`` agree.

A run folder holds ``config.json`` (the TrainConfig), ``metrics.jsonl`` (one JSON object per
finished epoch; ``metrics.csv`` is the same table), ``last.pt`` (resumable) and ``best.pt``.
Status, from what is on disk:

* ``running``   the lock file names a live process (the trainer's lock, engine/training/run_folder.py)
* ``completed`` every planned epoch is in the metrics, or early stopping ended it
* ``stopped``   fewer epochs than planned, with a ``last.pt`` to resume from
* ``failed``    it logged batches past its last save (a stop always saves where it stops, so
                it failed or was killed), or it ended before writing any checkpoint
* ``unknown``   the folder is too damaged to tell (``problem`` says what is wrong)

A failed run with a ``last.pt`` can still be resumed from it (``resumable``).

Nothing here raises for a damaged run while listing: each summary carries a one-line
``problem`` instead, and the listing goes on.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import EngineError
from ..paths import runs_dir
from ..training.run_files import read_batch_history
from ..training.run_folder import CHECKPOINTS
from .inspection import (
    CONFIG_FILE,
    METRICS_FILE,
    folder_size_and_mtime,
    last_batch_row,
    last_checkpoint_info,
    lock_owner,
    read_json,
    read_metrics,
    trained_past,
)

__all__ = [
    "RUN_STATUSES",
    "CheckpointInfo",
    "RunDetails",
    "RunSummary",
    "is_run_folder",
    "list_runs",
    "read_run",
    "rename_run",
    "summarize_run",
]

_logger = logging.getLogger(__name__)

RUN_STATUSES = ("running", "completed", "stopped", "failed", "unknown")
# The trainer's own names where it exports them (one source of truth); the rest as it writes them.
BEST_CHECKPOINT, LAST_CHECKPOINT = CHECKPOINTS
_MARKERS = (CONFIG_FILE, METRICS_FILE, LAST_CHECKPOINT, BEST_CHECKPOINT)
_SCAN_DEPTH = 2  # runs/<run> and runs/<group>/<run>


def _clean(v):
    """JSON-safe: NaN and infinities become None, containers recursively."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


@dataclass
class RunSummary:
    """One row of the runs list."""

    path: str
    name: str
    status: str = "unknown"  # one of RUN_STATUSES
    model: str | None = None
    data: str | None = None
    epochs_done: int = 0
    epochs_planned: int | None = None
    best_val_acc: float | None = None  # 0-1
    last_val_acc: float | None = None
    started: float | None = None  # Unix time (config.json written)
    modified: float | None = None  # Unix time of the newest file
    size_bytes: int = 0
    resumable: bool = False  # stopped, with a last.pt to continue from
    best_checkpoint: str | None = None
    message: str = ""  # how the run ended, when it said
    problem: str | None = None  # one line when the folder is damaged or incomplete

    @property
    def date(self) -> str:
        """Start time, local, to the minute (``""`` when unknown)."""
        return datetime.fromtimestamp(self.started).strftime("%Y-%m-%d %H:%M") if self.started else ""

    def to_dict(self) -> dict[str, Any]:
        return _clean({**asdict(self), "date": self.date})


@dataclass
class CheckpointInfo:
    name: str
    path: str
    size_bytes: int
    modified: float


@dataclass
class RunDetails:
    """Everything a run folder says: summary, config, per-epoch and per-batch metrics."""

    summary: RunSummary
    config: dict[str, Any] = field(default_factory=dict)
    epochs: list[dict[str, Any]] = field(default_factory=list)  # metrics.jsonl rows
    batches: list[dict[str, Any]] = field(default_factory=list)  # per-batch rows, when the run wrote them
    checkpoints: list[CheckpointInfo] = field(default_factory=list)

    def curve(self, key: str) -> tuple[list[float], list[float | None]]:
        """(epochs, values) of metric ``key`` (train_loss, val_acc, lr...); missing values are None."""
        xs = [float(r.get("epoch", i + 1)) for i, r in enumerate(self.epochs)]
        return xs, [r.get(key) for r in self.epochs]

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "summary": self.summary.to_dict(),
                "config": self.config,
                "epochs": self.epochs,
                "batches": self.batches,
                "checkpoints": [asdict(c) for c in self.checkpoints],
            }
        )


# ---------------------------------------------------------------------------- reading pieces
def is_run_folder(path: str | Path) -> bool:
    path = Path(path)
    return path.is_dir() and any((path / m).exists() for m in _MARKERS)


# ---------------------------------------------------------------------------- summaries
def summarize_run(path: str | Path) -> RunSummary:
    """Summary of one run folder; never raises (damage goes into ``problem``)."""
    path = Path(path)
    s = RunSummary(path=str(path), name=path.name)
    try:
        _fill_summary(s, path)
    except Exception as exc:  # a listing must survive any one folder
        _logger.warning("cannot summarize run %s", path, exc_info=True)
        s.status = "unknown"
        s.problem = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]
    return s


def _fill_summary(s: RunSummary, path: Path) -> None:
    problems: list[str] = []
    config, problem = read_json(path / CONFIG_FILE)
    if problem:
        problems.append(problem)
    elif config is None:
        problems.append(f"{CONFIG_FILE}: missing")
    elif not isinstance(config, dict):
        problems.append(f"{CONFIG_FILE}: not a settings object")
        config = None
    if config:
        s.model = config.get("model") if isinstance(config.get("model"), str) else None
        s.data = config.get("data") if isinstance(config.get("data"), str) else None
        epochs = config.get("epochs")
        s.epochs_planned = epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None
        try:
            s.started = (path / CONFIG_FILE).stat().st_mtime
        except OSError:
            pass
    rows, problem = read_metrics(path)
    if problem:
        problems.append(problem)
    s.epochs_done = len(rows)
    accs = [r.get("val_acc") for r in rows if isinstance(r.get("val_acc"), (int, float))]
    accs = [a for a in accs if math.isfinite(a)]
    s.best_val_acc = max(accs) if accs else None
    s.last_val_acc = accs[-1] if accs else None
    best = path / BEST_CHECKPOINT
    s.best_checkpoint = str(best) if best.is_file() else None
    s.size_bytes, s.modified = folder_size_and_mtime(path)
    if s.started is None:
        s.started = s.modified
    s.status = _status(s, path, config is not None, problems)
    s.problem = "; ".join(problems) or None


def _status(s: RunSummary, path: Path, has_config: bool, problems: list[str]) -> str:
    if lock_owner(path) is not None:
        return "running"
    if s.epochs_planned is not None and s.epochs_done >= s.epochs_planned:
        s.message = f"finished {s.epochs_planned} epochs"
        return "completed"
    last = path / LAST_CHECKPOINT
    if last.is_file():
        # Fewer epochs than planned: stopped, or ended by early stopping. Only last.pt says which.
        info = last_checkpoint_info(last)
        if isinstance(info, str):
            problems.append(info)
            return "unknown"
        if s.epochs_planned is None and info["planned"] is not None:  # config.json lost: last.pt's copy
            s.epochs_planned = info["planned"]
            s.model = s.model or info["model"]
            s.data = s.data or info["data"]
        s.message = info["message"]
        s.resumable = info["status"] == "stopped" and info["has_state"]  # failed ones too (below)
        row = last_batch_row(path)
        if info["status"] == "stopped" and trained_past(info["position"], row):
            done, step = info["position"]
            # ``done`` epochs completed, ``step`` batches into the next one (1-based: epoch done + 1).
            saved = f"after batch {step} of epoch {done + 1}" if step else f"from the end of epoch {done}"
            s.message = (
                f"ended in epoch {row['epoch']} without saving (it failed or was killed); resume continues {saved}"
            )
            return "failed"
        return info["status"]
    if not has_config and s.epochs_done == 0:
        return "unknown"
    s.message = "no checkpoint written: the run ended during its first epoch"
    return "failed"


def _candidate_folders(root: Path, depth: int):
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return
    for child in children:
        if is_run_folder(child):
            yield child
        elif depth > 1 and child.name != "tensorboard":
            yield from _candidate_folders(child, depth - 1)


def list_runs(folders: list[str | Path] | None = None, include_default: bool = True) -> list[RunSummary]:
    """Every run under ``folders`` (and the default runs folder), newest first.

    A folder that is itself a run is listed too; missing folders are skipped.
    """
    roots: list[Path] = [Path(f) for f in folders or []]
    if include_default:
        roots.insert(0, runs_dir())
    seen: set[Path] = set()
    out: list[RunSummary] = []
    for root in roots:
        found = [root] if is_run_folder(root) else list(_candidate_folders(root, _SCAN_DEPTH))
        for run in found:
            key = run.resolve()
            if key not in seen:
                seen.add(key)
                out.append(summarize_run(run))
    out.sort(key=lambda s: s.started or 0.0, reverse=True)
    return out


def read_run(path: str | Path) -> RunDetails:
    """The whole run: summary, config, per-epoch and per-batch metrics, checkpoint files.

    Raises :class:`EngineError` when ``path`` is not a run folder; damage inside one is reported
    in ``summary.problem``.
    """
    path = Path(path)
    if not is_run_folder(path):
        raise EngineError(f"{path}: not a run folder (no {CONFIG_FILE}, {METRICS_FILE} or checkpoint)")
    summary = summarize_run(path)
    config, _ = read_json(path / CONFIG_FILE)
    epochs, _ = read_metrics(path)
    batches = read_batch_history(path)
    checkpoints = []
    for f in sorted(path.glob("*.pt")):
        try:
            st = f.stat()
        except OSError:
            continue
        checkpoints.append(CheckpointInfo(f.name, str(f), st.st_size, st.st_mtime))
    return RunDetails(summary, config if isinstance(config, dict) else {}, epochs, batches, checkpoints)


# ---------------------------------------------------------------------------- changes
def rename_run(path: str | Path, new_name: str) -> Path:
    """Rename a run folder in place (same parent); returns the new path.

    Refuses a running run, a name that is empty, hidden or has a path separator, and a name
    already taken, each with a one-line :class:`EngineError`.
    """
    path = Path(path)
    name = new_name.strip()
    if not is_run_folder(path):
        raise EngineError(f"{path}: not a run folder")
    if not name or name in (".", "..") or name.startswith(".") or any(c in name for c in "/\\\0"):
        raise EngineError(f"{new_name!r}: not a usable folder name (no slashes, not hidden, not empty)")
    if lock_owner(path) is not None:
        raise EngineError(f"{path.name}: is training now; stop it before renaming")
    target = path.with_name(name)
    if target.exists():
        raise EngineError(f"{name}: a file or folder of that name already exists in {path.parent}")
    try:
        path.rename(target)
    except OSError as exc:
        raise EngineError(f"cannot rename {path.name} to {name}: {exc.strerror or exc}") from None
    return target
