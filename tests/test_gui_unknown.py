"""Issue 10 in the Predict tab: an image that is probably none of the classes is said so
plainly (no confident bar), the list says it too, and the CSV export carries unknown + score;
"what the model sees" is the engine's own model input."""

from __future__ import annotations

import csv

import numpy as np

from gui.predict.prediction_view import PredictionView
from gui.predict.results_table import ResultsTable

CLASSES = ["airplane", "bird", "cat"]


def _prediction(path, probs, unknown, score, image=None):
    import engine

    return engine.Prediction(
        str(path), dict(zip(CLASSES, probs, strict=True)), None, image, unknown=unknown, unknown_score=score
    )


def test_unknown_is_said_plainly_instead_of_a_confident_bar(qtbot, tmp_path):
    view = PredictionView()
    qtbot.addWidget(view)
    seen = np.zeros((32, 32, 3), np.uint8)
    seen[:, :16] = 255
    view.show_item(str(tmp_path / "astronaut.png"), _prediction("a", [0.2, 0.7, 0.1], True, 4.25, seen))
    assert view.headline.text() == "Probably none of these classes"
    assert "bird" not in view.headline.text() and "70" not in view.headline.text()
    assert view.hint.kind == "warning" and "Closest class: bird" in view.hint.text() and "4.25" in view.hint.toolTip()
    assert view.bars.muted  # no bar drawn as the answer
    # what the model sees: exactly the engine's input array, pixel for pixel
    shown = view.model_input.pixmap().toImage()
    assert shown.pixelColor(2, 2).red() == 255 and shown.pixelColor(shown.width() - 3, 2).red() == 0
    view.show_item(str(tmp_path / "plane.png"), _prediction("p", [0.9, 0.05, 0.05], False, -3.0, seen))
    assert view.headline.text().startswith("airplane — 90")
    assert not view.bars.muted and view.hint.kind == ""


def test_csv_export_and_table_carry_unknown_and_its_score(qtbot, tmp_path):
    table = ResultsTable()
    qtbot.addWidget(table)
    table.set_classes(CLASSES)
    table.set_row(0, "/x/astronaut.png", _prediction("a", [0.2, 0.7, 0.1], True, 4.25))
    table.set_row(1, "/x/plane.png", _prediction("p", [0.9, 0.05, 0.05], False, -3.0))
    import engine

    table.set_row(2, "/x/bad.gif", engine.Prediction("/x/bad.gif", error="bad.gif: corrupt image (IndexError)"))
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers[:5] == ["File", "Top class", "Confidence", "Unknown", "Unknown score"]
    assert table.item(0, 3).text() == "yes" and table.item(1, 3).text() == "no" and table.item(2, 3).text() == ""
    out = tmp_path / "predictions.csv"
    assert table.export_csv(out) == 3
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [r["unknown"] for r in rows] == ["true", "false", ""]
    assert float(rows[0]["unknown_score"]) == 4.25 and float(rows[1]["unknown_score"]) == -3.0
    assert rows[2]["error"].startswith("bad.gif") and rows[0]["top_class"] == "bird"


def test_the_list_marks_unknown_images(qtbot, tmp_path):
    from gui.predict.image_list import ImageList

    images = ImageList()
    qtbot.addWidget(images)
    images.add_pending("/x/astronaut.png")
    images.set_result(0, "/x/astronaut.png", _prediction("a", [0.2, 0.7, 0.1], True, 4.25), None)
    assert "none of these" in images.item(0).text() and "70%" not in images.item(0).text()
