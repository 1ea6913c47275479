"""Which photo mode classifies real photos best: measure every view and filter, print a table.

    python benchmarks/photo_mode.py [--photos ../shared/datasets/photos-dev]
        [--data ../shared/datasets/cifar10-train.zip] [--checkpoint C]

For each way of turning a photo into the model input (which part of the frame: centre crop,
whole frame squashed, whole frame letterboxed; which downscale filter; several views averaged)
it prints the macro accuracy (mean of per-class recall) on the photo folder (one sub-folder per
class) and the accuracy on the checkpoint's held-out validation split run through the same
view. Validation images are already 32x32, so single views leave them unchanged; the column
shows that no choice costs accuracy there. The last row is what ``predict`` does by default:
the default view from the reduced decode (JPEG draft or embedded thumbnail) instead of every pixel,
with the default test-time augmentation (logits of the view and its mirror image averaged).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.data.sources import DataSpec, load_dataset  # noqa: E402
from engine.imaging.photo import DEFAULT_PHOTO_TTA, VIEWS, open_photo, photo_view  # noqa: E402
from engine.inference.predict import Predictor, expand_inputs  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"

# (name, [(view, resample, flip)]) — probabilities are averaged over a mode's views.
SINGLE = [(f"{v}/{r}", [(v, r, False)]) for v in VIEWS for r in ("box", "bicubic")]
COMBOS = [
    ("crop+full/box", [("crop", "box", False), ("full", "box", False)]),
    ("crop/box + flip", [("crop", "box", False), ("crop", "box", True)]),
    ("crop+full/box + flips", [(v, "box", f) for v in ("crop", "full") for f in (False, True)]),
    ("full/box + flip", [("full", "box", False), ("full", "box", True)]),
    ("full/bicubic + flip", [("full", "bicubic", False), ("full", "bicubic", True)]),
]


def macro_accuracy(pred: np.ndarray, labels: np.ndarray, n: int) -> float:
    return float(np.mean([(pred[labels == c] == c).mean() for c in range(n) if (labels == c).any()]))


def photo_set(folder: Path, classes: list[str]):
    files, labels = [], []
    for c in sorted(p for p in folder.iterdir() if p.is_dir()):
        for f in expand_inputs([c]):
            files.append(f)
            labels.append(classes.index(c.name))
    return files, np.array(labels)


def view_probs(predictor: Predictor, images: list[Image.Image], view, resample, flip) -> np.ndarray:
    size, ch = predictor.input_size, predictor.checkpoint.channels
    arrays = np.stack([photo_view(im, size, ch, view, resample) for im in images])
    if flip:
        arrays = arrays[:, :, ::-1]
    return predictor.predict_arrays(arrays)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", default=str(SHARED / "photos-dev"))
    ap.add_argument("--data", default=str(SHARED / "cifar10-train.zip"))
    ap.add_argument("--checkpoint", default=None, help="default: the bundled model")
    args = ap.parse_args()

    predictor = Predictor(args.checkpoint)
    n = len(predictor.classes)
    files, labels = photo_set(Path(args.photos), predictor.classes)
    t0 = time.perf_counter()
    # Full decode here: the comparison is about the view and the filter, not the decoder.
    photos = [open_photo(f) for f in files]
    cfg = predictor.checkpoint.config or {}
    ds = load_dataset(
        DataSpec(args.data, val_fraction=float(cfg.get("val_fraction", 0.1)), seed=int(cfg.get("seed", 0)))
    )
    val = [Image.fromarray(a) for a in ds.val.images]
    val_labels = np.array([predictor.classes.index(ds.classes[y]) for y in ds.val.labels])
    print(f"{len(files)} photos, {len(val)} validation images, loaded in {time.perf_counter() - t0:.0f} s\n")

    cache: dict = {}

    def probs(images, key, spec):
        if (key, spec) not in cache:
            cache[key, spec] = view_probs(predictor, images, *spec)
        return cache[key, spec]

    print(f"{'photo mode':<30}{'photos macro acc':>18}{'photos acc':>12}{'val acc':>10}")
    for name, specs in SINGLE + COMBOS:
        p = np.mean([probs(photos, "photos", s) for s in specs], 0).argmax(1)
        v = np.mean([probs(val, "val", s) for s in specs], 0).argmax(1)
        macro, acc, val_acc = macro_accuracy(p, labels, n), (p == labels).mean(), (v == val_labels).mean()
        print(f"{name:<30}{macro:>18.1%}{acc:>12.1%}{val_acc:>10.2%}")
    # What `predict` does by default: the default view from the reduced (draft/thumbnail) decode,
    # averaged with its mirror image at the default TTA level.
    tta = DEFAULT_PHOTO_TTA
    p = predictor.predict_arrays(np.stack([predictor.prepare(f) for f in files]), tta).argmax(1)
    v = predictor.predict_arrays(np.stack([photo_view(im, predictor.input_size, 3) for im in val]), tta).argmax(1)
    name = f"predict default ({predictor.view}, tta {tta})"
    macro, acc, val_acc = macro_accuracy(p, labels, n), (p == labels).mean(), (v == val_labels).mean()
    print(f"{name:<30}{macro:>18.1%}{acc:>12.1%}{val_acc:>10.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
