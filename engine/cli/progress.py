"""The command line's training progress on stderr: a tqdm bar per epoch and one line per
epoch and per warning, driven by the trainer's events."""

from __future__ import annotations

import sys

from .stage_progress import is_terminal

__all__ = ["TrainProgress"]


class TrainProgress:
    """Callable trainer callback writing progress to ``file`` (stderr by default)."""

    def __init__(self, quiet: bool = False, file=None):
        self.quiet = quiet
        self.file = file if file is not None else sys.stderr
        self.bar = None
        self.epoch: int | None = None

    def write(self, text: str) -> None:
        from tqdm import tqdm  # start-up: loaded only when a bar is drawn (0.4 s on a busy 2-core machine)

        if self.file is not None:
            tqdm.write(text, file=self.file)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __call__(self, ev) -> None:
        # Start-up: engine.training's package imports torch; building the parser (--help) never does.
        from ..training import BatchEnd, EpochEnd, LogMessage, RunStarted

        if isinstance(ev, RunStarted):
            self.write(
                f"training {ev.model} ({ev.parameters:,} parameters) on {ev.device}: "
                f"{ev.train_size} train / {ev.val_size} validation images -> {ev.out_dir}"
            )
        elif isinstance(ev, BatchEnd):
            self._batch(ev)
        elif isinstance(ev, EpochEnd):
            self.close()
            val = f"val loss {ev.val_loss:.4f} acc {ev.val_acc:.2%}" if ev.val_acc is not None else "no validation"
            self.write(
                f"epoch {ev.epoch}/{ev.epochs}: train loss {ev.train_loss:.4f} acc {ev.train_acc:.2%}, {val}, "
                f"lr {ev.lr:.3g}, {ev.images_per_s:.0f} img/s, {ev.elapsed:.0f}s elapsed, eta {ev.eta:.0f}s"
                + (" *best*" if ev.is_best and ev.val_acc is not None else "")
            )
        elif isinstance(ev, LogMessage) and ev.level != "info":
            self.write(f"{ev.level}: {ev.message}")

    def _batch(self, ev) -> None:
        from tqdm import tqdm  # start-up: loaded only when a bar is drawn (0.4 s on a busy 2-core machine)

        if self.bar is None or self.epoch != ev.epoch:
            self.close()
            self.epoch = ev.epoch
            # The bar starts at the batch just reported (``initial``), so tqdm's rate counts
            # only batches timed by the bar: a first step (or a resumed epoch starting at
            # batch 200) never shows as thousands of batches per second.
            self.bar = tqdm(
                total=ev.steps_per_epoch,
                initial=ev.step,
                desc=f"epoch {ev.epoch}/{ev.total_steps // ev.steps_per_epoch}",
                unit="batch",
                file=self.file,
                leave=False,
                dynamic_ncols=True,
                smoothing=0.1,
                # A bar is for a person watching: in a pipe or a log it leaves only carriage returns.
                disable=self.file is None or self.quiet or not is_terminal(self.file),
            )
        elif ev.step > self.bar.n:
            self.bar.update(ev.step - self.bar.n)
        self.bar.set_postfix(loss=f"{ev.loss:.3f}", lr=f"{ev.lr:.3g}", img_s=f"{ev.images_per_s:.0f}", refresh=True)
