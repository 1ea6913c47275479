"""CIFAR Studio's desktop GUI: PySide6 + pyqtgraph over the ``engine`` package.

The GUI does no tensor work itself. It imports only ``engine`` and its top-level names, and
every engine call runs in a worker thread through :mod:`gui.background`. Importing this package
(or :mod:`gui.app`) must not import torch: the window appears first, the engine loads after.
"""

from engine import __version__  # written once, in engine/_version.py (light: no torch)

from .compat import protect_singletons

__all__ = ["__version__"]

# Before any Qt call: shiboken6 6.12 leaks references to None on Python < 3.12 (see gui.compat).
protect_singletons()
