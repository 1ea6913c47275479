"""Named training recipes: the fast recipe and the ones the source tutorials teach.

Each preset is a set of overrides on :class:`TrainConfig`; the GUI shows them in a menu and
the result stays editable. A preset is a *recipe*: the data it trains on (:data:`DATA_SETTINGS`)
is the user's, except the data settings a preset names itself (the Fashion-MNIST recipe's data,
the birds-vs-airplanes classes). :func:`recipe_config` gives a preset on the user's data (what
choosing a preset in the window does); :func:`same_recipe` says whether a config is a preset's
recipe, whatever its data. Each preset has a plain one-sentence ``summary`` (what it is for,
how long it takes) and the full ``description`` naming every setting it changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .config import AUTO_MICRO_BATCH, Augment, TrainConfig
from .errors import ConfigError

__all__ = ["DATA_SETTINGS", "PRESETS", "Preset", "preset_config", "recipe_config", "same_recipe"]

# The settings that say which data to train on and how much of it: not part of a recipe.
DATA_SETTINGS = ("data", "classes", "val_fraction", "limit", "image_size")


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    description: str
    overrides: dict[str, Any] = field(default_factory=dict)
    summary: str = ""  # one plain sentence: what it is for and how long it takes, no jargon


def _aug(**kw) -> dict:
    return Augment(**kw).__dict__.copy()


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "photos",
            "My own photos (ImageNet features; seconds to a minute on a CPU)",
            "For a folder of your own photos, one sub-folder per class, from about 10 per class: a "
            "network pretrained on ImageNet (EfficientNet-Lite0) looks at each photo once at 224x224 "
            "(the whole photo, as Predict frames it) and only a new last layer learns your classes. "
            "Details: the backbone is frozen and its features cached on disk (photo and mirror image), "
            "40 epochs of AdamW 3e-3 with cosine decay, weight decay 1e-4, batch 32, label smoothing 0.1, "
            "dropout 0.2, flips only (pad-0, no crops), val fraction 0.2 of the photos held out "
            "to measure accuracy with flip TTA; no mixed precision and no channels last (fp32 runs this "
            "network faster on a CPU).",
            dict(
                model="efficientnet_lite0",
                model_args={"transfer": "head", "input_size": 224},
                image_size=224,
                val_fraction=0.2,
                epochs=40,
                batch_size=32,
                optimizer="adamw",
                lr=3e-3,
                momentum=0.9,
                weight_decay=1e-4,
                schedule="cosine",
                warmup_epochs=0.0,
                final_lr_factor=0.0,
                label_smoothing=0.1,
                augment=_aug(crop_padding=0, flip=True, cutout=0),
                tta=1,
                mixed_precision="off",
                channels_last=False,
            ),
            summary=(
                "For your own photos, a few dozen per class: a network that already knows ImageNet's "
                "photos learns your classes in seconds to a minute on a CPU (README, Your own photos)."
            ),
        ),
        Preset(
            "fast",
            "Fast (fastnet with Muon, minutes on a GPU)",
            "Wide shallow net with a whitening stem, 8 epochs, batch 2400 (automatic micro-batches: "
            "on a CPU in chunks of 200 images, faster per image; the whole batch on a GPU), muon: "
            "convolution filters take orthogonalised steps at 0.24 with momentum 0.6, the other weights "
            "Nesterov SGD 1.65 momentum 0.85, weight decay 2.4e-3, norm-layer and bias LR x64; linear "
            "decay to 0, label smoothing 0.2, whitening bias trained for the first 3 epochs only, pad-2 "
            "reflect crops, alternating flips, mixed precision, flip+shift TTA for validation.",
            dict(
                model="fastnet",
                epochs=8,
                batch_size=2400,
                micro_batch=AUTO_MICRO_BATCH,
                optimizer="muon",
                lr=1.65,
                momentum=0.85,
                weight_decay=2.4e-3,
                muon_lr=0.24,
                muon_momentum=0.6,
                norm_bias_lr_scale=64.0,
                label_smoothing=0.2,
                schedule="linear",
                warmup_epochs=0.0,
                final_lr_factor=0.0,
                whiten_bias_epochs=3,
                augment=_aug(crop_padding=2, padding_mode="reflect", flip=True, alternate_flips=True, cutout=0),
                tta=2,
                mixed_precision="auto",
                channels_last=True,
            ),
            summary=(
                "The quickest way to a good CIFAR-10 model: about 90% accuracy in about 7 minutes on a "
                "2-core CPU (README, Speed), well under a minute on a GPU."
            ),
        ),
        Preset(
            "best",
            "Best (fastnet-wide, the bundled model's recipe; hours on a CPU)",
            "The wider fastnet (fastnet-wide: 128/384/384 channels, 4.6 M parameters), 40 epochs, batch 1024, "
            "Nesterov SGD 1.2 momentum 0.85, weight decay 1.33e-3, norm-layer LR x64, one-cycle: "
            "warm-up from 0.2 of the rate over the first quarter, then linear decay; label "
            "smoothing 0.2, lookahead averaging every 5 steps, whitening bias trained for the first "
            "3 epochs only, pad-4 reflect crops, alternating flips and 12-pixel cutout, mixed "
            "precision, flip+shift TTA for validation.",
            dict(
                model="fastnet-wide",
                epochs=40,
                batch_size=1024,
                optimizer="nesterov",
                lr=1.2,
                momentum=0.85,
                weight_decay=1.33e-3,
                norm_bias_lr_scale=64.0,
                label_smoothing=0.2,
                schedule="onecycle",
                warmup_epochs=0.0,
                warmup_start_factor=0.2,
                final_lr_factor=0.0,
                lookahead_every=5,
                whiten_bias_epochs=3,
                augment=_aug(crop_padding=4, padding_mode="reflect", flip=True, alternate_flips=True, cutout=12),
                tta=2,
                mixed_precision="auto",
                channels_last=True,
            ),
            summary=(
                "Trains the model that ships with the app (91.4% on its held-out images): minutes on a GPU,"
                " several hours on a CPU."
            ),
        ),
        Preset(
            "quick",
            "Quick try (ResNet-20, 5 epochs)",
            "A few minutes on a laptop CPU: ResNet-20, 5 epochs, batch 256, Nesterov SGD 0.2, one-"
            "cycle with warm-up over 1 epoch, label smoothing 0.1, pad-4 crops and flips.",
            dict(
                model="resnet20",
                epochs=5,
                batch_size=256,
                optimizer="nesterov",
                lr=0.2,
                momentum=0.9,
                weight_decay=5e-4,
                schedule="onecycle",
                warmup_epochs=1.0,
                label_smoothing=0.1,
                augment=_aug(crop_padding=4, flip=True),
            ),
            summary=(
                "A first try to see training work end to end: a small network for 5 passes over the data, a"
                " few minutes on a laptop CPU."
            ),
        ),
        Preset(
            "resnet32-keras",
            "ResNet-32, SGD 0.1 Nesterov, steps at 81/122",
            "The Keras CIFAR ResNet recipe: ResNet-32, SGD 0.1 Nesterov momentum 0.9, weight decay"
            " 1e-4, batch 128, learning rate divided by 10 at epochs 81 and 122, 164 epochs, pad-4"
            " crops with zero padding and flips.",
            dict(
                model="resnet32",
                epochs=164,
                batch_size=128,
                optimizer="nesterov",
                lr=0.1,
                momentum=0.9,
                weight_decay=1e-4,
                schedule="multistep",
                milestones=[81.0, 122.0],
                gamma=0.1,
                augment=_aug(crop_padding=4, padding_mode="zeros", flip=True),
            ),
            summary=(
                "Reproduces the classic Keras ResNet tutorial: a long run (164 passes), about an hour on a "
                "GPU, days on a CPU."
            ),
        ),
        Preset(
            "resnet-v2-keras",
            "Pre-activation ResNet-56 (Keras ResNet v2), Adam 1e-3",
            "The Keras ResNet v2 example: preact_resnet56 (full pre-activation blocks), Adam 1e-3 "
            "divided by 10 at epochs 80, 120 and 160, weight decay 1e-4, 200 epochs, pad-4 crops "
            "with zero padding and flips.",
            dict(
                model="preact_resnet56",
                epochs=200,
                batch_size=128,
                optimizer="adam",
                lr=1e-3,
                momentum=0.9,
                weight_decay=1e-4,
                schedule="multistep",
                milestones=[80.0, 120.0, 160.0],
                gamma=0.1,
                augment=_aug(crop_padding=4, padding_mode="zeros", flip=True),
            ),
            summary=(
                "Reproduces the Keras ResNet v2 example: a deeper network and a long run (200 passes), "
                "hours on a GPU, days on a CPU."
            ),
        ),
        Preset(
            "nin",
            "Network-in-Network, SGD 0.01, x0.6 every 10 epochs",
            "The NIN tutorial: 100 epochs, SGD 0.01 momentum 0.9, weight decay 1e-4, learning rate"
            " times 0.6 every 10 epochs, pad-4 crops and flips.",
            dict(
                model="nin",
                epochs=100,
                batch_size=128,
                optimizer="sgd",
                lr=0.01,
                momentum=0.9,
                weight_decay=1e-4,
                schedule="step",
                step_size=10.0,
                gamma=0.6,
                augment=_aug(crop_padding=4, flip=True),
            ),
            summary=(
                "Reproduces the Network-in-Network tutorial: 100 passes over the data, under an hour on a "
                "GPU, about a day on a CPU."
            ),
        ),
        Preset(
            "resnet34-upsampled",
            "ResNet-34 on upsampled images, Adam 1e-4",
            "The tutorial that feeds CIFAR-10 upsampled to 224x224 into an ImageNet-style "
            "ResNet-34 (resnet34_224) and trains with Adam 1e-4 at a constant rate, no weight "
            "decay, batch 64, 10 epochs, pad-4 crops and flips. Slow without a GPU.",
            dict(
                model="resnet34_224",
                epochs=10,
                batch_size=64,
                optimizer="adam",
                lr=1e-4,
                momentum=0.9,
                weight_decay=0.0,
                schedule="constant",
                augment=_aug(crop_padding=4, flip=True),
            ),
            summary=(
                "Reproduces the tutorial that enlarges each image to 224 pixels for a big ImageNet-style "
                "network: slow, for a GPU."
            ),
        ),
        Preset(
            "resnet18",
            "ResNet-18, SGD 0.1, cosine (~95%)",
            "The common pytorch-cifar recipe: ResNet-18 for 32x32, SGD 0.1 momentum 0.9, weight "
            "decay 5e-4, cosine schedule over 200 epochs, pad-4 crops and flips.",
            dict(
                model="resnet18",
                epochs=200,
                batch_size=128,
                optimizer="sgd",
                lr=0.1,
                momentum=0.9,
                weight_decay=5e-4,
                schedule="cosine",
                augment=_aug(crop_padding=4, flip=True),
            ),
            summary=(
                "The well-known recipe that reaches about 95% on CIFAR-10: a long run (200 passes), a few "
                "hours on a GPU, days on a CPU."
            ),
        ),
        Preset(
            "birds-vs-airplanes",
            "Birds vs airplanes (tutorial CNN)",
            "Deep Learning with PyTorch, chapter 8: a small tanh CNN (tutorial_net) telling birds "
            "from airplanes, SGD 1e-2 with no momentum and no weight decay at a constant rate, "
            "batch 64, 100 epochs, no augmentation.",
            dict(
                classes=["airplane", "bird"],
                model="tutorial_net",
                epochs=100,
                batch_size=64,
                optimizer="sgd",
                lr=1e-2,
                momentum=0.0,
                weight_decay=0.0,
                schedule="constant",
                augment=_aug(crop_padding=0, flip=False),
            ),
            summary=(
                "The book exercise telling birds from airplanes with a tiny network: two classes only, "
                "minutes on a GPU, under an hour on a CPU."
            ),
        ),
        Preset(
            "mnist-resnet",
            "Fashion-MNIST, simple residual CNN",
            "The simple residual-block CNN (mnist_resnet) for MNIST-style data, Adam 1e-3 with "
            "cosine decay, weight decay 1e-4, 10 epochs, pad-2 crops, no flips.",
            dict(
                data="fashion-mnist",
                model="mnist_resnet",
                epochs=10,
                batch_size=128,
                optimizer="adam",
                lr=1e-3,
                momentum=0.9,
                weight_decay=1e-4,
                schedule="cosine",
                augment=_aug(crop_padding=2, flip=False),
            ),
            summary=(
                "For Fashion-MNIST (small grey pictures of clothes): a small network for 10 passes, minutes"
                " on a GPU, under an hour on a CPU."
            ),
        ),
    ]
}


def preset_config(name: str, base: TrainConfig | None = None, **changes) -> TrainConfig:
    """``base`` (default settings if None) with preset ``name`` applied, then ``changes``."""
    if name not in PRESETS:
        raise ConfigError("preset", f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    data = (base or TrainConfig()).to_dict()
    data.update(PRESETS[name].overrides)
    data.update(changes)
    return TrainConfig.from_dict(data)


def recipe_config(name: str, data_from: TrainConfig | None = None) -> TrainConfig:
    """Preset ``name`` trained on ``data_from``'s data: every recipe setting is the preset's
    (exactly ``preset_config(name)``), every data setting (:data:`DATA_SETTINGS`) is
    ``data_from``'s unless the preset names it itself (its title and description say so)."""
    if name not in PRESETS:
        raise ConfigError("preset", f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    if data_from is None:
        return preset_config(name)
    own = PRESETS[name].overrides
    keep = {k: getattr(data_from, k) for k in DATA_SETTINGS if k not in own}
    return preset_config(name, **keep)


def _recipe_part(cfg: TrainConfig) -> dict:
    data = cfg.to_dict()
    for k in DATA_SETTINGS:
        data.pop(k, None)
    return data


def same_recipe(cfg: TrainConfig, name: str) -> bool:
    """True when ``cfg`` holds exactly preset ``name``'s recipe, on whatever data."""
    if name not in PRESETS:
        return False
    return _recipe_part(cfg) == _recipe_part(preset_config(name))
