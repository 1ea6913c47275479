"""``python -m engine``: models, presets, train, evaluate, predict, bench, info (and, from
engine/cli/tools.py: runs, lr-find, export, explain, weights).

Progress goes to stderr; ``--json`` puts machine-readable results on stdout. Exit status:
see :data:`EXIT_CODES` (also the epilog of ``--help``).

Building the parser imports no torch, so ``--help`` and ``--version`` answer at once
(tests/test_cli.py checks it in a subprocess).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path

from .._version import __version__
from ..bench import add_bench_arguments, run_bench
from ..errors import EngineError
from ..presets import PRESETS
from ..splits import SPLITS
from ..text import TTA_NAMES, with_article
from ..train_flags import DEVICE_METAVAR, device_type
from .common import _err, _out, add_tta_arguments, all_failed
from .progress import TrainProgress
from .stage_progress import StageProgress
from .tools import add_parsers, add_summary_arguments, cmd_model_summary, download_with_progress
from .train_args import _train_config, add_train_arguments

# Start-up: the commands import what needs torch (models, training, checkpoints, evaluation,
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


# ---------------------------------------------------------------------------- models / presets / info
def cmd_models(args) -> int:
    from ..models import list_models, parameter_count

    if getattr(args, "summary", None):
        return cmd_model_summary(args)
    rows = []
    for info in list_models():
        params = parameter_count(info.name, num_classes=10, in_channels=3)
        rows.append(
            {
                "name": info.name,
                "family": info.family,
                "parameters": params,
                "input": info.input_handling,
                "description": info.description,
            }
        )
    if args.json:
        _out(rows)
    else:
        for r in rows:
            print(f"{r['name']:<20} {r['parameters'] / 1e6:8.2f}M  {r['family']:<16} {r['description']}")
        print(
            "\nAlso: any torchvision classification model as tv:NAME (e.g. tv:resnet18), "
            "for transfer learning with cached ImageNet weights (`weights tv:NAME` downloads them)."
        )
    return 0


def cmd_presets(args) -> int:
    if args.json:
        _out(
            {
                p.name: {"title": p.title, "description": p.description, "settings": p.overrides}
                for p in PRESETS.values()
            }
        )
    else:
        for p in PRESETS.values():
            print(f"{p.name:<20} {p.title}\n{'':<20} {p.description}\n")
    return 0


def cmd_info(args) -> int:
    import torch

    from ..device import cpu_has_fast_bf16, detect_device
    from ..paths import cache_dir, data_dir, default_checkpoint_path

    info = {
        "cifar_studio": __version__,
        "torch": torch.__version__,
        "device": detect_device().name,
        "cpu_bf16": cpu_has_fast_bf16(),
        "threads": torch.get_num_threads(),
        "default_model": str(default_checkpoint_path()),
        "data_dir": str(data_dir()),
        "cache_dir": str(cache_dir()),
    }
    if args.json:
        _out(info)
    else:
        for k, v in info.items():
            print(f"{k:<14} {v}")
    return 0


# ---------------------------------------------------------------------------- train
def _download_weights_first(cfg, resuming: bool, quiet: bool) -> None:
    """--download-weights: fetch a tv: model's ImageNet weights into the cache unless they are
    there, a weights file is named, or the run is resumed (its checkpoint holds the weights)."""
    model = cfg.model if cfg is not None else ""
    if resuming:
        _err("note: --download-weights ignored: a resumed run continues from its checkpoint")
    elif not str(model).startswith("tv:"):
        _err(f"note: --download-weights ignored: {model} is not a torchvision (tv:) model")
    elif cfg.pretrained_path:
        _err("note: --download-weights ignored: --pretrained-path names the weights")
    elif cfg.model_args.get("pretrained", True) is not False:
        download_with_progress(model, quiet=quiet)


def cmd_train(args) -> int:
    from ..training import StopFlag, train

    cfg = _train_config(args)
    if args.download_weights:
        _download_weights_first(cfg, resuming=bool(args.resume), quiet=args.quiet)
    out = args.out
    if out is None:  # resuming: into the resumed run's own folder
        out = Path(args.resume) if Path(args.resume).is_dir() else Path(args.resume).parent
    stop = StopFlag()
    progress = TrainProgress(quiet=args.quiet, file=sys.stderr)

    def on_sigint(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        progress.write("stopping after this batch (Ctrl-C again to abort)...")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = train(cfg, out, callback=progress, stop=stop, resume=args.resume, overwrite=args.overwrite)
    finally:
        signal.signal(signal.SIGINT, previous)
        progress.close()
    if os.environ.get("RANK", "0") != "0":  # under torchrun only the main process reports
        return {"completed": 0, "stopped": 130, "failed": 1}[result.status]
    _err(f"{result.status}: {result.message}; best checkpoint: {result.best_checkpoint or 'none saved'}")
    if args.json:
        final = result.history[-1] if result.history else {}
        _out(
            {
                "status": result.status,
                "message": result.message,
                "best_checkpoint": result.best_checkpoint,
                "last_checkpoint": result.last_checkpoint,
                "best_val_acc": result.best_val_acc,
                "epochs_done": result.epochs_done,
                "early_stop_epoch": result.early_stop_epoch,
                "final_metrics": final,
                "out_dir": result.out_dir,
            }
        )
    return {"completed": 0, "stopped": 130, "failed": 1}[result.status]


# ---------------------------------------------------------------------------- evaluate / predict
def cmd_evaluate(args) -> int:
    from ..evaluation.run import evaluate_checkpoint

    bar = StageProgress(quiet=args.quiet)
    started = time.perf_counter()
    try:
        report = evaluate_checkpoint(
            args.checkpoint,
            args.data,
            split=args.split,
            tta=args.tta,
            device=args.device,
            progress=bar,
            precision=args.precision,
        )
    finally:
        bar.close()
    total_s = time.perf_counter() - started
    n = len(report.result.labels)
    # The last stage is the forward passes, timed from before the first batch; a rate over a time
    # too short to measure would be noise, so it is given only with a measurable time.
    model_s = bar.elapsed() if bar.stage == "evaluating" else None
    on_model = f"; {model_s:.2f} s on the model ({n / model_s:.0f} images/s)" if model_s and model_s >= 0.01 else ""
    _err(f"evaluated {n} images in {total_s:.1f} s, checking and decoding included{on_model}")
    if args.json:
        _out(report.to_dict())
        return 0
    r, classes = report.result, report.classes
    print(f"{report.describe()}\naccuracy {r.accuracy:.2%}  loss {r.loss:.4f}\n")
    width = max(len(c) for c in classes) + 2
    print(f"{'class':<{width}}precision  recall     f1  support")
    for c, p, rec, f, n in zip(classes, r.precision, r.recall, r.f1, r.confusion.sum(1)):
        print(f"{c:<{width}}{p:9.3f}{rec:8.3f}{f:7.3f}{n:9d}")
    print("\nconfusion matrix (rows: true class, columns: predicted)")
    short = [c[:6] for c in classes]
    print(" " * width + " ".join(f"{s:>6}" for s in short))
    for c, row in zip(classes, r.confusion):
        print(f"{c:<{width}}" + " ".join(f"{v:6d}" for v in row))
    return 0


def cmd_predict(args) -> int:
    from ..inference.predict import Predictor

    predictor = Predictor(args.checkpoint, device=args.device if args.device != "auto" else "cpu", view=args.view)
    bar = StageProgress(unit="img", quiet=args.quiet)
    try:
        results = predictor.predict_paths(args.paths, tta=args.tta, progress=bar)
    finally:
        bar.close()
    if not results:
        _err(f"error: no image files found in {', '.join(args.paths)}")
        return 2
    if predictor.last_rate:
        seconds = len(results) / predictor.last_rate
        n = f"{len(results)} image{'s' if len(results) != 1 else ''}"
        rate = predictor.last_rate
        speed = f"{rate:.0f} images/s" if rate >= 10 else f"{1 / rate:.2f} s per image"  # never "0 images/s"
        _err(f"{n} in {seconds:.2f} s ({speed}, decoding included)")
    _err(f"model {predictor.source}; photo view {predictor.view}; {TTA_NAMES[args.tta]}")
    if args.json:
        _out([r.to_dict() for r in results])
    else:
        for r in results:
            if r.error:
                print(f"{r.path}: error: {r.error}")
            else:
                ranked = ", ".join(f"{c} {p:.1%}" for c, p in r.ranked[:3])
                looks = f"; looks like {with_article(r.looks_like)}" if r.looks_like else ""
                hint = (
                    f"  (unknown: likely none of these classes{looks}, score {r.unknown_score:.3g})"
                    if r.unknown
                    else ""
                )
                hint = hint or ("  (low confidence)" if r.uncertain else "")
                print(f"{r.path}: {r.top} ({ranked}){hint}")
    return all_failed(results)


def cmd_bench(args) -> int:
    return run_bench(args)


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
