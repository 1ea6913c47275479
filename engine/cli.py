"""``python -m engine``: models, presets, train, evaluate, predict, bench, info (and, from
engine/cli_tools.py: runs, lr-find, export, explain, weights).

Progress goes to stderr; ``--json`` puts machine-readable results on stdout. Exit status:
see :data:`EXIT_CODES` (also the epilog of ``--help``).

Building the parser imports no torch, so ``--help`` and ``--version`` answer at once
(tests/test_cli.py checks it in a subprocess).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

from .config import DEVICES, OPTIMIZERS, PRECISIONS, SCHEDULES, TrainConfig
from .errors import ConfigError

__all__ = ["EXIT_CODES", "build_parser", "main", "prog_name"]

EXIT_CODES = (
    (0, "success (some files of predict or explain may have failed: each says why)"),
    (1, "a training run failed (divergence, disk full), or every input of predict or explain failed"),
    (2, "bad usage or an unusable input (one line on stderr)"),
    (130, "interrupted (Ctrl-C; training saves a resumable last.pt)"),
)
ENTRY_POINT = "cifar-studio-engine"  # the console script of pyproject.toml

_logger = logging.getLogger("engine.cli")


def _out(obj) -> None:
    from .training.run_files import json_safe

    # Strict JSON: NaN / infinity become null (json.dumps would write the invalid `NaN`).
    sys.stdout.write(json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")


def _err(msg: str) -> None:
    if sys.stderr is not None:
        sys.stderr.write(msg + "\n")


# ---------------------------------------------------------------------------- models / presets / info
def cmd_models(args) -> int:
    from .models import list_models, parameter_count

    if getattr(args, "summary", None):
        from .cli_tools import cmd_model_summary

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
    from .presets import PRESETS

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

    from . import __version__
    from .device import cpu_has_fast_bf16, detect_device
    from .paths import cache_dir, data_dir, default_checkpoint_path

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
    from .checkpoint import load_checkpoint
    from .config import TrainConfig
    from .presets import preset_config

    flags = _train_flags(args)
    if args.resume:
        # A resumed run keeps its own settings; only --epochs changes its length (the trainer
        # refuses one it is already past). A fresh config would silently replace them with
        # defaults, so every other setting given is named as ignored.
        from .run_command import FLAGS  # each setting's flag, written once

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


def _download_weights_first(cfg, resuming: bool, quiet: bool) -> None:
    """--download-weights: fetch a tv: model's ImageNet weights into the cache unless they are
    there, a weights file is named, or the run is resumed (its checkpoint holds the weights)."""
    from .cli_tools import download_with_progress

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
    from .cli_progress import TrainProgress
    from .training import StopFlag, train

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
    from .cli_stage_progress import StageProgress
    from .evaluation_run import evaluate_checkpoint

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
    from .cli_stage_progress import StageProgress
    from .predict import Predictor
    from .text import TTA_NAMES, with_article

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
        _err(f"{n} in {seconds:.2f} s ({predictor.last_rate:.0f} images/s, decoding included)")
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


def all_failed(results) -> int:
    """Exit status of a command that handles files one by one: 1 when not one of them worked."""
    if results and all(r.error for r in results):
        _err(f"error: all {len(results)} input{'s' if len(results) != 1 else ''} failed")
        return 1
    return 0


def cmd_bench(args) -> int:
    from .bench import run_bench

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
    from ._version import __version__

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
    from .cli_tools import add_summary_arguments

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
    s.set_defaults(fn=cmd_train)

    from .splits import SPLITS

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
    s.add_argument("--device", type=_DEVICE, metavar=_DEVICE_METAVAR, default="auto", help="(default auto)")
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

    from .photo import DEFAULT_PHOTO_TTA, DEFAULT_VIEW, VIEWS

    s = command("predict", help="classify images and folders")
    s.add_argument("paths", nargs="+", metavar="PATH", help="image files and folders of them")
    s.add_argument("--checkpoint", help="the model to use (default: the bundled CIFAR-10 model)")
    add_tta_arguments(s, DEFAULT_PHOTO_TTA)
    s.add_argument("--device", type=_DEVICE, metavar=_DEVICE_METAVAR, default="cpu", help="(default cpu)")
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
    from .bench import add_bench_arguments

    add_bench_arguments(s)
    s.set_defaults(fn=cmd_bench)

    from .cli_tools import add_parsers  # runs, lr-find, export, explain

    add_parsers(command)
    return p


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
    from .errors import EngineError

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
