"""What the ``python -m engine`` commands share: strict JSON on stdout, messages on stderr, the
exit status of a command over many files, and the ``--device`` and ``--tta`` flags.

Imports no torch: the parser is built from here, and ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import json
import sys

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
