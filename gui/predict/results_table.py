"""The Predict tab's table of results for many images (file, top class, confidence, every
class probability, error), sortable, exportable to CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

__all__ = ["ResultsTable"]

_FIXED = ["File", "Top class", "Confidence", "Unknown", "Unknown score"]
_SOURCE = ("checkpoint", "view", "tta")  # CSV columns: where a row's numbers came from
FIT_ROWS = 100
FIT_DELAY_MS = 300  # columns are fitted to their contents at most this often while results arrive


class _NumberItem(QTableWidgetItem):
    """Sorts by the number, not the text."""

    def __init__(self, value: float | None, text: str):
        super().__init__(text)
        self.value = -1.0 if value is None else value
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other):
        return self.value < getattr(other, "value", -1.0)


class ResultsTable(QTableWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.classes: list[str] = []
        self.records: list[dict] = []  # per row: path, prediction
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().hide()
        # Not QHeaderView.ResizeToContents: that re-measures every row of every column on each
        # cell change (~25 ms per cell at 1,000 rows, seconds per chunk of results, all on the
        # GUI thread). The columns are fitted once per burst of changes instead.
        self._fit_timer = QTimer(self, singleShot=True, interval=FIT_DELAY_MS, timeout=self.fit_columns)
        # Fitting reads the visible rows plus this many others (Qt's default is 1,000: ~100 ms per
        # fit at 1,000 rows on a busy 2-core CPU); the class column also fits every class name.
        self.horizontalHeader().setResizeContentsPrecision(FIT_ROWS)
        self.set_classes([])

    def set_classes(self, classes: list[str]) -> None:
        self.classes = list(classes)
        headers = _FIXED + self.classes + ["Error"]
        self.setColumnCount(len(headers))
        self.setHorizontalHeaderLabels(headers)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(headers)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
        self.fit_columns()

    def fit_columns(self) -> None:
        """Size every column but the (stretched) file name to its contents."""
        self._fit_timer.stop()
        for col in range(1, self.columnCount()):
            self.resizeColumnToContents(col)
        if self.classes:
            longest = (
                max(self.fontMetrics().horizontalAdvance(c) for c in self.classes) + 2 * self.fontMetrics().height()
            )
            self.setColumnWidth(1, max(self.columnWidth(1), longest))

    def clear_rows(self) -> None:
        self.setRowCount(0)
        self.records = []

    def add_pending(self, paths: list[str]) -> None:
        """Append rows for images still being classified: the file name and "…" only (their
        other cells come with the result), all at once, so a drop of 1,000 photos lists fast."""
        sorting = self.isSortingEnabled()
        self.setSortingEnabled(False)
        start = self.rowCount()
        self.setRowCount(start + len(paths))
        for row, path in enumerate(paths, start):
            self.setItem(row, 0, self._name_item(len(self.records), path))
            self.records.append({"path": path, "prediction": None})
            self.setItem(row, 1, QTableWidgetItem("…"))
        self.setSortingEnabled(sorting)
        if not self._fit_timer.isActive():
            self._fit_timer.start()

    @staticmethod
    def _name_item(index: int, path: str) -> QTableWidgetItem:
        item = QTableWidgetItem(Path(path).name)
        item.setToolTip(path)
        item.setData(Qt.ItemDataRole.UserRole, index)  # which record the row shows, whatever the sort
        return item

    def _table_row(self, index: int) -> int:
        """The visual row showing record ``index``: after the user sorts, the two differ."""
        item = self.item(index, 0)
        if item is not None and item.data(Qt.ItemDataRole.UserRole) == index:
            return index  # unsorted, or this row did not move
        for row in range(self.rowCount()):  # sorted: find it (rare, and only while the user sorts)
            item = self.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == index:
                return row
        raise LookupError(f"no row shows record {index}")

    def set_row(self, index: int, path: str, prediction) -> None:
        """Fill the row of record ``index`` (the image's place in the list; added as needed) for
        one image; ``prediction`` None = pending. The row is found by its record, not by its
        position, so results land on their own image while the table is sorted."""
        sorting = self.isSortingEnabled()
        self.setSortingEnabled(False)  # inserting while sorted would scatter the cells
        while len(self.records) <= index:
            self.insertRow(self.rowCount())
            self.setItem(self.rowCount() - 1, 0, self._name_item(len(self.records), ""))
            self.records.append({"path": "", "prediction": None})
        self.records[index] = {"path": path, "prediction": prediction}
        row = self._table_row(index)
        self.setItem(row, 0, self._name_item(index, path))
        error = prediction.error if prediction is not None else None
        ok = prediction is not None and not error
        self.setItem(row, 1, QTableWidgetItem(prediction.top if ok else ("" if error else "…")))
        conf = prediction.confidence if ok else None
        self.setItem(row, 2, _NumberItem(conf, f"{conf:.1%}" if ok else ""))
        flagged = None if not ok or prediction.unknown is None else prediction.verdict == "unknown"
        self.setItem(row, 3, QTableWidgetItem("" if flagged is None else ("yes" if flagged else "no")))
        score = prediction.unknown_score if ok else None
        self.setItem(row, 4, _NumberItem(score, f"{score:.3f}" if score is not None else ""))
        first = len(_FIXED)
        for i, cls in enumerate(self.classes):
            p = prediction.probabilities.get(cls) if ok else None
            self.setItem(row, first + i, _NumberItem(p, f"{p:.3f}" if p is not None else ""))
        err = QTableWidgetItem(error or "")
        err.setToolTip(error or "")
        self.setItem(row, first + len(self.classes), err)
        self.setSortingEnabled(sorting)
        if not self._fit_timer.isActive():
            self._fit_timer.start()  # not restarted: a steady stream of results still gets fitted

    def export_csv(self, path: str | Path) -> int:
        """Write every result (in list order); returns the number of rows written."""
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            # unknown: "true" when the image is probably none of the classes (engine Prediction.unknown).
            # checkpoint, view, tta: where each row's numbers came from (engine Prediction fields).
            writer.writerow(
                ["path", "top_class", "confidence", "unknown", "unknown_score", *self.classes, *_SOURCE, "error"]
            )
            for record in self.records:
                p = record["prediction"]
                if p is None:
                    continue
                if p.error:
                    blank = [""] * (len(self.classes) + len(_SOURCE))
                    writer.writerow([record["path"], "", "", "", "", *blank, p.error])
                else:
                    unknown = None if p.unknown is None else p.verdict == "unknown"
                    score = p.unknown_score
                    writer.writerow(
                        [
                            record["path"],
                            p.top,
                            f"{p.confidence:.6f}",
                            "" if unknown is None else str(bool(unknown)).lower(),
                            "" if score is None else f"{score:.6f}",
                            *(f"{p.probabilities.get(c, 0.0):.6f}" for c in self.classes),
                            *("" if getattr(p, f, None) is None else str(getattr(p, f)) for f in _SOURCE),
                            "",
                        ]
                    )
        return sum(1 for r in self.records if r["prediction"] is not None)
