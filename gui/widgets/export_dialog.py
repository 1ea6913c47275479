"""Export a checkpoint to another runtime (ONNX, TorchScript, safetensors) in the background.

The engine writes the file and a JSON sidecar (class names, normalization, input size) and
checks the written model against PyTorch; the dialog reports that in one line. Only the formats
that work in this installation can be chosen (``engine.export_formats``: ONNX needs the onnx
package); the others are listed greyed out with the reason in their tooltip, and the default is
one that works.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from ..background import run_calls
from ..background.current import CurrentTask
from ..background.task import TaskError
from .checkpoint_picker import CHECKPOINT_FILTER
from .fields import PathField, clear_invalid, mark_invalid
from .message_bar import MessageBar

__all__ = ["ExportDialog", "describe_export"]


def describe_export(result) -> str:
    """One line: what was written, and how closely it matches PyTorch."""
    try:
        size = Path(result.path).stat().st_size / 1e6
        size_text = f" ({size:.1f} MB)"
    except OSError:
        size_text = ""
    check = (
        f"; largest probability difference from PyTorch {result.max_prob_diff:.1e}"
        if result.max_prob_diff is not None
        else "; not verified (onnxruntime is not installed)"
        if result.format == "onnx"
        else ""
    )
    return f"Exported {result.format} to {result.path}{size_text}, metadata in {Path(result.sidecar).name}{check}."


class ExportDialog(QDialog):
    """``export()`` starts the export; ``exported(ExportResult)`` when the file is written."""

    exported = Signal(object)

    def __init__(self, checkpoint: str | None = None, parent: QWidget | None = None):
        import engine  # light: engine.checkpoints.export_formats imports neither torch nor the exporters

        super().__init__(parent)
        self.setWindowTitle("Export model")
        self.formats: dict[str, str] = dict(engine.EXPORT_FORMATS)
        self.unavailable: dict[str, str] = {f: why for f, why in engine.export_formats().items() if why}
        self.result = None
        self._suggested = ""  # the output path last filled in automatically
        self._task = CurrentTask()
        self.checkpoint = PathField("file", CHECKPOINT_FILTER, placeholder="best.pt of a run")
        self.format = QComboBox()
        uses = {
            "onnx": "onnxruntime and most runtimes",
            "torchscript": "C++ libtorch",
            "safetensors": "weights only",
        }
        for name in self.formats:
            self.format.addItem(name)
            index = self.format.count() - 1
            why = self.unavailable.get(name)
            if why:  # listed, so the user learns it exists, but not choosable: it would fail
                self.format.setItemText(index, f"{name} (not available)")
                self.format.model().item(index).setEnabled(False)
                self.format.setItemData(index, f"{name}: {why}", Qt.ItemDataRole.ToolTipRole)
            else:
                self.format.setItemData(index, f"{name}: {uses.get(name, '')}", Qt.ItemDataRole.ToolTipRole)
        self.format.setCurrentIndex(list(self.formats).index(engine.default_export_format()))
        self.format.setToolTip("; ".join(f"{n}: {self.unavailable.get(n) or uses.get(n, '')}" for n in self.formats))
        self.out = PathField("save", "All files (*)", placeholder="next to the checkpoint")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.hide()
        self.message = MessageBar()
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.ActionRole)
        form = QFormLayout()
        form.addRow("Checkpoint", self.checkpoint)
        form.addRow("Format", self.format)
        form.addRow("Output file", self.out)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.progress)
        layout.addWidget(self.result_label)
        layout.addWidget(self.buttons)
        self.resize(640, 220)
        self.export_button.clicked.connect(lambda: self.export())
        self.buttons.rejected.connect(self.reject)
        self.format.currentIndexChanged.connect(lambda _i: self._suggest_out())
        self.checkpoint.changed.connect(lambda _t: self._suggest_out())
        if checkpoint:
            self.checkpoint.setText(checkpoint)
        self._suggest_out()

    def _suggest_out(self) -> None:
        """``<run>-<checkpoint>.<ext>`` beside the checkpoint, unless the user typed a path."""
        ckpt = self.checkpoint.text()
        if not ckpt or (self.out.text() and self.out.text() != self._suggested):
            return
        path = Path(ckpt)
        self._suggested = str(path.with_name(f"{path.parent.name}-{path.stem}{self.formats[self.format_name]}"))
        self.out.setText(self._suggested)

    @property
    def format_name(self) -> str:
        """The chosen format's engine name ("onnx"), whatever the combo shows."""
        return list(self.formats)[max(self.format.currentIndex(), 0)]

    @property
    def busy(self) -> bool:
        return self._task.busy

    def export(self) -> bool:
        ckpt, out, fmt = self.checkpoint.text(), self.out.text(), self.format_name
        if fmt in self.unavailable:
            self.message.show_message(f"Format {fmt}: {self.unavailable[fmt]}.", "error")
            return False
        clear_invalid(self.checkpoint.edit)
        clear_invalid(self.out.edit)
        if not ckpt or not Path(ckpt).is_file():
            mark_invalid(self.checkpoint.edit, "choose an existing checkpoint file")
            self.message.show_message(f"Checkpoint: {ckpt or '(none)'} is not a file.", "error")
            return False
        if not out:
            mark_invalid(self.out.edit, "choose where to write the exported model")
            self.message.show_message("Choose an output file.", "error")
            return False
        self.message.clear()
        self.result_label.clear()
        task = self._task.start(run_calls.export_model, ckpt, fmt, out, name="export")
        task.saves_files = True
        task.succeeded.connect(self._on_done)
        task.failed.connect(self._on_failed)
        task.finished.connect(self._on_finished)
        task.start()
        self.progress.show()
        self.export_button.setEnabled(False)
        return True

    def _on_done(self, result) -> None:
        self.result = result
        self.result_label.setText(describe_export(result))
        self.exported.emit(result)

    def _on_failed(self, error: TaskError) -> None:
        self.message.show_message(f"Export failed: {error.message}", "error")

    def _on_finished(self) -> None:
        self.progress.hide()
        self.export_button.setEnabled(True)

    def done(self, code: int) -> None:
        self._task.cancel()  # an export under way finishes unheard; its file is written atomically
        super().done(code)
