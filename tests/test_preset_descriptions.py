"""Every preset's title and description say what it sets, and claim nothing it does not set.

A preset is applied exactly (the GUI and ``--preset`` both give ``preset_config(name)``), so
what the menu says is what trains: each setting a preset changes from the defaults is named
in its text, each number in its text is one of its settings, and each technique its text
names is switched on.
"""

from __future__ import annotations

import re

import pytest

import engine

_OPTIMIZER_WORDS = {"sgd": "SGD", "nesterov": "Nesterov", "adam": "Adam", "adamw": "AdamW", "muon": "muon"}
_SCHEDULE_WORDS = {
    "onecycle": "one-cycle",
    "cosine": "cosine",
    "constant": "constant",
    "linear": "linear decay",
    "plateau": "plateau",
    "step": "every",
    "multistep": "at epochs",
}
# Phrases that are context, not settings: their numbers are not checked.
_CONTEXT = [r"chapter \d+", r"CIFAR-10", r"\d+x\d+", r"~\d+%", r"[\d/]+ channels", r"[\d.]+ M parameters"]
# Technique named in the text -> it must be on in the config.
_CLAIMS = {
    "label smoothing": lambda c: c.label_smoothing > 0,
    "warm-up": lambda c: c.warmup_epochs > 0 or c.schedule == "onecycle",
    "cutout": lambda c: c.augment.cutout > 0,
    "lookahead": lambda c: c.lookahead_every > 0,
    "alternating flips": lambda c: c.augment.alternate_flips,
    "whitening bias": lambda c: c.whiten_bias_epochs > 0,
    "EMA": lambda c: c.ema_decay > 0,
    "TTA": lambda c: c.tta > 0,
    "no augmentation": lambda c: c.augment.crop_padding == 0 and not c.augment.flip,
    "flips": lambda c: c.augment.flip,
    "crops": lambda c: c.augment.crop_padding > 0,
    "cosine": lambda c: c.schedule == "cosine",
    "one-cycle": lambda c: c.schedule == "onecycle",
    "Nesterov": lambda c: c.optimizer in ("nesterov", "muon"),  # muon: Nesterov SGD for non-filters
    "Adam": lambda c: c.optimizer in ("adam", "adamw"),
    "SGD": lambda c: c.optimizer in ("sgd", "nesterov", "muon"),
    "Muon": lambda c: c.optimizer == "muon",
    "mixed precision": lambda c: c.mixed_precision != "off",
    "no weight decay": lambda c: c.weight_decay == 0,
    "no momentum": lambda c: c.momentum == 0,
}


def _number_forms(value: float) -> set[str]:
    """How a number may be written: 0.001, 1e-3, 1.33e-3, 64, 1024."""
    v = float(value)
    forms = {f"{v:g}"}
    if v.is_integer():
        forms.add(str(int(v)))
    mantissa, exponent = f"{v:e}".split("e")
    forms.add(f"{float(mantissa):g}e{int(exponent)}")
    return forms


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _mentions_number(text: str, value: float) -> bool:
    text = re.sub(r"\bx(?=\d)", " ", text)  # "LR x64"
    return any(re.search(rf"(?<![\w.]){re.escape(f)}(?![\w.]*\d)", text) for f in _number_forms(value))


@pytest.mark.parametrize("name", sorted(engine.PRESETS))
def test_description_names_every_setting_the_preset_changes(name):
    preset = engine.PRESETS[name]
    cfg, defaults = engine.preset_config(name), engine.TrainConfig()
    text = f"{preset.title}. {preset.description}"
    lower = text.lower()
    missing = []

    def need(what: str, ok: bool) -> None:
        if not ok:
            missing.append(what)

    def number(field: str, value, *phrases: str) -> None:
        need(f"{field}={value}", _mentions_number(text, value) and all(p.lower() in lower for p in phrases))

    def differs(field: str) -> bool:
        return getattr(cfg, field) != getattr(defaults, field)

    if differs("data"):
        need(f"data={cfg.data}", cfg.data.lower() in lower)
    for cls in cfg.classes or []:
        need(f"class {cls}", cls.lower() in lower)
    if differs("model"):  # "ResNet-32" names resnet32
        need(f"model={cfg.model}", _squash(cfg.model) in _squash(text))
    if differs("epochs"):
        number("epochs", cfg.epochs, "epochs")
    if differs("batch_size"):
        number("batch_size", cfg.batch_size, "batch")
    if cfg.micro_batch == engine.AUTO_MICRO_BATCH:
        number("micro_batch", engine.CPU_MICRO_BATCH, "automatic micro-batches", "CPU", "GPU")
    elif differs("micro_batch"):
        number("micro_batch", cfg.micro_batch, "micro-batch")
    if differs("optimizer"):
        need(f"optimizer={cfg.optimizer}", _OPTIMIZER_WORDS[cfg.optimizer] in text)
    if differs("lr"):
        number("lr", cfg.lr)
    if differs("momentum"):
        if cfg.momentum == 0:
            need("momentum=0", "no momentum" in lower)
        else:
            number("momentum", cfg.momentum, "momentum")
    if differs("weight_decay"):
        if cfg.weight_decay == 0:
            need("weight_decay=0", "no weight decay" in lower)
        else:
            number("weight_decay", cfg.weight_decay, "weight decay")
    if differs("norm_bias_lr_scale"):
        number("norm_bias_lr_scale", cfg.norm_bias_lr_scale, "norm")
    if differs("label_smoothing"):
        number("label_smoothing", cfg.label_smoothing, "label smoothing")
    if differs("schedule"):
        need(f"schedule={cfg.schedule}", _SCHEDULE_WORDS[cfg.schedule].lower() in lower)
    if cfg.warmup_epochs > 0:
        number("warmup_epochs", cfg.warmup_epochs, "warm-up")
    warms = cfg.warmup_epochs > 0 or cfg.schedule == "onecycle"
    if warms and cfg.warmup_start_factor != defaults.warmup_start_factor:
        number("warmup_start_factor", cfg.warmup_start_factor, "warm-up")
    if cfg.schedule == "step":
        number("step_size", cfg.step_size)
    if cfg.schedule in ("step", "multistep", "plateau"):
        number("gamma", cfg.gamma if cfg.schedule == "step" else round(1 / cfg.gamma, 6))
    for m in cfg.milestones if cfg.schedule == "multistep" else []:
        number("milestone", m)
    if cfg.schedule in ("cosine", "linear", "onecycle") and differs("final_lr_factor"):
        number("final_lr_factor", cfg.final_lr_factor)
    if differs("early_stop_patience"):
        number("early_stop_patience", cfg.early_stop_patience, "early stop")
    if differs("ema_decay"):
        number("ema_decay", cfg.ema_decay, "EMA")
    if differs("tta"):
        need(f"tta={cfg.tta}", "TTA" in text and (cfg.tta < 2 or "shift" in lower))
    aug, daug = cfg.augment, defaults.augment
    if not aug.flip and aug.crop_padding == 0:
        need("no augmentation", "no augmentation" in lower)
    else:
        if aug.crop_padding != daug.crop_padding:
            need(f"crop_padding={aug.crop_padding}", f"pad-{aug.crop_padding}" in lower)
        if aug.flip != daug.flip:
            need("flip off", "no flips" in lower)
        if aug.padding_mode != daug.padding_mode:
            need(f"padding_mode={aug.padding_mode}", "zero padding" in lower)
    if aug.cutout:
        number("cutout", aug.cutout, "cutout")
    if aug.alternate_flips:
        need("alternate_flips", "alternating flips" in lower)
    if cfg.optimizer == "muon":
        if differs("muon_lr"):
            number("muon_lr", cfg.muon_lr)
        if differs("muon_momentum"):
            number("muon_momentum", cfg.muon_momentum, "momentum")
    if differs("lookahead_every"):
        number("lookahead_every", cfg.lookahead_every, "lookahead", "steps")
    if differs("lookahead_decay"):
        number("lookahead_decay", cfg.lookahead_decay, "lookahead")
    if differs("whiten_bias_epochs"):
        number("whiten_bias_epochs", cfg.whiten_bias_epochs, "whitening bias", "epochs")
    for field in ("mixed_precision", "channels_last", "compile", "device", "seed", "val_fraction", "limit"):
        if differs(field):
            need(field, field.replace("_", " ") in lower)
    assert not missing, f"{name}: its text does not mention {', '.join(missing)}: {text}"


@pytest.mark.parametrize("name", sorted(engine.PRESETS))
def test_description_claims_nothing_the_preset_does_not_set(name):
    preset = engine.PRESETS[name]
    cfg = engine.preset_config(name)
    text = f"{preset.title}. {preset.description}"
    wrong = [
        phrase
        for phrase, holds in _CLAIMS.items()
        if re.search(rf"(?<!no )\b{re.escape(phrase)}\b", text) and not holds(cfg)
    ]
    assert not wrong, f"{name}: its text claims {wrong} but the preset does not set it: {text}"
    # Every number in the text is one of the preset's settings (or a model name's, or context).
    values = set()
    for value in _all_numbers(cfg):
        values |= _number_forms(value)
    if cfg.micro_batch == engine.AUTO_MICRO_BATCH:  # "auto" stands for this many images on a CPU
        values |= _number_forms(engine.CPU_MICRO_BATCH)
    stripped = text
    for pattern in _CONTEXT:
        stripped = re.sub(pattern, " ", stripped)
    stray = []
    for token in re.findall(r"(?<![A-Za-z\d.])\d+(?:\.\d+)?(?:e-?\d+)?", stripped):
        if token not in values and not any(token in f for f in (cfg.model, preset.name)):
            stray.append(token)
    assert not stray, f"{name}: numbers {stray} in its text are none of its settings: {text}"


def _all_numbers(cfg) -> list[float]:
    out: list[float] = []

    def walk(value):
        if isinstance(value, bool):
            return
        if isinstance(value, (int, float)):
            out.append(float(value))
            if value:
                out.append(round(1 / value, 6))  # "divided by 10" for gamma 0.1
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(cfg.to_dict())
    return out
