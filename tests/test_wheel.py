"""The installed package, not the checkout: a wheel carries the bundled model, samples and icons.

The wheel is built from a copy of the project's sources (setuptools reuses a ``build/`` folder,
which in the checkout could hold modules deleted since), installed with ``pip --target`` into a
temporary folder, and run from outside the repository with that folder first on ``sys.path``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO_ROOT

import engine

SOURCES = ("engine", "gui", "resources", "setup.py", "pyproject.toml", "README.md", "LICENSE")
RESOURCES = "cifar_studio_resources"
SAMPLE = "cat-chelsea.jpg"


def _pip(*args: str, cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    return src


@pytest.fixture(scope="module")
def wheel(src, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # No build isolation: the test environment's setuptools builds it, nothing is downloaded.
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", str(src), "-w", str(out), cwd=src)
    (found,) = out.glob("cifar_studio-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    _pip("install", "--no-deps", "--no-index", "--target", str(target), str(wheel), cwd=target)
    return target


def _run_installed(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    # The installed copy comes first on sys.path: PYTHONPATH precedes the environment's editable
    # finder, so `engine` resolves to the wheel's files, not to the checkout.
    env = {**os.environ, "PYTHONPATH": str(installed)}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_wheel_holds_every_module_and_the_resources(src, wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {p.relative_to(src).as_posix() for pkg in ("engine", "gui") for p in (src / pkg).rglob("*.py")}
    assert sources and sources <= names, f"modules missing from the wheel: {sorted(sources - names)[:5]}"
    for f in (src / "resources").rglob("*"):
        if f.is_file():
            rel = f.relative_to(src / "resources").as_posix()
            assert f"{RESOURCES}/{rel}" in names, f"resources/{rel} is not in the wheel"
    assert not any("__pycache__" in n for n in names)


def test_wheel_version_is_the_engine_version(wheel):
    metadata = zipfile.ZipFile(wheel).read(f"cifar_studio-{engine.__version__}.dist-info/METADATA").decode()
    assert f"\nVersion: {engine.__version__}\n" in metadata


def test_installed_wheel_finds_its_model_and_icons(installed, tmp_path):
    code = (
        "import json, engine, engine.paths as p; "
        "print(json.dumps([engine.__file__, str(p.resources_dir()), str(p.default_checkpoint_path())]))"
    )
    done = _run_installed(installed, tmp_path, "-c", code)
    assert done.returncode == 0, done.stderr
    module, resources, checkpoint = (Path(p) for p in json.loads(done.stdout))
    assert module.is_relative_to(installed), f"imported the checkout, not the wheel: {module}"
    assert resources == installed / RESOURCES
    assert checkpoint.is_file() and checkpoint.is_relative_to(installed)
    assert (resources / "models" / "MODEL_CARD.md").is_file()
    assert (resources / "icons" / "hicolor" / "256x256" / "apps" / "cifar-studio.png").is_file()
    assert (resources / "icons" / "app-icon.png").is_file()


def test_installed_wheel_predicts_with_the_bundled_model(installed, tmp_path):
    samples = installed / RESOURCES / "samples"
    expected = json.loads((samples / "expected.json").read_text())
    done = _run_installed(installed, tmp_path, "-m", "engine", "predict", "--json", str(samples / SAMPLE))
    assert done.returncode == 0, done.stderr
    (result,) = json.loads(done.stdout)
    assert result["top"] == expected[SAMPLE]


def test_version_is_written_once():
    """engine/_version.py holds the version; pyproject.toml and the PyInstaller spec read it."""
    import re

    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert re.search(r'^dynamic = \["version"\]', pyproject, re.M)
    assert 'version = { attr = "engine._version.__version__" }' in pyproject
    spec = (REPO_ROOT / "packaging" / "cifar_studio.spec").read_text()
    assert "from engine._version import __version__ as VERSION" in spec
    literal = re.compile(rf"""["']{re.escape(engine.__version__)}["']""")
    files = [REPO_ROOT / "pyproject.toml", REPO_ROOT / "setup.py", *REPO_ROOT.glob("packaging/*.*")]
    files += [p for d in ("engine", "gui") for p in (REPO_ROOT / d).rglob("*.py") if p.name != "_version.py"]
    written = [str(p.relative_to(REPO_ROOT)) for p in files if p.is_file() and literal.search(p.read_text())]
    assert not written, f"the version is written again in {written}"
