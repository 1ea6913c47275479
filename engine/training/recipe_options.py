"""Training options from the fastest published CIFAR-10 recipes (airbench; see
shared/notes/performance.md), in code of our own: lookahead weight averaging, and a whitening
stem whose bias trains for the first epochs only; and batch-norm momentum kept per image when a
batch runs in micro-batches. Alternating flips live with the batches (:mod:`engine.data.loader`);
the triangular schedule is the ``onecycle`` schedule.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError

__all__ = ["Lookahead", "per_chunk_norm_momentum", "whiten_bias"]


class Lookahead:
    """Slow weights that the model is pulled back to every ``every`` optimizer steps.

    At step ``t`` of ``total`` (a multiple of ``every``): ``slow += (1 - d) * (model - slow)``
    with ``d = decay * (t / total) ** 3``, then the model's floating-point state (weights and
    batch-norm statistics) is set to ``slow``. Early on ``d`` is near 0 and nothing changes;
    late in the run the model averages over its recent steps. After the last step the model
    holds the slow weights, so what is evaluated and saved is the average.
    """

    def __init__(self, model: nn.Module, every: int, decay: float, total_steps: int):
        self.every, self.decay, self.total = every, decay, max(1, total_steps)
        self.slow = {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def step(self, model: nn.Module, steps_done: int) -> None:
        """Call after each optimizer step; ``steps_done`` counts steps of the whole run (1 first)."""
        if steps_done % self.every == 0:
            self._pull(model, self.decay * min(steps_done / self.total, 1.0) ** 3)
        if steps_done == self.total:
            self._pull(model, 1.0)  # end on the average itself

    def _pull(self, model: nn.Module, d: float) -> None:
        state = model.state_dict()
        for name, slow in self.slow.items():
            fast = state[name]
            slow.lerp_(fast.detach(), 1 - d)
            fast.copy_(slow)

    def state_dict(self) -> dict:
        return {"slow": {k: v.detach().cpu() for k, v in self.slow.items()}}

    def load_state_dict(self, state: dict) -> None:
        for k, v in state["slow"].items():
            self.slow[k].copy_(v)


def whiten_bias(model: nn.Module, model_name: str) -> nn.Parameter:
    """The bias of ``model``'s whitening stem (fastnet's ``whiten``), for ``whiten_bias_epochs``."""
    stem = getattr(model, "whiten", None)
    bias = getattr(stem, "bias", None)
    if not isinstance(bias, nn.Parameter):
        raise ConfigError("whiten_bias_epochs", f"model {model_name} has no whitening stem with a bias (use fastnet)")
    return bias


def per_chunk_norm_momentum(model: nn.Module, chunks: int) -> None:
    """Batch norm's running-statistics momentum for ``chunks`` updates per optimizer step.

    A batch run as ``chunks`` micro-batches updates each running mean and variance once per
    chunk. With the momentum unchanged they would average ``chunks`` times fewer images (for the
    fast preset's 0.4 and ten chunks: the last ~500 images instead of ~5,000), and evaluation,
    which uses them, gets noisier. ``1 - (1 - m) ** (1 / chunks)`` per chunk keeps ``m`` per batch.
    """
    if chunks <= 1:
        return
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.momentum is not None:
            module.momentum = 1 - (1 - module.momentum) ** (1 / chunks)
