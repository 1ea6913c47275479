"""Work-arounds for the Qt binding versions this app meets in the wild.

shiboken6 6.12 returns ``None`` from every void method without taking a reference. On
CPython 3.12+ that is harmless (None is immortal there); on 3.10 and 3.11 each call such as
``QPainter.drawLine`` or ``QLabel.setText`` lowers None's reference count by one, and after
some thousands of calls Python aborts with "Fatal Python error: none_dealloc" - within a
minute or two of live training curves. Measured here with PySide6-Essentials 6.12.0 on
Python 3.11.7; 6.11.3 does not do it. pyproject.toml therefore requires < 6.12 on Python
< 3.12; this guard covers an environment that has the broken pair anyway (a distribution's
PySide6, a manual upgrade): the singletons get a reference count so large that no amount of
leaked decrements can reach zero, which is what 3.12 does for them anyway. Any other
binding version is left alone.
"""

from __future__ import annotations

import sys

# Imports inside functions: ctypes and package metadata are read only on the platforms and versions
# that need the workaround.

__all__ = ["protect_singletons"]

_RESERVE = 1 << 40  # far more decrements than any session can leak
_done = False


def protect_singletons() -> None:
    """Make None, True and False effectively immortal on CPython < 3.12 (idempotent)."""
    global _done
    if _done or sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        if not version("shiboken6").startswith("6.12."):
            return
    except PackageNotFoundError:
        return
    import ctypes

    for obj in (None, True, False):
        # ob_refcnt is the first field of every CPython object, at the object's address.
        ctypes.c_ssize_t.from_address(id(obj)).value += _RESERVE
    _done = True
