"""How a train setting is a command-line flag: the argparse types (a device), the
``(default X)`` of a flag's help, and the conversions between a flag's text and a TrainConfig
value, both ways. The settings themselves, and which of them have a flag, are declared once in
:mod:`engine.train_settings`. Imports no torch: ``--help`` is built from here.
"""

from __future__ import annotations

import argparse
import json

from .config import DEVICES, TrainConfig
from .errors import ConfigError

__all__ = [
    "DEVICE_METAVAR",
    "choice_type",
    "default_text",
    "device_type",
    "read_classes",
    "read_model_args",
    "write_classes",
    "write_model_args",
    "write_number",
    "write_switch",
]


# ---------------------------------------------------------------------------- argparse types
def choice_type(name: str, choices: tuple[str, ...], extra=None):
    """An argparse type accepting ``choices`` (and what ``extra`` accepts), with a one-line error."""

    def check(value: str) -> str:
        if value in choices or (extra is not None and extra(value)):
            return value
        shown = ", ".join(choices) + (" or cuda:N" if name == "device" else "")
        raise argparse.ArgumentTypeError(f"{value!r} is not a {name}: choose {shown}")

    check.__name__ = name
    return check


def _cuda_index(value: str) -> bool:
    return value.startswith("cuda:") and value[5:].isdigit()


device_type = choice_type("device", DEVICES, _cuda_index)
DEVICE_METAVAR = "{" + ",".join(DEVICES) + ",cuda:N}"


def default_text(name: str) -> str:
    """``(default X)`` for a TrainConfig setting, as the flag would write it."""
    value = getattr(TrainConfig(), name)
    if value in (None, "", []):
        value = {"limit": "all", "classes": "all", "pretrained_path": "none"}.get(name, value)
    elif name == "compile":
        value = "off"
    return f"(default {value})"


# ---------------------------------------------------------------------------- reading and writing values
def read_model_args(pairs: list[str]) -> dict:
    """``--model-arg KEY=VALUE`` (repeatable): values are JSON where they parse (224, true,
    0.5), text otherwise (finetune); the model's builder checks each (engine.models.factory)."""
    out = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError("model_args", f"--model-arg {pair!r}: expected KEY=VALUE, e.g. transfer=finetune")
        try:
            out[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            out[key.strip()] = text
    return out


def write_number(v) -> str:
    return repr(v)  # repr of a float round-trips exactly; argparse's float() reads it back


def read_classes(text: str) -> list[str]:
    return text.split(",")


def write_classes(v: list[str]) -> str | None:
    # The CLI splits --classes on commas: a class name with a comma needs the config file.
    return ",".join(v) if all("," not in c and c.strip() == c and c for c in v) else None


def write_switch(v) -> str | None:
    return "" if v is True else None  # a store_true flag: present means True


def _looks_like_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def write_model_args(args: dict) -> list[str] | None:
    """``--model-arg`` values, as :func:`read_model_args` parses them back (JSON, or bare text)."""
    out = []
    for key, value in args.items():
        text = value if isinstance(value, str) and not _looks_like_json(value) else json.dumps(value)
        out.append(f"{key}={text}")
    return out
