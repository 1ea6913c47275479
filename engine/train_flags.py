"""The train settings as command-line flags, declared once (:data:`TRAIN_FLAGS`).

Each row is one TrainConfig field with a flag: the flag, its argparse type, choices and
metavar, its help (the default is added from TrainConfig itself), how the parsed text becomes
the field's value, how a value is written back as the flag's text, and whether ``lr-find``
takes it too. Made from this table: the ``train`` and ``lr-find`` parsers and reading their
flags into a TrainConfig (engine/cli/train_args.py), and the ``train`` / ``--resume`` command
lines of a run (engine/runs/command.py). Imports no torch: ``--help`` is built from here.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import DEVICES, OPTIMIZERS, PRECISIONS, SCHEDULES, TrainConfig
from .errors import ConfigError

__all__ = ["DEVICE_METAVAR", "TRAIN_FLAGS", "TrainFlag", "default_text", "device_type"]


# ---------------------------------------------------------------------------- argparse types
def choice_type(name: str, choices: tuple[str, ...], extra=None):
    """An argparse type accepting ``choices`` (and what ``extra`` accepts), with a one-line error."""

    def check(value: str) -> str:
        if value in choices or (extra is not None and extra(value)):
            return value
        shown = ", ".join(choices) + (" or cuda:N" if name == "device" else "")
        raise argparse.ArgumentTypeError(f"{value!r} is not a {name}: choose {shown}")

    check.__name__ = name
    return check


def _cuda_index(value: str) -> bool:
    return value.startswith("cuda:") and value[5:].isdigit()


device_type = choice_type("device", DEVICES, _cuda_index)
DEVICE_METAVAR = "{" + ",".join(DEVICES) + ",cuda:N}"


def default_text(name: str) -> str:
    """``(default X)`` for a TrainConfig setting, as the flag would write it."""
    value = getattr(TrainConfig(), name)
    if value in (None, "", []):
        value = {"limit": "all", "classes": "all", "pretrained_path": "none"}.get(name, value)
    elif name == "compile":
        value = "off"
    return f"(default {value})"


# ---------------------------------------------------------------------------- reading and writing values
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


def _number(v) -> str:
    return repr(v)  # repr of a float round-trips exactly; argparse's float() reads it back


def _classes(v: list[str]) -> str | None:
    # The CLI splits --classes on commas: a class name with a comma needs the config file.
    return ",".join(v) if all("," not in c and c.strip() == c and c for c in v) else None


def _switch(v) -> str | None:
    return "" if v is True else None  # a store_true flag: present means True


def _looks_like_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _write_model_args(args: dict) -> list[str] | None:
    """``--model-arg`` values, as :func:`_model_args` parses them back (JSON, or bare text)."""
    out = []
    for key, value in args.items():
        text = value if isinstance(value, str) and not _looks_like_json(value) else json.dumps(value)
        out.append(f"{key}={text}")
    return out


# ---------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class TrainFlag:
    """One TrainConfig field's flag.

    ``help`` is followed by ``(default X)`` from TrainConfig unless ``show_default`` is False;
    ``read`` turns the parsed value into the field's value, ``write`` a field's value into the
    flag's text (None: the value cannot be written as this flag; "" a switch; a list: the flag
    repeated); ``lr_find``: ``python -m engine lr-find`` takes the flag too.
    """

    field: str
    flag: str
    help: str = ""
    options: dict[str, Any] = field(default_factory=dict)  # argparse: type, choices, metavar, action, const
    read: Callable[[Any], Any] | None = None
    write: Callable[[Any], str | list[str] | None] = str
    lr_find: bool = False
    show_default: bool = True

    @property
    def dest(self) -> str:
        return self.flag[2:].replace("-", "_")

    @property
    def full_help(self) -> str:
        return f"{self.help} {default_text(self.field)}".strip() if self.show_default else self.help

    def value(self, args: argparse.Namespace):
        """The field's value given on the command line (None: not given)."""
        given = getattr(args, self.dest)
        if self.read is None:
            return given
        return self.read(given) if given else None


_N = {"type": int, "metavar": "N"}

# In the order ``train --help`` lists them.
TRAIN_FLAGS: tuple[TrainFlag, ...] = (
    TrainFlag("data", "--data", "cifar10, mnist, fashion-mnist, an image folder or a .zip of one", lr_find=True),
    TrainFlag("model", "--model", "architecture name (see `models`; tv:NAME for torchvision's)", lr_find=True),
    TrainFlag("epochs", "--epochs", "epochs to train (resuming: the new length)", _N),
    TrainFlag("batch_size", "--batch-size", "images per optimizer step", _N, lr_find=True),
    TrainFlag(
        "micro_batch",
        "--micro-batch",
        "run each batch in chunks of at most N images, adding up gradients (0 = whole batch, "
        "-1 = automatic: small chunks on a CPU)",
        _N,
    ),
    TrainFlag("lr", "--lr", "learning rate", {"type": float}, write=_number),
    TrainFlag("optimizer", "--optimizer", "", {"choices": OPTIMIZERS}, lr_find=True),
    TrainFlag("schedule", "--schedule", "learning-rate schedule", {"choices": SCHEDULES}),
    TrainFlag(
        "device",
        "--device",
        "where to train; auto picks a GPU when there is one",
        {"type": device_type, "metavar": DEVICE_METAVAR},
        lr_find=True,
    ),
    TrainFlag(
        "mixed_precision",
        "--precision",
        "mixed precision; auto: bf16/fp16 on a GPU, bf16 on CPUs that have it",
        {"choices": PRECISIONS},
        lr_find=True,
    ),
    TrainFlag("limit", "--limit", "use at most N training images (quick tries)", _N, lr_find=True),
    TrainFlag(
        "val_fraction",
        "--val-fraction",
        "fraction held out for validation when the data has no val/ split",
        {"type": float, "metavar": "F"},
        write=_number,
    ),
    TrainFlag(
        "classes",
        "--classes",
        "comma-separated subset of classes, e.g. airplane,bird",
        read=lambda text: text.split(","),
        write=_classes,
        lr_find=True,
    ),
    TrainFlag("seed", "--seed", "random seed (data split, initialisation, batches)", {"type": int}, lr_find=True),
    TrainFlag(
        "tta",
        "--tta",
        "validation test-time augmentation: 0 off, 1 flips, 2 flips and shifts",
        {"type": int, "choices": (0, 1, 2)},
    ),
    TrainFlag("ema_decay", "--ema", "weight EMA decay (0 = off)", {"type": float, "metavar": "DECAY"}, write=_number),
    TrainFlag(
        "early_stop_patience",
        "--early-stop-patience",
        "stop after N epochs without better validation accuracy (0 = off)",
        _N,
    ),
    TrainFlag(
        "compile",
        "--compile",
        "torch.compile the model (falls back to eager, and says so)",
        {"action": "store_const", "const": True},
        write=_switch,
    ),
    TrainFlag(
        "model_args",
        "--model-arg",
        "an architecture argument, repeatable: efficientnet_lite0 transfer=head|finetune "
        "(frozen ImageNet features, or fine-tune everything), input_size=224; CIFAR ResNets block=a..e "
        "(default: the preset's or the model's own)",
        {"action": "append", "metavar": "KEY=VALUE"},
        read=_model_args,
        write=_write_model_args,
        show_default=False,
    ),
    TrainFlag(
        "pretrained_path",
        "--pretrained-path",
        "tv: models: a local torchvision weights file (state dict) to fine-tune from, offline",
        {"metavar": "FILE"},
    ),
)
