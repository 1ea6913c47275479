"""Calls for :class:`gui.background.task.Task` behind the Train tab's ImageNet weights panel: is a
``tv:`` model's weights file in the torch cache, and download it (progress, cancel through the state)."""

from __future__ import annotations

# Imports inside functions: these functions run in worker threads, where the engine (and torch) is
# imported; the GUI thread never imports torch at start-up.

__all__ = ["download_weights", "weights_status"]


def weights_status(state, name: str):
    """engine.WeightsStatus of ``name`` ("tv:resnet18"): cache path, URL, size, whether cached."""
    import engine

    return engine.weights_status(name)


def download_weights(state, name: str) -> str:
    """engine.download_weights with byte progress; the state's stop flag cancels (no file left)."""
    import engine

    def progress(done: int, total: int | None) -> None:
        if total:
            state.set_progress(done / total, f"{engine.format_size(done)} of {engine.format_size(total)}")
        else:
            state.set_progress(None, engine.format_size(done))

    return str(engine.download_weights(name, progress=progress, stop=state))
