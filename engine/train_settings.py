"""The train settings, declared once (:data:`TRAIN_SETTINGS`).

One row per TrainConfig field that the command line or the app's Train form shows: its name
("augment.flip" for a field of the nested Augment), its one help text, how the form shows it
(label, group, kind of input, range, the schedules or optimizers it is shown for) and, when it
has one, its ``train`` flag (argparse options, how the flag's text becomes the value and back,
whether ``lr-find`` takes it too). Defaults come from TrainConfig and choices from the
constants in engine/config.py, never restated here.

Made from this table: the ``train`` and ``lr-find`` parsers and reading their flags into a
TrainConfig (engine/cli/train_args.py, in the table's order), the ``train`` command line of a
run (engine/runs/command.py), and the app's Train form (gui/train/config_form.py, in the
table's order: the rows with a ``group`` are its inputs, the others are shown by its data and
model panels). The flag's help is ``help`` and ``(default X)``; the form's tooltip is ``help``
and the ``hint`` of typical values. Imports no torch: ``--help`` is built from here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import (
    AUTO_MICRO_BATCH,
    CPU_MICRO_BATCH,
    DEVICES,
    OPTIMIZERS,
    PADDING_MODES,
    PRECISIONS,
    SCHEDULES,
)
from .train_flags import (
    DEVICE_METAVAR,
    default_text,
    device_type,
    read_classes,
    read_model_args,
    write_classes,
    write_model_args,
    write_number,
    write_switch,
)

__all__ = ["TRAIN_FLAGS", "TRAIN_SETTINGS", "TrainSetting"]

KINDS = ("int", "number", "choice", "option", "flag", "numbers")


@dataclass(frozen=True)
class TrainSetting:
    """One TrainConfig field as the command line and the Train form show it.

    The form: ``kind`` is "int" (spin box in ``range``; ``placeholder`` is shown for its
    minimum, e.g. "off"), "number" (free-text number, checked by TrainConfig), "choice" (combo
    whose text is the value, one of ``choices``), "option" (combo of labelled values
    ``options``), "flag" (check box showing ``label``) or "numbers" (comma-separated numbers,
    ``placeholder`` as hint text). A row without ``group`` is not one of the form's inputs (its
    data and model panels show it; ``label`` still names it in messages). ``schedules`` /
    ``optimizers``: shown only for these (None: always).

    The command line (only with ``flag``): ``flag_options`` for argparse (type, metavar, action;
    ``choices`` default to the row's); ``read`` turns the parsed value into the field's value,
    ``write`` a field's value into the flag's text (None: the value cannot be written as this
    flag; "" a switch; a list: the flag repeated); ``lr_find``: ``python -m engine lr-find``
    takes the flag too; ``show_default``: the help ends with ``(default X)`` from TrainConfig.
    """

    name: str
    help: str
    hint: str = ""  # typical values, added to the form's tooltip: "typical: 0.9"
    label: str = ""
    group: str | None = None
    kind: str = ""
    range: tuple[int, int] | None = None
    choices: tuple[str, ...] = ()
    options: tuple[tuple[Any, str], ...] = ()
    schedules: frozenset[str] | None = None
    optimizers: frozenset[str] | None = None
    placeholder: str = ""
    flag: str | None = None
    flag_options: dict[str, Any] = field(default_factory=dict)
    read: Callable[[Any], Any] | None = None
    write: Callable[[Any], str | list[str] | None] = str
    lr_find: bool = False
    show_default: bool = True

    # ------------------------------------------------------------ the form
    @property
    def key(self) -> str:
        """The last part of ``name``: how the form and ConfigError.field refer to the input."""
        return self.name.rsplit(".", 1)[-1]

    @property
    def tooltip(self) -> str:
        """The form's tooltip: the help as a sentence, with its typical values."""
        text = self.help[:1].upper() + self.help[1:]
        return f"{text} ({self.hint})" if self.hint else text

    def shown_for(self, schedule: str, optimizer: str) -> bool:
        """Whether the form shows this input for that schedule and optimizer."""
        return (self.schedules is None or schedule in self.schedules) and (
            self.optimizers is None or optimizer in self.optimizers
        )

    # ------------------------------------------------------------ the command line
    @property
    def dest(self) -> str:
        return self.flag[2:].replace("-", "_")

    @property
    def argparse_options(self) -> dict[str, Any]:
        """``add_argument``'s options: the row's choices (or option values), then ``flag_options``."""
        choices = self.choices or tuple(value for value, _text in self.options)
        return {**({"choices": choices} if choices else {}), **self.flag_options}

    @property
    def full_help(self) -> str:
        """The flag's help: the help, what each option value means, ``(default X)``."""
        text = self.help
        if self.options:
            text += ": " + ", ".join(f"{value} {meaning}" for value, meaning in self.options)
        return f"{text} {default_text(self.name)}".strip() if self.show_default else text

    def value(self, args: argparse.Namespace):
        """The field's value given on the command line (None: not given)."""
        given = getattr(args, self.dest)
        if self.read is None:
            return given
        return self.read(given) if given else None


_N = {"type": int, "metavar": "N"}
_OPT, _LR, _AUG, _RUN = "Optimizer", "Learning-rate schedule", "Augmentation and regularisation", "Run"
_MUON = frozenset({"muon"})

# In the order ``train --help`` lists the flags and the form its inputs (group by group).
TRAIN_SETTINGS: tuple[TrainSetting, ...] = (
    # --- the data and model panels' settings
    TrainSetting("data", "cifar10, mnist, fashion-mnist, an image folder or a .zip of one", label="Source",
                 flag="--data", lr_find=True),
    TrainSetting("classes", "comma-separated subset of classes, e.g. airplane,bird", label="Classes",
                 flag="--classes", read=read_classes, write=write_classes, lr_find=True),
    TrainSetting("val_fraction", "fraction held out for validation when the data has no val/ split",
                 label="Validation fraction", flag="--val-fraction", flag_options={"type": float, "metavar": "F"},
                 write=write_number),
    TrainSetting("limit", "use at most N training images (quick tries)", label="Limit (images)",
                 flag="--limit", flag_options=_N, lr_find=True),
    TrainSetting("image_size", "resize folder images to this square size (default: as found, or 32)",
                 label="Image size"),
    TrainSetting("model", "architecture name (see `models`; tv:NAME for torchvision's)", label="Model",
                 flag="--model", lr_find=True),
    TrainSetting("model_args", "an architecture argument, repeatable: efficientnet_lite0 transfer=head|finetune "
                 "(frozen ImageNet features, or fine-tune everything), input_size=224; CIFAR ResNets block=a..e "
                 "(default: the preset's or the model's own)", label="Model",
                 flag="--model-arg", flag_options={"action": "append", "metavar": "KEY=VALUE"},
                 read=read_model_args, write=write_model_args, show_default=False),
    TrainSetting("pretrained_path", "tv: models: a local torchvision weights file (state dict) to fine-tune from, "
                 "offline", label="Weights file", flag="--pretrained-path", flag_options={"metavar": "FILE"}),
    # --- the form's inputs
    TrainSetting("epochs", "passes over the training images; resuming: the run's new length",
                 "typical: 10-30 quick, 200 long", "Epochs", _OPT, "int", range=(1, 100_000),
                 flag="--epochs", flag_options=_N),
    TrainSetting("early_stop_patience", "stop after this many epochs without a better validation accuracy; 0 = off",
                 "typical: 10-20", "Early-stop patience", _OPT, "int", range=(0, 10_000), placeholder="off",
                 flag="--early-stop-patience", flag_options=_N),
    TrainSetting("batch_size", "images per optimizer step", "typical: 128-512", "Batch size", _OPT, "int",
                 range=(1, 65_536), flag="--batch-size", flag_options=_N, lr_find=True),
    TrainSetting("micro_batch", "run each batch in chunks of at most this many images and add up their gradients: "
                 "less memory, and on CPUs often faster; batch norm normalises each chunk. 0 = the whole batch; "
                 f"auto ({AUTO_MICRO_BATCH}) = {CPU_MICRO_BATCH} images on a CPU, the whole batch on a GPU "
                 "(the fast preset)", "", "Micro-batch", _OPT, "int", range=(AUTO_MICRO_BATCH, 65_536),
                 placeholder="auto", flag="--micro-batch", flag_options=_N),
    TrainSetting("optimizer", "the optimizer: sgd (with momentum) for CNNs; adam/adamw for quick tries; muon: "
                 "orthogonalised steps for convolution filters (the fast preset)", "", "Optimizer", _OPT, "choice",
                 choices=OPTIMIZERS, flag="--optimizer", lr_find=True),
    TrainSetting("lr", "peak learning rate, 1e-3 style works", "typical: 0.1 for SGD, 1e-3 for Adam",
                 "Learning rate", _OPT, "number", flag="--lr", flag_options={"type": float}, write=write_number),
    TrainSetting("momentum", "SGD momentum, or Adam's beta1; [0, 1)", "typical: 0.9", "Momentum", _OPT, "number"),
    TrainSetting("weight_decay", "L2 weight decay, >= 0", "typical: 5e-4 for SGD", "Weight decay", _OPT, "number"),
    TrainSetting("norm_bias_lr_scale", "learning-rate multiplier for normalisation layers, and with muon for every "
                 "bias too", "1 = plain; fast recipes: 64", "Norm-layer LR scale", _OPT, "number"),
    TrainSetting("backbone_lr_scale", "fine-tuning a pretrained network (Start from: fine-tune everything): its "
                 "pretrained layers learn at this fraction of the learning rate, the new last layer at the full "
                 "rate, in (0, 1]", "typical: 0.1", "Backbone rate scale", _OPT, "number"),
    TrainSetting("muon_lr", "optimizer muon only: peak rate of the convolution filters' orthogonalised steps "
                 "(typical: 0.24); the other parameters use the learning rate above", "", "Muon learning rate",
                 _OPT, "number", optimizers=_MUON),
    TrainSetting("muon_momentum", "optimizer muon only: the filters' Nesterov momentum, [0, 1)", "typical: 0.6",
                 "Muon momentum", _OPT, "number", optimizers=_MUON),
    TrainSetting("label_smoothing", "label smoothing in [0, 1)", "typical: 0 or 0.1", "Label smoothing", _OPT,
                 "number"),
    TrainSetting("schedule", "how the learning rate changes over the run", "typical: cosine", "Schedule", _LR,
                 "choice", choices=SCHEDULES, flag="--schedule"),
    TrainSetting("warmup_epochs", "linear warm-up length in epochs (may be fractional); 0 = none", "typical: 0-5",
                 "Warm-up epochs", _LR, "number"),
    TrainSetting("warmup_start_factor", "warm-up starts at this fraction of the learning rate", "typical: 0.1",
                 "Warm-up start factor", _LR, "number"),
    TrainSetting("step_size", '"step": decay every this many epochs', "typical: 30", "Step size (epochs)", _LR,
                 "number", schedules=frozenset({"step"})),
    TrainSetting("gamma", "decay factor per step / milestone / plateau, in (0, 1]", "typical: 0.1", "Gamma", _LR,
                 "number", schedules=frozenset({"step", "multistep", "plateau"})),
    TrainSetting("milestones", '"multistep": epochs at which to decay, comma separated, increasing', "",
                 "Milestones", _LR, "numbers", schedules=frozenset({"multistep"}), placeholder="e.g. 81, 122"),
    TrainSetting("final_lr_factor", "learning rate at the end, as a fraction of the peak", "typical: 0 or 0.01",
                 "Final LR factor", _LR, "number", schedules=frozenset({"cosine", "linear", "onecycle"})),
    TrainSetting("plateau_patience", "epochs without improvement before decaying", "typical: 5", "Plateau patience",
                 _LR, "int", range=(0, 10_000), schedules=frozenset({"plateau"})),
    TrainSetting("augment.crop_padding", "random translation by up to this many pixels; 0 = off",
                 "typical: 4 at 32x32", "Crop padding", _AUG, "int", range=(0, 16), placeholder="off"),
    TrainSetting("augment.padding_mode", "how the crop padding is filled", "", "Padding mode", _AUG, "choice",
                 choices=PADDING_MODES),
    TrainSetting("augment.flip", "mirror half of the images (on for photos)", "", "Random horizontal flip", _AUG,
                 "flag"),
    TrainSetting("augment.alternate_flips", "with flips on: each image shows one side on even epochs and its "
                 "mirror on odd ones (fast recipes)", "", "Alternate flips by epoch", _AUG, "flag"),
    TrainSetting("augment.cutout", "side of a random square set to the mean; 0 = off", "typical: 8-16 at 32x32",
                 "Cutout", _AUG, "int", range=(0, 32), placeholder="off"),
    TrainSetting("ema_decay", "exponential moving average of the weights per step (e.g. 0.999); 0 = off", "",
                 "EMA decay", _AUG, "number", flag="--ema", flag_options={"type": float, "metavar": "DECAY"},
                 write=write_number),
    TrainSetting("lookahead_every", "pull the weights back to a slow average every N steps, ending on it; 0 = off",
                 "airbench: 5", "Lookahead every (steps)", _AUG, "int", range=(0, 100_000), placeholder="off"),
    TrainSetting("lookahead_decay", "how much of the slow average is kept at the end of the run, in [0, 1)",
                 "airbench: 0.774", "Lookahead decay", _AUG, "number"),
    TrainSetting("whiten_bias_epochs", "with the fastnet model: train the whitening stem's bias for the first N "
                 "epochs only; 0 = always", "airbench: 3", "Whitening bias epochs", _AUG, "int",
                 range=(0, 100_000), placeholder="always"),
    TrainSetting("mixed_precision", "mixed precision; auto: bf16/fp16 on a GPU, bf16 on CPUs that have it", "",
                 "Mixed precision", _RUN, "choice", choices=PRECISIONS, flag="--precision", lr_find=True),
    TrainSetting("device", "where to train; auto picks CUDA, then Apple MPS, then the CPU", "", "Device", _RUN,
                 "choice", choices=DEVICES, flag="--device", lr_find=True,
                 # device_type checks the choices, and accepts cuda:N too
                 flag_options={"type": device_type, "metavar": DEVICE_METAVAR, "choices": None}),
    TrainSetting("seed", "random seed of the data split, initialisation and batches: same seed, same run", "",
                 "Seed", _RUN, "int", range=(0, 2**31 - 1), flag="--seed", flag_options={"type": int},
                 lr_find=True),
    TrainSetting("tta", "test-time augmentation for validation", "typical: off", "Validation TTA", _RUN, "option",
                 options=((0, "off"), (1, "flips"), (2, "flips and 1-pixel shifts")), flag="--tta",
                 flag_options={"type": int}),
    TrainSetting("channels_last", "faster convolutions on most GPUs and recent CPUs", "",
                 "Channels-last memory format", _RUN, "flag"),
    TrainSetting("compile", "compile the model with torch.compile first: slower start, faster epochs; falls back "
                 "to eager, and says so", "", "torch.compile (needs a compiler toolchain)", _RUN, "flag",
                 flag="--compile", flag_options={"action": "store_const", "const": True}, write=write_switch),
)  # fmt: skip

TRAIN_FLAGS: tuple[TrainSetting, ...] = tuple(row for row in TRAIN_SETTINGS if row.flag)
"""The settings with a ``train`` flag, in ``train --help``'s order."""
