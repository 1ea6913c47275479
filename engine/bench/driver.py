"""``python -m engine bench``: the options, the run of each benchmark, and the report."""

from __future__ import annotations

import json
import sys

import torch

from .. import paths
from ..data.sources import DataSpec, load_dataset
from ..device import detect_device, resolve_device, set_thread_budget
from . import accuracy, decode, evaluation, peer, predict, throughput
from .common import default_data, say
from .options import PARTS

__all__ = ["run_bench"]

_MODULES = {m.__name__.rsplit(".", 1)[1]: m for m in (throughput, accuracy, peer, decode, predict, evaluation)}
assert tuple(_MODULES) == PARTS  # the options name every benchmark, in the order they run


def run_bench(args) -> int:
    threads = set_thread_budget()
    device = resolve_device(args.device)
    report: dict = {"device": str(device), "torch": str(torch.__version__), "threads": threads}
    report["device_name"] = detect_device().name if args.device == "auto" else str(device)
    say(f"bench on {report['device_name']} (torch threads: {threads}), torch {report['torch']}")
    ds = None
    if {"throughput", "accuracy", "peer"} - set(args.skip):
        ds = load_dataset(DataSpec(args.data or default_data(), val_fraction=0.1, seed=0, limit=args.limit))
        report["data"] = ds.describe()
    if "throughput" not in args.skip:
        say(f"training throughput, {args.model}, batch {args.batch_size} (fast vs classic, interleaved):")
        report["throughput"] = throughput.bench_throughput(
            ds, args.model, args.batch_size, device, args.rounds, args.steps, args.classic_workers
        )
    if "accuracy" not in args.skip and args.budget > 0:
        say(f"accuracy after {args.budget:.0f} s of training each:")
        report["accuracy"] = accuracy.bench_accuracy(ds, device, args.budget, args.classic_workers)
    if "peer" not in args.skip and args.peer_scale > 0:
        say(f"fast preset vs airbench94, {args.peer_scale:g} of each recipe's epochs:")
        report["peer"] = peer.bench_peer(ds, device, args.peer_scale)
    if "decode" not in args.skip:
        say("first decode of the data (engine, then the straightforward loop):")
        report["decode"] = decode.bench_decode(args.data or default_data())
    ckpt = args.checkpoint or (paths.default_checkpoint_path() if paths.default_checkpoint_path().exists() else None)
    for part in ("predict", "evaluation"):
        if part in args.skip:
            continue
        if ckpt is None:
            report[part] = {"skipped": "no bundled default model; pass --checkpoint"}
        elif part == "predict":
            say("prediction (photos made at each size; engine, then every pixel decoded):")
            report["predict"] = predict.bench_predict(
                ckpt, args.repeats, args.folder_photos, args.folder_megapixels, tuple(args.megapixels)
            )
        else:
            say("evaluation (engine, then the tutorials' loop):")
            report["evaluation"] = evaluation.bench_evaluation(ckpt, args.data or default_data())
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        print_report(report)
    return 0


def print_report(r: dict) -> None:
    print(f"device {r['device_name']} (torch threads: {r['threads']}), torch {r['torch']}")
    if "data" in r:
        print(f"data   {r['data']}")
    for key in PARTS:
        if key in r:
            print("\n" + "\n".join(_MODULES[key].report_lines(r[key])))
