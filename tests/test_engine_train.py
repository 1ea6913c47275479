"""The training loop on tiny synthetic data: learning, events, run files, stop and exact
resume, failures, EMA, parameter groups, atomic checkpoints and torchrun (gloo on CPU)."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest
import torch
from conftest import CLASSES, REPO_ROOT, tiny_config, tiny_dataset, write_image_folder

from engine.checkpoints.format import load_checkpoint
from engine.config import TrainConfig
from engine.data.loader import Augment
from engine.errors import DataError, EngineError
from engine.training import BatchEnd, EpochEnd, LogMessage, RunFinished, RunStarted, StopFlag, train
from engine.training.optim import build_optimizer, param_groups
from engine.training.run_files import METRIC_COLUMNS


class Recorder:
    """Callback that keeps every event; optionally sets a stop flag after N batches."""

    def __init__(self, stop_after: int | None = None):
        self.events: list = []
        self.stop = StopFlag()
        self.stop_after = stop_after

    def __call__(self, event):
        self.events.append(event)
        if self.stop_after is not None and sum(isinstance(e, BatchEnd) for e in self.events) >= self.stop_after:
            self.stop.set()

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


def _model_state(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path).train_state["model"]


def _assert_same_weights(a: dict, b: dict, atol=1e-6):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=atol, rtol=1e-5, msg=lambda m, k=k: f"{k}: {m}")


# ---------------------------------------------------------------------------- a normal run
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One 3-epoch run shared by the read-only tests below."""
    out = tmp_path_factory.mktemp("run")
    rec = Recorder()
    cfg = tiny_config(epochs=3)
    result = train(cfg, out, callback=rec, dataset=tiny_dataset())
    return cfg, out, rec, result


def test_training_learns_the_synthetic_task(finished_run):
    _, _, _, result = finished_run
    assert result.status == "completed", result.message
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.5 * losses[0]
    assert result.history[-1]["val_acc"] >= 0.9  # chance is 1/3
    assert result.best_val_acc == max(row["val_acc"] for row in result.history)


def test_events_arrive_in_order_with_sane_fields(finished_run):
    cfg, out, rec, result = finished_run
    kinds = [type(e) for e in rec.events if not isinstance(e, LogMessage)]
    assert kinds[0] is RunStarted and kinds[-1] is RunFinished
    started = rec.events[0]
    assert isinstance(started, RunStarted)
    assert started.model == "tutorial_net" and started.classes == CLASSES
    assert (started.train_size, started.val_size) == (36, 12)
    assert started.epochs == 3 and started.start_epoch == 0 and started.parameters > 0
    assert started.steps_per_epoch == 36 // 8 and started.out_dir == str(out)
    assert "fp32" in started.device
    steps = started.steps_per_epoch
    # per epoch: BatchEnd 1..steps then one EpochEnd
    body = [e for e in rec.events if isinstance(e, (BatchEnd, EpochEnd))]
    assert len(body) == 3 * (steps + 1)
    for epoch in range(3):
        chunk = body[epoch * (steps + 1) : (epoch + 1) * (steps + 1)]
        batches, end = chunk[:-1], chunk[-1]
        assert [b.step for b in batches] == list(range(1, steps + 1))
        assert all(b.epoch == epoch + 1 and b.steps_per_epoch == steps and b.total_steps == 3 * steps for b in batches)
        assert [b.global_step for b in batches] == list(range(epoch * steps + 1, (epoch + 1) * steps + 1))
        assert all(b.loss >= 0 and b.lr == pytest.approx(cfg.lr) and b.images_per_s > 0 for b in batches)
        assert isinstance(end, EpochEnd) and end.epoch == epoch + 1 and end.epochs == 3
        assert 0 <= end.train_acc <= 1 and 0 <= end.val_acc <= 1 and end.val_loss >= 0
        assert end.metrics == result.history[epoch]
        assert end.elapsed >= 0 and end.eta >= 0
    assert body[-1].eta == 0
    finished = rec.events[-1]
    assert finished is result or finished == result
    assert finished.epochs_done == 3 and finished.message
    assert Path(finished.best_checkpoint) == out / "best.pt" and Path(finished.last_checkpoint) == out / "last.pt"


def test_run_folder_files(finished_run):
    cfg, out, _, result = finished_run
    for name in ("config.json", "metrics.jsonl", "metrics.csv", "best.pt", "last.pt"):
        assert (out / name).is_file(), name
    assert TrainConfig.load(out / "config.json") == cfg
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows == result.history and [r["epoch"] for r in rows] == [1, 2, 3]
    with open(out / "metrics.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == METRIC_COLUMNS and len(table) == 3
    assert float(table[2]["val_acc"]) == pytest.approx(rows[2]["val_acc"])
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_checkpoints_from_the_run(finished_run):
    cfg, out, _, result = finished_run
    best, last = load_checkpoint(out / "best.pt"), load_checkpoint(out / "last.pt")
    assert best.train_state is None  # best.pt is for using, not resuming
    assert last.train_state is not None and last.train_state["step_in_epoch"] == 0
    assert last.epoch == 3 and last.history == result.history
    assert best.classes == CLASSES and best.input_size == (16, 16) and best.channels == 3
    assert best.val_acc == result.best_val_acc
    assert TrainConfig.from_dict(best.config) == cfg
    model = best.build_model()
    x = torch.randn(2, 3, 16, 16)
    assert model(x).shape == (2, 3)


# ---------------------------------------------------------------------------- stop and resume
def test_stop_resume_matches_an_uninterrupted_run(tmp_path):
    """Stopping mid-epoch and resuming ends with the weights an uninterrupted run reaches."""
    cfg = tiny_config(
        model="tutorial_net_dropout",
        epochs=2,
        ema_decay=0.9,
        augment=Augment(crop_padding=2, flip=True, cutout=4),
        schedule="cosine",
        warmup_epochs=0.5,
    )
    full = train(cfg, tmp_path / "full", dataset=tiny_dataset())
    assert full.status == "completed"

    rec = Recorder(stop_after=6)  # epoch 1 has 4 steps: stop in the middle of epoch 2
    part = train(cfg, tmp_path / "part", callback=rec, stop=rec.stop, dataset=tiny_dataset())
    assert part.status == "stopped" and "resume" in part.message
    assert len(rec.of(BatchEnd)) == 6  # nothing trained after the flag was seen
    last = load_checkpoint(tmp_path / "part" / "last.pt")
    assert last.epoch == 1 and last.train_state["step_in_epoch"] == 2
    assert part.epochs_done == 1 and len(part.history) == 1

    rec2 = Recorder()
    resumed = train(cfg, tmp_path / "part", callback=rec2, resume=tmp_path / "part" / "last.pt", dataset=tiny_dataset())
    assert resumed.status == "completed", resumed.message
    started = rec2.of(RunStarted)[0]
    assert started.start_epoch == 1 and len(started.history) == 1
    assert [b.step for b in rec2.of(BatchEnd)] == [3, 4]  # only the batches not yet trained
    assert any("resuming" in m.message for m in rec2.of(LogMessage))

    _assert_same_weights(_model_state(tmp_path / "full" / "last.pt"), _model_state(tmp_path / "part" / "last.pt"))
    # the EMA weights saved for use match too, and so do the metrics of the interrupted epoch
    _assert_same_weights(
        load_checkpoint(tmp_path / "full" / "best.pt").state_dict,
        load_checkpoint(tmp_path / "part" / "best.pt").state_dict,
    )
    for a, b in zip(full.history, resumed.history, strict=True):
        for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), key
    lines = (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]


def test_stop_at_the_end_of_an_epoch_resumes_with_validation(tmp_path):
    cfg = tiny_config(epochs=2)
    rec = Recorder(stop_after=4)  # the last batch of epoch 1: stops during validation
    part = train(cfg, tmp_path, callback=rec, stop=rec.stop, dataset=tiny_dataset())
    assert part.status == "stopped"
    resumed = train(cfg, tmp_path, resume=tmp_path, dataset=tiny_dataset())  # the run folder works too
    assert resumed.status == "completed" and [r["epoch"] for r in resumed.history] == [1, 2]
    assert train(cfg, tmp_path / "full", dataset=tiny_dataset()).status == "completed"
    _assert_same_weights(_model_state(tmp_path / "full" / "last.pt"), _model_state(tmp_path / "last.pt"))


def test_stop_before_the_first_batch(tmp_path):
    stop = StopFlag()
    stop.set()
    rec = Recorder()
    result = train(tiny_config(), tmp_path, callback=rec, stop=stop, dataset=tiny_dataset())
    assert result.status == "stopped" and not rec.of(BatchEnd)
    assert load_checkpoint(tmp_path / "last.pt").train_state["step_in_epoch"] == 0


def test_resume_extends_the_run(tmp_path):
    first = train(tiny_config(epochs=1), tmp_path, dataset=tiny_dataset())
    assert first.status == "completed" and len(first.history) == 1
    rec = Recorder()
    result = train(tiny_config(epochs=3), tmp_path, callback=rec, resume=tmp_path / "last.pt", dataset=tiny_dataset())
    assert result.status == "completed" and result.epochs_done == 3
    assert [r["epoch"] for r in result.history] == [1, 2, 3]
    assert result.history[0] == first.history[0]
    assert rec.of(RunStarted)[0].start_epoch == 1 and rec.of(RunStarted)[0].epochs == 3
    assert {e.epoch for e in rec.of(EpochEnd)} == {2, 3}
    assert load_checkpoint(tmp_path / "last.pt").config["epochs"] == 3


def test_resume_from_best_pt_is_refused(tmp_path):
    train(tiny_config(epochs=1), tmp_path, dataset=tiny_dataset())
    with pytest.raises(EngineError) as info:
        train(tiny_config(), tmp_path / "again", resume=tmp_path / "best.pt", dataset=tiny_dataset())
    assert "best.pt" in str(info.value) and "last.pt" in str(info.value)


# ---------------------------------------------------------------------------- failures
def test_nan_loss_fails_with_a_readable_message(tmp_path):
    rec = Recorder()
    result = train(tiny_config(model="resnet20", lr=1e6, epochs=3), tmp_path, callback=rec, dataset=tiny_dataset())
    assert result.status == "failed"
    assert "learning rate" in result.message and "nan" in result.message.lower()
    assert "\n" not in result.message
    assert rec.events[-1] == result
    assert any(m.level == "warning" and "failed" in m.message for m in rec.of(LogMessage))
    # no checkpoint with broken weights is left behind or offered as the best model
    for name in ("best.pt", "last.pt"):
        if (tmp_path / name).exists():
            state = load_checkpoint(tmp_path / name).state_dict
            assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()), name
    if result.best_checkpoint is not None:
        assert result.best_val_acc is not None


def test_bad_data_path_raises_before_training(tmp_path):
    rec = Recorder()
    out = tmp_path / "out"
    with pytest.raises(DataError) as info:
        train(tiny_config(data=str(tmp_path / "missing")), out, callback=rec)
    assert "missing" in str(info.value)
    assert rec.events == [] and not out.exists()


def test_unknown_model_raises_before_training(tmp_path):
    with pytest.raises(EngineError) as info:
        train(tiny_config(model="resnet9000"), tmp_path / "out", dataset=tiny_dataset())
    assert "resnet9000" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_trains_from_an_image_folder(tmp_path):
    data = write_image_folder(tmp_path / "data", per_class=6)
    rec = Recorder()
    result = train(tiny_config(data=str(data), epochs=1, val_fraction=0.34), tmp_path / "run", callback=rec)
    assert result.status == "completed"
    started = rec.of(RunStarted)[0]
    assert started.classes == CLASSES and (started.train_size, started.val_size) == (12, 6)


# ---------------------------------------------------------------------------- options
def test_ema_weights_are_saved_for_use(tmp_path):
    result = train(tiny_config(epochs=1, ema_decay=0.99), tmp_path, dataset=tiny_dataset())
    assert result.status == "completed"
    last = load_checkpoint(tmp_path / "last.pt")
    ema = last.train_state["ema"]
    assert ema["updates"] == 4  # one per optimizer step
    best = load_checkpoint(tmp_path / "best.pt")
    _assert_same_weights(best.state_dict, ema["module"])
    raw = last.train_state["model"]
    assert any(not torch.allclose(raw[k], best.state_dict[k]) for k in raw)


def test_norm_parameters_get_their_own_group():
    from engine.models import create_model

    model = create_model("tutorial_net_bn", num_classes=3)
    cfg = tiny_config(model="tutorial_net_bn", lr=0.1, weight_decay=4e-4, norm_bias_lr_scale=8.0)
    groups = param_groups(model, cfg)
    assert len(groups) == 2
    other, norm = groups
    bn_params = {id(p) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) for p in m.parameters()}
    assert {id(p) for p in norm["params"]} == bn_params
    assert norm["lr"] == pytest.approx(0.8) and norm["weight_decay"] == pytest.approx(5e-5)
    assert other["lr"] == pytest.approx(0.1) and other["weight_decay"] == pytest.approx(4e-4)
    every = [id(p) for g in groups for p in g["params"]]
    assert sorted(every) == sorted(id(p) for p in model.parameters())  # each parameter exactly once
    opt = build_optimizer(model, cfg)
    assert [g["lr_scale"] for g in opt.param_groups] == [1.0, 8.0]
    # a model without norm layers has one group
    assert len(param_groups(create_model("tutorial_net", num_classes=3), cfg)) == 1


@pytest.mark.parametrize("optimizer", ["nesterov", "adam", "adamw"])
def test_other_optimizers_train(tmp_path, optimizer):
    lr = 0.02 if optimizer == "nesterov" else 3e-3
    result = train(
        tiny_config(optimizer=optimizer, lr=lr, epochs=2, model="tutorial_net_bn", norm_bias_lr_scale=2.0),
        tmp_path,
        dataset=tiny_dataset(),
    )
    assert result.status == "completed"
    assert result.best_val_acc > 0.6  # chance is 1/3


def test_plateau_schedule_runs(tmp_path):
    cfg = tiny_config(epochs=3, schedule="plateau", plateau_patience=0, gamma=0.5)
    result = train(cfg, tmp_path, dataset=tiny_dataset())
    assert result.status == "completed"
    lrs = [r["lr"] for r in result.history]
    assert all(b <= a for a, b in pairwise(lrs))
    assert all(any(lr == pytest.approx(cfg.lr * 0.5**k) for k in range(4)) for lr in lrs)
    state = load_checkpoint(tmp_path / "last.pt").train_state["schedule"]
    assert state["plateau_scale"] == pytest.approx(lrs[-1] / cfg.lr)


def test_grayscale_data_and_warmup_and_tta(tmp_path):
    cfg = tiny_config(epochs=1, warmup_epochs=0.5, tta=2, label_smoothing=0.1, model="lenet5")
    result = train(cfg, tmp_path, dataset=tiny_dataset(gray=True, size=28))
    assert result.status == "completed", result.message
    assert load_checkpoint(tmp_path / "best.pt").channels == 1


# ---------------------------------------------------------------------------- atomic checkpoints
def test_failed_checkpoint_write_keeps_the_previous_files(tmp_path, monkeypatch):
    first = train(tiny_config(epochs=1), tmp_path, dataset=tiny_dataset())
    assert first.status == "completed"
    before = {name: (tmp_path / name).read_bytes() for name in ("best.pt", "last.pt")}
    real_save = torch.save

    def failing_save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a checkpoint")  # some bytes reach the disk, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", failing_save)
    result = train(tiny_config(epochs=2), tmp_path, resume=tmp_path / "last.pt", dataset=tiny_dataset())
    monkeypatch.setattr(torch, "save", real_save)
    assert result.status == "failed" and result.message.startswith("disk full")
    for name, data in before.items():
        assert (tmp_path / name).read_bytes() == data, f"{name} was damaged"
        load_checkpoint(tmp_path / name)
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_atomic_torch_save_replaces_only_on_success(tmp_path, monkeypatch):
    from engine.checkpoints.format import atomic_torch_save

    target = tmp_path / "x.pt"
    atomic_torch_save({"a": torch.ones(2)}, target)
    assert torch.load(target, weights_only=True)["a"].sum() == 2

    def boom(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise KeyboardInterrupt  # even an interrupt leaves no half file behind

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_torch_save({"a": torch.zeros(2)}, target)
    monkeypatch.undo()
    assert torch.load(target, weights_only=True)["a"].sum() == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.pt"]


# ---------------------------------------------------------------------------- torchrun
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_torchrun_two_cpu_processes(tmp_path):
    try:
        port = _free_port()
    except OSError as exc:
        pytest.skip(f"no local port for the rendezvous ({exc})")
    data = write_image_folder(tmp_path / "data", per_class=8)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CIFAR_STUDIO_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(port),
        "-m",
        "engine",
        "train",
        "--data",
        str(data),
        "--model",
        "tutorial_net",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--lr",
        "0.05",
        "--schedule",
        "constant",
        "--device",
        "cpu",
        "--precision",
        "off",
        "--out",
        str(out),
        "--quiet",
        "--json",
    ]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0 and any(
        s in output for s in ("EADDRINUSE", "Address already in use", "Connection refused", "RendezvousConnectionError")
    ):
        pytest.skip(f"torchrun could not start: {output[-300:]}")
    assert proc.returncode == 0, output[-3000:]
    assert "x2 processes" in output
    result = json.loads(proc.stdout)  # one JSON object: only the main process reports
    assert result["status"] == "completed" and result["epochs_done"] == 2
    assert result["best_checkpoint"] == str(out / "best.pt")
    assert sorted(p.name for p in out.glob("*.pt")) == ["best.pt", "last.pt"]
    ck = load_checkpoint(out / "best.pt")
    assert not any(k.startswith("module.") for k in ck.state_dict)
    assert ck.classes == CLASSES
    assert len(load_checkpoint(out / "last.pt").history) == 2
