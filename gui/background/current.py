"""At most one current task per purpose (Orange's ConcurrentMixin idea).

A widget that loads a checkpoint, a dataset or a batch of predictions only cares about the
latest request. :meth:`CurrentTask.start` cancels the previous task *and* disconnects it, so
a stale result can never arrive after a newer request, whatever order the threads finish in.
"""

from __future__ import annotations

from collections.abc import Callable

from .task import Task

__all__ = ["CurrentTask"]


class CurrentTask:
    """Holds the one task of interest for a purpose; starting a new one retires the old one."""

    def __init__(self) -> None:
        self._task: Task | None = None

    @property
    def task(self) -> Task | None:
        return self._task

    @property
    def busy(self) -> bool:
        """True while the current task has not yet reported success or failure."""
        return self._task is not None and not self._task.done

    def start(self, fn: Callable, *args, name: str = "", **kwargs) -> Task:
        """Retire the previous task, then create ``Task(fn, *args, ...)`` as the current one.

        The task is returned unstarted, so the caller connects its slots and then calls
        ``start()`` (connecting first means no signal is ever missed).
        """
        self.cancel()
        self._task = Task(fn, *args, name=name, **kwargs)
        return self._task

    def cancel(self) -> None:
        """Ask the current task to stop and disconnect it; it finishes unheard in its thread."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            task.detach()

    def wait(self, timeout_ms: int | None = None) -> bool:
        """Wait for the current task's thread (window closing); True when it has stopped."""
        return True if self._task is None else self._task.wait(timeout_ms)
