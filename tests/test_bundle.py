"""The PyInstaller bundle: built with the documented command, then run the way a user runs it.

Marked ``bundle``: the build takes 5-8 minutes on 2 cores and writes about 4 GB to
packaging/dist/ (replacing what is there) and packaging/build/. CI runs it; deselect locally with
``-m "not bundle"``. Skipped when PyInstaller is not installed (``pip install -e ".[pyinstaller]"``).

``CIFAR_STUDIO_TEST_BUNDLE=DIR`` tests an already built bundle folder instead of building one
(for iterating on these tests; CI always builds).

Every run of the bundle gets private settings, log, cache and data folders, and an environment
without PYTHONPATH/PYTHONHOME/VIRTUAL_ENV: it must not need the development Python.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, save_image, synthetic_images, tiny_config, tiny_dataset

# The build runs inside the first test's time; the whole module stays well under CI's budget.
pytestmark = [pytest.mark.bundle, pytest.mark.timeout(2400)]

BUILD_TIMEOUT_S = 1800
RUN_TIMEOUT_S = 300
DEFAULT_MODEL = REPO_ROOT / "resources" / "models" / "cifar10_fusion.pt"
SAMPLE_PHOTO = REPO_ROOT / "resources" / "samples" / "cat-chelsea.jpg"


def _load_packaging_module(name: str):
    """A script of packaging/ (not a package): measure.py drives the bundle, system_deps.py lists
    the X11 libraries it carries."""
    spec = importlib.util.spec_from_file_location(f"cifar_studio_{name}", REPO_ROOT / "packaging" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


measure = _load_packaging_module("measure")
system_deps = _load_packaging_module("system_deps")


# ---------------------------------------------------------------------------- the bundle
@pytest.fixture(scope="module")
def bundle() -> Path:
    """The bundle folder, built once per test session with ``packaging/build.sh``."""
    prebuilt = os.environ.get("CIFAR_STUDIO_TEST_BUNDLE")
    if prebuilt:
        return Path(prebuilt).resolve()
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed: pip install -e '.[pyinstaller]'")
    if sys.platform != "linux":
        pytest.skip("the bundle test drives packaging/build.sh and checks the Linux layout")
    env = {k: v for k, v in os.environ.items() if k not in ("CIFAR_STUDIO_DIST", "CIFAR_STUDIO_WORK")}
    env["CIFAR_STUDIO_PYTHON"] = sys.executable  # build with the interpreter running the tests
    done = subprocess.run(
        ["bash", str(REPO_ROOT / "packaging" / "build.sh")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"packaging/build.sh failed ({done.returncode}):\n{output[-6000:]}"
    assert "Size: " in done.stdout, output[-2000:]
    return REPO_ROOT / "packaging" / "dist" / "CIFARStudio"


@pytest.fixture(scope="module")
def exe(bundle) -> Path:
    return measure.executable(bundle)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return measure.isolated_env(tmp_path / "user", QT_QPA_PLATFORM="offscreen", **extra)


def _run(cmd: list, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
    )


def _require_default_model(bundle: Path) -> None:
    if not (bundle / "_internal" / "resources" / "models" / DEFAULT_MODEL.name).is_file():
        pytest.fail(
            f"the bundle has no default model: {DEFAULT_MODEL.relative_to(REPO_ROOT)} was missing when it was "
            "built; put the trained model there (and resources/samples/expected.json) and rebuild"
        )


# ---------------------------------------------------------------------------- contents
def test_bundle_holds_the_app_resources_and_native_libraries(bundle, exe):
    internal = bundle / "_internal"
    assert os.access(exe, os.X_OK)
    # Resources where engine.paths.resources_dir() looks in a frozen app.
    assert (internal / "resources" / "samples" / SAMPLE_PHOTO.name).is_file()
    assert (internal / "resources" / "icons" / "app-icon.png").is_file()
    assert (internal / "resources" / "icons" / "hicolor" / "256x256" / "apps" / "cifar-studio.png").is_file()
    # torchvision's compiled ops and their libraries (else: "operator torchvision::nms does not exist").
    assert list((internal / "torchvision").glob("_C*.so")), "torchvision's compiled ops are missing"
    venv_libs = Path(importlib.util.find_spec("torchvision").submodule_search_locations[0]).parent / "torchvision.libs"
    if venv_libs.is_dir():
        assert sorted(p.name for p in (internal / "torchvision.libs").iterdir()) == sorted(
            p.name for p in venv_libs.iterdir()
        )
    # Qt's xcb plugin finds the X11 libraries common desktops lack inside the bundle (issue 9,
    # item 10); libxcb and GL itself stay the system's, as PyInstaller intends.
    if sys.platform == "linux":
        absent = [soname for soname in system_deps.BUNDLED if not (internal / soname).is_file()]
        assert not absent, f"not bundled: {absent} ({system_deps.install_hint(absent)} on the build machine)"
        assert not (internal / "libxcb.so.1").exists()
    # Trimmed: triton only serves torch.compile on a GPU; headers are for building extensions.
    assert not (internal / "triton").exists()
    assert not (internal / "torch" / "include").exists()
    # A CUDA build of torch brings its CUDA libraries: CUDA when present, CPU otherwise.
    if importlib.util.find_spec("nvidia") is not None:
        for pattern in (
            "nvidia/*/lib/libcudnn.so*",
            "nvidia/*/lib/libcudnn_cnn.so*",
            "nvidia/*/lib/libcublas.so*",
            "nvidia/*/lib/libcublasLt.so*",
            "nvidia/*/lib/libcudart.so*",
            "nvidia/*/lib/libnvrtc*.so*",
        ):
            assert list(internal.glob(pattern)), f"no {pattern} in the bundle"


# ---------------------------------------------------------------------------- same answers as from source
@pytest.fixture(scope="module")
def torchvision_checkpoint(tmp_path_factory) -> Path:
    """A checkpoint of a torchvision architecture: loading it in the bundle imports torchvision and its ops."""
    from engine.training import train

    out = tmp_path_factory.mktemp("tv_run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIFAR_STUDIO_CACHE", str(out / "cache"))
        mp.setenv("CIFAR_STUDIO_DATA", str(out / "data"))
        result = train(
            tiny_config(model="tv:mobilenet_v3_small", epochs=2, lr=0.01), out / "run", dataset=tiny_dataset()
        )
    assert result.status == "completed", result.message
    return Path(result.best_checkpoint)


@pytest.mark.parametrize("which", ["engine_model", "torchvision_model"])
def test_bundle_classifies_like_the_source(which, exe, tmp_path, request):
    """--self-test --checkpoint/--samples in the bundle agrees with the engine run from source."""
    checkpoint = request.getfixturevalue("tiny_checkpoint" if which == "engine_model" else "torchvision_checkpoint")
    import engine

    samples = tmp_path / "samples"
    images, labels = synthetic_images(per_class=1, size=32, seed=5)
    for image, label in zip(images, labels, strict=True):
        save_image(samples / f"colour-{label}.png", image)
    shutil.copy(SAMPLE_PHOTO, samples)
    files = sorted(p for p in samples.iterdir() if p.suffix in (".png", ".jpg"))
    predictions = engine.Predictor(checkpoint).predict_paths(files)
    (samples / "expected.json").write_text(json.dumps({f.name: p.top for f, p in zip(files, predictions, strict=True)}))

    done = _run([exe, "--self-test", "--checkpoint", checkpoint, "--samples", samples], _env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(files)}/{len(files)} sample images classified as expected" in done.stdout


# ---------------------------------------------------------------------------- the default model
def test_self_test_passes_with_the_default_model(bundle, exe, tmp_path):
    _require_default_model(bundle)
    done = _run([exe, "--self-test"], _env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("self-test passed: default model"), done.stdout + done.stderr


def test_self_test_survives_closed_stdout_and_stderr(bundle, exe, tmp_path):
    """A windowed build has sys.stdout/sys.stderr = None; the summary then goes to the log file."""
    _require_default_model(bundle)
    env = _env(tmp_path)
    done = subprocess.run(
        ["sh", "-c", 'exec "$0" --self-test >&- 2>&-', str(exe)], env=env, timeout=RUN_TIMEOUT_S, check=False
    )
    log = Path(env["CIFAR_STUDIO_LOG"])
    text = log.read_text(encoding="utf-8") if log.exists() else "(no log file)"
    assert done.returncode == 0, text
    assert "self-test passed: default model" in text


def test_photo_on_the_command_line_is_classified_in_screenshot_mode(bundle, exe, tmp_path):
    from PIL import Image, ImageStat

    _require_default_model(bundle)
    png = tmp_path / "predict.png"
    done = _run([exe, "--screenshot", png, "--tab", "predict", SAMPLE_PHOTO], _env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert png.is_file() and png.stat().st_size > 20_000
    with Image.open(png) as image:
        assert image.size[0] >= 800 and image.size[1] >= 500
        assert max(ImageStat.Stat(image.convert("L")).stddev) > 10  # a drawn window, not a blank image


# ---------------------------------------------------------------------------- a real display
@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed (apt-get install xvfb)")
def test_window_opens_under_xvfb_without_the_development_python(exe, tmp_path):
    loaded: list[str] = []

    def inspect(process):
        maps = Path(f"/proc/{process.pid}/maps").read_text()
        loaded.extend({line.split()[-1] for line in maps.splitlines() if line.split()[-1].startswith("/")})

    with measure.virtual_display("xvfb") as display:
        env = measure.isolated_env(tmp_path / "user", **display)
        reported, wall, stderr = measure.time_to_window(exe, env, timeout=RUN_TIMEOUT_S, on_visible=inspect)
    assert reported is not None, f"no window-visible report within {wall:.0f} s; stderr:\n{stderr}"
    assert any("/platforms/libqxcb.so" in path for path in loaded), "not shown through the X11 platform plugin"
    pythons = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    foreign = [p for p in loaded if any(Path(p).resolve().is_relative_to(root) for root in pythons)]
    assert not foreign, f"the bundle loaded files of the development Python: {foreign[:5]}"
