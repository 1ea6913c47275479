"""The runs table: one row per engine.RunSummary, sortable on the real values (dates as
times, sizes as bytes) through a QSortFilterProxyModel, filterable on any column's text."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt

import engine

__all__ = ["COLUMNS", "SORT_ROLE", "RunsFilter", "RunsTableModel"]

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
PATH_ROLE = Qt.ItemDataRole.UserRole + 2


def _epochs(s) -> tuple[str, float]:
    planned = s.epochs_planned
    text = f"{s.epochs_done}/{planned}" if planned else str(s.epochs_done)
    return text, s.epochs_done + (s.epochs_done / planned if planned else 0) / 1000


def _acc(s) -> tuple[str, float]:
    if s.best_val_acc is None:
        return "", -1.0
    return f"{s.best_val_acc:.2%}", s.best_val_acc


# (header, value(summary) -> (display text, sort key))
COLUMNS = [
    ("Name", lambda s: (s.name, s.name.lower())),
    ("Model", lambda s: (s.model or "?", (s.model or "").lower())),
    ("Data", lambda s: (s.data or "?", (s.data or "").lower())),
    ("Epochs", _epochs),
    ("Best val acc", _acc),
    ("Status", lambda s: (s.status, s.status)),
    ("Date", lambda s: (s.date, s.started or 0.0)),
    ("Size", lambda s: (engine.format_size(s.size_bytes), s.size_bytes)),
]


class RunsTableModel(QAbstractTableModel):
    """``set_runs(summaries)``; ``summary(row)``; the path of each row under ``PATH_ROLE``."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.runs: list = []

    def set_runs(self, runs: list) -> None:
        self.beginResetModel()
        self.runs = list(runs)
        self.endResetModel()

    def summary(self, row: int):
        return self.runs[row] if 0 <= row < len(self.runs) else None

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.runs)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][0]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        s = self.runs[index.row()]
        text, key = COLUMNS[index.column()][1](s)
        if role == Qt.ItemDataRole.DisplayRole:
            return text
        if role == SORT_ROLE:
            return key
        if role == PATH_ROLE:
            return s.path
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [s.path]
            if s.message:
                lines.append(s.message)
            if s.problem:
                lines.append(f"problem: {s.problem}")
            return "\n".join(lines)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in (3, 4, 7):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class RunsFilter(QSortFilterProxyModel):
    """Sorts on ``SORT_ROLE``; the filter text matches any column (case-insensitive)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterKeyColumn(-1)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
