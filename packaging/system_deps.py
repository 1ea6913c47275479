"""The Linux system libraries CIFAR Studio's Qt needs, and the packages that provide them.

One table, read by:

* ``packaging/cifar_studio.spec``: the bundle carries the X11 libraries of :data:`BUNDLED`
  (found on the build machine), so the app opens its window on desktops that lack them;
* ``packaging/launcher.py`` and ``scripts/run.sh``: when one cannot be loaded, the app stops
  with one line naming the package to install instead of Qt's abort;
* ``scripts/test.sh``: ``python3 packaging/system_deps.py`` prints every Debian/Ubuntu package
  the test command needs, which it installs when it can (root or sudo, apt).

Standard library only: it runs before the virtual environment exists.
"""

from __future__ import annotations

import ctypes
import os
import platform
import subprocess
import sys
from pathlib import Path

__all__ = [
    "BUNDLED",
    "SYSTEM",
    "TEST_TOOLS",
    "debian_packages",
    "display_check",
    "find_system_library",
    "install_hint",
    "missing_libraries",
    "needs_xcb",
]

# Qt's xcb platform plugin (libqxcb.so, libQt6XcbQpa) links these; common desktops lack some
# (libxcb-cursor0 is not on a default Ubuntu 22.04/24.04 or Debian 12 desktop). soname ->
# (Debian/Ubuntu package, Fedora package). They wrap libxcb's stable protocol ABI, so the copies
# from the build machine work elsewhere. Measured with `ldd` on PySide6 6.11's libqxcb.so.
BUNDLED: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
}

# Left to the system on purpose (PyInstaller does not bundle them either): the X connection and
# the graphics stack must match the machine's display server and drivers. Every desktop has them.
SYSTEM: dict[str, tuple[str, str]] = {
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
}

# What the tests use besides the app: a virtual X display for the window test, binutils' objdump,
# which PyInstaller runs on every collected binary, and Debian's Fashion-MNIST files (the real-data
# test of the fashion-mnist source).
TEST_TOOLS = ("xvfb", "binutils", "dataset-fashion-mnist")


def debian_packages() -> list[str]:
    """Every Debian/Ubuntu package the test command needs (the app's libraries and the tools)."""
    names = [deb for deb, _ in (*BUNDLED.values(), *SYSTEM.values())]
    return sorted({*names, *TEST_TOOLS})


def missing_libraries(sonames=None, folders=(), load=ctypes.CDLL) -> list[str]:
    """The libraries of ``sonames`` (default: :data:`BUNDLED` and :data:`SYSTEM`) that cannot be
    loaded: a copy in one of ``folders`` (the bundle) first, else as the dynamic loader finds it."""
    missing = []
    for soname in sonames if sonames is not None else [*BUNDLED, *SYSTEM]:
        copies = [path for path in (Path(folder) / soname for folder in folders) if path.is_file()]
        try:
            load(str(copies[0]) if copies else soname)
        except OSError:
            missing.append(soname)
    return missing


def find_system_library(soname: str) -> str | None:
    """Where the dynamic loader's cache (``ldconfig -p``) has ``soname`` for this machine's
    architecture, or None."""
    arch = {"x86_64": "x86-64", "aarch64": "AArch64"}.get(platform.machine(), platform.machine())
    try:
        listing = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=False).stdout
    except OSError:
        listing = ""
    for line in listing.splitlines():
        name, _, rest = line.strip().partition(" (")
        flags, _, path = rest.partition(") => ")
        if name == soname and arch in flags and path:
            return path.strip()
    return None


def install_hint(missing: list[str]) -> str:
    """One line naming the packages that provide ``missing`` (Debian/Ubuntu and Fedora)."""
    table = {**BUNDLED, **SYSTEM}
    deb = sorted({table[m][0] for m in missing if m in table})
    rpm = sorted({table[m][1] for m in missing if m in table})
    what, it = ("libraries", "them") if len(missing) > 1 else ("library", "it")
    are = "are" if len(missing) > 1 else "is"
    return (
        f"CIFAR Studio cannot open its window: the system {what} {', '.join(missing)} {are} missing; "
        f"install {it} with `sudo apt install {' '.join(deb)}` (Debian/Ubuntu) or "
        f"`sudo dnf install {' '.join(rpm)}` (Fedora)"
    )


def needs_xcb(argv: list[str]) -> bool:
    """True when the app is about to open a window through X11 (not --self-test, not offscreen)."""
    if not sys.platform.startswith("linux") or "--self-test" in argv:
        return False
    chosen = os.environ.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(":")[0] == "xcb"
    # Without a choice, Qt 6 uses Wayland in a Wayland session and X11 otherwise.
    return not os.environ.get("WAYLAND_DISPLAY")


def display_check(argv: list[str], folders=()) -> str | None:
    """The one-line message when the app's window needs a library that cannot be loaded, else None."""
    if not needs_xcb(argv):
        return None
    missing = missing_libraries(folders=folders)
    return install_hint(missing) if missing else None


if __name__ == "__main__":
    # `system_deps.py`: the Debian packages the test command needs, on one line.
    # `system_deps.py --check [APP ARGUMENTS]`: exit 1 with the install hint when a library is missing.
    if sys.argv[1:2] == ["--check"]:
        message = display_check(sys.argv[2:])
        if message:
            sys.stderr.write(message + "\n")
        sys.exit(1 if message else 0)
    sys.stdout.write(" ".join(debian_packages()) + "\n")
