"""Layer-by-layer model summary: output shape, parameters and multiply-adds of every layer.

Built from forward hooks during one pass of a single image, on PyTorch's "meta" device when
the model allows it (shapes only: no memory, no arithmetic, instant even for large models),
otherwise on the CPU. Multiply-adds (MACs) count convolutions, linear layers and
attention projections per image; normalisation, activations and pooling are left out, as
the usual tools (thop, ptflops, torchinfo) do, because they are a small share of the work.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ..errors import EngineError
from .factory import create_model, on_meta_device

__all__ = ["LayerRow", "ModelSummary", "model_summary", "summarize_module"]

_logger = logging.getLogger(__name__)


@dataclass
class LayerRow:
    name: str  # dotted module path, e.g. "layer1.0.conv1"
    type: str  # class name, e.g. "Conv2d"
    output_shape: list[int] | None  # for one image, batch dimension included (1, C, H, W)
    params: int  # parameters the layer owns directly (each counted once)
    macs: int  # multiply-adds for one image
    depth: int  # nesting level (0 = a direct child of the model), for indenting


@dataclass
class ModelSummary:
    model: str
    input_shape: list[int]  # (1, C, H, W)
    rows: list[LayerRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    total_macs: int = 0
    output_shape: list[int] | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        """A plain-text table, one line per layer, and totals."""
        header = f"{'layer':<40} {'type':<20} {'output shape':<20} {'params':>12} {'MACs':>14}"
        lines = [header, "-" * len(header)]
        for r in self.rows:
            name = r.name[-40:]  # the tail of a long path is the informative part
            shape = "x".join(map(str, r.output_shape[1:])) if r.output_shape else "-"
            lines.append(f"{name:<40} {r.type[:20]:<20} {shape:<20} {r.params:>12,} {r.macs:>14,}")
        lines.append("-" * len(header))
        lines.append(
            f"{self.model}: input {'x'.join(map(str, self.input_shape[1:]))}, {self.total_params:,} parameters "
            f"({self.trainable_params:,} trainable), {self.total_macs / 1e6:,.2f} M multiply-adds per image"
        )
        return "\n".join(lines)


def _macs(module: nn.Module, inputs, output) -> int:
    if not isinstance(output, torch.Tensor):
        return 0
    out_per_image = output.numel() // max(output.shape[0], 1) if output.dim() > 0 else output.numel()
    if isinstance(module, nn.modules.conv._ConvNd):
        k = 1
        for s in module.kernel_size:
            k *= s
        # Each output value is a dot product over (in_channels / groups) x kernel inputs.
        return out_per_image * (module.in_channels // module.groups) * k
    if isinstance(module, nn.Linear):
        return out_per_image * module.in_features
    if isinstance(module, nn.Bilinear):
        return out_per_image * module.in1_features * module.in2_features
    if isinstance(module, nn.MultiheadAttention):
        return _attention_macs(module, inputs, output)
    return 0


def _attention_macs(module: nn.MultiheadAttention, inputs, output: torch.Tensor) -> int:
    """Projections (q, k, v, out) plus the two attention products (q.k scores, weights.v)."""

    def length(t) -> int:
        if t.dim() == 2:  # unbatched (L, E)
            return t.shape[0]
        return t.shape[1] if module.batch_first else t.shape[0]

    e = module.embed_dim
    q_len = length(output)
    key = inputs[1] if len(inputs) > 1 and isinstance(inputs[1], torch.Tensor) else None
    k_len = length(key) if key is not None else q_len
    projections = q_len * e * e + k_len * e * (module.kdim + module.vdim) + q_len * e * e
    return projections + 2 * q_len * k_len * e


def summarize_module(model: nn.Module, input_shape: tuple[int, ...], name: str = "model") -> ModelSummary:
    """Summary of an already built ``model`` for one input of ``input_shape`` (C, H, W).

    The pass runs on the device the model's parameters are on (use a meta-device model for a
    free pass). Rows follow call order; a module called twice appears twice, its parameters
    counted once.
    """
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    x = torch.zeros((1, *input_shape), device=device)
    names = {m: n for n, m in model.named_modules() if n}
    rows: list[LayerRow] = []
    counted: set[int] = set()

    def own_params(m: nn.Module) -> int:
        total = 0
        # Attention applies its out_proj functionally (its hook never fires): count it here.
        for p in m.parameters(recurse=isinstance(m, nn.MultiheadAttention)):
            if id(p) not in counted:  # shared weights are counted where first used
                counted.add(id(p))
                total += p.numel()
        return total

    def hook(module, inputs, output):
        out = output[0] if isinstance(output, (tuple, list)) and output else output
        shape = list(out.shape) if isinstance(out, torch.Tensor) else None
        name = names[module]
        rows.append(
            LayerRow(
                name, type(module).__name__, shape, own_params(module), _macs(module, inputs, out), name.count(".")
            )
        )

    # Leaves, and containers that own parameters of their own (a learned scale, a class token).
    watched = [
        m for m in names if not any(True for _ in m.children()) or any(True for _ in m.parameters(recurse=False))
    ]
    handles = [m.register_forward_hook(hook) for m in watched]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    # Parameters the forward never touched through a hooked module (e.g. used functionally).
    rest = sum(p.numel() for p in model.parameters() if id(p) not in counted)
    if rest:
        rows.append(LayerRow("(other parameters)", "-", None, rest, 0, 0))
    out = out[0] if isinstance(out, (tuple, list)) else out
    return ModelSummary(
        model=name,
        input_shape=list(x.shape),
        rows=rows,
        total_params=sum(p.numel() for p in model.parameters()),
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        total_macs=sum(r.macs for r in rows),
        output_shape=list(out.shape) if isinstance(out, torch.Tensor) else None,
    )


def model_summary(
    name: str,
    num_classes: int = 10,
    in_channels: int = 3,
    input_size: tuple[int, int] = (32, 32),
    **model_args,
) -> ModelSummary:
    """Summary of registry architecture ``name`` (``tv:NAME`` too) for ``input_size`` (H, W) images.

    Raises :class:`EngineError` for an unknown name, bad arguments, or an input the model
    cannot take (too small for its pooling, for instance).
    """
    h, w = input_size
    if h < 1 or w < 1:
        raise EngineError(f"input size must be positive, got {h}x{w}")
    shape = (in_channels, h, w)
    try:
        with on_meta_device():
            model = create_model(name, num_classes, in_channels, **model_args)
        return summarize_module(model, shape, name)
    except EngineError:
        raise
    except (RuntimeError, NotImplementedError, TypeError, ValueError) as exc:
        # Some layers cannot run on "meta" (data-dependent shapes): pay for one real CPU pass.
        _logger.info("meta summary of %s failed (%s); using the CPU", name, exc)
    model = create_model(name, num_classes, in_channels, **model_args)
    try:
        return summarize_module(model, shape, name)
    except (RuntimeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EngineError(f"{name} cannot take a {in_channels}x{h}x{w} input ({first[:160]})") from None
