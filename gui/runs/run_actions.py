"""What the Runs tab does with the selected runs (a mixin of gui/runs/tab.py's tab): resume,
open the best checkpoint in Predict or Evaluate, show the config, copy the equivalent command,
rename, move to trash, export; and which of these the selection allows.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QMenu

from ..widgets.export_dialog import ExportDialog
from .dialogs import config_dialog, move_to_trash

# Imports inside functions: `engine` is imported when the user acts on a run, after it has loaded in
# a worker; never at the window's start-up.

__all__ = ["RunActions"]


class RunActions:
    """The tab's actions on its selected runs (its table, actions and signals are the tab's)."""

    def _update_actions(self) -> None:
        runs = self.selected_summaries()
        one = runs[0] if len(runs) == 1 else None
        idle = one is not None and one.status != "running"
        self.actions["resume"].setEnabled(one is not None and bool(one.resumable) and idle)
        for key in ("predict", "evaluate", "export"):
            self.actions[key].setEnabled(one is not None and bool(one.best_checkpoint))
        self.actions["config"].setEnabled(one is not None)
        self.actions["command"].setEnabled(one is not None)
        self.actions["rename"].setEnabled(idle)
        self.actions["trash"].setEnabled(bool(runs) and all(s.status != "running" for s in runs))

    def _context_menu(self, pos) -> None:
        menu = QMenu(self)
        for action in self.actions.values():
            menu.addAction(action)
        menu.exec(self.table.viewport().mapToGlobal(pos))

    def _one(self):
        runs = self.selected_summaries()
        return runs[0] if len(runs) == 1 else None

    def resume_selected(self) -> bool:
        run = self._one()
        if run is None or not run.resumable:
            return False
        self.resume_requested.emit(run.path)
        return True

    def open_selected(self, where: str) -> bool:
        run = self._one()
        if run is None or not run.best_checkpoint:
            return False
        (self.open_in_predict if where == "predict" else self.open_in_evaluate).emit(run.best_checkpoint)
        return True

    def _config(self, run) -> dict | None:
        import engine

        try:
            return engine.read_run(run.path).config
        except engine.EngineError as exc:
            self.message.show_message(str(exc), "error")
            return None

    def show_config(self) -> QDialog | None:
        run = self._one()
        config = self._config(run) if run is not None else None
        if config is None:
            return None
        return config_dialog(self, run.name, config)

    def copy_command(self) -> str | None:
        """Copy ``python -m engine train …`` reproducing the run's settings (its own folder as --out)."""
        import engine

        run = self._one()
        config = self._config(run) if run is not None else None
        if config is None:
            return None
        try:
            argv = engine.train_command(config, run.path, config_path=Path(run.path) / "config.json")
        except (engine.EngineError, TypeError, ValueError) as exc:
            self.message.show_message(f"Cannot build the command: {exc}", "error")
            return None
        line = engine.format_command(argv)
        QGuiApplication.clipboard().setText(line)
        self.status_message.emit(f"Copied: {line}")
        return line

    def rename_selected(self) -> str | None:
        import engine

        run = self._one()
        if run is None:
            return None
        name = self.ask_text(self, "Rename run", "New folder name:", run.name)
        if not name or name == run.name:
            return None
        try:
            new = engine.rename_run(run.path, name)
        except engine.EngineError as exc:
            self.message.show_message(str(exc), "error")
            return None
        self.status_message.emit(f"Renamed {run.name} to {new.name}")
        self.refresh()
        return str(new)

    def trash_selected(self) -> list[str]:
        runs = [s for s in self.selected_summaries() if s.status != "running"]
        if not runs:
            return []
        names = ", ".join(s.name for s in runs[:5]) + (f" and {len(runs) - 5} more" if len(runs) > 5 else "")
        if not self.confirm(self, "Move to trash", f"Move {len(runs)} run folder(s) to the trash?\n{names}"):
            return []
        moved, failed = [], []
        for s in runs:
            (moved if move_to_trash(s.path) else failed).append(s)
        if failed:
            self.message.show_message(
                f"Could not move to the trash: {', '.join(s.name for s in failed)} (no trash on this system?)",
                "error",
            )
        if moved:
            self.status_message.emit(f"Moved {len(moved)} run(s) to the trash")
        self.refresh()
        return [s.path for s in moved]

    def export_selected(self) -> ExportDialog | None:
        run = self._one()
        if run is None or not run.best_checkpoint:
            return None
        self.export_dialog = ExportDialog(run.best_checkpoint, self)
        self.export_dialog.exported.connect(lambda _r: self.refresh())
        self.export_dialog.show()
        return self.export_dialog
