"""Plain-language warnings about a Teach project: too few photos, unbalanced classes, two
classes the model confuses.
"""

from __future__ import annotations

__all__ = ["MIN_PHOTOS", "guidance"]

# Training starts when every class has this many photos; fewer gets a warning (see guidance()).
MIN_PHOTOS = 5
FEW_PHOTOS = 10
# Classes whose photo counts differ more than this factor are called unbalanced.
UNBALANCED_RATIO = 3.0
# A class pair the model mixes up in at least this share of the held-out photos of one of them.
CONFUSED_SHARE = 0.25


def guidance(counts: dict[str, int], confusion=None, classes: list[str] | None = None) -> list[str]:
    """Plain-language warnings about a project: few photos, unbalanced classes, look-alikes.

    ``confusion`` (``[true, predicted]`` counts on held-out photos, optional) names class pairs
    the model mixes up.
    """
    tips = []
    if len(counts) < 2:
        tips.append("Add at least two classes: the model learns to tell classes apart.")
    for name, n in counts.items():
        if n < MIN_PHOTOS:
            tips.append(f"“{name}” has {n} photo{'s' if n != 1 else ''}: add at least {MIN_PHOTOS} to train.")
        elif n < FEW_PHOTOS:
            tips.append(f"“{name}” has only {n} photos: 10 or more per class make the model more reliable.")
    filled = {k: v for k, v in counts.items() if v > 0}
    if len(filled) >= 2:
        big, small = max(filled, key=filled.get), min(filled, key=filled.get)
        if filled[big] > UNBALANCED_RATIO * filled[small]:
            tips.append(
                f"The classes are unbalanced: “{big}” has {filled[big]} photos, “{small}” {filled[small]}. "
                "The model will favour the bigger class; add photos to the smaller one."
            )
    if confusion is not None and classes:
        for i, a in enumerate(classes):
            total = int(sum(confusion[i]))
            for j, b in enumerate(classes):
                if i != j and total and confusion[i][j] / total >= CONFUSED_SHARE:
                    tips.append(
                        f"Photos of “{a}” are often taken for “{b}” ({int(confusion[i][j])} of {total} held out): "
                        "add photos that show the difference."
                    )
    return tips
