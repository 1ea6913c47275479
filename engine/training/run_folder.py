"""A run folder belongs to one run: who may train into it, the lock that keeps a second
process out, and which folders can be resumed.

The lock is an OS advisory lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows) on
``.lock`` in the folder, holding the owner's PID for messages. The OS drops it when the
process dies, so a lock file left by a crashed or killed run is simply taken over.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import time
from pathlib import Path

from ..checkpoints.format import load_checkpoint, remove_stale_temp_files
from ..errors import CheckpointError, EngineError

__all__ = [
    "LOCK_NAME",
    "RUN_FILES",
    "RunLock",
    "claim_run_folder",
    "find_resumable",
    "holds_run",
    "new_run_dir",
    "run_checkpoint",
    "run_in_progress",
    "run_is_finished",
]

_logger = logging.getLogger(__name__)
LOCK_NAME = ".lock"
CHECKPOINTS = ("best.pt", "last.pt")
# Everything a run writes (removed by an overwrite; nothing else in the folder is touched).
RUN_FILES = (*CHECKPOINTS, "config.json", "metrics.jsonl", "metrics.csv", "batches.jsonl")


class RunLock:
    """Exclusive hold on a run folder for the life of one training run."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK_NAME
        self._fd: int | None = None
        self.created_folder = False  # claim_run_folder made the folder (undo() removes it)

    def acquire(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(fd)
        except OSError:
            os.close(fd)
            owner = _read_pid(self.path)
            who = f" (PID {owner})" if owner else ""
            raise EngineError(
                f"{self.path.parent} is in use by another training process{who}; "
                "wait for it to finish or choose another output folder"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # an empty lock file names no owner
        except OSError:
            pass
        _unlock(fd)
        os.close(fd)

    def undo(self) -> None:
        """Release, and remove the folder again if the claim created it and nothing was
        written (a run refused before training leaves no trace)."""
        self.release()
        folder = self.path.parent
        if self.created_folder and [p.name for p in folder.iterdir()] == [LOCK_NAME]:
            self.path.unlink(missing_ok=True)
            try:
                folder.rmdir()
            except OSError:
                pass


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        except OSError:
            pass

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def new_run_dir(root: str | Path, model: str) -> Path:
    """A new, not yet existing folder under ``root`` named by the time and ``model``
    (``20261207-142501-resnet20``; ``-2``, ``-3``... when two runs start in one second)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", model).strip("-") or "model"
    base = Path(root) / f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}"
    path, n = base, 2
    while path.exists():
        path, n = base.with_name(f"{base.name}-{n}"), n + 1
    return path


def holds_run(folder: str | Path) -> bool:
    """Whether ``folder`` already has a run's checkpoints: a new run there is refused
    (:func:`claim_run_folder`) unless it resumes that run or overwrites it."""
    return any((Path(folder) / name).exists() for name in CHECKPOINTS)


def run_checkpoint(folder: str | Path) -> Path | None:
    """The checkpoint that describes a run: last.pt (it has the whole history), else best.pt."""
    return next((Path(folder) / n for n in ("last.pt", "best.pt") if (Path(folder) / n).is_file()), None)


def run_in_progress(folder: str | Path) -> bool:
    """Whether a training process holds ``folder`` now (a runs browser's "running").

    Reads only: a folder without a lock file is not running; a lock file left by a dead
    process is not held."""
    path = Path(folder) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        _lock(fd)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the lock if this call took it
    return False


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def claim_run_folder(out: Path, resume: Path | None = None, overwrite: bool = False) -> RunLock:
    """Check ``out`` may take this run, lock it, and clear what interrupted saves left.

    Refused (one line): ``out`` is a file; it holds another run's checkpoints while this is
    neither a resume of that run nor an overwrite; another process is training into it.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise EngineError(f"output folder {out} is a file; choose a folder")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EngineError(f"cannot create output folder {out} ({exc.strerror})") from None
    lock = RunLock(out).acquire()
    lock.created_folder = created
    try:
        held = [n for n in CHECKPOINTS if (out / n).exists()]
        same_run = resume is not None and _folder_of(resume).resolve() == out.resolve()
        if held and not same_run:
            if not overwrite:
                raise EngineError(
                    f"{out} already holds another run ({', '.join(held)}); resume it, choose another "
                    "output folder, or overwrite it (--overwrite)"
                )
            _clear(out)
        for p in remove_stale_temp_files(out):
            _logger.info("removed %s, left by an interrupted save", p.name)
    except BaseException:
        lock.undo()
        raise
    return lock


def _folder_of(resume: Path) -> Path:
    resume = Path(resume)
    return resume if resume.is_dir() else resume.parent


def _clear(out: Path) -> None:
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "tensorboard", ignore_errors=True)


def find_resumable(path: str | Path, unfinished_only: bool = False) -> Path | None:
    """The ``last.pt`` that ``train(resume=...)`` can continue from ``path`` (a run folder
    or a checkpoint), or None when there is none (no ``last.pt``, unreadable, or no
    training state). Works for any run: stopped in the app or from the command line.

    A run that finished (all its epochs, or stopped early) can still be extended with more
    epochs; ``unfinished_only`` leaves those out (what a "Resume" button wants).
    """
    path = Path(path)
    last = path / "last.pt" if path.is_dir() else path
    if not last.is_file():
        return None
    try:
        ckpt = load_checkpoint(last)
    except CheckpointError:
        return None
    if not ckpt.train_state:
        return None
    if unfinished_only and run_is_finished(ckpt):
        return None
    return last


def run_is_finished(ckpt) -> bool:
    """Whether a ``last.pt`` is from a run that ended by itself (not stopped or crashed)."""
    state = ckpt.train_state or {}
    if state.get("early_stopped"):
        return True
    planned = (ckpt.config or {}).get("epochs")
    return isinstance(planned, int) and ckpt.epoch >= planned and not state.get("step_in_epoch")
