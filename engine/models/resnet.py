"""ImageNet-family ResNets (He et al. 2016) for 32x32 images, and ResNet-34 at 224 px.

``resnet18`` ... ``resnet152`` keep the ImageNet widths (64-128-256-512, x4 for bottlenecks)
and depths but replace the 7x7 stride-2 stem and its max-pool with one 3x3 stride-1 conv, so
the four stages see 32/16/8/4 px maps instead of collapsing a 32x32 image to 1x1 (the usual
CIFAR adaptation, e.g. kuangliu/pytorch-cifar). Shortcuts that change shape are 1x1
convolutions with batch norm (option B). ``preact_resnet18`` uses full pre-activation units
(He et al. 2016b) with a final BN-ReLU before pooling.

``resnet34_224`` is the unmodified ImageNet ResNet-34 (torchvision's implementation, random
init) behind a bilinear upsampling of the input to 224x224: slow, but the architecture as
published, for comparing against the 32x32 adaptation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register

# Imports inside functions: the upsampling wrapper lives with the torchvision models, which import
# torchvision (0.3-1.2 s): loaded only by the upsampled ResNet-34.

__all__ = ["BasicBlock", "Bottleneck", "PreActBlock", "ResNet"]


def _bn_conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)


def _projection(cin: int, cout: int, stride: int) -> nn.Module:
    # Option B: a learnt projection only where the shape changes, identity elsewhere.
    if stride == 1 and cin == cout:
        return nn.Identity()
    return nn.Sequential(_bn_conv(cin, cout, 1, stride), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    """Two 3x3 convs (ResNet-18/34)."""

    expansion = 1

    def __init__(self, cin: int, width: int, stride: int = 1):
        super().__init__()
        self.conv1, self.bn1 = _bn_conv(cin, width, 3, stride), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = _bn_conv(width, width, 3), nn.BatchNorm2d(width)
        self.shortcut = _projection(cin, width, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride, as torchvision's "v1.5"), 1x1 expand x4."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1):
        super().__init__()
        cout = width * self.expansion
        self.conv1, self.bn1 = _bn_conv(cin, width, 1), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = _bn_conv(width, width, 3, stride), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = _bn_conv(width, cout, 1), nn.BatchNorm2d(cout)
        self.shortcut = _projection(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        return F.relu(self.bn3(self.conv3(out)) + self.shortcut(x))


class PreActBlock(nn.Module):
    """Full pre-activation basic block: BN-ReLU-conv-BN-ReLU-conv, add."""

    expansion = 1

    def __init__(self, cin: int, width: int, stride: int = 1):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), _bn_conv(cin, width, 3, stride)
        self.bn2, self.conv2 = nn.BatchNorm2d(width), _bn_conv(width, width, 3)
        # A projection here is a bare 1x1 conv applied to the *activated* input: the block's
        # own BN-ReLU already normalises it (He et al. 2016b, and kuangliu's PreActResNet).
        self.shortcut = None
        if stride != 1 or cin != width:
            self.shortcut = _bn_conv(cin, width, 1, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.relu(self.bn1(x))
        skip = self.shortcut(pre) if self.shortcut is not None else x
        return self.conv2(F.relu(self.bn2(self.conv1(pre)))) + skip


class ResNet(nn.Module):
    """ResNet with a 3x3 stride-1 stem for small images; ``layers`` blocks per stage."""

    def __init__(self, block: type[nn.Module], layers: tuple[int, ...], num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        preact = block is PreActBlock
        stem: list[nn.Module] = [_bn_conv(in_channels, 64, 3)]
        if not preact:  # pre-activation units bring their own BN-ReLU
            stem += [nn.BatchNorm2d(64), nn.ReLU(inplace=True)]
        self.stem = nn.Sequential(*stem)
        stages, cin = [], 64
        for i, (width, n) in enumerate(zip((64, 128, 256, 512), layers)):
            blocks = []
            for j in range(n):
                blocks.append(block(cin, width, 2 if i > 0 and j == 0 else 1))
                cin = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        tail: list[nn.Module] = [nn.BatchNorm2d(cin), nn.ReLU(inplace=True)] if preact else []
        self.head = nn.Sequential(*tail, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


_FAMILY = "ImageNet ResNet"
_CONFIGS = {
    18: (BasicBlock, (2, 2, 2, 2), "11.2M"),
    34: (BasicBlock, (3, 4, 6, 3), "21.3M"),
    50: (Bottleneck, (3, 4, 6, 3), "23.5M"),
    101: (Bottleneck, (3, 4, 23, 3), "42.5M"),
    152: (Bottleneck, (3, 8, 36, 3), "58.2M"),
}


def _register_depth(depth: int) -> None:
    block, layers, params = _CONFIGS[depth]
    kind = "basic" if block is BasicBlock else "bottleneck"

    @register(
        f"resnet{depth}",
        _FAMILY,
        f"ResNet-{depth} ({kind} blocks, {params} params) adapted to 32x32: 3x3 stride-1 stem, no max-pool",
    )
    def factory(num_classes: int, in_channels: int) -> nn.Module:
        return ResNet(block, layers, num_classes, in_channels)


for _depth in _CONFIGS:
    _register_depth(_depth)


@register(
    "preact_resnet18",
    _FAMILY,
    "Pre-activation ResNet-18 (He et al. 2016b, 11.2M params) adapted to 32x32: 3x3 stride-1 stem, no max-pool",
)
def preact_resnet18(num_classes: int, in_channels: int) -> nn.Module:
    return ResNet(PreActBlock, (2, 2, 2, 2), num_classes, in_channels)


@register(
    "resnet34_224",
    _FAMILY,
    "Original ImageNet ResNet-34 (7x7 stride-2 stem, max-pool; 21.3M params), input upsampled to 224; slow",
    input_handling="upsample",
)
def resnet34_224(num_classes: int, in_channels: int) -> nn.Module:
    # torchvision is imported here, not at module level, so that importing the engine stays light.
    from torchvision.models import resnet34

    from .torchvision_models import UpsampleInput

    net = resnet34(weights=None, num_classes=num_classes)
    if in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
    return UpsampleInput(net, 224)
