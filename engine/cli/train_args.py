"""The ``train`` command's settings as flags, and the TrainConfig they make (defaults, then
``--preset``, then ``--config FILE``, then the flags); ``lr-find`` reads the same settings.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..config import OPTIMIZERS, PRECISIONS, SCHEDULES, TrainConfig
from ..errors import ConfigError
from ..presets import preset_config
from ..runs.command import FLAGS
from .common import _DEVICE, _DEVICE_METAVAR, _default, _err

__all__ = ["add_train_arguments", "train_defaults"]


def add_train_arguments(s: argparse.ArgumentParser) -> None:
    """The flags of ``train`` (its settings, --resume, --out and the rest)."""
    s.add_argument("--data", help=f"cifar10, mnist, fashion-mnist, an image folder or a .zip of one {_default('data')}")
    s.add_argument("--model", help=f"architecture name (see `models`; tv:NAME for torchvision's) {_default('model')}")
    s.add_argument(
        "--epochs", type=int, metavar="N", help=f"epochs to train (resuming: the new length) {_default('epochs')}"
    )
    s.add_argument("--out", help="run folder for checkpoints and metrics (resuming: default the resumed run's folder)")
    s.add_argument("--batch-size", type=int, metavar="N", help=f"images per optimizer step {_default('batch_size')}")
    s.add_argument(
        "--micro-batch",
        type=int,
        metavar="N",
        help="run each batch in chunks of at most N images, adding up gradients (0 = whole batch, "
        f"-1 = automatic: small chunks on a CPU) {_default('micro_batch')}",
    )
    s.add_argument("--lr", type=float, help=f"learning rate {_default('lr')}")
    s.add_argument("--optimizer", choices=OPTIMIZERS, help=_default("optimizer"))
    s.add_argument("--schedule", choices=SCHEDULES, help=f"learning-rate schedule {_default('schedule')}")
    s.add_argument(
        "--device",
        type=_DEVICE,
        metavar=_DEVICE_METAVAR,
        help=f"where to train; auto picks a GPU when there is one {_default('device')}",
    )
    s.add_argument(
        "--precision",
        choices=PRECISIONS,
        help=f"mixed precision; auto: bf16/fp16 on a GPU, bf16 on CPUs that have it {_default('mixed_precision')}",
    )
    s.add_argument(
        "--limit", type=int, metavar="N", help=f"use at most N training images (quick tries) {_default('limit')}"
    )
    s.add_argument(
        "--val-fraction",
        type=float,
        metavar="F",
        help=f"fraction held out for validation when the data has no val/ split {_default('val_fraction')}",
    )
    s.add_argument("--classes", help=f"comma-separated subset of classes, e.g. airplane,bird {_default('classes')}")
    s.add_argument("--seed", type=int, help=f"random seed (data split, initialisation, batches) {_default('seed')}")
    s.add_argument(
        "--tta",
        type=int,
        choices=(0, 1, 2),
        help=f"validation test-time augmentation: 0 off, 1 flips, 2 flips and shifts {_default('tta')}",
    )
    s.add_argument("--ema", type=float, metavar="DECAY", help=f"weight EMA decay (0 = off) {_default('ema_decay')}")
    s.add_argument("--preset", help="start from a named recipe (see `presets`) (default none)")
    s.add_argument(
        "--config", metavar="FILE", help="JSON file with TrainConfig fields, see engine/config.py (default none)"
    )
    s.add_argument(
        "--early-stop-patience",
        type=int,
        metavar="N",
        help=f"stop after N epochs without better validation accuracy (0 = off) {_default('early_stop_patience')}",
    )
    s.add_argument(
        "--compile",
        action="store_const",
        const=True,
        help=f"torch.compile the model (falls back to eager, and says so) {_default('compile')}",
    )
    s.add_argument(
        "--model-arg",
        action="append",
        metavar="KEY=VALUE",
        help="an architecture argument, repeatable: efficientnet_lite0 transfer=head|finetune "
        "(frozen ImageNet features, or fine-tune everything), input_size=224; CIFAR ResNets block=a..e "
        "(default: the preset's or the model's own)",
    )
    s.add_argument(
        "--pretrained-path",
        metavar="FILE",
        help="tv: models: a local torchvision weights file (state dict) to fine-tune from, offline "
        f"{_default('pretrained_path')}",
    )
    s.add_argument(
        "--resume",
        metavar="RUN",
        help="continue any stopped run from its folder or last.pt (--epochs: new length) (default: a new run)",
    )
    s.add_argument(
        "--download-weights",
        action="store_true",
        help="tv: models: download the ImageNet weights first when they are not cached (see `weights`)",
    )
    s.add_argument("--overwrite", action="store_true", help="replace the run already in --out (deletes its files)")
    s.add_argument("--quiet", action="store_true", help="no progress bar (bars are drawn on a terminal only)")
    s.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def train_defaults() -> dict:
    """Every ``train`` option at its default (``--out`` aside), as parsed: what lr-find starts from."""
    parser = argparse.ArgumentParser(add_help=False)
    add_train_arguments(parser)
    return vars(parser.parse_args(["--out", "unused"]))


def _train_flags(args) -> dict:
    """The TrainConfig settings given as flags (None: not given)."""
    return {
        "data": args.data,
        "model": args.model,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "micro_batch": args.micro_batch,
        "lr": args.lr,
        "device": args.device,
        "limit": args.limit,
        "optimizer": args.optimizer,
        "schedule": args.schedule,
        "seed": args.seed,
        "val_fraction": args.val_fraction,
        "mixed_precision": args.precision,
        "tta": args.tta,
        "ema_decay": args.ema,
        "classes": args.classes.split(",") if args.classes else None,
        "early_stop_patience": args.early_stop_patience,
        "compile": args.compile,
        "pretrained_path": args.pretrained_path,
        "model_args": _model_args(args.model_arg) if args.model_arg else None,
    }


def _model_args(pairs: list[str]) -> dict:
    """``--model-arg KEY=VALUE`` (repeatable): values are JSON where they parse (224, true,
    0.5), text otherwise (finetune); the model's builder checks each (engine.models.factory)."""
    out = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError("model_args", f"--model-arg {pair!r}: expected KEY=VALUE, e.g. transfer=finetune")
        try:
            out[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            out[key.strip()] = text
    return out


def _train_config(args):
    from ..checkpoints.format import load_checkpoint  # start-up: imports torch (only --resume needs it)

    flags = _train_flags(args)
    if args.resume:
        # A resumed run keeps its own settings; only --epochs changes its length (the trainer
        # refuses one it is already past). A fresh config would silently replace them with
        # defaults, so every other setting given is named as ignored.
        others = [FLAGS[f][0] for f, v in flags.items() if v is not None and f != "epochs"]
        others += [f"--{f}" for f in ("preset", "config") if getattr(args, f) is not None]
        if others:
            _err(f"note: --resume continues the saved run's settings; ignoring {', '.join(others)}")
        if args.epochs is None:
            return None
        path = Path(args.resume)
        saved = TrainConfig.from_dict(load_checkpoint(path / "last.pt" if path.is_dir() else path).config)
        return saved.replace(epochs=args.epochs)
    cfg = preset_config(args.preset) if args.preset else TrainConfig()
    if args.config:
        # Only the settings the file names change (a partial file keeps the preset's others);
        # loading it alone first checks it: JSON, known fields, valid values.
        TrainConfig.load(args.config)
        given = json.loads(Path(args.config).read_text())
        merged = cfg.to_dict()
        for key, value in given.items():
            nested = key == "augment" and isinstance(value, dict)
            merged[key] = {**merged[key], **value} if nested else value
        cfg = TrainConfig.from_dict(merged)
    changes = {k: v for k, v in flags.items() if v is not None}
    return cfg.replace(**changes) if changes else cfg.validate()
