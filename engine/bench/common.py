"""Helpers the benchmarks share: progress lines, device sync, the training step, timing."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
import torch.nn.functional as F

from ..device import autocast_context

__all__ = ["cycle", "default_data", "ms", "say", "sync", "time_calls", "time_interleaved", "train_step"]


def say(msg: str) -> None:
    """Progress on stderr (stdout carries the report); windowed builds have no stderr."""
    if sys.stderr is not None:
        sys.stderr.write(msg + "\n")
        sys.stderr.flush()


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so a timer measures the work and not its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def default_data() -> str:
    """The shared CIFAR-10 archive beside the checkout when present, else torchvision's cifar10."""
    repo = Path(__file__).resolve().parents[2]
    for candidate in (
        repo.parent / "shared" / "datasets" / "cifar10-train.zip",
        repo / "shared" / "datasets" / "cifar10-train.zip",
    ):
        if candidate.exists():
            return str(candidate)
    return "cifar10"


def train_step(model, optimizer, device, amp_dtype, label_smoothing: float = 0.0) -> Callable:
    """One optimizer step on a batch, under autocast when ``amp_dtype`` is set."""

    def step(x, y):
        with autocast_context(device, amp_dtype):
            loss = F.cross_entropy(model(x).float(), y, label_smoothing=label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    return step


def cycle(loader: Iterable):
    """A DataLoader's batches without end (each pass reshuffles)."""
    if len(loader) == 0:
        raise ValueError("the data loader yields no batches")
    while True:
        yield from loader


def time_calls(fn: Callable[[], object], repeats: int) -> list[float]:
    """Seconds taken by each of ``repeats`` calls of ``fn`` (after one untimed warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def time_interleaved(fns: list[Callable[[], object]], repeats: int) -> list[list[float]]:
    """Seconds per call of each of ``fns``, called in turn ``repeats`` times (after one warm-up
    call each), so load from other processes falls on all of them alike."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, times):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return times


def ms(seconds: Iterable[float] | float) -> float:
    """Milliseconds, rounded for a report: the median of a list, or one value."""
    value = statistics.median(seconds) if not isinstance(seconds, (int, float)) else seconds
    return round(1000 * value, 2)
