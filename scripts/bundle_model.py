"""Make a training run's best checkpoint the bundled model (resources/models/cifar10_fastnet.pt).

    python scripts/bundle_model.py RUN_DIR_OR_CHECKPOINT [--out PATH] [--data ../shared/datasets/cifar10-train.zip]

Writes the weights as fp16 without training state (``engine.checkpoints.format.half_precision``: a
4.6 M-parameter net is 18 MB in fp32, 9 MB here) and refuses to write unless the copy agrees
with the original on the held-out validation images: class probabilities within 0.01 and
accuracy not lower by more than 0.1 point, both measured in fp32 (the top class may differ
only where two classes tie). Afterwards run, in this order: ``scripts/bundle_fusion.py`` (the
default photo model is built on this net),
``scripts/calibrate_unknown.py`` (the unknown-detector JSON is tied to the file's hash),
``scripts/make_sample_expectations.py``, ``benchmarks/photo_mode.py`` and the model card's
``evaluate`` command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402
from engine.checkpoints.format import half_precision, load_checkpoint, save_checkpoint  # noqa: E402
from engine.data.loader import DeviceBatches  # noqa: E402
from engine.data.sources import load_dataset  # noqa: E402
from engine.evaluation.metrics import evaluate_arrays  # noqa: E402
from engine.evaluation.run import training_data_spec  # noqa: E402

LIMIT_BYTES = 10 * 1000 * 1000  # issue 10: the bundled model is at most 10 MB
TOLERANCE = 0.01


def _probabilities(ckpt, ds) -> torch.Tensor:
    """Class probabilities of the validation images in fp32, by the engine's own evaluator."""
    batches = DeviceBatches(ds.val.images, ds.val.labels, 500, torch.device("cpu"), ckpt.mean, ckpt.std)
    return torch.from_numpy(evaluate_arrays(ckpt.build_model("cpu"), batches, ds.num_classes).probabilities)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", type=Path, help="a training run folder (its best.pt) or a checkpoint")
    p.add_argument("--out", type=Path, default=engine.resources_dir() / "models" / "cifar10_fastnet.pt")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "cifar10-train.zip"))
    args = p.parse_args(argv)
    src = args.source / "best.pt" if args.source.is_dir() else args.source
    original = load_checkpoint(src)
    small = half_precision(original)

    ds = load_dataset(training_data_spec(original, args.data), for_training=False)
    a, b = _probabilities(original, ds), _probabilities(small, ds)
    gap = float((a - b).abs().max())
    labels = torch.from_numpy(ds.val.labels).long()
    acc_a, acc_b = (float((p.argmax(1) == labels).float().mean()) for p in (a, b))
    same = float((a.argmax(1) == b.argmax(1)).float().mean())
    print(
        f"{len(labels)} validation images: accuracy {acc_a:.2%} (fp32 file) vs {acc_b:.2%} (fp16 copy), "
        f"top class agrees on {same:.2%}, largest probability difference {gap:.4f}"
    )
    if gap > TOLERANCE or acc_b < acc_a - 0.001:
        print("refused: the fp16 copy does not agree with the original", file=sys.stderr)
        return 1
    save_checkpoint(small, args.out)
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1e6:.1f} MB, from {src})")
    if size > LIMIT_BYTES:
        print(f"warning: larger than {LIMIT_BYTES / 1e6:.0f} MB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
