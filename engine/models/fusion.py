"""The bundled model v2: a CIFAR-10 net and an ImageNet network, each answering for what it knows.

Two experts see the same photo and their answers are multiplied (a product of experts):

* ``fastnet-wide`` trained on CIFAR-10 (the ``best`` preset) sees it shrunk to 32x32, as its
  training images were. It knows CIFAR-10's ten classes, deer included, and CIFAR's framings.
* EfficientNet-Lite0 with its real ImageNet weights sees it at 224 px. It knows 1,000 ImageNet
  categories; :data:`CIFAR_FROM_IMAGENET` sums those that are one of the ten (118 dog breeds into
  dog, 60 bird species into bird, ...). It has seen far more real photos than CIFAR's 50,000.

Fused log-probability of class *c*: ``log p_cifar(c) + log(share(c) + floor)``. ``share`` is the
ImageNet probability of *c* divided by its prior, the share of ImageNet's 1,000 categories that
are *c* (Bayes: experts trained with different priors multiply likelihood ratios, not
posteriors), normalised over the ten. Without that division a vague photo's probability, spread
over 1,000 categories, lands mostly on dog (118 of them) and rarely on horse (2): on photos-dev2
the division took macro accuracy from 83% to 91% (``benchmarks/imagenet_fusion.py``). The
``floor`` keeps a class the ImageNet head cannot name (deer has no ImageNet category:
hartebeest, impala and gazelle stand in) reachable, and keeps one confident ImageNet answer
from overruling the CIFAR net alone.

The ImageNet expert abstains on images that were small to begin with: a 32 px CIFAR image
enlarged to 224 px showed it nothing it could recognise (36.7% right on 2,000 validation images,
mapped) and pulled the product below the CIFAR net alone (90.2% against 91.8%). Its vote is
weighted by :func:`detail_gate`, which tells an enlarged small image from a photo by its fine
detail: the share of detail finer than 32 px against the detail between 16 and 32 px. Enlarged
32 px images measure at most 0.77 (300 CIFAR training images, 80 photos shrunk to 32 px), real
photos at 224 px at least 0.87, 98% of them over 1.0 (130 photos of ../shared/datasets); the
vote grows from nothing at :data:`GATE` 0.8 to full at 1.1. So CIFAR-sized images are answered
by the CIFAR net exactly as before, photos by both.

``mass`` (weighted by the same gate) is also the "none of these" score (``engine.inference.ood``'s
``imagenet_mass`` method): a photo of an espresso puts its ImageNet probability on cups, not on
any of the ten classes.

Only the CIFAR net's weights are stored in a checkpoint (about 9 MB as fp16); the ImageNet
network is the pinned file of ``engine.models.efficientnet_lite``, rebuilt on load. Nothing here
is trained: the CIFAR net is trained alone (``train --preset best``) and joined by
``scripts/bundle_fusion.py``. So it is registered ``trainable=False`` and never offered in menus.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import EngineError
from .efficientnet_lite import LITE_NORMALIZATION, EfficientNetLite, build_lite0
from .fast import FastNet
from .registry import register

__all__ = ["CIFAR10_CLASSES", "CIFAR_FROM_IMAGENET", "GATE", "PhotoFusion", "detail_gate", "imagenet_to_cifar"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# ImageNet-1k indices per CIFAR-10 class, by name in torchvision's category list: the categories
# whose pictures show one of the ten as their subject (a horse cart's horse, a dogsled's dogs, a
# wreck's ship). Left out on purpose: pickup (717), which CIFAR calls neither automobile nor truck.
CIFAR_FROM_IMAGENET = {
    "airplane": [404, 895, 908],  # airliner, warplane, wing
    "automobile": [436, 468, 511, 609, 627, 656, 661, 751, 817],  # beach wagon, cab, convertible, jeep, ...
    "bird": [*range(7, 25), *range(80, 101), *range(127, 147)],
    "cat": [*range(281, 286)],  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    "deer": [351, 352, 353],  # hartebeest, impala, gazelle: no ImageNet category is a deer
    "dog": [*range(151, 269), 537],  # the breeds, dogsled
    "frog": [30, 31, 32],  # bullfrog, tree frog, tailed frog
    "horse": [339, 603],  # sorrel, horse cart
    "ship": [403, 472, 484, 510, 554, 576, 625, 628, 724, 780, 814, 833, 871, 913, 914],
    "truck": [555, 569, 675, 864, 867],  # fire engine, garbage truck, moving van, tow truck, trailer truck
}
_CIFAR_SIZE = 32
_CIFAR_WIDTHS = (128, 384, 384)  # fastnet-wide
GATE = (0.8, 1.1)  # detail ratios where the ImageNet expert's vote starts and is full (module doc)
_FLAT = 2e-3  # mean detail between 16 and 32 px under half a grey level: a flat picture


def detail_gate(pixels: torch.Tensor) -> torch.Tensor:
    """(N,) in [0, 1]: how much of a photo's detail is finer than 32 px (see the module doc).

    ``pixels`` in [0, 1]. Mean absolute detail below 32 px (the image minus its 32 px box
    average enlarged back) over the detail between 16 and 32 px; the ratio does not depend on
    contrast, so a smooth photo and a busy one measure alike.
    """
    size = pixels.shape[-2:]

    def blurred(side: int) -> torch.Tensor:
        return F.interpolate(F.adaptive_avg_pool2d(pixels, side), size=size, mode="bilinear", align_corners=False)

    b32, b16 = blurred(_CIFAR_SIZE), blurred(_CIFAR_SIZE // 2)
    fine = (pixels - b32).abs().mean((1, 2, 3))
    middle = (b32 - b16).abs().mean((1, 2, 3))
    low, high = GATE
    gate = ((fine / middle.clamp_min(1e-6) - low) / (high - low)).clamp(0, 1)
    # No structure at 16-32 px either (a flat or nearly flat picture): nothing says it was small,
    # and the ImageNet expert is the one that can say it is none of the ten.
    return torch.where(middle < _FLAT, torch.ones_like(gate), gate)


def imagenet_to_cifar() -> torch.Tensor:
    """The (1000, 10) 0/1 matrix summing ImageNet probabilities into the ten classes."""
    m = torch.zeros(1000, len(CIFAR10_CLASSES), device="cpu")
    for i, name in enumerate(CIFAR10_CLASSES):
        m[CIFAR_FROM_IMAGENET[name], i] = 1
    return m


class PhotoFusion(nn.Module):
    """fastnet-wide at 32 px x EfficientNet-Lite0's ImageNet head at ``input_size`` (module doc).

    Inputs arrive normalised with the ImageNet network's normalisation (the checkpoint's); the
    CIFAR net's own mean and std are buffers (``cifar_mean``, ``cifar_std``) saved with it.
    """

    cpu_bf16_slow = True  # the ImageNet network's depthwise convolutions (efficientnet_lite)
    onnx_on_cpu = True  # ONNX Runtime ran it 2.5-5x faster than PyTorch on a CPU (engine.inference.onnx_runner)

    def __init__(self, input_size: int, floor: float):
        super().__init__()
        self.input_size, self.floor = int(input_size), float(floor)
        self.imagenet: EfficientNetLite = build_lite0(2, 3, input_size=self.input_size, transfer="head")
        self.cifar = FastNet(len(CIFAR10_CLASSES), 3, _CIFAR_WIDTHS)
        # Small constants are made on the CPU even when the model is built on "meta" (checkpoint
        # checks): meta indexing and tensor-from-list imported torch's decompositions, 15 s.
        self.register_buffer("cifar_mean", torch.zeros(1, 3, 1, 1, device="cpu"))
        self.register_buffer("cifar_std", torch.ones(1, 3, 1, 1, device="cpu"))
        to_cifar = imagenet_to_cifar()
        self.register_buffer("to_cifar", to_cifar, persistent=False)
        self.register_buffer("prior", to_cifar.sum(0) / 1000, persistent=False)
        mean, std = LITE_NORMALIZATION
        self.register_buffer("in_mean", torch.tensor(mean, device="cpu").view(1, 3, 1, 1), persistent=False)
        self.register_buffer("in_std", torch.tensor(std, device="cpu").view(1, 3, 1, 1), persistent=False)
        self.input_normalization = (list(mean), list(std))
        # The ImageNet network's weights come from its pinned file, never from a checkpoint.
        self._register_state_dict_hook(_drop_imagenet)
        self.register_load_state_dict_post_hook(_allow_imagenet_missing)

    @property
    def cam_module(self) -> nn.Module:
        """Where Grad-CAM looks (engine.inference.gradcam): the CIFAR net, the expert with gradients."""
        return self.cifar

    def train(self, mode: bool = True):
        super().train(mode)
        self.imagenet.eval()  # frozen, with ImageNet's batch-norm statistics
        return self

    # --- the two experts -------------------------------------------------------------
    def pixels(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.in_std + self.in_mean  # back to [0, 1]

    def cifar_logits(self, pixels: torch.Tensor) -> torch.Tensor:
        """The CIFAR net's logits: the photo shrunk to 32 px, its own normalisation."""
        # Box averaging (7x7 at 224 px): exports to ONNX, unlike antialiased bilinear, and gave the
        # CIFAR net the accuracy of photos shrunk to 32 px directly (benchmarks/imagenet_fusion.py).
        small = F.adaptive_avg_pool2d(pixels, (_CIFAR_SIZE, _CIFAR_SIZE))
        return self.cifar((small - self.cifar_mean) / self.cifar_std)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The ImageNet network's pooled features (engine.inference.looks_like reads its head from them)."""
        return self.imagenet.features(x)

    def imagenet_logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.imagenet.imagenet_logits(features)

    def class_mass(self, features: torch.Tensor) -> torch.Tensor:
        """(N, 10): the ImageNet probability summed into each of the ten classes."""
        return self.imagenet_logits(features).float().softmax(1) @ self.to_cifar

    # --- the product ---------------------------------------------------------------------
    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Fused logits and the (N, 10) class mass that ``engine.inference.ood`` scores: the ImageNet
        head's, or as far as it abstains (:func:`detail_gate`), the CIFAR net's probabilities."""
        pixels = self.pixels(x)
        cifar = F.log_softmax(self.cifar_logits(pixels).float(), 1)
        vote = detail_gate(pixels)[:, None]
        if _tracing():  # an exported graph keeps both experts whatever its sample input
            mass = self.class_mass(self.features(x))
        else:  # the ImageNet network runs only on the images it has a vote on (not CIFAR's)
            voting = vote[:, 0] > 0
            mass = cifar.new_zeros(cifar.shape)
            if bool(voting.any()):
                mass[voting] = self.class_mass(self.features(x[voting])).to(mass.dtype)
        ratio = mass / self.prior
        share = ratio / ratio.sum(1, keepdim=True).clamp_min(1e-12)
        fused = cifar + vote * torch.log(share + self.floor)
        return fused, vote * mass + (1 - vote) * cifar.exp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_features(x)[0]


def _tracing() -> bool:
    """Exporting (ONNX, TorchScript): the graph must keep both experts whatever the sample."""
    return torch.jit.is_tracing() or torch.jit.is_scripting() or torch.onnx.is_in_onnx_export()


def _drop_imagenet(module, state_dict, prefix, local_metadata):
    for key in [k for k in state_dict if k.startswith(prefix + "imagenet.")]:
        del state_dict[key]
    return state_dict


def _allow_imagenet_missing(module, incompatible):
    incompatible.missing_keys[:] = [k for k in incompatible.missing_keys if not k.startswith("imagenet.")]


@register(
    "photo-fusion",
    "Pretrained",
    "The bundled model: fastnet-wide (CIFAR-10, 32 px) times EfficientNet-Lite0's ImageNet head "
    "summed into the ten classes (224 px); built by scripts/bundle_fusion.py, not trained",
    input_handling="upsample",
    trainable=False,
    input_size=224,
    floor=0.02,
)
def photo_fusion(num_classes: int, in_channels: int, input_size: int = 224, floor: float = 0.02) -> PhotoFusion:
    if num_classes != len(CIFAR10_CLASSES) or in_channels != 3:
        raise EngineError("photo-fusion is for CIFAR-10's ten classes in colour only")
    if not 0 < floor <= 1:
        raise EngineError(f"photo-fusion's floor must be in (0, 1], got {floor!r}")
    return PhotoFusion(input_size, floor)
