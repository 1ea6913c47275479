"""Events the trainer reports through its callback (plain dataclasses, no Qt)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BatchEnd", "EpochEnd", "LogMessage", "RunFinished", "RunStarted", "TrainEvent"]


@dataclass
class RunStarted:
    model: str
    parameters: int
    device: str  # e.g. "CPU, 2 threads (bf16)"
    classes: list[str]
    train_size: int
    val_size: int
    epochs: int
    start_epoch: int  # > 0 when resuming
    steps_per_epoch: int
    out_dir: str
    history: list[dict] = field(default_factory=list)  # earlier epochs when resuming
    # Resuming: the per-batch rows reported before the stop (batches.jsonl), to redraw the
    # per-batch curves; keys as engine.training.run_files.BATCH_COLUMNS.
    batch_history: list[dict] = field(default_factory=list)
    elapsed_before: float = 0.0  # training seconds of the run before this resume


@dataclass
class BatchEnd:
    epoch: int  # 1-based
    step: int  # 1-based within the epoch
    steps_per_epoch: int
    global_step: int
    total_steps: int
    loss: float
    lr: float
    images_per_s: float


@dataclass
class EpochEnd:
    epoch: int  # 1-based
    epochs: int
    train_loss: float
    train_acc: float
    val_loss: float | None
    val_acc: float | None
    lr: float
    elapsed: float  # training seconds of the whole run (time before a resume included)
    eta: float  # seconds left, estimated
    images_per_s: float
    is_best: bool

    @property
    def metrics(self) -> dict:
        """This epoch as one row of metrics.jsonl, a checkpoint's history and the curves, made from
        the fields above (each value travels once): the same keys a run read back from disk has."""
        return {
            "epoch": self.epoch,
            "train_loss": self.train_loss,
            "train_acc": self.train_acc,
            "val_loss": self.val_loss,
            "val_acc": self.val_acc,
            "lr": self.lr,
            "elapsed_s": round(self.elapsed, 2),
            "images_per_s": round(self.images_per_s, 1),
        }


@dataclass
class LogMessage:
    level: str  # "info" / "warning" / "error"
    message: str


@dataclass
class RunFinished:
    status: str  # "completed" (all epochs, or stopped early: see early_stop_epoch), "stopped" or "failed"
    message: str
    epochs_done: int
    best_val_acc: float | None
    best_checkpoint: str | None
    last_checkpoint: str | None
    out_dir: str
    history: list[dict] = field(default_factory=list)
    early_stop_epoch: int | None = None  # set when early stopping ended the run (status "completed")


TrainEvent = RunStarted | BatchEnd | EpochEnd | LogMessage | RunFinished
