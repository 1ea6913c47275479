"""Choose a data source: a built-in dataset (CIFAR-10, MNIST, Fashion-MNIST), an image
folder (one sub-folder per class) or a .zip of one. Used by the Train and Evaluate tabs."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QVBoxLayout, QWidget

from .fields import PathField

__all__ = ["DataSourcePicker"]

_FOLDER, _ZIP = "@folder", "@zip"


class DataSourcePicker(QWidget):
    """``value()`` is what ``engine.load_dataset`` and ``TrainConfig.data`` take."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setToolTip("Where the images come from")
        self.path = PathField("folder", placeholder="folder with one sub-folder per class")
        self.path.hide()
        # Each kind keeps its own path: switching from a folder to a .zip (or to a built-in
        # dataset and back) never leaves the other kind's path hidden in the box.
        self._paths = {_FOLDER: "", _ZIP: ""}
        self._kind = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        layout.addWidget(self.path)
        self.set_builtins({"cifar10": "CIFAR-10"})
        self.combo.currentIndexChanged.connect(self._on_kind)
        self.path.changed.connect(lambda _text: self.changed.emit())

    def set_builtins(self, datasets: dict[str, str]) -> None:
        """The engine's BUILTIN_DATASETS (name -> description), then folder and zip choices."""
        current = self.value()
        self.combo.blockSignals(True)
        self.combo.clear()
        for name, description in datasets.items():
            self.combo.addItem(description, name)
        self.combo.addItem("Image folder (one sub-folder per class)…", _FOLDER)
        self.combo.addItem("Zip archive of an image folder…", _ZIP)
        self.combo.blockSignals(False)
        self.set_value(current or next(iter(datasets), "cifar10"))

    def _on_kind(self) -> None:
        kind = self.combo.currentData()
        if kind != self._kind:
            if self._kind in self._paths:
                self._paths[self._kind] = self.path.text()
            if kind in self._paths:
                self.path.edit.blockSignals(True)
                self.path.setText(self._paths[kind])
                self.path.edit.blockSignals(False)
            self._kind = kind
        is_path = kind in (_FOLDER, _ZIP)
        self.path.setVisible(is_path)
        self.path.mode = "folder" if kind == _FOLDER else "open"
        self.path.file_filter = "Zip archives (*.zip);;All files (*)"
        self.path.edit.setPlaceholderText(
            "folder with one sub-folder per class" if kind == _FOLDER else "a .zip of such a folder"
        )
        self.changed.emit()

    def value(self) -> str:
        kind = self.combo.currentData()
        if kind in (_FOLDER, _ZIP):
            return self.path.text()
        return kind or ""

    def set_value(self, spec: str) -> None:
        spec = spec or ""
        index = self.combo.findData(spec)
        if index < 0:
            kind = _ZIP if spec.lower().endswith(".zip") else _FOLDER
            index = self.combo.findData(kind)
            self._paths[kind] = spec
            if self._kind == kind:
                self.path.setText(spec)
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)
        self._on_kind()

    @property
    def field_widget(self) -> QWidget:
        """The widget to highlight when the data setting is invalid."""
        return self.path.edit if self.path.isVisible() else self.combo
