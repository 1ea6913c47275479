"""Entry script of the PyInstaller bundle: ``python -m gui``, frozen.

:func:`gui.app.main` does what a frozen app needs first: ``multiprocessing.freeze_support()``,
and on Windows the torch import before any Qt library (pytorch#166628).
"""

import sys

from gui.app import main

if __name__ == "__main__":
    sys.exit(main())
