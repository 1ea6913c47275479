"""A training run (engine.train) in a worker thread, its engine events turned into typed Qt signals."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from .task import Task, TaskState

# Imports inside functions: the engine's event classes are imported when a run is set up, after the
# engine has loaded in a worker; not at the window's start-up.

__all__ = ["TrainingRun"]


class _ThreadWarnings(logging.Handler):
    """Engine warnings that are only logged, by one thread (this run's), handed to the GUI as
    LogMessages.

    Some engine steps only log (a torchvision model whose ImageNet weights are missing trains
    from random initialisation): the window must say so, not only the console. What the trainer
    reports as a LogMessage event it also logs, marked ``reported_as_event``: that record is
    left out here, so each warning reaches the window once. A log-only warning repeated (per
    batch, say) is shown once.
    """

    def __init__(self, state: TaskState, event_class):
        super().__init__(logging.WARNING)
        self._thread = threading.get_ident()
        self._state, self._event = state, event_class
        self.seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self._thread or getattr(record, "reported_as_event", False):
            return
        try:
            message = record.getMessage().strip().splitlines()[0]
        except Exception:  # a bad format string must not break training
            return
        if message and message not in self.seen:
            self.seen.add(message)
            self._state.set_partial_result(self._event("warning", message))


def _train(state: TaskState, config, out_dir: str, resume: str | None, overwrite: bool = False):
    import engine

    def forward(event) -> None:
        # engine.train reports RunFinished through the callback and also returns it; the
        # returned one (the task's result) is the single copy the GUI receives.
        if not isinstance(event, engine.RunFinished):
            state.set_partial_result(event)

    handler = _ThreadWarnings(state, engine.LogMessage)
    engine_logger = logging.getLogger("engine")
    engine_logger.addHandler(handler)
    try:
        extra = {"overwrite": True} if overwrite else {}  # passed only when asked (the Teach tab)
        return engine.train(
            config, out_dir, callback=forward, stop=state, resume=resume, reserve_ui_thread=True, **extra
        )
    finally:
        engine_logger.removeHandler(handler)


class TrainingRun(QObject):
    """A training run in a worker thread, its engine events turned into typed Qt signals.

    ``started(RunStarted)``, ``batch(BatchEnd)``, ``epoch(EpochEnd)``, ``log(level, message)``,
    then ``finished(RunFinished)`` once (status completed / stopped / failed), or
    ``failed(TaskError)`` when the run could not start (bad data, bad checkpoint...);
    ``done()`` always comes last.
    """

    started = Signal(object)
    batch = Signal(object)
    epoch = Signal(object)
    log = Signal(str, str)
    finished = Signal(object)
    failed = Signal(object)
    done = Signal()

    def __init__(self, config, out_dir: str, resume: str | None = None, overwrite: bool = False):
        super().__init__()  # no Qt parent, like Task
        self.config = config
        self.out_dir = str(out_dir)
        self.resume = resume
        self.outcome = None  # the RunFinished, once known
        self._routes = self._event_routes()
        # overwrite: replace the run in out_dir (the Teach tab retrains its project's model in place)
        self.task = Task(_train, config, self.out_dir, resume, overwrite, name="training")
        self.task.saves_files = True  # closing waits (boundedly) for the resumable last.pt
        self.task.partial.connect(self._on_event)
        self.task.succeeded.connect(self._on_succeeded)
        self.task.failed.connect(self.failed)
        self.task.finished.connect(self.done)

    def _event_routes(self) -> dict[type, Callable]:
        """Engine event class -> what to emit; keyed by the classes themselves, not their names.
        RunFinished is not here: it arrives once, as the task's result."""
        import engine  # the event classes are light (no torch)

        return {
            engine.RunStarted: self.started.emit,
            engine.BatchEnd: self.batch.emit,
            engine.EpochEnd: self.epoch.emit,
            engine.LogMessage: lambda event: self.log.emit(event.level, event.message),
        }

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
        route = self._routes.get(type(event))
        if route is None:
            raise TypeError(f"unexpected training event {type(event).__name__}")
        route(event)

    def _on_succeeded(self, outcome) -> None:
        self.outcome = outcome
        self.finished.emit(outcome)
