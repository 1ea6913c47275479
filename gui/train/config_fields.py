"""The training form's view of the engine's one table of the train settings
(``engine.TRAIN_SETTINGS``, engine/train_settings.py, which also makes the ``train`` flags):
the form's inputs (:data:`FIELDS`, the rows with a form group, in the table's order) and the
form's words for every setting (:data:`FIELD_LABELS`), which error messages use instead of the
config's field names.

The data source, class subset, validation fraction, limit, image size, model and weights file
are richer widgets (:mod:`.data_panel`, :mod:`.model_picker`): their rows have a label but no
group.
"""

from __future__ import annotations

import re

import engine

__all__ = ["FIELDS", "FIELD_LABELS", "describe_config_error", "label_of"]

FIELDS: tuple[engine.TrainSetting, ...] = tuple(row for row in engine.TRAIN_SETTINGS if row.group)

FIELD_LABELS = {
    # the form's names for what is not a TrainConfig field: a model argument, the preset combo
    "block": "Block",
    "preset": "Preset",
    **{row.name: row.label for row in engine.TRAIN_SETTINGS},
    **{row.key: row.label for row in engine.TRAIN_SETTINGS},
}


def label_of(field: str) -> str | None:
    """The form's label for a TrainConfig field ("val_fraction" -> "Validation fraction")."""
    return FIELD_LABELS.get(field) or FIELD_LABELS.get(field.rsplit(".", 1)[-1])


def describe_config_error(field: str | None, message: str) -> str:
    """An engine message about ``field`` in the form's words: the field's label first, and any
    other field name in it replaced by its quoted label ("set ema_decay to 0" -> "set 'EMA decay' to 0")."""
    if field:
        prefix = f"{field}: "
        reason = message[len(prefix) :] if message.startswith(prefix) else message
        label = label_of(field)
        message = f"{label}: {reason}" if label else message
    names = sorted(FIELD_LABELS, key=len, reverse=True)
    pattern = r"(?<![\w.])(" + "|".join(re.escape(n) for n in names if "_" in n or "." in n) + r")(?![\w.])"
    head, sep, rest = message.partition(": ")
    rest = re.sub(pattern, lambda m: repr(FIELD_LABELS[m.group(1)]), rest) if sep else rest
    return f"{head}{sep}{rest}" if sep else re.sub(pattern, lambda m: repr(FIELD_LABELS[m.group(1)]), message)
