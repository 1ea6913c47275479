"""Cyclic garbage collection in the GUI thread only.

Python runs a cyclic collection in whichever thread allocates when a generation passes its
threshold: a worker tracing a model for export, a decode thread, a training loop. Qt objects
caught in reference cycles (a widget whose lambda slot holds it, a finished Task and its
QThread) are then destroyed in that worker while the GUI thread's event loop may be
dispatching to them; Qt objects must die in the thread they live in. CI died of exactly this
(SIGSEGV while a worker ran ``torch.jit.trace`` after the GUI tests had left such cycles).

So while the app runs, automatic collection is off and the GUI thread collects on a timer,
generation by generation with Python's own thresholds: the same work, always on this thread.
pyqtgraph ships the same idea (``pyqtgraph.util.garbage_collector``); importing pyqtgraph for
it would put its 0.3-1.2 s import back on the start-up path, which loads it in a worker later.
"""

from __future__ import annotations

import contextlib
import gc
import threading

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer

__all__ = ["COLLECT_EVERY_MS", "collect_if_due", "install", "lasting_imports"]

# How often the GUI thread checks. Short, because a collection's cost grows with the objects
# allocated since the last one: during a dataset decode, generation-0 collections took 20-37 ms
# of the GUI thread at 500 ms and 5-14 ms at 50 ms (gc.callbacks timings in the decode scenario of
# benchmarks/gui_responsiveness.py; its longest stall 32-41 ms at 50 ms, as with Python's own
# collection in the workers, 35-41 ms). A check with nothing due costs one gc.get_count().
COLLECT_EVERY_MS = 50

_THRESHOLDS = gc.get_threshold()  # Python's own (700, 10, 10), read before anything changes them


_held = 0  # lasting_imports() blocks running now: no collection meanwhile
_held_lock = threading.Lock()


@contextlib.contextmanager
def lasting_imports():
    """For a worker importing big libraries (torch._dynamo and sympy: about 300,000 objects):
    no collection while it runs, and everything alive at its end frozen (``gc.freeze()``).

    Collections run in the GUI thread, and their cost grows with the objects they walk: during
    such an import in the Teach tab's features worker, generation-1 collections took 50-84 ms
    of the GUI thread and a full one 192-200 ms, its longest stalls (gc.callbacks timings in the
    teach scenario of benchmarks/gui_responsiveness.py). Import-time state lives as long as the
    app, like what the window freezes after start-up (gui.window_startup.freeze_heap)."""
    global _held
    with _held_lock:
        _held += 1
    try:
        yield
    finally:
        gc.freeze()
        with _held_lock:
            _held -= 1


def collect_if_due() -> int | None:
    """Collect the oldest generation whose count passed its threshold, as automatic collection
    would; returns that generation, or None when none was due (or while :func:`lasting_imports`
    runs). A no-op outside the GUI thread."""
    app = QCoreApplication.instance()
    if _held or (app is not None and QThread.currentThread() is not app.thread()):
        return None
    counts = gc.get_count()
    if counts[0] <= _THRESHOLDS[0]:
        return None
    gen = max(g for g in range(3) if g == 0 or counts[g] > _THRESHOLDS[g])
    gc.collect(gen)
    return gen


class _Collector(QObject):
    def __init__(self, parent: QObject):
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setInterval(COLLECT_EVERY_MS)
        self.timer.timeout.connect(collect_if_due)
        self.timer.start()


def install() -> bool:
    """Turn automatic collection off and collect on a GUI-thread timer from now on (for the
    application's lifetime). Idempotent; call it from the GUI thread with a QApplication
    running. Returns False (and changes nothing) when there is no application yet."""
    app = QCoreApplication.instance()
    if app is None:
        return False
    if app.findChild(_Collector) is None:
        _Collector(app)
        # The last collection runs here too, while the application still exists: garbage left
        # for the interpreter's exit would destroy widgets after QApplication is gone.
        app.aboutToQuit.connect(gc.collect)
    gc.disable()
    return True
