"""Calibrate "none of these" for a checkpoint and report how each score does.

    python scripts/calibrate_unknown.py [--checkpoint C] [--data ../shared/datasets/cifar10-train.zip]
        [--method feature] [--rate 0.05] [--photos ../shared/datasets/photos-dev] [--no-write]

Calibration uses in-distribution data only: the checkpoint's held-out validation split. Each
score's threshold flags ``--rate`` of the correctly classified validation images. The report
then shows, per score, how many out-of-class images are flagged (scikit-image's sample
pictures, crops of its textures, LFW faces, noise, flat colours and synthetic patterns, the
non-CIFAR photos in resources/samples/: none of them CIFAR-10 classes) and how many of the
in-class photos in ``--photos`` that the model gets right are flagged. ``--method`` is written
beside the checkpoint (``NAME.ood.json``), where ``predict`` finds it. Run it again after
replacing resources/models/cifar10_fastnet.pt (the JSON is tied to the file's SHA-256).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402
from engine.imaging.photo import photo_view  # noqa: E402
from engine.inference.ood import SCORES, calibrate, compute_scores  # noqa: E402
from engine.inference.ood_calibration import calibrate_unknown, model_outputs  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"
# scikit-image samples that are not CIFAR-10 classes (chelsea/cat and horse are left out).
SKIMAGE_PICTURES = [
    "astronaut", "camera", "coffee", "clock", "coins", "moon", "page", "text", "hubble_deep_field",
    "immunohistochemistry", "retina", "cell", "microaneurysms", "colorwheel", "logo", "rocket",
]  # fmt: skip
SKIMAGE_TEXTURES = ["brick", "grass", "gravel", "moon", "hubble_deep_field", "retina", "immunohistochemistry", "page"]
SAMPLES_NOT_CIFAR = ["astronaut.jpg", "coffee-cup.jpg", "rocket-launch.jpg"]


def _rgb(a: np.ndarray) -> Image.Image:
    a = np.asarray(a)
    if a.dtype != np.uint8:
        a = (np.clip(a.astype(float) / max(float(a.max()), 1e-9), 0, 1) * 255).astype(np.uint8)
    return Image.fromarray(a).convert("RGB")


def out_of_class_images(seed: int = 0) -> dict[str, list[Image.Image]]:
    """Images of nothing in CIFAR-10, by group."""
    import skimage.data as skd
    from skimage.io import imread

    rng = np.random.default_rng(seed)
    groups: dict[str, list[Image.Image]] = {"pictures": [], "textures": [], "faces": [], "synthetic": []}
    for name in SKIMAGE_PICTURES:
        groups["pictures"].append(_rgb(getattr(skd, name)()))
    data_dir = Path(skd.__file__).parent
    for name in ("motorcycle_left.png", "motorcycle_right.png"):  # not a CIFAR class (no motorbikes)
        groups["pictures"].append(_rgb(imread(data_dir / name)))
    for name in SAMPLES_NOT_CIFAR:
        groups["pictures"].append(Image.open(engine.resources_dir() / "samples" / name).convert("RGB"))
    for name in SKIMAGE_TEXTURES:
        img = _rgb(getattr(skd, name)())
        for _ in range(6):
            side = int(rng.integers(min(img.size) // 5, min(img.size) // 2))
            x, y = rng.integers(0, img.width - side), rng.integers(0, img.height - side)
            groups["textures"].append(img.crop((x, y, x + side, y + side)))
    faces = skd.lfw_subset()
    groups["faces"] = [_rgb(f).resize((64, 64), Image.Resampling.BICUBIC) for f in faces[::4]]
    syn = groups["synthetic"]
    for _ in range(10):
        syn.append(_rgb(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)))  # uniform noise
        syn.append(_rgb(np.clip(rng.normal(128, 40, (96, 96, 3)), 0, 255).astype(np.uint8)))  # gaussian noise
        syn.append(Image.new("RGB", (64, 64), tuple(int(v) for v in rng.integers(0, 256, 3))))  # flat colour
        c0, c1 = rng.integers(0, 256, (2, 3))
        t = np.linspace(0, 1, 96)[None, :, None]
        syn.append(_rgb((c0 * (1 - t) + c1 * t).repeat(96, 0).astype(np.uint8)))  # gradient
        period = int(rng.integers(4, 24))
        stripes = ((np.arange(96) // period) % 2).astype(np.uint8)[None, :].repeat(96, 0) * 255
        syn.append(_rgb(stripes if rng.random() < 0.5 else stripes.T))  # stripes
        check = (((np.arange(96)[:, None] // period) + (np.arange(96)[None, :] // period)) % 2 * 255).astype(np.uint8)
        syn.append(_rgb(check))  # checkerboard
    return groups


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=str(engine.resources_dir() / "models" / "cifar10_fastnet.pt"))
    ap.add_argument("--data", default=str(SHARED / "cifar10-train.zip"))
    ap.add_argument("--method", default="feature_norm_mirror", choices=SCORES)
    ap.add_argument("--rate", type=float, default=0.10, help="share of correct validation images flagged")
    ap.add_argument("--photos", default=str(SHARED / "photos-dev"))
    ap.add_argument("--no-write", action="store_true", help="report only; keep the stored calibration")
    args = ap.parse_args()

    detector, val = calibrate_unknown(args.checkpoint, args.data, args.method, args.rate, write=not args.no_write)
    predictor = engine.Predictor(args.checkpoint)
    size, ch, ck = predictor.input_size, predictor.checkpoint.channels, predictor.checkpoint
    means = val["class_means"]

    def scores_of(arrays: np.ndarray):
        out = model_outputs(predictor.model, arrays, ck.mean, ck.std)
        return compute_scores(out.logits, out.features, means, out.mirror_features), out.logits.argmax(1).numpy()

    groups = out_of_class_images()
    ood = {g: scores_of(np.stack([photo_view(im, size, ch) for im in ims]))[0] for g, ims in groups.items()}
    files, labels = [], []
    for c in sorted(p for p in Path(args.photos).iterdir() if p.is_dir()):
        for f in engine.expand_inputs([c]):
            files.append(f)
            labels.append(predictor.classes.index(c.name))
    photo_arrays = np.stack([predictor.prepare(f) for f in files])
    photo_scores, _ = scores_of(photo_arrays)
    # "right" as predict answers by default (the view averaged with its mirror image)
    pred = predictor.predict_arrays(photo_arrays, engine.DEFAULT_PHOTO_TTA).argmax(1)
    right = pred == np.array(labels)

    n_ood = sum(len(v) for v in groups.values())
    print(f"threshold at {args.rate:.0%} of correct validation images flagged; {n_ood} out-of-class images")
    print(f"photos: {len(files)} in-class photos, {right.sum()} classified right\n")
    header = "".join(f"{g + f' ({len(groups[g])})':>18}" for g in groups)
    print(f"{'score':<20}{'threshold':>11}{'val wrong':>11}{header}{'all out-of-class':>18}{'photos right':>14}")
    for m in SCORES:
        if m not in val["scores"]:
            continue
        t = calibrate(val["scores"], val["correct"], m, args.rate)
        wrong = (val["scores"][m][~val["correct"]] > t).mean()
        per = "".join(f"{(ood[g][m] > t).mean():>18.1%}" for g in groups)
        all_ood = np.concatenate([ood[g][m] for g in groups]) > t
        chosen = "  <- stored" if m == args.method and not args.no_write else ""
        photos_flagged = (photo_scores[m][right] > t).mean()
        print(f"{m:<20}{t:>11.4f}{wrong:>11.1%}{per}{all_ood.mean():>18.1%}{photos_flagged:>14.1%}{chosen}")
    print(f"\n{detector.method} threshold {detector.threshold:.4f}" + ("" if args.no_write else " written"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
