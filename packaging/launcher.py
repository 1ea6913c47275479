"""Entry script of the PyInstaller bundle: ``python -m gui``, frozen.

:func:`gui.app.main` does what a frozen app needs first: ``multiprocessing.freeze_support()``,
and on Windows the torch import before any Qt library (pytorch#166628).

On Linux the bundle carries the X11 libraries Qt's xcb plugin needs (packaging/system_deps.py);
if one still cannot be loaded, Qt would abort with "could not load the Qt platform plugin", so
the app stops first with one line that names the package to install.
"""

import sys

from system_deps import display_check

from gui.app import main


def check_display_libraries(argv: list[str]) -> str | None:
    """The one-line message when a library Qt's xcb plugin needs is missing, else None."""
    # The bundle's own copies first (_internal/, sys._MEIPASS), then the system's.
    return display_check(argv, folders=[sys._MEIPASS] if getattr(sys, "frozen", False) else [])


if __name__ == "__main__":
    message = check_display_libraries(sys.argv[1:])
    if message:
        if sys.stderr is not None:
            sys.stderr.write(message + "\n")
        sys.exit(1)
    sys.exit(main())
