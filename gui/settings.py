"""What the app remembers between runs, in QSettings (organization "CIFAR Studio", app "cifar-studio").

Values are stored as strings (JSON for lists and dicts) because QSettings' INI backend turns a
one-element list into a bare string and numbers into text. ``CIFAR_STUDIO_SETTINGS`` names an
INI file to use instead of the user's settings (tests, benchmarks, screenshots).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

__all__ = ["APPLICATION", "MAX_RECENT", "ORGANIZATION", "Settings"]

_logger = logging.getLogger(__name__)

ORGANIZATION = "CIFAR Studio"
APPLICATION = "cifar-studio"
MAX_RECENT = 8


def _default_store() -> QSettings:
    path = os.environ.get("CIFAR_STUDIO_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(ORGANIZATION, APPLICATION)


class Settings:
    """Typed access to the app's settings; pass a QSettings to isolate (tests)."""

    def __init__(self, store: QSettings | None = None):
        self.store = store if store is not None else _default_store()

    # ----------------------------------------------------------------- plumbing
    def _text(self, key: str) -> str | None:
        value = self.store.value(key)
        return str(value) if value not in (None, "") else None

    def _json(self, key: str, default: Any) -> Any:
        text = self._text(key)
        if text is None:
            return default
        try:
            return json.loads(text)
        except ValueError:
            _logger.warning("ignoring unreadable setting %s", key)
            return default

    def _set(self, key: str, value: str | None) -> None:
        if value is None:
            self.store.remove(key)
        else:
            self.store.setValue(key, value)

    def sync(self) -> None:
        self.store.sync()

    # ----------------------------------------------------------------- training
    @property
    def train_config_json(self) -> str | None:
        """The last training configuration, as ``TrainConfig.to_json()`` wrote it."""
        return self._text("train/config")

    @train_config_json.setter
    def train_config_json(self, text: str | None) -> None:
        self._set("train/config", text)

    @property
    def preset(self) -> str | None:
        return self._text("train/preset")

    @preset.setter
    def preset(self, name: str | None) -> None:
        self._set("train/preset", name)

    @property
    def last_run(self) -> dict:
        """``{"out_dir", "status", "best", "last"}`` of the most recent run, for Resume after a restart."""
        value = self._json("train/last_run", {})
        return value if isinstance(value, dict) else {}

    @last_run.setter
    def last_run(self, value: dict | None) -> None:
        self._set("train/last_run", json.dumps(value) if value else None)

    # ----------------------------------------------------------------- checkpoints
    @property
    def last_checkpoint(self) -> str | None:
        return self._text("predict/checkpoint")

    @last_checkpoint.setter
    def last_checkpoint(self, path: str | None) -> None:
        self._set("predict/checkpoint", path)

    @property
    def recent_checkpoints(self) -> list[str]:
        value = self._json("predict/recent", [])
        return [str(v) for v in value] if isinstance(value, list) else []

    def add_recent_checkpoint(self, path: str) -> list[str]:
        recent = [path] + [p for p in self.recent_checkpoints if p != path]
        self._set("predict/recent", json.dumps(recent[:MAX_RECENT]))
        return recent[:MAX_RECENT]

    def clear_recent_checkpoints(self) -> None:
        self._set("predict/recent", None)

    # ----------------------------------------------------------------- evaluation
    @property
    def evaluate_data(self) -> str | None:
        return self._text("evaluate/data")

    @evaluate_data.setter
    def evaluate_data(self, spec: str | None) -> None:
        self._set("evaluate/data", spec)

    # ----------------------------------------------------------------- teach
    @property
    def teach_project(self) -> str | None:
        """The folder of the Teach project open last (reopened at start)."""
        return self._text("teach/project")

    @teach_project.setter
    def teach_project(self, folder: str | None) -> None:
        self._set("teach/project", folder)

    # ----------------------------------------------------------------- window
    @property
    def geometry(self) -> QByteArray | None:
        text = self._text("window/geometry")
        return QByteArray.fromBase64(text.encode("ascii")) if text else None

    @geometry.setter
    def geometry(self, data: QByteArray | None) -> None:
        self._set("window/geometry", bytes(data.toBase64()).decode("ascii") if data is not None else None)

    @property
    def current_tab(self) -> str | None:
        return self._text("window/tab")

    @current_tab.setter
    def current_tab(self, name: str | None) -> None:
        self._set("window/tab", name)
