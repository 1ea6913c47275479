"""The training form's preset chooser: the preset combo (the named recipes, and "Custom"), the
preset's plain one-sentence summary and, on demand (Details), its full description.

The combo shows "Custom" whenever the form's recipe differs from the preset it came from
(``engine.same_recipe``), never because of the data. Applying a chosen preset to the form is
the form's (:meth:`.config_form.ConfigForm._on_preset_chosen`).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolButton, QWidget

import engine

__all__ = ["CUSTOM", "PresetChooser"]

CUSTOM = "custom"  # the preset combo's entry for a form that no preset gives exactly


class PresetChooser(QObject):
    """The preset's widgets (``combo``, ``info_row`` holding ``info`` and ``details_button``,
    ``details``), which the form lays out; ``chosen`` when the user picks an entry."""

    chosen = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.presets: dict[str, tuple[str, str, str]] = {}  # name -> (title, description, summary)
        self.base = ""  # the preset the form was last set from (for "changed from ...")
        self.combo = QComboBox()
        self.combo.setToolTip(
            "A named recipe: sets every training setting exactly and keeps your data; "
            'editing a training setting afterwards makes it "Custom"'
        )
        self.info = QLabel()  # the preset's plain one-sentence summary
        self.info.setWordWrap(True)
        self.details_button = QToolButton()
        self.details_button.setText("Details")
        self.details_button.setCheckable(True)
        self.details_button.setToolTip("Show every setting this preset sets")
        self.details = QLabel()  # the full description, on demand
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.hide()
        self.details_button.toggled.connect(self.details.setVisible)
        self.info_row = QWidget()
        info_layout = QHBoxLayout(self.info_row)
        info_layout.setContentsMargins(0, 0, 0, 0)
        info_layout.addWidget(self.info, 1)
        info_layout.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignTop)
        self.combo.activated.connect(lambda _index: self.chosen.emit())

    @property
    def name(self) -> str:
        """The preset the form holds exactly, or ``CUSTOM``."""
        return self.combo.currentData() or CUSTOM

    def set_presets(self, presets) -> None:
        """The engine's presets: (name, title, description, summary) each, then "Custom"."""
        self.presets = {name: (title, description, summary) for name, title, description, summary in presets}
        self.combo.clear()
        for name, title, _description, _summary in presets:
            self.combo.addItem(title, name)
        self.combo.addItem("Custom", CUSTOM)
        self.combo.setItemData(
            self.combo.count() - 1, "Settings edited after choosing a preset", Qt.ItemDataRole.ToolTipRole
        )

    def select(self, name: str | None) -> bool:
        """Show ``name`` (a preset, or ``CUSTOM``) as chosen; False when the combo has no such entry."""
        index = self.combo.findData(name)
        if index < 0:
            return False
        self.combo.setCurrentIndex(index)
        if name in self.presets:
            self.base = name
        self.show_info()
        return True

    def sync(self, cfg) -> None:
        """Show the preset ``cfg`` (the form's config, None when invalid) holds exactly, or
        "Custom" once it differs from it."""
        name = self.combo.currentData()
        if name in self.presets:
            self.base = name
        matches = False
        if cfg is not None and self.base in self.presets:
            try:
                matches = engine.same_recipe(cfg, self.base)  # the data is the user's: never "Custom" for it
            except engine.ConfigError:
                matches = False
        wanted = self.base if matches else CUSTOM
        if wanted != name:
            index = self.combo.findData(wanted)
            if index >= 0:
                self.combo.setCurrentIndex(index)
        self.show_info()

    def show_info(self) -> None:
        name = self.combo.currentData()
        if name in self.presets:
            _title, description, summary = self.presets[name]
            self.info.setText(summary or description)
            self.details.setText(description)
            self.info.setToolTip(description)
        elif self.base in self.presets:
            title, description, _summary = self.presets[self.base]
            self.info.setText(f"Your own settings, changed from the preset {title!r}.")
            self.details.setText(f"The preset {title!r} sets: {description}")
            self.info.setToolTip("")
        else:
            self.info.setText("Your own settings.")
            self.details.setText("")
            self.info.setToolTip("")
        self.details_button.setVisible(bool(self.details.text()))
