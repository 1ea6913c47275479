"""The training form: every TrainConfig field as a widget, both ways (form <-> TrainConfig).

The inputs come from the engine's one table of the train settings (``engine.TRAIN_SETTINGS``,
its rows with a form group: :data:`.config_fields.FIELDS`; one widget per kind of field,
:mod:`.field_inputs`): building them, listing them, reading them into a dict and writing a
TrainConfig into them are all loops over that table.
Validation is TrainConfig's own: the form builds a dict, ``TrainConfig.from_dict`` coerces and
validates it, and a ConfigError's ``field`` says which widget to highlight. Reading the config
(:meth:`ConfigForm.config`) has no side effects; :meth:`ConfigForm.check` reads it and shows
the verdict. A preset sets every recipe setting to exactly ``engine.preset_config(name)``'s and
keeps the user's data (``engine.recipe_config``: data is not part of a recipe, except data a
preset names itself); the preset combo shows "Custom" whenever the recipe differs from the
preset it came from (``engine.same_recipe``), never because of the data. The preset's plain
one-sentence summary is shown, its full description on demand (Details). Error messages name
the form's labels ("Validation fraction"), never the config's field names. Fields that only some
schedules use are shown only for those schedules; torch.compile only where it can work. The
learning-rate preview and the validity message update live (debounced) as fields change.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QVBoxLayout,
    QWidget,
)

import engine

from ..widgets.fields import clear_invalid, mark_invalid
from .config_fields import FIELDS, describe_config_error
from .data_panel import DataPanel
from .field_inputs import changed_signal, make_input, read_input, write_input
from .model_picker import ModelPicker
from .preset_chooser import PresetChooser
from .schedule_preview import SchedulePreview

__all__ = ["ConfigForm"]

_logger = logging.getLogger(__name__)


def _config_value(cfg, name: str):
    """``cfg.augment.flip`` for "augment.flip"."""
    value = cfg
    for part in name.split("."):
        value = getattr(value, part)
    return value


class ConfigForm(QWidget):
    """Emits ``changed`` on edits and ``validity_changed(message)`` ("" when valid)."""

    changed = Signal()
    validity_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._compile_unavailable: str | None = None  # why torch.compile cannot work here
        self.error = ""
        self._loaded_model = ""
        self._loaded_model_args: dict = {}
        self.inputs: dict[str, QWidget] = {}  # TrainSetting.key -> its input, in table order
        self._build()
        self._external: tuple[str, str] | None = None  # (field, message) the engine reported
        self._debounce = QTimer(self, singleShot=True, interval=150, timeout=self.refresh)
        self.changed.connect(self._debounce.start)
        self.changed.connect(self._forget_external)

    # ----------------------------------------------------------------- layout
    def _build(self) -> None:
        self.chooser = PresetChooser(self)
        self.preset, self.preset_info = self.chooser.combo, self.chooser.info
        self.preset_details, self.preset_details_button = self.chooser.details, self.chooser.details_button
        self.data = DataPanel()
        self.model = ModelPicker()
        self.preview = SchedulePreview()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()

        groups: dict[str, list[tuple[str | None, QWidget]]] = {
            "Recipe": [("Preset", self.preset), (None, self.chooser.info_row), (None, self.preset_details)],
            "Data": [(None, self.data)],
            "Model": [(None, self.model)],
        }
        for spec in FIELDS:
            widget = self.inputs[spec.key] = make_input(spec)
            groups.setdefault(spec.group, []).append((None if spec.kind == "flag" else spec.label, widget))
        groups["Learning-rate schedule"].append((None, self.preview))

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.message)
        self._forms: dict[QWidget, QFormLayout] = {}
        for title, rows in groups.items():
            box = QGroupBox(title)
            form = QFormLayout(box)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            for label, widget in rows:
                if label is None:
                    form.addRow(widget)
                else:
                    form.addRow(label, widget)
                self._forms[widget] = form
            outer.addWidget(box)
        outer.addStretch(1)
        for combo in self.findChildren(QComboBox):
            # Long entries (preset titles, model names) must not widen the form beyond its column.
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)

        for widget in self.inputs.values():
            changed_signal(widget).connect(self.changed)
        self.data.changed.connect(self.changed)
        self.model.changed.connect(self.changed)
        self.inputs["schedule"].currentIndexChanged.connect(self._update_visible_rows)
        self.inputs["optimizer"].currentIndexChanged.connect(self._update_visible_rows)
        self.chooser.chosen.connect(self._on_preset_chosen)

    def _highlightable(self) -> list[QWidget]:
        d = self.data
        return [
            *self.inputs.values(),
            d.source.combo,
            d.source.path.edit,
            d.classes,
            d.val_fraction,
            d.limit,
            d.image_size,
            self.model.combo,
            self.model.other,
            self.model.weights.edit,
        ]

    def _update_visible_rows(self) -> None:
        """Show only the inputs the chosen schedule and optimizer use."""
        schedule, optimizer = self.inputs["schedule"].currentText(), self.inputs["optimizer"].currentText()
        for spec in FIELDS:
            if spec.schedules is not None or spec.optimizers is not None:
                widget = self.inputs[spec.key]
                self._forms[widget].setRowVisible(widget, spec.shown_for(schedule, optimizer))
        compile_box = self.inputs["compile"]
        self._forms[compile_box].setRowVisible(compile_box, self._compile_unavailable is None)

    @property
    def compile_offered(self) -> bool:
        return self._compile_unavailable is None

    # ----------------------------------------------------------------- engine data
    def set_choices(self, info) -> None:
        """Fill the combos from the loaded engine (an EngineInfo); the settings' own choices
        come with the table (:func:`.field_inputs.make_input`)."""
        self.chooser.set_presets(info.presets)
        self.data.source.set_builtins(info.datasets)
        self.model.set_models(info.models)
        # torch.compile where it cannot work (a frozen app, no C++ compiler) is not offered at all.
        self._compile_unavailable = getattr(info, "compile_unavailable", None)
        self._update_visible_rows()

    def _on_preset_chosen(self) -> None:
        """A preset sets every recipe setting to exactly ``engine.preset_config(name)``'s: nothing
        of the form's recipe is kept, so it trains as its description says. The data stays the
        user's (data is not part of a recipe), except the data settings the preset names itself
        (``engine.recipe_config``)."""
        name = self.preset.currentData()
        if name not in self.chooser.presets:  # "Custom" chosen by hand: keep the form as it is
            self.chooser.sync(self.config())
            return
        try:
            own = engine.PRESETS[name].overrides
            self.set_config(engine.preset_config(name), data_settings=[k for k in engine.DATA_SETTINGS if k in own])
        except engine.ConfigError as exc:
            self.show_error(describe_config_error(exc.field, str(exc)), exc.field)

    def set_preset(self, name: str | None, apply: bool = False) -> None:
        if self.chooser.select(name) and apply:
            self._on_preset_chosen()

    @property
    def preset_name(self) -> str:
        """The preset the form holds exactly, or ``CUSTOM``."""
        return self.chooser.name

    # ----------------------------------------------------------------- form -> config
    def read_config(self):
        """``(TrainConfig, None)`` when the form is valid, else ``(None, ConfigError)``; no side effects."""
        try:
            return engine.TrainConfig.from_dict(self._values()), None
        except engine.ConfigError as exc:
            return None, exc

    def config(self):
        """The valid TrainConfig, or None; changes nothing on screen (see :meth:`check`)."""
        return self.read_config()[0]

    def check(self):
        """Read the config and show the verdict: highlight the bad field and set ``self.error``."""
        cfg, problem = self.read_config()
        if problem is None:
            self.show_error("", None)
        else:
            self.show_error(describe_config_error(problem.field, str(problem)), problem.field)
        return cfg

    def _values(self) -> dict:
        model = self.model.model_name()
        args = dict(self._loaded_model_args) if model == self._loaded_model else {}
        block = self.model.block()
        if block is not None and (block != "a" or "block" in args):
            args["block"] = block  # "a" is the models' default: a preset without it stays exact
        else:
            args.pop("block", None)
        transfer = self.model.transfer()
        if transfer is not None and (transfer != "head" or "transfer" in args):
            args["transfer"] = transfer  # "head" is the model's default: a preset without it stays exact
        else:
            args.pop("transfer", None)
        for name in ("val_fraction", "limit", "image_size"):
            try:
                getattr(self.data, name).value()
            except ValueError:
                raise engine.ConfigError(name, f"{getattr(self.data, name).text()!r} is not a number") from None
        if not self.data.source.value():
            raise engine.ConfigError(
                "data", "choose the data to train on: CIFAR-10, MNIST, Fashion-MNIST, an image folder or a .zip"
            )
        values = {
            "data": self.data.source.value(),
            "classes": self.data.selected_classes(),
            "val_fraction": self.data.val_fraction.value(),
            "limit": self.data.limit.value(),
            "image_size": self.data.image_size.value(),
            "model": model,
            "model_args": args,
            "pretrained_path": self.model.weights_path(),
        }
        if values["pretrained_path"] and not Path(values["pretrained_path"]).expanduser().is_file():
            raise engine.ConfigError("pretrained_path", f"{values['pretrained_path']}: no such file")
        for spec in FIELDS:
            *parents, key = spec.name.split(".")
            target = values
            for part in parents:
                target = target.setdefault(part, {})
            target[key] = read_input(spec, self.inputs[spec.key])
        return values

    # ----------------------------------------------------------------- config -> form
    def set_config(self, cfg, data_settings=None) -> None:
        """Show ``cfg``; of the data settings (``engine.DATA_SETTINGS``) only ``data_settings``
        when given (a preset keeps the user's data)."""
        wanted = set(engine.DATA_SETTINGS if data_settings is None else data_settings)
        self.blockSignals(True)
        try:
            if "data" in wanted:
                self.data.source.set_value(cfg.data)
            if "classes" in wanted:
                self.data.set_selected_classes(cfg.classes)
            if "val_fraction" in wanted:
                self.data.val_fraction.set_value(cfg.val_fraction)
            if "limit" in wanted:
                self.data.limit.set_value(cfg.limit)
            if "image_size" in wanted:
                self.data.image_size.set_value(cfg.image_size)
            self._loaded_model, self._loaded_model_args = cfg.model, dict(cfg.model_args)
            self.model.set_model_name(cfg.model)
            self.model.set_block(cfg.model_args.get("block"))
            self.model.set_transfer(cfg.model_args.get("transfer"))
            self.model.set_weights_path(cfg.pretrained_path)
            for spec in FIELDS:
                write_input(spec, self.inputs[spec.key], _config_value(cfg, spec.name))
            if self._compile_unavailable is not None:
                self.inputs["compile"].setChecked(False)  # hidden: never on without the user seeing it
        finally:
            self.blockSignals(False)
        self._update_visible_rows()
        self.refresh()

    # ----------------------------------------------------------------- validity and preview
    def refresh(self) -> None:
        """Validate now; redraw the learning-rate preview when the settings are valid."""
        cfg = self.check()
        self.chooser.sync(cfg)
        if cfg is not None:
            try:
                self.preview.set_points(engine.schedule_preview(cfg))
            except Exception as exc:  # a preview must never break the form
                _logger.warning("schedule preview failed: %s", exc)

    def widget_for(self, field: str) -> QWidget | None:
        field = field.split(".")[-1]
        if field == "data":
            return self.data.source.field_widget
        if field == "classes":
            return self.data.classes
        if field in ("val_fraction", "limit", "image_size"):
            return getattr(self.data, field)
        if field in ("model", "model_args", "block", "transfer"):
            return self.model.field_widget
        if field == "pretrained_path":
            return self.model.weights.edit
        return self.inputs.get(field)

    def mark_external_error(self, field: str, message: str) -> bool:
        """Highlight a field the engine rejected at run time (e.g. CUDA requested, none present);
        the mark stays until the form is edited. False if no field matches."""
        if self.widget_for(field) is None:
            return False
        message = describe_config_error(field, message)
        self._external = (field, message)
        mark_invalid(self.widget_for(field), message)
        return True

    def _forget_external(self) -> None:
        if self._external is not None:
            field = self._external[0]
            self._external = None
            if not self.error:
                clear_invalid(self.widget_for(field))

    def show_error(self, message: str, field: str | None) -> None:
        """Show ``message`` ("" = valid) above the form and highlight ``field``'s input."""
        for widget in self._highlightable():
            clear_invalid(widget)
        widget = self.widget_for(field) if field else None
        if message and widget is not None:
            mark_invalid(widget, message)
        elif not message and self._external is not None:
            mark_invalid(self.widget_for(self._external[0]), self._external[1])
        self.message.setText(f"⚠ {message}" if message else "")
        self.message.setVisible(bool(message))
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if message != self.error:
            self.error = message
            self.validity_changed.emit(message)

    def focus_error(self) -> None:
        """Scroll to and focus the highlighted field (after a refused Start)."""
        for widget in self._highlightable():
            if widget.property("invalid"):
                widget.setFocus(Qt.FocusReason.OtherFocusReason)
                return
