"""Loading the engine and the plots after the window's first paint (a mixin of
gui/main_window.py's window): torch and the engine in a worker thread, pyqtgraph in another,
then every tab told the engine is ready.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QTimer

from . import startup, theme
from .background import engine_calls
from .background.task import Task, TaskError

__all__ = ["PLOTS_AT_THE_LATEST_MS", "WindowStartup", "freeze_heap"]


def freeze_heap() -> None:
    """Take every object alive now (torch, numpy, Qt, pyqtgraph: about 200,000 after start-up)
    out of the garbage collector's reach, for good.

    A full collection walks every tracked object while holding the GIL. Triggered by a worker's
    allocations (the 50,000 entries of a zip's directory, say), one took 353 ms with torch
    loaded on the 2-core machine under load, against 89 ms after ``gc.freeze()`` (a probe of
    the first archive decode; the GUI thread waits that long for the GIL).
    Objects allocated later are collected as usual; what is frozen is import-time state that
    lives as long as the app anyway.
    """
    gc.freeze()


PLOTS_AT_THE_LATEST_MS = 8000  # with photos to classify at start, the plots load after them or by then


class WindowStartup:
    """The main window's start-up after its first paint (its tabs and status bar are the window's)."""

    def _on_classified(self) -> None:
        if any(e.prediction is not None for e in self.predict_tab.entries):
            startup.report_first_prediction()

    def start_engine(self) -> None:
        """Load torch and the engine in a worker thread; then the plots (pyqtgraph) here."""
        if self._loader is not None:
            return
        self.statusBar().showMessage("Loading engine…")
        self._loader = Task(engine_calls.load_engine, name="load engine")
        self._loader.succeeded.connect(self._on_engine_ready)
        self._loader.failed.connect(self._on_engine_failed)
        self._loader.start()
        if self._pending_images:
            # Photos given on the command line: their first result comes first. pyqtgraph's
            # import (0.3-1.2 s of Python) competes with it for the CPU, so it waits until then.
            self.predict_tab.classification_finished.connect(self._ensure_plots_later)
            QTimer.singleShot(PLOTS_AT_THE_LATEST_MS, self._load_plots)
        else:
            self._load_plots()

    def _load_plots(self) -> None:
        """Import pyqtgraph in a worker, then build the plots here (about 40 ms of widgets)."""
        if self._plots_loader is not None:
            return
        self._plots_loader = Task(theme.import_pyqtgraph, name="load plots")
        # Built either way: if the import failed, building raises where the Train tab shows it.
        self._plots_loader.finished.connect(self.train_tab.ensure_plots)
        self._plots_loader.finished.connect(freeze_heap)
        self._plots_loader.start()

    def _models_when_shown(self, _index: int) -> None:
        if self.tabs.currentWidget() in (self.predict_tab, self.evaluate_tab):
            self.predict_tab.load_initial_checkpoint()

    def _plots_when_shown(self, _index: int) -> None:
        # The plots may still be waiting for the first prediction: the Train tab needs them now.
        if self.tabs.currentWidget() is self.train_tab and self._loader is not None:
            self.train_tab.ensure_plots()

    def _ensure_plots_later(self) -> None:
        self.predict_tab.classification_finished.disconnect(self._ensure_plots_later)
        self._load_plots()

    def _on_engine_ready(self, info: engine_calls.EngineInfo) -> None:
        self.engine_info = info
        freeze_heap()
        self.device_label.setText(info.device_name)
        self.device_label.setToolTip(f"torch {info.torch_version}")
        self.statusBar().showMessage(f"Ready: {info.device_name}", 10_000)
        # The Predict tab's model loads now only if the user is looking at it (or at the
        # Evaluate tab, which follows it) or photos are waiting; otherwise on the first visit.
        # Loaded at once, it stretched the GUI thread's first stall to 54-70 ms when the user
        # started a dataset decode on the Train tab right away (benchmarks/gui_responsiveness.py).
        models_shown = self.tabs.currentWidget() in (self.predict_tab, self.evaluate_tab)
        self.train_tab.engine_ready(info)
        self.predict_tab.engine_ready(info, load_checkpoint=models_shown or bool(self._pending_images))
        self.evaluate_tab.engine_ready(info)
        self.runs_tab.engine_ready(info)
        self.teach_tab.engine_ready(info)
        if self._pending_images:
            images, self._pending_images = self._pending_images, []
            self.predict_tab.add_paths(images)
        self.engine_ready.emit(info)

    def _on_engine_failed(self, error: TaskError) -> None:
        message = error.message
        self.device_label.setText("Engine unavailable")
        self.statusBar().showMessage(f"Could not load the engine: {message}")
        self.train_tab.message.show_message(f"Could not load the engine: {message}", "error")
        self.engine_failed.emit(message)
