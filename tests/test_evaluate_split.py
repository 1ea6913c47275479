"""``evaluate --split val`` measures the checkpoint's own held-out images, or refuses.

The validation split can only be rebuilt from the data the checkpoint was trained on, split the
way training split it (fraction, seed, classes, limit). On any other data the same command
used to report a "validation split (as held out in training)" that never was; it now stops
with one line, and ``--split all`` still evaluates that data.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import CLASSES, write_image_folder

from engine.checkpoints.format import load_checkpoint
from engine.cli import main
from engine.data.loader import channel_stats
from engine.errors import DataError
from engine.evaluation.run import evaluate_checkpoint, pixel_stats
from engine.splits import SPLITS


def _cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _train(data, out, *extra) -> None:
    code = main(
        [
            "train",
            "--data",
            str(data),
            "--model",
            "tutorial_net",
            "--epochs",
            "1",
            "--out",
            str(out),
            "--device",
            "cpu",
            "--batch-size",
            "8",
            "--schedule",
            "constant",
            "--val-fraction",
            "0.25",
            "--precision",
            "off",
            "--quiet",
            *map(str, extra),
        ]
    )
    assert code == 0


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A checkpoint trained on a 3-class folder (8 images per class, a quarter held out)."""
    root = tmp_path_factory.mktemp("val_split")
    data = write_image_folder(root / "colours", per_class=8)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIFAR_STUDIO_CACHE", str(root / "cache"))
        _train(data, root / "run")
    return data, root / "run" / "best.pt"


@pytest.mark.parametrize("chunk", [1 << 20, 1000])  # 1000 pixels: the histogram adds up across chunks
def test_pixel_stats_match_the_training_normalisation(chunk, monkeypatch):
    import engine.evaluation.run as evaluation_run

    monkeypatch.setattr(evaluation_run, "_STATS_CHUNK", chunk)
    images = np.random.default_rng(0).integers(0, 256, (50, 8, 8, 3), dtype=np.uint8)
    mean, std = pixel_stats(images)
    expected_mean, expected_std = channel_stats(images)
    assert mean == pytest.approx(expected_mean, abs=1e-6) and std == pytest.approx(expected_std, abs=1e-6)
    flat = np.zeros((4, 2, 2, 1), dtype=np.uint8)  # a constant channel: std floored like training's
    assert pixel_stats(flat) == ([0.0], [1e-3])


def test_val_split_of_the_training_data_is_accepted(run, capsys):
    data, ckpt = run
    code, out, err = _cli(capsys, "evaluate", "--checkpoint", ckpt, "--data", data, "--split", "val", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["split"].startswith(SPLITS["val"]) and report["images"] == 6  # 2 of each class's 8
    assert report["accuracy"] == pytest.approx(load_checkpoint(ckpt).val_acc)


def test_val_split_of_other_data_with_the_same_classes_is_refused(run, tmp_path, capsys):
    _, ckpt = run
    other = write_image_folder(tmp_path / "other", per_class=8, seed=7)  # same classes, other images
    code, out, err = _cli(capsys, "evaluate", "--checkpoint", ckpt, "--data", other, "--split", "val")
    errors = [line for line in err.splitlines() if line.startswith("error: ")]  # (progress lines aside)
    assert code == 2 and out == "" and len(errors) == 1 and err.rstrip().endswith(errors[0])
    assert "not the data best.pt was trained on" in errors[0] and "--split auto, test or all" in errors[0]
    # The same data as "all images" is still there, and says so.
    code, out, err = _cli(capsys, "evaluate", "--checkpoint", ckpt, "--data", other, "--split", "all", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["split"].startswith(SPLITS["all"]) and SPLITS["val"] not in report["split"]
    assert report["images"] == 24


def test_val_split_of_part_of_the_training_data_is_refused(run, tmp_path):
    data, ckpt = run
    part = tmp_path / "part"
    shutil.copytree(data, part)
    for cls in CLASSES:  # one image fewer per class: the split, and the held-out images, change
        (part / cls / "007.png").unlink()
    with pytest.raises(DataError, match="not the data"):
        evaluate_checkpoint(ckpt, str(part), split="val", device="cpu")


def test_val_split_of_data_with_other_classes_is_refused(run, tmp_path):
    _, ckpt = run
    other = write_image_folder(tmp_path / "two", classes=["blue", "green"], per_class=8)
    with pytest.raises(DataError, match=r"not the ones best\.pt was trained on"):
        evaluate_checkpoint(ckpt, str(other), split="val", device="cpu")


def test_val_split_is_rebuilt_with_the_runs_classes_and_limit(tmp_path, capsys):
    """A run on a class subset with --limit holds out the same images when evaluated again."""
    data = write_image_folder(tmp_path / "four", classes=[*CLASSES, "yellow"], per_class=8)
    _train(data, tmp_path / "run", "--classes", "red,blue", "--limit", "9")
    ckpt = tmp_path / "run" / "best.pt"
    code, out, err = _cli(capsys, "evaluate", "--checkpoint", ckpt, "--data", data, "--split", "val", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["images"] == 4 and report["classes"] == load_checkpoint(ckpt).classes
    assert report["accuracy"] == pytest.approx(load_checkpoint(ckpt).val_acc)


def test_split_names_are_declared_once():
    import engine
    from engine.cli.program import build_parser

    assert engine.SPLITS is SPLITS
    sub = build_parser()._subparsers._group_actions[0].choices["evaluate"]
    (split,) = [a for a in sub._actions if "--split" in a.option_strings]
    assert tuple(split.choices) == tuple(SPLITS)


def test_val_split_of_a_test_folder_alone_is_refused(run, tmp_path):
    """A lone test/ folder has no training images: nothing to rebuild a held-out split from."""
    _, ckpt = run
    alone = write_image_folder(tmp_path / "only" / "test", per_class=3)
    with pytest.raises(DataError, match="not the data"):
        evaluate_checkpoint(ckpt, str(alone.parent), split="val", device="cpu")
