"""One input widget per kind of training-form field (a row of ``engine.TRAIN_SETTINGS`` with a
form group, ``engine.TrainSetting``): building it, reading its raw value, writing a config value
into it, and its change signal."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox, QWidget

import engine

from ..widgets.fields import NumberEdit

__all__ = ["changed_signal", "make_input", "read_input", "write_input"]


def make_input(spec: engine.TrainSetting) -> QWidget:
    """The widget for one table row; a change of it is reported through :func:`changed_signal`."""
    if spec.kind == "int":
        widget = QSpinBox()
        widget.setRange(*spec.range)
        widget.setMaximumWidth(140)
        if spec.placeholder:  # "0 = off" said as "off", so a 0 is never read as a setting
            widget.setSpecialValueText(spec.placeholder)
    elif spec.kind == "number":
        widget = NumberEdit()
    elif spec.kind in ("choice", "option"):
        widget = QComboBox()
        widget.addItems(list(spec.choices))
        for value, text in spec.options:
            widget.addItem(text, value)
    elif spec.kind == "flag":
        widget = QCheckBox(spec.label)
    elif spec.kind == "numbers":
        widget = QLineEdit()
        widget.setPlaceholderText(spec.placeholder)
    else:
        raise ValueError(f"{spec.name}: unknown field kind {spec.kind!r}")
    widget.setToolTip(spec.tooltip)
    return widget


def changed_signal(widget: QWidget):
    """The signal an input emits when the user changes it."""
    if isinstance(widget, QComboBox):
        return widget.currentIndexChanged
    if isinstance(widget, QSpinBox):
        return widget.valueChanged
    if isinstance(widget, QCheckBox):
        return widget.toggled
    return widget.textChanged


def read_input(spec: engine.TrainSetting, widget: QWidget):
    """The raw value of one input; a number that does not parse is a ConfigError on its field."""
    if spec.kind == "int":
        return widget.value()
    if spec.kind == "choice":
        return widget.currentText()
    if spec.kind == "option":
        return widget.currentData()
    if spec.kind == "flag":
        return widget.isChecked()
    if spec.kind == "numbers":
        try:
            return [float(m) for m in widget.text().replace(";", ",").split(",") if m.strip()]
        except ValueError:
            raise engine.ConfigError(spec.key, "must be numbers separated by commas") from None
    try:
        return widget.value()
    except ValueError:
        raise engine.ConfigError(spec.key, f"{widget.text()!r} is not a number") from None


def write_input(spec: engine.TrainSetting, widget: QWidget, value) -> None:
    """Show ``value`` (a TrainConfig field's) in one input."""
    if spec.kind == "int":
        widget.setValue(value)
    elif spec.kind == "choice":
        widget.setCurrentText(value)
    elif spec.kind == "option":
        widget.setCurrentIndex(max(widget.findData(value), 0))
    elif spec.kind == "flag":
        widget.setChecked(value)
    elif spec.kind == "numbers":
        widget.setText(", ".join(f"{m:g}" for m in value))
    else:
        widget.set_value(value)
