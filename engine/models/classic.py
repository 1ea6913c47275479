"""Classic CNNs: Network-in-Network, LeNet-5, AlexNet (adapted) and VGG-16 with batch norm.

* ``nin``: Lin et al. 2013, their CIFAR-10 network: three mlpconv blocks (a spatial conv and
  two 1x1 convs), max- then average-pooling, dropout 0.5 between blocks, and global average
  pooling of one feature map per class instead of a linear classifier. The third block uses a
  3x3 conv as in the authors' released CIFAR-10 model; that is what gives the published
  0.97 M parameters (a 5x5 conv there would make it 1.56 M). The final ReLU of that model
  is left out so that logits can be negative.
* ``lenet5``: LeCun et al. 1998: conv6-pool-conv16-pool-fc120-fc84 with tanh and average
  pooling ("subsampling"). Like the original on MNIST, 28x28 inputs are zero-padded to 32x32.
* ``alexnet``: Krizhevsky et al. 2012 *adapted* to 32x32: the same five conv layers
  (64-192-384-256-256) with 3x3 kernels and stride 1 in place of the 11x11/5x5 ones, three
  2x2 max-pools, and three FC layers (2048-2048-classes) with dropout 0.5.
* ``vgg16_bn``: Simonyan & Zisserman 2014, configuration D with batch norm: 13 3x3 convs in
  5 stages; on 32x32 input the last pool leaves 1x1x512, so the classifier is one linear
  layer 512 -> classes (the three 4096-wide FC layers are meant for 7x7x512 maps).

Pools that can meet odd sizes use ``ceil_mode`` so that 28x28 inputs also work.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import EngineError
from .registry import register

__all__ = ["NIN", "VGG16BN", "AlexNetSmall", "LeNet5"]


def _mlpconv(cin: int, widths: tuple[int, int, int], k: int, last_relu: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, widths[0], k, padding=k // 2), nn.ReLU(inplace=True)]
    layers += [nn.Conv2d(widths[0], widths[1], 1), nn.ReLU(inplace=True), nn.Conv2d(widths[1], widths[2], 1)]
    return layers + [nn.ReLU(inplace=True)] if last_relu else layers


class NIN(nn.Sequential):
    def __init__(self, num_classes: int = 10, in_channels: int = 3):
        super().__init__(
            *_mlpconv(in_channels, (192, 160, 96), 5),
            nn.MaxPool2d(3, stride=2, padding=1),
            nn.Dropout(0.5),
            *_mlpconv(96, (192, 192, 192), 5),
            nn.AvgPool2d(3, stride=2, padding=1),
            nn.Dropout(0.5),
            *_mlpconv(192, (192, 192, num_classes), 3, last_relu=False),
            nn.AdaptiveAvgPool2d(1),  # one map per class, averaged: the classifier
            nn.Flatten(),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                # The original used N(0, 0.05) weights; Kaiming init works without tuning.
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)


class LeNet5(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 3, activation: str = "tanh"):
        super().__init__()
        acts = {"tanh": nn.Tanh, "relu": nn.ReLU}
        if activation not in acts:
            raise EngineError(f"activation must be 'tanh' or 'relu', got {activation!r}")
        act = acts[activation]
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5),
            act(),
            nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5),
            act(),
            nn.AvgPool2d(2),
            # Identity on 32x32 inputs (5x5 maps); lets larger images through too.
            nn.AdaptiveAvgPool2d(5),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),
            act(),
            nn.Linear(120, 84),
            act(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h < 32 or w < 32:
            # LeCun et al. padded 28x28 MNIST digits to 32x32 so strokes reach the centre
            # of the top feature detectors' receptive fields.
            top, left = max(0, 32 - h) // 2, max(0, 32 - w) // 2
            x = F.pad(x, (left, max(0, 32 - w) - left, top, max(0, 32 - h) - top))
        return self.classifier(self.features(x))


class AlexNetSmall(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 192, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(192, 384, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2, ceil_mode=True),  # 32 -> 4 and 28 -> 4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(256 * 4 * 4, 2048),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(2048, 2048),
            nn.ReLU(inplace=True),
            nn.Linear(2048, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class VGG16BN(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        cin = in_channels
        for v in _VGG16:
            if v == "M":
                layers.append(nn.MaxPool2d(2, ceil_mode=True))  # 28 -> 14 -> 7 -> 4 -> 2 -> 1
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1, bias=False), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                cin = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


_FAMILY = "Classic"


@register(
    "nin",
    _FAMILY,
    "Network-in-Network (Lin et al. 2013), native 32x32 CIFAR design, global-average-pooling head, 0.97M params",
)
def nin(num_classes: int, in_channels: int) -> nn.Module:
    return NIN(num_classes, in_channels)


@register(
    "lenet5",
    _FAMILY,
    "LeNet-5 (LeCun et al. 1998), native 32x32 (28x28 zero-padded to 32), tanh or relu, 62K params",
    activation="tanh",
)
def lenet5(num_classes: int, in_channels: int, activation: str = "tanh") -> nn.Module:
    return LeNet5(num_classes, in_channels, activation)


@register(
    "alexnet",
    _FAMILY,
    "AlexNet (Krizhevsky et al. 2012) adapted to 32x32: 3x3 convs, 2048-wide FC layers, 14.9M params",
)
def alexnet(num_classes: int, in_channels: int) -> nn.Module:
    return AlexNetSmall(num_classes, in_channels)


@register(
    "vgg16_bn",
    _FAMILY,
    "VGG-16 with batch norm (Simonyan & Zisserman 2014) adapted to 32x32: "
    "single linear classifier on 512 features, 14.7M params",
)
def vgg16_bn(num_classes: int, in_channels: int) -> nn.Module:
    return VGG16BN(num_classes, in_channels)
