"""The bundled models on real photos: the photo model (photo-fusion, the default) against the
CIFAR-only net it is built on, through ``engine.Predictor`` exactly as ``predict`` runs them.

For photos-dev and photos-dev2 (in-class, one folder per class) it prints macro accuracy, the
per-class accuracy and the share of right answers flagged "none of these"; for ood-dev
(out-of-class photos) the share flagged. ``--mass`` adds, for the photo model, the flag rates at
other thresholds of the ImageNet mass (how ``scripts/bundle_fusion.py``'s MIN_MASS was chosen).

    python benchmarks/imagenet_fusion.py [--data ../shared/datasets] [--mass]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402
from engine.imaging.decode import IMAGE_EXTENSIONS  # noqa: E402

SETS = ("photos-dev", "photos-dev2", "ood-dev")


def photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)


def labelled(root: Path, classes: list[str]) -> tuple[list[Path], np.ndarray]:
    pairs = [(p, i) for i, c in enumerate(classes) for p in photos(root / c)]
    return [p for p, _ in pairs], np.array([i for _, i in pairs])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets")
    ap.add_argument("--mass", action="store_true", help="flag rates of the photo model at other thresholds")
    args = ap.parse_args()
    if not (args.data / "photos-dev").is_dir():
        print(f"{args.data}: no photos-dev folder", file=sys.stderr)
        return 2
    models = {p.name: p for p in engine.bundled_checkpoint_paths()}
    print("| model | set | photos | macro accuracy | per class | flagged | s/photo |")
    print("|---|---|---|---|---|---|---|")
    for name, path in models.items():
        predictor = engine.Predictor(path, looks_like=False)
        classes = predictor.classes
        for set_name in SETS:
            root = args.data / set_name
            if not root.is_dir():
                continue
            if set_name == "ood-dev":
                paths, labels = photos(root), None
            else:
                paths, labels = labelled(root, classes)
            start = time.perf_counter()
            results = predictor.predict_paths(paths)
            per_photo = (time.perf_counter() - start) / len(paths)
            ok = [r for r in results if not r.error]
            flagged = np.array([bool(r.unknown) for r in ok])
            if labels is None:
                share = f"{flagged.mean():.0%} of out-of-class"
                print(f"| {name} | {set_name} | {len(ok)} | | | {share} | {per_photo:.3f} |")
                continue
            top = np.array([classes.index(r.top) for r in results])
            hit = top == labels
            per_class = [hit[labels == i].mean() for i in range(len(classes)) if (labels == i).any()]
            detail = " ".join(f"{c[:4]} {a:.0%}" for c, a in zip(classes, per_class))
            print(
                f"| {name} | {set_name} | {len(paths)} | {np.mean(per_class):.1%} | {detail} | "
                f"{flagged[hit].mean():.0%} of right answers | {per_photo:.3f} |"
            )
            if args.mass and predictor.detector.method == "imagenet_mass":
                scores = np.array([r.unknown_score for r in results])
                rates = ", ".join(f"<{t:.2f}: {(scores[hit] > 1 - t).mean():.0%}" for t in (0.1, 0.15, 0.2, 0.3))
                print(f"|  | mass thresholds, right answers flagged | | | {rates} | | |")
        if args.mass and predictor.detector.method == "imagenet_mass" and (args.data / "ood-dev").is_dir():
            scores = np.array([r.unknown_score for r in predictor.predict_paths(photos(args.data / "ood-dev"))])
            rates = ", ".join(f"<{t:.2f}: {(scores > 1 - t).mean():.0%}" for t in (0.1, 0.15, 0.2, 0.3))
            print(f"|  | mass thresholds, out-of-class flagged | | | {rates} | | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
