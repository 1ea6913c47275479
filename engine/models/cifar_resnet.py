"""CIFAR ResNets: the 6n+2-layer networks of He et al. 2016 ("Deep Residual Learning", sec. 4.2).

Three stages of 2n 3x3 convolutions with 16, 32 and 64 channels on 32x32, 16x16 and 8x8 maps,
then global average pooling and one linear layer. Shortcuts use **option A**: the identity,
and where a stage halves the resolution and doubles the width, a strided subsample padded
with zero channels. Option A adds no parameters, which is what gives the paper's counts
(0.27 M for ResNet-20, 0.85 M for ResNet-56, 1.7 M for ResNet-110).

The ``block`` argument picks the residual-unit ordering of fig. 4 of He et al. 2016b
("Identity Mappings in Deep Residual Networks"):

* ``"a"`` original: conv-BN-ReLU-conv-BN, add, ReLU (the 2016 paper; default)
* ``"b"`` BN after addition: conv-BN-ReLU-conv, add, BN, ReLU
* ``"c"`` ReLU before addition: conv-BN-ReLU-conv-BN-ReLU, add
* ``"d"`` ReLU-only pre-activation: ReLU-conv-BN-ReLU-conv-BN, add
* ``"e"`` full pre-activation: BN-ReLU-conv-BN-ReLU-conv, add ("ResNet v2")

All variants have the same parameter count. Any input size works (global pooling); 28x28
inputs give 28/14/7 maps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import EngineError
from .registry import register

__all__ = ["BLOCK_VARIANTS", "CifarResNet"]

BLOCK_VARIANTS = ("a", "b", "c", "d", "e")


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    # No bias: every conv is followed (directly or after the addition) by batch norm.
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class _ShortcutA(nn.Module):
    """Option A shortcut: identity, or subsample + zero-pad the new channels (no parameters)."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.extra, self.stride = cout - cin, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra:
            # Pad the channel dimension (the third from last) evenly on both sides.
            half = self.extra // 2
            x = F.pad(x, (0, 0, 0, 0, half, self.extra - half))
        return x


class _Unit(nn.Module):
    """One residual unit of the variant ``kind``; see the module docstring for the orderings."""

    def __init__(self, kind: str, cin: int, cout: int, stride: int, first: bool = False):
        super().__init__()
        self.kind = kind
        self.conv1, self.conv2 = _conv3x3(cin, cout, stride), _conv3x3(cout, cout)
        # Where the two batch norms sit depends on the variant; the count is always two.
        bn1_ch = cin if kind == "e" else cout
        self.bn1, self.bn2 = nn.BatchNorm2d(bn1_ch), nn.BatchNorm2d(cout)
        self.shortcut = _ShortcutA(cin, cout, stride)
        # He et al. 2016b: the first unit after the stem conv activates *before* splitting
        # into the two paths, so the shortcut does not carry the raw stem output.
        self.activate_shortcut = first and kind in ("d", "e")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kind
        if k == "e":
            pre = F.relu(self.bn1(x))
            residual = self.conv2(F.relu(self.bn2(self.conv1(pre))))
            return residual + self.shortcut(pre if self.activate_shortcut else x)
        if k == "d":
            pre = F.relu(x)
            residual = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(pre)))))
            return residual + self.shortcut(pre if self.activate_shortcut else x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.conv2(out)
        if k == "a":
            return F.relu(self.bn2(out) + self.shortcut(x))
        if k == "b":
            return F.relu(self.bn2(out + self.shortcut(x)))
        return F.relu(self.bn2(out)) + self.shortcut(x)  # "c"


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32x32 images with residual units of variant ``block``."""

    def __init__(self, depth: int, num_classes: int = 10, in_channels: int = 3, block: str = "a"):
        super().__init__()
        if block not in BLOCK_VARIANTS:
            raise EngineError(f"block must be one of {', '.join(BLOCK_VARIANTS)}, got {block!r}")
        if (depth - 2) % 6:
            raise EngineError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6
        preact = block in ("d", "e")
        self.stem = nn.Sequential(_conv3x3(in_channels, 16))
        if block != "e":
            # "e" normalises inside each unit, so the stem conv feeds the first unit's BN.
            self.stem.append(nn.BatchNorm2d(16))
        if not preact:
            self.stem.append(nn.ReLU(inplace=True))
        units, cin = [], 16
        for stage, width in enumerate((16, 32, 64)):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                units.append(_Unit(block, cin, width, stride, first=not units))
                cin = width
        self.units = nn.Sequential(*units)
        # Pre-activation nets end on an addition, so they need a final activation
        # (and for "e" a final BN) before pooling, as in He et al. 2016b.
        tail = [nn.BatchNorm2d(cin)] if block == "e" else []
        tail += [nn.ReLU(inplace=True)] if preact else []
        self.head = nn.Sequential(*tail, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.units(self.stem(x)))


_FAMILY = "CIFAR ResNet"


def _register_depth(depth: int, params: str) -> None:
    @register(
        f"resnet{depth}",
        _FAMILY,
        f"ResNet-{depth} (He et al. 2016), CIFAR design for 32x32, "
        f"option A shortcuts, {params} params; block a-e selects the unit ordering",
        block="a",
    )
    def factory(num_classes: int, in_channels: int, block: str = "a") -> nn.Module:
        return CifarResNet(depth, num_classes, in_channels, block)


def _register_preact(depth: int, params: str) -> None:
    @register(
        f"preact_resnet{depth}",
        _FAMILY,
        f"Pre-activation ResNet-{depth} (ResNet v2, He et al. "
        f"2016b, full pre-activation units), CIFAR design for 32x32, {params} params",
    )
    def factory(num_classes: int, in_channels: int) -> nn.Module:
        return CifarResNet(depth, num_classes, in_channels, "e")


for _depth, _params in ((20, "0.27M"), (32, "0.46M"), (44, "0.66M"), (56, "0.85M"), (110, "1.7M")):
    _register_depth(_depth, _params)
for _depth, _params in ((20, "0.27M"), (32, "0.46M"), (56, "0.85M"), (110, "1.7M")):
    _register_preact(_depth, _params)
