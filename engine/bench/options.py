"""``python -m engine bench``'s options: plain argparse, no torch, so ``--help`` stays fast."""

from __future__ import annotations

__all__ = ["DEFAULT_PEER_SCALE", "MEGAPIXELS", "PARTS", "add_bench_arguments"]

# Every benchmark, in the order it runs and reports; `--skip NAME` leaves one out.
PARTS = ("throughput", "accuracy", "peer", "decode", "predict", "evaluation")
DEFAULT_PEER_SCALE = 0.1  # a tenth of each recipe's epochs in the comparison with airbench94 (minutes on a CPU)
MEGAPIXELS = (0.3, 3.0, 12.0)  # photo sizes of the one-photo latency benchmark


def add_bench_arguments(p) -> None:
    p.add_argument(
        "--data",
        default=None,
        help="dataset for the training benchmarks (default: the shared CIFAR-10 archive when found, else cifar10)",
    )
    p.add_argument("--model", default="fastnet", help="model for the throughput comparison (default %(default)s)")
    p.add_argument(
        "--batch-size", type=int, default=256, help="batch size for the throughput comparison (default %(default)s)"
    )
    p.add_argument("--device", default="auto", help="where to run: auto, cpu, cuda, cuda:N or mps (default auto)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved measurement rounds (default %(default)s)")
    p.add_argument("--steps", type=int, default=6, help="training steps per pipeline per round (default %(default)s)")
    p.add_argument(
        "--budget",
        type=float,
        default=300.0,
        help="seconds of training per recipe in the accuracy comparison, 0 skips it (default %(default)s)",
    )
    p.add_argument(
        "--peer-scale",
        type=float,
        default=DEFAULT_PEER_SCALE,
        help="fraction of each recipe's epochs in the comparison with airbench94, 0 skips it (default %(default)s)",
    )
    p.add_argument(
        "--classic-workers",
        type=int,
        default=2,
        help="DataLoader workers of the classic pipeline, as the tutorials use (default %(default)s)",
    )
    p.add_argument("--limit", type=int, default=None, help="use at most N training images (default all)")
    p.add_argument(
        "--checkpoint", default=None, help="model for the prediction and evaluation benchmarks (default: bundled)"
    )
    p.add_argument(
        "--megapixels",
        type=float,
        nargs="+",
        default=list(MEGAPIXELS),
        help="photo sizes for the one-photo latency (default: 0.3 3 12)",
    )
    p.add_argument(
        "--repeats", type=int, default=10, help="timed repeats of each one-photo measurement (default %(default)s)"
    )
    p.add_argument(
        "--folder-photos", type=int, default=100, help="photos in the folder-throughput benchmark (default %(default)s)"
    )
    p.add_argument(
        "--folder-megapixels", type=float, default=3.0, help="megapixels of each of those photos (default %(default)s)"
    )
    p.add_argument(
        "--skip", action="append", default=[], choices=PARTS, help="leave out one benchmark (repeatable; default none)"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
