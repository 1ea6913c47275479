"""The one place CIFAR Studio's version is written.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``), ``engine.__version__`` re-exports it,
and the PyInstaller spec takes it from ``engine``; the GUI shows ``engine.__version__``.
"""

__version__ = "0.1.0"
