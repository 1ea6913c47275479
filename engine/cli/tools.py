"""``python -m engine`` commands for iterating on models: runs, lr-find, export, explain, weights
and ``models --summary``. Same conventions as engine/cli/commands.py: progress on stderr, ``--json`` on
stdout (never NaN), exit 2 with one line on stderr for bad usage or input.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
from pathlib import Path

from ..checkpoints.export_formats import EXPORT_FORMATS
from ..errors import EngineError
from ..runs.command import format_command, resume_command, train_command
from ..text import TTA_NAMES, format_size
from ..train_flags import DEVICE_METAVAR, device_type
from .common import _err, _out, add_tta_arguments, all_failed
from .stage_progress import is_terminal
from .train_args import _train_config, add_settings_arguments, train_defaults

# Imports inside functions: as in engine/cli/commands.py: a command imports what it runs (torch,
# tqdm), so --help and the light commands stay fast.

# Start-up: the commands import what needs torch, PIL or numpy (models, training, checkpoints,
# prediction, photo views) inside their functions, so building the parser imports none of them and
# `--help` answers at once (tests/test_cli.py measures it in a subprocess).
__all__ = ["add_parsers", "add_summary_arguments", "cmd_model_summary", "cmd_weights", "download_with_progress"]


# ---------------------------------------------------------------------------- models --summary
def add_summary_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "--summary", metavar="NAME", help="layer-by-layer table of one architecture (default: list them all)"
    )
    s.add_argument("--size", type=int, default=32, help="input height and width for --summary (default 32)")
    s.add_argument("--channels", type=int, default=3, choices=(1, 3), help="input channels for --summary (default 3)")
    s.add_argument("--num-classes", type=int, default=10, help="output classes for --summary (default 10)")


def cmd_model_summary(args) -> int:
    from ..models.summary import model_summary

    summary = model_summary(args.summary, args.num_classes, args.channels, (args.size, args.size))
    if args.json:
        _out(summary.to_dict())
    else:
        print(summary.table())
    return 0


# ---------------------------------------------------------------------------- runs
def cmd_runs(args) -> int:
    from ..runs.catalog import list_runs, read_run

    if args.show:
        details = read_run(args.show)
        run = Path(args.show)
        try:
            command = format_command(
                train_command(details.config, run, run / "config.json")  # into a new <run>-again folder
            )
        except EngineError as exc:  # no readable config: no command to offer
            command = None
            _err(f"note: {exc}")
        resume = format_command(resume_command(run)) if details.summary.resumable else None
        if args.json:
            _out({**details.to_dict(), "train_command": command, "resume_command": resume})
            return 0
        s = details.summary
        print(f"{s.name}: {s.status}{' (' + s.message + ')' if s.message else ''}")
        if s.problem:
            print(f"problem: {s.problem}")
        for r in details.epochs:
            acc = r.get("val_acc")
            val = f"val acc {acc:.2%}" if isinstance(acc, (int, float)) and math.isfinite(acc) else "no validation"
            print(f"  epoch {r.get('epoch')}: train loss {r.get('train_loss', float('nan')):.4f}, {val}")
        for c in details.checkpoints:
            print(f"  {c.name:<10} {format_size(c.size_bytes)}")
        if command:
            print(f"train again: {command}")
        if resume:
            print(f"resume:      {resume}")
        return 0
    runs = list_runs(args.folders, include_default=not args.only)
    if args.json:
        _out([r.to_dict() for r in runs])
        return 0
    if not runs:
        _err("no runs found")
        return 0
    print(f"{'name':<24} {'status':<10} {'model':<16} {'epochs':>7} {'best acc':>8}  {'date':<16} {'size':>9}  data")
    for r in runs:
        epochs = f"{r.epochs_done}/{r.epochs_planned if r.epochs_planned is not None else '?'}"
        acc = f"{r.best_val_acc:.2%}" if r.best_val_acc is not None else "-"
        print(
            f"{r.name[:24]:<24} {r.status:<10} {(r.model or '?')[:16]:<16} {epochs:>7} {acc:>8}  {r.date:<16} "
            f"{format_size(r.size_bytes):>9}  {r.data or '?'}"
        )
        if r.problem:
            print(f"{'':<24} problem: {r.problem}")
    return 0


# ---------------------------------------------------------------------------- lr-find
def _lr_config(args):
    # Every train option at its default, then ours: _train_config reads the same settings.
    base = train_defaults()
    ours = {k: v for k, v in vars(args).items() if k in base and k not in ("fn", "command", "json", "quiet")}
    return _train_config(argparse.Namespace(**{**base, **ours}))


def cmd_lr_find(args) -> int:
    from tqdm import tqdm

    from ..training import StopFlag
    from ..training.lr_range import lr_find

    cfg = _lr_config(args)
    stop = StopFlag()
    bars: list = []  # made at the first step: a bad data path fails before any bar is drawn

    def progress(step, steps, lr, loss):
        if not bars:
            quiet = args.quiet or not is_terminal(sys.stderr)  # a bar is for a person watching
            bars.append(tqdm(total=steps, desc="lr-find", file=sys.stderr, leave=False, disable=quiet))
        bars[0].n = step
        bars[0].set_postfix(lr=f"{lr:.2e}", loss=f"{loss:.3f}", refresh=True)

    def on_sigint(signum, frame):
        stop.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = lr_find(cfg, start_lr=args.start, end_lr=args.end, steps=args.steps, progress=progress, stop=stop)
    finally:
        signal.signal(signal.SIGINT, previous)
        for bar in bars:
            bar.close()
    if args.json:
        _out({"model": cfg.model, "data": cfg.data, "batch_size": cfg.batch_size, **result.to_dict()})
    else:
        n = len(result.lrs)
        for i in sorted({round(k * (n - 1) / 11) for k in range(12)} if n else ()):
            print(f"lr {result.lrs[i]:10.3e}   loss {result.losses[i]:8.4f}   smoothed {result.smoothed[i]:8.4f}")
        print(result.reason)
        if result.suggestion is not None:
            print(f"suggested learning rate: {result.suggestion:.3g} ({result.rule})")
            print(f"minimum loss at lr {result.min_loss_lr:.3g} (a tenth of it: {result.min_loss_lr / 10:.3g})")
        else:
            print("no suggestion: too few steps measured")
    return 130 if stop.is_set() else 0


# ---------------------------------------------------------------------------- export
def cmd_export(args) -> int:
    from ..checkpoints.export import export_checkpoint

    result = export_checkpoint(args.checkpoint, args.format, args.out, verify=not args.no_verify)
    if args.json:
        _out(result.to_dict())
        return 0
    print(f"wrote {result.path} and {result.sidecar}")
    diff = result.max_prob_diff
    if diff is not None and not diff <= 1e-3:  # NaN included
        _err(f"warning: the exported model's probabilities differ from PyTorch's by up to {diff:.2g}")
    elif diff is not None:
        print(f"checked: its probabilities match PyTorch's within {diff:.1e}")
    elif not args.no_verify:
        print("not checked: install onnxruntime to run the exported file (pip install 'cifar-studio[export]')")
    return 0


# ---------------------------------------------------------------------------- explain
def cmd_explain(args) -> int:
    from ..inference.explain import explain_files
    from ..inference.predict import expand_inputs

    if not expand_inputs(args.paths):
        _err(f"error: no image files found in {', '.join(args.paths)}")
        return 2
    results = explain_files(
        args.checkpoint, args.paths, args.out, class_name=args.class_name, device=args.device, tta=args.tta
    )
    done = next((r for r in results if not r.error), None)
    if done is not None:  # where the probabilities came from, as predict says it
        _err(f"model {done.checkpoint}; photo view {done.view}; {TTA_NAMES[done.tta]}")
    if args.json:
        _out([r.to_dict() for r in results])
    else:
        for r in results:
            if r.error:
                print(f"{r.path}: error: {r.error}")
            else:
                print(f"{r.path}: {r.class_name} ({r.probability:.1%}) -> {r.out}")
    return all_failed(results)


# ---------------------------------------------------------------------------- weights
def download_with_progress(name: str, quiet: bool = False) -> Path:
    """engine.download_weights with a byte-count bar on stderr (only on a terminal) and one
    line saying where the file went; already cached: says so and returns its path."""
    from ..models.weights_download import download_weights, weights_status

    status = weights_status(name)
    if status.cached:
        _err(f"{status.model}: ImageNet weights already cached in {status.path}")
        return Path(status.path)
    show = not quiet and sys.stderr is not None and sys.stderr.isatty()
    bars: list = []

    def progress(done: int, total: int | None) -> None:
        if not show:
            return
        if not bars:
            from tqdm import tqdm

            bars.append(
                tqdm(total=total, desc=status.file_name, unit="B", unit_scale=True, file=sys.stderr, leave=False)
            )
        bars[0].update(done - bars[0].n)

    size = f" ({format_size(status.size_bytes)})" if status.size_bytes else ""
    _err(f"{status.model}: downloading ImageNet weights{size} from {status.url}")
    try:
        path = download_weights(name, progress=progress)
    finally:
        for bar in bars:
            bar.close()
    _err(f"{status.model}: ImageNet weights saved to {path}")
    return path


def cmd_weights(args) -> int:
    from ..models.weights_download import list_weights, weights_status

    if args.list:
        rows = list_weights() if not args.names else [weights_status(n) for n in args.names]
        if args.json:
            _out([r.to_dict() for r in rows])
            return 0
        print(f"{'model':<28} {'cached':<7} {'size':>9}  file")
        for r in rows:
            size = format_size(r.size_bytes) if r.size_bytes else "?"
            print(f"{r.model:<28} {'yes' if r.cached else 'no':<7} {size:>9}  {r.path if r.cached else r.file_name}")
        cached = sum(r.cached for r in rows)
        folder = Path(rows[0].path).parent if rows else "?"
        print(f"\n{cached} of {len(rows)} cached in {folder}")
        return 0
    if not args.names:
        _err("error: weights: name a model (e.g. tv:resnet18) or use --list")
        return 2
    paths = [str(download_with_progress(name, quiet=args.quiet)) for name in args.names]
    if args.json:
        _out([{"model": weights_status(n).model, "path": p} for n, p in zip(args.names, paths)])
    return 0


# ---------------------------------------------------------------------------- parsers
def add_parsers(command) -> None:
    """Register runs, lr-find, export, explain and weights; ``command(name, **kwargs)`` adds a subparser."""
    from ..imaging.photo import DEFAULT_PHOTO_TTA

    s = command("runs", help="list training runs (status, accuracy, size) or show one")
    s.add_argument("folders", nargs="*", metavar="FOLDER", help="more folders to look in (besides the runs folder)")
    s.add_argument("--only", action="store_true", help="only the folders given, not the default runs folder")
    s.add_argument(
        "--show", metavar="RUN", help="one run's status, metrics, checkpoints and commands (default: list the runs)"
    )
    s.add_argument("--json", action="store_true", help="print the runs as JSON on stdout")
    s.set_defaults(fn=cmd_runs)

    s = command(
        "lr-find",
        help="learning-rate range test: a short sweep that suggests a learning rate",
        description="Settings as for train (defaults, --preset, --config, flags); the model is not saved.",
    )
    s.add_argument("--config", metavar="FILE", help="JSON file with TrainConfig fields (default none)")
    s.add_argument("--preset", help="start from a named recipe (see `presets`) (default none)")
    add_settings_arguments(s, lr_find=True)  # train's settings that the sweep reads
    s.add_argument("--start", type=float, default=1e-7, help="first learning rate (default 1e-7)")
    s.add_argument("--end", type=float, default=10.0, help="last learning rate (default 10)")
    s.add_argument("--steps", type=int, default=100, help="training steps in the sweep (default 100)")
    s.add_argument("--quiet", action="store_true", help="no progress bar (bars are drawn on a terminal only)")
    s.add_argument("--json", action="store_true", help="print the sweep and the suggestion as JSON on stdout")
    s.set_defaults(fn=cmd_lr_find)

    s = command("export", help="write a checkpoint as ONNX, TorchScript or safetensors (+ a JSON sidecar)")
    s.add_argument("--checkpoint", required=True, help="the checkpoint to export (a run's best.pt)")
    s.add_argument("--format", required=True, choices=tuple(EXPORT_FORMATS), help="the file format to write")
    s.add_argument("--out", required=True, help="the file to write; FILE.json is written beside it")
    s.add_argument("--no-verify", action="store_true", help="skip running the exported file against PyTorch")
    s.add_argument("--json", action="store_true", help="print what was written as JSON on stdout")
    s.set_defaults(fn=cmd_export)

    s = command("explain", help="Grad-CAM overlays as PNG: what the model looked at")
    s.add_argument("paths", nargs="+", metavar="IMAGE", help="images or folders")
    s.add_argument("--checkpoint", help="the model to explain (default: the bundled CIFAR-10 model)")
    s.add_argument("--out", required=True, help="folder for the PNG overlays")
    s.add_argument("--class", dest="class_name", metavar="NAME", help="explain this class (default: the top class)")
    add_tta_arguments(s, DEFAULT_PHOTO_TTA)  # the probabilities shown: the same as predict's
    s.add_argument("--device", type=device_type, metavar=DEVICE_METAVAR, default="cpu", help="(default cpu)")
    s.add_argument("--json", action="store_true", help="print one result per image as JSON on stdout")
    s.set_defaults(fn=cmd_explain)

    s = command(
        "weights",
        help="download a tv: model's ImageNet weights into the torch cache (--list: which are cached)",
        description="Fetches torchvision's default ImageNet weights (SHA-256 checked) into the torch hub cache, "
        "where training looks for them. CIFAR_STUDIO_WEIGHTS_URL names a mirror (replaces "
        "https://download.pytorch.org/models).",
    )
    s.add_argument("names", nargs="*", metavar="MODEL", help="torchvision models, e.g. tv:resnet18")
    s.add_argument("--list", action="store_true", help="list the models (or those named) and whether cached")
    s.add_argument("--quiet", action="store_true", help="no progress bar (bars are drawn on a terminal only)")
    s.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    s.set_defaults(fn=cmd_weights)
