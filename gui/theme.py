"""Colours, plot styling and the app icon, all derived from the current QPalette.

Nothing here hard-codes a light or dark look: plot backgrounds and text follow the
palette (so the app follows the system's light/dark setting), data-series colours are
hues whose lightness is chosen for the palette's background. pyqtgraph is imported on
first use, after the window is visible (its import alone takes about half a second).
"""

from __future__ import annotations

import functools

from PySide6.QtCore import QByteArray, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

# Imports inside functions: pyqtgraph's import is 0.3-1.2 s of Python, done in a worker after the
# first paint (tests/test_gui_train.py); QtSvg only when an icon is drawn.

__all__ = [
    "app_icon",
    "blend",
    "invalid_background",
    "is_dark",
    "palette",
    "pixmap_for_ratio",
    "pyqtgraph",
    "series_color",
    "style_plot",
]

# Hues (0-1) for data series, chosen to stay distinguishable for common colour-vision deficiencies.
_HUES = {"train": 0.60, "val": 0.07, "lr": 0.36, "extra": 0.80, "bad": 0.0}


def palette() -> QPalette:
    app = QApplication.instance()
    return app.palette() if isinstance(app, QApplication) else QPalette()


def color(pal: QPalette, role: QPalette.ColorRole) -> QColor:
    """The palette's *active* colour for ``role``: plots and painted widgets keep their
    colours while their tab is disabled (e.g. while the engine loads)."""
    return pal.color(QPalette.ColorGroup.Active, role)


def is_dark(pal: QPalette | None = None) -> bool:
    return color(pal or palette(), QPalette.ColorRole.Window).lightnessF() < 0.5


def blend(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved a fraction ``t`` (0-1) towards ``b``."""
    t = min(max(t, 0.0), 1.0)
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * t,
        a.greenF() + (b.greenF() - a.greenF()) * t,
        a.blueF() + (b.blueF() - a.blueF()) * t,
    )


def series_color(name: str, pal: QPalette | None = None) -> QColor:
    """A data-series colour readable on the palette's base colour (lighter on dark themes)."""
    dark = is_dark(pal)
    return QColor.fromHslF(_HUES.get(name, 0.5), 0.70 if dark else 0.75, 0.64 if dark else 0.42)


def invalid_background(pal: QPalette | None = None) -> QColor:
    """The base colour tinted towards red: marks a field with an invalid value."""
    pal = pal or palette()
    return blend(color(pal, QPalette.ColorRole.Base), series_color("bad", pal), 0.35)


def import_pyqtgraph(_state=None) -> None:
    """Import pyqtgraph without configuring it: safe in a worker thread (Task signature).

    The import takes 0.3-1.2 s of Python on a slow CPU; in the GUI thread that is a frozen
    window. pyqtgraph creates no QObject at import, so a worker can do it; ``pyqtgraph()``
    below then finds the module loaded (or waits on the import lock if it is still loading).
    """
    import pyqtgraph  # noqa: F401


@functools.cache
def pyqtgraph():
    """Import and configure pyqtgraph once (antialiased lines, row-major images)."""
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True, imageAxisOrder="row-major", useOpenGL=False)
    return pg


def style_plot(plot, pal: QPalette | None = None) -> None:
    """Apply the palette's background and text colours to a pyqtgraph PlotWidget or PlotItem."""
    pg = pyqtgraph()
    pal = pal or palette()
    fg = color(pal, QPalette.ColorRole.Text)
    if hasattr(plot, "getPlotItem"):  # a PlotWidget: it owns the background
        plot.setBackground(color(pal, QPalette.ColorRole.Base))
        item = plot.getPlotItem()
    else:
        item = plot
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(blend(fg, color(pal, QPalette.ColorRole.Base), 0.45)))
        axis.setTextPen(pg.mkPen(fg))
    item.titleLabel.setAttr("color", fg.name())
    item.titleLabel.setText(item.titleLabel.text)
    if item.legend is not None:
        item.legend.setLabelTextColor(fg)
        item.legend.setBrush(pg.mkBrush(blend(color(pal, QPalette.ColorRole.Base), fg, 0.05)))
        item.legend.setPen(pg.mkPen(blend(color(pal, QPalette.ColorRole.Base), fg, 0.25)))


_ICON_SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">
<rect x="2" y="2" width="60" height="60" rx="12" fill="#1f2a44"/>
<rect x="9" y="9" width="13" height="13" rx="3" fill="#4f8fe8"/>
<rect x="25.5" y="9" width="13" height="13" rx="3" fill="#e8924f"/>
<rect x="42" y="9" width="13" height="13" rx="3" fill="#5cc27a"/>
<rect x="9" y="25.5" width="13" height="13" rx="3" fill="#c9607a"/>
<rect x="25.5" y="25.5" width="13" height="13" rx="3" fill="#f2d25c"/>
<rect x="42" y="25.5" width="13" height="13" rx="3" fill="#8e7be0"/>
<rect x="9" y="42" width="13" height="13" rx="3" fill="#53b8c9"/>
<rect x="25.5" y="42" width="13" height="13" rx="3" fill="#9aa3b5"/>
<rect x="42" y="42" width="13" height="13" rx="3" fill="#e0679b"/>
<rect x="23.5" y="23.5" width="17" height="17" rx="4" fill="none" stroke="#ffffff" stroke-width="2.5"/>
</svg>"""


@functools.cache
def app_icon() -> QIcon:
    """The app icon at every common size (crisp on high-DPI screens).

    The bundled resources/icons/hicolor PNGs when present (the packaging uses the same
    files), otherwise rendered from the vector drawing kept in the code, which a wheel or a
    bundle cannot lose.
    """
    import engine  # engine.resources_dir is light: no torch

    hicolor = engine.resources_dir() / "icons" / "hicolor"
    pngs = sorted(hicolor.glob("*/apps/cifar-studio.png")) if hicolor.is_dir() else []
    if pngs:
        icon = QIcon()
        for png in pngs:
            icon.addFile(str(png))
        return icon
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(QByteArray(_ICON_SVG))
    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        image = QImage(QSize(size, size), QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        icon.addPixmap(QPixmap.fromImage(image))
    return icon


def pixmap_for_ratio(image: QImage, ratio: float) -> QPixmap:
    """A pixmap that maps 1:1 onto device pixels at ``ratio`` (sharp on high-DPI screens)."""
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(ratio)
    return pixmap
