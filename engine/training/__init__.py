"""Training: the loop, its events, optimizers and schedules."""

from .events import BatchEnd, EpochEnd, LogMessage, RunFinished, RunStarted, TrainEvent
from .optim import schedule_preview
from .trainer import StopFlag, TrainingFailed, train

__all__ = [
    "BatchEnd",
    "EpochEnd",
    "LogMessage",
    "RunFinished",
    "RunStarted",
    "StopFlag",
    "TrainEvent",
    "TrainingFailed",
    "schedule_preview",
    "train",
]
