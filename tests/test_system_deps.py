"""The system libraries Qt needs on Linux: the table matches what Qt links, the test command
installs the packages, and the bundle's launcher names the package when one is missing.

packaging/system_deps.py is the one list; scripts/test.sh, the PyInstaller spec and
packaging/launcher.py read it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "packaging"))
import launcher
import system_deps

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="Linux system libraries")


def _qt_linked_sonames() -> set[str]:
    """Sonames linked by Qt's xcb plugin and the X11 integration library, as `ldd` reports them."""
    qt = Path(importlib.util.find_spec("PySide6").submodule_search_locations[0]) / "Qt"
    files = [qt / "plugins" / "platforms" / "libqxcb.so", *qt.glob("lib/libQt6XcbQpa.so*")]
    files += list((qt / "plugins" / "xcbglintegrations").glob("*.so"))
    names = set()
    for f in files:
        out = subprocess.run(["ldd", str(f)], capture_output=True, text=True, check=False).stdout
        names |= {line.split()[0] for line in out.splitlines() if "=>" in line}
    return names


@linux_only
@pytest.mark.skipif(shutil.which("ldd") is None, reason="needs ldd")
def test_table_covers_every_x11_library_qt_links():
    linked = {n for n in _qt_linked_sonames() if n.startswith(("libxcb", "libxkb", "libX11"))}
    assert linked, "no X11 libraries found: is PySide6's xcb plugin installed?"
    known = {*system_deps.BUNDLED, *system_deps.SYSTEM}
    assert linked <= known, f"add to packaging/system_deps.py: {sorted(linked - known)}"
    assert "libxcb-cursor.so.0" in system_deps.BUNDLED  # the one common desktops lack (issue 9, item 10)


def test_debian_packages_cover_the_libraries_and_the_tools():
    packages = system_deps.debian_packages()
    assert {"libxcb-cursor0", "libxcb-icccm4", "libxkbcommon-x11-0", "xvfb", "binutils"} <= set(packages)
    assert packages == sorted(set(packages))
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "packaging" / "system_deps.py")], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == packages


def test_install_hint_names_the_packages():
    hint = system_deps.install_hint(["libxcb-cursor.so.0"])
    assert "\n" not in hint and "library libxcb-cursor.so.0 is missing" in hint
    assert "sudo apt install libxcb-cursor0" in hint and "sudo dnf install xcb-util-cursor" in hint
    two = system_deps.install_hint(["libxcb-cursor.so.0", "libxcb-icccm.so.4"])
    assert "libraries libxcb-cursor.so.0, libxcb-icccm.so.4 are missing" in two
    assert "apt install libxcb-cursor0 libxcb-icccm4" in two


def test_missing_libraries_prefers_the_bundled_copy(tmp_path):
    (tmp_path / "libxcb-cursor.so.0").write_bytes(b"")
    loaded = []

    def load(name):
        loaded.append(name)
        if name == "libxcb-icccm.so.4":
            raise OSError("not found")

    missing = system_deps.missing_libraries(["libxcb-cursor.so.0", "libxcb-icccm.so.4"], [tmp_path], load)
    assert missing == ["libxcb-icccm.so.4"]
    assert loaded == [str(tmp_path / "libxcb-cursor.so.0"), "libxcb-icccm.so.4"]


@pytest.mark.parametrize(
    ("env", "argv", "checks"),
    [
        ({"QT_QPA_PLATFORM": "xcb"}, [], True),
        ({"QT_QPA_PLATFORM": "", "WAYLAND_DISPLAY": ""}, ["photo.jpg"], True),
        ({"QT_QPA_PLATFORM": "", "WAYLAND_DISPLAY": "wayland-0"}, [], False),
        ({"QT_QPA_PLATFORM": "offscreen"}, [], False),
        ({"QT_QPA_PLATFORM": "xcb"}, ["--self-test"], False),
    ],
)
def test_launcher_names_the_missing_package(env, argv, checks, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value) if value else monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(system_deps, "missing_libraries", lambda **kw: ["libxcb-cursor.so.0"])
    message = launcher.check_display_libraries(argv)
    if checks:
        assert message == system_deps.install_hint(["libxcb-cursor.so.0"])
    else:
        assert message is None
    monkeypatch.setattr(system_deps, "missing_libraries", lambda **kw: [])
    assert launcher.check_display_libraries(argv) is None


@linux_only
def test_test_command_installs_the_missing_packages(tmp_path):
    """scripts/test.sh's system step, with dpkg/apt-get/id/sudo stood in: it asks apt for
    exactly the packages dpkg does not have."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    scripts = {
        # dpkg -s PKG: installed unless it is one of the two "missing" ones
        "dpkg": '[ "$2" = libxcb-cursor0 ] || [ "$2" = xvfb ] && exit 1; exit 0',
        "apt-get": f'echo "$@" >> {log}',
        "id": "echo 0",
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    script = (REPO_ROOT / "scripts" / "test.sh").read_text()
    start = script.index("system_packages() {")
    function = script[start : script.index("\n}\n", start) + 3]
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PY": sys.executable}
    done = subprocess.run(
        ["bash", "-c", f'set -euo pipefail; PY="$PY"\n{function}\nsystem_packages'],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    assert calls[0].startswith("update")
    assert calls[1].split()[-2:] == ["libxcb-cursor0", "xvfb"] and calls[1].startswith("install -y")


def test_check_command_passes_when_no_window_is_needed():
    """``system_deps.py --check`` (scripts/run.sh) exits 0 offscreen and for --self-test."""
    script = str(REPO_ROOT / "packaging" / "system_deps.py")
    for env, args in (({"QT_QPA_PLATFORM": "offscreen"}, []), ({"QT_QPA_PLATFORM": "xcb"}, ["--self-test"])):
        done = subprocess.run(
            [sys.executable, script, "--check", *args],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0 and done.stderr == ""


def _launch(repo: Path, venv: Path, log: Path, **env) -> list[str]:
    done = subprocess.run(
        ["bash", str(repo / "scripts" / "run.sh"), "photo.jpg"],
        env={**os.environ, "CIFAR_STUDIO_VENV": str(venv), "STUB_LOG": str(log), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    log.write_text("")
    return calls


def test_run_command_installs_only_when_something_changed(tmp_path):
    """scripts/run.sh ran `pip install` on every launch (7-8 s to the window, failing offline):
    now only when pyproject.toml or setup.py changed since the last install into the venv. The
    venv's python is a stub that logs its arguments (pip, the system check, the app)."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "scripts" / "run.sh", repo / "scripts" / "run.sh")
    for name in ("pyproject.toml", "setup.py"):
        shutil.copy(REPO_ROOT / name, repo / name)
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    log = tmp_path / "calls.log"
    log.write_text("")
    stub = venv / "bin" / "python"
    stub.write_text('#!/bin/sh\necho "$*" >> "$STUB_LOG"\n[ -z "$PIP_FAILS" ] || [ "$1 $2" != "-m pip" ] || exit 1\n')
    stub.chmod(0o755)

    def pip(calls):
        return [c for c in calls if c.startswith("-m pip")]

    first = _launch(repo, venv, log)
    assert pip(first) == ["-m pip install --quiet --upgrade pip", "-m pip install --quiet -e ."]
    assert first[-2:] == ["packaging/system_deps.py --check photo.jpg", "-m gui photo.jpg"]
    again = _launch(repo, venv, log, PIP_FAILS="1")  # offline: pip is not even asked
    assert pip(again) == [] and again[-1] == "-m gui photo.jpg"
    with open(repo / "pyproject.toml", "a") as f:
        f.write("\n# a new dependency\n")
    changed = _launch(repo, venv, log)
    assert len(pip(changed)) == 2
    assert pip(_launch(repo, venv, log)) == []
    assert len(pip(_launch(repo, venv, log, CIFAR_STUDIO_REINSTALL="1"))) == 2
    (repo / "setup.py").write_text("# changed\n")
    offline = _launch(repo, venv, log, PIP_FAILS="1")  # changed but offline: the installed version starts
    assert len(pip(offline)) == 1 and offline[-1] == "-m gui photo.jpg"
