"""Two progress bars for a training run: the whole run (with ETA) and the current epoch
(batch, images per second, loss). ETA comes from this session's measured step rate."""

from __future__ import annotations

import math
import time

from PySide6.QtWidgets import QProgressBar, QVBoxLayout, QWidget

__all__ = ["RunProgress", "format_duration"]


class RunProgress(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.run_bar = QProgressBar()
        self.epoch_bar = QProgressBar()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.run_bar)
        layout.addWidget(self.epoch_bar)
        self._first = (0.0, 0)  # (time, global step) of the first batch of this session
        self._epoch = (0, 0)  # (epoch, epochs) of the last batch shown
        self.reset()

    def reset(self) -> None:
        for bar in (self.run_bar, self.epoch_bar):
            bar.setRange(0, 1)
            bar.setValue(0)  # a reset bar (value -1) would hide its text
        self.run_bar.setFormat("Run: not started")
        self.epoch_bar.setFormat("Epoch: –")
        self._first = (0.0, 0)

    def started(self, ev) -> None:
        """RunStarted: ranges for the whole run (a resumed run starts part-way)."""
        self._first = (0.0, 0)
        self.run_bar.setRange(0, ev.epochs * ev.steps_per_epoch)
        self.run_bar.setValue(ev.start_epoch * ev.steps_per_epoch)
        self.run_bar.setFormat(f"Run: epoch {ev.start_epoch + 1}/{ev.epochs}")
        self.epoch_bar.setRange(0, ev.steps_per_epoch)
        self.epoch_bar.setValue(0)

    def batch(self, ev) -> None:
        now = time.perf_counter()
        if self._first[0] == 0.0:
            self._first = (now, ev.global_step)
        t0, s0 = self._first
        steps = ev.global_step - s0
        eta = (ev.total_steps - ev.global_step) * (now - t0) / steps if steps > 0 else None
        epochs = ev.total_steps // max(ev.steps_per_epoch, 1)
        self.run_bar.setValue(ev.global_step)
        self._epoch = (ev.epoch, epochs)
        self.run_bar.setFormat(f"Run: epoch {ev.epoch}/{epochs} · %p% · ETA {format_duration(eta)}")
        self.epoch_bar.setValue(ev.step)
        self.epoch_bar.setFormat(
            f"Epoch {ev.epoch}: batch {ev.step}/{ev.steps_per_epoch} · "
            f"{ev.images_per_s:,.0f} images/s · loss {ev.loss:.4f}"
        )

    def finished(self, status: str) -> None:
        """The run ended (completed, stopped, failed): no ETA any more, only where it ended."""
        epoch, epochs = self._epoch
        where = f" in epoch {epoch}/{epochs}" if epochs else ""
        self.run_bar.setFormat(f"Run {status}{where} · %p%")
        self.epoch_bar.setFormat(f"Epoch: {status}")

    def opened(self, name: str, arch: str, done: int, planned: int | None, resumable: bool) -> None:
        """An earlier run's curves are on screen: say whose, and that Start does not train it
        (the form keeps the user's settings unless the run can be resumed)."""
        planned = max(planned or done, done, 1)
        self.run_bar.setRange(0, planned)
        self.run_bar.setValue(done)
        self.run_bar.setFormat(f"Opened run “{name}”: {arch}, {done}/{planned} epochs")
        self.epoch_bar.setRange(0, 1)
        self.epoch_bar.setValue(0)
        self.epoch_bar.setFormat(
            f"Stopped after epoch {done}: Resume continues it with its own settings"
            if resumable
            else "Curves of the opened run; Start trains the settings on the left"
        )


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
