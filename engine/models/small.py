"""Small CNNs for quick experiments: the chapter 8 networks of "Deep Learning with PyTorch"
(Stevens, Antiga & Viehmann 2020, the birds-vs-airplanes CIFAR subset) and a small residual
CNN for MNIST.

The book's networks assume 32x32 input: two 2x2 max-pools leave 8x8 maps for ``fc1``. Here
the second pool is an adaptive max-pool to 8x8, which is exactly the book's 2x2 pool on
32x32 input and also takes 28x28 (MNIST-sized) images, so every model here accepts
1 or 3 input channels and 28x28 or 32x32 images.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register

__all__ = ["MnistResNet", "TutorialNet", "TutorialResNet"]


class TutorialNet(nn.Module):
    """The book's ``Net`` family: conv-tanh-pool twice, then fc-tanh-fc.

    ``width`` is the first conv's channel count (the second has half); ``dropout`` adds
    ``Dropout2d`` after each conv block (``NetDropout``); ``batch_norm`` adds batch norm
    between each conv and its tanh (``NetBatchNorm``).
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        width: int = 16,
        dropout: float = 0.0,
        batch_norm: bool = False,
    ):
        super().__init__()
        half = width // 2
        layers: list[nn.Module] = []
        for cin, cout, pool in ((in_channels, width, nn.MaxPool2d(2)), (width, half, nn.AdaptiveMaxPool2d(8))):
            layers.append(nn.Conv2d(cin, cout, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(cout))
            layers += [nn.Tanh(), pool]
            if dropout:
                layers.append(nn.Dropout2d(dropout))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(8 * 8 * half, 32), nn.Tanh(), nn.Linear(32, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class _BookResBlock(nn.Module):
    """The book's ``ResBlock``: conv-BN-ReLU plus the input; one conv per block."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        # The book's init: Kaiming for the conv and BN scale 0.5, so each block starts by
        # adding only a damped update and a deep stack stays well conditioned.
        nn.init.kaiming_normal_(self.conv.weight, nonlinearity="relu")
        nn.init.constant_(self.bn.weight, 0.5)
        nn.init.zeros_(self.bn.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x))) + x


class TutorialResNet(nn.Module):
    """The book's ``NetResDeep``: conv, ``n_blocks`` residual blocks, two FC layers."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: int = 32, n_blocks: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        # A fresh block per position: the book's `n_blocks * [ResBlock(...)]` repeats one
        # module, so all its blocks would share weights.
        self.blocks = nn.Sequential(*(_BookResBlock(width) for _ in range(n_blocks)))
        self.classifier = nn.Sequential(
            nn.AdaptiveMaxPool2d(8), nn.Flatten(), nn.Linear(8 * 8 * width, 32), nn.ReLU(), nn.Linear(32, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.blocks(self.stem(x)))


class _ResBlock(nn.Module):
    """Two conv-BN layers with an identity shortcut (the original ResNet basic block)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + x)


class MnistResNet(nn.Module):
    """conv 32, two residual blocks, strided conv to 64, one residual block, GAP, linear."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            _ResBlock(32),
            _ResBlock(32),
            # Stride 2 halves the map (28 -> 14, 32 -> 16) while doubling the channels.
            nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            _ResBlock(64),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(64, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


_FAMILY = "Tutorial"


@register(
    "tutorial_net",
    _FAMILY,
    "'Deep Learning with PyTorch' ch. 8 Net: 2 conv-tanh-pool (16, 8 ch), "
    "2 FC; native 32x32, 28x28 via adaptive pooling",
)
def tutorial_net(num_classes: int, in_channels: int) -> nn.Module:
    return TutorialNet(num_classes, in_channels, 16)


@register(
    "tutorial_net_wide",
    _FAMILY,
    "'Deep Learning with PyTorch' ch. 8 NetWidth: Net with `width` (32) then width/2 channels; native 32x32",
    width=32,
)
def tutorial_net_wide(num_classes: int, in_channels: int, width: int = 32) -> nn.Module:
    return TutorialNet(num_classes, in_channels, int(width))


@register(
    "tutorial_net_dropout",
    _FAMILY,
    "'Deep Learning with PyTorch' ch. 8 NetDropout: NetWidth with Dropout2d(0.4) after each conv block; native 32x32",
    width=32,
)
def tutorial_net_dropout(num_classes: int, in_channels: int, width: int = 32) -> nn.Module:
    return TutorialNet(num_classes, in_channels, int(width), dropout=0.4)


@register(
    "tutorial_net_bn",
    _FAMILY,
    "'Deep Learning with PyTorch' ch. 8 NetBatchNorm: NetWidth with batch norm before each tanh; native 32x32",
    width=32,
)
def tutorial_net_bn(num_classes: int, in_channels: int, width: int = 32) -> nn.Module:
    return TutorialNet(num_classes, in_channels, int(width), batch_norm=True)


@register(
    "tutorial_net_res",
    _FAMILY,
    "'Deep Learning with PyTorch' ch. 8 NetResDeep: conv + `n_blocks` "
    "(10) conv-BN-ReLU residual blocks, 2 FC; native 32x32",
    width=32,
    n_blocks=10,
)
def tutorial_net_res(num_classes: int, in_channels: int, width: int = 32, n_blocks: int = 10) -> nn.Module:
    return TutorialResNet(num_classes, in_channels, int(width), int(n_blocks))


@register(
    "mnist_resnet",
    _FAMILY,
    "Small residual CNN for MNIST-sized images (32-32-64 ch, 3 residual blocks, GAP head); native 28x28 and 32x32",
)
def mnist_resnet(num_classes: int, in_channels: int) -> nn.Module:
    return MnistResNet(num_classes, in_channels)
