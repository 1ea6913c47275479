"""Training faults (issue 8) and honest resume (issue 9): a diverging model is never saved or
reported as done, a full disk says so and keeps the good checkpoints, a run folder belongs
to one run and one process, every JSON is strict, and any stopped run resumes with its
clock and per-batch history intact."""

from __future__ import annotations

import errno
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO_ROOT, tiny_config, tiny_dataset, write_image_folder

from engine import find_resumable, run_in_progress
from engine.checkpoints.format import load_checkpoint
from engine.cli import main
from engine.errors import EngineError
from engine.training import BatchEnd, LogMessage, RunStarted, StopFlag, train


class Recorder:
    def __init__(self, stop_after: int | None = None, pause: float = 0.0):
        self.events: list = []
        self.stop = StopFlag()
        self.stop_after = stop_after
        self.pause = pause

    def __call__(self, event):
        self.events.append(event)
        if isinstance(event, BatchEnd):
            time.sleep(self.pause)
            if self.stop_after is not None and len(self.of(BatchEnd)) >= self.stop_after:
                self.stop.set()

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


def _strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def _finite(path: Path) -> bool:
    ck = load_checkpoint(path)  # the loader itself refuses non-finite weights
    return all(torch.isfinite(v).all() for v in ck.state_dict.values() if v.is_floating_point())


# ---------------------------------------------------------------------------- divergence
def test_weights_broken_before_a_stop_are_never_saved(tmp_path, monkeypatch):
    """The step after the last loss check breaks the weights, then the user stops: the run
    fails with advice instead of saving a NaN model for resume."""
    from engine.training import run_setup

    real_build = run_setup.build_optimizer

    def diverging_optimizer(model, cfg):
        opt = real_build(model, cfg)
        real_step, calls = opt.step, {"n": 0}

        def step(*args, **kwargs):
            result = real_step(*args, **kwargs)
            calls["n"] += 1
            if calls["n"] == 6:  # mid-epoch 2 (4 steps per epoch)
                with torch.no_grad():
                    next(model.parameters()).fill_(float("inf"))
            return result

        opt.step = step
        return opt

    monkeypatch.setattr(run_setup, "build_optimizer", diverging_optimizer)
    rec = Recorder(stop_after=6)
    result = train(tiny_config(epochs=3), tmp_path, callback=rec, stop=rec.stop, dataset=tiny_dataset())
    assert result.status == "failed", result.message
    assert "NaN or infinite" in result.message and "learning rate" in result.message
    assert result.best_checkpoint and _finite(Path(result.best_checkpoint))  # epoch 1's good model is kept
    assert _finite(tmp_path / "last.pt") and load_checkpoint(tmp_path / "last.pt").epoch == 1


# ---------------------------------------------------------------------------- disk full
class _FullDisk:
    """A file whose writes fail with ENOSPC after ``room`` bytes, as a full disk does."""

    def __init__(self, path, room):
        self._f = open(path, "xb")  # closed by __exit__
        self.room = room

    def write(self, data):
        if self.room < len(data):
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


def test_disk_full_says_so_and_keeps_the_good_checkpoints(tmp_path, monkeypatch, capsys):
    from engine.checkpoints import format as checkpoint

    data = write_image_folder(tmp_path / "data", per_class=6)
    out = tmp_path / "run"
    args = ["train", "--data", data, "--model", "tutorial_net", "--epochs", "1", "--out", out]
    args += ["--device", "cpu", "--precision", "off", "--quiet"]
    assert main([str(a) for a in args]) == 0
    before = {n: (out / n).read_bytes() for n in ("best.pt", "last.pt")}
    capsys.readouterr()

    # torch.save's own writer meets the full disk (it reports "unexpected pos", not why)
    monkeypatch.setattr(checkpoint, "_open_for_write", lambda path: _FullDisk(path, room=2000))
    code = main(["train", "--resume", str(out), "--epochs", "2", "--json"])
    monkeypatch.undo()
    stdout, stderr = capsys.readouterr()
    assert code == 1
    result = _strict_json(stdout)
    assert result["status"] == "failed" and result["message"].startswith("disk full: cannot write")
    assert "unexpected pos" not in stderr and "disk full" in stderr
    for name, content in before.items():
        assert (out / name).read_bytes() == content, f"{name} changed"
        load_checkpoint(out / name)
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_temporary_files_of_interrupted_saves_are_cleaned_up(tmp_path):
    first = train(tiny_config(epochs=1), tmp_path, dataset=tiny_dataset())
    assert first.status == "completed"
    # what a SIGKILL during saves leaves behind
    leftovers = [tmp_path / ".last.pt.4242.deadbeef.tmp", tmp_path / ".metrics.jsonl.tmp"]
    for p in leftovers:
        p.write_bytes(b"PK\x03\x04 half")
    (tmp_path / "notes.tmp").write_text("the user's own file")
    result = train(tiny_config(epochs=2), tmp_path, resume=tmp_path, dataset=tiny_dataset())
    assert result.status == "completed"
    assert not any(p.exists() for p in leftovers)
    assert (tmp_path / "notes.tmp").exists()  # only our own temporary names are removed


# ---------------------------------------------------------------------------- one run per folder
def test_a_folder_holding_another_run_is_refused(tmp_path, capsys):
    assert train(tiny_config(epochs=1), tmp_path, dataset=tiny_dataset()).status == "completed"
    best = (tmp_path / "best.pt").read_bytes()
    with pytest.raises(EngineError) as info:
        train(tiny_config(epochs=1, seed=3), tmp_path, dataset=tiny_dataset())
    msg = str(info.value)
    assert "already holds another run" in msg and "--overwrite" in msg and "\n" not in msg
    assert (tmp_path / "best.pt").read_bytes() == best

    result = train(tiny_config(epochs=1, seed=3), tmp_path, dataset=tiny_dataset(), overwrite=True)
    assert result.status == "completed"
    assert load_checkpoint(tmp_path / "best.pt").config["seed"] == 3

    data = write_image_folder(tmp_path / "data", per_class=4)
    code = main(["train", "--data", str(data), "--model", "tutorial_net", "--epochs", "1", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "already holds another run" in err[0]


def test_out_that_is_a_file_is_one_line(tmp_path, capsys):
    target = tmp_path / "run.txt"
    target.write_text("not a folder")
    with pytest.raises(EngineError, match="is a file"):
        train(tiny_config(), target, dataset=tiny_dataset())
    data = write_image_folder(tmp_path / "data", per_class=4)
    code = main(["train", "--data", str(data), "--model", "tutorial_net", "--epochs", "1", "--out", str(target)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"error: output folder {target} is a file; choose a folder"]
    assert target.read_text() == "not a folder"


_HOLD_LOCK = """
import sys, time
from engine.training.run_folder import RunLock
RunLock(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(120)
"""


def test_two_processes_never_write_one_folder(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(out)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert run_in_progress(out)
        with pytest.raises(EngineError) as info:
            train(tiny_config(), out, dataset=tiny_dataset())
        assert "in use by another training process" in str(info.value) and str(holder.pid) in str(info.value)
        assert not (out / "last.pt").exists()
    finally:
        holder.kill()
        holder.wait()
    # the holder died without releasing: its lock file is stale and simply taken over
    assert (out / ".lock").read_text().strip() == str(holder.pid)
    assert not run_in_progress(out)
    assert train(tiny_config(epochs=1), out, dataset=tiny_dataset()).status == "completed"
    assert not run_in_progress(out) and not run_in_progress(tmp_path / "nowhere")


# ---------------------------------------------------------------------------- strict JSON
def test_every_json_is_strict(tmp_path, capsys):
    from engine.cli.common import _out
    from engine.config import TrainConfig
    from engine.training.run_files import RunFiles

    _out({"loss": float("nan"), "rows": [{"acc": float("inf")}, 1.5]})
    assert _strict_json(capsys.readouterr().out) == {"loss": None, "rows": [{"acc": None}, 1.5]}
    files = RunFiles(tmp_path)
    files.start(TrainConfig(), [])
    files.epoch({"epoch": 1, "train_loss": float("nan"), "val_acc": 0.5})
    files.batch({"epoch": 1, "step": 1, "global_step": 1, "loss": float("-inf"), "lr": 0.1})
    files.close()
    assert _strict_json((tmp_path / "metrics.jsonl").read_text())["train_loss"] is None
    assert _strict_json((tmp_path / "batches.jsonl").read_text())["loss"] is None


# ---------------------------------------------------------------------------- resume
def test_resume_keeps_the_clock_and_the_per_batch_history(tmp_path):
    cfg = tiny_config(epochs=2)
    rec = Recorder(stop_after=6, pause=0.15)  # stopped in epoch 2 after ~0.9 s of training
    part = train(cfg, tmp_path, callback=rec, stop=rec.stop, dataset=tiny_dataset())
    assert part.status == "stopped"
    stopped_at = load_checkpoint(tmp_path / "last.pt").train_state["elapsed_s"]
    assert stopped_at >= 0.8
    before = [json.loads(line) for line in (tmp_path / "batches.jsonl").read_text().splitlines()]
    assert [r["global_step"] for r in before] == [1, 2, 3, 4, 5, 6]

    assert find_resumable(tmp_path) == tmp_path / "last.pt"
    assert find_resumable(tmp_path, unfinished_only=True) == tmp_path / "last.pt"
    rec2 = Recorder()
    resumed = train(None, tmp_path, callback=rec2, resume=tmp_path, dataset=tiny_dataset())
    assert resumed.status == "completed"
    started = rec2.of(RunStarted)[0]
    assert [r["global_step"] for r in started.batch_history] == [1, 2, 3, 4, 5, 6]
    assert started.elapsed_before == pytest.approx(stopped_at)
    assert resumed.history[1]["elapsed_s"] >= stopped_at  # counts on, not from zero
    after = [json.loads(line) for line in (tmp_path / "batches.jsonl").read_text().splitlines()]
    assert [r["global_step"] for r in after] == list(range(1, 9))  # appended, each step once
    assert after[:6] == before
    assert find_resumable(tmp_path, unfinished_only=True) is None  # finished
    assert find_resumable(tmp_path) == tmp_path / "last.pt"  # but can still be extended


def test_find_resumable_without_a_usable_last_pt(tmp_path):
    assert find_resumable(tmp_path) is None
    (tmp_path / "last.pt").write_bytes(os.urandom(100))
    assert find_resumable(tmp_path) is None
    assert find_resumable(tmp_path / "missing.pt") is None


def test_resume_with_fewer_epochs(tmp_path, capsys):
    done = train(tiny_config(epochs=3), tmp_path / "done", dataset=tiny_dataset())
    assert done.status == "completed"
    with pytest.raises(EngineError) as info:
        train(tiny_config(epochs=2), tmp_path / "done", resume=tmp_path / "done", dataset=tiny_dataset())
    msg = str(info.value)
    assert "already done 3 epochs" in msg and "--epochs 3 or more" in msg and "\n" not in msg

    # not yet past it: does what was asked (a planned 4-epoch run ends after 2)
    rec = Recorder(stop_after=2)
    part = train(tiny_config(epochs=4), tmp_path / "part", callback=rec, stop=rec.stop, dataset=tiny_dataset())
    assert part.status == "stopped"
    shorter = train(tiny_config(epochs=2), tmp_path / "part", resume=tmp_path / "part", dataset=tiny_dataset())
    assert shorter.status == "completed" and shorter.epochs_done == 2
    assert load_checkpoint(tmp_path / "part" / "last.pt").config["epochs"] == 2
    with pytest.raises(EngineError, match="already done 2 epochs"):
        train(tiny_config(epochs=1), tmp_path / "part", resume=tmp_path / "part", dataset=tiny_dataset())


def test_a_run_stopped_from_the_command_line_resumes_from_the_command_line(tmp_path):
    """Ctrl-C in a real `python -m engine train`, then `train --resume RUN_DIR` (no --out)."""
    data = write_image_folder(tmp_path / "data", per_class=10)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "engine", "train", "--data", str(data), "--model", "tutorial_net"]
    cmd += ["--epochs", "200", "--batch-size", "4", "--out", str(out), "--device", "cpu", "--precision", "off"]
    env = {**os.environ, "CIFAR_STUDIO_THREADS": "1"}
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "metrics.jsonl").exists() or not (out / "metrics.jsonl").read_text():
            assert proc.poll() is None and time.monotonic() < deadline, "training did not start"
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    last = find_resumable(out, unfinished_only=True)
    assert last == out / "last.pt"
    done = load_checkpoint(last).epoch
    stdout = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(stdout):
        code = main(["train", "--resume", str(out), "--epochs", str(done + 1), "--quiet", "--json"])
    result = _strict_json(stdout.getvalue())
    assert code == 0 and result["status"] == "completed" and result["epochs_done"] == done + 1
    assert result["out_dir"] == str(out)


# ---------------------------------------------------------------------------- early stopping
def test_early_stopping_ends_the_run_as_completed(tmp_path):
    cfg = tiny_config(epochs=30, early_stop_patience=2)
    rec = Recorder()
    result = train(cfg, tmp_path, callback=rec, dataset=tiny_dataset())
    accs = [r["val_acc"] for r in result.history]
    k = len(result.history)
    assert result.status == "completed" and result.early_stop_epoch == k and k < 30
    best_epoch = accs.index(max(accs)) + 1
    assert k - best_epoch == 2 and max(accs[best_epoch:]) <= accs[best_epoch - 1]
    assert result.message.startswith(f"early stop at epoch {k}") and f"epoch {best_epoch}" in result.message
    # best.pt: the highest accuracy, a tie going to the lower validation loss.
    best = min(result.history, key=lambda r: (-r["val_acc"], r["val_loss"], r["epoch"]))
    assert load_checkpoint(tmp_path / "best.pt").epoch == best["epoch"]
    assert load_checkpoint(tmp_path / "last.pt").train_state["early_stopped"] is True
    assert find_resumable(tmp_path, unfinished_only=True) is None


# ---------------------------------------------------------------------------- torch.compile
def test_compile_failing_at_the_first_step_falls_back_to_eager(tmp_path, monkeypatch, capsys):
    from engine.training import compile as compile_mod

    class FailsWhenRun(torch.nn.Module):  # what torch.compile gives when the toolchain is missing
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            raise RuntimeError("InductorError: CppCompileError: C++ compile error")

    monkeypatch.setattr(compile_mod, "compile_unavailable_reason", lambda device: None)
    monkeypatch.setattr(torch, "compile", lambda model, **kw: FailsWhenRun(model))
    rec = Recorder()
    result = train(tiny_config(compile=True), tmp_path / "compiled", callback=rec, dataset=tiny_dataset())
    assert result.status == "completed", result.message
    notes = [m.message for m in rec.of(LogMessage) if m.level == "warning"]
    assert any("torch.compile failed at the first step" in n and "training without it" in n for n in notes)
    assert train(tiny_config(), tmp_path / "eager", dataset=tiny_dataset()).status == "completed"
    a = load_checkpoint(tmp_path / "compiled" / "last.pt").state_dict
    b = load_checkpoint(tmp_path / "eager" / "last.pt").state_dict
    for key in a:  # the failed first attempt left no trace in the weights
        torch.testing.assert_close(a[key], b[key])

    data = write_image_folder(tmp_path / "data", per_class=4)
    args = ["train", "--data", str(data), "--model", "tutorial_net", "--epochs", "1", "--compile"]
    code = main([*args, "--out", str(tmp_path / "cli"), "--device", "cpu", "--quiet"])
    assert code == 0 and "warning: torch.compile failed at the first step" in capsys.readouterr().err


def test_compile_availability(monkeypatch):
    from engine import compile_available, compile_unavailable_reason

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert not compile_available() and "packaged app" in compile_unavailable_reason()
    monkeypatch.delattr(sys, "frozen")
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("CXX", raising=False)
    assert "C++ compiler" in compile_unavailable_reason("cpu")
    assert not compile_available("mps")


def test_unavailable_compile_is_a_visible_note(tmp_path, monkeypatch):
    from engine.training import compile as compile_mod

    monkeypatch.setattr(compile_mod, "compile_unavailable_reason", lambda device: "no C++ compiler found")
    rec = Recorder()
    assert train(tiny_config(compile=True, epochs=1), tmp_path, callback=rec, dataset=tiny_dataset()).status == (
        "completed"
    )
    assert any("no C++ compiler found" in m.message and m.level == "warning" for m in rec.of(LogMessage))


# ---------------------------------------------------------------------------- progress bar
def test_progress_bar_first_step_shows_no_absurd_rate():
    """A bar that starts at batch 200 (a resumed epoch) or 1 must not divide those batches
    by the microseconds since it was created."""
    import re

    from engine.cli.progress import TrainProgress

    class Terminal(io.StringIO):  # bars are drawn on a terminal only
        def isatty(self):
            return True

    buf = Terminal()
    progress = TrainProgress(file=buf)
    progress(BatchEnd(1, 200, 400, 200, 800, 1.0, 0.1, 500.0))
    time.sleep(0.1)
    progress(BatchEnd(1, 201, 400, 201, 800, 1.0, 0.1, 500.0))
    progress.close()
    rates = [float(r) for r in re.findall(r"([\d.]+)batch/s", buf.getvalue())]
    assert "?batch/s" in buf.getvalue()  # no rate until the bar has timed a batch
    assert rates and max(rates) < 50, buf.getvalue()  # one batch in ~0.1 s: about 10/s


def test_resume_into_another_folder_carries_the_per_batch_history(tmp_path):
    rec = Recorder(stop_after=3)
    assert train(tiny_config(), tmp_path / "a", callback=rec, stop=rec.stop, dataset=tiny_dataset()).status == (
        "stopped"
    )
    rec2 = Recorder()
    result = train(None, tmp_path / "b", callback=rec2, resume=tmp_path / "a" / "last.pt", dataset=tiny_dataset())
    assert result.status == "completed"
    assert [r["global_step"] for r in rec2.of(RunStarted)[0].batch_history] == [1, 2, 3]
    rows = [json.loads(line) for line in (tmp_path / "b" / "batches.jsonl").read_text().splitlines()]
    assert [r["global_step"] for r in rows] == list(range(1, 9))


# ---------------------------------------------------------------------------- issue 21: honest numbers
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_diverged_run_fails_even_when_only_the_validation_loss_overflows(tmp_path, capsys, optimizer):
    """--lr 1e6 on a tiny 2-class folder: the weights stay finite but the validation loss is NaN.
    The run fails (exit 1) instead of completing with a NaN "best" checkpoint."""
    data = write_image_folder(tmp_path / "two", classes=["blue", "red"], per_class=10)
    out = tmp_path / "run"
    argv = ["train", "--data", str(data), "--model", "resnet20", "--lr", "1e6", "--epochs", "2"]
    code = main([*argv, "--optimizer", optimizer, "--device", "cpu", "--out", str(out), "--quiet", "--json"])
    captured = capsys.readouterr()
    result = _strict_json(captured.out)
    assert code == 1 and result["status"] == "failed", captured.err
    assert "loss became nan" in result["message"] and "learning rate" in result["message"]
    assert "*best*" not in captured.err
    assert not (out / "best.pt").exists() or _finite(out / "best.pt")
    if (out / "best.pt").exists():  # never a best checkpoint whose validation loss was not finite
        assert all(math.isfinite(r["val_loss"]) for r in load_checkpoint(out / "best.pt").history)
    # 18 training images at the default batch size: one step per epoch, and the user is told
    assert "warning: only 18 training images for batch size" in captured.err


def test_too_few_images_for_the_batch_size_is_a_warning_event(tmp_path):
    rec = Recorder()
    result = train(tiny_config(epochs=1, batch_size=64), tmp_path, callback=rec, dataset=tiny_dataset())
    assert result.status == "completed"
    warnings = [e.message for e in rec.of(LogMessage) if e.level == "warning"]
    assert any(m.startswith("only 36 training images for batch size 64: 1 optimizer step per epoch") for m in warnings)
    rec = Recorder()
    train(tiny_config(epochs=1), tmp_path / "enough", callback=rec, dataset=tiny_dataset())  # 4 steps
    assert not any("training images for batch size" in e.message for e in rec.of(LogMessage))


@pytest.mark.parametrize("stop_after", [3, 4], ids=["mid-epoch", "during-validation"])
def test_after_a_resume_the_rates_count_only_work_done_since(tmp_path, stop_after):
    """Stopped after batch 3 of 4 (or after all 4, in the validation): the resumed epoch's
    images per second must not divide the whole epoch's images by the few batches timed after
    the resume (it read 28,954 images/s), and the log names the real resume point."""
    from engine.training import EpochEnd

    pause = 0.2  # each batch takes at least this long: at most 8 images / 0.2 s = 40 images/s
    rec = Recorder(stop_after=stop_after, pause=pause)
    assert train(tiny_config(epochs=1), tmp_path, callback=rec, stop=rec.stop, dataset=tiny_dataset()).status == (
        "stopped"
    )
    rec2 = Recorder(pause=pause)
    resumed = train(None, tmp_path, callback=rec2, resume=tmp_path, dataset=tiny_dataset())
    assert resumed.status == "completed", resumed.message
    (epoch,) = rec2.of(EpochEnd)
    assert 0 < epoch.images_per_s <= 8 / pause * 1.25, epoch.images_per_s
    assert resumed.history[0]["images_per_s"] == round(epoch.images_per_s, 1)
    for batch in rec2.of(BatchEnd):
        assert batch.images_per_s <= 8 / pause * 1.25 or batch is rec2.of(BatchEnd)[-1]
    said = next(e.message for e in rec2.of(LogMessage) if e.message.startswith("resuming from"))
    if stop_after == 4:
        assert said.endswith("at the validation of epoch 1 (its 4 batches are done)"), said
    else:
        assert said.endswith("at epoch 1, batch 4 of 4"), said


def test_the_tensorboard_writer_is_closed_when_the_run_ends(tmp_path, monkeypatch):
    import threading
    import types

    writers = []

    class FakeWriter:  # tensorboard is optional: this stands in for torch's SummaryWriter
        def __init__(self, logdir):
            self.closed = False
            self.thread = threading.Thread(target=lambda: None)  # what a real writer holds
            writers.append(self)

        def add_scalar(self, *args):
            pass

        def flush(self):
            pass

        def close(self):
            self.closed = True

    module = types.ModuleType("torch.utils.tensorboard")
    module.SummaryWriter = FakeWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", module)
    assert train(tiny_config(epochs=1), tmp_path / "ok", dataset=tiny_dataset()).status == "completed"
    rec = Recorder(stop_after=2)
    train(tiny_config(epochs=1), tmp_path / "stopped", callback=rec, stop=rec.stop, dataset=tiny_dataset())
    failing = tiny_config(model="resnet20", lr=1e6, epochs=2)
    assert train(failing, tmp_path / "failed", dataset=tiny_dataset()).status == "failed"
    assert len(writers) == 3 and all(w.closed for w in writers)
