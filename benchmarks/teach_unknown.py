"""How well a Teach model's "none of these" flag separates real out-of-class photos.

For three small projects of 12 photos per class from photos-dev (cat/dog/bird, cat/ship/airplane,
deer/horse/truck/frog/automobile), the frozen backbone's features score each photo against the
training photos, two ways: the nearest class mean and the nearest training photo (the method
Teach models use, engine.training.head_mode). Each threshold flags 2% of the training photos
scored leave-one-out, as the end of training calibrates it. Reported: the share of right
answers (the rest of photos-dev and photos-dev2, classified by nearest class mean) flagged, and
the share of out-of-class photos (ood-dev and eight photos of each other CIFAR class) flagged.

    python benchmarks/teach_unknown.py [--data ../shared/datasets]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = (["cat", "dog", "bird"], ["cat", "ship", "airplane"], ["deer", "horse", "truck", "frog", "automobile"])
ALL = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
PER_CLASS, RATE = 12, 0.02


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets")
    args = ap.parse_args()
    if not (args.data / "ood-dev").is_dir():
        print(f"{args.data}: no ood-dev folder", file=sys.stderr)
        return 2
    from engine.data.folder import decode_for_training
    from engine.models import create_model
    from engine.training.features import FeatureCache, extract_features

    model = create_model("efficientnet_lite0", num_classes=2).eval()
    cache = FeatureCache()

    def features(paths):
        arrays = np.stack([decode_for_training(p, 224) for p in paths])
        return torch.nn.functional.normalize(
            extract_features(model, arrays, *model.input_normalization, cache=cache)[0]
        )

    def photos(folder: Path):
        return (
            sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            if folder.is_dir()
            else []
        )

    print(
        "| classes | right answers | out-of-class photos | class mean: right / out flagged "
        "| nearest photo: right / out flagged |"
    )
    print("|---|---|---|---|---|")
    for classes in PROJECTS:
        train, labels, test, test_labels = [], [], [], []
        for i, c in enumerate(classes):
            dev = photos(args.data / "photos-dev" / c)
            train += dev[:PER_CLASS]
            labels += [i] * len(dev[:PER_CLASS])
            rest = dev[PER_CLASS:] + photos(args.data / "photos-dev2" / c)
            test += rest
            test_labels += [i] * len(rest)
        others = [p for c in ALL if c not in classes for p in photos(args.data / "photos-dev" / c)[:8]]
        f, t, o = features(train), features(test), features(photos(args.data / "ood-dev") + others)
        labels, test_labels = torch.tensor(labels), torch.tensor(test_labels)
        means = torch.nn.functional.normalize(torch.stack([f[labels == i].mean(0) for i in range(len(classes))]))
        right = (t @ means.T).argmax(1) == test_labels
        rows = []
        # Nearest class mean, each training photo against its class's mean without it.
        loo = []
        for i in range(len(f)):
            m = means.clone()
            own = labels == labels[i]
            own[i] = False
            m[labels[i]] = torch.nn.functional.normalize(f[own].mean(0, keepdim=True))[0]
            loo.append(1 - (f[i] @ m.T).max())
        threshold = torch.quantile(torch.stack(loo), 1 - RATE)
        rows.append(((1 - (t @ means.T).amax(1))[right] > threshold, (1 - (o @ means.T).amax(1)) > threshold))
        # Nearest training photo, each training photo against the others.
        sims = f @ f.T
        sims.fill_diagonal_(-1)
        threshold = torch.quantile(1 - sims.amax(1), 1 - RATE)
        rows.append(((1 - (t @ f.T).amax(1))[right] > threshold, (1 - (o @ f.T).amax(1)) > threshold))
        cells = [f"{a.float().mean():.0%} / {b.float().mean():.0%}" for a, b in rows]
        print(f"| {', '.join(classes)} | {int(right.sum())} of {len(right)} | {len(o)} | {cells[0]} | {cells[1]} |")
    cache.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
