"""Groundwork for the bundled model v2 (issue 19, item 4): what the ImageNet head already knows
about the ten CIFAR-10 classes on real photos, beside the bundled CIFAR-10 model.

Each photo of photos-dev, photos-dev2 (in-class) and ood-dev (out-of-class) gets:
* the bundled model's probabilities (predict's default view and mirror TTA);
* efficientnet_lite0's ImageNet probabilities at 224 px (the whole photo), summed into the ten
  classes through :data:`CIFAR_FROM_IMAGENET` (dog breeds into dog, bird species into bird, ...;
  deer has no ImageNet class: hartebeest, impala and gazelle stand in);
* their product of experts: normalise(p_bundled * (p_imagenet_mapped + EPS)).
Reported: macro accuracy per set for each, and "none of these" by ImageNet mass (the share of
ImageNet probability on the mapped classes below MASS) on in-class right answers and ood-dev.

    python benchmarks/imagenet_fusion.py [--data ../shared/datasets]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
# ImageNet-1k indices per CIFAR-10 class (names checked against torchvision's category list).
CIFAR_FROM_IMAGENET = {
    "airplane": [404, 895, 908],
    "automobile": [436, 468, 511, 609, 627, 656, 661, 751, 817],
    "bird": [*range(7, 25), *range(80, 101), *range(127, 147)],
    "cat": [*range(281, 286)],
    "deer": [351, 352, 353],
    "dog": [*range(151, 269)],
    "frog": [30, 31, 32],
    "horse": [339],
    "ship": [403, 472, 484, 510, 554, 576, 625, 628, 724, 780, 814, 833, 871, 914],
    "truck": [555, 569, 675, 864, 867],
}
EPS = 0.05  # keeps a class the ImageNet head cannot name (deer) reachable in the product
MASS = 0.3


def macro(p: torch.Tensor, labels: np.ndarray) -> float:
    """Mean over the classes present of the share of their photos whose top class is right."""
    hit = p.argmax(1).numpy() == labels
    return float(np.mean([hit[labels == i].mean() for i in range(len(CLASSES)) if (labels == i).any()]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets")
    args = ap.parse_args()
    if not (args.data / "photos-dev").is_dir():
        print(f"{args.data}: no photos-dev folder", file=sys.stderr)
        return 2
    import engine
    from engine.imaging.photo import load_photo
    from engine.models import create_model

    bundled = engine.Predictor(looks_like=False)
    lite = create_model("efficientnet_lite0", num_classes=2).eval()
    mean = torch.tensor(lite.input_normalization[0]).view(1, -1, 1, 1) * 255
    std = torch.tensor(lite.input_normalization[1]).view(1, -1, 1, 1) * 255
    mapping = torch.zeros(1000, len(CLASSES))
    for i, c in enumerate(CLASSES):
        mapping[CIFAR_FROM_IMAGENET[c], i] = 1

    def imagenet(paths):
        out = []
        for p in paths:
            x = torch.from_numpy(np.ascontiguousarray(load_photo(p, (224, 224), 3, "full"))).permute(2, 0, 1)[None]
            with torch.no_grad():
                out.append(lite.imagenet_logits(lite.features((x.float() - mean) / std)).softmax(1)[0])
        return torch.stack(out)

    def photos(folder: Path):
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))

    print("| set | photos | bundled | ImageNet mapped | product | ImageNet mass < 0.3 flags |")
    print("|---|---|---|---|---|---|")
    for name in ("photos-dev", "photos-dev2", "ood-dev"):
        root = args.data / name
        if name == "ood-dev":
            paths, labels = photos(root), None
        else:
            pairs = [(p, i) for i, c in enumerate(CLASSES) for p in photos(root / c)]
            paths, labels = [p for p, _ in pairs], np.array([i for _, i in pairs])
        b = torch.tensor(np.array([list(r.probabilities.values()) for r in bundled.predict_paths(paths)]))
        inet = imagenet(paths)
        mapped = inet @ mapping
        mass = mapped.sum(1)
        product = b * (mapped / mass.clamp_min(1e-6)[:, None] + EPS)
        if labels is None:
            print(f"| {name} | {len(paths)} | | | | {float((mass < MASS).float().mean()):.0%} of out-of-class |")
            continue

        right = product.argmax(1).numpy() == labels
        flagged = float((mass[torch.from_numpy(right)] < MASS).float().mean())
        print(
            f"| {name} | {len(paths)} | {macro(b, labels):.1%} | {macro(mapped, labels):.1%} | "
            f"{macro(product, labels):.1%} | "
            f"{flagged:.0%} of right answers (product) |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
