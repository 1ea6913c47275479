"""Choose an architecture: the engine's registry grouped by family, with parameter counts
(computed in a worker thread, filled in as they arrive), the description as tooltip, any
torchvision model as ``tv:NAME``, and the block variant of the CIFAR ResNets."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLineEdit, QPushButton, QWidget

from ..background import engine_calls
from ..background.task import Task
from ..widgets.fields import PathField
from .summary_dialog import SummaryDialog
from .weights_panel import WeightsPanel

__all__ = ["BLOCK_MODELS", "TRANSFER_MODELS", "WEIGHTS_FILTER", "ModelPicker"]

# CIFAR ResNets whose residual-unit ordering is selectable (model_args {"block": "a".."e"}).
BLOCK_MODELS = {"resnet20", "resnet32", "resnet44", "resnet56", "resnet110"}
_BLOCKS = [
    ("a", "a: original (conv-BN-ReLU-conv-BN, add, ReLU)"),
    ("b", "b: BN after addition"),
    ("c", "c: ReLU before addition"),
    ("d", "d: ReLU-only pre-activation"),
    ("e", "e: full pre-activation (ResNet v2)"),
]
# Pretrained backbones whose transfer mode is selectable (model_args {"transfer": "head" | "finetune"}).
TRANSFER_MODELS = {"efficientnet_lite0"}
# (value, what the combo shows: short enough for the form's column, the item's tooltip)
_TRANSFER = [
    ("head", "ImageNet features, frozen (fast)", "ImageNet features, frozen: trains the last layer (seconds on a CPU)"),
    (
        "finetune",
        "ImageNet weights, fine-tuned (slow)",
        "ImageNet weights, fine-tune everything (slow on a CPU; a GPU helps)",
    ),
]
_OTHER = "@other"
WEIGHTS_FILTER = "PyTorch weights (*.pth *.pt *.bin);;All files (*)"
COUNT_DELAY_MS = 4000  # parameter counts start this long after the models are listed

# Parameter counts are the same for every picker: computed once per process, shared.
_COUNTS: dict[str, int] = {}
_COUNTER: dict[str, Task | None] = {"task": None}


def _counting_task(names: list[str]) -> Task | None:
    """A count task started for the names still missing; None if all are known or another count
    is still running (the caller tries again later)."""
    task = _COUNTER["task"]
    missing = [n for n in names if n not in _COUNTS]
    if not missing or (task is not None and not task.done):
        return None
    task = Task(engine_calls.count_parameters, missing, name="count parameters")
    task.partial.connect(lambda pair: _COUNTS.__setitem__(*pair))  # first connection: cache first
    _COUNTER["task"] = task.start()
    return task


_NAME = Qt.ItemDataRole.UserRole


class ModelPicker(QWidget):
    """``model_name()`` and ``block()``; ``changed`` on any edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setMaxVisibleItems(24)
        self._model = QStandardItemModel(self)
        self.combo.setModel(self._model)
        self.other = QLineEdit()
        self.other.setPlaceholderText("tv:resnet18")
        self.other.setToolTip(
            "Any torchvision classification model as tv:NAME (transfer learning with cached ImageNet weights)"
        )
        self.block_combo = QComboBox()
        for value, text in _BLOCKS:
            self.block_combo.addItem(text, value)
        self.block_combo.setToolTip("Residual-unit ordering (He et al. 2016b, fig. 4); same parameter count")
        self.transfer_combo = QComboBox()
        for value, text, tip in _TRANSFER:
            self.transfer_combo.addItem(text, value)
            self.transfer_combo.setItemData(self.transfer_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.transfer_combo.setToolTip(
            "Frozen: the pretrained network's features are computed once per photo (cached on disk) and only a\n"
            "new last layer learns your classes. Fine-tune: every layer learns, the pretrained ones at a tenth\n"
            "of the rate (Backbone rate scale); needs more photos and time."
        )
        self.weights = PathField("file", WEIGHTS_FILTER, placeholder="ImageNet weights from the torch cache, if any")
        self.weights.setToolTip(
            "A torchvision weights file (state dict, e.g. resnet18-f37072fd.pth) to fine-tune from, offline.\n"
            "Empty: the file in the torch hub cache when present (Download puts it there), else random "
            "initialisation (said in the window)."
        )
        self.weights_panel = WeightsPanel()
        self.weights_panel.choose_file.connect(self.weights.browse)
        self.weights_panel.changed.connect(self._update_visibility)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.summary_button = QPushButton("Summary…")
        self.summary_button.setToolTip("Layer by layer: output shapes, parameters, multiply-adds (32×32 input)")
        self.summary_button.clicked.connect(lambda: self.open_summary())
        self.summary_dialog: SummaryDialog | None = None
        arch_row = QHBoxLayout()
        arch_row.addWidget(self.combo, 1)
        arch_row.addWidget(self.summary_button)
        form.addRow("Architecture", arch_row)
        form.addRow("torchvision name", self.other)
        form.addRow("Block variant", self.block_combo)
        form.addRow("Start from", self.transfer_combo)
        form.addRow("Weights file", self.weights)
        form.addRow("", self.weights_panel)
        self._form = form
        self._items: dict[str, QStandardItem] = {}
        self._deferred: set[str] = set()  # counted only when chosen (see set_models)
        self.combo.currentIndexChanged.connect(self._update_visibility)
        self.combo.currentIndexChanged.connect(self._count_chosen)
        self.combo.currentIndexChanged.connect(self.changed)
        self.other.textChanged.connect(self.changed)
        self.other.textChanged.connect(self._update_visibility)
        self.block_combo.currentIndexChanged.connect(self.changed)
        self.transfer_combo.currentIndexChanged.connect(self.changed)
        self.weights.changed.connect(self.changed)
        self.weights.changed.connect(self._update_visibility)
        self._update_visibility()

    # ----------------------------------------------------------------- registry
    def set_models(self, models: list[tuple[str, str, str, str]]) -> None:
        """(name, family, description, input handling) from the registry; counts come later."""
        current = self.model_name()
        self._model.clear()
        self._items.clear()
        families: dict[str, list] = {}
        for entry in models:
            families.setdefault(entry[1], []).append(entry)
        for family, entries in families.items():
            header = QStandardItem(family)
            header.setFlags(Qt.ItemFlag.NoItemFlags)  # a group title, not selectable
            font = QFont(header.font())
            font.setBold(True)
            header.setFont(font)
            self._model.appendRow(header)
            for name, _family, description, handling in entries:
                item = QStandardItem(self._label(name))
                item.setData(name, _NAME)
                tip = description + ("" if handling == "native" else f"\nInput: {handling}")
                item.setToolTip(tip)
                self._model.appendRow(item)
                self._items[name] = item
        other = QStandardItem("Other: torchvision model (tv:NAME)…")
        other.setData(_OTHER, _NAME)
        other.setToolTip(self.other.toolTip())
        self._model.appendRow(other)
        self.set_model_name(current or (models[0][0] if models else "resnet20"))
        self.weights_panel.set_ready()
        # Counting builds every model: later, so it never competes with the first prediction of
        # a photo given on the command line (issue 13: first result <= 3 s after launch). Models
        # that wrap an ImageNet network ("upsample") need torchvision, whose import holds the GIL
        # for up to ~200 ms at a time (measured: benchmarks/gui_responsiveness.py --scenario
        # predict --trace-stalls): those are counted only when the user picks one.
        native = [m[0] for m in models if m[3] == "native"]
        self._deferred = {m[0] for m in models if m[3] != "native"}
        QTimer.singleShot(COUNT_DELAY_MS, self, lambda: self._count_parameters(native))  # not after self is gone

    def _label(self, name: str) -> str:
        count = _COUNTS.get(name)
        if count is None:
            return f"   {name}"
        size = f"{count / 1e6:.2f} M" if count >= 100_000 else f"{count / 1e3:.1f} K"
        return f"   {name}  ({size} parameters)"

    def _count_parameters(self, names: list[str]) -> None:
        if all(n in _COUNTS for n in names):
            return
        task = _counting_task(names)
        if task is not None:
            task.partial.connect(self._on_count)
        else:  # another count is running: try again when it has had time to finish
            QTimer.singleShot(1000, self, lambda: self._count_parameters(names))

    def _count_chosen(self) -> None:
        name = self.model_name()
        if name in self._deferred:
            self._count_parameters([name])

    def _on_count(self, pair) -> None:
        name, _count = pair
        if name in self._items:
            try:
                self._items[name].setText(self._label(name))
            except RuntimeError:  # the picker (and its items) went away while counting
                self._items.clear()

    def open_summary(self, num_classes: int = 10, input_size: int = 32) -> SummaryDialog | None:
        """The chosen model's layer table (engine.model_summary), in a dialog."""
        name = self.model_name()
        if not name:
            return None
        args = {"block": self.block()} if self.block() is not None else {}
        self.summary_dialog = SummaryDialog(name, args, num_classes, input_size, self)
        self.summary_dialog.show()
        return self.summary_dialog

    def stop(self) -> None:
        if _COUNTER["task"] is not None:
            _COUNTER["task"].cancel()
        self.weights_panel.stop()

    # ----------------------------------------------------------------- values
    def model_name(self) -> str:
        data = self.combo.currentData(_NAME)
        if data == _OTHER:
            return self.other.text().strip()
        return data or ""

    def set_model_name(self, name: str) -> None:
        for row in range(self._model.rowCount()):
            if self._model.item(row).data(_NAME) == name:
                self.combo.setCurrentIndex(row)
                return
        for row in range(self._model.rowCount()):
            if self._model.item(row).data(_NAME) == _OTHER:
                self.other.setText(name)
                self.combo.setCurrentIndex(row)
                return

    def block(self) -> str | None:
        """The chosen block variant, when the model has one."""
        return self.block_combo.currentData() if self.model_name() in BLOCK_MODELS else None

    def set_block(self, value: str | None) -> None:
        index = self.block_combo.findData(value or "a")
        self.block_combo.setCurrentIndex(max(index, 0))

    def transfer(self) -> str | None:
        """The chosen transfer mode, when the model is a pretrained backbone."""
        return self.transfer_combo.currentData() if self.model_name() in TRANSFER_MODELS else None

    def set_transfer(self, value: str | None) -> None:
        self.transfer_combo.setCurrentIndex(max(self.transfer_combo.findData(value or "head"), 0))

    def weights_path(self) -> str:
        """The local weights file for a torchvision model ("" for other models or none chosen)."""
        return self.weights.text() if self.model_name().startswith("tv:") else ""

    def set_weights_path(self, path: str) -> None:
        self.weights.setText(path or "")

    def _update_visibility(self) -> None:
        other = self.combo.currentData(_NAME) == _OTHER
        self._form.setRowVisible(self.other, other)
        self._form.setRowVisible(self.weights, self.model_name().startswith("tv:"))
        self.weights_panel.set_model(self.model_name(), self.weights_path())
        self._form.setRowVisible(self.weights_panel, self.weights_panel.wanted)
        self._form.setRowVisible(self.block_combo, self.model_name() in BLOCK_MODELS)
        self._form.setRowVisible(self.transfer_combo, self.model_name() in TRANSFER_MODELS)
        item = self._items.get(self.model_name())
        self.combo.setToolTip(item.toolTip() if item is not None else self.other.toolTip())

    @property
    def field_widget(self) -> QWidget:
        return self.other if self.combo.currentData(_NAME) == _OTHER else self.combo
