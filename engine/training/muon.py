"""Muon for convolution filters, Nesterov SGD for everything else, as one optimizer.

Muon (Keller Jordan, 2024; used by airbench94_muon, the fastest published CIFAR-10 trainer)
replaces each filter bank's momentum update by its nearest semi-orthogonal matrix, found with
a few Newton-Schulz iterations, and keeps each filter bank's norm fixed. Orthogonalised
updates move every direction of a layer at the same rate, which is what lets the published
recipe reach its accuracy in fewer epochs than SGD. Code of our own from the published
description; one optimizer object so the trainer's checkpoints, resume, gradient scaling and
learning-rate schedule work unchanged: every group's ``lr`` is still set by the schedule.
"""

from __future__ import annotations

import torch

__all__ = ["MuonSGD", "orthogonalize"]

# Quintic Newton-Schulz coefficients chosen (in the published Muon) for the steepest slope at
# zero: three steps bring every singular value into about [0.5, 1.5], which trains as well as
# the exact orthogonal factor at a fraction of an SVD's cost.
_NS = (3.4445, -4.7750, 2.0315)


def orthogonalize(g: torch.Tensor, steps: int = 3, eps: float = 1e-7) -> torch.Tensor:
    """About U V^T for the SVD U S V^T of the 2-D ``g``, in bf16 (where the coefficients were tuned)."""
    a, b, c = _NS
    x = g.bfloat16()
    x = x / (x.norm() + eps)  # top singular value <= 1, so the iteration stays bounded
    wide = x.size(0) > x.size(1)
    if wide:
        x = x.T
    for _ in range(steps):
        s = x @ x.T
        x = a * x + (b * s + c * s @ s) @ x
    return (x.T if wide else x).to(g.dtype)


class MuonSGD(torch.optim.Optimizer):
    """Groups with ``muon=True`` take Muon steps; the others take Nesterov SGD steps with
    (coupled) weight decay, as ``torch.optim.SGD(nesterov=True)`` does.

    Muon step for a filter bank ``p`` (out, in, kh, kw): Nesterov momentum on the gradient,
    ``p`` rescaled to norm sqrt(out), then ``p -= lr * orthogonalize(update as out x rest)``.
    Muon groups ignore weight decay: the norm is fixed, so decay would do nothing.
    """

    def __init__(self, params, lr: float, momentum: float, weight_decay: float = 0.0):
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, muon=False))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, momentum, muon = group["lr"], group["momentum"], group["muon"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if not muon and group["weight_decay"]:
                    g = g.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = g.clone()
                else:
                    buf.mul_(momentum).add_(g)
                update = g.add(buf, alpha=momentum) if momentum else buf
                if muon:
                    p.mul_(len(p) ** 0.5 / p.norm().clamp_min(1e-12))
                    update = orthogonalize(update.reshape(len(update), -1)).view_as(p)
                p.add_(update, alpha=-lr)
        return loss
