"""The fast-recipe training options: alternating flips, lookahead averaging, a whitening bias
trained for the first epochs only, and the triangular schedule (``onecycle``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_config, tiny_dataset
from torch import nn

from engine.config import Augment, TrainConfig
from engine.data.loader import DeviceBatches
from engine.errors import ConfigError, EngineError
from engine.training import train
from engine.training.optim import LRSchedule
from engine.training.recipe_options import Lookahead

# ---------------------------------------------------------------------------- config


def test_new_settings_default_off_and_round_trip_through_json():
    cfg = TrainConfig()
    assert (cfg.lookahead_every, cfg.whiten_bias_epochs, cfg.augment.alternate_flips) == (0, 0, False)
    changed = cfg.replace(
        lookahead_every=5, lookahead_decay=0.5, whiten_bias_epochs=3, augment={"flip": True, "alternate_flips": True}
    )
    again = TrainConfig.from_json(changed.to_json())
    assert again == changed
    assert (again.lookahead_every, again.lookahead_decay, again.whiten_bias_epochs) == (5, 0.5, 3)
    assert again.augment.alternate_flips is True
    # a config saved before these settings existed still loads, with them off
    old = {k: v for k, v in cfg.to_dict().items() if k not in ("lookahead_every", "lookahead_decay")}
    old["augment"] = {k: v for k, v in old["augment"].items() if k != "alternate_flips"}
    assert TrainConfig.from_dict(old).lookahead_every == 0


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"lookahead_every": -1}, "lookahead_every", ">= 0"),
        ({"lookahead_every": 2.5}, "lookahead_every", "whole number"),
        ({"lookahead_decay": 1.0}, "lookahead_decay", "[0, 1)"),
        ({"lookahead_every": 5, "ema_decay": 0.99}, "lookahead_every", "not both"),
        ({"whiten_bias_epochs": -2}, "whiten_bias_epochs", ">= 0"),
        ({"augment": {"flip": False, "alternate_flips": True}}, "augment.alternate_flips", "augment.flip"),
        ({"augment": {"alternate_flips": "yes"}}, "augment.alternate_flips", "true or false"),
    ],
)
def test_bad_values_name_their_field(changes, field, words):
    with pytest.raises(ConfigError) as err:
        TrainConfig().replace(**changes)
    assert err.value.field == field and words in str(err.value)


# ---------------------------------------------------------------------------- alternating flips


def _batches(images, ids, shuffle, alternate=True, seed=3):
    aug = Augment(crop_padding=0, flip=True, alternate_flips=alternate)
    return DeviceBatches(images, ids, 16, torch.device("cpu"), [0.5] * 3, [0.25] * 3, aug, shuffle=shuffle, seed=seed)


def _epoch(batches, epoch) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image of one epoch, put back in dataset order by the id carried as its label."""
    batches.set_epoch(epoch)
    xs, ids = zip(*batches)
    x, ids = torch.cat(xs), torch.cat(ids)
    return x[ids.argsort()], ids


@pytest.mark.parametrize("shuffle", [False, True])
def test_alternating_flips_mirror_every_image_on_odd_epochs(shuffle):
    images = tiny_dataset(per_class=16, size=8).train.images
    ids = np.arange(len(images))
    batches = _batches(images, ids, shuffle)
    plain = batches.normalize(batches.images).float()
    e0, e1, e2, e3 = (_epoch(batches, e)[0] for e in range(4))
    assert torch.equal(e1, e0.flip(3))  # every image mirrored relative to the even epoch
    assert torch.equal(e2, e0) and torch.equal(e3, e1)
    flipped = (e0 != plain).flatten(1).any(1)
    assert 0 < int(flipped.sum()) < len(images)  # a random, fixed orientation per image on even epochs
    assert torch.equal(e0[flipped], plain[flipped].flip(3))


def test_random_flips_do_not_alternate():
    images = tiny_dataset(per_class=16, size=8).train.images
    batches = _batches(images, np.arange(len(images)), False, alternate=False)
    e0, e1 = _epoch(batches, 0)[0], _epoch(batches, 1)[0]
    assert not torch.equal(e1, e0.flip(3))


# ---------------------------------------------------------------------------- lookahead


def test_lookahead_pulls_weights_to_the_slow_average_on_schedule():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    la = Lookahead(model, every=2, decay=0.5, total_steps=4)
    with torch.no_grad():
        model.weight.fill_(1.0)
        la.step(model, 1)  # not a multiple of 2: nothing happens
        assert model.weight.item() == 1.0
        la.step(model, 2)  # d = 0.5 * (2/4)^3 = 1/16: slow = 0 + 15/16 * (1 - 0)
        assert model.weight.item() == pytest.approx(15 / 16)
        model.weight.fill_(2.0)
        la.step(model, 4)  # d = 0.5: slow = 15/16 + 0.5 * (2 - 15/16); then the final pull keeps it
        assert model.weight.item() == pytest.approx(15 / 16 + 0.5 * (2 - 15 / 16))


def test_a_lookahead_run_ends_on_its_slow_weights_and_saves_them(tmp_path):
    cfg = tiny_config(epochs=2, lookahead_every=2, lookahead_decay=0.9)
    result = train(cfg, tmp_path, dataset=tiny_dataset())
    assert result.status == "completed"
    state = torch.load(tmp_path / "last.pt", weights_only=False)["train_state"]
    slow = state["lookahead"]["slow"]
    assert slow and all(torch.equal(state["model"][k], v) for k, v in slow.items())


# ---------------------------------------------------------------------------- whitening bias


def _fastnet_config(**changes):
    return tiny_config(model="fastnet", model_args={"widths": [8, 8, 8]}, epochs=3, batch_size=16, lr=0.2, **changes)


def _bias_per_epoch(tmp_path, cfg) -> list[torch.Tensor]:
    """The whitening bias saved at the end of each epoch."""
    biases = []

    def on_event(event):
        if type(event).__name__ == "EpochEnd":
            state = torch.load(tmp_path / "last.pt", weights_only=False)["train_state"]["model"]
            biases.append(state["whiten.bias"].clone())

    ds = tiny_dataset(size=32, per_class=16)
    assert train(cfg, tmp_path, callback=on_event, dataset=ds).status == "completed"
    return biases


def test_whitening_bias_trains_for_the_first_epochs_only(tmp_path):
    frozen = _bias_per_epoch(tmp_path / "a", _fastnet_config(whiten_bias_epochs=1))
    assert torch.equal(frozen[0], frozen[1]) and torch.equal(frozen[1], frozen[2])
    free = _bias_per_epoch(tmp_path / "b", _fastnet_config(whiten_bias_epochs=0))
    assert torch.equal(frozen[0], free[0])  # same run until the freeze
    assert not torch.equal(free[0], free[1])  # without the option it keeps training


def test_whitening_bias_needs_a_whitening_stem(tmp_path):
    with pytest.raises(EngineError, match="no whitening stem"):
        train(tiny_config(whiten_bias_epochs=2), tmp_path, dataset=tiny_dataset())


def test_whitening_bias_requires_grad_is_off_from_epoch_n(tmp_path, monkeypatch):
    from engine.training import trainer

    flags = []
    original = trainer._Run._train_epoch

    def recording(run, epoch):
        done = original(run, epoch)
        flags.append(run.whiten_bias.requires_grad)  # as it was while the epoch trained
        return done

    monkeypatch.setattr(trainer._Run, "_train_epoch", recording)
    train(_fastnet_config(whiten_bias_epochs=2), tmp_path, dataset=tiny_dataset(size=32, per_class=16))
    assert flags == [True, True, False]


# ---------------------------------------------------------------------------- triangular schedule


def test_onecycle_reproduces_airbench_triangle():
    from engine.bench.peer import _triangle

    steps_per_epoch, epochs = 100, 10
    cfg = TrainConfig(
        epochs=epochs, schedule="onecycle", warmup_epochs=2.3, warmup_start_factor=0.2, final_lr_factor=0.07
    )
    ours = LRSchedule(cfg, steps_per_epoch)
    theirs = _triangle(steps_per_epoch * epochs, start=0.2, end=0.07, peak=0.23)
    for step in range(0, steps_per_epoch * epochs + 1, 7):
        assert ours.factor(step) == pytest.approx(float(theirs[step]), abs=1e-6)


# ---------------------------------------------------------------------------- micro-batches


def _final_weights(tmp_path, **changes) -> dict[str, torch.Tensor]:
    cfg = tiny_config(epochs=2, batch_size=8, **changes)
    assert train(cfg, tmp_path, dataset=tiny_dataset()).status == "completed"
    return torch.load(tmp_path / "last.pt", weights_only=False)["train_state"]["model"]


def test_micro_batches_add_up_to_the_whole_batchs_step(tmp_path):
    # tutorial_net has no batch norm, so chunks of 3, 3 and 2 images (uneven on purpose: each
    # chunk's loss counts by its share) must give the whole batch's gradients and weights.
    whole = _final_weights(tmp_path / "whole")
    chunked = _final_weights(tmp_path / "chunked", micro_batch=3)
    assert whole.keys() == chunked.keys()
    for name in whole:
        torch.testing.assert_close(chunked[name], whole[name], atol=1e-5, rtol=1e-4)
    metrics = [(tmp_path / run / "metrics.jsonl").read_text().splitlines() for run in ("whole", "chunked")]
    assert len(metrics[0]) == len(metrics[1]) == 2


def test_micro_batch_must_be_a_whole_number_of_images():
    for bad in (-2, 2.5):
        with pytest.raises(ConfigError) as err:
            TrainConfig().replace(micro_batch=bad)
        assert err.value.field == "micro_batch"
    assert TrainConfig().micro_batch == 0


def test_automatic_micro_batches_split_on_a_cpu_only():
    from engine.config import AUTO_MICRO_BATCH, CPU_MICRO_BATCH, micro_batch_size

    assert micro_batch_size(AUTO_MICRO_BATCH, 2400, "cpu") == CPU_MICRO_BATCH == 200
    assert micro_batch_size(AUTO_MICRO_BATCH, 2400, "cuda") == 2400  # GPUs run the whole batch
    assert micro_batch_size(AUTO_MICRO_BATCH, 64, "cpu") == 64
    assert micro_batch_size(0, 512, "cpu") == 512 and micro_batch_size(100, 512, "mps") == 100


def test_micro_batches_keep_batch_norms_running_statistics_per_image():
    from engine.training.recipe_options import per_chunk_norm_momentum

    torch.manual_seed(0)
    chunk = torch.randn(5, 3, 4, 4) * 2 + 1
    whole, split = nn.BatchNorm2d(3, momentum=0.4), nn.BatchNorm2d(3, momentum=0.4)
    per_chunk_norm_momentum(split, 4)
    assert split.momentum == pytest.approx(1 - 0.6**0.25)
    whole(chunk.repeat(4, 1, 1, 1))  # one update from the whole batch of 20 ...
    for _ in range(4):  # ... equals four updates from its four (here identical) chunks of 5
        split(chunk)
    torch.testing.assert_close(split.running_mean, whole.running_mean)
    # the variance differs only by the unbiased estimate's n/(n-1) on 5 images instead of 20
    torch.testing.assert_close(split.running_var, whole.running_var, rtol=0.2, atol=0)
    per_chunk_norm_momentum(split, 1)  # one chunk: nothing changes
    assert split.momentum == pytest.approx(1 - 0.6**0.25)
