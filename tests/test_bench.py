"""`python -m engine bench`: runs end to end on tiny data and reports the ratios it promises."""

from __future__ import annotations

import json

import pytest
from conftest import write_image_folder

from engine.bench import _clock_factor
from engine.cli import main


def test_clock_schedules_anneal_fully():
    # fast recipe: warm-up from 0.2 over the first quarter, peak 1, then linear to zero
    assert _clock_factor("onecycle", 0.0) == pytest.approx(0.2)
    assert _clock_factor("onecycle", 0.25) == pytest.approx(1.0)
    assert _clock_factor("onecycle", 1.0) == pytest.approx(0.0)
    # classic recipe: /10 at half and three quarters of the budget (Keras' 81 and 122 of 164)
    assert [_clock_factor("step", p) for p in (0.1, 0.6, 0.9)] == pytest.approx([1.0, 0.1, 0.01])


def test_bench_json_reports_all_three_parts(tmp_path, tiny_checkpoint, capsys):
    data = write_image_folder(tmp_path / "data", per_class=20, size=16)
    code = main(
        [
            "bench",
            "--data",
            str(data),
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
            "--checkpoint",
            str(tiny_checkpoint),
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert {"device", "torch", "threads"} <= set(report)
    t = report["throughput"]
    assert t["fast_images_per_s"] > 0 and t["classic_images_per_s"] > 0
    assert t["ratio"] == pytest.approx(t["fast_images_per_s"] / t["classic_images_per_s"], rel=0.02)
    assert len(t["fast_runs"]) == len(t["classic_runs"]) == 2  # interleaved rounds
    a = report["accuracy"]
    assert a["fast"]["model"] == "fastnet" and a["classic"]["model"] == "resnet32"
    assert 0.0 <= a["fast"]["val_accuracy"] <= 1.0 and 0.0 <= a["classic"]["val_accuracy"] <= 1.0
    assert a["fast"]["train_seconds"] >= 1.0  # trained for the whole budget
    p = report["predict"]
    assert p["forward_ms_median"] > 0 and p["end_to_end_ms_median"] >= p["forward_ms_median"]
    assert p["folder_images"] == 100 and p["folder_images_per_s"] > 0


def test_bench_without_a_model_skips_prediction(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("engine.paths.default_checkpoint_path", lambda: tmp_path / "missing.pt")
    code = main(["bench", "--skip", "throughput", "--skip", "accuracy", "--json"])
    assert code == 0
    assert "skipped" in json.loads(capsys.readouterr().out)["predict"]
