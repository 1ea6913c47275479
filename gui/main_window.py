"""The main window: tabs, menus, status bar, settings, start-up and shutdown. Wiring only;
each tab does its own work.

Start-up order: the window is built without touching torch and shown; on its first paint
the engine is loaded in a worker thread ("Loading engine…" in the status bar) and
pyqtgraph is imported for the plots; when the engine is ready every tab is enabled.

The menus and what they do are in gui/window_menus.py, loading the engine and the plots in
gui/window_startup.py; here: the window, its tabs and status bar, its settings, shutdown.
"""

from __future__ import annotations

import logging
import sys

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel, QMainWindow, QTabWidget, QWidget

from . import output, startup, theme
from .background import engine_calls, gui_thread_gc
from .background.task import Task, open_again, stop_all
from .evaluate.tab import EvaluateTab
from .predict.tab import PredictTab
from .run_alerts import RunAlerts, ask_quit_during_run
from .runs.tab import RunsTab
from .settings import Settings
from .teach.tab import TeachTab
from .train.tab import TrainTab
from .widgets.export_dialog import ExportDialog
from .window_menus import TAB_NAMES, WindowMenus
from .window_startup import WindowStartup

__all__ = ["TAB_NAMES", "MainWindow"]

_logger = logging.getLogger(__name__)

CLOSE_TIMEOUT_MS = 1500  # how long closing the window waits for background work
GUI_SWITCH_INTERVAL_S = 0.001  # the GIL switch interval while the window runs (Python default 0.005)


class MainWindow(WindowMenus, WindowStartup, QMainWindow):
    engine_ready = Signal(object)  # EngineInfo
    engine_failed = Signal(str)

    def __init__(self, settings: Settings | None = None, images: list[str] | None = None):
        super().__init__()
        # The GIL passes between busy threads every 5 ms by default; the GUI thread calls into
        # Python for every model cell and slot, waiting up to that long each time a worker holds
        # it (zip directory parse, checkpoint CRC checks). Measured with benchmarks/
        # gui_responsiveness.py (decode scenario, longest stall): 5 ms 122.6 ms, 2 ms 51-57 ms,
        # 1 ms 48-52 ms; the predict scenario's stays under 50 ms at 1 ms (43-46 ms, 24 at 5 ms).
        sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
        # Widgets and tasks in reference cycles must be destroyed in this thread, never by a
        # collection that a worker's allocations happen to trigger (gui/background/gui_thread_gc.py).
        gui_thread_gc.install()
        open_again()  # a window that closed earlier in this process stopped tasks from starting
        self.settings = settings or Settings()
        self.engine_info: engine_calls.EngineInfo | None = None
        self._pending_images = list(images or [])
        self._painted = False
        self._loader: Task | None = None
        self._plots_loader: Task | None = None
        self.setWindowTitle("CIFAR Studio")
        self.setWindowIcon(theme.app_icon())
        self.train_tab = TrainTab(self.settings)
        self.predict_tab = PredictTab(self.settings)
        self.evaluate_tab = EvaluateTab(self.settings)
        self.runs_tab = RunsTab(self.settings)
        self.teach_tab = TeachTab(self.settings)
        self.runs_tab.live_source = self.train_tab.live_curves
        self.alerts = RunAlerts(self)
        self.confirm_quit = ask_quit_during_run  # replaceable (tests answer it)
        self.export_dialog: ExportDialog | None = None
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.train_tab, "Train")
        self.tabs.addTab(self.predict_tab, "Predict")
        self.tabs.addTab(self.evaluate_tab, "Evaluate")
        self.tabs.addTab(self.runs_tab, "Runs")
        self.tabs.addTab(self.teach_tab, "Teach")
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
    def _wire(self) -> None:
        # The status bar follows the current tab: each tab's last message is kept and shown
        # when that tab is current (the Train tab never shows the Predict tab's checkpoint).
        self._tab_status: dict[QWidget, str] = {}
        for tab in (self.train_tab, self.predict_tab, self.evaluate_tab, self.runs_tab, self.teach_tab):
            tab.status_message.connect(lambda text, t=tab: self._on_tab_status(t, text))
        self.tabs.currentChanged.connect(lambda _i: self._show_tab_status())
        self.tabs.currentChanged.connect(self._plots_when_shown)
        self.tabs.currentChanged.connect(self._models_when_shown)
        self.predict_tab.classification_finished.connect(self._on_classified)
        output.add_error_listener(self.show_unexpected_error)
        self.runs_tab.resume_requested.connect(self.resume_run)
        # The Predict and Evaluate checkpoint menus list the user's runs, from the Runs tab's listing.
        self.runs_tab.runs_listed.connect(self.predict_tab.picker.set_runs)
        self.runs_tab.runs_listed.connect(self.evaluate_tab.picker.set_runs)
        self.runs_tab.open_in_predict.connect(self.open_in_predict)
        self.runs_tab.open_in_evaluate.connect(self.open_in_evaluate)
        self.train_tab.run_finished.connect(lambda _rf: self.runs_tab.refresh())
        self.train_tab.run_finished.connect(self._alert_run_ended)
        self.train_tab.open_checkpoint.connect(self.open_in_predict)
        self.teach_tab.open_in_predict.connect(self.open_in_predict)
        self.teach_tab.export_requested.connect(lambda path: self.open_export_dialog(path))
        self.teach_tab.fine_tune_requested.connect(self.fine_tune)
        self.teach_tab.model_ready.connect(lambda _path: self.runs_tab.refresh())
        self.train_tab.run_finished.connect(self.teach_tab.fine_tune_finished)
        # The Evaluate tab shows what the Predict tab has just loaded: no second read of the file
        # competing with the first photos' classification.
        self.predict_tab.checkpoint_loaded.connect(
            lambda path: self.evaluate_tab.follow_checkpoint(path, self.predict_tab.picker.info)
        )
        self.predict_tab.checkpoint_loaded.connect(lambda _path: self._fill_recent_menu())

    def _on_tab_status(self, tab: QWidget, text: str) -> None:
        self._tab_status[tab] = text
        if tab is self.tabs.currentWidget():
            self.statusBar().showMessage(text)

    def _show_tab_status(self) -> None:
        self.statusBar().showMessage(self._tab_status.get(self.tabs.currentWidget(), ""))

    def status_text(self) -> str:
        return self.statusBar().currentMessage()

    def show_unexpected_error(self, line: str) -> None:
        """An exception no slot caught (sys.excepthook): one line in the current tab's message
        bar (the status bar when the tab has none); the traceback is in the log."""
        bar = getattr(self.tabs.currentWidget(), "message", None)
        if hasattr(bar, "show_message"):
            bar.show_message(f"{line} (details in the log)", "error")
        else:
            self.statusBar().showMessage(line)

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

    # ----------------------------------------------------------------- shutdown
    def request_quit(self) -> bool:
        """File ▸ Quit: during a run, ask first (``confirm_quit``); False when the user stays."""
        if self.train_tab.running and not self.confirm_quit(self):
            return False
        self._quit_confirmed = True
        return self.close()

    def closeEvent(self, event) -> None:
        """Stop everything cleanly before the widgets go: stop flags set, threads joined."""
        # The window's close button (a spontaneous event) asks like File ▸ Quit; a close from
        # code (tests, the session ending) does not.
        if (
            event.spontaneous()
            and self.train_tab.running
            and not getattr(self, "_quit_confirmed", False)
            and not self.confirm_quit(self)
        ):
            event.ignore()
            return
        self.save_settings()
        if self.train_tab.running:
            self.statusBar().showMessage("Stopping training…")
        output.remove_error_listener(self.show_unexpected_error)
        # Closing returns within about two seconds whatever runs: every task is asked to stop
        # and gets a shared deadline; work that cannot be interrupted (a checkpoint being
        # read, a stuck file) finishes unheard in its thread, which the task registry keeps
        # alive, and gui.app exits without waiting for it.
        for tab in (self.train_tab, self.predict_tab, self.evaluate_tab, self.runs_tab, self.teach_tab):
            tab.shutdown()
        stop_all(timeout_ms=CLOSE_TIMEOUT_MS, final=True)
        event.accept()
