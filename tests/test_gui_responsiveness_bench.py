"""The GUI responsiveness benchmark's task scenarios run end to end (a short predict run), and
the Predict tab's results table stays cheap to update with many rows (what that run found)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import REPO_ROOT
from PySide6.QtWidgets import QHeaderView

import engine
from gui.predict.results_table import ResultsTable


def test_predict_scenario_reports_stalls_and_classifies_every_photo(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [
            sys.executable,
            "benchmarks/gui_responsiveness.py",
            "--skip-startup",
            "--scenario",
            "predict",
            "--photos",
            "20",
            "--photo-size",
            "64x48",
            "--photo-dir",
            str(tmp_path / "photos"),
            "--json",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout)["predict_stalls"]
    assert "error" not in r, r
    assert r["photos"] == 20 and r["classified"] == 20 and r["errors"] == 0
    for key in ("longest_stall_ms", "p99_gap_ms", "median_gap_ms", "gaps_over_50ms", "wall_s", "images_per_s"):
        assert isinstance(r[key], (int, float)), key
    assert r["ticks"] > 0 and r["p99_gap_ms"] <= r["longest_stall_ms"]
    assert len(list((tmp_path / "photos").glob("*.jpg"))) == 20  # made there, not in the repository


def test_teach_scenario_trains_from_dropped_photos_and_reports_stalls(tmp_path):
    import pytest

    from benchmarks.gui_task_stalls import PHOTOS_DEV

    if not PHOTOS_DEV.is_dir():
        pytest.skip(f"{PHOTOS_DEV} is not on this machine")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    args = ["--skip-startup", "--scenario", "teach", "--teach-classes", "2", "--teach-photos", "6", "--json"]
    out = subprocess.run(
        [sys.executable, "benchmarks/gui_responsiveness.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout)["teach_stalls"]
    assert "error" not in r, r
    assert r["classes"] == 2 and r["photos"] == 12 and r["held_out"] > 0
    for key in ("longest_stall_ms", "p99_gap_ms", "gaps_over_50ms", "wall_s", "longest_collection_ms"):
        assert isinstance(r[key], (int, float)), key
    assert len(r["stalls_ms"]) == len(r["stalls_gui_cpu_ms"]) == r["gaps_over_50ms"]
    assert "model_ready" in r["phases_s"]


def _prediction(top: str, classes: list[str]) -> engine.Prediction:
    probs = {c: (0.91 if c == top else 0.01) for c in classes}
    return engine.Prediction("/x.png", probabilities=probs)


def test_results_table_lists_pending_rows_at_once_and_fits_columns_after_a_burst(qtbot, tmp_path):
    classes = ["airplane", "a-very-long-class-name-indeed", "cat"]
    table = ResultsTable()
    qtbot.addWidget(table)
    table.set_classes(classes)
    table.show()
    # Per-cell ResizeToContents re-measured every row on each change: seconds per chunk at 1,000 rows.
    header = table.horizontalHeader()
    assert all(header.sectionResizeMode(c) != QHeaderView.ResizeMode.ResizeToContents for c in range(1, 9))
    paths = [f"/photos/p{i:04d}.jpg" for i in range(1000)]
    table.add_pending(paths)
    assert table.rowCount() == 1000 and len(table.records) == 1000
    assert table.item(999, 0).text() == "p0999.jpg" and table.item(999, 1).text() == "…"
    assert table.item(999, 0).toolTip() == "/photos/p0999.jpg"

    table.set_row(3, paths[3], _prediction("a-very-long-class-name-indeed", classes))
    assert table.item(3, 1).text() == "a-very-long-class-name-indeed" and table.item(3, 2).text() == "91.0%"
    error = "p0004.jpg: not an image this app can read (a long one-line error message)"
    table.set_row(4, paths[4], engine.Prediction(paths[4], error=error))
    err_col = table.columnCount() - 1
    assert table.item(4, err_col).text() == error
    # the columns are fitted once the burst of changes is over: wide enough for the long texts
    wide = table.fontMetrics().horizontalAdvance(error)
    qtbot.waitUntil(lambda: table.columnWidth(err_col) >= wide, timeout=2000)
    assert table.columnWidth(1) > table.fontMetrics().horizontalAdvance("a-very-long-class-name-indeed")
    assert table.export_csv(tmp_path / "r.csv") == 2  # the result and the error; pending rows are none
