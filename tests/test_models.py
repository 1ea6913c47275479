"""Model zoo: every registered architecture builds, runs on 32x32 (and 28x28 gray) input and
has the expected size; the torchvision path loads cached weights and never downloads."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from engine.errors import EngineError
from engine.models import (
    FAMILIES,
    count_parameters,
    create_model,
    get_model_info,
    list_models,
)
from engine.models.cifar_resnet import BLOCK_VARIANTS

# Parameters with 10 classes and RGB input, computed once and checked against the published
# figures where they exist: CIFAR ResNet-20/32/44/56/110 0.27/0.46/0.66/0.85/1.7 M (He et al.
# 2016, option A); ResNet-18 (CIFAR) 11.17 M, DenseNet-121 (CIFAR) 6.96 M (kuangliu); NIN
# 0.97 M; torchvision ResNet-34 21.8 M with 1000 classes; the book's Net/NetWidth 18,090 /
# 38,386 with 2 classes.
EXPECTED_PARAMS = {
    "fastnet": 1_972_792,
    "fastnet-wide": 4_606_520,
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
    "preact_resnet20": 269_722,
    "preact_resnet32": 464_154,
    "preact_resnet56": 853_018,
    "preact_resnet110": 1_727_962,
    "resnet18": 11_173_962,
    "resnet34": 21_282_122,
    "resnet50": 23_520_842,
    "resnet101": 42_512_970,
    "resnet152": 58_156_618,
    "preact_resnet18": 11_172_170,
    "resnet34_224": 21_289_802,
    "densenet121": 6_956_298,
    "densenet169": 12_493_322,
    "densenet201": 18_104_330,
    "googlenet": 5_871_914,
    "nin": 966_986,
    "lenet5": 62_006,
    "alexnet": 14_859_082,
    "vgg16_bn": 14_724_042,
    "tutorial_net": 18_354,
    "tutorial_net_wide": 38_650,
    "tutorial_net_dropout": 38_650,
    "tutorial_net_bn": 38_746,
    "tutorial_net_res": 159_594,
    "mnist_resnet": 131_242,
    # EfficientNet-Lite0: 3.37 M backbone + the kept 1000-class ImageNet head + the new classifier.
    "efficientnet_lite0": 4_664_818,
}
# Every registered model also takes 28x28 grayscale input (none is excluded so far).
NO_28X28: set[str] = set()

NAMES = [info.name for info in list_models()]


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


def _logits(model: torch.nn.Module, channels: int, size: int) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(torch.randn(2, channels, size, size))


def test_table_covers_registry():
    assert set(NAMES) == set(EXPECTED_PARAMS)


def test_registry_is_a_leaf():
    """registry.py imports no model module and not torch: the model modules import it, never the reverse."""
    import ast

    import engine.models.registry as registry

    tree = ast.parse(Path(registry.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    assert imported <= {"__future__", "collections.abc", "dataclasses", "typing", "torch"}, imported
    runtime = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert all("torch" not in ast.dump(n) for n in runtime), "torch only under TYPE_CHECKING"


def test_menu_order_is_the_family_list():
    families = [info.family for info in list_models()]
    assert families[0] == "Fast" and NAMES[0] == "fastnet"  # the bundled model's architecture first
    assert families == sorted(families, key=FAMILIES.index)  # grouped, in FAMILIES order
    assert set(families) == set(FAMILIES)  # no empty family in the menus


def test_unknown_family_is_refused():
    from engine.models import register

    with pytest.raises(ValueError, match="FAMILIES"):
        register("x", "Nowhere", "a model outside the menus")


@pytest.mark.parametrize("name", NAMES)
def test_rgb_32(name):
    info = get_model_info(name)
    assert info.input_handling in ("native", "upsample")
    assert info.description and "\n" not in info.description
    model = create_model(name, num_classes=10, in_channels=3)
    assert count_parameters(model) == EXPECTED_PARAMS[name]
    out = _logits(model, 3, 32)
    assert out.shape == (2, 10) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", [n for n in NAMES if n not in NO_28X28])
def test_gray_28(name):
    out = _logits(create_model(name, num_classes=7, in_channels=1), 1, 28)
    assert out.shape == (2, 7) and torch.isfinite(out).all()


def test_published_sizes():
    # Sanity check of the table against the papers' rounded figures.
    for name, millions in {
        "resnet20": 0.27,
        "resnet32": 0.46,
        "resnet56": 0.85,
        "resnet110": 1.7,
        "resnet18": 11.17,
        "nin": 0.97,
    }.items():
        assert EXPECTED_PARAMS[name] / 1e6 == pytest.approx(millions, abs=0.01 if millions < 1 else 0.03)


def test_unknown_model():
    with pytest.raises(EngineError):
        create_model("nope")
    with pytest.raises(EngineError):
        create_model("tv:nope")


def test_bad_kwargs():
    with pytest.raises(EngineError):
        create_model("resnet20", block="z")
    with pytest.raises(EngineError):
        create_model("resnet20", widths=3)


@pytest.mark.parametrize("block", BLOCK_VARIANTS)
def test_block_variants(block):
    model = create_model("resnet20", block=block)
    assert count_parameters(model) == EXPECTED_PARAMS["resnet20"]
    model.train()
    out = model(torch.randn(2, 3, 32, 32))
    out.sum().backward()  # the residual path trains in every ordering
    assert out.shape == (2, 10)
    assert _logits(create_model("resnet20", in_channels=1, block=block), 1, 28).shape == (2, 10)


def test_kwargs_change_the_model():
    assert count_parameters(create_model("tutorial_net_res", n_blocks=2)) < EXPECTED_PARAMS["tutorial_net_res"]
    assert count_parameters(create_model("tutorial_net_wide", width=8)) < EXPECTED_PARAMS["tutorial_net_wide"]


# ---- torchvision models -------------------------------------------------------------------


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    """An empty torch hub cache; downloads are made to fail loudly."""
    hub = tmp_path / "hub"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))

    def no_download(*args, **kwargs):
        raise AssertionError("the engine must never download")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    return hub


def test_torchvision_names():
    from engine.models.torchvision_models import torchvision_model_names

    names = torchvision_model_names()
    assert "tv:resnet18" in names and "tv:vit_b_16" in names
    info = get_model_info("tv:resnet18")
    assert info.family == "torchvision" and info.input_handling == "upsample"


def test_torchvision_random_init_without_cache(hub_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="engine.models.torchvision_models"):
        model = create_model("tv:resnet18", num_classes=10, in_channels=3)
    assert "resnet18-f37072fd.pth" in caplog.text and "random" in caplog.text
    assert _logits(model, 3, 32).shape == (2, 10)


@pytest.fixture
def cached_resnet18(hub_dir):
    import torchvision

    state = torchvision.models.resnet18().state_dict()
    (hub_dir / "checkpoints").mkdir(parents=True)
    torch.save(state, hub_dir / "checkpoints" / "resnet18-f37072fd.pth")
    return state


def test_torchvision_loads_cached_weights(cached_resnet18, caplog):
    with caplog.at_level(logging.WARNING):
        model = create_model("tv:resnet18", num_classes=10, in_channels=3)
    assert "random" not in caplog.text
    loaded = model.net.state_dict()
    assert set(loaded) == set(cached_resnet18)
    for key, value in cached_resnet18.items():
        if not key.startswith("fc."):  # the replaced 1000-class head
            assert torch.equal(loaded[key], value), key
    assert loaded["fc.weight"].shape == (10, 512)


def test_torchvision_gray_averages_first_conv(cached_resnet18):
    model = create_model("tv:resnet18", num_classes=3, in_channels=1, input_size=64)
    expected = cached_resnet18["conv1.weight"].mean(1, keepdim=True)
    assert torch.equal(model.net.conv1.weight, expected)
    assert _logits(model, 1, 28).shape == (2, 3)


def test_torchvision_pretrained_false_ignores_cache(cached_resnet18):
    model = create_model("tv:resnet18", pretrained=False)
    assert not torch.equal(model.net.conv1.weight, cached_resnet18["conv1.weight"])


@pytest.mark.parametrize("name", ["tv:mobilenet_v3_small", "tv:squeezenet1_1", "tv:googlenet"])
def test_torchvision_heads(name, hub_dir):
    # Sequential head ending in Linear, a 1x1-conv head, and an Inception net (no aux outputs).
    model = create_model(name, num_classes=5, in_channels=1, pretrained=False, input_size=64)
    model.train()
    out = model(torch.randn(2, 1, 32, 32))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 5)
