"""Start-up and command line: importing the app does not import torch; ``--screenshot``
renders a PNG (and the start-up time is reported); ``--self-test`` gives one line and an
exit status, also without a console."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from gui import app


def _run(args, timeout=300, **env):
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **env},
    )


def test_importing_the_app_does_not_import_torch():
    result = _run(["-c", "import gui.app, sys; print('torch' in sys.modules)"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_gui_uses_only_the_engines_public_names():
    """gui/ imports neither torch nor engine submodules, and uses only names engine exports."""
    import ast

    import engine

    problems = []
    for path in sorted((REPO_ROOT / "gui").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
                if node.module == "engine":
                    names += [f"engine:{a.name}" for a in node.names if a.name not in engine.__all__]
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "engine"
                and not node.attr.startswith("__")
                and node.attr not in engine.__all__
            ):
                names = [f"engine.{node.attr}"]
            for name in names:
                if name.split(".")[0] in ("torch", "torchvision") or name.startswith(("engine.", "engine:")):
                    problems.append(f"{path.relative_to(REPO_ROOT).as_posix()}:{node.lineno}: {name}")
    # The one exception: app.py imports torch by name before Qt on Windows (the DLL-order workaround).
    assert [p for p in problems if not (p.startswith("gui/app.py:") and p.endswith(": torch"))] == []
    assert len(problems) == 1


def _import_order(tmp_path, torch_first: bool) -> list[str]:
    """Run the app's start-up (a screenshot of the Evaluate tab) and return the order in which
    torch and PySide6 entered sys.modules (a dict keeps insertion order)."""
    out = tmp_path / f"order-{torch_first}.png"
    # main() leaves with os._exit while uninterruptible background work (the photo model being
    # built for the Predict tab) still runs (gui.app): the order is printed on either way out.
    code = (
        "import os, sys\n"
        "from gui import app\n"
        "def report():\n"
        "    print(' '.join(m for m in sys.modules if m in ('torch', 'PySide6')), flush=True)\n"
        "leave = os._exit\n"
        "os._exit = lambda status: (report(), leave(status))\n"
        f"app.TORCH_BEFORE_QT = {torch_first}\n"
        f"code = app.main(['--screenshot', {str(out)!r}, '--tab', 'evaluate', '--size', '640x400'])\n"
        "report()\n"
        "raise SystemExit(code)\n"
    )
    result = _run(["-c", code])
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1].split()  # the last line: after "screenshot saved"


def test_torch_enters_before_qt_when_the_platform_needs_it(tmp_path):
    assert app.TORCH_BEFORE_QT == (sys.platform == "win32")
    assert _import_order(tmp_path, torch_first=True) == ["torch", "PySide6"]


def test_elsewhere_torch_loads_after_the_window(tmp_path):
    assert _import_order(tmp_path, torch_first=False) == ["PySide6", "torch"]


def test_screenshot_with_images_classified(tmp_path, tiny_checkpoint, tiny_image_folder):
    from PySide6.QtGui import QImage

    out = tmp_path / "shot.png"
    images = [str(tiny_image_folder / "red" / "000.png"), str(tiny_image_folder / "green")]
    result = _run(
        ["-m", "gui", "--screenshot", str(out), "--tab", "predict", "--checkpoint", str(tiny_checkpoint), *images],
        CIFAR_STUDIO_REPORT_STARTUP="1",
    )
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1280, 800)
    visible = [line for line in result.stderr.splitlines() if line.startswith("window-visible ")]
    assert len(visible) == 1 and 0 < float(visible[0].split()[1]) < 120


def test_screenshot_of_each_tab(tmp_path):
    for tab in ("train", "evaluate"):
        out = tmp_path / f"{tab}.png"
        result = _run(["-m", "gui", "--screenshot", str(out), "--tab", tab, "--size", "1000x700"])
        assert result.returncode == 0, result.stderr
        assert out.stat().st_size > 10_000


def _samples(folder: Path, tiny_image_folder: Path, wrong: bool = False) -> Path:
    folder.mkdir()
    expected = {}
    for colour in ("blue", "green", "red"):
        name = f"{colour}.png"
        (folder / name).write_bytes((tiny_image_folder / colour / "005.png").read_bytes())
        expected[name] = "blue" if wrong else colour
    (folder / "expected.json").write_text(json.dumps(expected))
    return folder


def test_self_test_passes(tmp_path, tiny_checkpoint, tiny_image_folder):
    samples = _samples(tmp_path / "samples", tiny_image_folder)
    result = _run(["-m", "gui", "--self-test", "--checkpoint", str(tiny_checkpoint), "--samples", str(samples)])
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith("self-test passed: model best.pt, 3/3 sample images classified as expected (")
    assert "\n" not in line


def test_self_test_failures_are_one_line(tmp_path, tiny_checkpoint, tiny_image_folder):
    missing = _run(["-m", "gui", "--self-test", "--samples", str(tmp_path / "nope")])
    assert missing.returncode == 1
    assert missing.stderr.strip().startswith("self-test failed: no sample images")
    samples = _samples(tmp_path / "samples", tiny_image_folder, wrong=True)
    wrong = _run(["-m", "gui", "--self-test", "--checkpoint", str(tiny_checkpoint), "--samples", str(samples)])
    assert wrong.returncode == 1
    assert "2/3 sample images not classified as expected" in wrong.stderr and "expected blue, got red" in wrong.stderr


@pytest.mark.parametrize("streams", ["None"])
def test_self_test_without_console_writes_to_the_log(tmp_path, tiny_checkpoint, tiny_image_folder, streams):
    """Windowed PyInstaller builds have sys.stdout/sys.stderr set to None."""
    samples = _samples(tmp_path / "samples", tiny_image_folder)
    log = tmp_path / "app.log"
    code = (
        f"import sys; sys.stdout = sys.stderr = {streams}\n"
        "from gui.app import main\n"
        f"raise SystemExit(main(['--self-test', '--checkpoint', {str(tiny_checkpoint)!r}, "
        f"'--samples', {str(samples)!r}]))"
    )
    result = _run(["-c", code], CIFAR_STUDIO_LOG=str(log))
    assert result.returncode == 0
    assert "self-test passed" in log.read_text()


def test_parser_knows_the_documented_options():
    args = app.build_parser().parse_args(["--screenshot", "x.png", "--tab", "evaluate", "a.jpg", "b"])
    assert (args.screenshot, args.tab, args.images) == ("x.png", "evaluate", ["a.jpg", "b"])
    assert app.build_parser().parse_args(["--self-test"]).self_test


def test_void_qt_calls_cannot_exhaust_none():
    """shiboken6 6.12 on Python < 3.12 drops a reference to None on every void call; importing
    gui protects the process (without it this aborts with "none_dealloc" after a few
    thousand calls, i.e. within minutes of live plotting)."""
    code = (
        "import gui\n"
        "from PySide6.QtCore import QPointF\n"
        "from PySide6.QtGui import QImage, QPainter\n"
        "from PySide6.QtWidgets import QApplication, QLabel\n"
        "app = QApplication([])\n"
        "image = QImage(8, 8, QImage.Format.Format_ARGB32)\n"
        "painter, label = QPainter(image), QLabel()\n"
        "for _ in range(50_000):\n"
        "    painter.drawLine(QPointF(0, 0), QPointF(4, 4)); label.setText('x')\n"
        "painter.end(); print('ok')\n"
    )
    result = _run(["-c", code])
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip() == "ok"


def test_file_open_events_reach_the_predict_tab(qtbot):
    """macOS "Open with" arrives as a QFileOpenEvent; it must load the file like a drop."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QFileOpenEvent

    from gui.file_open import FileOpenForwarder

    opened: list[list[str]] = []
    forwarder = FileOpenForwarder(opened.append)
    app = QCoreApplication.instance()
    app.installEventFilter(forwarder)
    try:
        QCoreApplication.sendEvent(app, QFileOpenEvent("/tmp/photo.jpg"))
    finally:
        app.removeEventFilter(forwarder)
    assert opened == [["/tmp/photo.jpg"]]


def test_first_prediction_of_a_photo_on_the_command_line_is_reported(tmp_path, tiny_checkpoint, tiny_image_folder):
    """`python -m gui PHOTO`: the window first, then the first result; both times are reported
    (CIFAR_STUDIO_REPORT_STARTUP=1), which the packaging measurement and the README quote."""
    import time

    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "CIFAR_STUDIO_REPORT_STARTUP": "1",
        "CIFAR_STUDIO_LAUNCH_TIME": repr(time.time()),
    }
    photo = str(tiny_image_folder / "red" / "000.png")
    args = [sys.executable, "-m", "gui", "--checkpoint", str(tiny_checkpoint), photo]
    proc = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    times = {}
    try:
        deadline = time.time() + 240
        while time.time() < deadline and "first-prediction" not in times:
            line = proc.stderr.readline()
            if not line:
                break
            key, _, value = line.strip().partition(" ")
            if key in ("window-visible", "first-prediction"):
                times[key] = float(value)
    finally:
        proc.terminate()
        proc.wait(30)
    assert set(times) == {"window-visible", "first-prediction"}, times
    assert 0 < times["window-visible"] < times["first-prediction"] < 240
