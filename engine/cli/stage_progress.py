"""Progress bars on stderr for work reported as ``progress(done, total[, stage])``.

Evaluation reports loading stages ("checking", "decoding") and then "evaluating"; prediction
reports images done. One tqdm bar per stage, replaced when the stage changes; a closing line
gives the images per second of the last stage. Bars are drawn on terminals only.
"""

from __future__ import annotations

import sys
import time

__all__ = ["StageProgress", "is_terminal"]


def is_terminal(file) -> bool:
    # A bar is for a person watching: in a pipe or a log it would only leave carriage returns.
    try:
        return file.isatty()
    except (AttributeError, ValueError):
        return False


class StageProgress:
    """``progress(done, total, stage="")`` callback drawing a bar per stage on ``file``."""

    def __init__(self, unit: str = "batch", quiet: bool = False, file=None):
        self.unit = unit
        self.quiet = quiet
        self.file = file if file is not None else sys.stderr
        self.bar = None
        self.stage: str | None = None
        self.started = time.perf_counter()

    def __call__(self, done: int, total: int, stage: str = "") -> None:
        from tqdm import tqdm  # start-up: loaded only when a bar is drawn (0.4 s on a busy 2-core machine)

        if self.bar is None or stage != self.stage:
            self.close()
            self.stage = stage
            self.started = time.perf_counter()
            self.bar = tqdm(
                total=total or None,
                desc=stage or None,
                unit=self.unit,
                file=self.file,
                leave=False,
                dynamic_ncols=True,
                disable=self.file is None or self.quiet or not is_terminal(self.file),
            )
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def elapsed(self) -> float:
        """Seconds since the current stage began."""
        return time.perf_counter() - self.started
