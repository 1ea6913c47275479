"""Issue 21 item 14: "Open with" reaches the window already open. A second launch hands its
files to the first window and exits quickly, before torch or any Qt widget module loads."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="checks the Unix socket file")


def test_a_second_launch_hands_its_files_to_the_first_window(tmp_path):
    from gui.single_instance import server_name

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    name = server_name()  # the same CIFAR_STUDIO_SETTINGS as the subprocesses (conftest)
    first = tmp_path / "first.py"
    first.write_text(
        textwrap.dedent(
            """
            import json, sys
            from PySide6.QtCore import QTimer
            from PySide6.QtWidgets import QApplication
            import gui.main_window as mw

            original = mw.MainWindow.open_launch

            def spy(self, payload):
                print("got", json.dumps(payload), flush=True)
                original(self, payload)
                print("current tab", self.tabs.currentIndex(), flush=True)
                QTimer.singleShot(300, QApplication.instance().quit)

            mw.MainWindow.open_launch = spy
            import gui.app
            sys.exit(gui.app.main([]))
            """
        )
    )
    photo = tmp_path / "photo one.png"
    photo.write_bytes(b"not really a photo")
    a = subprocess.Popen(
        [sys.executable, str(first)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        deadline = time.monotonic() + 60
        while not Path(name).exists():
            assert a.poll() is None, a.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the first window never listened"
            time.sleep(0.1)
        second = tmp_path / "second.py"
        second.write_text(
            textwrap.dedent(
                """
                import sys
                import gui.app
                code = gui.app.main(sys.argv[1:])
                print("torch loaded:", "torch" in sys.modules, "widgets loaded:", "PySide6.QtWidgets" in sys.modules)
                sys.exit(code)
                """
            )
        )
        began = time.monotonic()
        b = subprocess.run(
            [sys.executable, str(second), str(photo), "--tab", "predict"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=str(tmp_path),
        )
        took = time.monotonic() - began
        assert b.returncode == 0, b.stderr[-3000:]
        assert "already open" in b.stderr
        assert "torch loaded: False widgets loaded: False" in b.stdout
        assert took < 10, f"the second launch took {took:.1f} s"
        out, err = a.communicate(timeout=60)
    finally:
        if a.poll() is None:
            a.kill()
    assert f'"images": ["{photo}"]' in out, out + err[-3000:]
    assert "current tab 1" in out  # the Predict tab, where the photo went


def test_a_stale_socket_left_by_a_crash_is_taken_over(qapp, tmp_path, monkeypatch):
    from gui.single_instance import InstanceServer, forward_to_running

    path = str(tmp_path / "stale.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)  # bound, never listening, never removed: what a killed window leaves
    stale.close()
    assert Path(path).exists()
    began = time.monotonic()
    assert forward_to_running({"images": []}, name=path) is False
    assert time.monotonic() - began < 2
    got = []
    server = InstanceServer(got.append, name=path)
    try:
        assert server.listening
    finally:
        server.close()


def test_the_window_opens_what_a_second_launch_sends(qtbot, gui_settings, tmp_path):
    from gui.main_window import MainWindow
    from gui.single_instance import InstanceServer

    window = MainWindow(gui_settings)
    qtbot.addWidget(window)
    opened = []
    window.open_images = lambda paths: opened.append(paths)
    name = str(tmp_path / "w.sock")
    server = InstanceServer(window.open_launch, name=name)
    try:
        # The second launch is another process (its blocking socket calls hold this one's GIL).
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        code = (
            "from gui.single_instance import forward_to_running; "
            f"print(forward_to_running({{'images': ['/x/a.jpg'], 'tab': 'evaluate'}}, name={name!r}))"
        )
        sender = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
        qtbot.waitUntil(lambda: bool(opened), timeout=30_000)
        qtbot.waitUntil(lambda: sender.poll() is not None, timeout=30_000)
        assert sender.stdout.read().strip() == "True"
        assert opened == [["/x/a.jpg"]]
        assert window.tabs.currentIndex() == 2
    finally:
        server.close()
