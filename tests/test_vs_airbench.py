"""The side-by-side benchmark against the real airbench94 recipe (benchmarks/vs_airbench.py and
engine.bench.peer). Skipped where the optional ``airbench`` package is not installed."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
from conftest import REPO_ROOT, tiny_dataset, write_image_folder
from torch import nn

import engine

pytest.importorskip("airbench")

from engine.bench import peer

TEN = [f"c{i}" for i in range(10)]


def _script():
    spec = importlib.util.spec_from_file_location("vs_airbench", REPO_ROOT / "benchmarks" / "vs_airbench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_peer_net_is_the_packages_own_in_fp32_here_and_nothing_stays_patched():
    from engine.models import count_parameters, create_model

    half, cuda = nn.Module.half, nn.Module.cuda
    net = peer._make_net94(torch.device("cpu"))
    assert nn.Module.half is half and nn.Module.cuda is cuda
    assert {p.dtype for p in net.parameters()} == {torch.float32}
    assert {p.device.type for p in net.parameters()} == {"cpu"}
    # fastnet is our own code of the same architecture: same parameter count
    assert count_parameters(net) == count_parameters(create_model("fastnet"))


def test_budget_scale_shortens_both_recipes():
    ours = engine.preset_config("fast").epochs
    assert peer.scaled_epochs(1.0) == (pytest.approx(9.9), ours)
    assert peer.scaled_epochs(0.5) == (pytest.approx(4.95), round(ours * 0.5))
    assert peer.scaled_epochs(0.001)[1] == 1  # the engine trains at least one whole epoch
    with pytest.raises(ValueError, match="budget scale"):
        peer.scaled_epochs(0)


def test_ratios_favour_the_recipe_that_learns_more_per_image_and_second():
    p = {"accuracy_tta": 0.90, "images_seen": 500_000, "seconds": 2000.0}
    ours = {"accuracy_tta": 0.91, "images_seen": 400_000, "seconds": 1500.0}
    r = peer.ratios(ours, p)
    assert r["accuracy_per_image"] == pytest.approx((0.91 / 4e5) / (0.90 / 5e5), abs=1e-3)
    assert r["accuracy_per_second"] == pytest.approx((0.91 / 1500) / (0.90 / 2000), abs=1e-3)
    assert (r["images_seen"], r["seconds"], r["tta_points"], r["meets_target"]) == (0.8, 0.75, 1.0, True)
    assert not peer.ratios({**ours, "accuracy_tta": 0.899}, p)["meets_target"]
    assert not peer.ratios({**ours, "images_seen": 400_001}, p)["meets_target"]


def test_comparison_refuses_data_the_peer_cannot_train_on():
    with pytest.raises(ValueError, match="10 classes of 32x32"):
        peer.compare(tiny_dataset(size=32), torch.device("cpu"), 0.01)


def test_harness_runs_both_recipes_end_to_end(tmp_path, monkeypatch):
    """The script on a 10-class folder of 32x32 images at 1% of each recipe's epochs (10-25 s
    on the 2-core machine, under the ~30 s bar for the slow marker)."""
    folder = write_image_folder(tmp_path / "data", classes=TEN, per_class=115, size=32)
    monkeypatch.setenv("CIFAR_STUDIO_THREADS", "1")  # main() sets it; restored after the test
    out = tmp_path / "out" / "result.json"
    argv = ["--data", str(folder), "--budget-scale", "0.01", "--threads", "1", "--json", str(out)]
    # airbench's tricks as engine options on our side: the run must accept and record them
    argv += ["--set", "lookahead_every=1", "--set", "whiten_bias_epochs=1", "--set", "augment.alternate_flips=true"]
    assert _script().main(argv) == 0
    r = json.loads(out.read_text())
    # the engine's stratified 10% split: the same held-out images for both recipes
    assert r["train_images"] + r["held_out_images"] == 1150 and 110 <= r["held_out_images"] <= 120
    assert r["threads"] == 1 and "10 classes, 32x32x3" in r["data"]
    # the peer drops partial batches of 1024 and runs ceil(1 step x 0.099 epochs) = 1 step; ours 1 epoch,
    # one step of every training image (fewer than the preset's batch of 2000)
    assert r["peer"]["images_seen"] == 1024 and r["ours"]["images_seen"] == r["train_images"]
    assert r["ours"]["epochs"] == 1 and r["peer"]["epochs"] == pytest.approx(0.099)
    assert r["ours"]["changes"] == {"lookahead_every": 1, "whiten_bias_epochs": 1, "augment.alternate_flips": True}
    for side in ("peer", "ours"):
        assert 0 <= r[side]["accuracy"] <= 1 and 0 <= r[side]["accuracy_tta"] <= 1 and r[side]["seconds"] > 0
    assert r["ours_vs_peer"] == peer.ratios(r["ours"], r["peer"])
    assert list(out.parent.iterdir()) == [out]  # written atomically: no temporary file left behind


def test_harness_says_what_is_missing_without_airbench(monkeypatch, capsys):
    monkeypatch.setattr(peer, "peer_unavailable", lambda: "the airbench package is not installed (airbench)")
    monkeypatch.setenv("CIFAR_STUDIO_THREADS", "1")
    assert _script().main(["--threads", "1"]) == 2
    assert "airbench package is not installed" in capsys.readouterr().err


def test_engine_bench_skips_the_peer_on_data_it_cannot_use_and_refuses_a_bad_scale():
    from engine.errors import EngineError

    r = peer.bench_peer(tiny_dataset(size=32), torch.device("cpu"), 0.1)
    assert r == {"skipped": r["skipped"]} and "10 classes of 32x32" in r["skipped"]
    assert "skipped (" in peer.report_lines(r)[0]
    with pytest.raises(EngineError, match="--peer-scale"):
        peer.bench_peer(tiny_dataset(size=32), torch.device("cpu"), 1.5)


def test_changes_to_our_preset_merge_augment_keys_and_fail_before_any_training(monkeypatch):
    from engine.errors import ConfigError

    cfg = peer.fast_config({"augment.alternate_flips": True, "lookahead_every": 5}, epochs=2)
    assert cfg.augment.alternate_flips and cfg.augment.crop_padding == 2  # the rest of the preset's augment
    assert (cfg.lookahead_every, cfg.epochs, cfg.model) == (5, 2, "fastnet")
    monkeypatch.setattr(peer, "train_peer", lambda *a, **k: pytest.fail("trained before checking the settings"))
    ds = tiny_dataset(classes=TEN, per_class=103, size=32, val_per_class=1)
    with pytest.raises(ConfigError, match="lookahead_every"):
        peer.compare(ds, torch.device("cpu"), 0.1, changes={"lookahead_every": -1})
    with pytest.raises(ConfigError, match="warmup_epochs"):  # valid at 18 epochs, not at the scaled 2
        peer.compare(ds, torch.device("cpu"), 0.1, changes={"warmup_epochs": 4.0})
