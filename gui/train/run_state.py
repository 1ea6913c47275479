"""The Train tab's run state in one object: the run on display and what the tab may do with it.

One run is on display at a time: the live one, the one that just ended here, or an earlier
run opened from disk. Its folder, its best checkpoint, whether Resume may continue it and
the warnings that stay in view come from here, so no two places in the tab can disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RunOnDisplay"]

WARNINGS_KEPT = 3  # the latest warnings of a run that stay in the message bar


@dataclass
class RunOnDisplay:
    run: object | None = None  # the live gui.background.training_run.TrainingRun
    outcome: object | None = None  # the engine.RunFinished of the last run here
    opened_folder: str | None = None  # an earlier run opened from disk...
    opened_best: str | None = None  # ...and its best.pt, when it has one
    unresumable: bool = False  # an opened run that finished (or has no last.pt): Resume is off
    warnings: list[str] = field(default_factory=list)  # what went differently than asked, latest last

    @property
    def running(self) -> bool:
        return self.run is not None

    @property
    def folder(self) -> str | None:
        if self.run is not None:
            return self.run.out_dir
        return self.outcome.out_dir if self.outcome is not None else self.opened_folder

    @property
    def best_checkpoint(self) -> str | None:
        return self.outcome.best_checkpoint if self.outcome is not None else self.opened_best

    # ------------------------------------------------------------ what happens to it
    def start(self, run) -> None:
        """A run starts (or resumes): nothing of the previous one is in view any more."""
        self.run, self.outcome, self.unresumable, self.warnings = run, None, False, []

    def warn(self, message: str) -> list[str]:
        self.warnings = [*self.warnings, message][-WARNINGS_KEPT:]
        return self.warnings

    def finish(self, outcome) -> None:
        self.outcome = outcome

    def end(self) -> None:
        """The run's thread has ended (after :meth:`finish`, or when it did not start)."""
        self.run = None

    def did_not_start(self) -> None:
        self.opened_folder = self.opened_best = None
        self.unresumable = False

    def open(self, folder: str, best: str | None, resumable: bool) -> None:
        """An earlier run from disk is shown instead."""
        self.outcome, self.opened_folder, self.opened_best = None, folder, best
        self.unresumable = not resumable

    def may_resume(self) -> None:
        """A stopped run was handed over (the Runs tab): Resume may continue it."""
        self.unresumable = False
