"""The one adapter between the engine and Qt: engine work in a QThread, results as signals.

Every engine call the GUI makes (loading the engine, a dataset, a checkpoint, classifying
images, evaluating, training) is a plain function ``fn(state, *args)`` run by a
:class:`Task`. The function knows nothing about widgets; it gets a :class:`TaskState`
(Orange's task-state pattern) to report progress and partial results and to ask whether it
should stop. ``TaskState`` has ``is_set()``, so it is also the engine's stop flag.

Threading model: a QThread subclass whose ``run`` calls the function (no object ever changes
threads: see :class:`_Worker` for the deadlock moveToThread caused). Results cross back
through queued connections to the :class:`Task`, which lives in the GUI thread and re-emits
everything there, so any slot or lambda connected to a Task runs in the GUI thread.
Partial results go through a mailbox with at most one pending wake-up, so a fast producer (a
training loop reporting every batch) never floods the GUI's event queue: the GUI drains
whatever has piled up in one go.

Errors never escape as tracebacks: they cross the thread as a :class:`TaskError` (a one-line
message, and the offending field when the engine named one); an :class:`engine.EngineError`
keeps its own (first) line, anything else becomes "Unexpected error in <task>: TypeName: first
line" (with the traceback in the log), and the task always ends with ``finished``.

Closing the window never waits long: :func:`stop_all` asks every task to stop and waits with
one shared deadline; a task still running then (work that cannot be interrupted) is detached
and stays referenced in ``_ACTIVE`` until its thread ends, so its QThread is never destroyed
while running; a later :func:`stop_all` does not wait for it again (the deadline is spent once).
After ``stop_all(final=True)`` (the window closing) no task starts a thread any more: a slot
that reacts to a task ending by starting another one (listing runs after a run) does nothing,
so closing never races new threads against the process exit.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

from .messages import one_line

# Imports inside functions: `engine` is imported to describe an error, which happens in a worker
# after the engine has loaded; importing it here would bring torch into the GUI's start-up.

__all__ = [
    "Task",
    "TaskError",
    "TaskState",
    "active_tasks",
    "describe_error",
    "open_again",
    "shutting_down",
    "stop_all",
]

_logger = logging.getLogger(__name__)

# Tasks whose thread is running. Holding them here keeps the QThread alive even when the
# widget that started it has let go (a QThread destroyed while running aborts the process).
_ACTIVE: set[Task] = set()
_SHUTDOWN = threading.Event()  # set by stop_all(final=True): no task starts after it
THREAD_END_MS = 5_000  # how long the GUI thread waits for a thread that said it finished to end
READER_GRACE_MS = 100  # closing: how long a task that writes nothing may take to notice the stop


def open_again() -> None:
    """A main window opened: tasks start again (after a window that closed in the same process)."""
    _SHUTDOWN.clear()


def shutting_down() -> bool:
    """True once the app is closing (``stop_all(final=True)``): tasks no longer start."""
    return _SHUTDOWN.is_set()


def describe_error(exc: BaseException, where: str = "") -> str:
    """One line a user can read: the engine's own message; anything else (a bug, not the
    user's input) is "Unexpected error in <where>: <type>: <first line>", its traceback logged."""
    import engine

    if isinstance(exc, engine.EngineError):
        text = str(exc).strip()
        return text.splitlines()[0] if text else type(exc).__name__
    if isinstance(exc, MemoryError):
        return "out of memory; try fewer images, a smaller batch or a smaller model"
    _logger.error("unexpected error in %s", where or "a background task", exc_info=exc)
    return one_line(exc, where)


@dataclass(frozen=True)
class TaskError:
    """Why a task failed, as it crosses from the worker thread to the GUI: a one-line message,
    and the settings field to highlight when the error is about one (``ConfigError.field``)."""

    message: str
    field: str | None = None

    @classmethod
    def from_exception(cls, exc: BaseException, where: str = "") -> TaskError:
        return cls(describe_error(exc, where), getattr(exc, "field", None) or None)

    def __str__(self) -> str:
        return self.message


class TaskState:
    """What a running task function may do: report progress and partial results, check for a stop."""

    def __init__(self, task: Task):
        self._task = task
        self._interrupt = threading.Event()

    def is_interruption_requested(self) -> bool:
        return self._interrupt.is_set()

    # The engine's stop-flag protocol (``stop.is_set()``), so a TaskState can be passed as ``stop``.
    is_set = is_interruption_requested

    def request_interruption(self) -> None:
        self._interrupt.set()

    def set_progress(self, fraction: float | None, text: str = "") -> None:
        """Progress in [0, 1] (None: unknown) with a short description; only the latest is kept."""
        self._task._post(progress=(fraction, text))

    def set_partial_result(self, value: Any) -> None:
        """Hand an intermediate result to the GUI thread (delivered in order, none dropped)."""
        self._task._post(item=value)


YIELDING_NICE = 5  # how much nicer than the GUI thread a yielding task's thread runs


def _lower_priority() -> None:
    """This thread's scheduling priority lowered by YIELDING_NICE (Linux: each thread has its own
    nice value; elsewhere nothing changes). The thread is the task's own and ends with it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + YIELDING_NICE)
    except (OSError, AttributeError):
        pass


class _Worker(QThread):
    """The task's thread: ``run`` (Qt calls it in the new thread) calls the task function.

    A QThread subclass rather than a worker QObject moved to a plain QThread: moving an object
    between threads (QObject.moveToThread) locks both threads' event queues while PySide holds
    the GIL, and the GUI thread, posting an event under its queue's lock, can be waiting for
    the GIL at that moment. That deadlock froze the test suite (and would freeze the window):
    a worker stuck in moveToThread, the GUI thread in its event loop. Here nothing ever
    changes threads; the thread object itself lives in the GUI thread.
    """

    def __init__(self, fn: Callable, args: tuple, kwargs: dict, state: TaskState, where: str = ""):
        super().__init__()
        self.where = where  # the task's name, for "Unexpected error in <where>: ..."
        self._call = (fn, args, kwargs)
        self._state = state
        self.outcome: tuple[bool, Any] = (False, "did not run")
        self.yielding = False  # Task.yielding: run at a lower CPU priority than the GUI thread

    def run(self) -> None:
        fn, args, kwargs = self._call
        if self.yielding:
            _lower_priority()
        try:
            self.outcome = (True, fn(self._state, *args, **kwargs))
        except Exception as exc:  # every failure reaches the window as a message, never a dead thread
            self.outcome = (False, TaskError.from_exception(exc, self.where))
        finally:
            self._call = (None, (), {})  # drop references to big arguments early


class Task(QObject):
    """Run ``fn(state, *args, **kwargs)`` in its own QThread; every signal arrives in the GUI thread.

    Signals: ``progress(fraction_or_None, text)``, ``partial(value)``, then exactly one of
    ``succeeded(result)`` / ``failed(TaskError)``, then ``finished()``. When ``succeeded``
    or ``failed`` is emitted the thread has already stopped.
    """

    progress = Signal(object, str)
    partial = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object)  # TaskError
    finished = Signal()
    _wake = Signal()

    def __init__(self, fn: Callable, *args, name: str = "", **kwargs):
        # No Qt parent, on purpose: a parent widget deleted mid-run would delete the Task (and
        # then its QThread) under a running thread. Python owns Tasks; _ACTIVE keeps running ones.
        super().__init__()
        self.name = name or getattr(fn, "__name__", "task")
        self.state = TaskState(self)
        self.result: Any = None
        self.error: TaskError | None = None
        self._lock = threading.Lock()
        self._items: list[Any] = []
        self._progress: tuple[float | None, str] | None = None
        self._pending = False
        self._done = False
        self._abandoned = False  # stop_all gave up waiting for it (it finishes unheard)
        # Whether closing waits for it (up to stop_all's deadline): a task that writes files
        # (training saves a resumable last.pt when asked to stop; an export) says so. Others
        # only read, so closing never waits for them: a stuck checkpoint load or model build
        # is left at once.
        self.saves_files = False
        # Whether its thread yields the CPU to the GUI thread (a nice value YIELDING_NICE higher):
        # for work that runs beside the user's clicks and drops, like the Teach tab's hashing,
        # thumbnails and features. On the 2-core machine under load (benchmarks/
        # gui_responsiveness.py --scenario teach), the GUI thread waited in 14-24 gaps over 50 ms
        # per run without it, 2-5 with it; its own CPU time in those gaps was 0-27 ms.
        self.yielding = False
        self._thread = _Worker(fn, args, kwargs, self.state, self.name)
        self._thread.setObjectName(f"task:{self.name}")
        self._thread.finished.connect(self._on_thread_finished, Qt.ConnectionType.QueuedConnection)
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)

    # ----------------------------------------------------------------- control (GUI thread)
    def start(self) -> Task:
        if _SHUTDOWN.is_set():
            # The app is closing: starting a thread now would race the process exit (and
            # could fail: "QThread::start: Thread creation error"). The task never runs and
            # reports nothing; its receivers are being destroyed with the window anyway.
            _logger.info("task %s not started: the app is closing", self.name)
            self.detach()
            self._done = True
            return self
        _ACTIVE.add(self)
        self._thread.yielding = self.yielding
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the task to stop; it ends at its next check (a training run: within one batch)."""
        self.state.request_interruption()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def detach(self) -> None:
        """Disconnect every receiver of this task's signals: nothing it does later reaches them."""
        for signal in (self.progress, self.partial, self.succeeded, self.failed, self.finished):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # PySide6 warns when nothing was connected
                try:
                    signal.disconnect()
                except (RuntimeError, TypeError):
                    pass

    @property
    def done(self) -> bool:
        """True once ``succeeded``/``failed`` has been emitted."""
        return self._done

    def wait(self, timeout_ms: int | None = None) -> bool:
        """Block until the thread has stopped (True) or ``timeout_ms`` passed (False).

        QThread.wait releases the GIL, so the worker keeps running while the GUI waits.
        """
        if timeout_ms is None:
            return self._thread.wait()
        return self._thread.wait(int(timeout_ms))

    # ----------------------------------------------------------------- worker side
    def _post(self, item: Any = None, progress: tuple[float | None, str] | None = None) -> None:
        with self._lock:
            if progress is not None:
                self._progress = progress
            else:
                self._items.append(item)
            wake = not self._pending
            self._pending = True
        if wake:
            self._wake.emit()

    # ----------------------------------------------------------------- GUI side
    @Slot()
    def _drain(self) -> None:
        with self._lock:
            items, self._items = self._items, []
            progress, self._progress = self._progress, None
            self._pending = False
        for item in items:
            self.partial.emit(item)
        if progress is not None:
            self.progress.emit(*progress)

    def _forget_when_ended(self) -> None:
        if self._thread.wait(THREAD_END_MS):
            _ACTIVE.discard(self)
            return
        _logger.warning("task %s: its thread had not ended %d ms after it finished", self.name, THREAD_END_MS)
        QTimer.singleShot(THREAD_END_MS, self._forget_when_ended)

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._done:
            return
        self._drain()
        self._done = True
        ok, value = self._thread.outcome
        # QThread.finished is emitted from the thread just *before* it ends. Dropping the last
        # reference now let the garbage collector destroy a QThread whose thread had not quite
        # returned (a SIGSEGV "Garbage-collecting" in CI). The thread is at its last instructions,
        # so this wait is immediate; only then may the Task (and its QThread) be collected. It is
        # bounded all the same, as every wait in the GUI thread: a thread that has not ended by
        # then stays referenced in _ACTIVE (looked at again later) instead of freezing the window.
        self._forget_when_ended()
        if ok:
            self.result = value
            self.succeeded.emit(value)
        else:
            self.error = value
            self.failed.emit(value)
        self.finished.emit()


@atexit.register
def _join_at_exit() -> None:
    """A process that closes its window and exits normally (a script, a benchmark; gui.app
    leaves with os._exit instead) must not destroy a QThread that still runs: that aborts.
    Tasks closing left behind get a few more seconds; one still running after that is left to
    the OS, as gui.app does, with exit status 1 (the real one is not known here, and work was
    cut short: never a silent success)."""
    if not any(t.is_running() for t in _ACTIVE):
        return
    if not stop_all(timeout_ms=5_000):
        _logger.warning("background work still running at exit; leaving it to the OS")
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        os._exit(1)


def active_tasks() -> list[Task]:
    return [t for t in _ACTIVE if t.is_running()]


def stop_all(timeout_ms: int = 2_000, final: bool = False) -> bool:
    """Ask every running task to stop and wait for their threads (window closing, app quitting).

    ``timeout_ms`` is one deadline shared by all tasks. Returns False if a thread was still
    running then (its files may be mid-write; the engine writes checkpoints atomically, so
    they are still never broken); such tasks are detached and finish unheard, and a later final
    call does not wait for them again. ``final``: the app is closing: no task starts after this,
    and tasks that write no files get only a short grace (``READER_GRACE_MS``).
    """
    if final:
        _SHUTDOWN.set()
    # Closing waits once: a task a final call already gave up on is not waited for again.
    tasks = [t for t in _ACTIVE if not (final and t._abandoned)]
    for task in tasks:
        task.cancel()
    # Writers first; when the app is closing, tasks that only read get a short grace, no more.
    tasks = [t for t in tasks if t.saves_files] + [t for t in tasks if not t.saves_files]
    # One deadline for all: ten stuck tasks must not make closing take ten timeouts.
    began = time.monotonic()
    deadline = began + timeout_ms / 1000
    reader_deadline = min(deadline, began + READER_GRACE_MS / 1000) if final else deadline
    clean = not any(t._abandoned and t.is_running() and t not in tasks for t in _ACTIVE)
    for task in tasks:
        until = deadline if task.saves_files else reader_deadline
        left = max(0, int((until - time.monotonic()) * 1000))
        if not task.wait(left):
            # Left running (uninterruptible work: a checkpoint being read, a stuck file): _ACTIVE
            # keeps it referenced, so its QThread is never destroyed while running; the app
            # exits without it (gui.app) and its late result goes nowhere.
            task.detach()
            task._abandoned = True
            _logger.warning("task %s did not stop within %d ms; left to finish", task.name, max(left, 0))
            clean = False
    return clean
