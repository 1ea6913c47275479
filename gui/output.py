"""Text output that survives windowed builds, where ``sys.stdout``/``sys.stderr`` are None.

Everything the GUI prints or logs goes through :func:`write_line`: to the console when there
is one, otherwise appended to a log file in the user's app-data folder (PyInstaller's
windowed builds on Windows and macOS have no console and crash on a bare ``print``).
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from pathlib import Path

# Imports inside functions: the message helpers import the background layer, which this leaf module
# must not load at start-up.

__all__ = [
    "add_error_listener",
    "handle_exception",
    "install_excepthook",
    "log_file_path",
    "remove_error_listener",
    "setup_logging",
    "write_line",
]

_APP_NAME = "cifar-studio"


def log_file_path() -> Path:
    """The fallback log file; ``CIFAR_STUDIO_LOG`` overrides (tests)."""
    env = os.environ.get("CIFAR_STUDIO_LOG")
    if env:
        return Path(env)
    from platformdirs import user_data_dir  # small and Qt-free; same folder family as the engine's

    return Path(user_data_dir(_APP_NAME, appauthor=False)) / "cifar-studio.log"


def _append_to_log(text: str) -> None:
    try:
        path = log_file_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")
    except OSError:
        pass  # nowhere left to write: losing a log line beats crashing the app


def write_line(text: str, *, error: bool = False) -> None:
    """One line to stdout (or stderr with ``error``), falling back to the log file."""
    stream = sys.stderr if error else sys.stdout
    if stream is not None:
        try:
            stream.write(text + "\n")
            stream.flush()
            return
        except (OSError, ValueError, AttributeError):  # closed or broken console
            pass
    _append_to_log(text)


class _SafeHandler(logging.Handler):
    """A logging handler that writes through :func:`write_line` (stderr or the log file)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
        except Exception:
            self.handleError(record)
            return
        write_line(message, error=True)


def setup_logging(verbose: bool = False) -> None:
    """Route Python logging (and warnings) through the safe handler; idempotent."""
    root = logging.getLogger()
    if not any(isinstance(h, _SafeHandler) for h in root.handlers):
        handler = _SafeHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.captureWarnings(True)


_error_listeners: list = []


def add_error_listener(listener) -> None:
    """``listener(line)`` is called with a one-line description of every exception that reaches
    :func:`handle_exception` (the main window shows it in its message bar)."""
    if listener not in _error_listeners:
        _error_listeners.append(listener)


def remove_error_listener(listener) -> None:
    if listener in _error_listeners:
        _error_listeners.remove(listener)


def handle_exception(exc_type, exc, tb) -> None:
    """What ``sys.excepthook`` does: the traceback to the log, one line to the listeners."""
    logger = logging.getLogger("gui")
    logger.error("unexpected error:\n%s", "".join(traceback.format_exception(exc_type, exc, tb)).rstrip())
    from .background.messages import one_line

    line = one_line(exc if exc is not None else exc_type())
    for listener in list(_error_listeners):
        try:
            listener(line)
        except Exception:  # a failing listener must not recurse into the hook
            logger.debug("error listener failed", exc_info=True)


def install_excepthook() -> None:
    """Exceptions raised in slots reach the user: one line in the window's message bar (see
    :func:`add_error_listener`), the traceback in the log (a console may not exist)."""

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        handle_exception(exc_type, exc, tb)

    sys.excepthook = hook
