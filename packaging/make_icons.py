"""Draw CIFAR Studio's app icon and generate every platform's icon files from it.

One source image, ``resources/icons/app-icon.png`` (1024x1024), feeds everything else:

* ``resources/icons/app-icon.ico``  Windows, multi-size (16..256), used by the PyInstaller spec
* ``resources/icons/app-icon.icns`` macOS (16..1024), used by the PyInstaller spec
* ``resources/icons/hicolor/<n>x<n>/apps/cifar-studio.png``  Linux icon theme sizes 16..512

Usage (from the repository root, with the project's venv)::

    python packaging/make_icons.py           # regenerate the derived files from the source PNG
    python packaging/make_icons.py --draw    # redraw the source PNG first, then regenerate

The drawing mirrors the window icon in ``gui/theme.py`` (a 3x3 grid of image tiles with the
middle one selected) so the launcher, the task bar and the window show the same picture.
The generated files are committed; rerun this only when the design changes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "resources" / "icons"
SOURCE = ICONS / "app-icon.png"
APP_ID = "cifar-studio"  # the icon name the .desktop file refers to

LINUX_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)

# Same palette and geometry as gui/theme.py's SVG, in units of a 64-unit canvas.
_BACKGROUND_TOP = (44, 60, 98)
_BACKGROUND_BOTTOM = (24, 33, 56)
_TILES = ("#4f8fe8", "#e8924f", "#5cc27a", "#c9607a", "#f2d25c", "#8e7be0", "#53b8c9", "#9aa3b5", "#e0679b")
_TILE_ORIGINS = (9.0, 25.5, 42.0)


def draw_source(size: int = 1024, supersample: int = 4) -> Image.Image:
    """The app icon at ``size`` px: drawn large, then downsampled for smooth edges."""
    big = size * supersample
    unit = big / 64.0

    # Vertical gradient, cut to a rounded square with a transparent margin.
    gradient = Image.new("RGBA", (1, 256))
    for y in range(256):
        t = y / 255
        rgb = (round(a + (b - a) * t) for a, b in zip(_BACKGROUND_TOP, _BACKGROUND_BOTTOM, strict=True))
        gradient.putpixel((0, y), (*rgb, 255))
    background = gradient.resize((big, big), Image.Resampling.BICUBIC)
    mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask).rounded_rectangle((2 * unit, 2 * unit, 62 * unit, 62 * unit), radius=12 * unit, fill=255)
    canvas = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    canvas.paste(background, (0, 0), mask)

    draw = ImageDraw.Draw(canvas)
    colours = iter(_TILES)
    for y in _TILE_ORIGINS:
        for x in _TILE_ORIGINS:
            draw.rounded_rectangle(
                (x * unit, y * unit, (x + 13) * unit, (y + 13) * unit), radius=3 * unit, fill=next(colours)
            )
    # The "selected" frame around the middle tile.
    draw.rounded_rectangle(
        (23.5 * unit, 23.5 * unit, 40.5 * unit, 40.5 * unit),
        radius=4 * unit,
        outline=(255, 255, 255, 255),
        width=round(2.5 * unit),
    )
    return canvas.resize((size, size), Image.Resampling.LANCZOS)


def generate(source: Path = SOURCE, out: Path = ICONS) -> list[Path]:
    """Write the .ico, .icns and hicolor PNGs derived from ``source``; returns the files written."""
    image = Image.open(source).convert("RGBA")
    if image.size != (1024, 1024):
        raise SystemExit(f"{source}: expected 1024x1024, got {image.size[0]}x{image.size[1]}")
    written = []

    ico = out / "app-icon.ico"
    image.save(ico, format="ICO", sizes=[(s, s) for s in ICO_SIZES])
    written.append(ico)

    icns = out / "app-icon.icns"
    image.save(icns, format="ICNS")  # Pillow writes every ICNS size up to the image's own (1024)
    written.append(icns)

    for s in LINUX_SIZES:
        png = out / "hicolor" / f"{s}x{s}" / "apps" / f"{APP_ID}.png"
        png.parent.mkdir(parents=True, exist_ok=True)
        image.resize((s, s), Image.Resampling.LANCZOS).save(png, optimize=True)
        written.append(png)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draw", action="store_true", help="redraw resources/icons/app-icon.png first")
    args = parser.parse_args(argv)
    ICONS.mkdir(parents=True, exist_ok=True)
    if args.draw or not SOURCE.exists():
        draw_source().save(SOURCE, optimize=True)
        print(f"drew {SOURCE.relative_to(ROOT)}")
    for path in generate():
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1024:.1f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
