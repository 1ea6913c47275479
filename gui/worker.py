"""The one adapter between the engine and Qt: engine work in a QThread, results as signals.

Every engine call the GUI makes (loading the engine, a dataset, a checkpoint, classifying
images, evaluating, training) is a plain function ``fn(state, *args)`` run by a
:class:`Task`. The function knows nothing about widgets; it gets a :class:`TaskState`
(Orange's task-state pattern) to report progress and partial results and to ask whether it
should stop. ``TaskState`` has ``is_set()``, so it is also the engine's stop flag.

Threading model (Qt's documented pattern): a runner QObject is moved to a QThread and runs
the function there. Results cross back through queued connections to the :class:`Task`,
which lives in the GUI thread and re-emits everything there, so any slot or lambda
connected to a Task runs in the GUI thread. Partial results go through a mailbox with at
most one pending wake-up, so a fast producer (a training loop reporting every batch) never
floods the GUI's event queue: the GUI drains whatever has piled up in one go.

Errors never escape as tracebacks: an :class:`engine.EngineError` becomes its one-line
message, anything else "TypeName: first line" (with the traceback in the log), and the
task always ends with ``finished``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

__all__ = ["Task", "TaskState", "TrainingRun", "active_tasks", "describe_error", "stop_all"]

_logger = logging.getLogger(__name__)

# Tasks whose thread is running. Holding them here keeps the QThread alive even when the
# widget that started it has let go (a QThread destroyed while running aborts the process).
_ACTIVE: set[Task] = set()


def describe_error(exc: BaseException) -> str:
    """One line a user can read: the engine's own message, or the exception's type and first line."""
    import engine

    if isinstance(exc, engine.EngineError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory; try fewer images, a smaller batch or a smaller model"
    _logger.error("unexpected error in a background task", exc_info=exc)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


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


class _Runner(QObject):
    """Runs the task function in the worker thread, then hands itself back to the GUI thread."""

    def __init__(self, fn: Callable, args: tuple, kwargs: dict, state: TaskState):
        super().__init__()
        self._call = (fn, args, kwargs)
        self._state = state
        self.outcome: tuple[bool, Any] = (False, "did not run")

    @Slot()
    def run(self) -> None:
        fn, args, kwargs = self._call
        try:
            self.outcome = (True, fn(self._state, *args, **kwargs))
        except Exception as exc:  # every failure reaches the window as a message, never a dead thread
            self.outcome = (False, describe_error(exc))
        finally:
            self._call = (None, (), {})  # drop references to big arguments early
            app = QCoreApplication.instance()
            if app is not None:
                self.moveToThread(app.thread())  # so it can be destroyed from the GUI thread
            QThread.currentThread().quit()


class Task(QObject):
    """Run ``fn(state, *args, **kwargs)`` in its own QThread; every signal arrives in the GUI thread.

    Signals: ``progress(fraction_or_None, text)``, ``partial(value)``, then exactly one of
    ``succeeded(result)`` / ``failed(message)``, then ``finished()``. When ``succeeded``
    or ``failed`` is emitted the thread has already stopped.
    """

    progress = Signal(object, str)
    partial = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    finished = Signal()
    _wake = Signal()

    def __init__(self, fn: Callable, *args, name: str = "", **kwargs):
        # No Qt parent, on purpose: a parent widget deleted mid-run would delete the Task (and
        # then its QThread) under a running thread. Python owns Tasks; _ACTIVE keeps running ones.
        super().__init__()
        self.name = name or getattr(fn, "__name__", "task")
        self.state = TaskState(self)
        self.result: Any = None
        self.error: str | None = None
        self._lock = threading.Lock()
        self._items: list[Any] = []
        self._progress: tuple[float | None, str] | None = None
        self._pending = False
        self._done = False
        self._thread = QThread()
        self._thread.setObjectName(f"task:{self.name}")
        self._runner = _Runner(fn, args, kwargs, self.state)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        self._thread.finished.connect(self._on_thread_finished, Qt.ConnectionType.QueuedConnection)
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)

    # ----------------------------------------------------------------- control (GUI thread)
    def start(self) -> Task:
        _ACTIVE.add(self)
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the task to stop; it ends at its next check (a training run: within one batch)."""
        self.state.request_interruption()

    def is_running(self) -> bool:
        return self._thread.isRunning()

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

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._done:
            return
        self._drain()
        self._done = True
        ok, value = self._runner.outcome
        _ACTIVE.discard(self)
        if ok:
            self.result = value
            self.succeeded.emit(value)
        else:
            self.error = value
            self.failed.emit(value)
        self.finished.emit()


def active_tasks() -> list[Task]:
    return [t for t in _ACTIVE if t.is_running()]


def stop_all(timeout_ms: int = 60_000) -> bool:
    """Ask every running task to stop and wait for their threads (window closing, app quitting).

    Returns False if a thread was still running after ``timeout_ms`` (its files may then be
    mid-write; the engine writes checkpoints atomically, so they are still never broken).
    """
    tasks = list(_ACTIVE)
    for task in tasks:
        task.cancel()
    clean = True
    for task in tasks:
        if not task.wait(timeout_ms):
            _logger.warning("task %s did not stop within %d ms", task.name, timeout_ms)
            clean = False
    return clean


def _train(state: TaskState, config, out_dir: str, resume: str | None):
    import engine

    return engine.train(
        config, out_dir, callback=state.set_partial_result, stop=state, resume=resume, reserve_ui_thread=True
    )


class TrainingRun(QObject):
    """A training run in a worker thread, its engine events turned into typed Qt signals.

    ``started(RunStarted)``, ``batch(BatchEnd)``, ``epoch(EpochEnd)``, ``log(level, message)``,
    ``finished(RunFinished)`` (status completed / stopped / failed), or ``failed(message)`` when
    the run could not start (bad data, bad checkpoint...); ``done()`` always comes last.
    """

    started = Signal(object)
    batch = Signal(object)
    epoch = Signal(object)
    log = Signal(str, str)
    finished = Signal(object)
    failed = Signal(str)
    done = Signal()

    def __init__(self, config, out_dir: str, resume: str | None = None):
        super().__init__()  # no Qt parent, like Task
        self.config = config
        self.out_dir = str(out_dir)
        self.resume = resume
        self.outcome = None  # the RunFinished, once known
        self.task = Task(_train, config, self.out_dir, resume, name="training")
        self.task.partial.connect(self._on_event)
        self.task.succeeded.connect(self._on_succeeded)
        self.task.failed.connect(self.failed)
        self.task.finished.connect(self.done)

    def start(self) -> None:
        self.task.start()

    def stop(self) -> None:
        """Stop within one batch; the engine saves last.pt (resumable) and keeps best.pt."""
        self.task.cancel()

    @property
    def stop_requested(self) -> bool:
        return self.task.state.is_interruption_requested()

    def is_running(self) -> bool:
        return self.task.is_running()

    def wait(self, timeout_ms: int | None = None) -> bool:
        return self.task.wait(timeout_ms)

    def _on_event(self, event) -> None:
        kind = type(event).__name__
        if kind == "BatchEnd":
            self.batch.emit(event)
        elif kind == "EpochEnd":
            self.epoch.emit(event)
        elif kind == "LogMessage":
            self.log.emit(event.level, event.message)
        elif kind == "RunStarted":
            self.started.emit(event)
        elif kind == "RunFinished":
            self.outcome = event
            self.finished.emit(event)

    def _on_succeeded(self, result) -> None:
        if self.outcome is None:  # the engine reports RunFinished through the callback too; never twice
            self.outcome = result
            self.finished.emit(result)
