"""The Predict tab: dropped files and folders are classified in the worker thread; a bad file
shows its error while the others still classify; TTA re-classifies; Grad-CAM; paste; CSV."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication

import engine
from gui.predict.tab import PredictTab

TIMEOUT_MS = 120_000


def _tab(qtbot, engine_info, settings, checkpoint) -> PredictTab:
    tab = PredictTab(settings)
    qtbot.addWidget(tab)
    tab.resize(1200, 760)
    tab.show()
    tab.engine_ready(engine_info)
    with qtbot.waitSignal(tab.picker.loaded, timeout=TIMEOUT_MS):
        tab.set_checkpoint(str(checkpoint))
    return tab


def _drop(widget, paths) -> None:
    """What a file manager does: a drag enters the tab, then drops there."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(
        QPoint(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, drop)


def _wait_idle(qtbot, tab, count):
    qtbot.waitUntil(
        lambda: not tab.busy and len(tab.entries) == count and all(e.prediction is not None for e in tab.entries),
        timeout=TIMEOUT_MS,
    )


def test_dropped_images_get_probabilities(qtbot, engine_info, gui_settings, tiny_checkpoint, tiny_image_folder):
    tab = _tab(qtbot, engine_info, gui_settings, tiny_checkpoint)
    files = [tiny_image_folder / "red" / "000.png", tiny_image_folder / "blue" / "001.png"]
    _drop(tab, files)
    _wait_idle(qtbot, tab, 2)
    for entry, want in zip(tab.entries, ["red", "blue"], strict=True):
        p = entry.prediction
        assert p.error is None
        assert set(p.probabilities) == {"blue", "green", "red"}
        assert abs(sum(p.probabilities.values()) - 1) < 1e-4
        assert p.top == want  # the colours are easy
        assert p.input_image is not None and p.input_image.shape == (16, 16, 3)  # what the model saw
    # the detail view shows the selected image
    tab.list.setCurrentRow(0)
    assert tab.view.headline.text().startswith("red")
    assert tab.view.bars.ranked[0][0] == "red"
    assert "red" in tab.list.item(0).text()
    assert tab.table.rowCount() == 2 and tab.table.item(0, 1).text() == "red"


def test_bad_file_shows_its_error_and_the_rest_still_classify(
    qtbot, engine_info, gui_settings, tiny_checkpoint, tiny_image_folder, tmp_path
):
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("not an image")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes((tiny_image_folder / "green" / "002.png").read_bytes()[:60])
    good = tiny_image_folder / "green" / "003.png"
    tab = _tab(qtbot, engine_info, gui_settings, tiny_checkpoint)
    _drop(tab, [not_image, good, truncated])
    _wait_idle(qtbot, tab, 3)
    bad1, ok, bad2 = (e.prediction for e in tab.entries)
    assert bad1.error and "notes.jpg" in bad1.error
    assert bad2.error and "cut.png" in bad2.error
    assert ok.error is None and ok.top == "green"
    assert "⚠" in tab.list.item(0).text()
    assert tab.list.currentRow() == 1  # the detail view starts on a good result
    tab.list.setCurrentRow(0)
    assert tab.view.hint.kind == "error" and "notes.jpg" in tab.view.hint.text()
    out = tab.export_csv(str(tmp_path / "results.csv"))
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [r["top_class"] for r in rows] == ["", "green", ""]
    assert rows[0]["error"] and not rows[1]["error"] and float(rows[1]["green"]) > 0.3
    # each answered row says which checkpoint, view and TTA level it came from
    assert (rows[1]["checkpoint"], rows[1]["view"], rows[1]["tta"]) == (str(tiny_checkpoint), "full", "1")
    assert rows[0]["checkpoint"] == "" and rows[0]["tta"] == ""


def test_folder_drop_tta_and_checkpoint_files(
    qtbot, engine_info, gui_settings, tiny_checkpoint, tiny_image_folder, tmp_path
):
    folder = tmp_path / "photos"
    shutil.copytree(tiny_image_folder / "blue", folder / "blue")
    tab = _tab(qtbot, engine_info, gui_settings, tiny_checkpoint)
    _drop(tab, [folder])
    _wait_idle(qtbot, tab, 12)
    before = [e.prediction.probabilities["blue"] for e in tab.entries]
    # Photos start at the engine's photo-mode default: each averaged with its mirror image.
    assert tab.tta.level == engine.DEFAULT_PHOTO_TTA == 1
    assert {e.prediction.tta for e in tab.entries} == {1}
    assert tab.view.source_label.text() == f"Model {Path(tiny_checkpoint).name} · whole photo · TTA: flips"
    tab.tta.set_level(2)  # re-classifies everything with mirrors and shifts
    qtbot.waitUntil(
        lambda: (
            not tab.busy
            and all(e.prediction is not None for e in tab.entries)
            and [e.prediction.probabilities["blue"] for e in tab.entries] != before
        ),
        timeout=TIMEOUT_MS,
    )
    assert len(tab.entries) == 12 and {e.prediction.tta for e in tab.entries} == {2}
    # a dropped checkpoint file is opened, not classified
    copy = tmp_path / "other.pt"
    shutil.copy(tiny_checkpoint, copy)
    with qtbot.waitSignal(tab.picker.loaded, timeout=TIMEOUT_MS):
        _drop(tab, [copy])
    assert tab.checkpoint == str(copy) and len(tab.entries) == 12
    assert gui_settings.recent_checkpoints[0] == str(copy)


def test_gradcam_overlay_and_pasted_image(qtbot, engine_info, gui_settings, tiny_checkpoint, tiny_image_folder):
    tab = _tab(qtbot, engine_info, gui_settings, tiny_checkpoint)
    image = QImage(str(tiny_image_folder / "red" / "004.png"))
    mime = QMimeData()
    mime.setImageData(image)
    clipboard = QGuiApplication.clipboard()
    clipboard.setMimeData(mime)
    # The clipboard owns `mime` now; PySide6 6.11 segfaults at interpreter exit if it still
    # holds it when the QApplication goes away, so empty it once the tab has read it.
    tab.paste()
    clipboard.clear()
    _wait_idle(qtbot, tab, 1)
    entry = tab.entries[0]
    assert Path(entry.path).name == "pasted-1.png" and entry.prediction.top == "red"
    plain = tab.view.model_input.pixmap().toImage()
    tab.view.heatmap.setChecked(True)
    qtbot.waitUntil(lambda: entry.heat is not None, timeout=TIMEOUT_MS)
    heat = entry.heat
    assert heat.shape == (16, 16) and np.all((heat >= 0) & (heat <= 1))
    assert tab.view.model_input.pixmap().toImage() != plain  # the overlay is drawn


def test_bad_checkpoint_shows_its_one_line_error(qtbot, engine_info, gui_settings, tmp_path):
    tab = PredictTab(gui_settings)
    qtbot.addWidget(tab)
    tab.engine_ready(engine_info)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00garbage" * 10)
    with qtbot.waitSignal(tab.picker.load_failed, timeout=TIMEOUT_MS) as blocker:
        tab.set_checkpoint(str(junk))
    message = blocker.args[0]
    assert message.startswith("junk.pt:") and "\n" not in message
    assert tab.message.kind == "error" and tab.checkpoint is None


def test_open_in_predict_from_the_window(qtbot, gui_settings, tiny_checkpoint, tiny_image_folder):
    from gui.main_window import MainWindow

    window = MainWindow(gui_settings, images=[str(tiny_image_folder / "blue" / "000.png")])
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.engine_ready, timeout=TIMEOUT_MS):
        window.show()
    assert window.tabs.currentWidget() is window.predict_tab  # images on the command line open here
    window.show_tab("train")
    window.train_tab.open_checkpoint.emit(str(tiny_checkpoint))  # what "Open in Predict tab" sends
    assert window.tabs.currentWidget() is window.predict_tab
    tab = window.predict_tab
    _wait_idle(qtbot, tab, 1)
    assert tab.checkpoint == str(tiny_checkpoint) and tab.entries[0].prediction.top == "blue"
    assert window.evaluate_tab.picker.current_path() == str(tiny_checkpoint)  # Evaluate follows Predict


def test_clear_mid_job_retires_it_so_no_stale_result_lands(
    qtbot, engine_info, gui_settings, tiny_checkpoint, tiny_image_folder
):
    tab = _tab(qtbot, engine_info, gui_settings, tiny_checkpoint)
    tab.add_paths([str(tiny_image_folder)])  # a folder: listed first, then classified in chunks
    qtbot.waitUntil(lambda: len(tab.entries) > 0, timeout=TIMEOUT_MS)
    old_task = tab._classifying.task
    tab.clear()
    assert old_task is not None and old_task.state.is_interruption_requested()
    red = str(tiny_image_folder / "red" / "000.png")
    tab.add_paths([red])
    _wait_idle(qtbot, tab, 1)
    qtbot.waitUntil(lambda: old_task.done, timeout=TIMEOUT_MS)
    qtbot.wait(50)  # anything the old job still had queued would have been delivered by now
    assert [e.path for e in tab.entries] == [red] and tab.list.count() == 1
    assert tab.entries[0].prediction.top == "red"


def test_results_land_on_their_own_image_while_the_table_is_sorted(qtbot):
    """Sorting the results table mid-job must not send a result to another image's row."""
    from PySide6.QtCore import Qt

    import engine
    from gui.predict.results_table import ResultsTable

    classes = ["cat", "dog"]
    table = ResultsTable()
    qtbot.addWidget(table)
    table.set_classes(classes)
    paths = ["/p/c.jpg", "/p/a.jpg", "/p/b.jpg"]
    table.add_pending(paths)
    table.sortItems(0, Qt.SortOrder.AscendingOrder)  # a.jpg, b.jpg, c.jpg: rows no longer match the list
    result = engine.Prediction(paths[0], probabilities={"cat": 0.2, "dog": 0.8}, unknown=False, unknown_score=-30.0)
    table.set_row(0, paths[0], result)
    rows = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    assert table.item(rows["c.jpg"], 1).text() == "dog"
    assert table.item(rows["a.jpg"], 1).text() == "…" and table.item(rows["b.jpg"], 1).text() == "…"
    assert table.rowCount() == 3


def test_the_model_loads_when_a_model_tab_is_first_shown(qtbot, gui_settings, tiny_checkpoint):
    """Started on the Train tab, the window does not load the Predict tab's model at once (the
    load would compete with the user's first task for the GUI thread); the first visit to
    Predict or Evaluate loads it, and Evaluate follows it as before."""
    from gui.main_window import MainWindow

    gui_settings.last_checkpoint = str(tiny_checkpoint)
    window = MainWindow(gui_settings)
    qtbot.addWidget(window)
    window.show_tab("train")
    with qtbot.waitSignal(window.engine_ready, timeout=TIMEOUT_MS):
        window.show()
    tab = window.predict_tab
    assert tab.initial_checkpoint == str(tiny_checkpoint)
    assert not tab.picker.loading and tab.checkpoint is None
    with qtbot.waitSignal(tab.checkpoint_loaded, timeout=TIMEOUT_MS):
        window.show_tab("evaluate")
    assert tab.checkpoint == str(tiny_checkpoint) and tab.initial_checkpoint is None
    assert window.evaluate_tab.picker.current_path() == str(tiny_checkpoint)
    # Evaluate shows what Predict loaded: the file is not read a second time.
    assert window.evaluate_tab.picker.info is tab.picker.info and not window.evaluate_tab.picker.loading


def test_the_evaluate_tab_describes_the_bundled_model_it_lists_first(qtbot, gui_settings):
    """With no checkpoint of the user's yet, both tabs start on the bundled model; the Evaluate
    tab's summary line describes it once the Predict tab has loaded it."""
    from gui.main_window import MainWindow

    window = MainWindow(gui_settings)
    qtbot.addWidget(window)
    window.show_tab("evaluate")
    with qtbot.waitSignals([window.engine_ready, window.predict_tab.checkpoint_loaded], timeout=TIMEOUT_MS):
        window.show()
    picker = window.evaluate_tab.picker
    assert picker.current_path() == window.predict_tab.checkpoint
    assert picker.info is window.predict_tab.picker.info and picker.summary.text().startswith(picker.info.summary)


def test_the_model_loads_at_once_when_the_predict_tab_is_in_front(qtbot, gui_settings, tiny_checkpoint):
    from gui.main_window import MainWindow

    gui_settings.last_checkpoint = str(tiny_checkpoint)
    window = MainWindow(gui_settings)
    qtbot.addWidget(window)
    window.show_tab("predict")
    with qtbot.waitSignals([window.engine_ready, window.predict_tab.checkpoint_loaded], timeout=TIMEOUT_MS):
        window.show()
    assert window.predict_tab.checkpoint == str(tiny_checkpoint)


def test_a_remembered_bundled_model_gives_way_to_the_new_default(qtbot, gui_settings, tmp_path):
    """After an upgrade the Predict tab starts on the current default bundled model, not the
    previous default the settings remember; a checkpoint of the user's own stays chosen."""
    from types import SimpleNamespace

    from gui.predict.tab import PredictTab

    default, previous, own = (tmp_path / n for n in ("new.pt", "old.pt", "mine.pt"))
    for p in (default, previous, own):
        p.write_bytes(b"x")
    info = SimpleNamespace(torch_device="cpu", default_checkpoint=str(default), bundled_checkpoints=[str(previous)])
    for remembered, expected in ((previous, default), (own, own)):
        gui_settings.last_checkpoint = str(remembered)
        tab = PredictTab(gui_settings)
        qtbot.addWidget(tab)
        tab.engine_ready(info, load_checkpoint=False)
        assert tab.initial_checkpoint == str(expected)


def test_a_dropped_photo_is_decoded_once_for_the_list_and_the_view(qtbot, tiny_checkpoint, tmp_path, monkeypatch):
    """The classify worker decodes each photo once at the view's size and makes the thumbnail from
    it; the view shows that decode, so the GUI thread decodes nothing (a 12 MP JPEG: 43-56 ms)."""
    from conftest import save_image

    from gui.background import prediction_calls
    from gui.background.engine_calls import PredictorCache
    from gui.predict import prediction_view
    from gui.predict.prediction_view import PredictionView

    photos = [
        save_image(tmp_path / f"{i}.png", np.full((600, 800, 3), 60 * i, np.uint8)) for i in range(3)
    ]  # fmt: skip
    decodes = []
    real = prediction_calls.load_photo
    monkeypatch.setattr(prediction_calls, "load_photo", lambda path, side: decodes.append(side) or real(path, side))

    class State:
        def __init__(self):
            self.results = []

        def is_interruption_requested(self):
            return False

        def set_partial_result(self, value):
            self.results.append(value)

        def set_progress(self, fraction, text=""):
            pass

    state = State()
    prediction_calls.predict_files(
        state, PredictorCache(), str(tiny_checkpoint), [str(p) for p in photos], expand=False
    )
    assert decodes == [prediction_calls.PREVIEW_SIZE] * 3
    first = state.results[0]
    assert max(first.preview.width(), first.preview.height()) == prediction_calls.PREVIEW_SIZE
    assert max(first.thumbnail.width(), first.thumbnail.height()) == prediction_calls.THUMBNAIL_SIZE

    monkeypatch.setattr(prediction_view, "load_photo", lambda *a: pytest.fail("decoded in the GUI thread"))
    view = PredictionView()
    qtbot.addWidget(view)
    view.show_item(first.path, first.prediction, None, first.preview)
    assert view.photo.pixmap() is not None and not view.photo.pixmap().isNull()
