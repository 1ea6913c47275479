"""What the commands of ``python -m engine`` do: models, presets, info, train, evaluate, predict
and bench (the parser that dispatches to them: engine/cli/program.py; the other commands:
engine/cli/tools.py). Progress goes to stderr; ``--json`` puts machine-readable results on stdout.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from .._version import __version__
from ..bench import run_bench
from ..presets import PRESETS
from ..text import TTA_NAMES, with_article
from .common import _err, _out, all_failed
from .progress import TrainProgress
from .stage_progress import StageProgress
from .tools import cmd_model_summary, download_with_progress
from .train_args import _train_config

# Imports inside functions: each command imports the engine part it runs, so `python -m engine
# --help` and the light commands start in 0.4 s without torch (importing torch alone: 3.3 s on the
# project's 2-core VM, `python -X importtime -c 'import torch'`).

# Start-up: the commands import what needs torch (models, training, checkpoints, evaluation,
# prediction) inside their functions, so building the parser imports no torch and `--help` answers
# at once (tests/test_cli.py checks it in a subprocess).
__all__ = ["cmd_bench", "cmd_evaluate", "cmd_info", "cmd_models", "cmd_predict", "cmd_presets", "cmd_train"]


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
            verdict = r.verdict  # the judgement every view of an answer shares (engine.inference.prediction)
            if verdict == "error":
                print(f"{r.path}: error: {r.error}")
                continue
            ranked = ", ".join(f"{c} {p:.1%}" for c, p in r.ranked[:3])
            hint = ""
            if verdict == "unknown":
                looks = f"; looks like {with_article(r.looks_like)}" if r.looks_like else ""
                hint = f"  (unknown: likely none of these classes{looks}, score {r.unknown_score:.3g})"
            elif verdict == "uncertain":
                hint = "  (low confidence)"
            print(f"{r.path}: {r.top} ({ranked}){hint}")
    return all_failed(results)


def cmd_bench(args) -> int:
    return run_bench(args)
