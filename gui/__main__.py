"""``python -m gui [IMAGE...]``: start CIFAR Studio (see :func:`gui.app.main`)."""

import sys

from gui.app import main

if __name__ == "__main__":
    sys.exit(main())
