"""TrainConfig validation and JSON round trips, presets, and the learning-rate schedules."""

from __future__ import annotations

import json
import math
from itertools import pairwise

import pytest

from engine.config import OPTIMIZERS, SCHEDULES, TrainConfig
from engine.data.loader import Augment
from engine.errors import ConfigError
from engine.presets import PRESETS, preset_config
from engine.training.optim import LRSchedule, schedule_preview


def _cfg(**changes) -> TrainConfig:
    return TrainConfig(**changes)


# ---------------------------------------------------------------------------- validation
def test_defaults_validate():
    cfg = TrainConfig()
    assert cfg.validate() is cfg
    assert cfg.optimizer in OPTIMIZERS and cfg.schedule in SCHEDULES


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_round_trips_through_json(name):
    cfg = preset_config(name)
    text = cfg.to_json()
    json.loads(text)  # plain JSON
    back = TrainConfig.from_json(text)
    assert back == cfg
    assert isinstance(back.augment, Augment)


def test_round_trip_through_a_file(tmp_path):
    cfg = TrainConfig(
        epochs=3,
        classes=["cat", "dog"],
        milestones=[1.0, 2.0],
        schedule="multistep",
        model_args={"width": 8},
        augment=Augment(crop_padding=2, cutout=4),
    )
    path = tmp_path / "cfg.json"
    path.write_text(cfg.to_json())
    assert TrainConfig.load(path) == cfg


def test_json_ints_are_accepted_where_floats_belong():
    cfg = TrainConfig.from_dict({"lr": 1, "warmup_epochs": 0, "val_fraction": 0})
    assert isinstance(cfg.lr, float) and cfg.lr == 1.0
    assert TrainConfig.from_dict({"epochs": 3.0}).epochs == 3  # a whole float is an int


def test_from_dict_fills_defaults():
    assert TrainConfig.from_dict({}) == TrainConfig()


INVALID = [
    ({"lr": 0}, "lr"),
    ({"lr": -0.1}, "lr"),
    ({"lr": float("nan")}, "lr"),
    ({"lr": float("inf")}, "lr"),
    ({"lr": "0.1"}, "lr"),
    ({"lr": True}, "lr"),
    ({"optimizer": "rmsprop"}, "optimizer"),
    ({"schedule": "exponential"}, "schedule"),
    ({"epochs": 2.5}, "epochs"),
    ({"epochs": 0}, "epochs"),
    ({"epochs": "10"}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"momentum": 1.0}, "momentum"),
    ({"weight_decay": -1}, "weight_decay"),
    ({"norm_bias_lr_scale": 0}, "norm_bias_lr_scale"),
    ({"label_smoothing": 1.0}, "label_smoothing"),
    ({"val_fraction": 1.0}, "val_fraction"),
    ({"val_fraction": -0.1}, "val_fraction"),
    ({"limit": 0}, "limit"),
    ({"image_size": 4}, "image_size"),
    ({"data": ""}, "data"),
    ({"data": 5}, "data"),
    ({"model": ""}, "model"),
    ({"classes": ["cat"]}, "classes"),
    ({"classes": ["cat", "cat"]}, "classes"),
    ({"classes": "cat,dog"}, "classes"),
    ({"warmup_epochs": 30}, "warmup_epochs"),
    ({"warmup_start_factor": 0}, "warmup_start_factor"),
    ({"gamma": 0}, "gamma"),
    ({"gamma": 1.5}, "gamma"),
    ({"step_size": 0}, "step_size"),
    ({"milestones": [3.0, 1.0]}, "milestones"),
    ({"milestones": [-1.0]}, "milestones"),
    ({"schedule": "multistep", "milestones": []}, "milestones"),
    ({"final_lr_factor": 2}, "final_lr_factor"),
    ({"plateau_patience": -1}, "plateau_patience"),
    ({"ema_decay": 1.0}, "ema_decay"),
    ({"mixed_precision": "fp8"}, "mixed_precision"),
    ({"device": "tpu"}, "device"),
    ({"tta": 3}, "tta"),
    ({"seed": 1.5}, "seed"),
    ({"channels_last": "yes"}, "channels_last"),
    ({"compile": 1}, "compile"),
    ({"augment": {"crop_padding": 20}}, "augment.crop_padding"),
    ({"augment": {"padding_mode": "wrap"}}, "augment.padding_mode"),
    ({"augment": {"cutout": 40}}, "augment.cutout"),
    ({"augment": {"rotate": 10}}, "augment.rotate"),
    ({"augment": "flip"}, "augment"),
    ({"learning_rate": 0.1}, "learning_rate"),
    # wrong types in fields that hold lists, dicts or strings
    ({"device": 0}, "device"),
    ({"milestones": ["a"]}, "milestones"),
    ({"milestones": 5}, "milestones"),
    ({"classes": ["cat", 2]}, "classes"),
    ({"model_args": ["width", 8]}, "model_args"),
    ({"augment": {"crop_padding": "4"}}, "augment.crop_padding"),
    ({"augment": {"crop_padding": 1.5}}, "augment.crop_padding"),
    ({"augment": {"flip": "no"}}, "augment.flip"),
    ({"augment": {"cutout": True}}, "augment.cutout"),
]


@pytest.mark.parametrize(("data", "field"), INVALID, ids=[f"{f}={d}" for d, f in INVALID])
def test_invalid_field_is_named(data, field):
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_dict(data)
    assert info.value.field == field
    msg = str(info.value)
    assert msg.startswith(f"{field}:") and "\n" not in msg


WRONG_TYPES_IN_CODE = [
    ({"lr": "0.1"}, "lr"),
    ({"device": 0}, "device"),
    ({"epochs": 2.5}, "epochs"),
    ({"augment": {"flip": "no"}}, "augment.flip"),
]


@pytest.mark.parametrize(("data", "field"), WRONG_TYPES_IN_CODE)
def test_validate_catches_wrong_types_on_objects_built_in_code(data, field):
    """The GUI builds configs directly (not through JSON): validate() still names the field."""
    values = dict(data)
    if "augment" in values:
        values["augment"] = Augment(**values["augment"])
    with pytest.raises(ConfigError) as info:
        TrainConfig(**values).validate()
    assert info.value.field == field


def test_not_a_json_object_or_not_json():
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_json("[1, 2]")
    assert info.value.field == "config"
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_json("{lr: 0.1")
    assert info.value.field == "config" and "line 1" in str(info.value)


def test_unreadable_config_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        TrainConfig.load(tmp_path / "missing.json")
    assert info.value.field == "config" and "missing.json" in str(info.value)


def test_replace_validates():
    cfg = TrainConfig()
    assert cfg.replace(lr=0.5).lr == 0.5 and cfg.lr == 0.1  # a copy
    with pytest.raises(ConfigError) as info:
        cfg.replace(batch_size=-4)
    assert info.value.field == "batch_size"


def test_cuda_index_is_a_valid_device():
    assert TrainConfig(device="cuda:1").validate().device == "cuda:1"


# ---------------------------------------------------------------------------- presets
def test_preset_config_applies_overrides_then_changes():
    cfg = preset_config("quick", epochs=2, lr=0.05)
    assert cfg.model == "resnet20" and cfg.schedule == "onecycle"  # from the preset
    assert cfg.epochs == 2 and cfg.lr == 0.05  # the caller's changes win
    base = TrainConfig(data="/some/folder", seed=7)
    cfg = preset_config("resnet18", base)
    assert cfg.data == "/some/folder" and cfg.seed == 7 and cfg.model == "resnet18"
    assert preset_config("birds-vs-airplanes").classes == ["airplane", "bird"]


def test_unknown_preset():
    with pytest.raises(ConfigError) as info:
        preset_config("nope")
    assert info.value.field == "preset" and "quick" in str(info.value)


def test_preset_change_is_validated():
    with pytest.raises(ConfigError) as info:
        preset_config("fast", lr=-1.0)
    assert info.value.field == "lr"


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_models_exist(name):
    from engine.models import get_model_info

    get_model_info(preset_config(name).model)


# ---------------------------------------------------------------------------- schedules
STEPS = 10  # steps per epoch in these tests


def _factors(cfg: TrainConfig) -> list[float]:
    sched = LRSchedule(cfg, STEPS)
    return [sched.factor(s) for s in range(sched.total_steps + 1)]


def test_constant_with_warmup_ramps_linearly_then_holds():
    f = _factors(_cfg(schedule="constant", epochs=5, warmup_epochs=2, warmup_start_factor=0.1))
    assert f[0] == pytest.approx(0.1)
    assert f[10] == pytest.approx(0.55)  # half-way through the warm-up
    assert all(b > a for a, b in pairwise(f[:21]))  # strictly rising during warm-up
    assert all(v == pytest.approx(1.0) for v in f[20:])


def test_step_decays_every_step_size_epochs():
    f = _factors(_cfg(schedule="step", epochs=6, step_size=2, gamma=0.5))
    assert f[19] == pytest.approx(1.0) and f[20] == pytest.approx(0.5)
    assert f[39] == pytest.approx(0.5) and f[40] == pytest.approx(0.25)


def test_multistep_decays_at_the_milestones():
    f = _factors(_cfg(schedule="multistep", epochs=6, milestones=[2.0, 5.0], gamma=0.1))
    assert f[19] == pytest.approx(1.0)
    assert f[20] == pytest.approx(0.1) and f[49] == pytest.approx(0.1)
    assert f[50] == pytest.approx(0.01)


@pytest.mark.parametrize("final", [0.0, 0.05])
def test_cosine_falls_smoothly_to_the_final_factor(final):
    f = _factors(_cfg(schedule="cosine", epochs=4, final_lr_factor=final))
    assert f[0] == pytest.approx(1.0)
    assert f[20] == pytest.approx((1 + final) / 2)  # half-way: the average
    assert f[-1] == pytest.approx(final)
    assert all(b <= a + 1e-12 for a, b in pairwise(f))


def test_linear_falls_to_the_final_factor():
    f = _factors(_cfg(schedule="linear", epochs=4, final_lr_factor=0.1))
    assert f[0] == pytest.approx(1.0) and f[-1] == pytest.approx(0.1)
    assert f[20] == pytest.approx(0.55)


def test_onecycle_peaks_then_falls():
    f = _factors(_cfg(schedule="onecycle", epochs=8, warmup_start_factor=0.2, final_lr_factor=0.0))
    peak = max(range(len(f)), key=f.__getitem__)
    assert peak == 2 * STEPS  # default ramp: the first quarter of the run
    assert f[0] == pytest.approx(0.2) and f[peak] == pytest.approx(1.0)
    assert all(b > a for a, b in pairwise(f[: peak + 1]))
    assert all(b < a for a, b in pairwise(f[peak:]))
    assert f[-1] == pytest.approx(0.0)
    g = _factors(_cfg(schedule="onecycle", epochs=8, warmup_epochs=1))
    assert max(range(len(g)), key=g.__getitem__) == STEPS  # an explicit warm-up sets the peak


def test_plateau_reduces_after_patience_and_restores_from_state():
    cfg = _cfg(schedule="plateau", epochs=20, plateau_patience=2, gamma=0.5)
    sched = LRSchedule(cfg, STEPS)
    for acc in (0.5, 0.6, 0.6, 0.6):  # improving, then two epochs without improvement
        sched.epoch_end(acc)
    assert sched.factor(50) == 1.0  # patience not yet exceeded
    sched.epoch_end(0.59)  # a third: reduce
    assert sched.factor(60) == pytest.approx(0.5)
    sched.epoch_end(0.7)  # improvement resets the count
    for _ in range(2):
        sched.epoch_end(0.7)
    assert sched.factor(90) == pytest.approx(0.5)
    restored = LRSchedule(cfg, STEPS)
    restored.load_state_dict(json.loads(json.dumps(sched.state_dict())))
    assert restored.factor(0) == sched.factor(0) and restored.bad_epochs == sched.bad_epochs
    restored.epoch_end(0.7)
    assert restored.factor(0) == pytest.approx(0.25)


def test_plateau_ignores_missing_metric_and_other_schedules_ignore_it():
    sched = LRSchedule(_cfg(schedule="plateau", plateau_patience=0), STEPS)
    for _ in range(5):
        sched.epoch_end(None)
    assert sched.factor(0) == 1.0
    cosine = LRSchedule(_cfg(schedule="cosine"), STEPS)
    for _ in range(5):
        cosine.epoch_end(0.1)
    assert cosine.factor(0) == 1.0


def test_apply_sets_every_group_with_its_scale():
    import torch

    cfg = _cfg(lr=0.2, schedule="step", step_size=1, gamma=0.5, epochs=3)
    p1, p2 = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [p1], "lr_scale": 1.0}, {"params": [p2], "lr_scale": 4.0}], lr=0.2)
    base = LRSchedule(cfg, STEPS).apply(opt, 10)
    assert base == pytest.approx(0.1)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1) and opt.param_groups[1]["lr"] == pytest.approx(0.4)


@pytest.mark.parametrize("schedule", [s for s in SCHEDULES if s != "multistep"] + ["multistep"])
def test_schedule_preview(schedule):
    cfg = _cfg(schedule=schedule, epochs=12, lr=0.4, warmup_epochs=1, milestones=[6.0])
    pts = schedule_preview(cfg, points=50, steps_per_epoch=100)
    assert len(pts) == 50
    epochs = [e for e, _ in pts]
    assert epochs[0] == 0 and epochs[-1] == pytest.approx(12)
    assert all(b > a for a, b in pairwise(epochs))
    assert all(math.isfinite(lr) and 0 <= lr <= 0.4 + 1e-12 for _, lr in pts)
    # agrees with the schedule the trainer uses
    sched = LRSchedule(cfg, 100)
    for e, lr in pts:
        assert lr == pytest.approx(0.4 * sched.factor(round(e * 100)))


def test_schedule_preview_of_a_short_run_has_no_duplicates():
    pts = schedule_preview(_cfg(epochs=1), points=200, steps_per_epoch=3)
    assert [e for e, _ in pts] == sorted({e for e, _ in pts}) and len(pts) == 4


# ---------------------------------------------------------------------------- early stopping
def test_early_stop_patience_round_trips_and_defaults_off():
    assert TrainConfig().early_stop_patience == 0  # off unless asked
    cfg = TrainConfig(early_stop_patience=5)
    back = TrainConfig.from_json(cfg.to_json())
    assert back == cfg and back.early_stop_patience == 5
    assert TrainConfig.from_dict({"early_stop_patience": 3.0}).early_stop_patience == 3  # JSON's 3.0


@pytest.mark.parametrize("value", [-1, 2.5, "3", True, None])
def test_early_stop_patience_is_validated_by_name(value):
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_dict({"early_stop_patience": value})
    assert info.value.field == "early_stop_patience"
    with pytest.raises(ConfigError) as info:
        TrainConfig(early_stop_patience=value).validate()
    assert info.value.field == "early_stop_patience"
