"""Reading the pieces of a run folder for engine/runs/catalog.py: JSON and JSON-lines files (damage
reported as one line, never raised), the metrics table, size on disk, the trainer's lock, and
what ``last.pt`` says about how the run ended (cached: a runs view asks again and again).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from ..checkpoints.format import load_checkpoint
from ..errors import CheckpointError
from ..training.run_files import BATCHES_FILE
from ..training.run_folder import LOCK_NAME, run_is_finished

__all__ = [
    "CONFIG_FILE",
    "METRICS_CSV",
    "METRICS_FILE",
    "folder_size_and_mtime",
    "last_batch_row",
    "last_checkpoint_info",
    "lock_owner",
    "read_json",
    "read_jsonl",
    "read_metrics",
    "trained_past",
]

# The names config.json and the metrics files are written under (engine/training/run_files.py).
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
METRICS_CSV = "metrics.csv"


def read_json(path: Path) -> tuple[Any, str | None]:
    try:
        return json.loads(path.read_text()), None
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"{path.name}: unreadable ({exc.__class__.__name__})"
    except json.JSONDecodeError as exc:
        return None, f"{path.name}: not valid JSON (line {exc.lineno})"


def read_jsonl(path: Path) -> tuple[list[dict], str | None]:
    """Rows of a JSON-lines file; bad lines (a write cut short) are skipped and counted."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return [], None
    except (OSError, UnicodeDecodeError) as exc:
        return [], f"{path.name}: unreadable ({exc.__class__.__name__})"
    rows, bad = [], 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            bad += 1
    return rows, (f"{path.name}: {bad} unreadable line{'s' * (bad > 1)} skipped" if bad else None)


def _read_csvread_metrics(path: Path) -> list[dict]:
    def num(v: str):
        if v in ("", "None"):
            return None
        try:
            f = float(v)
        except ValueError:
            return v
        return int(f) if f.is_integer() and "." not in v and "e" not in v.lower() else f

    try:
        with open(path, newline="") as f:
            return [{k: num(v) for k, v in row.items()} for row in csv.DictReader(f)]
    except (OSError, csv.Error, UnicodeDecodeError):
        return []


def read_metrics(path: Path) -> tuple[list[dict], str | None]:
    rows, problem = read_jsonl(path / METRICS_FILE)
    if not rows and not (path / METRICS_FILE).exists() and (path / METRICS_CSV).exists():
        rows = _read_csvread_metrics(path / METRICS_CSV)
    # A resumed run may repeat an epoch (rewritten after a crash): the last row for an epoch wins.
    by_epoch: dict[Any, dict] = {}
    for i, r in enumerate(rows):
        by_epoch[r.get("epoch", f"row{i}")] = r
    return list(by_epoch.values()), problem


def folder_size_and_mtime(path: Path) -> tuple[int, float | None]:
    size, newest = 0, None
    stack = [path]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    stack.append(Path(e.path))
                elif e.is_file(follow_symlinks=False):
                    st = e.stat(follow_symlinks=False)
                    size += st.st_size
                    newest = st.st_mtime if newest is None else max(newest, st.st_mtime)
            except OSError:
                continue
    return size, newest


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def lock_owner(run: str | Path) -> int | None:
    """PID of the process training into ``run`` now, or None.

    The trainer holds an OS lock on the folder's lock file, writes its PID there and empties
    it when done; a PID left behind by a killed process names no live process. Only the PID
    is read: taking the lock to test it could make a run starting at that instant fail.
    """
    try:
        text = (Path(run) / LOCK_NAME).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and _pid_alive(int(text)) else None


# Loading a last.pt costs its size in reads; a runs view refreshing every few seconds asks about
# the same files again and again. Keyed by path, size and modification time, so a rewrite misses.
_LAST_INFO: dict[tuple[str, int, int], dict | str] = {}


def last_checkpoint_info(last: Path) -> dict | str:
    """How ``last.pt`` says the run ended (a dict), or a one-line problem (a str)."""
    try:
        st = last.stat()
    except OSError as exc:
        return f"{last.name}: unreadable ({exc.strerror})"
    key = (str(last.resolve()), st.st_size, st.st_mtime_ns)
    if key in _LAST_INFO:
        return _LAST_INFO[key]
    try:
        ckpt = load_checkpoint(last)
    except CheckpointError as exc:
        info: dict | str = str(exc)
    else:
        state = ckpt.train_state or {}
        saved = ckpt.config or {}
        step = state.get("step_in_epoch") or 0
        if run_is_finished(ckpt):
            status = "completed"
            message = (
                f"stopped early after epoch {ckpt.epoch}: validation accuracy stopped improving"
                if state.get("early_stopped")
                else f"finished {ckpt.epoch} epochs"
            )
        else:
            status = "stopped"
            message = (
                f"stopped in epoch {ckpt.epoch + 1}, after batch {step}"
                if step
                else f"stopped after epoch {ckpt.epoch}"
            )
        info = {
            "status": status,
            "message": message,
            "has_state": bool(state),
            "planned": saved.get("epochs") if isinstance(saved.get("epochs"), int) else None,
            "model": saved.get("model") if isinstance(saved.get("model"), str) else None,
            "data": saved.get("data") if isinstance(saved.get("data"), str) else None,
            # Where training stood when it was saved: (epochs done, batches into the next one).
            "position": (ckpt.epoch, int(step)),
        }
    if len(_LAST_INFO) > 256:
        _LAST_INFO.clear()
    _LAST_INFO[key] = info
    return info


def last_batch_row(run: Path, tail_bytes: int = 8192) -> dict | None:
    """The last complete row of the run's per-batch log, reading only the end of the file."""
    path = Path(run) / BATCHES_FILE
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - tail_bytes))
            tail = f.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        try:
            row = json.loads(line)
        except ValueError:  # cut short, or the partial first line of the tail
            continue
        if isinstance(row, dict) and isinstance(row.get("epoch"), int) and isinstance(row.get("step"), int):
            return row
    return None


def trained_past(position: tuple[int, int], row: dict | None) -> bool:
    """Whether a batch row lies after a checkpoint's ``position``.

    A stop saves where it stopped, so a run that logged batches past its last save ended
    without stopping: it failed, or its process was killed.
    """
    if row is None:
        return False
    return (row["epoch"] - 1, row["step"]) > tuple(position)
