"""Render the README's screenshots into docs/screenshots/ (no display needed).

    python scripts/make_screenshots.py [--run runs/bundled-fastnet24] [--data ../shared/datasets/cifar10-train.zip]

* train.png: ``python -m gui --screenshot ... --tab train --run RUN`` (a finished run's curves);
* predict.png: ``python -m gui --screenshot ... --tab predict <the sample photos>``;
* evaluate.png: the real Evaluate tab, driven here: the default model on the held-out
  validation split of DATA with TTA, then the confusion matrix and the mistakes gallery.

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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default="runs/bundled-fastnet24", help="a finished training run folder")
    p.add_argument("--data", default="../shared/datasets/cifar10-train.zip", help="data for the Evaluate tab")
    p.add_argument("--only", choices=("train", "predict", "evaluate"))
    args = p.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    size = f"{SIZE[0]}x{SIZE[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CIFAR_STUDIO_SETTINGS=str(Path(tmp) / "settings.ini"))
        if args.only in (None, "train"):
            _gui("--screenshot", str(OUT / "train.png"), "--size", size, "--tab", "train", "--run", args.run, env=env)
        if args.only in (None, "predict"):
            photos = sorted(
                p for p in (ROOT / "resources" / "samples").iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS
            )
            photos.sort(key=lambda p: p.name != "cat-chelsea.jpg")  # the first one is shown selected
            samples = [str(p) for p in photos]
            _gui("--screenshot", str(OUT / "predict.png"), "--size", size, "--tab", "predict", *samples, env=env)
        if args.only in (None, "evaluate"):
            os.environ.update(env)
            _evaluate_screenshot(OUT / "evaluate.png", args.data)
            print(f"screenshot saved to {OUT / 'evaluate.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
