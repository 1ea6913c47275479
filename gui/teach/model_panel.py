"""The Teach tab's model panel: what the background work is doing, the held-out accuracy with
where it came from, per class, the guidance, and what to do with the model."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, Qt, QTimer
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QVBoxLayout

__all__ = ["ModelPanel"]


def _label(word_wrap: bool = True) -> QLabel:
    label = QLabel()
    label.setWordWrap(word_wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


PROGRESS_EVERY_MS = 150  # the fastest the progress line and bar change


def _show(label: QLabel, text: str) -> None:
    """Set a label's text; an empty label takes no room."""
    if text != label.text():
        label.setText(text)
    if label.isHidden() == bool(text):  # hidden with a text, or shown without one
        label.setVisible(bool(text))


class ModelPanel(QGroupBox):
    def __init__(self, parent=None):
        super().__init__("Model", parent)
        self.state = _label()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setMaximumHeight(16)
        self.progress.hide()
        self.accuracy = _label()
        font = self.accuracy.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.accuracy.setFont(font)
        self.source = _label()
        self.source.setEnabled(False)  # the small print: where the number came from
        self.per_class = _label()
        self.per_class.setTextFormat(Qt.TextFormat.RichText)
        self.tips = _label()
        self.tips.setTextFormat(Qt.TextFormat.RichText)
        self.fine_tune_button = QPushButton("Fine-tune for more accuracy")
        self.fine_tune_button.setToolTip(
            "Train the whole network, not only its last layer, on the Train tab with the usual curves "
            "(10 epochs; minutes on a CPU)"
        )
        self.predict_button = QPushButton("Open in Predict")
        self.predict_button.setToolTip("Use this model on the Predict tab (Grad-CAM, CSV, comparisons)")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("ONNX, TorchScript or safetensors (also File ▸ Export model…)")
        self.note = _label()
        self.note.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.fine_tune_button)
        buttons.addStretch(1)
        buttons.addWidget(self.predict_button)
        buttons.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.state)
        layout.addWidget(self.progress)
        layout.addWidget(self.accuracy)
        layout.addWidget(self.source)
        layout.addWidget(self.per_class)
        layout.addWidget(self.tips)
        layout.addLayout(buttons)
        layout.addWidget(self.note)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self._shown = QElapsedTimer()  # since the progress shown last
        self._pending: tuple[str, float] | None = None
        self._later = QTimer(self, singleShot=True, timeout=self._apply_pending)
        self.set_model(None)

    def set_state(self, text: str, fraction: float | None = None, busy: bool = False) -> None:
        """A line on what runs now; a progress bar while it runs (``fraction`` None: no measure yet).

        Progress comes at most every PROGRESS_EVERY_MS (the last one then): QProgressBar.setValue
        repaints at once, and the window's pending paints with it, for every photo read."""
        if busy and fraction is not None and self._shown.isValid() and self._shown.elapsed() < PROGRESS_EVERY_MS:
            self._pending = (text, fraction)
            if not self._later.isActive():
                self._later.start(PROGRESS_EVERY_MS - self._shown.elapsed())
            return
        self._pending = None
        self._later.stop()
        self._shown.start()
        self._apply(text, fraction, busy)

    def _apply_pending(self) -> None:
        if self._pending is not None:
            text, fraction = self._pending
            self._pending = None
            self._shown.start()
            self._apply(text, fraction, True)

    def _apply(self, text: str, fraction: float | None, busy: bool) -> None:
        _show(self.state, text)
        if not busy:
            self.progress.hide()
            return
        self.progress.show()
        if fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(1000 * max(0.0, min(1.0, fraction))))

    def set_model(self, checkpoint: str | None) -> None:
        for b in (self.predict_button, self.export_button):
            b.setEnabled(checkpoint is not None)
        if checkpoint is None:
            self.clear_report()
            _show(self.note, "")
        else:
            _show(
                self.note,
                f"The model is an ordinary checkpoint, {checkpoint}: open it in Predict, export it "
                "(also File ▸ Export model…), find it on the Runs tab.",
            )

    def set_report(self, report, trained_on: int | None, fine_tuned: bool = False) -> None:
        """The held-out numbers (``teach_calls.HeldOutReport``) and where they came from."""
        n = report.images
        _show(self.accuracy, f"Accuracy on {n} held-out photo{'s' if n != 1 else ''}: {report.accuracy:.0%}")
        how = "whole network fine-tuned" if fine_tuned else "last layer trained"
        trained = f" on {trained_on} other photos" if trained_on else ""
        small = f" Each photo is {1 / n:.0%}." if 0 < n < 50 else ""
        tta = " (each with its mirror image)" if report.tta else ""
        _show(
            self.source,
            f"{Path(report.checkpoint).parent.name}/{Path(report.checkpoint).name}, {how}{trained}, "
            f"on the 20% of the photos training never saw{tta}.{small}",
        )
        rows = []
        for name, right, total in report.per_class:
            share = f"{right / total:.0%}" if total else "–"
            rows.append(
                f"<tr><td>{escape(name)}</td><td align='right'>&nbsp;&nbsp;{right} of {total} right</td>"
                f"<td align='right'>&nbsp;&nbsp;{share}</td></tr>"
            )
        _show(self.per_class, f"<table>{''.join(rows)}</table>")

    def clear_report(self, why: str = "") -> None:
        _show(self.accuracy, why)
        _show(self.source, "")
        _show(self.per_class, "")

    def set_tips(self, tips: list[str]) -> None:
        _show(self.tips, "<br>".join(f"⚠ {escape(t)}" for t in tips))
