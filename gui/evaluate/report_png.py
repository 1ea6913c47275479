"""The evaluation report as one PNG: the headline, the per-class table and the confusion
matrix side by side, each drawn at the size that shows all of it (not the on-screen size,
which may be scrolled or squeezed)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPalette
from PySide6.QtWidgets import QLabel, QTableWidget

from .. import theme

__all__ = ["report_image"]

MARGIN = 16


def _full_grab(table: QTableWidget, min_cell: int = 0) -> QImage:
    """The whole table, every row and column at its content's size, rendered off screen.

    A detached copy is sized and grabbed: the on-screen table sits in a layout that would
    put its geometry back, and the window is left exactly as it was.
    """
    copy = QTableWidget(table.rowCount(), table.columnCount())
    copy.setFont(table.font())
    copy.setPalette(table.palette())
    copy.verticalHeader().setHidden(table.verticalHeader().isHidden())  # isVisible is False off screen
    for c in range(table.columnCount()):
        if table.horizontalHeaderItem(c) is not None:
            copy.setHorizontalHeaderItem(c, table.horizontalHeaderItem(c).clone())
    for r in range(table.rowCount()):
        if table.verticalHeaderItem(r) is not None:
            copy.setVerticalHeaderItem(r, table.verticalHeaderItem(r).clone())
        for c in range(table.columnCount()):
            if table.item(r, c) is not None:
                copy.setItem(r, c, table.item(r, c).clone())
    copy.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    copy.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    copy.resizeColumnsToContents()
    copy.resizeRowsToContents()
    for c in range(copy.columnCount()):
        copy.setColumnWidth(c, max(copy.columnWidth(c) + 12, min_cell))
    for r in range(copy.rowCount()):
        copy.setRowHeight(r, max(copy.rowHeight(r), min_cell))
    v_header = copy.verticalHeader()
    width = (0 if v_header.isHidden() else v_header.sizeHint().width()) + copy.horizontalHeader().length()
    height = copy.horizontalHeader().sizeHint().height() + v_header.length()
    frame = 2 * copy.frameWidth()
    copy.resize(QSize(width + frame, height + frame))
    image = copy.grab().toImage()
    copy.deleteLater()
    return image


def report_image(headline: QLabel, metrics: QTableWidget, confusion: QTableWidget) -> QImage:
    table = _full_grab(metrics)
    matrix = _full_grab(confusion, min_cell=48)
    fm = headline.fontMetrics()
    top = fm.height() + 2 * MARGIN
    width = max(table.width() + matrix.width() + 3 * MARGIN, fm.horizontalAdvance(headline.text()) + 2 * MARGIN)
    height = top + max(table.height(), matrix.height()) + MARGIN
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    pal = headline.palette()
    image.fill(theme.color(pal, QPalette.ColorRole.Window))
    painter = QPainter(image)
    painter.setFont(headline.font())
    painter.setPen(theme.color(pal, QPalette.ColorRole.WindowText))
    painter.drawText(MARGIN, MARGIN, width - 2 * MARGIN, fm.height() + 4, Qt.AlignmentFlag.AlignLeft, headline.text())
    painter.drawImage(MARGIN, top, table)
    painter.drawImage(2 * MARGIN + table.width(), top, matrix)
    painter.end()
    return image
