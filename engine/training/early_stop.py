"""Early stopping: end a run once validation accuracy has stopped improving.

Decided from the run's history alone, so a resumed run counts on where it stopped.
"""

from __future__ import annotations

__all__ = ["early_stop_message", "epochs_without_gain", "should_stop_early"]


def epochs_without_gain(history: list[dict]) -> int:
    """Epochs since validation accuracy last improved (0 when the latest epoch is the best)."""
    best, since = None, 0
    for row in history:
        acc = row.get("val_acc")
        if acc is None:
            continue
        if best is None or acc > best:
            best, since = acc, 0
        else:
            since += 1
    return since


def should_stop_early(history: list[dict], patience: int, epochs: int) -> bool:
    """Whether a run with ``patience`` (0 = off) ends after the last epoch in ``history``;
    never on the run's planned last epoch, which ends it anyway."""
    return bool(patience) and len(history) < epochs and epochs_without_gain(history) >= patience


def early_stop_message(history: list[dict], patience: int) -> str:
    rows = [r for r in history if r.get("val_acc") is not None]
    best = max(rows, key=lambda r: r["val_acc"])  # first of equals: the epoch it was reached
    return (
        f"early stop at epoch {history[-1]['epoch']}: validation accuracy did not improve for "
        f"{patience} epoch{'s' if patience != 1 else ''} (best {best['val_acc']:.2%} at epoch {best['epoch']})"
    )
