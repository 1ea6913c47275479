"""The training configuration: one dataclass, validated, round-tripping through JSON.

Plain Python (no torch), so a settings form can be filled before the engine has loaded.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = [
    "AUTO_MICRO_BATCH",
    "CPU_MICRO_BATCH",
    "DEVICES",
    "OPTIMIZERS",
    "PADDING_MODES",
    "PRECISIONS",
    "SCHEDULES",
    "Augment",
    "TrainConfig",
    "micro_batch_size",
]

# micro_batch = AUTO_MICRO_BATCH: chunks of CPU_MICRO_BATCH images on a CPU, the whole batch on a
# GPU. Measured on this project's 2-core CPU with fastnet at batch 2,000 (benchmarks/micro_batch.py):
# 200-image chunks trained 1.39x as many images per second as the whole batch, 250 only 1.12x
# (the activations of a 200-image chunk fit the caches); GPUs run the whole batch fastest.
AUTO_MICRO_BATCH = -1
CPU_MICRO_BATCH = 200


def micro_batch_size(micro_batch: int, batch_size: int, device_type: str) -> int:
    """Images per forward/backward chunk for ``micro_batch`` (a TrainConfig value) on a device."""
    if micro_batch == AUTO_MICRO_BATCH:
        micro_batch = CPU_MICRO_BATCH if device_type == "cpu" else 0
    return min(micro_batch, batch_size) if micro_batch > 0 else batch_size


OPTIMIZERS = ("sgd", "nesterov", "adam", "adamw", "muon")
SCHEDULES = ("constant", "step", "multistep", "cosine", "onecycle", "linear", "plateau")
PRECISIONS = ("auto", "off", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda", "mps")
PADDING_MODES = ("reflect", "zeros")  # how Augment.crop_padding fills the border


@dataclass
class Augment:
    """Batched augmentation settings (all applied on the device)."""

    crop_padding: int = 4  # random translation by up to this many pixels; 0 = off
    padding_mode: str = "reflect"  # "reflect" or "zeros"
    flip: bool = True  # random horizontal flip
    cutout: int = 0  # side of a random square set to the mean; 0 = off
    # With flip: each image keeps one random orientation on even epochs and shows its mirror
    # image on odd epochs (airbench's scheme: both views every two epochs, none seen twice in a row).
    alternate_flips: bool = False

    @property
    def enabled(self) -> bool:
        return self.crop_padding > 0 or self.flip or self.cutout > 0


@dataclass
class TrainConfig:
    # --- data ---
    data: str = "cifar10"  # built-in name, image folder, .zip, or idx folder
    classes: list[str] | None = None  # train on a subset, e.g. ["airplane", "bird"]
    val_fraction: float = 0.1  # held out from train when the source has no val/ split
    limit: int | None = None  # cap on training images, for quick tries
    image_size: int | None = None  # resize folder images to this square size (default: as found, or 32)
    # --- model ---
    model: str = "resnet20"
    model_args: dict[str, Any] = field(default_factory=dict)  # e.g. {"block": "e"}
    # A local torchvision weights file (state dict) for a tv: model, e.g. resnet18-f37072fd.pth:
    # transfer learning offline. "" = the torch hub cache's file, when there is one.
    pretrained_path: str = ""
    # Fine-tuning a pretrained backbone (efficientnet_lite0 with model_args transfer "finetune"):
    # its parameters learn at this fraction of the rate, the new classifier at the full rate.
    backbone_lr_scale: float = 0.1
    # --- optimisation ---
    epochs: int = 30
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9  # SGD momentum, or Adam's beta1
    weight_decay: float = 5e-4
    norm_bias_lr_scale: float = 1.0  # learning-rate multiplier for normalisation layers (muon: and biases)
    # optimizer "muon": convolution filters take Muon steps at this rate and momentum (their
    # own scale: orthogonalised updates); every other parameter takes Nesterov SGD steps at lr.
    muon_lr: float = 0.24
    muon_momentum: float = 0.6
    label_smoothing: float = 0.0
    # --- schedule ---
    schedule: str = "cosine"
    warmup_epochs: float = 0.0  # linear warm-up from warmup_start_factor * lr
    warmup_start_factor: float = 0.1
    step_size: float = 30.0  # "step": decay every step_size epochs ...
    gamma: float = 0.1  # ... by this factor (also per milestone for "multistep" and "plateau")
    milestones: list[float] = field(default_factory=list)  # "multistep": epochs at which to decay
    final_lr_factor: float = 0.0  # "linear" / "onecycle" / "cosine": lr at the end, as a fraction
    plateau_patience: int = 5
    # --- early stopping ---
    early_stop_patience: int = 0  # stop after this many epochs without a better validation accuracy; 0 = off
    # --- regularisation and speed ---
    augment: Augment = field(default_factory=Augment)
    ema_decay: float = 0.0  # exponential moving average of weights per step; 0 = off
    # Lookahead averaging (airbench's): every N steps the slow weights move towards the model by
    # 1 - lookahead_decay * progress**3 and the model restarts from them; the run ends on the slow
    # weights. 0 = off.
    lookahead_every: int = 0
    lookahead_decay: float = 0.95**5
    # Train the whitening stem's bias (fastnet) for the first N epochs only, then freeze it; 0 = always.
    whiten_bias_epochs: int = 0
    # Forward and backward each batch in chunks of at most this many images, adding up their
    # gradients for one optimizer step (gradient accumulation); 0 = the whole batch at once;
    # AUTO_MICRO_BATCH (-1) = CPU_MICRO_BATCH images on a CPU, the whole batch elsewhere. Batch
    # norm then normalises per chunk. For big batches on a small GPU, and on CPUs, where smaller
    # chunks run faster per image (cache-sized activations; benchmarks/micro_batch.py).
    micro_batch: int = 0
    mixed_precision: str = "auto"  # auto: bf16/fp16 on GPU, bf16 on CPUs that have it
    channels_last: bool = True
    compile: bool = False  # torch.compile (needs a compiler toolchain; off by default)
    tta: int = 0  # validation test-time augmentation: 0 off, 1 flips, 2 flips and 1-pixel shifts
    # --- run ---
    seed: int = 0
    device: str = "auto"

    # ------------------------------------------------------------------ validation
    def validate(self) -> TrainConfig:
        """Raise :class:`ConfigError` naming the first invalid field; returns self."""

        def need(cond: bool, name: str, msg: str):
            if not cond:
                raise ConfigError(name, msg)

        need(isinstance(self.data, str) and self.data.strip() != "", "data", "must name a dataset or a path")
        need(
            self.classes is None
            or (
                isinstance(self.classes, list)
                and all(isinstance(c, str) for c in self.classes)
                and len(set(self.classes)) >= 2
            ),
            "classes",
            "choose at least two different classes (or none for all)",
        )
        need(0.0 <= self.val_fraction < 1.0, "val_fraction", f"must be in [0, 1), got {self.val_fraction}")
        need(self.limit is None or self.limit > 0, "limit", f"must be positive, got {self.limit}")
        need(self.image_size is None or 8 <= self.image_size <= 512, "image_size", "must be between 8 and 512")
        need(isinstance(self.model, str) and self.model != "", "model", "must name an architecture")
        need(isinstance(self.model_args, dict), "model_args", "must be an object of keyword arguments")
        need(isinstance(self.pretrained_path, str), "pretrained_path", "must be a file path")
        need(
            not self.pretrained_path or str(self.model).startswith("tv:"),
            "pretrained_path",
            "a weights file is for torchvision models (tv:NAME) only",
        )
        need(
            _finite(self.backbone_lr_scale) and 0 < self.backbone_lr_scale <= 1,
            "backbone_lr_scale",
            f"must be in (0, 1], got {self.backbone_lr_scale}",
        )
        need(
            isinstance(self.epochs, int) and self.epochs >= 1,
            "epochs",
            f"must be a whole number >= 1, got {self.epochs}",
        )
        need(
            isinstance(self.batch_size, int) and self.batch_size >= 1,
            "batch_size",
            f"must be >= 1, got {self.batch_size}",
        )
        need(
            self.optimizer in OPTIMIZERS, "optimizer", f"must be one of {', '.join(OPTIMIZERS)}; got {self.optimizer!r}"
        )
        need(_finite(self.lr) and self.lr > 0, "lr", f"must be a positive number, got {self.lr}")
        need(_finite(self.momentum) and 0 <= self.momentum < 1, "momentum", f"must be in [0, 1), got {self.momentum}")
        need(_finite(self.weight_decay) and self.weight_decay >= 0, "weight_decay", "must be >= 0")
        need(_finite(self.norm_bias_lr_scale) and self.norm_bias_lr_scale > 0, "norm_bias_lr_scale", "must be > 0")
        need(_finite(self.muon_lr) and self.muon_lr > 0, "muon_lr", f"must be a positive number, got {self.muon_lr}")
        need(
            _finite(self.muon_momentum) and 0 <= self.muon_momentum < 1,
            "muon_momentum",
            f"must be in [0, 1), got {self.muon_momentum}",
        )
        need(0 <= self.label_smoothing < 1, "label_smoothing", f"must be in [0, 1), got {self.label_smoothing}")
        need(self.schedule in SCHEDULES, "schedule", f"must be one of {', '.join(SCHEDULES)}; got {self.schedule!r}")
        need(
            0 <= self.warmup_epochs < self.epochs or self.warmup_epochs == 0,
            "warmup_epochs",
            f"({self.warmup_epochs}) must be shorter than the run ({self.epochs} epochs)",
        )
        need(0 < self.warmup_start_factor <= 1, "warmup_start_factor", "must be in (0, 1]")
        need(self.step_size > 0, "step_size", "must be > 0")
        need(0 < self.gamma <= 1, "gamma", f"must be in (0, 1], got {self.gamma}")
        need(
            isinstance(self.milestones, list)
            and all(_finite(m) and m > 0 for m in self.milestones)
            and list(self.milestones) == sorted(self.milestones),
            "milestones",
            "must be increasing positive epochs",
        )
        need(self.schedule != "multistep" or len(self.milestones) > 0, "milestones", "multistep needs at least one")
        need(0 <= self.final_lr_factor <= 1, "final_lr_factor", "must be in [0, 1]")
        need(self.plateau_patience >= 0, "plateau_patience", "must be >= 0")
        need(
            _whole(self.early_stop_patience) and self.early_stop_patience >= 0,
            "early_stop_patience",
            f"must be a whole number of epochs >= 0 (0 = off), got {self.early_stop_patience!r}",
        )
        need(0 <= self.ema_decay < 1, "ema_decay", f"must be in [0, 1), got {self.ema_decay}")
        need(
            _whole(self.lookahead_every) and self.lookahead_every >= 0,
            "lookahead_every",
            f"must be a whole number of steps >= 0 (0 = off), got {self.lookahead_every!r}",
        )
        need(
            _finite(self.lookahead_decay) and 0 <= self.lookahead_decay < 1,
            "lookahead_decay",
            f"must be in [0, 1), got {self.lookahead_decay}",
        )
        need(
            not (self.lookahead_every and self.ema_decay),
            "lookahead_every",
            "use either lookahead or EMA averaging, not both (set ema_decay to 0)",
        )
        need(
            _whole(self.micro_batch) and self.micro_batch >= AUTO_MICRO_BATCH,
            "micro_batch",
            f"must be a whole number of images >= 0 (0 = the whole batch, -1 = auto), got {self.micro_batch!r}",
        )
        need(
            _whole(self.whiten_bias_epochs) and self.whiten_bias_epochs >= 0,
            "whiten_bias_epochs",
            f"must be a whole number of epochs >= 0 (0 = train it throughout), got {self.whiten_bias_epochs!r}",
        )
        need(self.mixed_precision in PRECISIONS, "mixed_precision", f"must be one of {', '.join(PRECISIONS)}")
        need(
            isinstance(self.device, str) and (self.device in DEVICES or self.device.startswith("cuda:")),
            "device",
            f"must be one of {', '.join(DEVICES)} (or cuda:N); got {self.device!r}",
        )
        need(isinstance(self.augment, Augment), "augment", "must be an object")
        a = self.augment
        need(
            _whole(a.crop_padding) and 0 <= a.crop_padding <= 16,
            "augment.crop_padding",
            "must be a whole number between 0 and 16",
        )
        need(a.padding_mode in PADDING_MODES, "augment.padding_mode", "must be " + " or ".join(PADDING_MODES))
        need(isinstance(a.flip, bool), "augment.flip", "must be true or false")
        need(_whole(a.cutout) and 0 <= a.cutout <= 32, "augment.cutout", "must be a whole number between 0 and 32")
        need(isinstance(a.alternate_flips, bool), "augment.alternate_flips", "must be true or false")
        need(
            not a.alternate_flips or a.flip,
            "augment.alternate_flips",
            "needs augment.flip on (it alternates the flips)",
        )
        need(self.tta in (0, 1, 2), "tta", f"must be 0 (off), 1 (flip) or 2 (flip and shift), got {self.tta}")
        need(isinstance(self.seed, int), "seed", "must be a whole number")
        return self

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from plain data; unknown keys and wrong types raise :class:`ConfigError`."""
        if not isinstance(data, dict):
            raise ConfigError("config", "must be a JSON object")
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(key, "unknown setting")
        values = dict(data)
        if "augment" in values:
            aug = values["augment"]
            if not isinstance(aug, dict):
                raise ConfigError("augment", "must be an object")
            aug_known = {f.name for f in fields(Augment)}
            for key in aug:
                if key not in aug_known:
                    raise ConfigError(f"augment.{key}", "unknown setting")
            values["augment"] = Augment(**aug)
        cfg = cls(**values)
        cfg._coerce()
        return cfg.validate()

    def _coerce(self) -> None:
        """Accept JSON's ints where floats belong; reject strings and bools where numbers belong."""
        for f in fields(self):
            value, base = getattr(self, f.name), f.type.replace(" | None", "")
            if value is None and f.type.endswith("| None"):
                continue
            if base == "bool":
                if not isinstance(value, bool):
                    raise ConfigError(f.name, f"must be true or false, got {value!r}")
            elif base in ("float", "int"):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ConfigError(f.name, f"must be a number, got {value!r}")
                if base == "float":
                    setattr(self, f.name, float(value))
                elif isinstance(value, float):
                    if not value.is_integer():
                        raise ConfigError(f.name, f"must be a whole number, got {value}")
                    setattr(self, f.name, int(value))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError("config", f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        try:
            return cls.from_json(Path(path).read_text())
        except OSError as exc:
            raise ConfigError("config", f"cannot read {path}: {exc.strerror}") from None

    def replace(self, **changes) -> TrainConfig:
        return TrainConfig.from_dict({**self.to_dict(), **changes})


def _whole(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
