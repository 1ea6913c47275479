"""One image's answer (:class:`Prediction`) and the one place that judges it (:attr:`Prediction.verdict`).

Every view of an answer (the Predict tab's list, table and detail view, the Teach tab's test
area, ``python -m engine predict``) asks the verdict instead of re-deciding "unknown" or "low
confidence" itself, and the lists show :meth:`Prediction.answer`. Imports no torch: the GUI
reads these objects in its own thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..text import with_article

__all__ = ["LOW_CONFIDENCE", "VERDICTS", "Prediction", "Verdict"]

# Below this top-class probability the photo may show none of the classes: say so.
LOW_CONFIDENCE = 0.5

Verdict = Literal["error", "unknown", "uncertain", "confident"]
VERDICTS: tuple[Verdict, ...] = ("error", "unknown", "uncertain", "confident")


@dataclass
class Prediction:
    path: str
    probabilities: dict[str, float] = field(default_factory=dict)  # class -> probability, model order
    error: str | None = None
    input_image: np.ndarray | None = None  # the small uint8 H,W,C image the model saw
    unknown: bool | None = None  # likely none of the classes (None when there is no answer)
    unknown_score: float | None = None  # the score behind ``unknown`` (higher = less like the classes)
    # Where the answer came from: the checkpoint file, the photo view and the TTA level.
    checkpoint: str | None = None
    view: str | None = None
    tta: int | None = None
    # For a photo flagged as none of the classes: what the ImageNet backbone says it shows
    # ("espresso") and its probability among ImageNet's 1,000 categories (engine.inference.looks_like).
    looks_like: str | None = None
    looks_like_probability: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def ranked(self) -> list[tuple[str, float]]:
        return sorted(self.probabilities.items(), key=lambda kv: kv[1], reverse=True)

    @property
    def top(self) -> str | None:
        return self.ranked[0][0] if self.probabilities else None

    @property
    def confidence(self) -> float:
        return self.ranked[0][1] if self.probabilities else 0.0

    @property
    def uncertain(self) -> bool:
        return self.ok and self.confidence < LOW_CONFIDENCE

    @property
    def verdict(self) -> Verdict:
        """What the answer amounts to: "error" (none), "unknown" (the model's flag: probably none
        of its classes; this wins over any confidence, which would only look sure), "uncertain"
        (top class under :data:`LOW_CONFIDENCE`) or "confident"."""
        if self.error is not None:
            return "error"
        if self.unknown:
            return "unknown"
        return "uncertain" if self.confidence < LOW_CONFIDENCE else "confident"

    def answer(self) -> str:
        """The answer in one line, as lists show it: "cat 93%", "cat 41% (low confidence)",
        "Probably none of these: looks like a tabby cat", or without a looks-like label
        "Probably none of these (closest: cat)": no percentage beside a class the model does
        not believe in."""
        verdict = self.verdict
        if verdict == "error":
            return f"⚠ {self.error}"
        if verdict == "unknown":
            if self.looks_like:
                return f"Probably none of these: looks like {with_article(self.looks_like)}"
            return f"Probably none of these (closest: {self.top})"
        flag = " (low confidence)" if verdict == "uncertain" else ""
        return f"{self.top} {self.confidence:.0%}{flag}"

    def to_dict(self) -> dict:
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        return {
            "path": self.path,
            "top": self.top,
            "confidence": self.confidence,
            "unknown": bool(self.unknown),
            "unknown_score": self.unknown_score,
            "probabilities": self.probabilities,
            "checkpoint": self.checkpoint,
            "view": self.view,
            "tta": self.tta,
            "looks_like": self.looks_like,
            "looks_like_probability": self.looks_like_probability,
        }
