"""Shared test setup.

Every test runs with the dataset cache and the data folder redirected to temporary folders
(``CIFAR_STUDIO_CACHE`` / ``CIFAR_STUDIO_DATA``), so no test reads or writes the user's real
folders, and nothing is ever downloaded.
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

# One torch thread unless the caller chose otherwise: the tests are tiny, and one thread keeps
# them deterministic and polite on small machines.
os.environ.setdefault("CIFAR_STUDIO_THREADS", "1")
# GUI tests (pytest-qt) need no display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- isolation
@pytest.fixture(autouse=True)
def _isolated_user_folders(tmp_path_factory, monkeypatch):
    """Point the engine's cache and data folders at fresh temporary folders for every test."""
    root = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("CIFAR_STUDIO_CACHE", str(root / "cache"))
    monkeypatch.setenv("CIFAR_STUDIO_DATA", str(root / "data"))


@pytest.fixture(autouse=True)
def _isolated_gui_files(tmp_path_factory, monkeypatch):
    """The GUI's settings, runs folder and fallback log go to temporary places too (also for
    ``python -m gui`` subprocesses, which inherit the environment)."""
    root = tmp_path_factory.mktemp("gui")
    monkeypatch.setenv("CIFAR_STUDIO_SETTINGS", str(root / "settings.ini"))
    monkeypatch.setenv("CIFAR_STUDIO_RUNS", str(root / "runs"))
    monkeypatch.setenv("CIFAR_STUDIO_LOG", str(root / "cifar-studio.log"))
    yield
    worker = sys.modules.get("gui.background.task")
    if worker is not None:  # a GUI test left background work running: stop it and join its threads
        worker.stop_all()
    collector = sys.modules.get("gui.background.gui_thread_gc")
    if collector is not None:  # the test's cyclic garbage goes now, in this (the GUI) thread
        collector.collect_if_due()


@pytest.fixture(autouse=True)
def _gc_in_the_gui_thread(request):
    """GUI tests collect garbage as the app does: only in the GUI thread (a collection in a
    worker destroying a test's widgets crashed CI). Off for the session once a GUI test ran."""
    if "qtbot" in request.fixturenames or "qapp" in request.fixturenames:
        request.getfixturevalue("qapp")
        from gui.background import gui_thread_gc

        gui_thread_gc.install()
    yield


@pytest.fixture(autouse=True)
def _the_app_opens_again_after_a_window_closed():
    """Closing a main window marks the app as closing (gui.background.task: no task starts
    after it, as the process is about to exit); a test process opens the next window after it."""
    yield
    import sys

    task = sys.modules.get("gui.background.task")
    if task is not None and hasattr(task, "open_again"):
        task.open_again()


# ---------------------------------------------------------------------------- synthetic images
# Each class is a colour, so a tiny network learns it in a few steps.
CLASS_COLOURS = {"red": (210, 40, 40), "green": (40, 210, 40), "blue": (40, 40, 210)}
CLASSES = sorted(CLASS_COLOURS)  # the order an image folder yields: ["blue", "green", "red"]


def synthetic_images(
    classes=CLASSES, per_class: int = 8, size: int = 16, seed: int = 0, gray: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 ``(N, size, size, C)`` images of each class's colour plus noise, and int labels."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, name in enumerate(classes):
        colour = np.array(CLASS_COLOURS.get(name, (60 + 60 * label,) * 3), dtype=np.int16)
        for _ in range(per_class):
            noise = rng.integers(-30, 31, (size, size, 3))
            img = np.clip(colour + noise, 0, 255).astype(np.uint8)
            if gray:
                img = img.mean(2, keepdims=True).astype(np.uint8)
            images.append(img)
            labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.int64)


def save_image(path: Path, array: np.ndarray, fmt: str | None = None) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(array[:, :, 0] if array.shape[-1] == 1 else array)
    img.save(path, format=fmt)
    return path


def write_image_folder(
    root: Path,
    classes=CLASSES,
    per_class: int = 8,
    size: int = 16,
    seed: int = 0,
    gray: bool = False,
    ext: str = ".png",
) -> Path:
    """``root/<class>/<i>.png`` with :func:`synthetic_images`; returns ``root``."""
    images, labels = synthetic_images(classes, per_class, size, seed, gray)
    counters: dict[str, int] = {}
    for img, label in zip(images, labels, strict=True):
        name = classes[label]
        i = counters[name] = counters.get(name, -1) + 1
        save_image(root / name / f"{i:03d}{ext}", img)
    return root


def zip_folder(folder: Path, zip_path: Path, arc_prefix: str = "", dir_entries: bool = True) -> Path:
    """Zip ``folder``'s contents (names relative to it, under ``arc_prefix``)."""
    with zipfile.ZipFile(zip_path, "w") as zf:
        for path in sorted(folder.rglob("*")):
            arc = arc_prefix + path.relative_to(folder).as_posix()
            if path.is_dir():
                if dir_entries:
                    zf.writestr(arc + "/", "")
            else:
                zf.write(path, arc)
    return zip_path


@pytest.fixture
def image_folder(tmp_path):
    """Factory: ``image_folder(layout="flat", **write_image_folder kwargs) -> Path``.

    Layouts: ``flat`` (class folders at the root), ``nested`` (under one top-level folder),
    ``train`` (a lone ``train/`` container), ``train_test`` and ``train_val`` (splits as given).
    """
    count = {"n": 0}

    def make(layout: str = "flat", **kwargs) -> Path:
        count["n"] += 1
        root = tmp_path / f"data{count['n']}"
        if layout == "flat":
            write_image_folder(root, **kwargs)
        elif layout == "nested":
            write_image_folder(root / "my photos", **kwargs)
        elif layout == "train":
            write_image_folder(root / "train", **kwargs)
        elif layout in ("train_test", "train_val"):
            held = "test" if layout == "train_test" else "val"
            write_image_folder(root / "train", **kwargs)
            held_kwargs = {
                **kwargs,
                "per_class": max(2, kwargs.get("per_class", 8) // 2),
                "seed": kwargs.get("seed", 0) + 1,
            }
            write_image_folder(root / held, **held_kwargs)
        else:
            raise ValueError(layout)
        return root

    return make


def tiny_dataset(
    classes=CLASSES, per_class: int = 12, size: int = 16, seed: int = 0, val_per_class: int = 4, gray: bool = False
):
    """An in-memory :class:`engine.data.Dataset` (train + val) of :func:`synthetic_images`."""
    from engine.data.dataset import Dataset, ImageSet

    images, labels = synthetic_images(classes, per_class, size, seed, gray)
    v_images, v_labels = synthetic_images(classes, val_per_class, size, seed + 100, gray)
    return Dataset("synthetic", list(classes), ImageSet(images, labels), ImageSet(v_images, v_labels))


def tiny_config(**changes):
    """A TrainConfig that trains ``tutorial_net`` on CPU in fp32 in about a second per epoch."""
    from engine.config import TrainConfig
    from engine.data.loader import Augment

    base = dict(
        data="synthetic",
        model="tutorial_net",
        epochs=2,
        batch_size=8,
        optimizer="sgd",
        lr=0.05,
        momentum=0.9,
        weight_decay=0.0,
        schedule="constant",
        mixed_precision="off",
        device="cpu",
        channels_last=False,
        augment=Augment(crop_padding=0, flip=False),
        seed=0,
    )
    base.update(changes)
    return TrainConfig(**base).validate()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """Path to a ``best.pt`` of ``tutorial_net`` trained on 16x16 colour classes (blue, green, red).

    Trained once per session (a few seconds); read-only for tests: copy it before changing it.
    """
    from engine.training import train

    out = tmp_path_factory.mktemp("tiny_run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIFAR_STUDIO_CACHE", str(out / "cache"))
        mp.setenv("CIFAR_STUDIO_DATA", str(out / "data"))
        result = train(tiny_config(epochs=2), out / "run", dataset=tiny_dataset())
    assert result.status == "completed", result.message
    return Path(result.best_checkpoint)


# ---------------------------------------------------------------------------- GUI helpers
@pytest.fixture(scope="session")
def tiny_image_folder(tmp_path_factory) -> Path:
    """A folder of class sub-folders (blue, green, red), 12 images of 32x32 each: for GUI runs
    that load data the way a user does. Read-only: copy it before changing it."""
    return write_image_folder(tmp_path_factory.mktemp("tiny_folder") / "colours", per_class=12, size=32)


class _NoTaskState:
    """Stands in for gui.background.task.TaskState when a task function is called directly."""

    def set_progress(self, fraction, text=""):
        pass

    def set_partial_result(self, value):
        pass

    def is_interruption_requested(self):
        return False

    is_set = is_interruption_requested


@pytest.fixture(scope="session")
def engine_info():
    """gui.background.engine_calls.EngineInfo of the loaded engine (what the window gets once torch is in)."""
    from gui.background import engine_calls

    return engine_calls.load_engine(_NoTaskState())


@pytest.fixture
def gui_settings(tmp_path):
    """gui.settings.Settings in a temporary INI file (never the user's settings)."""
    from PySide6.QtCore import QSettings

    from gui.settings import Settings

    return Settings(QSettings(str(tmp_path / "gui-settings.ini"), QSettings.Format.IniFormat))
