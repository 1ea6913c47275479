"""``python -m engine`` and the ``cifar-studio-engine`` console script (``engine.cli:main``).

``program`` builds the parser, dispatches and runs models, presets, info, train, evaluate, predict
and bench; ``tools`` runs runs, lr-find, export, explain and weights; ``train_args`` declares the
train flags and makes their TrainConfig; ``common`` holds what they share (output, the device and
TTA flags); ``progress`` and ``stage_progress`` draw the bars.
"""

from .program import main

__all__ = ["main"]
