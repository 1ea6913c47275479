"""The ``muon`` optimizer: orthogonalised steps for convolution filters, Nesterov SGD for the
rest, one optimizer that the trainer's schedule, checkpoints and resume handle as any other."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_config, tiny_dataset
from torch import nn

from engine.config import TrainConfig
from engine.errors import ConfigError
from engine.training import train
from engine.training.muon import MuonSGD, orthogonalize
from engine.training.optim import build_optimizer


def test_orthogonalize_brings_singular_values_near_one():
    torch.manual_seed(0)
    for shape in [(16, 72), (72, 16)]:  # a filter bank as out x (in*k*k), and its transpose
        u, _, v = torch.linalg.svd(torch.randn(shape), full_matrices=False)
        g = u @ torch.diag(torch.logspace(-1, 1, min(shape))) @ v  # singular values 0.1 to 10
        s = torch.linalg.svdvals(orthogonalize(g).float())
        assert s.shape == (min(shape),)
        # every direction moves at a similar rate: a spread of 100 becomes one under 10
        assert float(s.max()) < 1.6 and float(s.max() / s.min()) < 10
        # the same directions as the gradient: positively aligned with it
        assert float((orthogonalize(g).float() * g).sum()) > 0


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Flatten(), nn.Linear(8 * 6 * 6, 4))


def test_filters_take_muon_steps_and_everything_else_sgd():
    cfg = TrainConfig(optimizer="muon", lr=0.1, momentum=0.85, weight_decay=1e-3, muon_lr=0.3, muon_momentum=0.6)
    model = _net()
    opt = build_optimizer(model, cfg)
    assert isinstance(opt, MuonSGD)
    muon = [g for g in opt.param_groups if g["muon"]]
    assert len(muon) == 1 and [p.ndim for p in muon[0]["params"]] == [4]
    assert muon[0]["lr"] == 0.3 and muon[0]["momentum"] == 0.6 and muon[0]["weight_decay"] == 0.0
    others = [p for g in opt.param_groups if not g["muon"] for p in g["params"]]
    assert len(others) == 5 and all(p.ndim < 4 for p in others)  # conv bias, BN weight+bias, linear weight+bias
    # biases (1-D: the conv's and the linear's, BN's shift) move at the norm-bias rate, as in
    # airbench94_muon; only the linear layer's weight stays at lr
    (plain,) = [g for g in opt.param_groups if any(p is model[3].weight for p in g["params"])]
    assert len(plain["params"]) == 1 and plain["lr"] == cfg.lr
    (biases,) = [g for g in opt.param_groups if any(p is model[0].bias for p in g["params"])]
    assert {id(p) for p in biases["params"]} == {id(p) for p in (model[0].bias, model[3].bias, *model[1].parameters())}
    # the schedule sets each group's rate as cfg.lr * lr_scale * factor: the filters keep theirs
    assert muon[0]["lr_scale"] * cfg.lr == pytest.approx(0.3)
    x, y = torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 3])
    conv = model[0].weight
    before = conv.detach().clone()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    # a Muon step: the filter bank keeps norm sqrt(out) plus one orthogonal step of size lr
    assert not torch.equal(before, conv)
    delta = (conv.detach() - before * (8**0.5 / before.norm())).reshape(8, -1) / -0.3
    s = torch.linalg.svdvals(delta)
    assert float(s.max()) < 1.6 and float(s.min()) > 0.3


def test_sgd_groups_match_torch_sgd_nesterov():
    """Parameters that are not filters move exactly as torch.optim.SGD(nesterov=True) moves them."""
    torch.manual_seed(1)
    a, b = nn.Linear(5, 3), nn.Linear(5, 3)
    b.load_state_dict(a.state_dict())
    ours = MuonSGD(a.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2)
    ref = torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2, nesterov=True)
    for _ in range(3):
        x = torch.randn(7, 5)
        for model, opt in ((a, ours), (b, ref)):
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)


@pytest.mark.parametrize(("field", "value"), [("muon_lr", 0.0), ("muon_lr", float("nan")), ("muon_momentum", 1.0)])
def test_bad_muon_settings_name_their_field(field, value):
    with pytest.raises(ConfigError) as info:
        TrainConfig(optimizer="muon", **{field: value}).validate()
    assert info.value.field == field


def test_a_muon_run_learns_and_resumes(tmp_path):
    cfg = tiny_config(
        model="fastnet",
        model_args={"widths": [8, 8, 8]},
        optimizer="muon",
        lr=0.2,
        muon_lr=0.2,
        epochs=3,
        batch_size=16,
    )
    ds = tiny_dataset(size=32, per_class=16)
    result = train(cfg, tmp_path / "run", dataset=ds)
    assert result.status == "completed"
    history = torch.load(tmp_path / "run" / "last.pt", weights_only=False)["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=False)["train_state"]
    assert any("momentum_buffer" in s for s in state["optimizer"]["state"].values())  # resumable
