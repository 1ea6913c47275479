"""The run-folder reader (engine/runs/catalog.py) on real run folders from tiny real trainings, the
equivalent train command (round trip through the CLI parser), rename, and ``engine runs``."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import tiny_config, tiny_dataset, write_image_folder

from engine.cli import program as cli
from engine.cli.train_args import _train_config
from engine.errors import EngineError
from engine.runs.catalog import list_runs, read_run, rename_run, summarize_run
from engine.runs.command import format_command, resume_command, train_command
from engine.training import BatchEnd, EpochEnd, StopFlag, train


def _stop_after_first_epoch():
    stop = StopFlag()

    def callback(ev):
        if isinstance(ev, EpochEnd) and ev.epoch == 1:
            stop.set()

    return stop, callback


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    """Real runs: completed; stopped (StopFlag after epoch 1 of 3); failed (NaN in epoch 1); failed in
    epoch 2 (after a save); stopped mid-epoch, and the same resumed to the end; early-stopped."""
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIFAR_STUDIO_CACHE", str(root / ".cache"))
        ds = tiny_dataset()
        done = train(tiny_config(epochs=2), root / "completed", dataset=ds)
        assert done.status == "completed", done.message
        stop, cb = _stop_after_first_epoch()
        stopped = train(tiny_config(epochs=3), root / "stopped", callback=cb, stop=stop, dataset=ds)
        assert stopped.status == "stopped", stopped.message
        failed = train(tiny_config(model="resnet20", lr=1e6, epochs=2), root / "failed", dataset=ds)
        assert failed.status == "failed", failed.message
        stop = StopFlag()

        def mid_epoch_two(ev):
            if isinstance(ev, BatchEnd) and (ev.epoch, ev.step) == (2, 2):
                stop.set()

        first = train(tiny_config(epochs=3), root / "resumed", callback=mid_epoch_two, stop=stop, dataset=ds)
        assert first.status == "stopped"
        shutil.copytree(root / "resumed", root / "mid-epoch")  # as it was before the resume
        again = train(None, root / "resumed", resume=root / "resumed" / "last.pt", dataset=ds)
        assert again.status == "completed", again.message

        def crash_in_epoch_two(ev):
            if isinstance(ev, BatchEnd) and (ev.epoch, ev.step) == (2, 3):
                raise RuntimeError("simulated crash")  # the trainer turns it into a failed run

        late = train(tiny_config(epochs=3), root / "failed-later", callback=crash_in_epoch_two, dataset=ds)
        assert late.status == "failed" and late.last_checkpoint, late.message
        early = train(tiny_config(epochs=8, early_stop_patience=1), root / "early", dataset=ds)
        assert early.status == "completed" and early.epochs_done < 8, early.message
    return root


def _by_name(runs):
    return {r.name: r for r in runs}


def test_lists_each_real_run_with_its_status_and_numbers(runs_root):
    runs = _by_name(list_runs([runs_root], include_default=False))
    assert set(runs) == {"completed", "stopped", "failed", "resumed", "early", "mid-epoch", "failed-later"}
    later = runs["failed-later"]  # failed in epoch 2: last.pt holds epoch 1, batches went further
    assert later.status == "failed" and later.resumable and later.epochs_done == 1
    assert (
        later.message
        == "ended in epoch 2 without saving (it failed or was killed); resume continues from the end of epoch 1"
    )
    assert runs["mid-epoch"].status == "stopped" and runs["mid-epoch"].message == "stopped in epoch 2, after batch 2"
    assert (runs["mid-epoch"].epochs_done, runs["mid-epoch"].epochs_planned) == (1, 3)
    assert runs["early"].status == "completed" and "early" in runs["early"].message
    assert runs["early"].epochs_done < runs["early"].epochs_planned == 8
    assert runs["completed"].status == "completed"
    assert (runs["completed"].epochs_done, runs["completed"].epochs_planned) == (2, 2)
    assert runs["stopped"].status == "stopped" and runs["stopped"].resumable
    assert runs["stopped"].message == "stopped after epoch 1"
    assert not runs["completed"].resumable and not runs["resumed"].resumable and not runs["failed"].resumable
    assert (runs["stopped"].epochs_done, runs["stopped"].epochs_planned) == (1, 3)
    assert runs["failed"].status == "failed" and runs["failed"].message
    assert runs["resumed"].status == "completed"
    assert runs["resumed"].epochs_done == 3  # resume added epochs 2-3, no duplicate of epoch 1
    for r in runs.values():
        assert r.model == ("resnet20" if r.name == "failed" else "tutorial_net") and r.data == "synthetic"
        assert r.size_bytes == sum(f.stat().st_size for f in (runs_root / r.name).rglob("*") if f.is_file())
        assert r.size_bytes > 0 and r.started is not None and r.date
        assert r.problem is None
    history = json.loads((runs_root / "completed" / "metrics.jsonl").read_text().splitlines()[-1])
    assert runs["completed"].best_val_acc == pytest.approx(
        max(
            json.loads(line)["val_acc"] for line in (runs_root / "completed" / "metrics.jsonl").read_text().splitlines()
        )
    )
    assert runs["completed"].last_val_acc == pytest.approx(history["val_acc"])
    assert runs["completed"].best_checkpoint.endswith("best.pt")


def test_read_run_gives_config_curves_and_checkpoints(runs_root):
    details = read_run(runs_root / "resumed")
    assert details.config["epochs"] == 3 and details.config["model"] == "tutorial_net"
    epochs, losses = details.curve("train_loss")
    assert epochs == [1.0, 2.0, 3.0] and all(isinstance(v, float) for v in losses)
    assert {c.name for c in details.checkpoints} == {"best.pt", "last.pt"}
    steps = [b["global_step"] for b in details.batches]  # the per-batch curve, across the resume
    assert steps == list(range(1, len(steps) + 1)) and len(steps) % 3 == 0  # each step of 3 epochs once
    json.dumps(details.to_dict(), allow_nan=False)  # plain, JSON-safe data
    with pytest.raises(EngineError, match="not a run folder"):
        read_run(runs_root)


def test_damaged_runs_are_listed_with_a_one_line_problem(runs_root, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(runs_root / "completed", root / "bad-config")
    (root / "bad-config" / "config.json").write_text("{not json")
    shutil.copytree(runs_root / "completed", root / "cut-metrics")
    with open(root / "cut-metrics" / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 3, "train_lo')  # a write cut short
    (root / "only-checkpoint").mkdir()
    (root / "only-checkpoint" / "last.pt").write_bytes(b"garbage")
    (root / "not-a-run").mkdir()
    (root / "stray.txt").write_text("x")
    runs = _by_name(list_runs([root], include_default=False))
    assert set(runs) == {"bad-config", "cut-metrics", "only-checkpoint"}
    assert "config.json: not valid JSON" in runs["bad-config"].problem
    # The settings saved in last.pt stand in for the lost config.json.
    assert runs["bad-config"].status == "completed" and runs["bad-config"].epochs_planned == 2
    assert runs["bad-config"].model == "tutorial_net"
    assert runs["cut-metrics"].problem == "metrics.jsonl: 1 unreadable line skipped"
    assert runs["cut-metrics"].status == "completed" and runs["cut-metrics"].epochs_done == 2
    assert runs["only-checkpoint"].problem.startswith("config.json: missing; last.pt: not a checkpoint")
    assert runs["only-checkpoint"].status == "unknown" and not runs["only-checkpoint"].resumable
    for r in runs.values():
        assert "\n" not in r.problem


def test_running_status_follows_a_live_lock(runs_root, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs_root / "stopped", run)
    from engine.training.run_folder import RunLock

    lock = RunLock(run).acquire()  # what the trainer holds while it trains
    try:
        assert summarize_run(run).status == "running"
        with pytest.raises(EngineError, match="training now"):
            rename_run(run, "other")
    finally:
        lock.release()
    assert summarize_run(run).status == "stopped"
    dead = subprocess.Popen(["true"])
    dead.wait()
    (run / ".lock").write_text(f"{dead.pid}\n")  # left by a killed trainer: its process is gone
    assert summarize_run(run).status == "stopped"


def test_rename_run(runs_root, tmp_path):
    run = tmp_path / "a"
    shutil.copytree(runs_root / "completed", run)
    (tmp_path / "taken").mkdir()
    for bad in ("", "x/y", "..", ".hidden"):
        with pytest.raises(EngineError, match="not a usable folder name"):
            rename_run(run, bad)
    with pytest.raises(EngineError, match="already exists"):
        rename_run(run, "taken")
    new = rename_run(run, "better name")
    assert new == tmp_path / "better name" and not run.exists()
    assert summarize_run(new).status == "completed"


def _parsed_config(argv):
    assert argv[:4] == ["python", "-m", "engine", "train"]
    args = cli.build_parser().parse_args(argv[3:])
    return _train_config(args), args.out


def test_train_command_round_trips_through_the_cli_parser(tmp_path):
    every_flag = tiny_config(
        data=str(tmp_path / "my photos"),
        model="tv:resnet18",  # a torchvision model: the only kind that takes --pretrained-path
        pretrained_path=str(tmp_path / "my weights" / "resnet18.pth"),
        model_args={"input_size": 160, "pretrained": True},
        epochs=7,
        batch_size=33,
        micro_batch=11,
        lr=0.0123456789,
        optimizer="adamw",
        schedule="onecycle",
        device="cpu",
        mixed_precision="bf16",
        limit=500,
        val_fraction=0.25,
        classes=["cat", "dog"],
        seed=42,
        tta=2,
        ema_decay=0.999,
        early_stop_patience=3,
        compile=True,
    )
    from engine.config import TrainConfig
    from engine.runs.command import FLAGS

    # Every setting with a flag differs from the default; nothing else does.
    cfg = TrainConfig(**{k: getattr(every_flag, k) for k in FLAGS}).validate()
    defaults = TrainConfig()
    assert all(getattr(cfg, k) != getattr(defaults, k) for k in FLAGS)
    argv = train_command(cfg, tmp_path / "out dir")
    assert "--config" not in argv
    rebuilt, out = _parsed_config(argv)
    assert rebuilt.to_dict() == cfg.to_dict() and out == str(tmp_path / "out dir")
    assert "'" in format_command(argv)  # the paths with spaces are quoted for the shell


def test_command_builder_knows_every_settings_flag_of_train():
    from engine.runs.command import FLAGS

    train = next(a for a in cli.build_parser()._subparsers._group_actions[0].choices.items() if a[0] == "train")[1]
    options = {o for action in train._actions for o in action.option_strings if o.startswith("--")}
    not_settings = {"--help", "--out", "--preset", "--config", "--resume", "--overwrite", "--quiet", "--json"}
    not_settings.add("--download-weights")  # an action before training, not a setting
    assert options - not_settings == {flag for flag, _ in FLAGS.values()}


def test_train_command_uses_the_config_file_for_settings_without_flags(runs_root, tmp_path):
    details = read_run(runs_root / "completed")  # tiny_config turns augmentation off: no flag for that
    config_file = runs_root / "completed" / "config.json"
    with pytest.raises(EngineError, match="augment"):
        train_command(details.config, tmp_path / "again")
    argv = train_command(details.config, tmp_path / "again", config_file)
    assert argv[4:6] == ["--config", str(config_file)]
    rebuilt, _ = _parsed_config(argv)
    assert rebuilt.to_dict() == details.config


def test_resume_command_parses_and_points_at_last_checkpoint(runs_root):
    argv = resume_command(runs_root / "stopped")
    args = cli.build_parser().parse_args(argv[3:])
    assert args.resume == str(runs_root / "stopped" / "last.pt") and args.out == str(runs_root / "stopped")


def test_cli_runs_json_and_show(runs_root, capsys, monkeypatch):
    monkeypatch.setenv("CIFAR_STUDIO_RUNS", str(runs_root))  # the default folder
    assert cli.main(["runs", "--json"]) == 0
    listed = _by_name_dicts(json.loads(capsys.readouterr().out))
    assert listed["failed"]["status"] == "failed" and listed["completed"]["epochs_done"] == 2
    assert cli.main(["runs", "--show", str(runs_root / "stopped"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["summary"]["status"] == "stopped" and "--resume" in shown["resume_command"]
    assert cli.main(["runs"]) == 0
    text = capsys.readouterr().out
    assert "stopped" in text and "1/3" in text
    monkeypatch.setenv("CIFAR_STUDIO_RUNS", str(runs_root / "never-made"))
    assert cli.main(["runs", "--json"]) == 0 and json.loads(capsys.readouterr().out) == []
    assert cli.main(["runs", "--show", str(runs_root / "nope")]) == 2
    assert "not a run folder" in capsys.readouterr().err


def _by_name_dicts(rows):
    return {r["name"]: r for r in rows}


def test_the_copied_train_command_runs_into_a_new_folder(tmp_path, capsys):
    """Copy command gave `--config <run>/config.json --out <run>`, which the CLI refuses (the
    folder holds a run). The command must train again, beside the run, as given."""
    data = write_image_folder(tmp_path / "photos", per_class=4, size=16)
    cfg = tiny_config(data=str(data), epochs=1, batch_size=4)  # augmentation off: needs the config file
    run = tmp_path / "runs" / "first"
    assert train(cfg, run).status == "completed"
    details = read_run(run)
    argv = train_command(details.config, run, run / "config.json")  # as the Runs tab asks for it
    out = Path(argv[argv.index("--out") + 1])
    assert out == run.with_name("first-again") and not out.exists()
    rebuilt, _ = _parsed_config(argv)
    assert rebuilt.to_dict() == details.config
    assert cli.main([*argv[3:], "--quiet"]) == 0, capsys.readouterr().err  # accepted, and it trains
    assert (out / "best.pt").is_file() and read_run(out).config == details.config
    again = train_command(details.config, run, run / "config.json")  # -again is taken now
    assert again[again.index("--out") + 1] == str(run.with_name("first-again-2"))
    empty = tmp_path / "runs" / "empty"
    empty.mkdir()
    assert train_command(cfg, empty, run / "config.json")[-1] == str(empty)  # an empty folder may take a run
