"""Grad-CAM on the Predict tab (a mixin of gui/predict/tab.py's tab): where the model looks, for
its top class or any class clicked in the probability bars, one heatmap at a time in a worker.
"""

from __future__ import annotations

from ..background import prediction_calls
from .classify_jobs import Entry

__all__ = ["GradCam"]


class GradCam:
    """The tab's Grad-CAM requests (its entries, list, view and checkpoint are the tab's)."""

    def _explain_current(self) -> None:
        row = self.list.currentRow()
        if not (0 <= row < len(self.entries)) or self.checkpoint is None:
            return
        entry = self.entries[row]
        p = entry.prediction
        if p is None or p.error or p.input_image is None or self._explaining.busy:
            return
        args = (self.cache, self.checkpoint, p.input_image, None)
        task = self._explaining.start(prediction_calls.explain_image, *args, name="grad-cam")
        task.succeeded.connect(lambda result, e=entry: self._on_heat(e, result))
        task.failed.connect(lambda error: self.message.show_message(f"Grad-CAM: {error.message}", "warning"))
        task.start()

    def explain_class(self, class_name: str) -> bool:
        """Grad-CAM of any class (clicked in the probability bars) for the selected image."""
        row = self.list.currentRow()
        if not (0 <= row < len(self.entries)) or self.checkpoint is None:
            return False
        entry = self.entries[row]
        p = entry.prediction
        if p is None or p.error or p.input_image is None or class_name not in p.probabilities:
            return False
        index = list(p.probabilities).index(class_name)  # probabilities are in the model's class order
        args = (self.cache, self.checkpoint, p.input_image, index)
        task = self._explaining.start(prediction_calls.explain_image, *args, name="grad-cam")
        task.succeeded.connect(lambda result, e=entry: self._on_class_heat(e, class_name, result))
        task.failed.connect(lambda error: self.message.show_message(f"Grad-CAM: {error.message}", "warning"))
        task.start()
        return True

    def _on_class_heat(self, entry: Entry, class_name: str, result) -> None:
        entry.heat = result[0]
        if self.view.path != entry.path:
            return
        self.view.set_heat(entry.path, entry.heat)
        self.view.heatmap.setChecked(True)
        self.view.input_caption.setText(f"Where the model looks for {class_name}")
        self.status_message.emit(f"Grad-CAM for {class_name}")

    def _on_heat(self, entry: Entry, result) -> None:
        entry.heat = result[0]
        self.view.set_heat(entry.path, entry.heat)
        current = self.list.currentRow()
        if 0 <= current < len(self.entries) and self.entries[current] is not entry and self.view.heatmap.isChecked():
            self._explain_current()  # the selection moved on while this one was computed
