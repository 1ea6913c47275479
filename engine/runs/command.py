"""The ``python -m engine train ...`` command line that reproduces a training config.

Settings with a flag of their own become flags (only those that differ from the defaults);
when the config has any other non-default setting, the command reads the run's saved
``config.json`` with ``--config`` instead, which holds every setting exactly. Either way
``python -m engine train`` rebuilds the same TrainConfig (tests/test_runs.py parses the
command with the CLI's own parser to prove it, and runs one). The command trains into a new
folder: given a folder that already holds something (a run's own, as "Copy command" passes
it), it names a fresh sibling, ``<name>-again`` (see :func:`fresh_run_folder`), because training
into a folder holding another run is refused.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import TrainConfig
from ..errors import EngineError
from ..train_settings import TRAIN_FLAGS

__all__ = ["PROGRAM", "format_command", "fresh_run_folder", "resume_command", "train_command"]

PROGRAM = ["python", "-m", "engine"]


# TrainConfig field -> (train flag, how the value is written: None when it cannot be, "" for a
# switch), from the one table of the train settings (engine/train_settings.py).
# tests/test_runs.py checks this covers every settings flag of the train parser.
FLAGS: dict[str, tuple[str, Callable[[Any], str | list[str] | None]]] = {
    row.name: (row.flag, row.write) for row in TRAIN_FLAGS
}


def fresh_run_folder(folder: str | Path) -> Path:
    """``folder`` when a new run may train into it (missing, or an empty folder), else the first
    of ``<name>-again``, ``<name>-again-2``, ... beside it that is."""
    folder = Path(folder)

    def free(p: Path) -> bool:
        try:
            return (not p.exists() and not p.is_symlink()) or (p.is_dir() and not any(p.iterdir()))
        except OSError:  # unreadable: not a place to send a run
            return False

    if free(folder):
        return folder
    n = 1
    while True:
        candidate = folder.with_name(f"{folder.name}-again" + (f"-{n}" if n > 1 else ""))
        if free(candidate):
            return candidate
        n += 1


def train_command(
    config: TrainConfig | dict[str, Any], out: str | Path, config_path: str | Path | None = None
) -> list[str]:
    """argv (program included) of the train command for ``config`` writing into a new run folder:
    ``out`` itself when free, else a fresh sibling (:func:`fresh_run_folder`), so that the command
    runs as given (pass a run's own folder to train it again beside it).

    ``config_path`` is a JSON file holding ``config`` (a run's ``config.json``); it is used
    when some setting has no flag. Without it such a config raises :class:`EngineError`.
    """
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    ours, defaults = cfg.to_dict(), TrainConfig().to_dict()
    changed = [k for k in ours if ours[k] != defaults[k]]
    flags: list[str] = []
    needs_file = []
    for key in changed:
        spec = FLAGS.get(key)
        text = spec[1](ours[key]) if spec and ours[key] is not None else None
        if text is None:
            needs_file.append(key)
        elif isinstance(text, list):
            flags += [part for item in text for part in (spec[0], item)]
        else:
            flags += [spec[0], text] if text else [spec[0]]
    if needs_file:
        if config_path is None:
            raise EngineError(f"settings without a train flag ({', '.join(needs_file)}) need the config file")
        flags = ["--config", str(config_path)]
    return [*PROGRAM, "train", *flags, "--out", str(fresh_run_folder(out))]


def resume_command(run: str | Path) -> list[str]:
    """argv continuing the run in folder ``run`` from its ``last.pt``."""
    run = Path(run)
    return [*PROGRAM, "train", "--resume", str(run / "last.pt"), "--out", str(run)]


def format_command(argv: list[str]) -> str:
    """One shell line, quoted where needed (paths with spaces)."""
    return shlex.join(argv)
