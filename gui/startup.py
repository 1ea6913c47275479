"""Start-up timing on stderr when CIFAR_STUDIO_REPORT_STARTUP=1: "window-visible <seconds>" on
the first paint, "first-prediction <seconds>" when the first result of images given on the
command line (or opened before the engine was ready) is on screen.

Seconds are counted from the process's creation: ``CIFAR_STUDIO_LAUNCH_TIME`` (a
``time.time()`` value set by whoever launched us, e.g. the benchmark) when given, else the
process start time the OS reports (psutil or /proc), else the first import of this module.
"""

from __future__ import annotations

import os
import time

from .output import write_line

__all__ = ["report_first_prediction", "report_window_visible", "seconds_since_start", "wanted"]

_IMPORTED_AT = time.time()


def _process_start_time() -> float | None:
    try:
        import psutil  # optional

        return float(psutil.Process().create_time())
    except Exception:
        pass
    try:  # Linux without psutil: start time in clock ticks after boot
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except Exception:
        return None


def seconds_since_start() -> float:
    launch = os.environ.get("CIFAR_STUDIO_LAUNCH_TIME")
    try:
        start = float(launch) if launch else None
    except ValueError:
        start = None
    start = start or _process_start_time() or _IMPORTED_AT
    return time.time() - start


def wanted() -> bool:
    return os.environ.get("CIFAR_STUDIO_REPORT_STARTUP") == "1"


def report_window_visible() -> None:
    if wanted():
        write_line(f"window-visible {seconds_since_start():.3f}", error=True)


_reported: set[str] = set()


def report_first_prediction() -> None:
    if wanted() and "first-prediction" not in _reported:
        _reported.add("first-prediction")
        write_line(f"first-prediction {seconds_since_start():.3f}", error=True)
