"""One-line texts for unexpected exceptions (no Qt here: the app's excepthook uses it before Qt loads)."""

from __future__ import annotations

__all__ = ["one_line"]


def one_line(exc: BaseException, where: str = "") -> str:
    """ "Unexpected error in <where>: <type>: <first line>", the first line cut at 200 characters.

    For exceptions that are bugs, not the user's input: the engine's own errors keep their
    message. The traceback belongs in the log, never in the window.
    """
    text = str(exc).strip()
    first = text.splitlines()[0][:200] if text else ""
    what = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return f"Unexpected error in {where}: {what}" if where else f"Unexpected error: {what}"
