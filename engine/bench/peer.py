"""Our ``fast`` preset against the published airbench94 recipe, side by side on the same data.

The peer is Keller Jordan's airbench94 as the ``airbench`` package (0.1.8) ships it, an optional
dependency (``pip install -e ".[bench]"``). The package runs on CUDA in fp16; here it runs on
the benchmark's device adapted the way a user would, every hyperparameter as published
(``airbench.lib_airbench94.hyp``, read from the package, never retyped):

* the net is the package's own ``make_net94()``, called with ``Module.half`` / ``Module.cuda``
  made no-ops for the call: fp32 weights on our device, run under the same autocast the fast
  preset gets (``mixed_precision="auto"``: bf16 on CPUs that have it);
* the batches come from the package's ``CifarLoader.__iter__`` unchanged (pre-flip, reflect
  pad, ``batch_crop``, alternating flips); only ``__init__`` is replaced, to hold our decoded
  images on the device instead of reading torchvision's file onto the GPU. Images are fp16 as
  in the package when autocast is on (the first convolution sees bf16 either way), fp32 when
  it is off;
* the training loop is ``airbench.utils.train`` retyped line for line (it records CUDA events
  and builds a torchvision test loader, so it cannot be called): the same decoupled lr and
  weight-decay arithmetic, parameter groups, ``triangle`` schedule, the package's
  ``LookaheadState`` every 5 steps with its cubic alpha schedule, its ``init_whitening_conv``
  on the first 5,000 images, and the whitening bias trained for ``whiten_bias_epochs``.
  Timing is ``time.perf_counter`` instead of CUDA events (with a device sync on a GPU).

Both recipes train on the same training images and are scored by the same evaluator (the
engine's ``evaluate_arrays``: plain, and flip + 1-pixel-shift TTA; each model with its own
input normalisation) on the same held-out images. Seconds are training only, evaluation
excluded for both: the peer from building its net to its last step (as the package times it,
less its final TTA pass); ours the whole ``engine.train`` call (model setup and the
checkpoints it writes each epoch included). The two run one after the other, peer first, so
load from other processes can favour either: on a shared machine repeat the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import tempfile
import time
from math import ceil

import numpy as np
import torch
from torch import nn

from ..checkpoints.format import load_checkpoint
from ..data.loader import DeviceBatches
from ..device import autocast_context, autocast_dtype, threads_label
from ..errors import EngineError
from ..evaluation.metrics import evaluate_arrays
from ..presets import preset_config
from ..training import train
from .common import say, sync
from .options import DEFAULT_PEER_SCALE

# Imports inside functions: airbench (and torchvision's transforms it needs) is an optional
# dependency, imported only when the peer benchmark runs.

__all__ = [
    "PEER_VERSION",
    "bench_peer",
    "compare",
    "peer_unavailable",
    "ratios",
    "report_lines",
    "scaled_epochs",
    "train_peer",
    "unfit_data",
]

PEER_VERSION = "0.1.8"
DEFAULT_SCALE = DEFAULT_PEER_SCALE  # `engine bench`: a tenth of each recipe's epochs (minutes on a CPU)


def peer_unavailable() -> str | None:
    """Why the peer cannot run here (one line), or None when ``airbench`` is importable."""
    try:
        import airbench  # noqa: F401
        from airbench import lib_airbench94, utils  # noqa: F401
    except ImportError as exc:
        return f"the airbench package is not installed ({exc.name}); pip install airbench=={PEER_VERSION}"
    return None


def fast_config(changes: dict | None = None, **fixed):
    """The ``fast`` preset with ``changes`` (an ``augment.NAME`` key changes that one
    augmentation setting), then ``fixed``: what the comparison trains as "ours"."""
    flat = dict(changes or {})
    augment = {key.split(".", 1)[1]: flat.pop(key) for key in list(flat) if key.startswith("augment.")}
    if augment:
        flat["augment"] = {**preset_config("fast").to_dict()["augment"], **flat.get("augment", {}), **augment}
    return preset_config("fast", **flat, **fixed)


def scaled_epochs(scale: float, fast_epochs: int | None = None) -> tuple[float, int]:
    """(peer epochs, fast-preset epochs) for ``scale`` of each recipe's own length.

    The peer takes fractional epochs (its loop stops after ``ceil(steps * epochs)`` steps); the
    engine trains whole epochs, so ours (``fast_epochs``, default the preset's) rounds to the
    nearest, at least one.
    """
    if not (isinstance(scale, (int, float)) and 0 < scale <= 1):
        raise ValueError(f"budget scale must be in (0, 1], got {scale}")
    from airbench.lib_airbench94 import hyp

    full = fast_epochs if fast_epochs is not None else fast_config().epochs
    return hyp["opt"]["train_epochs"] * scale, max(1, round(full * scale))


@contextlib.contextmanager
def _no_half_cuda():
    """``make_net94`` ends with ``.half().cuda()``: make both no-ops while it runs (fp32, stays put)."""
    half, cuda = nn.Module.half, nn.Module.cuda
    nn.Module.half = lambda self: self
    nn.Module.cuda = lambda self, device=None: self
    try:
        yield
    finally:
        nn.Module.half, nn.Module.cuda = half, cuda


def _make_net94(device: torch.device) -> nn.Module:
    from airbench.lib_airbench94 import make_net94

    with _no_half_cuda():
        net = make_net94()
    return net.to(device, memory_format=torch.channels_last)


def _loader(images: np.ndarray, labels: np.ndarray, classes, device, dtype, **kw):
    """The package's CifarLoader over our decoded ``(N, H, W, C)`` uint8 images on ``device``."""
    import torchvision.transforms as T
    from airbench import utils as ab

    class DeviceCifarLoader(ab.CifarLoader):
        # CifarLoader.__init__ with the file read replaced; attributes set in the same order
        # (its __setattr__ allows images/labels only while epoch == 0).
        def __init__(self, batch_size=500, aug=None, drop_last=None, shuffle=None, altflip=False, train=True):
            self.epoch = 0
            self.images = torch.from_numpy(np.ascontiguousarray(images)).to(device)
            self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(device)
            self.classes = list(classes)
            self.images = (self.images.to(dtype) / 255).permute(0, 3, 1, 2).to(memory_format=torch.channels_last)
            self.normalize = T.Normalize(ab.CIFAR_MEAN, ab.CIFAR_STD)
            self.proc_images = {}
            self.aug = aug or {}
            for k in self.aug.keys():
                if k not in ("flip", "translate", "cutout"):
                    raise ValueError(f"unrecognized augmentation {k!r}")
            self.batch_size = batch_size
            self.drop_last = train if drop_last is None else drop_last
            self.shuffle = train if shuffle is None else shuffle
            self.altflip = altflip

    return DeviceCifarLoader(**kw)


def _triangle(steps, start=0, end=0, peak=0.5):
    # airbench.utils.train's nested `triangle`, retyped: piecewise-linear start -> 1 -> end.
    xp = torch.tensor([0, int(peak * steps), steps])
    fp = torch.tensor([start, 1, end])
    x = torch.arange(1 + steps)
    m = (fp[1:] - fp[:-1]) / (xp[1:] - xp[:-1])
    b = fp[:-1] - (m * xp[:-1])
    indices = torch.sum(torch.ge(x[:, None], xp[None, :]), 1) - 1
    indices = torch.clamp(indices, 0, len(m) - 1)
    return m[indices] * x + b[indices]


def train_peer(train_set, classes, device: torch.device, amp_dtype, epochs: float, seed: int = 0):
    """airbench94's recipe on ``train_set`` (an ImageSet); returns (model, images seen, seconds)."""
    from airbench import utils as ab
    from airbench.lib_airbench94 import hyp

    if len(train_set) < hyp["opt"]["batch_size"]:
        raise ValueError(f"airbench94 drops partial batches: it needs >= {hyp['opt']['batch_size']} training images")
    torch.manual_seed(seed)
    train_loader = _loader(
        train_set.images,
        train_set.labels,
        classes,
        device,
        torch.float16 if amp_dtype is not None else torch.float32,
        batch_size=hyp["opt"]["batch_size"],
        aug=hyp["aug"],
        altflip=True,
    )
    o = hyp["opt"]
    label_smoothing, learning_rate, bias_scaler = o["label_smoothing"], o["lr"], o["bias_scaler"]
    momentum, weight_decay, whiten_bias_epochs = o["momentum"], o["weight_decay"], o["whiten_bias_epochs"]

    # ---- from here to the end of the loop: airbench.utils.train, line for line ----
    sync(device)
    t0 = time.perf_counter()
    train_loader.epoch = 0
    batch_size = train_loader.batch_size
    kilostep_scale = 1024 * (1 + 1 / (1 - momentum))
    lr = learning_rate / kilostep_scale  # un-decoupled learning rate for PyTorch SGD
    wd = weight_decay * batch_size / kilostep_scale
    lr_biases = lr * bias_scaler

    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing, reduction="none")
    total_train_steps = ceil(len(train_loader) * epochs)

    model = _make_net94(device)
    current_steps = 0

    norm_biases = [p for k, p in model.named_parameters() if "norm" in k and p.requires_grad]
    other_params = [p for k, p in model.named_parameters() if "norm" not in k and p.requires_grad]
    param_configs = [
        dict(params=norm_biases, lr=lr_biases, weight_decay=wd / lr_biases),
        dict(params=other_params, lr=lr, weight_decay=wd / lr),
    ]
    optimizer = torch.optim.SGD(param_configs, momentum=momentum, nesterov=True)
    lr_schedule = _triangle(total_train_steps, start=0.2, end=0.07, peak=0.23)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: lr_schedule[i])

    alpha_schedule = 0.95**5 * (torch.arange(total_train_steps + 1) / total_train_steps) ** 3
    lookahead_state = ab.LookaheadState(model)

    train_images = train_loader.normalize(train_loader.images[:5000])
    ab.init_whitening_conv(model[0], train_images)

    seen = 0
    for epoch in range(ceil(epochs)):
        model[0].bias.requires_grad = epoch < whiten_bias_epochs
        model.train()
        for inputs, labels in train_loader:
            with autocast_context(device, amp_dtype):
                outputs = model(inputs)
                loss = loss_fn(outputs, labels).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            seen += len(labels)

            current_steps += 1

            if current_steps % 5 == 0:
                lookahead_state.update(model, decay=alpha_schedule[current_steps].item())

            if current_steps >= total_train_steps:
                if lookahead_state is not None:
                    lookahead_state.update(model, decay=1.0)
                break
    sync(device)
    return model, seen, time.perf_counter() - t0


def _train_fast(ds, device: torch.device, epochs: int, seed: int, changes: dict | None = None):
    """The ``fast`` preset through ``engine.train``; returns (model, mean, std, images seen, seconds)."""
    cfg = fast_config(changes, epochs=epochs, seed=seed, device=str(device), data=ds.name or "bench")
    # No validation inside the run: the harness scores both models itself, outside the clock.
    train_only = dataclasses.replace(ds, val=None, test=None)
    with tempfile.TemporaryDirectory(prefix="peer-bench-") as out:
        sync(device)
        t0 = time.perf_counter()
        finished = train(cfg, out, dataset=train_only)
        sync(device)
        seconds = time.perf_counter() - t0
        if finished.status != "completed" or not finished.last_checkpoint:
            raise RuntimeError(f"the fast preset's run {finished.status}: {finished.message}")
        ckpt = load_checkpoint(finished.last_checkpoint)
        model = ckpt.build_model(device)
    n, bs = len(ds.train), cfg.batch_size
    per_epoch = (n // bs) * bs if n > bs else n  # the trainer drops a partial last batch when n > batch
    return model, list(ckpt.mean), list(ckpt.std), per_epoch * epochs, seconds


def _score(model, ds, device, mean, std, amp_dtype) -> dict:
    val = DeviceBatches(ds.val.images, ds.val.labels, 500, device, mean, std, channels_last=True)
    plain = evaluate_arrays(model, val, ds.num_classes, 0, amp_dtype, device).accuracy
    tta = evaluate_arrays(model, val, ds.num_classes, 2, amp_dtype, device).accuracy
    return {"accuracy": round(plain, 4), "accuracy_tta": round(tta, 4)}


def ratios(ours: dict, peer: dict) -> dict:
    """Ours relative to the peer (TTA accuracy; > 1 favours ours), and the issue's target:
    at least the peer's TTA accuracy in at most 80% of its images and of its seconds."""
    per_image = (ours["accuracy_tta"] / ours["images_seen"]) / max(peer["accuracy_tta"] / peer["images_seen"], 1e-12)
    per_second = (ours["accuracy_tta"] / max(ours["seconds"], 1e-9)) / max(
        peer["accuracy_tta"] / max(peer["seconds"], 1e-9), 1e-12
    )
    images, seconds = ours["images_seen"] / peer["images_seen"], ours["seconds"] / max(peer["seconds"], 1e-9)
    return {
        "accuracy_per_image": round(per_image, 3),
        "accuracy_per_second": round(per_second, 3),
        "images_seen": round(images, 3),
        "seconds": round(seconds, 3),
        "tta_points": round(100 * (ours["accuracy_tta"] - peer["accuracy_tta"]), 2),
        "meets_target": ours["accuracy_tta"] >= peer["accuracy_tta"] and images <= 0.8 and seconds <= 0.8,
    }


def unfit_data(ds) -> str | None:
    """Why ``ds`` cannot be used for the comparison (one line), or None."""
    from airbench.lib_airbench94 import hyp

    if ds.val is None or not len(ds.val):
        return "the comparison needs held-out images (a validation split)"
    if ds.num_classes != 10 or ds.image_shape != (32, 32, 3):
        return f"airbench94 is built for 10 classes of 32x32 colour images, not {ds.describe()}"
    if len(ds.train) < hyp["opt"]["batch_size"]:
        return f"airbench94 drops partial batches: it needs >= {hyp['opt']['batch_size']} training images"
    return None


def compare(ds, device: torch.device, scale: float = 1.0, seed: int = 0, log=say, changes: dict | None = None) -> dict:
    """Train both recipes at ``scale`` of their epochs on ``ds.train``; score on ``ds.val``.

    ``changes`` are TrainConfig settings applied to our preset (see :func:`fast_config`), to
    measure an option against the peer; ``epochs`` among them is the full length before scaling.
    """
    problem = peer_unavailable()
    if problem:
        raise RuntimeError(problem)
    problem = unfit_data(ds)
    if problem:
        raise ValueError(problem)
    changes = dict(changes or {})
    peer_epochs, fast_epochs = scaled_epochs(scale, fast_config(changes).epochs)
    changes.pop("epochs", None)
    fast_config(changes, epochs=fast_epochs)  # a bad setting fails now, not after the peer has trained
    amp = autocast_dtype(device, "auto")
    log(f"  peer: airbench94 ({PEER_VERSION}), {peer_epochs:.3g} epochs...")
    model, seen, seconds = train_peer(ds.train, ds.classes, device, amp, peer_epochs, seed)
    from airbench.utils import CIFAR_MEAN, CIFAR_STD

    peer = {"recipe": "airbench94", "epochs": round(peer_epochs, 3), "images_seen": seen, "seconds": round(seconds, 1)}
    peer.update(_score(model, ds, device, CIFAR_MEAN.tolist(), CIFAR_STD.tolist(), amp))
    log(f"  peer: {peer['accuracy']:.2%} plain, {peer['accuracy_tta']:.2%} TTA, {peer['seconds']} s of training")
    log(f"  ours: preset fast, {fast_epochs} epochs...")
    model, mean, std, seen, seconds = _train_fast(ds, device, fast_epochs, seed, changes)
    ours = {"recipe": "fast preset" + (" (changed)" if changes else ""), "changes": changes, "epochs": fast_epochs}
    ours.update(images_seen=seen, seconds=round(seconds, 1))
    ours.update(_score(model, ds, device, mean, std, amp))
    return {
        "budget_scale": scale,
        "train_images": len(ds.train),
        "held_out_images": len(ds.val),
        "threads": torch.get_num_threads(),
        "precision": {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[amp],
        "peer": peer,
        "ours": ours,
        "ours_vs_peer": ratios(ours, peer),
    }


def bench_peer(ds, device: torch.device, scale: float = DEFAULT_SCALE) -> dict:
    """``python -m engine bench``'s figure: :func:`compare`, or why it was skipped."""
    if not 0 < scale <= 1:
        raise EngineError(f"--peer-scale must be in (0, 1] (0 skips the comparison), got {scale:g}")
    problem = peer_unavailable() or unfit_data(ds)
    if problem:
        return {"skipped": problem}
    return compare(ds, device, scale)


def report_lines(r: dict) -> list[str]:
    if "skipped" in r:
        return [f"fast preset vs airbench94: skipped ({r['skipped']})"]
    scale = r["budget_scale"]
    length = "full recipes" if scale == 1 else f"{scale:g} of each recipe's epochs"
    lines = [
        f"fast preset vs airbench94 ({length}; {r['train_images']} training, "
        f"{r['held_out_images']} held-out images; {threads_label(r['threads'])}, {r['precision']}):",
    ]
    for key in ("peer", "ours"):
        s = r[key]
        lines.append(
            f"  {s['recipe']:<12} {s['accuracy']:.2%} plain, {s['accuracy_tta']:.2%} TTA; {s['epochs']:g} epochs, "
            f"{s['images_seen']:,} images seen, {s['seconds']:.1f} s"
        )
    if r["ours"].get("changes"):
        lines.append(f"  (fast preset changed: {json.dumps(r['ours']['changes'])})")
    q = r["ours_vs_peer"]
    verdict = "met" if q["meets_target"] else "not met"
    lines.append(
        f"  ours/peer    accuracy per image x{q['accuracy_per_image']:.2f}, "
        f"per second x{q['accuracy_per_second']:.2f}; "
        f"images x{q['images_seen']:.2f}, seconds x{q['seconds']:.2f}, TTA {q['tta_points']:+.2f} points "
        f"(issue 10 target: >= peer TTA in <= 0.8x images and seconds: {verdict})"
    )
    if r["budget_scale"] < 1:
        lines.append("  a shortened run: both schedules compressed; it says nothing about the full recipes")
    return lines
