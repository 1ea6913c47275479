"""Grad-CAM heatmaps: which parts of the input drove a class score (Selvaraju et al. 2017).

A leaf: the Predictor (engine/inference/predict.py) explains one input with it, and
engine/inference/explain.py draws the overlays.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["gradcam", "pick_cam_layer"]


def pick_cam_layer(model: nn.Module, sample: torch.Tensor) -> nn.Module:
    """The last convolution whose output is still at least 4x4.

    The very last feature map of a CIFAR net is often 1x1-3x3, too coarse to point at
    anything; one stage earlier is still class-specific and shows where. A model whose
    gradients reach only part of it names that part ``cam_module`` (the photo model: its CIFAR
    net; its ImageNet network is frozen and runs without gradients).
    """
    sizes: dict[nn.Module, int] = {}
    within = getattr(model, "cam_module", None) or model
    hooks = [
        m.register_forward_hook(lambda mod, i, o: sizes.__setitem__(mod, o.shape[-1]))
        for m in within.modules()
        if isinstance(m, nn.Conv2d)
    ]
    try:
        with torch.no_grad():
            model(sample)
    finally:
        for h in hooks:
            h.remove()
    if not sizes:
        raise ValueError("model has no convolution layers for Grad-CAM")
    convs = list(sizes)  # in call order
    big = [m for m in convs if sizes[m] >= 4]
    return (big or convs)[-1]


def gradcam(
    model: nn.Module, x: torch.Tensor, class_index: int | None = None, layer: nn.Module | None = None
) -> tuple[torch.Tensor, int]:
    """Heatmap in [0, 1] at the input's size for one image ``x`` (1, C, H, W); returns (map, class)."""
    model.eval()
    layer = layer or pick_cam_layer(model, x)
    store: dict[str, torch.Tensor] = {}

    def keep(mod, inputs, output):
        output.retain_grad()
        store["act"] = output

    handle = layer.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)  # frozen first layers still need a graph
            logits = model(x)
            cls = int(logits.argmax(1)) if class_index is None else int(class_index)
            model.zero_grad(set_to_none=True)
            logits[0, cls].backward()
    finally:
        handle.remove()
    act, grad = store["act"].detach(), store["act"].grad
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * act).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    cam = cam - cam.min()
    return (cam / cam.max() if cam.max() > 0 else cam).cpu(), cls
