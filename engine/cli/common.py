"""What the ``python -m engine`` commands share: strict JSON on stdout, messages on stderr, the
exit status of a command over many files, and the ``--device`` and ``--tta`` flags.

Imports no torch: the parser is built from here, and ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..config import DEVICES, TrainConfig

__all__ = ["add_tta_arguments", "all_failed"]


def _out(obj) -> None:
    # Start-up: engine.training's package imports torch, which `--help` and the light commands never need.
    from ..training.run_files import json_safe

    # Strict JSON: NaN / infinity become null (json.dumps would write the invalid `NaN`).
    sys.stdout.write(json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")


def _err(msg: str) -> None:
    if sys.stderr is not None:
        sys.stderr.write(msg + "\n")


def all_failed(results) -> int:
    """Exit status of a command that handles files one by one: 1 when not one of them worked."""
    if results and all(r.error for r in results):
        _err(f"error: all {len(results)} input{'s' if len(results) != 1 else ''} failed")
        return 1
    return 0


def _choice(name: str, choices: tuple[str, ...], extra=None):
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


_DEVICE = _choice("device", DEVICES, _cuda_index)
_DEVICE_METAVAR = "{" + ",".join(DEVICES) + ",cuda:N}"


def _default(name: str) -> str:
    """``(default X)`` for a TrainConfig setting, as the flag would write it."""
    value = getattr(TrainConfig(), name)
    if value in (None, "", []):
        value = {"limit": "all", "classes": "all", "pretrained_path": "none"}.get(name, value)
    elif name == "compile":
        value = "off"
    return f"(default {value})"


def add_tta_arguments(s: argparse.ArgumentParser, default: int) -> None:
    """``--tta`` / ``--tta-level`` of the commands that classify photos (predict, explain)."""
    s.add_argument(
        "--tta",
        dest="tta",
        action="store_const",
        const=2,
        default=default,
        help="test-time augmentation level 2: average over mirror images and 1-pixel shifts",
    )
    s.add_argument(
        "--tta-level",
        dest="tta",
        type=int,
        choices=(0, 1, 2),
        help=f"0 off, 1 the image and its mirror averaged, 2 mirrors and shifts (default {default}, "
        "measured best on photos)",
    )
