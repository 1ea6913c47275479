"""``python -m engine`` and the ``cifar-studio-engine`` console script (``engine.cli:main``).

``program`` builds the parser and dispatches; the commands live in ``train_args`` and ``tools``;
``common`` holds what they share (output, device and TTA flags); ``progress`` and
``stage_progress`` draw the bars.
"""

from .program import main

__all__ = ["main"]
