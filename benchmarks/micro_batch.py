"""How the micro-batch size changes training speed per image, at one batch size, in one run.

    python benchmarks/micro_batch.py [--model fastnet] [--batch 2000] [--micro 0 1000 500 250]
        [--steps 3] [--threads N] [--precision auto]

Each setting trains the same model for ``--steps`` optimizer steps (after one warm-up step) on
random 32x32 images through the trainer's own step arithmetic: the batch is split into chunks of
at most ``micro`` images (0 = the whole batch), each chunk's loss weighted by its share, one
optimizer step (the fast preset's optimizer). It prints images per second and the ratio
against the first setting (by default the whole batch) measured in the same run. The automatic
micro-batch size on CPUs (``engine.config.CPU_MICRO_BATCH``) was chosen with it: the activations
of a 2,000-image batch do not fit a CPU's caches, and smaller chunks run faster per image; on a
GPU the whole batch is usually fastest. A micro-batch can also change accuracy (batch norm
normalises each chunk): measure that with ``benchmarks/vs_airbench.py --set micro_batch=N``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.device import autocast_context, autocast_dtype  # noqa: E402
from engine.models import create_model  # noqa: E402
from engine.presets import preset_config  # noqa: E402
from engine.training.optim import build_optimizer  # noqa: E402


def images_per_second(model_name: str, batch: int, micro: int, steps: int, precision: str) -> float:
    torch.manual_seed(0)
    cfg = preset_config("fast").replace(model=model_name, batch_size=batch, micro_batch=0)
    device = torch.device("cpu")
    model = create_model(model_name, num_classes=10, in_channels=3).to(memory_format=torch.channels_last)
    opt = build_optimizer(model, cfg)
    amp = autocast_dtype(device, precision)
    x = torch.randn(batch, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    chunk = micro or batch

    def step():
        opt.zero_grad(set_to_none=True)
        for xc, yc in zip(x.split(chunk), y.split(chunk)):
            with autocast_context(device, amp):
                loss = F.cross_entropy(model(xc).float(), yc, label_smoothing=0.2) * (len(yc) / batch)
            loss.backward()
        opt.step()

    step()  # warm-up: allocator and oneDNN primitive caches
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="fastnet")
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--micro", type=int, nargs="+", default=[0, 1000, 500, 250])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--precision", default="auto", choices=("auto", "off", "bf16"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"{args.model}, batch {args.batch}, {torch.get_num_threads()} threads, precision {args.precision}")
    base = None
    for micro in args.micro:
        rate = images_per_second(args.model, args.batch, micro, args.steps, args.precision)
        base = base or rate
        label = "whole batch" if micro == 0 else f"micro-batch {micro}"
        print(f"{label:<18}{rate:8.0f} images/s   x{rate / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
