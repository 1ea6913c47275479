"""The main window: tabs, menus, status bar, settings, start-up and shutdown. Wiring only;
each tab does its own work.

Start-up order: the window is built without touching torch and shown; on its first paint
the engine is loaded in a worker thread ("Loading engine…" in the status bar) and
pyqtgraph is imported for the plots; when the engine is ready every tab is enabled.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QTabWidget

from . import __version__, startup, tasks, theme, worker
from .checkpoint_picker import CHECKPOINT_FILTER
from .evaluate_tab import EvaluateTab
from .predict_tab import PredictTab
from .settings import Settings
from .train_tab import TrainTab
from .worker import Task

__all__ = ["TAB_NAMES", "MainWindow"]

_logger = logging.getLogger(__name__)
TAB_NAMES = ["train", "predict", "evaluate"]


class MainWindow(QMainWindow):
    engine_ready = Signal(object)  # EngineInfo
    engine_failed = Signal(str)

    def __init__(self, settings: Settings | None = None, images: list[str] | None = None):
        super().__init__()
        self.settings = settings or Settings()
        self.engine_info: tasks.EngineInfo | None = None
        self._pending_images = list(images or [])
        self._painted = False
        self._loader: Task | None = None
        self.setWindowTitle("CIFAR Studio")
        self.setWindowIcon(theme.app_icon())
        self.train_tab = TrainTab(self.settings)
        self.predict_tab = PredictTab(self.settings)
        self.evaluate_tab = EvaluateTab(self.settings)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.train_tab, "Train")
        self.tabs.addTab(self.predict_tab, "Predict")
        self.tabs.addTab(self.evaluate_tab, "Evaluate")
        self.setCentralWidget(self.tabs)
        self.device_label = QLabel("Loading engine…")
        self.statusBar().addPermanentWidget(self.device_label)
        self.statusBar().showMessage("Loading engine…")
        self._build_menus()
        self._wire()
        self._restore()
        if self._pending_images:
            self.show_tab("predict")
        self.installEventFilter(self)

    # ----------------------------------------------------------------- building
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_checkpoint_action = QAction(
            "Open &checkpoint…", self, shortcut=QKeySequence.StandardKey.Open, triggered=self.open_checkpoint_dialog
        )
        self.open_images_action = QAction(
            "Open &images…", self, shortcut=QKeySequence("Ctrl+Shift+O"), triggered=self.open_images_dialog
        )
        self.open_run_action = QAction("Open training &run…", self, triggered=self.open_run_dialog)
        file_menu.addAction(self.open_checkpoint_action)
        file_menu.addAction(self.open_images_action)
        file_menu.addAction(self.open_run_action)
        self.recent_menu = file_menu.addMenu("&Recent checkpoints")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit, triggered=self.close))
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(QAction("&About CIFAR Studio", self, triggered=self.show_about))

    def _wire(self) -> None:
        for tab in (self.train_tab, self.predict_tab, self.evaluate_tab):
            tab.status_message.connect(lambda text: self.statusBar().showMessage(text, 15_000))
        self.train_tab.open_checkpoint.connect(self.open_in_predict)
        self.predict_tab.checkpoint_loaded.connect(self.evaluate_tab.follow_checkpoint)
        self.predict_tab.checkpoint_loaded.connect(lambda _path: self._fill_recent_menu())

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_checkpoints
        for path in recent:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_in_predict(p))
            action.setEnabled(Path(path).exists())
        if not recent:
            self.recent_menu.addAction("(none yet)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self.settings.clear_recent_checkpoints)

    def _restore(self) -> None:
        geometry = self.settings.geometry
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        name = self.settings.current_tab
        if name in TAB_NAMES:
            self.tabs.setCurrentIndex(TAB_NAMES.index(name))

    def save_settings(self) -> None:
        self.train_tab.save_settings()
        self.settings.geometry = self.saveGeometry()
        self.settings.current_tab = TAB_NAMES[self.tabs.currentIndex()]
        self.settings.sync()

    # ----------------------------------------------------------------- start-up
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self and event.type() == QEvent.Type.Paint and not self._painted:
            self._painted = True
            startup.report_window_visible()
            QTimer.singleShot(0, self.start_engine)  # after this first frame is on screen
        return super().eventFilter(obj, event)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QTimer.singleShot(500, self.start_engine)  # in case no paint arrives (minimised start)

    def start_engine(self) -> None:
        """Load torch and the engine in a worker thread; then the plots (pyqtgraph) here."""
        if self._loader is not None:
            return
        self.statusBar().showMessage("Loading engine…")
        self._loader = Task(tasks.load_engine, name="load engine")
        self._loader.succeeded.connect(self._on_engine_ready)
        self._loader.failed.connect(self._on_engine_failed)
        self._loader.start()
        QTimer.singleShot(0, self.train_tab.ensure_plots)

    def _on_engine_ready(self, info: tasks.EngineInfo) -> None:
        self.engine_info = info
        self.device_label.setText(info.device_name)
        self.device_label.setToolTip(f"torch {info.torch_version}")
        self.statusBar().showMessage(f"Ready: {info.device_name}", 10_000)
        for tab in (self.train_tab, self.predict_tab, self.evaluate_tab):
            tab.engine_ready(info)
        if self._pending_images:
            images, self._pending_images = self._pending_images, []
            self.predict_tab.add_paths(images)
        self.engine_ready.emit(info)

    def _on_engine_failed(self, message: str) -> None:
        self.device_label.setText("Engine unavailable")
        self.statusBar().showMessage(f"Could not load the engine: {message}")
        self.train_tab.message.show_message(f"Could not load the engine: {message}", "error")
        self.engine_failed.emit(message)

    # ----------------------------------------------------------------- actions
    def show_tab(self, name: str) -> None:
        self.tabs.setCurrentIndex(TAB_NAMES.index(name))

    def open_in_predict(self, path: str) -> None:
        self.predict_tab.set_checkpoint(path)
        self.show_tab("predict")

    def open_images(self, paths: list[str]) -> None:
        if self.engine_info is None:
            self._pending_images.extend(paths)
        else:
            self.predict_tab.add_paths(paths)
        self.show_tab("predict")

    def open_checkpoint_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", "", CHECKPOINT_FILTER)
        if path:
            self.open_in_predict(path)

    def open_images_dialog(self) -> None:
        self.show_tab("predict")
        self.predict_tab.open_images_dialog()

    def open_run_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a training run folder")
        if folder:
            self.open_run(folder)

    def open_run(self, folder: str) -> None:
        """Show an earlier run's curves on the Train tab (queued until the engine is ready)."""
        self.show_tab("train")
        if self.engine_info is None:
            self.engine_ready.connect(lambda _info: self.train_tab.open_run(folder))
        else:
            self.train_tab.open_run(folder)

    def show_about(self) -> None:
        from PySide6 import __version__ as pyside_version

        import engine

        info = self.engine_info
        torch_line = f"torch {info.torch_version} · {info.device_name}" if info else "torch: not loaded yet"
        QMessageBox.about(
            self,
            "About CIFAR Studio",
            f"<h3>CIFAR Studio {__version__}</h3>"
            f"<p>Train and use CIFAR-10-style image classifiers.</p>"
            f"<p>Engine {engine.__version__}<br>{torch_line}<br>PySide6 {pyside_version}</p>",
        )

    # ----------------------------------------------------------------- shutdown
    def closeEvent(self, event) -> None:
        """Stop everything cleanly before the widgets go: stop flags set, threads joined."""
        self.save_settings()
        if self.train_tab.running:
            self.statusBar().showMessage("Stopping training…")
        for tab in (self.train_tab, self.predict_tab, self.evaluate_tab):
            tab.shutdown()
        worker.stop_all()
        event.accept()
