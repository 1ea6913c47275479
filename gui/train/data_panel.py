"""The Train tab's data settings: the source, a Load step that lists the classes (with
checkboxes to train on a subset) and the split sizes, validation fraction, limit, image size."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QWidget,
)

from ..background import engine_calls
from ..background.current import CurrentTask
from ..background.task import TaskError
from ..widgets.data_picker import DataSourcePicker
from ..widgets.fields import NumberEdit

__all__ = ["DataPanel"]


class DataPanel(QWidget):
    """Data part of the training form; ``loaded(DataInfo)`` fires when Load has finished."""

    changed = Signal()
    loaded = Signal(object)
    load_failed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.source = DataSourcePicker()
        self.load_button = QPushButton("Load")
        self.load_button.setToolTip("Read the data now: lists its classes and split sizes")
        self.load_button.clicked.connect(lambda: self.load())
        self.status = QLabel("Not loaded yet: press Load to see the classes, or just start training.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.classes = QListWidget()
        self.classes.setMaximumHeight(110)
        self.classes.setToolTip("Untick classes to train on a subset (at least two)")
        self.classes.hide()
        self.val_fraction = NumberEdit()
        self.val_fraction.setToolTip(
            "Fraction of the training images held out for validation (ignored when the data has its own val/ split)"
        )
        self.limit = NumberEdit(integer=True, optional=True)
        self.limit.setPlaceholderText("all")
        self.limit.setToolTip("Use at most this many training images (quick tries); empty = all")
        self.image_size = NumberEdit(integer=True, optional=True)
        self.image_size.setPlaceholderText("as found")
        self.image_size.setToolTip("Resize folder images to this square size (8-512); empty = as found, or 32")

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.source, 1)
        row.addWidget(self.load_button, 0, Qt.AlignmentFlag.AlignTop)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)  # long paths get the width
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Source", row)
        # The path gets a row of its own, the form's whole width (a narrow column beside the
        # label showed only the end of a path).
        self.source.layout().removeWidget(self.source.path)
        form.addRow(self.source.path)
        form.addRow(self.status)
        form.addRow(self.classes)
        form.addRow("Validation fraction", self.val_fraction)
        form.addRow("Limit (images)", self.limit)
        form.addRow("Image size", self.image_size)

        self.info: engine_calls.DataInfo | None = None
        self._loading = CurrentTask()  # a newer load retires the older one
        self._wanted: list[str] | None = None  # subset to tick once the class list arrives
        self._note_for: str | None = None  # the source a note (set_note) describes
        self.source.changed.connect(self._source_changed)
        for edit in (self.val_fraction, self.limit, self.image_size):
            edit.textChanged.connect(self.changed)
        self.classes.itemChanged.connect(lambda _item: self.changed.emit())

    # ----------------------------------------------------------------- loading
    def load(self, seed: int = 0) -> None:
        """Load in a worker thread; the class list and split sizes appear when done."""
        spec = self.source.value()
        if not spec:
            self.status.setText("Choose a folder or a .zip first.")
            return
        try:
            val = self.val_fraction.value()
        except ValueError:
            val = 0.1
        try:
            image_size = self.image_size.value()
        except ValueError:
            image_size = None
        try:
            limit = self.limit.value()
        except ValueError:
            limit = None
        self.load_button.setEnabled(False)
        self.status.setText(f"Loading {spec}…")
        task = self._loading.start(engine_calls.load_data_info, spec, val, seed, limit, image_size, name="load data")
        task.succeeded.connect(self._on_loaded)
        task.failed.connect(self._on_failed)
        task.finished.connect(lambda: self.load_button.setEnabled(True))
        task.start()

    def _on_loaded(self, info: engine_calls.DataInfo) -> None:
        if info.source != self.source.value():
            return  # the user picked another source meanwhile
        self.info = info
        text = info.description
        if info.summary_lines:
            text += "\n" + "\n".join(f"⚠ {line}" for line in info.summary_lines)
        self.status.setText(text)
        wanted = set(self._wanted) if self._wanted else None
        self.classes.blockSignals(True)
        self.classes.clear()
        for name, count in zip(info.classes, info.train_counts, strict=False):
            item = QListWidgetItem(f"{name}  ({count} train)")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if wanted is None or name in wanted else Qt.CheckState.Unchecked)
            self.classes.addItem(item)
        self.classes.blockSignals(False)
        self.classes.setVisible(True)
        self.loaded.emit(info)
        self.changed.emit()

    def _on_failed(self, error: TaskError) -> None:
        self.status.setText(f"Could not load: {error.message}")
        self.load_failed.emit(error.message)

    def set_note(self, text: str) -> None:
        """A line about the data now chosen (where a first start found it): it goes when the
        source changes, like a loaded dataset's description."""
        self.status.setText(text)
        self._note_for = self.source.value()

    def _source_changed(self) -> None:
        value = self.source.value()
        stale_note = self._note_for is not None and self._note_for != value
        if (self.info is not None and self.info.source != value) or stale_note:
            self.info = None
            self._note_for = None
            self.classes.clear()
            self.classes.hide()
            self.status.setText("Not loaded yet: press Load to see the classes, or just start training.")
        self.changed.emit()

    # ----------------------------------------------------------------- values
    def selected_classes(self) -> list[str] | None:
        """The ticked classes, or None when all are (or the class list is not loaded)."""
        if self.info is None:
            return list(self._wanted) if self._wanted else None
        names = [
            self.classes.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.classes.count())
            if self.classes.item(i).checkState() == Qt.CheckState.Checked
        ]
        return None if len(names) == self.classes.count() else names

    def set_selected_classes(self, names: list[str] | None) -> None:
        self._wanted = list(names) if names else None
        if self.info is not None:
            wanted = set(names) if names else None
            self.classes.blockSignals(True)
            for i in range(self.classes.count()):
                item = self.classes.item(i)
                on = wanted is None or item.data(Qt.ItemDataRole.UserRole) in wanted
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            self.classes.blockSignals(False)
