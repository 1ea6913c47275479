"""The main window: tabs, menus, status bar, settings, start-up and shutdown. Wiring only;
each tab does its own work.

Start-up order: the window is built without touching torch and shown; on its first paint
the engine is loaded in a worker thread ("Loading engine…" in the status bar) and
pyqtgraph is imported for the plots; when the engine is ready every tab is enabled.
"""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QTabWidget, QWidget

from . import __version__, output, startup, theme
from .background import engine_calls, gui_thread_gc
from .background.task import Task, TaskError, open_again, stop_all
from .evaluate.tab import EvaluateTab
from .help import SHORTCUTS, ShortcutsDialog, UserGuideDialog
from .predict.tab import PredictTab
from .run_alerts import RunAlerts, ask_quit_during_run
from .runs.tab import RunsTab
from .settings import Settings
from .teach.tab import TeachTab
from .train.config_files import load_training_settings, save_training_settings
from .train.tab import TrainTab
from .widgets.checkpoint_picker import CHECKPOINT_FILTER
from .widgets.export_dialog import ExportDialog

__all__ = ["TAB_NAMES", "MainWindow"]

_logger = logging.getLogger(__name__)


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
CLOSE_TIMEOUT_MS = 1500  # how long closing the window waits for background work
GUI_SWITCH_INTERVAL_S = 0.001  # the GIL switch interval while the window runs (Python default 0.005)
TAB_NAMES = ["train", "predict", "evaluate", "runs", "teach"]


class MainWindow(QMainWindow):
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
        self.save_config_action = QAction(
            "&Save training settings…", self, triggered=lambda: save_training_settings(self.train_tab)
        )
        self.load_config_action = QAction(
            "&Load training settings…", self, triggered=lambda: self._load_training_settings()
        )
        self.export_action = QAction("&Export model…", self, triggered=lambda: self.open_export_dialog())
        file_menu.addAction(self.save_config_action)
        file_menu.addAction(self.load_config_action)
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit, triggered=self.request_quit))
        # Window-wide shortcuts, from the one table Help ▸ Keyboard shortcuts lists (gui/help.py).
        handlers = {
            "start": self.start_current,
            "stop": self.stop_current,
            **{f"tab_{name}": (lambda _checked=False, n=name: self.show_tab(n)) for name in TAB_NAMES},
        }
        self.shortcut_actions: dict[str, QAction] = {}
        for name, keys, what in SHORTCUTS:
            if name in handlers:
                action = QAction(what, self, shortcut=QKeySequence(keys), triggered=handlers[name])
                self.addAction(action)  # active whatever has the focus in the window
                self.shortcut_actions[name] = action
        help_menu = self.menuBar().addMenu("&Help")
        self.guide_action = QAction("&User guide", self, triggered=lambda: self.show_user_guide())
        self.guide_action.setShortcut(QKeySequence(next(k for n, k, _ in SHORTCUTS if n == "guide")))
        help_menu.addAction(self.guide_action)
        help_menu.addAction(QAction("&Keyboard shortcuts", self, triggered=lambda: self.show_shortcuts()))
        help_menu.addSeparator()
        help_menu.addAction(QAction("&About CIFAR Studio", self, triggered=self.show_about))

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

    def _on_classified(self) -> None:
        if any(e.prediction is not None for e in self.predict_tab.entries):
            startup.report_first_prediction()

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

    # ----------------------------------------------------------------- actions
    def show_tab(self, name: str) -> None:
        self.tabs.setCurrentIndex(TAB_NAMES.index(name))

    def open_in_predict(self, path: str) -> None:
        self.predict_tab.set_checkpoint(path)
        self.show_tab("predict")

    def open_in_evaluate(self, path: str) -> None:
        self.evaluate_tab.set_checkpoint(path)
        self.show_tab("evaluate")

    def resume_run(self, folder: str) -> bool:
        """A run from the Runs tab (stopped here or from the command line) continues on the Train tab."""
        self.show_tab("train")
        return self.train_tab.resume_run(folder)

    def fine_tune(self, config, out_dir: str) -> bool:
        """The Teach tab's "Fine-tune for more accuracy": a normal run on the Train tab (curves,
        Stop, Resume); the Teach tab adopts its best.pt when it completes."""
        if self.train_tab.running:
            self.teach_tab.message.show_message(
                "A training run is in progress on the Train tab: fine-tune once it has finished.", "warning"
            )
            return False
        self.train_tab.form.set_preset("photos")  # so the form says what the fine-tuning changes from it
        self.train_tab.form.set_config(config)
        self.train_tab.output.setText(out_dir)
        self.show_tab("train")
        started = self.train_tab.start()
        if started:
            self.teach_tab.message.show_message(
                f"Fine-tuning on the Train tab into {out_dir}; this tab uses the result when it completes.",
                "info",
            )
        return started

    def _load_training_settings(self) -> None:
        if load_training_settings(self.train_tab):
            self.show_tab("train")

    def open_export_dialog(self, checkpoint: str | None = None) -> ExportDialog:
        """File ▸ Export model: the Predict tab's checkpoint unless one is given."""
        chosen = checkpoint or self.predict_tab.checkpoint or self.predict_tab.initial_checkpoint
        self.export_dialog = ExportDialog(chosen, self)
        self.export_dialog.exported.connect(lambda r: self.statusBar().showMessage(f"Exported {r.path}", 15_000))
        self.export_dialog.show()
        return self.export_dialog

    def _alert_run_ended(self, rf) -> None:
        rows = rf.history or []
        elapsed = rows[-1].get("elapsed_s") if rows else None
        self.alerts.run_ended(f"Training {rf.status}", rf.message, elapsed if isinstance(elapsed, (int, float)) else 0)

    def open_launch(self, payload: dict) -> None:
        """A second launch's arguments (gui.single_instance): come to the front, then open its
        images, checkpoint and run, and show its tab."""
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.show()
        self.raise_()
        self.activateWindow()
        images = [str(p) for p in payload.get("images") or [] if isinstance(p, str)]
        checkpoint, run, tab = payload.get("checkpoint"), payload.get("run"), payload.get("tab")
        if isinstance(checkpoint, str):
            if self.engine_info is None:
                self.engine_ready.connect(lambda _info: self.predict_tab.set_checkpoint(checkpoint))
            else:
                self.predict_tab.set_checkpoint(checkpoint)
        if isinstance(run, str):
            self.open_run(run)
        if images:
            self.open_images(images)
        if tab in TAB_NAMES:
            self.show_tab(tab)
        self.statusBar().showMessage(
            f"Opened {len(images)} file(s) from another launch" if images else "Brought to the front by another launch",
            10_000,
        )

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

    def start_current(self) -> bool:
        """Ctrl+Return: Start on the Train tab, Evaluate on the Evaluate tab (elsewhere: says so)."""
        current = self.tabs.currentWidget()
        if current is self.train_tab and self.train_tab.isEnabled():
            return self.train_tab.start()
        if current is self.evaluate_tab and self.evaluate_tab.run_button.isEnabled():
            return self.evaluate_tab.evaluate()
        self.statusBar().showMessage(
            "Ctrl+Return starts training on the Train tab, evaluation on the Evaluate tab", 5000
        )
        return False

    def stop_current(self) -> None:
        """Ctrl+.: stop the training run (Train tab) or cancel the evaluation (Evaluate tab)."""
        if self.tabs.currentWidget() is self.evaluate_tab:
            self.evaluate_tab.cancel()
        else:
            self.train_tab.stop()

    def show_user_guide(self) -> UserGuideDialog:
        self.guide_dialog = UserGuideDialog(self)
        self.guide_dialog.show()
        return self.guide_dialog

    def show_shortcuts(self) -> ShortcutsDialog:
        self.shortcuts_dialog = ShortcutsDialog(self)
        self.shortcuts_dialog.show()
        return self.shortcuts_dialog

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
