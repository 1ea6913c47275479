"""GoogLeNet (Szegedy et al. 2015, "Going Deeper with Convolutions") adapted to 32x32.

The nine inception modules 3a..5b have the widths of table 1 of the paper, with a true 5x5
branch. The ImageNet stem (7x7 stride 2, max-pool, 1x1 and 3x3 convs, max-pool) would reduce
a 32x32 image to 4x4 before the first module, so it is replaced by a single 3x3 stride-1 conv
to 192 channels, as kuangliu/pytorch-cifar does; modules 3x run at 32 px, 4x at 16 px and
5x at 8 px. Every conv is followed by batch norm (absent from the paper, which had to rely on
auxiliary classifiers to train; those are left out here). Dropout 0.4 before the linear layer
as in the paper. Global average pooling accepts 28x28 inputs too.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register

__all__ = ["GoogLeNet", "Inception"]


def _conv_bn(cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class Inception(nn.Module):
    """Four parallel branches (1x1; 1x1-3x3; 1x1-5x5; 3x3 max-pool-1x1) concatenated."""

    def __init__(self, cin: int, n1: int, r3: int, n3: int, r5: int, n5: int, pool_proj: int):
        super().__init__()
        self.b1 = _conv_bn(cin, n1, 1)
        # The 1x1 "reduce" convs keep the 3x3 and 5x5 convs cheap.
        self.b3 = nn.Sequential(_conv_bn(cin, r3, 1), _conv_bn(r3, n3, 3))
        self.b5 = nn.Sequential(_conv_bn(cin, r5, 1), _conv_bn(r5, n5, 5))
        self.bp = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), _conv_bn(cin, pool_proj, 1))
        self.out_channels = n1 + n3 + n5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], 1)


# (name, in, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj): table 1 of the paper.
_MODULES = (
    ("3a", 192, 64, 96, 128, 16, 32, 32),
    ("3b", 256, 128, 128, 192, 32, 96, 64),
    ("4a", 480, 192, 96, 208, 16, 48, 64),
    ("4b", 512, 160, 112, 224, 24, 64, 64),
    ("4c", 512, 128, 128, 256, 24, 64, 64),
    ("4d", 512, 112, 144, 288, 32, 64, 64),
    ("4e", 528, 256, 160, 320, 32, 128, 128),
    ("5a", 832, 256, 160, 320, 32, 128, 128),
    ("5b", 832, 384, 192, 384, 48, 128, 128),
)


class GoogLeNet(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        layers = nn.Sequential()
        layers.add_module("stem", _conv_bn(in_channels, 192, 3))
        for name, *widths in _MODULES:
            if name in ("4a", "5a"):  # the paper's max-pools between the module groups
                layers.add_module(f"pool{name[0]}", nn.MaxPool2d(3, stride=2, padding=1))
            layers.add_module(f"inception{name}", Inception(*widths))
        self.features = layers
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.4), nn.Linear(1024, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register(
    "googlenet",
    "GoogLeNet",
    "GoogLeNet / Inception v1 (Szegedy et al. 2015) with batch norm, "
    "adapted to 32x32: 3x3 stride-1 stem, no auxiliary heads, 5.9M params",
)
def googlenet(num_classes: int, in_channels: int) -> nn.Module:
    return GoogLeNet(num_classes, in_channels)
