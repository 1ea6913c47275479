"""Teach: how fast photos become a model, and how accurate it is on held-out photos.

Two scenarios on the real photos in ``../shared/datasets`` (never shipped), each in a fresh
feature cache so the first extraction is measured:

* ``5x20``: five classes (cat, ship, bird, deer, truck), 20 photos each from photos-dev, added one
  at a time as a user drops them; after each photo its features are extracted (the Teach tab's
  background work). Then the model trains (the "photos" preset, as the window and
  ``train --preset photos`` run it). Accuracy on every other photo of those classes in
  photos-dev and photos-dev2.
* ``10x10``: the ten photos-dev classes, 10 photos each to train; accuracy on the rest of
  photos-dev (and photos-dev2 reported apart).

    python benchmarks/teach.py [--data ../shared/datasets] [--scenario 5x20|10x10] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))


def run(scenario: str, data: Path, work: Path) -> dict:
    import engine

    classes = (
        ["cat", "ship", "bird", "deer", "truck"]
        if scenario == "5x20"
        else sorted(p.name for p in (data / "photos-dev").iterdir() if p.is_dir())
    )
    per_class = 20 if scenario == "5x20" else 10
    project = engine.TeachProject.create(work / "project")
    held_out: list[tuple[Path, str]] = []
    per_photo = []
    for c in classes:
        project.add_class(c)
    t_start = time.perf_counter()
    for c in classes:
        all_c = photos(data / "photos-dev" / c)
        for path in all_c[:per_class]:
            t = time.perf_counter()
            project.add_photos(c, [path])
            engine.project_features(project)
            per_photo.append(time.perf_counter() - t)
        held_out += [(p, c) for p in all_c[per_class:]]
        if (data / "photos-dev2" / c).is_dir():
            held_out += [(p, c + "@dev2") for p in photos(data / "photos-dev2" / c)]
    t_last = time.perf_counter()
    # val_fraction 0: every photo trains; accuracy is measured on the held-out photos below.
    cfg = engine.teach_config(project, val_fraction=0.0)
    result = engine.train(cfg, work / "run")
    t_model = time.perf_counter()
    predictor = engine.Predictor(work / "run" / "best.pt")
    preds = predictor.predict_paths([p for p, _ in held_out])
    right = {"photos-dev": [], "photos-dev2": []}
    for pred, (_path, label) in zip(preds, held_out):
        c, _, dev2 = label.partition("@")
        right["photos-dev2" if dev2 else "photos-dev"].append(pred.top == c)
    out = {
        "scenario": scenario,
        "classes": classes,
        "photos_per_class": per_class,
        "status": result.status,
        "add_and_extract_s_per_photo_median": round(statistics.median(per_photo), 3),
        "add_and_extract_s_per_photo_max": round(max(per_photo), 3),
        "all_photos_added_s": round(t_last - t_start, 1),
        "last_photo_to_trained_model_s": round(t_model - t_last, 2),
    }
    for k, v in right.items():
        if v:
            out[f"held_out_{k}"] = {"photos": len(v), "accuracy": round(sum(v) / len(v), 4)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets")
    ap.add_argument("--scenario", choices=("5x20", "10x10"), action="append")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    if not (args.data / "photos-dev").is_dir():
        print(f"{args.data}: no photos-dev folder", file=sys.stderr)
        return 2
    results = []
    for scenario in args.scenario or ["5x20", "10x10"]:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["CIFAR_STUDIO_CACHE"] = str(Path(tmp) / "cache")  # a cold feature cache
            results.append(run(scenario, args.data, Path(tmp)))
        print(json.dumps(results[-1], indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
