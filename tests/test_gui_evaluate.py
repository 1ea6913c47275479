"""The Evaluate tab: accuracy, per-class metrics, confusion matrix, the mistakes gallery
(filtered by clicking a confusion cell) and the JSON / CSV exports."""

from __future__ import annotations

import csv
import json

from conftest import save_image, synthetic_images

from gui.evaluate.tab import EvaluateTab

TIMEOUT_MS = 120_000


def _mislabelled_folder(root):
    """blue/ holds 4 blue and 3 *red* images; green/ and red/ are right: 3 sure mistakes."""
    images, labels = synthetic_images(["blue", "green", "red"], per_class=4, size=16, seed=7)
    names = ["blue", "green", "red"]
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        save_image(root / names[label] / f"{i:03d}.png", image)
    red, _ = synthetic_images(["red"], per_class=3, size=16, seed=8)
    for i, image in enumerate(red):
        save_image(root / "blue" / f"really-red-{i}.png", image)
    return root


def test_evaluation_report_gallery_and_exports(qtbot, engine_info, gui_settings, tiny_checkpoint, tmp_path):
    data = _mislabelled_folder(tmp_path / "eval")
    tab = EvaluateTab(gui_settings)
    qtbot.addWidget(tab)
    tab.resize(1200, 760)
    tab.show()
    tab.engine_ready(engine_info)
    with qtbot.waitSignal(tab.picker.loaded, timeout=TIMEOUT_MS):
        tab.set_checkpoint(str(tiny_checkpoint))
    tab.data.set_value(str(data))
    tab.split.setCurrentIndex(tab.split.findData("all"))
    with qtbot.waitSignal(tab.evaluation_finished, timeout=TIMEOUT_MS):
        assert tab.evaluate()
    assert tab.message.kind == "", tab.message.text()
    r = tab.report.result
    assert len(r.labels) == 15 and int(r.confusion.sum()) == 15
    assert tab.accuracy.text().startswith(f"Accuracy {r.accuracy:.2%}")
    assert tiny_checkpoint.name in tab.accuracy.text() and "TTA" in tab.accuracy.text()  # its source, said
    assert tab.metrics.rowCount() == 3 and tab.metrics.item(0, 0).text() == "blue"
    assert tab.confusion.item(2, 2).text() == str(int(r.confusion[2, 2]))

    wrong = int((r.predictions != r.labels).sum())
    assert wrong >= 3 and tab.gallery.count() == wrong
    confidences = [float(r.probabilities[i, r.predictions[i]]) for i in tab.gallery.shown]
    assert confidences == sorted(confidences, reverse=True)  # most confident mistakes first
    assert "→" in tab.gallery.item(0).text() and "%" in tab.gallery.item(0).text()

    # clicking the (true blue, predicted red) cell shows only those mistakes
    tab.confusion.cellClicked.emit(0, 2)
    assert tab.gallery.pair == (0, 2)
    assert tab.gallery.count() == int(r.confusion[0, 2]) >= 3
    assert all(tab.gallery.item(i).text().startswith("blue → red") for i in range(tab.gallery.count()))
    assert tab.show_all_button.isEnabled()
    tab.show_all_button.click()
    assert tab.gallery.count() == wrong

    report = json.loads(open(tab.export_json(str(tmp_path / "report.json")), encoding="utf-8").read())
    assert report["accuracy"] == r.accuracy and report["classes"] == ["blue", "green", "red"]
    assert len(report["mistakes"]) == wrong and report["confusion_matrix"][0][2] >= 3
    rows = list(csv.reader(open(tab.export_csv(str(tmp_path / "report.csv")), encoding="utf-8")))
    assert rows[0][:5] == ["class", "precision", "recall", "f1", "support"]
    assert [row[0] for row in rows[1:]] == ["blue", "green", "red", "accuracy"]


def test_evaluation_error_is_a_message(qtbot, engine_info, gui_settings, tiny_checkpoint, tmp_path):
    tab = EvaluateTab(gui_settings)
    qtbot.addWidget(tab)
    tab.engine_ready(engine_info)
    tab.set_checkpoint(str(tiny_checkpoint))
    tab.data.set_value(str(tmp_path / "nowhere"))
    with qtbot.waitSignal(tab.evaluation_finished, timeout=TIMEOUT_MS):
        tab.evaluate()
    assert tab.message.kind == "error" and "no such file or folder" in tab.message.text()
    assert tab.report is None and tab.run_button.isEnabled()


def test_evaluation_shows_the_engines_progress(qtbot, engine_info, gui_settings, tiny_checkpoint, tmp_path):
    data = _mislabelled_folder(tmp_path / "eval")
    tab = EvaluateTab(gui_settings)
    qtbot.addWidget(tab)
    tab.show()
    tab.engine_ready(engine_info)
    with qtbot.waitSignal(tab.picker.loaded, timeout=TIMEOUT_MS):
        tab.set_checkpoint(str(tiny_checkpoint))
    tab.data.set_value(str(data))
    tab.split.setCurrentIndex(tab.split.findData("all"))
    seen = []
    original = tab._on_progress

    def record(fraction, text):
        seen.append((fraction, text))
        original(fraction, text)
        if fraction is not None:  # a determinate bar, with the engine's words on it
            assert tab.busy.maximum() == 1000 and tab.busy.value() == round(fraction * 1000)
            assert tab.busy.format() == text

    tab._on_progress = record
    with qtbot.waitSignal(tab.evaluation_finished, timeout=TIMEOUT_MS):
        assert tab.evaluate()
    assert tab.message.kind == "", tab.message.text()
    fractions = [f for f, _t in seen if f is not None]
    assert fractions and fractions[-1] == 1.0 and all(0 <= f <= 1 for f in fractions)
    assert all(t for _f, t in seen)
