"""The training form: every TrainConfig field as a widget, both ways (form <-> TrainConfig).

Validation is TrainConfig's own: the form builds a dict, ``TrainConfig.from_dict`` coerces
and validates it, and a ConfigError's ``field`` says which widget to highlight. Fields that
only some schedules use are shown only for those schedules. The learning-rate preview and
the validity message update live (debounced) as fields change.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .data_panel import DataPanel
from .model_picker import ModelPicker
from .schedule_preview import SchedulePreview
from .widgets import NumberEdit, clear_invalid, mark_invalid

__all__ = ["ConfigForm"]

_logger = logging.getLogger(__name__)

# Which schedule-specific fields each schedule uses (warm-up applies to all).
_SCHEDULE_FIELDS = {
    "constant": set(),
    "step": {"step_size", "gamma"},
    "multistep": {"milestones", "gamma"},
    "cosine": {"final_lr_factor"},
    "linear": {"final_lr_factor"},
    "onecycle": {"final_lr_factor"},
    "plateau": {"gamma", "plateau_patience"},
}
_TTA = [(0, "off"), (1, "flips"), (2, "flips and 1-pixel shifts")]


def _spin(low: int, high: int, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setToolTip(tip)
    box.setMaximumWidth(140)
    return box


def _number(tip: str, integer: bool = False) -> NumberEdit:
    edit = NumberEdit(integer=integer)
    edit.setToolTip(tip)
    return edit


class ConfigForm(QWidget):
    """Emits ``changed`` on edits and ``validity_changed(message)`` ("" when valid)."""

    changed = Signal()
    validity_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.presets: dict[str, tuple[str, str]] = {}
        self.error = ""
        self._loaded_model = ""
        self._loaded_model_args: dict = {}
        self._build()
        self._external: tuple[str, str] | None = None  # (field, message) the engine reported
        self._debounce = QTimer(self, singleShot=True, interval=150, timeout=self.refresh)
        self.changed.connect(self._debounce.start)
        self.changed.connect(self._forget_external)

    # ----------------------------------------------------------------- layout
    def _build(self) -> None:
        self.preset = QComboBox()
        self.preset.setToolTip("A named recipe; every setting stays editable after choosing it")
        self.preset_info = QLabel()
        self.preset_info.setWordWrap(True)
        self.data = DataPanel()
        self.model = ModelPicker()

        self.epochs = _spin(1, 100_000, "Passes over the training images")
        self.batch_size = _spin(1, 65_536, "Images per optimizer step")
        self.optimizer = QComboBox()
        self.lr = _number("Peak learning rate (1e-3 style works)")
        self.momentum = _number("SGD momentum, or Adam's beta1; [0, 1)")
        self.weight_decay = _number("L2 weight decay, >= 0")
        self.norm_bias_lr_scale = _number("Learning-rate multiplier for normalisation layers (1 = plain)")
        self.label_smoothing = _number("Label smoothing in [0, 1)")

        self.schedule = QComboBox()
        self.warmup_epochs = _number("Linear warm-up length in epochs (may be fractional); 0 = none")
        self.warmup_start_factor = _number("Warm-up starts at this fraction of the learning rate")
        self.step_size = _number('"step": decay every this many epochs')
        self.gamma = _number("Decay factor per step / milestone / plateau, in (0, 1]")
        self.milestones = QLineEdit()
        self.milestones.setPlaceholderText("e.g. 81, 122")
        self.milestones.setToolTip('"multistep": epochs at which to decay, comma separated, increasing')
        self.final_lr_factor = _number("Learning rate at the end, as a fraction of the peak")
        self.plateau_patience = _spin(0, 10_000, "Epochs without improvement before decaying")
        self.preview = SchedulePreview()

        self.crop_padding = _spin(0, 16, "Random translation by up to this many pixels; 0 = off")
        self.padding_mode = QComboBox()
        self.padding_mode.addItems(["reflect", "zeros"])
        self.flip = QCheckBox("Random horizontal flip")
        self.cutout = _spin(0, 32, "Side of a random square set to the mean; 0 = off")
        self.ema_decay = _number("Exponential moving average of the weights per step (e.g. 0.999); 0 = off")

        self.mixed_precision = QComboBox()
        self.mixed_precision.setToolTip("auto: bf16/fp16 on GPU, bf16 on CPUs that have it")
        self.device = QComboBox()
        self.device.setToolTip("auto picks CUDA, then Apple MPS, then the CPU")
        self.seed = _spin(0, 2**31 - 1, "Random seed: same seed, same run")
        self.tta = QComboBox()
        for value, text in _TTA:
            self.tta.addItem(text, value)
        self.tta.setToolTip("Test-time augmentation for validation")
        self.channels_last = QCheckBox("Channels-last memory format")
        self.compile = QCheckBox("torch.compile (needs a compiler toolchain)")

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()

        groups = [
            ("Recipe", [("Preset", self.preset), (None, self.preset_info)]),
            ("Data", [(None, self.data)]),
            ("Model", [(None, self.model)]),
            (
                "Optimizer",
                [
                    ("Epochs", self.epochs),
                    ("Batch size", self.batch_size),
                    ("Optimizer", self.optimizer),
                    ("Learning rate", self.lr),
                    ("Momentum", self.momentum),
                    ("Weight decay", self.weight_decay),
                    ("Norm-layer LR scale", self.norm_bias_lr_scale),
                    ("Label smoothing", self.label_smoothing),
                ],
            ),
            (
                "Learning-rate schedule",
                [
                    ("Schedule", self.schedule),
                    ("Warm-up epochs", self.warmup_epochs),
                    ("Warm-up start factor", self.warmup_start_factor),
                    ("Step size (epochs)", self.step_size),
                    ("Gamma", self.gamma),
                    ("Milestones", self.milestones),
                    ("Final LR factor", self.final_lr_factor),
                    ("Plateau patience", self.plateau_patience),
                    (None, self.preview),
                ],
            ),
            (
                "Augmentation and regularisation",
                [
                    ("Crop padding", self.crop_padding),
                    ("Padding mode", self.padding_mode),
                    (None, self.flip),
                    ("Cutout", self.cutout),
                    ("EMA decay", self.ema_decay),
                ],
            ),
            (
                "Run",
                [
                    ("Mixed precision", self.mixed_precision),
                    ("Device", self.device),
                    ("Seed", self.seed),
                    ("Validation TTA", self.tta),
                    (None, self.channels_last),
                    (None, self.compile),
                ],
            ),
        ]
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.message)
        self._forms: dict[QWidget, QFormLayout] = {}
        for title, rows in groups:
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

        for widget in self._all_inputs():
            signal = (
                widget.currentIndexChanged
                if isinstance(widget, QComboBox)
                else widget.valueChanged
                if isinstance(widget, QSpinBox)
                else widget.toggled
                if isinstance(widget, QCheckBox)
                else widget.textChanged
            )
            signal.connect(self.changed)
        self.data.changed.connect(self.changed)
        self.model.changed.connect(self.changed)
        self.schedule.currentIndexChanged.connect(self._update_schedule_rows)
        self.preset.activated.connect(self._on_preset_chosen)

    def _all_inputs(self) -> list[QWidget]:
        return [
            self.epochs,
            self.batch_size,
            self.optimizer,
            self.lr,
            self.momentum,
            self.weight_decay,
            self.norm_bias_lr_scale,
            self.label_smoothing,
            self.schedule,
            self.warmup_epochs,
            self.warmup_start_factor,
            self.step_size,
            self.gamma,
            self.milestones,
            self.final_lr_factor,
            self.plateau_patience,
            self.crop_padding,
            self.padding_mode,
            self.flip,
            self.cutout,
            self.ema_decay,
            self.mixed_precision,
            self.device,
            self.seed,
            self.tta,
            self.channels_last,
            self.compile,
        ]

    def _highlightable(self) -> list[QWidget]:
        d = self.data
        return [
            *self._all_inputs(),
            d.source.combo,
            d.source.path.edit,
            d.classes,
            d.val_fraction,
            d.limit,
            d.image_size,
            self.model.combo,
            self.model.other,
        ]

    def _update_schedule_rows(self) -> None:
        used = _SCHEDULE_FIELDS.get(self.schedule.currentText(), set())
        for name in ("step_size", "gamma", "milestones", "final_lr_factor", "plateau_patience"):
            widget = getattr(self, name)
            self._forms[widget].setRowVisible(widget, name in used)

    # ----------------------------------------------------------------- engine data
    def set_choices(self, info) -> None:
        """Fill the combos from the loaded engine (an EngineInfo)."""
        import engine

        for combo, values in (
            (self.optimizer, engine.OPTIMIZERS),
            (self.schedule, engine.SCHEDULES),
            (self.mixed_precision, engine.PRECISIONS),
            (self.device, engine.DEVICES),
        ):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(list(values))
            combo.blockSignals(False)
        self.presets = {name: (title, description) for name, title, description in info.presets}
        self.preset.clear()
        for name, title, _description in info.presets:
            self.preset.addItem(title, name)
        self.data.source.set_builtins(info.datasets)
        self.model.set_models(info.models)

    def _on_preset_chosen(self, _index: int) -> None:
        import engine

        name = self.preset.currentData()
        self.preset_info.setText(self.presets.get(name, ("", ""))[1])
        base = self.config() or engine.TrainConfig(data=self.data.source.value() or "cifar10")
        try:
            self.set_config(engine.preset_config(name, base=base))
        except engine.ConfigError as exc:
            self._show_error(str(exc), exc.field)

    def set_preset(self, name: str | None, apply: bool = False) -> None:
        index = self.preset.findData(name)
        if index >= 0:
            self.preset.setCurrentIndex(index)
            self.preset_info.setText(self.presets.get(name, ("", ""))[1])
            if apply:
                self._on_preset_chosen(index)

    # ----------------------------------------------------------------- form -> config
    def config(self):
        """The valid TrainConfig, or None (the problem is highlighted and in ``self.error``)."""
        import engine

        try:
            cfg = engine.TrainConfig.from_dict(self._values())
        except engine.ConfigError as exc:
            self._show_error(str(exc), exc.field)
            return None
        self._show_error("", None)
        return cfg

    def _number(self, name: str):
        widget = getattr(self, name)
        try:
            return widget.value()
        except ValueError:
            import engine

            raise engine.ConfigError(name, f"{widget.text()!r} is not a number") from None

    def _values(self) -> dict:
        import engine

        model = self.model.model_name()
        args = dict(self._loaded_model_args) if model == self._loaded_model else {}
        block = self.model.block()
        if block is not None:
            args["block"] = block
        else:
            args.pop("block", None)
        try:
            milestones = [float(m) for m in self.milestones.text().replace(";", ",").split(",") if m.strip()]
        except ValueError:
            raise engine.ConfigError("milestones", "must be numbers separated by commas") from None
        for name in ("val_fraction", "limit", "image_size"):
            try:
                getattr(self.data, name).value()
            except ValueError:
                raise engine.ConfigError(name, f"{getattr(self.data, name).text()!r} is not a number") from None
        return {
            "data": self.data.source.value(),
            "classes": self.data.selected_classes(),
            "val_fraction": self.data.val_fraction.value(),
            "limit": self.data.limit.value(),
            "image_size": self.data.image_size.value(),
            "model": model,
            "model_args": args,
            "epochs": self.epochs.value(),
            "batch_size": self.batch_size.value(),
            "optimizer": self.optimizer.currentText(),
            "lr": self._number("lr"),
            "momentum": self._number("momentum"),
            "weight_decay": self._number("weight_decay"),
            "norm_bias_lr_scale": self._number("norm_bias_lr_scale"),
            "label_smoothing": self._number("label_smoothing"),
            "schedule": self.schedule.currentText(),
            "warmup_epochs": self._number("warmup_epochs"),
            "warmup_start_factor": self._number("warmup_start_factor"),
            "step_size": self._number("step_size"),
            "gamma": self._number("gamma"),
            "milestones": milestones,
            "final_lr_factor": self._number("final_lr_factor"),
            "plateau_patience": self.plateau_patience.value(),
            "augment": {
                "crop_padding": self.crop_padding.value(),
                "padding_mode": self.padding_mode.currentText(),
                "flip": self.flip.isChecked(),
                "cutout": self.cutout.value(),
            },
            "ema_decay": self._number("ema_decay"),
            "mixed_precision": self.mixed_precision.currentText(),
            "channels_last": self.channels_last.isChecked(),
            "compile": self.compile.isChecked(),
            "tta": self.tta.currentData(),
            "seed": self.seed.value(),
            "device": self.device.currentText(),
        }

    # ----------------------------------------------------------------- config -> form
    def set_config(self, cfg) -> None:
        self.blockSignals(True)
        try:
            self.data.source.set_value(cfg.data)
            self.data.set_selected_classes(cfg.classes)
            self.data.val_fraction.set_value(cfg.val_fraction)
            self.data.limit.set_value(cfg.limit)
            self.data.image_size.set_value(cfg.image_size)
            self._loaded_model, self._loaded_model_args = cfg.model, dict(cfg.model_args)
            self.model.set_model_name(cfg.model)
            self.model.set_block(cfg.model_args.get("block"))
            self.epochs.setValue(cfg.epochs)
            self.batch_size.setValue(cfg.batch_size)
            self.optimizer.setCurrentText(cfg.optimizer)
            for name in (
                "lr",
                "momentum",
                "weight_decay",
                "norm_bias_lr_scale",
                "label_smoothing",
                "warmup_epochs",
                "warmup_start_factor",
                "step_size",
                "gamma",
                "final_lr_factor",
                "ema_decay",
            ):
                getattr(self, name).set_value(getattr(cfg, name))
            self.schedule.setCurrentText(cfg.schedule)
            self.milestones.setText(", ".join(f"{m:g}" for m in cfg.milestones))
            self.plateau_patience.setValue(cfg.plateau_patience)
            self.crop_padding.setValue(cfg.augment.crop_padding)
            self.padding_mode.setCurrentText(cfg.augment.padding_mode)
            self.flip.setChecked(cfg.augment.flip)
            self.cutout.setValue(cfg.augment.cutout)
            self.mixed_precision.setCurrentText(cfg.mixed_precision)
            self.device.setCurrentText(cfg.device)
            self.seed.setValue(cfg.seed)
            self.tta.setCurrentIndex(max(self.tta.findData(cfg.tta), 0))
            self.channels_last.setChecked(cfg.channels_last)
            self.compile.setChecked(cfg.compile)
        finally:
            self.blockSignals(False)
        self._update_schedule_rows()
        self.refresh()

    # ----------------------------------------------------------------- validity and preview
    def refresh(self) -> None:
        """Validate now; redraw the learning-rate preview when the settings are valid."""
        import engine

        cfg = self.config()
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
        if field in ("model", "model_args", "block"):
            return self.model.field_widget
        return getattr(self, field, None) if isinstance(getattr(self, field, None), QWidget) else None

    def mark_external_error(self, field: str, message: str) -> bool:
        """Highlight a field the engine rejected at run time (e.g. CUDA requested, none present);
        the mark stays until the form is edited. False if no field matches."""
        if self.widget_for(field) is None:
            return False
        self._external = (field, message)
        mark_invalid(self.widget_for(field), message)
        return True

    def _forget_external(self) -> None:
        if self._external is not None:
            field = self._external[0]
            self._external = None
            if not self.error:
                clear_invalid(self.widget_for(field))

    def _show_error(self, message: str, field: str | None) -> None:
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
