"""The main window's menus and window-wide shortcuts, and what they do: open a checkpoint,
images or a run, export, resume or fine-tune on the Train tab, start and stop, help (a mixin of
gui/main_window.py's window, whose tabs these act on).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox

from . import __version__
from .help import SHORTCUTS, ShortcutsDialog, UserGuideDialog
from .train.config_files import load_training_settings, save_training_settings
from .widgets.checkpoint_picker import CHECKPOINT_FILTER
from .widgets.export_dialog import ExportDialog

# Imports inside functions: the About box and the engine's names are imported when a menu action
# runs, never at start-up.

__all__ = ["TAB_NAMES", "WindowMenus"]

# The tabs in their order, by the names the tab shortcuts, a second launch and the settings use.
TAB_NAMES = ["train", "predict", "evaluate", "runs", "teach"]


class WindowMenus:
    """The main window's menus and their actions (its tabs and status bar are the window's)."""

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
