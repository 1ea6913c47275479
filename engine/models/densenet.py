"""DenseNet-BC (Huang et al. 2017) with the ImageNet block configurations, adapted to 32x32.

Growth rate 32, bottleneck layers (BN-ReLU-1x1 conv to 4k channels, BN-ReLU-3x3 conv to k)
and transitions that halve the channels (compression 0.5) and the resolution. The ImageNet
7x7 stride-2 stem and max-pool would shrink a 32x32 image to 8x8 before the first block, so
the stem is one 3x3 stride-1 conv to 2k channels (as kuangliu/pytorch-cifar does); the four
dense blocks then run at 32/16/8/4 px. Global average pooling accepts 28x28 inputs too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register

__all__ = ["DenseNet"]


class _DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, 4 * growth, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(4 * growth), nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        new = self.conv2(F.relu(self.bn2(self.conv1(F.relu(self.bn1(x))))))
        # Dense connectivity: every layer sees all earlier feature maps of its block.
        return torch.cat([x, new], 1)


class _Transition(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(
            nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, cout, 1, bias=False), nn.AvgPool2d(2)
        )


class DenseNet(nn.Module):
    def __init__(
        self,
        blocks: tuple[int, ...],
        growth: int = 32,
        reduction: float = 0.5,
        num_classes: int = 10,
        in_channels: int = 3,
    ):
        super().__init__()
        channels = 2 * growth
        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, 3, padding=1, bias=False)]
        for i, n in enumerate(blocks):
            for _ in range(n):
                layers.append(_DenseLayer(channels, growth))
                channels += growth
            if i < len(blocks) - 1:
                out = int(channels * reduction)
                layers.append(_Transition(channels, out))
                channels = out
        # The layers are pre-activation, so the last block's output still needs BN-ReLU.
        layers += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


_FAMILY = "DenseNet"


def _register(depth: int, blocks: tuple[int, ...], params: str) -> None:
    @register(
        f"densenet{depth}",
        _FAMILY,
        f"DenseNet-BC-{depth} (Huang et al. 2017, k=32, {params} params) "
        "adapted to 32x32: 3x3 stride-1 stem, no max-pool",
    )
    def factory(num_classes: int, in_channels: int) -> nn.Module:
        return DenseNet(blocks, 32, 0.5, num_classes, in_channels)


_register(121, (6, 12, 24, 16), "7.0M")
_register(169, (6, 12, 32, 32), "12.5M")
_register(201, (6, 12, 48, 32), "18.1M")
