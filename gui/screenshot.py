"""``--screenshot PATH``: show the window at a fixed size, wait until the engine is loaded
and any images given are classified, render it to a PNG and quit (no display needed)."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QTimer

from .output import write_line

__all__ = ["take_screenshot"]

SETTLE_MS = 400  # let layouts, pixmaps and the 20 Hz plot redraw catch up before grabbing


def take_screenshot(app, window, path: str, size: tuple[int, int], timeout_s: float) -> int:
    window.setFixedSize(*size)
    window.show()
    started = time.monotonic()
    state = {"code": None, "grabbing": False}

    def finish(code: int, message: str = "") -> None:
        if state["code"] is None:
            state["code"] = code
            if message:
                write_line(message, error=code != 0)
            app.exit(code)

    def grab() -> None:
        window.train_tab.curves.redraw_now()
        target = Path(path).expanduser()
        target.parent.mkdir(parents=True, exist_ok=True)
        if window.grab().save(str(target), "PNG"):
            finish(0, f"screenshot saved to {target}")
        else:
            finish(1, f"screenshot failed: cannot write {target}")

    def poll() -> None:
        if state["grabbing"]:
            return
        if time.monotonic() - started > timeout_s:
            finish(1, f"screenshot failed: not ready after {timeout_s:.0f} s")
            return
        ready = (
            window.engine_info is not None
            and not window.predict_tab.busy
            and not window.train_tab.busy
            and not window.predict_tab.picker.loading
        )
        if ready:
            state["grabbing"] = True
            QTimer.singleShot(SETTLE_MS, grab)

    window.engine_failed.connect(lambda message: finish(1, f"screenshot failed: {message}"))
    timer = QTimer(interval=100, timeout=poll)
    timer.start()
    code = app.exec()
    timer.stop()
    return code if state["code"] is None else state["code"]
