"""Entry point: ``python -m gui [IMAGE...]``, the ``cifar-studio`` gui-script, ``gui.app:main``.

Options: ``--screenshot PATH [--tab NAME]`` renders the window to a PNG and exits;
``--self-test`` classifies the bundled sample images with the default model and exits.
One window per user: a launch while a window is open hands its images (and --checkpoint,
--tab, --run) to that window and exits before torch or any Qt widget loads
(:mod:`gui.single_instance`); ``--new-instance`` opens a second window instead.

Importing this module is cheap and imports neither torch nor Qt: Qt is imported in
:func:`main`; torch before it on Windows (``TORCH_BEFORE_QT``), elsewhere after the window
is visible.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
from pathlib import Path

from .output import install_excepthook, setup_logging

# Imports inside functions: importing this module imports neither Qt nor torch (the single-instance
# hand-off exits before either loads: tests/test_gui_startup.py); main() imports Qt, then the
# window.

__all__ = ["build_parser", "main"]

TABS = ("train", "predict", "evaluate")

# On Windows, torch (>= 2.9) fails with DLL initialisation errors when it is imported after
# Qt's DLLs are loaded (pytorch#166628), so there main() imports it before any Qt import.
# Elsewhere torch stays lazy: it loads in a worker thread after the window is visible.
TORCH_BEFORE_QT = sys.platform == "win32"


def _import_torch() -> None:
    # By name: the engine is lazy, and neither ``import engine`` nor its config classes
    # import torch, so only this import guarantees the DLL order.
    import torch  # noqa: F401


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cifar-studio",
        description="CIFAR Studio: train and use small image classifiers. Images given here open on the Predict tab.",
    )
    p.add_argument("images", nargs="*", metavar="IMAGE", help="photos or folders to classify on start")
    p.add_argument("--checkpoint", metavar="PATH", help="checkpoint to use on the Predict tab (and for --self-test)")
    p.add_argument("--tab", choices=TABS, help="tab to show first")
    p.add_argument("--run", metavar="DIR", help="show this training run's curves on the Train tab")
    p.add_argument("--screenshot", metavar="PATH", help="render the window to this PNG and exit")
    p.add_argument("--size", default="1280x800", metavar="WxH", help="window size for --screenshot (1280x800)")
    p.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="give up on --screenshot after this many seconds (300)",
    )
    p.add_argument(
        "--self-test",
        action="store_true",
        help="classify the bundled sample images with the default model, print one line, exit",
    )
    p.add_argument("--samples", metavar="DIR", help="sample folder for --self-test (default: resources/samples)")
    p.add_argument(
        "--new-instance",
        action="store_true",
        help="open a second window even when one is running (by default the running window gets the images)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log details")
    return p


def _other_threads_running() -> bool:
    """Plain (non-daemon) Python threads other than this one: interpreter exit would wait for them."""
    import threading

    return any(t is not threading.main_thread() and not t.daemon and t.is_alive() for t in threading.enumerate())


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--size must look like 1280x800, got {text!r}") from None
    return w, h


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # first: a frozen app's worker processes start here (PyInstaller)
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(args.verbose)
    install_excepthook()

    forward = not (args.new_instance or args.screenshot or args.self_test)
    payload = {
        "images": [str(Path(p).expanduser().resolve()) for p in args.images],
        "checkpoint": str(Path(args.checkpoint).expanduser().resolve()) if args.checkpoint else None,
        "tab": args.tab,
        "run": str(Path(args.run).expanduser().resolve()) if args.run else None,
    }
    if forward:
        from .single_instance import forward_to_running  # QtCore + QtNetwork only

        if forward_to_running(payload):
            print(f"CIFAR Studio is already open: handed it {len(args.images)} file(s).", file=sys.stderr)
            return 0

    if TORCH_BEFORE_QT:
        _import_torch()

    if args.self_test:
        from .self_test import run_self_test

        return run_self_test(args.checkpoint, args.samples)

    from PySide6.QtWidgets import QApplication

    from . import __version__, theme
    from .background.task import active_tasks, stop_all
    from .main_window import MainWindow
    from .settings import APPLICATION, ORGANIZATION, Settings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("CIFAR Studio")
    app.setApplicationVersion(__version__)
    app.setWindowIcon(theme.app_icon())
    # Wayland matches windows to their .desktop file (and its icon) by this name (packaging/linux).
    app.setDesktopFileName("cifar-studio")
    app.aboutToQuit.connect(lambda: stop_all(timeout_ms=500, final=True))

    images = [str(Path(p).expanduser().resolve()) for p in args.images]
    window = MainWindow(Settings(), images=images)
    if args.checkpoint:
        checkpoint = str(Path(args.checkpoint).expanduser().resolve())
        window.engine_ready.connect(lambda _info: window.predict_tab.set_checkpoint(checkpoint))
    if args.run:
        window.open_run(str(Path(args.run).expanduser().resolve()))
    if args.tab:
        window.show_tab(args.tab)
    from .file_open import FileOpenForwarder

    app.installEventFilter(FileOpenForwarder(window.open_images, app))
    if forward:
        from .single_instance import InstanceServer

        window.instance_server = InstanceServer(window.open_launch)
    if args.screenshot:
        from .screenshot import take_screenshot

        code = take_screenshot(app, window, args.screenshot, _parse_size(args.size), args.timeout)
    else:
        window.show()
        code = app.exec()
    if active_tasks() or _other_threads_running():
        # Work that could not be interrupted (a checkpoint being read, a model being built, a
        # decode pool's worker threads) is still running: exit now instead of waiting for it
        # (Python would join plain threads at exit, seconds later), and without running the
        # destructors that would tear down its running QThread ("Destroyed while thread is
        # still running" aborts with SIGABRT). The window has already waited a bounded time
        # (gui.background.task.stop_all) and checkpoints are written atomically, so nothing
        # on disk is half-written.
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        os._exit(code)
    return code
