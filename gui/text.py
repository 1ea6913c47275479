"""Words for counts shown in the window: "1 class", "2 classes", "1 image", "3 images"."""

from __future__ import annotations

__all__ = ["plural"]

_IRREGULAR = {"class": "classes", "match": "matches", "batch": "batches", "is": "are", "was": "were"}


def plural(count: int, word: str, many: str | None = None) -> str:
    """``count`` and ``word`` in the right number, with thousands separators: "1 class", "2,500 images"."""
    if count == 1:
        return f"1 {word}"
    return f"{count:,} {many or _IRREGULAR.get(word, word + 's')}"
