"""best.pt: an accuracy tie goes to the epoch with the lower validation loss.

With few held-out images (a Teach project holds out 20% of a few photos per class) validation
accuracy reaches 100% in the first epoch; best.pt stayed that barely trained model (flat
probabilities, "none of these" for the classes' own photos) for the whole run.
"""

from __future__ import annotations

from conftest import tiny_config, tiny_dataset


def test_an_accuracy_tie_keeps_the_epoch_with_the_lower_validation_loss(tmp_path):
    import engine

    result = engine.train(tiny_config(epochs=6, lr=0.02), tmp_path / "run", dataset=tiny_dataset(val_per_class=2))
    assert result.status == "completed", result.message
    rows = result.history
    best_acc = max(r["val_acc"] for r in rows)
    tied = [r for r in rows if r["val_acc"] == best_acc]
    assert len(tied) >= 2, "the data should make accuracy tie (easy colours, 6 held-out images)"
    want = min(tied, key=lambda r: r["val_loss"])
    best = engine.load_checkpoint(result.best_checkpoint)
    assert best.epoch == want["epoch"]
