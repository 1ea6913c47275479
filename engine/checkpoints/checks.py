"""What :func:`engine.checkpoints.format.load_checkpoint` checks before it trusts a file.

A checkpoint may come from a stranger, so everything it declares is checked before the
engine acts on it, in the order the loader meets it:

1. the container (:func:`check_container`): a ``torch.save`` zip whose records are stored
   uncompressed (``torch.save`` never compresses, so a small file cannot declare a huge
   record), sizes within limits and within the file, every record's CRC intact. Anything
   else is "not a checkpoint", and a plain pickle carrying code is named as such, found by
   parsing its opcodes (never by running them). The metadata record's opcodes are parsed too:
   it may name only the few Python objects ``torch.save`` writes (tensor rebuilding, storages,
   dtypes, OrderedDict). PyTorch's weights-only loader also allows e.g. ``bytearray``, whose
   20-byte call ``bytearray(3000000000)`` would take 3 GB before any check could run.
2. the plain data (:func:`check_metadata`): nesting depth, architecture and arguments,
   input size and channels, normalisation, class names.
3. the weights (:func:`check_weights`): tensors only, finite, and shaped exactly as the
   declared architecture, which is built first on PyTorch's ``meta`` device (shapes only, no
   memory) under a time limit, so absurd sizes and slow builds are refused before any
   memory is spent.

Each refusal is one line naming the file and what is wrong. Here: the limits, the plain data
(2.); the container (1.) is checked in container_checks.py, the weights (3.) in weight_checks.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from ..errors import CheckpointError

__all__ = ["LIMITS", "check_depth", "check_metadata", "short"]

# Generous for any image classifier this app can train (the largest torchvision models are
# well under these), small enough that a hostile file cannot exhaust memory or time.
LIMITS = {
    "file_bytes": 8 << 30,  # whole checkpoint file
    "records": 200_000,  # zip members (one per tensor storage, plus a few)
    "pickle_bytes": 64 << 20,  # the data.pkl record (metadata and tensor descriptions)
    "depth": 64,  # nesting of dicts and lists in the plain data
    "parameters": 2_000_000_000,  # elements in the model's weights and buffers
    "build_seconds": 20.0,  # building the declared architecture (shapes only)
    "classes": 100_000,
    "class_name_chars": 500,
    "side": 4096,  # input height / width in pixels
}


def short(value: Any, limit: int = 80) -> str:
    """A one-line, bounded ``repr`` of a value read from an untrusted file, for messages."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------- 2. plain data
def check_depth(obj: Any, name: str) -> None:
    """Refuse deeply nested containers (iteratively: a deep one would overflow recursion)."""
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > LIMITS["depth"]:
            raise CheckpointError(f"{name}: data nested deeper than {LIMITS['depth']} levels; refused")
        if isinstance(item, torch.Tensor):
            continue
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, depth + 1) for v in item)


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _whole(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def check_metadata(payload: dict, name: str) -> None:
    """Types and ranges of everything the checkpoint declares besides the weights."""

    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"{name}: malformed checkpoint metadata ({what})")

    arch = payload["arch"]
    if not isinstance(arch, dict) or not isinstance(arch.get("name"), str) or not 0 < len(arch["name"]) <= 200:
        raise bad("arch: needs a name")
    args = arch.get("args") or {}
    if not isinstance(args, dict) or not all(isinstance(k, str) and k.isidentifier() for k in args):
        raise bad("arch.args: must map argument names to values")
    for key, value in args.items():
        if not (value is None or isinstance(value, (bool, str)) or _number(value)):
            raise bad(f"arch.args.{key}: must be a number, text, true/false or null")
    inp = payload["input"]
    if not isinstance(inp, dict) or not all(_whole(inp.get(k)) for k in ("height", "width", "channels")):
        raise bad("input: needs whole-number height, width and channels")
    if inp["channels"] not in (1, 3):
        raise bad(f"input.channels: must be 1 or 3, got {inp['channels']}")
    for key in ("height", "width"):
        if not 1 <= inp[key] <= LIMITS["side"]:
            raise bad(f"input.{key}: must be between 1 and {LIMITS['side']} pixels, got {inp[key]}")
    norm = payload["normalization"]
    if not isinstance(norm, dict):
        raise bad("normalization: must have mean and std")
    for key in ("mean", "std"):
        values = norm.get(key)
        if not isinstance(values, list) or not all(_number(v) for v in values):
            raise bad(f"normalization.{key}: must be a list of finite numbers")
        if len(values) != inp["channels"]:
            raise bad(f"normalization.{key}: {len(values)} values for {inp['channels']} channel(s)")
    if not all(v > 0 for v in norm["std"]):
        raise bad("normalization.std: every value must be greater than 0")
    classes = payload["classes"]
    if not isinstance(classes, list) or not classes:
        raise bad("classes: must be a non-empty list of names")
    if len(classes) > LIMITS["classes"]:
        raise bad(f"classes: {len(classes):,} names (limit {LIMITS['classes']:,})")
    if not all(isinstance(c, str) and 0 < len(c) <= LIMITS["class_name_chars"] for c in classes):
        raise bad("classes: every class name must be a non-empty string")
    if len(set(classes)) != len(classes):
        dup = next(c for i, c in enumerate(classes) if c in classes[:i])
        raise bad(f"classes: {short(dup)} appears twice")
    for key in ("epoch",):
        if payload.get(key) is not None and not _whole(payload[key]):
            raise bad(f"{key}: must be a whole number")
    for key in ("best_val_acc", "val_acc"):
        value = payload.get(key)
        if value is not None and not _number(value):
            raise bad(f"{key}: must be a number or null")
    for key, kind in (("config", dict), ("history", list), ("versions", dict), ("train_state", dict)):
        if payload.get(key) is not None and not isinstance(payload[key], kind):
            raise bad(f"{key}: must be {'an object' if kind is dict else 'a list'}")
