"""Multi-GPU (or multi-process CPU) training under ``torchrun``: set up, wrap, tear down.

torchrun sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; without them everything here is
a no-op and training runs in one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as td
from torch import nn

__all__ = ["DistContext", "setup", "teardown", "wrap"]


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    device: torch.device | None = None  # set under torchrun: this rank's GPU (or CPU with gloo)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup() -> DistContext:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
        device, backend = torch.device("cuda", local), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not td.is_initialized():
        td.init_process_group(backend=backend)
    return DistContext(td.get_rank(), td.get_world_size(), device)


def wrap(model: nn.Module, ctx: DistContext) -> nn.Module:
    """DistributedDataParallel when running under torchrun, else the model itself."""
    if ctx.world_size <= 1:
        return model
    ids = [ctx.device.index] if ctx.device is not None and ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def teardown(ctx: DistContext) -> None:
    if ctx.world_size > 1 and td.is_initialized():
        td.destroy_process_group()
