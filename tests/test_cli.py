"""``python -m engine``: JSON output, exit codes and one-line errors."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CLASSES, REPO_ROOT, write_image_folder
from PIL import Image

from engine.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


# ---------------------------------------------------------------------------- listing
def test_models_json_lists_every_registered_model(capsys):
    from engine.models import list_models

    code, out, _ = run(capsys, "models", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["name"] for r in rows] == [m.name for m in list_models()]
    assert all(isinstance(r["parameters"], int) and r["parameters"] > 0 for r in rows)
    by_name = {r["name"]: r for r in rows}
    assert by_name["tutorial_net"]["parameters"] == 18_354  # 10 classes, RGB
    assert by_name["resnet34_224"]["input"] == "upsample"
    assert all(r["description"] and r["family"] for r in rows)


def test_presets_json(capsys):
    from engine.presets import PRESETS

    code, out, _ = run(capsys, "presets", "--json")
    assert code == 0
    data = json.loads(out)
    assert list(data) == list(PRESETS)
    assert data["fast"]["settings"]["model"] == "fastnet" and data["fast"]["title"]


def test_presets_and_info_as_text(capsys):
    code, out, _ = run(capsys, "presets")
    assert code == 0 and "birds-vs-airplanes" in out
    code, out, _ = run(capsys, "info", "--json")
    info = json.loads(out)
    assert code == 0 and info["cache_dir"] == os.environ["CIFAR_STUDIO_CACHE"]
    assert info["data_dir"] == os.environ["CIFAR_STUDIO_DATA"]


# ---------------------------------------------------------------------------- train / evaluate / predict
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A checkpoint trained through the CLI on split/train, and the JSON it printed."""
    root = tmp_path_factory.mktemp("cli")
    data = root / "split"
    write_image_folder(data / "train", per_class=6)
    write_image_folder(data / "test", per_class=3, seed=5)
    out = root / "run"
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(stdout):
        mp.setenv("CIFAR_STUDIO_CACHE", str(root / "cache"))
        code = main(
            [
                "train",
                "--data",
                str(data),
                "--model",
                "tutorial_net",
                "--epochs",
                "2",
                "--out",
                str(out),
                "--device",
                "cpu",
                "--batch-size",
                "6",
                "--lr",
                "0.05",
                "--schedule",
                "constant",
                "--val-fraction",
                "0.34",
                "--precision",
                "off",
                "--quiet",
                "--json",
            ]
        )
    assert code == 0, stdout.getvalue()
    return json.loads(stdout.getvalue()), data, out


def test_train_json(trained):
    result, _, out = trained
    assert result["status"] == "completed" and result["epochs_done"] == 2
    assert result["best_checkpoint"] == str(out / "best.pt") and (out / "best.pt").is_file()
    assert result["last_checkpoint"] == str(out / "last.pt")
    assert result["final_metrics"]["epoch"] == 2
    assert set(result["final_metrics"]) >= {"train_loss", "train_acc", "val_loss", "val_acc", "lr"}
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert result["best_val_acc"] == max(r["val_acc"] for r in rows)


def test_train_prints_one_json_object(tmp_path, capsys):
    data = write_image_folder(tmp_path / "flat", per_class=4)
    code, out, err = run(
        capsys,
        "train",
        "--data",
        data,
        "--model",
        "tutorial_net",
        "--epochs",
        "1",
        "--out",
        tmp_path / "run",
        "--device",
        "cpu",
        "--json",
        "--quiet",
    )
    assert code == 0, err
    result = json.loads(out)  # nothing but the JSON object on stdout
    assert result["status"] == "completed" and result["epochs_done"] == 1
    assert result["best_checkpoint"] == str(tmp_path / "run" / "best.pt")
    assert Path(result["best_checkpoint"]).is_file() and Path(result["last_checkpoint"]).is_file()
    assert result["final_metrics"]["epoch"] == 1 and "val_acc" in result["final_metrics"]
    assert "completed" in err  # progress and the summary go to stderr


def test_train_limit_and_classes(tmp_path, capsys):
    data = write_image_folder(tmp_path / "flat", per_class=10)
    code, out, err = run(
        capsys,
        "train",
        "--data",
        data,
        "--model",
        "tutorial_net",
        "--epochs",
        "1",
        "--out",
        tmp_path / "run",
        "--device",
        "cpu",
        "--limit",
        "6",
        "--classes",
        "red,blue",
        "--val-fraction",
        "0.2",
        "--json",
        "--quiet",
    )
    assert code == 0, err
    assert "6 train / 4 validation images" in err
    from engine.checkpoints.format import load_checkpoint

    ck = load_checkpoint(json.loads(out)["best_checkpoint"])
    assert ck.classes == ["red", "blue"] and ck.config["limit"] == 6


def test_train_config_file_and_flags(tmp_path, capsys):
    data = write_image_folder(tmp_path / "flat", per_class=4)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"model": "lenet5", "epochs": 5, "lr": 0.01, "mixed_precision": "off"}))
    code, _, err = run(
        capsys,
        "train",
        "--config",
        cfg,
        "--data",
        data,
        "--epochs",
        "1",
        "--out",
        tmp_path / "run",
        "--device",
        "cpu",
        "--json",
        "--quiet",
    )
    assert code == 0, err
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["model"] == "lenet5" and saved["lr"] == 0.01  # from the file
    assert saved["epochs"] == 1 and saved["data"] == str(data)  # flags win


def test_a_partial_config_file_changes_only_its_settings_of_the_preset(tmp_path):
    from engine.cli.program import build_parser
    from engine.cli.train_args import _train_config
    from engine.presets import preset_config

    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"micro_batch": 500, "augment": {"cutout": 8}}))
    args = build_parser().parse_args(["train", "--preset", "fast", "--config", str(cfg), "--data", "cifar10"])
    got, fast = _train_config(args), preset_config("fast")
    assert got.micro_batch == 500 and got.augment.cutout == 8  # from the file
    # everything else is still the preset's (a partial file once reset them to the defaults)
    assert got.model == "fastnet" and got.optimizer == "muon" and got.batch_size == fast.batch_size
    assert got.augment.alternate_flips and got.augment.crop_padding == fast.augment.crop_padding


def test_train_config_file_with_an_invalid_field(tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"lr": -1}))
    code, out, err = run(capsys, "train", "--config", cfg, "--out", tmp_path / "run")
    assert code == 2 and out == ""
    assert "lr" in one_error_line(err)
    cfg.write_text(json.dumps({"optimiser": "sgd"}))
    code, _, err = run(capsys, "train", "--config", cfg, "--out", tmp_path / "run")
    assert code == 2 and "optimiser" in one_error_line(err)
    assert not (tmp_path / "run").exists()


def test_train_bad_flag_value_and_bad_data(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--data", tmp_path, "--lr", "-0.1", "--out", tmp_path / "run")
    assert code == 2 and "lr" in one_error_line(err)
    code, _, err = run(capsys, "train", "--data", tmp_path / "nowhere", "--out", tmp_path / "run")
    assert code == 2 and "nowhere" in one_error_line(err)
    code, _, err = run(capsys, "train", "--preset", "nope", "--out", tmp_path / "run")
    assert code == 2 and "nope" in one_error_line(err)


def test_train_failure_exits_1(tmp_path, capsys):
    data = write_image_folder(tmp_path / "flat", per_class=4)
    code, out, _ = run(
        capsys,
        "train",
        "--data",
        data,
        "--model",
        "resnet20",
        "--lr",
        "1e6",
        "--epochs",
        "3",
        "--batch-size",
        "4",
        "--out",
        tmp_path / "run",
        "--device",
        "cpu",
        "--precision",
        "off",
        "--schedule",
        "constant",
        "--json",
        "--quiet",
    )
    assert code == 1
    assert json.loads(out)["status"] == "failed"


def test_evaluate_uses_the_test_split(trained, capsys):
    _, data, out = trained
    code, stdout, err = run(capsys, "evaluate", "--checkpoint", out / "best.pt", "--data", data, "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert "test split" in report["split"]
    assert report["images"] == 9  # test/ only
    assert report["classes"] == CLASSES
    assert 0 <= report["accuracy"] <= 1 and report["loss"] >= 0
    assert report["accuracy"] > 0.5  # the colours are easy
    assert set(report["per_class"]) == set(CLASSES)
    for metrics in report["per_class"].values():
        assert set(metrics) == {"precision", "recall", "f1", "support"}
        assert metrics["support"] == 3
    cm = report["confusion_matrix"]
    assert len(cm) == 3 and all(len(row) == 3 for row in cm) and sum(map(sum, cm)) == 9
    correct = sum(cm[i][i] for i in range(3))
    assert report["accuracy"] == pytest.approx(correct / 9)


def test_evaluate_other_splits_and_text(trained, capsys):
    _, data, out = trained
    code, stdout, _ = run(
        capsys, "evaluate", "--checkpoint", out / "best.pt", "--data", data, "--split", "train", "--json"
    )
    assert code == 0 and json.loads(stdout)["images"] == 18
    code, stdout, _ = run(capsys, "evaluate", "--checkpoint", out / "best.pt", "--data", data, "--tta", "2")
    assert code == 0 and "accuracy" in stdout and "confusion matrix" in stdout


def test_evaluate_val_split_reproduces_the_training_validation(trained, capsys):
    """``--split val`` rebuilds the held-out split: same images, so the accuracy training saw."""
    from engine.checkpoints.format import load_checkpoint

    _, data, out = trained
    ck = load_checkpoint(out / "best.pt")
    code, stdout, _ = run(
        capsys, "evaluate", "--checkpoint", out / "best.pt", "--data", data, "--split", "val", "--json"
    )
    report = json.loads(stdout)
    assert code == 0 and "validation split" in report["split"]
    assert report["images"] == 6  # 0.34 of train/'s 18 images, 2 per class
    assert report["accuracy"] == pytest.approx(ck.val_acc)
    assert report["loss"] == pytest.approx(ck.history[ck.epoch - 1]["val_loss"], rel=1e-4)


def test_evaluate_resizes_other_image_sizes_and_channels(trained, tmp_path, capsys):
    _, _, out = trained
    data = write_image_folder(tmp_path / "big_gray", per_class=2, size=24, gray=True)
    code, stdout, err = run(capsys, "evaluate", "--checkpoint", out / "best.pt", "--data", data, "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert "all images" in report["split"] and report["images"] == 6


def test_evaluate_on_data_with_other_classes(trained, tmp_path, capsys):
    _, _, out = trained
    other = write_image_folder(tmp_path / "other", classes=["cat", "dog"], per_class=2)
    code, _, err = run(capsys, "evaluate", "--checkpoint", out / "best.pt", "--data", other)
    assert code == 2 and "cat" in one_error_line(err)


def test_predict_json_with_a_bad_file(trained, tmp_path, capsys):
    _, _, out = trained
    good = tmp_path / "good.png"
    Image.new("RGB", (40, 40), (210, 40, 40)).save(good)
    bad = tmp_path / "bad.txt"
    bad.write_text("hello")
    code, stdout, err = run(capsys, "predict", "--checkpoint", out / "best.pt", "--json", good, bad)
    assert code == 0, err
    results = json.loads(stdout)
    assert [r["path"] for r in results] == [str(good), str(bad)]
    ok, broken = results
    assert ok["top"] == "red" and set(ok["probabilities"]) == set(CLASSES)
    assert sum(ok["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert set(broken) == {"path", "error"} and "bad.txt" in broken["error"]


def test_predict_text_and_folder(trained, tmp_path, capsys):
    _, _, out = trained
    for name, colour in (("a.png", (40, 40, 210)), ("b.png", (40, 210, 40))):
        Image.new("RGB", (16, 16), colour).save(tmp_path / name)
    # --tta is a plain flag, so it may stand before the paths (as `predict [--tta] PATH...` reads)
    code, stdout, _ = run(capsys, "predict", "--checkpoint", out / "best.pt", "--tta", tmp_path)
    assert code == 0
    lines = stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith(str(tmp_path / "a.png")) and "blue" in lines[0]
    code, stdout, _ = run(capsys, "predict", "--checkpoint", out / "best.pt", "--tta-level", "1", tmp_path / "b.png")
    assert code == 0 and "green" in stdout


def test_predict_empty_folder_exits_2(trained, tmp_path, capsys):
    _, _, out = trained
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "predict", "--checkpoint", out / "best.pt", tmp_path / "empty")
    assert code == 2 and "no image files" in err


@pytest.mark.parametrize("kind", ["text", "missing", "state_dict"])
def test_unusable_checkpoint_exits_2_with_one_line(tmp_path, capsys, kind):
    ck = tmp_path / "model.pt"
    if kind == "text":
        ck.write_text("not a model")
    elif kind == "state_dict":
        import torch

        torch.save({"w": torch.zeros(2)}, ck)
    img = tmp_path / "x.png"
    Image.new("RGB", (8, 8)).save(img)
    code, out, err = run(capsys, "predict", "--checkpoint", ck, img)
    assert code == 2 and out == ""
    assert "model.pt" in one_error_line(err)
    code, _, err = run(capsys, "evaluate", "--checkpoint", ck, "--data", tmp_path)
    assert code == 2 and "model.pt" in one_error_line(err)


def test_predict_without_a_bundled_model_exits_2(tmp_path, capsys, monkeypatch):
    import engine.paths

    monkeypatch.setattr(engine.paths, "resources_dir", lambda: tmp_path / "resources")
    img = tmp_path / "x.png"
    Image.new("RGB", (8, 8)).save(img)
    code, _, err = run(capsys, "predict", img)
    assert code == 2
    line = one_error_line(err)
    assert "bundled" in line and str(tmp_path / "resources") in line


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["train"],  # --out is required
        ["evaluate", "--checkpoint", "x.pt"],  # --data is required
        ["predict"],  # at least one path
        ["predict", "--tta-level", "5", "x.png"],
        ["train", "--out", "o", "--epochs", "two"],
    ],
)
def test_bad_usage_exits_2(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_subprocess_smoke(trained, tmp_path):
    """The real entry point: ``python -m engine`` in a fresh interpreter."""
    _, _, out = trained
    img = tmp_path / "x.png"
    Image.new("RGB", (16, 16), (40, 210, 40)).save(img)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "predict", "--checkpoint", str(out / "best.pt"), "--json", str(img)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(proc.stdout)
    assert result["top"] == "green"
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "predict", "--checkpoint", str(tmp_path / "nope.pt"), str(img)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == ["error: nope.pt: no such file"]


def test_resume_keeps_the_saved_schedule(tmp_path, capsys):
    """`train --resume` without --epochs must not fall back to default settings (a real bug:
    it once extended an 18-epoch run to the default 30 and stretched its schedule)."""
    data = write_image_folder(tmp_path / "flat", per_class=6)
    out = tmp_path / "run"
    code, _, _ = run(
        capsys,
        "train",
        "--data",
        data,
        "--model",
        "tutorial_net",
        "--epochs",
        "2",
        "--out",
        out,
        "--device",
        "cpu",
        "--precision",
        "off",
    )
    assert code == 0
    code, stdout, _ = run(capsys, "train", "--resume", out / "last.pt", "--out", out, "--json")
    assert code == 0
    result = json.loads(stdout)
    assert result["epochs_done"] == 2  # nothing left to do: still a 2-epoch run
    assert json.loads((out / "config.json").read_text())["epochs"] == 2
    code, stdout, _ = run(capsys, "train", "--resume", out / "last.pt", "--out", out, "--epochs", "3", "--json")
    assert code == 0 and json.loads(stdout)["epochs_done"] == 3
    # any other setting given with --resume is named as ignored, never dropped silently
    args = ("--resume", out / "last.pt", "--out", out, "--lr", "0.5", "--seed", "3", "--precision", "bf16")
    code, _, err = run(capsys, "train", *args, "--micro-batch", "2", "--json")
    note = next(line for line in err.splitlines() if "ignoring" in line)
    assert code == 0 and all(f in note for f in ("--lr", "--seed", "--precision", "--micro-batch"))


def test_every_evaluation_number_names_its_checkpoint_split_and_tta(trained, capsys):
    """A number without its source is a defect: the report says which checkpoint, split and TTA."""
    _, data, out = trained
    args = ("evaluate", "--checkpoint", out / "best.pt", "--data", data, "--split", "val", "--tta", "1")
    code, stdout, _ = run(capsys, *args, "--json")
    report = json.loads(stdout)
    assert code == 0 and report["checkpoint"] == "best.pt" and report["tta"] == 1
    code, stdout, _ = run(capsys, *args)
    headline = stdout.splitlines()[0]
    assert "validation split" in headline and "best.pt" in headline and "TTA: flips" in headline


# ---------------------------------------------------------------------------- issue 21: the command line itself
def test_help_and_version_import_no_torch():
    """``--help`` took 2.5 s, 1.8 s of it importing torch (through engine.bench): none now."""
    code = (
        "import sys, contextlib, io\n"
        "from engine.cli import main\n"
        "for argv in (['--help'], ['train', '--help'], ['bench', '--help'], ['explain', '--help'], ['--version']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        main(argv)\n"
        "print('torch' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "False", proc.stdout + proc.stderr


def test_version_help_defaults_choices_and_exit_codes(capsys):
    from engine import __version__
    from engine.cli.program import EXIT_CODES, build_parser

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and __version__ in capsys.readouterr().out
    parser = build_parser("python -m engine")
    epilog = parser.format_help()
    assert all(f"{code:<4} " in epilog for code, _ in EXIT_CODES)
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():
        assert "exit status:" in sub.format_help(), name
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
            value_flag = action.option_strings and action.nargs != 0 and action.dest != "help"
            if value_flag and action.required is False and action.dest != "out":  # train: required unless resuming
                assert "default" in action.help, f"{name} {action.option_strings}: no default in its help"
    train = commands["train"]
    by_flag = {o: a for a in train._actions for o in a.option_strings}
    from engine.config import OPTIMIZERS, PRECISIONS, SCHEDULES

    assert tuple(by_flag["--optimizer"].choices) == OPTIMIZERS
    assert tuple(by_flag["--schedule"].choices) == SCHEDULES
    assert tuple(by_flag["--precision"].choices) == PRECISIONS
    assert "(default 30)" in by_flag["--epochs"].help and "(default sgd)" in by_flag["--optimizer"].help
    for argv in (["train", "--out", "o", "--device", "gpu"], ["train", "--out", "o", "--optimizer", "lamb"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2 and "choose" in capsys.readouterr().err
    assert parser.parse_args(["train", "--out", "o", "--device", "cuda:1"]).device == "cuda:1"


@pytest.mark.parametrize(
    ("argv0", "prog"),
    [
        ("/usr/local/bin/cifar-studio-engine", "cifar-studio-engine"),
        ("C:\\env\\Scripts\\cifar-studio-engine.exe".replace("\\", "/"), "cifar-studio-engine"),
        ("/work/engine/__main__.py", "python -m engine"),
        ("-c", "python -m engine"),
    ],
)
def test_usage_names_the_program_as_it_was_run(argv0, prog):
    from engine.cli.program import build_parser, prog_name

    assert prog_name(argv0) == prog
    assert build_parser(prog_name(argv0)).format_usage().startswith(f"usage: {prog} ")


def test_predict_exits_1_when_every_input_failed(trained, tmp_path, capsys):
    _, _, out = trained
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a photo")
    code, stdout, err = run(capsys, "predict", "--checkpoint", out / "best.pt", "--json", bad, tmp_path / "gone.png")
    assert code == 1 and all("error" in r for r in json.loads(stdout))
    assert err.strip().splitlines()[-1] == "error: all 2 inputs failed"
    good = tmp_path / "good.png"
    Image.new("RGB", (16, 16), (210, 40, 40)).save(good)
    assert run(capsys, "predict", "--checkpoint", out / "best.pt", bad, good)[0] == 0  # one worked


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_training_progress_bars_only_on_a_terminal():
    from engine.cli.progress import TrainProgress
    from engine.training import BatchEnd, EpochEnd, LogMessage

    def feed(file):
        progress = TrainProgress(file=file)
        for step in (1, 2):
            progress(BatchEnd(1, step, 2, step, 2, 1.0, 0.1, 500.0))
        progress(LogMessage("warning", "something to see"))
        progress(EpochEnd(1, 1, 1.0, 0.5, None, None, 0.1, 1.0, 0.0, 500.0, False))
        progress.close()
        return file.getvalue()

    piped, terminal = feed(io.StringIO()), feed(_Terminal())
    assert "\r" not in piped and "batch" not in piped  # a log gets lines, never a bar
    assert "warning: something to see" in piped and "epoch 1/1: train loss" in piped
    assert "batch" in terminal and "\r" in terminal


def test_evaluate_reports_its_time_with_decoding_and_a_measured_rate(trained, capsys):
    _, data, out = trained
    code, _, err = run(capsys, "evaluate", "--checkpoint", out / "best.pt", "--data", data, "--quiet")
    assert code == 0
    (line,) = [x for x in err.splitlines() if x.startswith("evaluated")]
    assert "checking and decoding included" in line
    import re

    rate = re.search(r"\(([\d.]+) images/s\)", line)
    assert rate is None or float(rate.group(1)) < 1e5, line  # a rate only over a measured time


def test_shell_completion_through_the_optional_argcomplete(tmp_path):
    pytest.importorskip("argcomplete")
    out = tmp_path / "completions"

    def complete(line: str) -> list[str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "_ARGCOMPLETE": "1",
            "COMP_LINE": line,
            "COMP_POINT": str(len(line)),
            "_ARGCOMPLETE_STDOUT_FILENAME": str(out),
            "_ARGCOMPLETE_IFS": "\n",
        }
        code = "import sys; sys.argv[0] = 'cifar-studio-engine'; from engine.cli import main; main()"
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return [c.strip() for c in out.read_text().split("\n") if c.strip()]

    assert complete("cifar-studio-engine tr") == ["train"]
    assert complete("cifar-studio-engine train --optimizer ") == ["sgd", "nesterov", "adam", "adamw", "muon"]
