"""Save and load the training settings as JSON: the same file ``python -m engine train
--config FILE`` reads (TrainConfig.to_json / TrainConfig.load), so a config moves freely
between the app and the command line."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

# Imports inside functions: `engine` is imported when a config file is opened or saved, after it has
# loaded; not at start-up.

__all__ = ["CONFIG_FILTER", "load_training_settings", "save_training_settings"]

CONFIG_FILTER = "Training settings (*.json);;All files (*)"


def save_training_settings(tab, path: str | None = None) -> str | None:
    """Write the Train tab's form as JSON; None (with the reason shown) when the form is invalid."""
    cfg = tab.form.check()
    if cfg is None:
        tab.message.show_message(f"Cannot save the settings: {tab.form.error}", "error")
        tab.form.focus_error()
        return None
    if path is None:
        path, _ = QFileDialog.getSaveFileName(tab, "Save training settings", "train-config.json", CONFIG_FILTER)
    if not path:
        return None
    try:
        Path(path).write_text(cfg.to_json() + "\n", encoding="utf-8")
    except OSError as exc:
        tab.message.show_message(f"Could not write {path}: {exc.strerror}", "error")
        return None
    tab.status_message.emit(f"Training settings saved to {path} (python -m engine train --config {path})")
    return path


def load_training_settings(tab, path: str | None = None) -> bool:
    """Fill the Train tab's form from a JSON config file; a bad file names its problem."""
    import engine

    if tab.running:
        tab.message.show_message("Settings cannot change while a run is in progress.", "warning")
        return False
    if path is None:
        path, _ = QFileDialog.getOpenFileName(tab, "Load training settings", "", CONFIG_FILTER)
    if not path:
        return False
    try:
        cfg = engine.TrainConfig.load(path)
    except engine.ConfigError as exc:
        tab.message.show_message(f"{Path(path).name}: {exc}", "error")
        return False
    tab.form.set_config(cfg)
    tab.message.clear()
    tab.status_message.emit(f"Training settings loaded from {path}")
    return True
