"""The weights' names as the model defines them: the one helper both the checkpoint format and
its checks need (a leaf, so neither imports the other for it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["clean_state_dict"]


def clean_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip wrapper prefixes (``module.`` from DDP, ``_orig_mod.`` from torch.compile)."""
    out = {}
    for k, v in state.items():
        stripped = True
        while stripped:  # in any order: compile(DDP(model)) gives "_orig_mod.module."
            stripped = False
            for prefix in ("module.", "_orig_mod."):
                if k.startswith(prefix):
                    k, stripped = k[len(prefix) :], True
        out[k.replace("._orig_mod.", ".")] = v
    return out
