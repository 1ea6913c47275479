"""Record what the bundled model answers for resources/samples/ (used by ``--self-test``).

    python scripts/make_sample_expectations.py

Run after replacing the default model (resources/models/cifar10_fusion.pt). The photos of CIFAR-10 classes must
come out right (a model that calls the cat anything else is not shipped); for the others the
model's own answer is recorded, but only where its top class leads the next by a clear margin,
so that the check does not flip on the small numeric differences between CPU and GPU builds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402

MUST_BE = {"cat-chelsea.jpg": "cat", "horse-silhouette.png": "horse"}  # what a person sees in them
MARGIN = 0.10


def main() -> int:
    samples = engine.resources_dir() / "samples"
    files = sorted(p for p in samples.iterdir() if p.suffix.lower() in engine.IMAGE_EXTENSIONS)
    expected = {}
    for p in engine.Predictor().predict_paths(files):
        name = Path(p.path).name
        (top, first), (_, second) = p.ranked[:2]
        if name in MUST_BE and top != MUST_BE[name]:
            print(f"refusing: {name} classified as {top} ({first:.0%}), expected {MUST_BE[name]}")
            return 1
        if name in MUST_BE or first - second >= MARGIN:
            expected[name] = top
            print(f"{name}: {top} ({first:.1%}, next {second:.1%})")
        else:
            print(f"{name}: left out, {top} leads by only {first - second:.1%}")
    (samples / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
