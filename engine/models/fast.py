"""A wide, shallow conv net built for accuracy per second of training ("fastnet").

Ideas from the fastest published CIFAR-10 trainers (see shared/notes/performance.md), in
code of our own: a 2x2 patch-whitening stem initialised from the training data, three
conv-pool-norm-GELU groups, frozen batch-norm scales, identity-initialised convolutions and
a tempered linear head. About 2 M parameters and 0.24 GFLOP per 32x32 image.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register

__all__ = ["FastNet"]


class _BatchNorm(nn.BatchNorm2d):
    """Batch norm with a fixed unit scale: only the shift is learnt (it trains faster)."""

    def __init__(self, channels: int, momentum: float = 0.4, eps: float = 1e-12):
        super().__init__(channels, eps=eps, momentum=momentum)
        self.weight.requires_grad_(False)


def _conv(cin: int, cout: int) -> nn.Conv2d:
    conv = nn.Conv2d(cin, cout, 3, padding="same", bias=False)
    # Identity init for the first min(cin, cout) filters: every group starts close to a
    # pass-through, which lets very high learning rates work from the first step.
    with torch.no_grad():
        w = conv.weight
        nn.init.kaiming_uniform_(w, a=5**0.5)
        k = min(cin, cout)
        nn.init.dirac_(w[:k])
    return conv


class _ConvGroup(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(
            _conv(cin, cout),
            nn.MaxPool2d(2),
            _BatchNorm(cout),
            nn.GELU(),
            _conv(cout, cout),
            _BatchNorm(cout),
            nn.GELU(),
        )


class FastNet(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 3, widths=(64, 256, 256), logit_scale: float = 1 / 9):
        super().__init__()
        whiten_channels = 2 * in_channels * 4  # +/- each eigenvector of the 2x2 patches
        self.whiten = nn.Conv2d(in_channels, whiten_channels, 2, padding=0, bias=True)
        self.whiten.weight.requires_grad_(False)  # set from data, then fixed
        groups, cin = [], whiten_channels
        for w in widths:
            groups.append(_ConvGroup(cin, w))
            cin = w
        self.features = nn.Sequential(nn.GELU(), *groups, nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.head = nn.Linear(cin, num_classes, bias=False)
        self.logit_scale = logit_scale

    @torch.no_grad()
    def init_from_data(self, images: torch.Tensor, eps: float = 5e-4) -> None:
        """Set the stem to whiten 2x2 patches of ``images`` (normalised float N,C,H,W).

        Called by the trainer once before training; a loaded checkpoint already holds the
        result, so prediction never needs data.
        """
        c = images.shape[1]
        patches = images.float().unfold(2, 2, 1).unfold(3, 2, 1)  # N,C,H',W',2,2
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * 4)
        patches = patches - patches.mean(0, keepdim=True)
        cov = patches.T @ patches / len(patches)
        eigvals, eigvecs = torch.linalg.eigh(cov)
        filters = (eigvecs.T / torch.sqrt(eigvals + eps)[:, None]).reshape(c * 4, c, 2, 2)
        w = torch.cat([filters, -filters]).to(self.whiten.weight)
        self.whiten.weight.copy_(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(self.whiten(x))) * self.logit_scale


@register(
    "fastnet",
    "Fast",
    "Wide shallow conv net with a whitening stem: the fast recipe's model and the bundled one",
)
def fastnet(num_classes: int, in_channels: int, widths=(64, 256, 256)) -> nn.Module:
    return FastNet(num_classes, in_channels, tuple(widths))


@register("fastnet-wide", "Fast", "Wider fastnet (128/384/384): more capacity, about 2.5x slower per image")
def fastnet_wide(num_classes: int, in_channels: int) -> nn.Module:
    return FastNet(num_classes, in_channels, (128, 384, 384))
