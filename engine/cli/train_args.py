"""The ``train`` command's flags, and the TrainConfig they make (defaults, then ``--preset``,
then ``--config FILE``, then the flags); ``lr-find`` reads the same settings. The settings'
flags come from the one table of the train settings, engine/train_settings.py.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..config import TrainConfig
from ..presets import preset_config
from ..train_settings import TRAIN_FLAGS
from .common import _err

__all__ = ["add_settings_arguments", "add_train_arguments", "train_defaults"]

FLAG_OF = {row.name: row.flag for row in TRAIN_FLAGS}


def add_settings_arguments(s: argparse.ArgumentParser, lr_find: bool = False) -> None:
    """The settings' flags, from the one table (engine/train_settings.py); ``lr_find``: only lr-find's."""
    for row in TRAIN_FLAGS:
        if row.lr_find or not lr_find:
            s.add_argument(row.flag, help=row.full_help, **row.argparse_options)


def add_train_arguments(s: argparse.ArgumentParser) -> None:
    """The flags of ``train``: --preset and --config, its settings, --out, --resume and the rest."""
    s.add_argument("--preset", help="start from a named recipe (see `presets`) (default none)")
    s.add_argument(
        "--config", metavar="FILE", help="JSON file with TrainConfig fields, see engine/config.py (default none)"
    )
    add_settings_arguments(s)
    s.add_argument("--out", help="run folder for checkpoints and metrics (resuming: default the resumed run's folder)")
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
    return {row.name: row.value(args) for row in TRAIN_FLAGS}


def _train_config(args):
    from ..checkpoints.format import load_checkpoint  # start-up: imports torch (only --resume needs it)

    flags = _train_flags(args)
    if args.resume:
        # A resumed run keeps its own settings; only --epochs changes its length (the trainer
        # refuses one it is already past). A fresh config would silently replace them with
        # defaults, so every other setting given is named as ignored.
        others = [FLAG_OF[f] for f, v in flags.items() if v is not None and f != "epochs"]
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
