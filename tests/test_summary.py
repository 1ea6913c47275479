"""Layer-by-layer model summary (engine/models/summary.py, ``python -m engine models --summary``)."""

from __future__ import annotations

import json

import pytest
from torch import nn

from engine.cli import program as cli
from engine.errors import EngineError
from engine.models import list_models, parameter_count
from engine.models.summary import model_summary, summarize_module


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.grouped = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=4, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        return self.fc(self.pool(self.grouped(self.conv(x))).flatten(1))


def test_shapes_parameters_and_multiply_adds_by_hand():
    s = summarize_module(_Tiny(), (3, 16, 16), "tiny")
    rows = {r.name: r for r in s.rows}
    assert [r.name for r in s.rows] == ["conv", "grouped", "pool", "fc"]
    assert rows["conv"].output_shape == [1, 8, 16, 16]
    assert rows["conv"].params == 3 * 8 * 9 + 8
    assert rows["conv"].macs == 8 * 16 * 16 * (3 * 9)
    assert rows["grouped"].output_shape == [1, 8, 8, 8]
    assert rows["grouped"].params == 8 * 2 * 9  # groups=4: each output sees 2 input channels
    assert rows["grouped"].macs == 8 * 8 * 8 * (2 * 9)
    assert rows["pool"].macs == 0 and rows["pool"].params == 0
    assert rows["fc"].output_shape == [1, 5] and rows["fc"].macs == 5 * 8 and rows["fc"].params == 45
    assert s.total_params == sum(p.numel() for p in _Tiny().parameters())
    assert s.total_macs == sum(r.macs for r in s.rows) and s.output_shape == [1, 5]


def test_shared_module_counts_its_parameters_once():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            return self.lin(self.lin(x.flatten(1)))

    s = summarize_module(Twice(), (1, 2, 2), "twice")
    assert [r.name for r in s.rows] == ["lin", "lin"]
    assert [r.params for r in s.rows] == [20, 0] and s.total_params == 20 and s.total_macs == 32


def test_attention_counts_projections_and_products():
    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x):  # (1, 1, 5, 8) image-like -> 5 tokens of width 8
            t = x.flatten(1, 2)
            return self.mha(t, t, t, need_weights=False)[0]

    s = summarize_module(Attn(), (1, 5, 8), "attn")
    (row,) = s.rows
    tokens, e = 5, 8
    assert row.params == 4 * e * e + 4 * e == s.total_params  # out_proj counted with it
    assert row.macs == 4 * tokens * e * e + 2 * tokens * tokens * e


@pytest.mark.parametrize("name", [m.name for m in list_models()])
def test_every_registered_model_summarizes_to_its_parameter_count(name):
    s = model_summary(name, num_classes=7)
    assert s.total_params == parameter_count(name, num_classes=7)
    assert sum(r.params for r in s.rows) == s.total_params  # every parameter sits in some row
    assert s.output_shape == [1, 7] and s.total_macs > 0


def test_known_resnet20_cost():
    s = model_summary("resnet20")
    # He et al.'s ResNet-20: 0.27 M parameters, about 41 M multiply-adds at 32x32.
    assert 0.26e6 < s.total_params < 0.28e6 and 40e6 < s.total_macs < 42e6


def test_bad_requests_are_engine_errors():
    with pytest.raises(EngineError, match="unknown architecture"):
        model_summary("no-such-net")
    with pytest.raises(EngineError, match="input size must be positive"):
        model_summary("resnet20", input_size=(0, 32))


def test_cli_models_summary_text_and_json(capsys):
    assert cli.main(["models", "--summary", "lenet5", "--size", "28", "--channels", "1"]) == 0
    text = capsys.readouterr().out
    assert "Conv2d" in text and "61,706 parameters" in text and "multiply-adds" in text
    assert cli.main(["models", "--summary", "tutorial_net", "--json", "--num-classes", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["output_shape"] == [1, 3] and data["rows"][0]["type"] == "Conv2d"
    assert cli.main(["models", "--summary", "nope"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown architecture 'nope'")
