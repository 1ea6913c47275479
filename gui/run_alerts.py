"""Telling the user a long run ended when they are looking elsewhere, and asking before
quitting in the middle of one.

A run that took longer than :data:`ALERT_AFTER_S` and ends while the window is not active
flashes the taskbar entry (QApplication.alert) and, where the desktop has a system tray,
shows a notification.
"""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon, QWidget

from . import theme

__all__ = ["ALERT_AFTER_S", "RunAlerts", "ask_quit_during_run"]

ALERT_AFTER_S = 60.0


def ask_quit_during_run(parent: QWidget) -> bool:
    """True to quit: the run then stops after its current batch and stays resumable."""
    answer = QMessageBox.question(
        parent,
        "Quit during training?",
        "A training run is in progress. Quit anyway?\n\n"
        "The run stops after its current batch; its checkpoints are kept and it can be resumed.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


class RunAlerts:
    """``run_ended(title, text, duration_s)`` after each run; ``alerts`` records what was shown."""

    def __init__(self, window: QWidget):
        self.window = window
        self.alerts: list[str] = []
        self._tray: QSystemTrayIcon | None = None

    def run_ended(self, title: str, text: str, duration_s: float) -> bool:
        """Alert when the run was long and the window is not active; True if it alerted."""
        if duration_s < ALERT_AFTER_S or self.window.isActiveWindow():
            return False
        QApplication.alert(self.window)
        if QSystemTrayIcon.isSystemTrayAvailable():
            if self._tray is None:
                self._tray = QSystemTrayIcon(theme.app_icon(), self.window)
            self._tray.show()
            self._tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 10_000)
        self.alerts.append(f"{title}: {text}")
        return True
