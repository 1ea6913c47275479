"""The one table of the training form's fields: each TrainConfig field the form edits directly,
with its group, label, kind of input, range, the schedules that use it and a tooltip with
typical values. The form builds, lists, reads and writes its inputs from this table only.

The data source, class subset and model are richer widgets (:mod:`.data_panel`,
:mod:`.model_picker`) and are not in the table.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FIELDS", "FieldSpec"]


@dataclass(frozen=True)
class FieldSpec:
    """One form input bound to one TrainConfig field.

    ``kind``: "int" (spin box in ``range``), "number" (free-text number, checked by the
    engine), "choice" (combo whose text is the value; ``choices`` names the engine constant
    that lists them, or gives them), "option" (combo of labelled values ``options``), "flag"
    (check box showing ``label``), "numbers" (comma-separated numbers).
    """

    name: str  # TrainConfig field; "augment.flip" for a field of a nested dataclass
    group: str
    label: str
    kind: str
    tooltip: str
    range: tuple[int, int] | None = None
    choices: str | tuple[str, ...] | None = None
    options: tuple[tuple[object, str], ...] = ()
    schedules: frozenset[str] | None = None  # shown only for these schedules (None: always)
    optimizers: frozenset[str] | None = None  # shown only for these optimizers (None: always)
    placeholder: str = ""  # "numbers": hint text; "int": what the minimum means, shown instead of it ("off")

    @property
    def key(self) -> str:
        """The last part of ``name``: how the form and ConfigError.field refer to the input."""
        return self.name.rsplit(".", 1)[-1]


_OPT, _LR, _AUG, _RUN = "Optimizer", "Learning-rate schedule", "Augmentation and regularisation", "Run"

FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("epochs", _OPT, "Epochs", "int", "Passes over the training images (typical: 10-30 quick, 200 long)",
              range=(1, 100_000)),
    FieldSpec("early_stop_patience", _OPT, "Early-stop patience", "int",
              "Stop after this many epochs without a better validation accuracy; 0 = off (typical: 10-20)",
              range=(0, 10_000), placeholder="off"),
    FieldSpec("batch_size", _OPT, "Batch size", "int", "Images per optimizer step (typical: 128-512)",
              range=(1, 65_536)),
    FieldSpec("micro_batch", _OPT, "Micro-batch", "int",
              "Run each batch in chunks of at most this many images and add up their gradients: less "
              "memory, and on CPUs often faster; batch norm normalises each chunk. 0 = the whole batch; "
              "auto (-1) = 200 images on a CPU, the whole batch on a GPU (the fast preset)",
              range=(-1, 65_536), placeholder="auto"),
    FieldSpec("optimizer", _OPT, "Optimizer", "choice", "sgd (with momentum) for CNNs; adam/adamw for quick tries; "
              "muon: orthogonalised steps for convolution filters (the fast preset)",
              choices="OPTIMIZERS"),
    FieldSpec("lr", _OPT, "Learning rate", "number",
              "Peak learning rate, 1e-3 style works (typical: 0.1 for SGD, 1e-3 for Adam)"),
    FieldSpec("momentum", _OPT, "Momentum", "number", "SGD momentum, or Adam's beta1; [0, 1) (typical: 0.9)"),
    FieldSpec("weight_decay", _OPT, "Weight decay", "number", "L2 weight decay, >= 0 (typical: 5e-4 for SGD)"),
    FieldSpec("norm_bias_lr_scale", _OPT, "Norm-layer LR scale", "number",
              "Learning-rate multiplier for normalisation layers, and with muon for every bias too "
              "(1 = plain; fast recipes: 64)"),
    FieldSpec("backbone_lr_scale", _OPT, "Backbone rate scale", "number",
              "Fine-tuning a pretrained network (Start from: fine-tune everything): its pretrained layers learn "
              "at this fraction of the learning rate, the new last layer at the full rate, in (0, 1] "
              "(typical: 0.1)"),
    FieldSpec("muon_lr", _OPT, "Muon learning rate", "number",
              "Optimizer muon only: peak rate of the convolution filters' orthogonalised steps (typical: 0.24); "
              "the other parameters use the learning rate above", optimizers=frozenset({"muon"})),
    FieldSpec("muon_momentum", _OPT, "Muon momentum", "number",
              "Optimizer muon only: the filters' Nesterov momentum, [0, 1) (typical: 0.6)",
              optimizers=frozenset({"muon"})),
    FieldSpec("label_smoothing", _OPT, "Label smoothing", "number", "Label smoothing in [0, 1) (typical: 0 or 0.1)"),
    FieldSpec("schedule", _LR, "Schedule", "choice", "How the learning rate changes over the run (typical: cosine)",
              choices="SCHEDULES"),
    FieldSpec("warmup_epochs", _LR, "Warm-up epochs", "number",
              "Linear warm-up length in epochs (may be fractional); 0 = none (typical: 0-5)"),
    FieldSpec("warmup_start_factor", _LR, "Warm-up start factor", "number",
              "Warm-up starts at this fraction of the learning rate (typical: 0.1)"),
    FieldSpec("step_size", _LR, "Step size (epochs)", "number", '"step": decay every this many epochs (typical: 30)',
              schedules=frozenset({"step"})),
    FieldSpec("gamma", _LR, "Gamma", "number", "Decay factor per step / milestone / plateau, in (0, 1] (typical: 0.1)",
              schedules=frozenset({"step", "multistep", "plateau"})),
    FieldSpec("milestones", _LR, "Milestones", "numbers",
              '"multistep": epochs at which to decay, comma separated, increasing',
              schedules=frozenset({"multistep"}), placeholder="e.g. 81, 122"),
    FieldSpec("final_lr_factor", _LR, "Final LR factor", "number",
              "Learning rate at the end, as a fraction of the peak (typical: 0 or 0.01)",
              schedules=frozenset({"cosine", "linear", "onecycle"})),
    FieldSpec("plateau_patience", _LR, "Plateau patience", "int",
              "Epochs without improvement before decaying (typical: 5)", range=(0, 10_000),
              schedules=frozenset({"plateau"})),
    FieldSpec("augment.crop_padding", _AUG, "Crop padding", "int",
              "Random translation by up to this many pixels; 0 = off (typical: 4 at 32x32)", range=(0, 16),
              placeholder="off"),
    FieldSpec("augment.padding_mode", _AUG, "Padding mode", "choice", "How the crop padding is filled",
              choices=("reflect", "zeros")),
    FieldSpec("augment.flip", _AUG, "Random horizontal flip", "flag", "Mirror half of the images (on for photos)"),
    FieldSpec("augment.alternate_flips", _AUG, "Alternate flips by epoch", "flag",
              "With flips on: each image shows one side on even epochs and its mirror on odd ones (fast recipes)"),
    FieldSpec("augment.cutout", _AUG, "Cutout", "int",
              "Side of a random square set to the mean; 0 = off (typical: 8-16 at 32x32)", range=(0, 32),
              placeholder="off"),
    FieldSpec("ema_decay", _AUG, "EMA decay", "number",
              "Exponential moving average of the weights per step (e.g. 0.999); 0 = off"),
    FieldSpec("lookahead_every", _AUG, "Lookahead every (steps)", "int",
              "Pull the weights back to a slow average every N steps, ending on it; 0 = off (airbench: 5)",
              range=(0, 100_000), placeholder="off"),
    FieldSpec("lookahead_decay", _AUG, "Lookahead decay", "number",
              "How much of the slow average is kept at the end of the run, in [0, 1) (airbench: 0.774)"),
    FieldSpec("whiten_bias_epochs", _AUG, "Whitening bias epochs", "int",
              "fastnet: train the whitening stem's bias for the first N epochs only; 0 = always (airbench: 3)",
              range=(0, 100_000), placeholder="always"),
    FieldSpec("mixed_precision", _RUN, "Mixed precision", "choice",
              "auto: bf16/fp16 on GPU, bf16 on CPUs that have it", choices="PRECISIONS"),
    FieldSpec("device", _RUN, "Device", "choice", "auto picks CUDA, then Apple MPS, then the CPU", choices="DEVICES"),
    FieldSpec("seed", _RUN, "Seed", "int", "Random seed: same seed, same run", range=(0, 2**31 - 1)),
    FieldSpec("tta", _RUN, "Validation TTA", "option", "Test-time augmentation for validation (typical: off)",
              options=((0, "off"), (1, "flips"), (2, "flips and 1-pixel shifts"))),
    FieldSpec("channels_last", _RUN, "Channels-last memory format", "flag",
              "Faster convolutions on most GPUs and recent CPUs"),
    FieldSpec("compile", _RUN, "torch.compile (needs a compiler toolchain)", "flag",
              "Compile the model first: slower start, faster epochs"),
)  # fmt: skip
