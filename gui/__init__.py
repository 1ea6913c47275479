"""CIFAR Studio's desktop GUI: PySide6 + pyqtgraph over the ``engine`` package.

The GUI does no tensor work itself. It imports only ``engine`` and its top-level names, and
every engine call runs in a worker thread through :mod:`gui.worker`. Importing this package
(or :mod:`gui.app`) must not import torch: the window appears first, the engine loads after.
"""

from .compat import protect_singletons

__all__ = ["__version__"]

__version__ = "0.1.0"

# Before any Qt call: shiboken6 6.12 leaks references to None on Python < 3.12 (see gui.compat).
protect_singletons()
