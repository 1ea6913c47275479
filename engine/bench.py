"""``python -m engine bench``: how fast is this machine, measured as ratios in one run.

1. Training throughput: the fast pipeline (data on the device, batched augmentation,
   channels_last, mixed precision where the device has it) against the classic pipeline
   (DataLoader over PIL images, per-image transforms, fp32) on the same model, device and
   batch size, interleaved round by round so both see the same machine state.
2. Accuracy at equal training time: the fast recipe against the classic recipe of the source
   tutorials (ResNet-32, SGD 0.1, step decay), same held-out split, same wall-clock budget.
   Both schedules run on the clock (progress = elapsed / budget), so each anneals fully.
3. Prediction with the default model: one photo end to end (decode, preprocess, forward),
   the forward pass alone, and throughput over a folder of photos.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["add_bench_arguments", "bench_accuracy", "bench_predict", "bench_throughput", "run_bench"]


def add_bench_arguments(p) -> None:
    p.add_argument(
        "--data",
        default=None,
        help="dataset for the training benchmarks (default: the shared CIFAR-10 archive when found, else cifar10)",
    )
    p.add_argument("--model", default="fastnet", help="model for the throughput comparison")
    p.add_argument("--batch-size", type=int, default=256, help="batch size for the throughput comparison")
    p.add_argument("--device", default="auto")
    p.add_argument("--rounds", type=int, default=3, help="interleaved measurement rounds")
    p.add_argument("--steps", type=int, default=6, help="training steps per pipeline per round")
    p.add_argument(
        "--budget",
        type=float,
        default=300.0,
        help="seconds of training per recipe in the accuracy comparison (0 skips it)",
    )
    p.add_argument(
        "--classic-workers",
        type=int,
        default=2,
        help="DataLoader workers of the classic pipeline (the tutorials use 2)",
    )
    p.add_argument("--limit", type=int, default=None, help="use at most N training images")
    p.add_argument("--checkpoint", default=None, help="model for the prediction benchmark (default: bundled)")
    p.add_argument("--skip", action="append", default=[], choices=("throughput", "accuracy", "predict"))
    p.add_argument("--json", action="store_true")


def _say(msg: str) -> None:
    if sys.stderr is not None:
        sys.stderr.write(msg + "\n")
        sys.stderr.flush()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def _default_data() -> str:
    here = Path(__file__).resolve().parent.parent
    for candidate in (
        here.parent / "shared" / "datasets" / "cifar10-train.zip",
        here / "shared" / "datasets" / "cifar10-train.zip",
    ):
        if candidate.exists():
            return str(candidate)
    return "cifar10"


# ----------------------------------------------------------------------------- 1. throughput
def _step_fn(model, optimizer, device, amp_dtype, label_smoothing=0.0):
    from .device import autocast_context

    def step(x, y):
        with autocast_context(device, amp_dtype):
            loss = F.cross_entropy(model(x).float(), y, label_smoothing=label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    return step


def _cycle(loader):
    """A DataLoader's batches without end (each pass reshuffles)."""
    if len(loader) == 0:
        raise ValueError("the data loader yields no batches")
    while True:
        yield from loader


def bench_throughput(
    ds, model_name: str, batch_size: int, device: torch.device, rounds: int, steps: int, classic_workers: int
) -> dict:
    from .classic_pipeline import classic_loader
    from .data.loader import Augment, DeviceBatches, channel_stats
    from .device import autocast_dtype
    from .models import create_model

    mean, std = channel_stats(ds.train.images)
    c = ds.channels
    torch.manual_seed(0)
    fast_model = create_model(model_name, ds.num_classes, c).to(device, memory_format=torch.channels_last)
    torch.manual_seed(0)
    classic_model = create_model(model_name, ds.num_classes, c).to(device)
    fast_amp = autocast_dtype(device, "auto")
    fast_step = _step_fn(
        fast_model, torch.optim.SGD(fast_model.parameters(), lr=0.01, momentum=0.9, nesterov=True), device, fast_amp
    )
    classic_step = _step_fn(
        classic_model, torch.optim.SGD(classic_model.parameters(), lr=0.01, momentum=0.9, nesterov=True), device, None
    )
    aug = Augment(crop_padding=4, padding_mode="zeros", flip=True)
    fast_batches = DeviceBatches(
        ds.train.images,
        ds.train.labels,
        batch_size,
        device,
        mean,
        std,
        aug,
        shuffle=True,
        drop_last=True,
        channels_last=True,
    )
    loader = classic_loader(ds.train.images, ds.train.labels, mean, std, batch_size, workers=classic_workers)
    fast_iter = fast_batches.forever()
    classic_iter = _cycle(loader)

    def measure(step, it, n, to_device):
        _sync(device)
        t = time.perf_counter()
        for _ in range(n):
            x, y = next(it)
            if to_device:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            step(x, y)
        _sync(device)
        return n * batch_size / (time.perf_counter() - t)

    measure(fast_step, fast_iter, 2, False)  # warm-up: allocator, oneDNN/cuDNN kernel choice
    measure(classic_step, classic_iter, 2, True)  # ... and the DataLoader's worker start-up
    fast_runs, classic_runs = [], []
    for r in range(rounds):
        fast_runs.append(measure(fast_step, fast_iter, steps, False))
        classic_runs.append(measure(classic_step, classic_iter, steps, True))
        _say(f"  round {r + 1}/{rounds}: fast {fast_runs[-1]:.0f} img/s, classic {classic_runs[-1]:.0f} img/s")
    fast, classic = statistics.median(fast_runs), statistics.median(classic_runs)
    precision = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[fast_amp]
    return {
        "model": model_name,
        "batch_size": batch_size,
        "fast_images_per_s": round(fast, 1),
        "classic_images_per_s": round(classic, 1),
        "ratio": round(fast / classic, 2),
        "fast_precision": precision,
        "classic_workers": classic_workers,
        "fast_runs": [round(v, 1) for v in fast_runs],
        "classic_runs": [round(v, 1) for v in classic_runs],
    }


# ----------------------------------------------------------------------------- 2. accuracy at equal time
def _clock_factor(kind: str, progress: float) -> float:
    """Learning-rate factor from the fraction of the time budget spent."""
    if kind == "onecycle":  # fast recipe: warm up over the first quarter, then linear to zero
        return 0.2 + 0.8 * progress / 0.25 if progress < 0.25 else max(0.0, 1 - (progress - 0.25) / 0.75)
    return 0.1 ** ((progress >= 0.5) + (progress >= 0.75))  # classic: /10 at 50% and 75% (81/164, 122/164)


def _train_for(budget: float, recipe: dict, ds, device, classic_workers: int) -> dict:
    from .classic_pipeline import classic_loader
    from .config import TrainConfig
    from .data.loader import DeviceBatches, channel_stats
    from .device import autocast_dtype
    from .evaluate import evaluate_arrays
    from .models import create_model, data_init
    from .training.optim import build_optimizer

    cfg = TrainConfig.from_dict(recipe["config"])
    mean, std = channel_stats(ds.train.images)
    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model, ds.num_classes, ds.channels)
    fast = recipe["pipeline"] == "fast"
    if fast:
        data_init(model, ds.train.images, mean, std, cfg.seed)
    model = model.to(device, memory_format=torch.channels_last if fast else torch.contiguous_format)
    optimizer = build_optimizer(model, cfg)
    amp = autocast_dtype(device, "auto") if fast else None
    step = _step_fn(model, optimizer, device, amp, cfg.label_smoothing)
    if fast:
        batches = DeviceBatches(
            ds.train.images,
            ds.train.labels,
            cfg.batch_size,
            device,
            mean,
            std,
            cfg.augment,
            shuffle=True,
            drop_last=True,
            channels_last=True,
        )
        it = batches.forever()
    else:
        loader = classic_loader(ds.train.images, ds.train.labels, mean, std, cfg.batch_size, workers=classic_workers)
        it = _cycle(loader)
    model.train()
    seen, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < budget:
        factor = _clock_factor(recipe["schedule"], elapsed / budget)
        for g in optimizer.param_groups:
            g["lr"] = cfg.lr * g.get("lr_scale", 1.0) * factor
        x, y = next(it)
        step(x.to(device, non_blocking=True), y.to(device, non_blocking=True))
        seen += len(y)
    _sync(device)
    train_time = time.perf_counter() - t0
    val = DeviceBatches(ds.val.images, ds.val.labels, 500, device, mean, std, channels_last=fast)
    acc = evaluate_arrays(model, val, ds.num_classes, 0, None, device).accuracy
    out = {
        "model": cfg.model,
        "train_seconds": round(train_time, 1),
        "images_seen": seen,
        "epochs": round(seen / len(ds.train), 2),
        "val_accuracy": round(acc, 4),
    }
    if fast:
        out["val_accuracy_tta"] = round(evaluate_arrays(model, val, ds.num_classes, 2, None, device).accuracy, 4)
    return out


FAST_RECIPE = {
    "pipeline": "fast",
    "schedule": "onecycle",
    "config": {
        "model": "fastnet",
        "batch_size": 1024,
        "optimizer": "nesterov",
        "lr": 1.5,
        "momentum": 0.85,
        "weight_decay": 1.33e-3,
        "norm_bias_lr_scale": 64.0,
        "label_smoothing": 0.2,
        "augment": {"crop_padding": 2, "padding_mode": "reflect", "flip": True, "cutout": 0},
    },
}
CLASSIC_RECIPE = {
    "pipeline": "classic",
    "schedule": "step",
    "config": {
        "model": "resnet32",
        "batch_size": 128,
        "optimizer": "nesterov",
        "lr": 0.1,
        "momentum": 0.9,
        "weight_decay": 1e-4,
    },
}


def bench_accuracy(ds, device, budget: float, classic_workers: int) -> dict:
    _say(f"  fast recipe (fastnet) for {budget:.0f} s...")
    fast = _train_for(budget, FAST_RECIPE, ds, device, classic_workers)
    _say(f"  classic recipe (ResNet-32, SGD 0.1, step decay, DataLoader, fp32) for {budget:.0f} s...")
    classic = _train_for(budget, CLASSIC_RECIPE, ds, device, classic_workers)
    return {
        "budget_seconds": budget,
        "val_images": len(ds.val),
        "fast": fast,
        "classic": classic,
        "accuracy_gain_points": round(100 * (fast["val_accuracy"] - classic["val_accuracy"]), 2),
    }


# ----------------------------------------------------------------------------- 3. prediction
def _sample_photo(folder: Path) -> Path:
    """A shipped sample photo, or a synthetic 12-megapixel-class JPEG when none is present."""
    from .paths import resources_dir

    samples = sorted((resources_dir() / "samples").glob("*.jpg"))
    if samples:
        return samples[0]
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    from PIL import Image

    path = folder / "photo.jpg"
    Image.fromarray(small).resize((4000, 3000), Image.Resampling.BICUBIC).save(path, quality=90)
    return path


def bench_predict(checkpoint, repeats: int = 30, folder_size: int = 100) -> dict:
    from PIL import Image

    from .predict import Predictor

    t = time.perf_counter()
    predictor = Predictor(checkpoint, device="cpu")
    load_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photo = _sample_photo(tmp)
        predictor.predict_arrays(predictor.prepare(photo)[None])  # warm-up
        end_to_end = []
        for _ in range(repeats):
            t = time.perf_counter()
            predictor.predict_arrays(predictor.prepare(photo)[None])
            end_to_end.append(time.perf_counter() - t)
        x = predictor.prepare(photo)[None]
        forward = []
        for _ in range(repeats * 3):
            t = time.perf_counter()
            predictor.predict_arrays(x)
            forward.append(time.perf_counter() - t)
        with Image.open(photo) as im:
            im = im.convert("RGB")
            im.thumbnail((1024, 1024))
            for i in range(folder_size):
                im.rotate(i % 360).save(tmp / f"{i:04d}.jpg", quality=90)
        t = time.perf_counter()
        results = predictor.predict_paths([tmp], batch_size=64)
        folder_s = time.perf_counter() - t
        with Image.open(photo) as im:
            size = im.size
    ms = lambda v: round(1000 * v, 2)  # noqa: E731
    return {
        "checkpoint": str(predictor.checkpoint.path),
        "model": predictor.checkpoint.arch,
        "load_seconds": round(load_s, 3),
        "photo": f"{photo.name} ({size[0]}x{size[1]})",
        "end_to_end_ms_median": ms(statistics.median(end_to_end)),
        "end_to_end_ms_p90": ms(sorted(end_to_end)[int(0.9 * len(end_to_end)) - 1]),
        "forward_ms_median": ms(statistics.median(forward)),
        "folder_images": len(results),
        "folder_images_per_s": round(len(results) / folder_s, 1),
    }


# ----------------------------------------------------------------------------- driver
def run_bench(args) -> int:
    from .data.sources import DataSpec, load_dataset
    from .device import resolve_device, set_thread_budget
    from .paths import default_checkpoint_path

    threads = set_thread_budget()
    device = resolve_device(args.device)
    report: dict = {"device": str(device), "torch": str(torch.__version__), "threads": threads}
    from .device import detect_device

    report["device_name"] = detect_device().name if args.device == "auto" else str(device)
    _say(f"bench on {report['device_name']} (torch threads: {threads}), torch {report['torch']}")
    ds = None
    if "throughput" not in args.skip or "accuracy" not in args.skip:
        data = args.data or _default_data()
        ds = load_dataset(DataSpec(data, val_fraction=0.1, seed=0, limit=args.limit))
        report["data"] = ds.describe()
    if "throughput" not in args.skip:
        _say(f"training throughput, {args.model}, batch {args.batch_size} (fast vs classic, interleaved):")
        report["throughput"] = bench_throughput(
            ds, args.model, args.batch_size, device, args.rounds, args.steps, args.classic_workers
        )
    if "accuracy" not in args.skip and args.budget > 0:
        _say(f"accuracy after {args.budget:.0f} s of training each:")
        report["accuracy"] = bench_accuracy(ds, device, args.budget, args.classic_workers)
    if "predict" not in args.skip:
        ckpt = args.checkpoint or (default_checkpoint_path() if default_checkpoint_path().exists() else None)
        if ckpt is None:
            report["predict"] = {"skipped": "no bundled default model; pass --checkpoint"}
        else:
            _say("prediction:")
            report["predict"] = bench_predict(ckpt)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        _print_report(report)
    return 0


def _print_report(r: dict) -> None:
    print(f"device {r['device_name']} (torch threads: {r['threads']}), torch {r['torch']}")
    if "data" in r:
        print(f"data   {r['data']}")
    if "throughput" in r:
        t = r["throughput"]
        print(f"\ntraining throughput ({t['model']}, batch {t['batch_size']}):")
        print(
            f"  fast pipeline    {t['fast_images_per_s']:8.1f} img/s  (on-device data, {t['fast_precision']}, "
            "channels_last)"
        )
        print(
            f"  classic pipeline {t['classic_images_per_s']:8.1f} img/s  (DataLoader + PIL transforms, "
            f"{t['classic_workers']} workers, fp32)"
        )
        print(f"  ratio            {t['ratio']:8.2f}x")
    if "accuracy" in r:
        a = r["accuracy"]
        f, c = a["fast"], a["classic"]
        print(f"\naccuracy after {a['budget_seconds']:.0f} s of training ({a['val_images']} held-out images):")
        print(
            f"  fast recipe    {f['model']:<9} {f['val_accuracy']:.2%} ({f['val_accuracy_tta']:.2%} with TTA), "
            f"{f['epochs']} epochs"
        )
        print(f"  classic recipe {c['model']:<9} {c['val_accuracy']:.2%}, {c['epochs']} epochs")
        print(f"  difference     {a['accuracy_gain_points']:+.2f} points")
    if "predict" in r:
        p = r["predict"]
        if "skipped" in p:
            print(f"\nprediction: skipped ({p['skipped']})")
        else:
            print(f"\nprediction ({p['model']}, CPU):")
            print(f"  model load            {p['load_seconds'] * 1000:8.1f} ms")
            print(
                f"  one photo end to end  {p['end_to_end_ms_median']:8.1f} ms median, {p['end_to_end_ms_p90']:.1f} ms "
                f"p90 ({p['photo']})"
            )
            print(f"  forward pass, 1 image {p['forward_ms_median']:8.2f} ms median")
            print(f"  folder                {p['folder_images_per_s']:8.1f} images/s ({p['folder_images']} photos)")
