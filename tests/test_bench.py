"""`python -m engine bench`: runs end to end on tiny data and reports the ratios it promises."""

from __future__ import annotations

import json

import pytest
from conftest import write_image_folder

from engine.bench import PARTS
from engine.bench.accuracy import RECIPES, clock_factor
from engine.cli import main
from engine.presets import preset_config


def test_clock_schedules_anneal_fully():
    fast, classic = (preset_config(RECIPES[name][0]) for name in ("fast", "classic"))
    # fast recipe: the full rate at the start, then linear to zero
    assert clock_factor(fast, 0.0) == pytest.approx(1.0)
    assert clock_factor(fast, 0.5) == pytest.approx(0.5, abs=0.01)
    assert clock_factor(fast, 1.0) == pytest.approx(0.0)
    # classic recipe: /10 at epochs 81 and 122 of 164, i.e. at 49% and 74% of the budget
    assert [clock_factor(classic, p) for p in (0.1, 0.48, 0.5, 0.74, 0.75, 0.9)] == pytest.approx(
        [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    )


def test_bench_recipes_are_the_presets_not_copies():
    """The benchmark names presets and reads them; it writes none of their settings again."""
    import inspect

    import engine.bench.accuracy as accuracy
    import engine.bench.throughput as throughput

    assert RECIPES == {"fast": ("fast", "fast"), "classic": ("resnet32-keras", "classic")}
    for module in (accuracy, throughput):
        source = inspect.getsource(module)
        for setting in ("lr=", "momentum", "weight_decay", "label_smoothing=", "milestones"):
            assert setting not in source, f"{module.__name__} retypes {setting!r}"


TINY = [
    "--batch-size",
    "16",
    "--rounds",
    "2",
    "--steps",
    "1",
    "--budget",
    "1",
    "--classic-workers",
    "0",
    "--megapixels",
    "0.01",
    "0.05",
    "--repeats",
    "2",
    "--folder-photos",
    "6",
    "--folder-megapixels",
    "0.02",
    "--skip",
    "peer",  # minutes even on tiny data; tests/test_vs_airbench.py covers it
]


def test_bench_json_reports_every_part(tmp_path, tiny_checkpoint, capsys):
    data = write_image_folder(tmp_path / "data", per_class=20, size=16)
    code = main(["bench", "--data", str(data), *TINY, "--checkpoint", str(tiny_checkpoint), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert {"device", "torch", "threads", *(set(PARTS) - {"peer"})} <= set(report)
    t = report["throughput"]
    assert t["fast_images_per_s"] > 0 and t["classic_images_per_s"] > 0
    assert t["ratio"] == pytest.approx(t["fast_images_per_s"] / t["classic_images_per_s"], rel=0.02)
    assert len(t["fast_runs"]) == len(t["classic_runs"]) == 2  # interleaved rounds
    a = report["accuracy"]
    assert a["fast"]["model"] == "fastnet" and a["classic"]["model"] == "resnet32"
    assert a["fast"]["preset"] == "fast" and a["classic"]["preset"] == "resnet32-keras"
    assert 0.0 <= a["fast"]["val_accuracy"] <= 1.0 and 0.0 <= a["classic"]["val_accuracy"] <= 1.0
    assert a["fast"]["train_seconds"] >= 1.0  # trained for the whole budget
    d = report["decode"]
    assert d["images"] == d["straightforward_images"] == 60 and d["image_size"] == "16x16"
    assert d["first_decode_seconds"] > 0 and d["straightforward_seconds"] > 0 and d["cache_hit"]
    assert d["workers"] == 1  # tiny files: one decoding thread (threads would only share the GIL)
    assert d["ratio"] == pytest.approx(d["straightforward_seconds"] / d["first_decode_seconds"], rel=0.05, abs=0.01)
    p = report["predict"]
    assert p["forward_ms_median"] > 0
    assert [ph["megapixels"] for ph in p["photos"]] == [0.0, 0.1]  # 115x86 and 258x194
    for ph in p["photos"]:
        assert ph["fast_ms_median"] > 0 and ph["full_decode_ms_median"] > 0
        assert 0 < ph["libjpeg_eighth_scale_decode_ms_median"] and ph["file_megabytes"] > 0
        assert 0 <= ph["max_probability_difference"] <= 1
    f = p["folder"]
    assert f["photos"] == 6 and f["errors"] == 0 and f["fast_images_per_s"] > 0 and f["sequential_images_per_s"] > 0
    e = report["evaluation"]
    # The tiny checkpoint was trained on other images: no held-out split to rebuild, so all of them.
    assert e["split"].startswith("all images") and e["images"] == 60
    assert e["engine_accuracy"] == pytest.approx(e["straightforward_accuracy"], abs=0.02)
    assert e["progress_reports"] >= 1 and e["engine_images_per_s"] > 0


def test_bench_text_report_has_a_section_per_part(tmp_path, tiny_checkpoint, capsys):
    data = write_image_folder(tmp_path / "data", per_class=4, size=16)
    argv = ["bench", "--data", str(data), *TINY, "--checkpoint", str(tiny_checkpoint), "--skip", "accuracy"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for heading in ("training throughput", "first decode of data", "prediction", "folder of 6 photos", "evaluation"):
        assert heading in out
    assert "accuracy after" not in out


def test_bench_without_a_model_skips_prediction(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("engine.paths.default_checkpoint_path", lambda: tmp_path / "missing.pt")
    skip = [arg for part in ("throughput", "accuracy", "peer", "decode") for arg in ("--skip", part)]
    code = main(["bench", *skip, "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert "skipped" in report["predict"] and "skipped" in report["evaluation"]


def test_bench_evaluation_on_the_checkpoints_own_validation_split(tmp_path):
    """With the data the checkpoint was trained on (the bundled model on the shared archive),
    both loops score the checkpoint's held-out split, the same images."""
    from conftest import tiny_config, write_image_folder

    from engine.bench.evaluation import bench_evaluation
    from engine.training import train

    folder = write_image_folder(tmp_path / "colours", per_class=8, size=16)
    result = train(tiny_config(data=str(folder), epochs=1, val_fraction=0.25), tmp_path / "run")
    e = bench_evaluation(result.best_checkpoint, str(folder))
    assert e["split"].startswith("validation") and e["images"] == 6  # a quarter of 24, held out
    assert e["engine_accuracy"] == pytest.approx(e["straightforward_accuracy"], abs=0.2)
