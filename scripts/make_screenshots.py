"""Render the README's screenshots into docs/screenshots/ (no display needed).

    python scripts/make_screenshots.py [--run runs/bundled-fastnet24] [--data ../shared/datasets/cifar10-train.zip]

* train.png: ``python -m gui --screenshot ... --tab train --run RUN`` (a finished run's curves);
* predict.png: ``python -m gui --screenshot ... --tab predict <the sample photos>``;
* evaluate.png: the real Evaluate tab, driven here: the default model on the held-out
  validation split of DATA with TTA, then the confusion matrix and the mistakes gallery.
* teach.png: the Teach tab, driven here: a project of three classes (cat, dog, bird) from
  ``--photos`` (12 photos each), trained by itself, with photos from ``--photos2`` and one
  from ``--ood`` in the test area.
* runs.png, lr_finder.png, compare.png: two short real runs (tutorial_net, 4 epochs on
  3,000 images of DATA, two learning rates) made here in a temporary runs folder; the Runs
  tab with both overlaid, the LR finder on the same settings, and the bundled model beside
  one run's best.pt on a sample photo with Grad-CAM for "cat".

Each uses private settings (``CIFAR_STUDIO_SETTINGS`` in a temporary folder), so the
screenshots show the app as a new user sees it and nothing of yours is changed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import IMAGE_EXTENSIONS  # noqa: E402 - no torch: the engine loads it lazily

OUT = ROOT / "docs" / "screenshots"
SIZE = (1280, 800)


def _gui(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "gui", *args], cwd=ROOT, env=env, check=True)


def _evaluate_screenshot(path: Path, data: str, timeout_s: float = 900) -> None:
    """Evaluate the default model in the app's own Evaluate tab and grab the window."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow
    from gui.settings import Settings

    app = QApplication.instance() or QApplication([])
    window = MainWindow(Settings())
    window.setFixedSize(*SIZE)
    window.show_tab("evaluate")
    tab = window.evaluate_tab
    result = {"ok": False, "started": False}

    def start(_info) -> None:
        # as a user would: once the tab shows the default model (it follows the Predict tab's)
        if result["started"]:
            return
        result["started"] = True
        tab.data.set_value(data)
        tab.split.setCurrentIndex(tab.split.findData("val"))
        tab.tta.setChecked(True)
        tab.evaluate()

    def grab() -> None:
        result["ok"] = tab.report is not None and window.grab().save(str(path), "PNG")
        app.quit()

    tab.picker.loaded.connect(start)
    tab.evaluation_finished.connect(lambda: QTimer.singleShot(600, grab))
    QTimer.singleShot(int(timeout_s * 1000), app.quit)
    window.show()
    app.exec()
    if not result["ok"]:
        raise SystemExit(f"evaluate screenshot failed: {tab.accuracy.text()}")


def _tiny_runs(root: Path, data: str) -> list[Path]:
    """Two short real runs that differ only in their learning rate (seconds each on a CPU)."""
    import engine

    runs = []
    for lr, size in ((0.05, None), (0.01, 24)):  # the second sees 24x24 inputs: compare.png shows both
        cfg = engine.preset_config("fast").replace(
            data=data,
            model="tutorial_net",
            epochs=4,
            limit=3000,
            batch_size=64,
            lr=lr,
            image_size=size,
            whiten_bias_epochs=0,  # the fast preset's whitening-stem bias: tutorial_net has no such stem
        )
        cfg = cfg.replace(schedule="constant", device="cpu")
        out = root / (f"tutorial_net-lr{lr:g}" + ("" if size is None else f"-{size}px"))
        result = engine.train(cfg, out)
        if result.status != "completed":
            raise SystemExit(f"screenshot run failed: {result.message}")
        runs.append(out)
    return runs


def _wait(app, condition, timeout_s: float = 600) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("screenshot failed: timed out")
        app.processEvents()
        time.sleep(0.02)


def _teach_screenshot(path: Path, photos: Path, photos2: Path, ood: Path, tmp: Path) -> None:
    """The Teach tab as a user leaves it after two minutes: three classes, a model, tries."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from gui.main_window import MainWindow
    from gui.settings import Settings

    os.environ["CIFAR_STUDIO_RUNS"] = str(tmp / "teach-runs")
    classes = ["cat", "dog", "bird"]
    source = tmp / "my-photos"
    for name in classes:  # a folder of class folders, as a user keeps them
        (source / name).mkdir(parents=True)
        for photo in sorted((photos / name).iterdir())[:12]:
            (source / name / photo.name).symlink_to(photo)
    window = MainWindow(Settings())
    window.setFixedSize(*SIZE)
    window.show()
    _wait(app, lambda: window.engine_info is not None)
    window.show_tab("teach")
    tab = window.teach_tab
    tab.new_project(tmp / "pets")
    _wait(app, lambda: tab.project is not None)
    tab.import_folder(str(source))
    _wait(app, lambda: not tab.busy and tab.report is not None)
    tries = [sorted((photos2 / name).iterdir())[0] for name in classes]
    tries.append(next(p for p in sorted(ood.iterdir()) if p.name.startswith("food-")))
    tab.add_test_photos([str(p) for p in tries])
    _wait(app, lambda: not tab.busy and len(tab.test_answers()) == len(tries))
    tab.message.clear()
    _wait(app, lambda: tab._thumb_task is None, 60)
    app.processEvents()
    window.grab().save(str(path), "PNG")
    print(f"screenshot saved to {path}")
    window.close()


def _iterate_screenshots(which: list[str], data: str, tmp: Path) -> None:
    """runs.png (two runs overlaid), lr_finder.png and compare.png from real tiny runs."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    import engine
    from gui.main_window import MainWindow
    from gui.settings import Settings

    os.environ["CIFAR_STUDIO_RUNS"] = str(tmp / "runs")
    runs = _tiny_runs(tmp / "runs", data)
    window = MainWindow(Settings())
    window.setFixedSize(*SIZE)
    window.show()
    _wait(app, lambda: window.engine_info is not None)
    if "runs" in which:
        window.show_tab("runs")
        tab = window.runs_tab
        _wait(app, lambda: tab.proxy.rowCount() == len(runs) and not tab.busy)
        tab.select_paths([str(r) for r in runs])
        _wait(app, lambda: len(tab.overlay.runs) == len(runs))
        app.processEvents()
        window.grab().save(str(OUT / "runs.png"), "PNG")
        print(f"screenshot saved to {OUT / 'runs.png'}")
    if "lr_finder" in which:
        window.show_tab("train")
        train = window.train_tab
        train.form.set_config(engine.TrainConfig.load(runs[0] / "config.json"))
        dialog = train.open_lr_finder()
        dialog.resize(900, 560)
        _wait(app, lambda: dialog.result is not None and not dialog.busy)
        app.processEvents()
        dialog.grab().save(str(OUT / "lr_finder.png"), "PNG")
        print(f"screenshot saved to {OUT / 'lr_finder.png'}")
        dialog.close()
    if "compare" in which and window.engine_info.default_checkpoint:
        window.show_tab("predict")
        photo = ROOT / "resources" / "samples" / "cat-chelsea.jpg"
        dialog = window.predict_tab.open_compare([window.engine_info.default_checkpoint, str(runs[1] / "best.pt")])
        dialog.image.setText(str(photo))
        dialog.resize(1100, 640)
        dialog.compare()
        _wait(app, lambda: not dialog.busy and all(c.item is not None for c in dialog.columns))
        dialog.explain("cat")
        _wait(app, lambda: not dialog.busy)
        app.processEvents()
        dialog.grab().save(str(OUT / "compare.png"), "PNG")
        print(f"screenshot saved to {OUT / 'compare.png'}")
        dialog.close()
    window.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default="runs/bundled-fastnet24", help="a finished training run folder")
    p.add_argument("--data", default="../shared/datasets/cifar10-train.zip", help="data for the Evaluate tab")
    p.add_argument(
        "--only",
        action="append",
        choices=("train", "predict", "evaluate", "runs", "lr_finder", "compare", "teach"),
        help="render only this one (repeatable)",
    )
    shared = ROOT.parent / "shared" / "datasets"
    p.add_argument("--photos", default=str(shared / "photos-dev"), help="class folders for the Teach tab")
    p.add_argument("--photos2", default=str(shared / "photos-dev2"), help="other photos of those classes to try")
    p.add_argument("--ood", default=str(shared / "ood-dev"), help="photos of other things to try")
    args = p.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    size = f"{SIZE[0]}x{SIZE[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CIFAR_STUDIO_SETTINGS=str(Path(tmp) / "settings.ini"))
        if not args.only or "train" in args.only:
            _gui("--screenshot", str(OUT / "train.png"), "--size", size, "--tab", "train", "--run", args.run, env=env)
        if not args.only or "predict" in args.only:
            photos = sorted(
                p for p in (ROOT / "resources" / "samples").iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS
            )
            photos.sort(key=lambda p: p.name != "cat-chelsea.jpg")  # the first one is shown selected
            samples = [str(p) for p in photos]
            _gui("--screenshot", str(OUT / "predict.png"), "--size", size, "--tab", "predict", *samples, env=env)
        if not args.only or "evaluate" in args.only:
            os.environ.update(env)
            _evaluate_screenshot(OUT / "evaluate.png", args.data)
            print(f"screenshot saved to {OUT / 'evaluate.png'}")
        if not args.only or "teach" in args.only:
            os.environ.update(env)
            _teach_screenshot(OUT / "teach.png", Path(args.photos), Path(args.photos2), Path(args.ood), Path(tmp))
        iterate = [n for n in ("runs", "lr_finder", "compare") if not args.only or n in args.only]
        if iterate:
            os.environ.update(env)
            _iterate_screenshots(iterate, str(Path(args.data).resolve()), Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
