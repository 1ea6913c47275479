"""Early stopping: end a run once validation accuracy has stopped improving.

Decided from the run's history alone, so a resumed run counts on where it stopped.
"""

from __future__ import annotations

__all__ = ["best_row", "early_stop_message", "epochs_without_gain", "improves", "should_stop_early"]


def improves(acc: float, loss: float | None, best_acc: float | None, best_loss: float | None) -> bool:
    """Which epoch becomes best.pt: a higher validation accuracy, or the same accuracy at a lower
    validation loss. With a few held-out photos (a
    Teach project's 20%) accuracy reaches 100% in the first epoch, whose barely trained model
    would otherwise stay the best for the whole run."""
    if best_acc is None or acc > best_acc:
        return True
    return acc == best_acc and loss is not None and (best_loss is None or loss < best_loss)


def best_row(history: list[dict]) -> dict | None:
    """The best epoch's row by :func:`improves` (the first of exact equals), None without validation."""
    best = None
    for row in history:
        acc = row.get("val_acc")
        if acc is not None and (
            best is None or improves(acc, row.get("val_loss"), best["val_acc"], best.get("val_loss"))
        ):
            best = row
    return best


def epochs_without_gain(history: list[dict]) -> int:
    """Epochs since validation accuracy last rose (0 when the latest epoch is the best).

    Accuracy alone, as the setting says ("epochs without a better validation accuracy"): a loss
    still falling at a tied accuracy keeps best.pt moving (:func:`improves`) but does not
    extend the run."""
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
