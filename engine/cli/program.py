"""``python -m engine``: its parser and dispatch for models, presets, train, evaluate, predict,
bench, info (what they do: engine/cli/commands.py) and, from engine/cli/tools.py: runs, lr-find,
export, explain, weights.

Progress goes to stderr; ``--json`` puts machine-readable results on stdout. Exit status:
see :data:`EXIT_CODES` (also the epilog of ``--help``).

Building the parser imports no torch, so ``--help`` and ``--version`` answer at once
(tests/test_cli.py checks it in a subprocess).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .._version import __version__
from ..bench import add_bench_arguments
from ..errors import EngineError
from ..splits import SPLITS
from ..train_flags import DEVICE_METAVAR, device_type
from .commands import cmd_bench, cmd_evaluate, cmd_info, cmd_models, cmd_predict, cmd_presets, cmd_train
from .common import _err, add_tta_arguments
from .tools import add_parsers, add_summary_arguments
from .train_args import add_train_arguments

# Imports inside functions: argcomplete is optional (tab completion); photo-view names come from a
# module that imports numpy, which --help does not need.

# Start-up: the commands (commands.py) import what needs torch (models, training, checkpoints, evaluation,
# prediction) inside their functions, so building the parser imports no torch and `--help` answers
# at once (tests/test_cli.py checks it in a subprocess); the photo views (Pillow, numpy) load only
# when the parser is built.
__all__ = ["EXIT_CODES", "build_parser", "main", "prog_name"]

EXIT_CODES = (
    (0, "success (some files of predict or explain may have failed: each says why)"),
    (1, "a training run failed (divergence, disk full), or every input of predict or explain failed"),
    (2, "bad usage or an unusable input (one line on stderr)"),
    (130, "interrupted (Ctrl-C; training saves a resumable last.pt)"),
)
ENTRY_POINT = "cifar-studio-engine"  # the console script of pyproject.toml

_logger = logging.getLogger("engine.cli.program")


# ---------------------------------------------------------------------------- parser
def prog_name(argv0: str | None = None) -> str:
    """The program name in usage lines: the console script's own name when run through it,
    ``python -m engine`` otherwise (argv[0] is then ``.../engine/__main__.py``)."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    name = Path(argv0 or "").name
    for suffix in (".exe", "-script.py", ".py"):  # Windows wraps console scripts
        name = name.removesuffix(suffix)
    return ENTRY_POINT if name == ENTRY_POINT else "python -m engine"


def _epilog() -> str:
    codes = "\n".join(f"  {code:<4} {what}" for code, what in EXIT_CODES)
    return f"exit status:\n{codes}"


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions, but keeps a text of several lines (the exit-status table) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    prog = prog or prog_name()
    p = argparse.ArgumentParser(
        prog=prog,
        description="CIFAR Studio engine: train, evaluate and predict image classifiers without the GUI.",
        epilog=_epilog(),
        formatter_class=_HelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"%(prog)s (CIFAR Studio) {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, epilog=_epilog(), formatter_class=_HelpFormatter, **kwargs)

    s = command("models", help="list architectures with parameter counts (--summary NAME: layer by layer)")
    s.add_argument("--json", action="store_true", help="print the list as JSON on stdout")
    add_summary_arguments(s)
    s.set_defaults(fn=cmd_models)

    s = command("presets", help="list training recipes")
    s.add_argument("--json", action="store_true", help="print the recipes and their settings as JSON on stdout")
    s.set_defaults(fn=cmd_presets)

    s = command("info", help="versions, detected device and folders")
    s.add_argument("--json", action="store_true", help="print the information as JSON on stdout")
    s.set_defaults(fn=cmd_info)

    s = command(
        "train",
        help="train a model",
        description="Settings: defaults, then --preset, then --config FILE, then the flags given here. "
        "The defaults shown are those without a preset or config file.",
    )
    add_train_arguments(s)
    s.set_defaults(fn=cmd_train)

    s = command("evaluate", help="accuracy, per-class metrics and confusion matrix")
    s.add_argument("--checkpoint", required=True, help="the checkpoint to evaluate (a run's best.pt)")
    s.add_argument("--data", required=True, help="cifar10, mnist, fashion-mnist, an image folder or a .zip of one")
    s.add_argument(
        "--split",
        default="auto",
        choices=tuple(SPLITS),
        help="auto: the test split if the data has one, else all images; val: the checkpoint's "
        "own held-out validation split (default auto)",
    )
    s.add_argument(
        "--tta",
        type=int,
        default=0,
        choices=(0, 1, 2),
        help="test-time augmentation: 0 off, 1 flips, 2 flips and shifts (default 0)",
    )
    s.add_argument("--device", type=device_type, metavar=DEVICE_METAVAR, default="auto", help="(default auto)")
    s.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "off", "bf16"),
        help="auto: the precision the checkpoint was validated in during training (bf16 autocast for the "
        "bundled model where the CPU runs bf16 natively: about 2x faster); off: fp32 (default auto)",
    )
    s.add_argument("--quiet", action="store_true", help="no progress bar (bars are drawn on a terminal only)")
    s.add_argument("--json", action="store_true", help="print the metrics as JSON on stdout")
    s.set_defaults(fn=cmd_evaluate)

    from ..imaging.photo import DEFAULT_PHOTO_TTA, DEFAULT_VIEW, VIEWS

    s = command("predict", help="classify images and folders")
    s.add_argument("paths", nargs="+", metavar="PATH", help="image files and folders of them")
    s.add_argument("--checkpoint", help="the model to use (default: the bundled CIFAR-10 model)")
    add_tta_arguments(s, DEFAULT_PHOTO_TTA)
    s.add_argument("--device", type=device_type, metavar=DEVICE_METAVAR, default="cpu", help="(default cpu)")
    s.add_argument(
        "--view",
        default=DEFAULT_VIEW,
        choices=VIEWS,
        help="what part of a photo the model sees: the whole frame (measured best), the centre "
        f"square, or the whole frame padded to a square (default {DEFAULT_VIEW})",
    )
    s.add_argument("--quiet", action="store_true", help="no progress bar (bars are drawn on a terminal only)")
    s.add_argument("--json", action="store_true", help="print one result per input as JSON on stdout")
    s.set_defaults(fn=cmd_predict)

    s = command("bench", help="measure training and prediction speed on this machine")
    add_bench_arguments(s)
    s.set_defaults(fn=cmd_bench)

    add_parsers(command)
    return p


def _not_an_event(record: logging.LogRecord) -> bool:
    return not getattr(record, "reported_as_event", False)


def _complete(parser: argparse.ArgumentParser) -> None:
    """Shell completion through the optional argcomplete package (``pip install argcomplete``, then
    ``eval "$(register-python-argcomplete cifar-studio-engine)"``): it prints the completions and
    exits. Cheap: the parser imports no torch."""
    try:
        import argcomplete
    except ImportError:
        return
    argcomplete.autocomplete(parser)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(prog_name())
    if "_ARGCOMPLETE" in os.environ:  # a shell asking for completions (nothing is imported otherwise)
        _complete(parser)
    args = parser.parse_args(argv)
    if args.command == "train" and args.out is None and not args.resume:
        parser.error("train: --out is required (the run folder; when resuming it defaults to the run's own)")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:  # training's warnings arrive as events too: printed once, by the progress
        for handler in logging.getLogger().handlers:
            handler.addFilter(_not_an_event)
    try:
        return args.fn(args)
    except EngineError as exc:
        _err(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
