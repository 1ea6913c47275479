"""Numbers in words for people: counts and sizes, written once for the CLI, reports and the GUI.

Light (no torch): the GUI formats with it on its own thread.
"""

from __future__ import annotations

__all__ = ["TTA_NAMES", "format_size", "plural", "with_article"]

# Each test-time augmentation level (engine.evaluation.metrics.tta_logits) as results name it; index = level.
TTA_NAMES = ("no TTA", "TTA: flips", "TTA: flips and shifts")


_ES_AFTER_CH = {"batch", "match", "patch"}  # "epoch" takes a plain "s": spelling cannot tell them apart


def plural(n: int, word: str) -> str:
    """``"1 class"``, ``"2 classes"``, ``"0 epochs"``, ``"2,500 images"`` (thousands separated)."""
    if n == 1:
        return f"1 {word}"
    es = word.endswith(("s", "x", "sh")) or word in _ES_AFTER_CH
    return f"{n:,} {word}es" if es else f"{n:,} {word}s"


def format_size(n: float) -> str:
    """Bytes on disk in the unit that reads best: ``"512 B"``, ``"258.1 KB"``, ``"7.9 MB"``."""
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def with_article(label: str) -> str:
    """'an espresso', 'a tabby'; plural-looking names ('French fries') are left bare."""
    if label.endswith("s") and not label.endswith("ss"):
        return label
    return ("an " if label[:1].lower() in "aeiou" else "a ") + label
