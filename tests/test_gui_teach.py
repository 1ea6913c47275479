"""The Teach tab: a project of class bins, photos dropped on them, automatic training, a test area."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

import engine
from gui.teach.tab import TeachTab

TIMEOUT_MS = 240_000
COLOURS = {"red": (210, 40, 40), "green": (40, 190, 60), "blue": (40, 60, 210)}


def _photos(root: Path, per_class: int = 5, size: int = 64, seed: int = 0) -> Path:
    """``root/<class>/<i>.jpg``: a colour per class with stripes and noise, all different files."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            a = np.clip(np.array(colour) + rng.integers(-35, 36, (size, size, 3)), 0, 255).astype(np.uint8)
            a[:, i * 6 : i * 6 + 4] //= 2  # a stripe somewhere else in each photo
            Image.fromarray(a).save(root / name / f"{name}-{i}.jpg", quality=90)
    return root


def _drop(widget, paths=None, mime=None) -> None:
    if mime is None:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(
        QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, drop)


def _idle(qtbot, tab, condition=lambda: True) -> None:
    def done() -> bool:
        failed = tab.model_panel.accuracy.text()
        assert not failed.startswith("Could not"), failed  # fail now, not at the timeout
        assert tab.message.kind != "error", tab.message.text()
        return not tab.busy and condition()

    qtbot.waitUntil(done, timeout=TIMEOUT_MS)


@pytest.fixture
def tab(qtbot, engine_info, gui_settings):
    tab = TeachTab(gui_settings)
    tab.train_changes = {"epochs": 8}  # seconds, not 40 epochs
    qtbot.addWidget(tab)
    tab.resize(1280, 760)
    tab.engine_ready(engine_info)
    return tab


def test_a_project_of_class_bins_fed_by_drops_reports_duplicates_and_bad_files(
    qtbot, tab, tmp_path, engine_info, gui_settings
):
    photos = _photos(tmp_path / "photos", per_class=3)
    said = []
    tab.status_message.connect(said.append)
    assert "No project yet" in tab.project_label.text()
    tab.new_project(tmp_path / "fruit")
    qtbot.waitUntil(lambda: tab.project is not None, timeout=TIMEOUT_MS)
    assert "changes save themselves" in tab.project_label.text()
    tab.add_class("red")
    tab.add_class("blue")
    _idle(qtbot, tab, lambda: set(tab._bins) == {"red", "blue"})

    # Photos dropped on a bin (a real drag enter, then the drop) go into that class.
    _drop(tab.bin("red"), sorted((photos / "red").iterdir()))
    _idle(qtbot, tab, lambda: tab.project.counts()["red"] == 3)
    assert "3 photos" in tab.bin("red").title.text()
    assert "Added 3 photos to red" in said[-1] and not tab.message.isVisible()  # nothing went wrong
    # thumbnails are decoded in the background and land on the bin's items
    qtbot.waitUntil(lambda: all(not tab.bin("red").strip.item(i).icon().isNull() for i in range(3)), timeout=30_000)

    # A duplicate (same content, even from another class) and an unreadable file each get a line;
    # the good photo in the same drop is still added.
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg at all")
    _drop(tab.bin("blue"), [photos / "red" / "red-0.jpg", bad, photos / "blue" / "blue-0.jpg"])
    _idle(qtbot, tab, lambda: tab.project.counts()["blue"] == 1)
    text = tab.message.text()
    assert "Added 1 photo to blue" in text
    assert "red-0.jpg: already in the project (in red)" in text
    assert "broken.jpg" in text
    lines = text.splitlines()
    assert len(lines) == 3  # the summary, then one line each
    assert tab.message.kind == "warning"

    # Not ready (fewer than MIN_PHOTOS): no training, and the guidance says why.
    assert not tab.project.ready() and tab.checkpoint is None
    assert f"at least {engine.MIN_PHOTOS}" in tab.model_panel.tips.text()

    # A photo's removal (Delete key on the selection) and a move through the bin's menu.
    strip = tab.bin("red").strip
    strip.item(0).setSelected(True)
    qtbot.keyClick(strip, Qt.Key.Key_Delete)
    _idle(qtbot, tab, lambda: tab.project.counts()["red"] == 2)
    tab.bin("red").strip.item(0).setSelected(True)
    menu = tab.bin("red").photo_menu()
    move = next(a for a in menu.actions() if a.text() == "Move to ▸").menu()
    next(a for a in move.actions() if a.text() == "blue").trigger()
    _idle(qtbot, tab, lambda: tab.project.counts() == {"red": 1, "blue": 2})
    # Image data pasted into a class is kept in the project (not in a temporary folder).
    from PySide6.QtGui import QColor, QImage

    image = QImage(40, 30, QImage.Format.Format_RGB32)
    image.fill(QColor(200, 30, 30))
    tab.add_image("red", image)
    _idle(qtbot, tab, lambda: tab.project.counts()["red"] == 2)
    pasted = tab.project.get("red").photos[-1]
    assert Path(pasted.source).parent == tab.project.folder / ".pasted"
    tab.remove_photos("red", [pasted.name])
    _idle(qtbot, tab, lambda: tab.project.counts()["red"] == 1)

    # A photo dragged from one bin to another moves there (and back).
    for source, target in (("blue", "red"), ("red", "blue")):
        strip = tab.bin(source).strip
        _drop(tab.bin(target), mime=strip.mimeData([strip.item(strip.count() - 1)]))
        _idle(qtbot, tab, lambda t=target: tab.project.counts()[t] == 2)
    assert tab.project.counts() == {"red": 1, "blue": 2}
    tab.rename_class("blue", "sky")
    _idle(qtbot, tab, lambda: set(tab._bins) == {"red", "sky"})
    tab.add_class("spare")
    tab.add_files("spare", [photos / "green"])
    _idle(qtbot, tab, lambda: tab.project.counts().get("spare") == 3)
    tab.remove_class("spare")  # its links go; the photos themselves stay
    _idle(qtbot, tab, lambda: set(tab._bins) == {"red", "sky"})
    assert not (tab.project.folder / "spare").exists() and len(list((photos / "green").iterdir())) == 3

    # Save as: the project is copied to another folder and continues there; the original stays.
    first = tab.project.folder
    tab.save_as(tmp_path / "copy")
    _idle(qtbot, tab, lambda: tab.project.folder == (tmp_path / "copy").resolve())
    assert tab.project.counts() == {"red": 1, "sky": 2}
    assert engine.TeachProject.open(first).counts() == {"red": 1, "sky": 2}
    assert str(tmp_path / "copy") in tab.project_label.text()

    # Reopening (a new window, same settings) restores the project, its classes and counts; a
    # photo whose original was deleted meanwhile is named.
    (photos / "blue" / "blue-0.jpg").unlink()
    again = TeachTab(gui_settings)
    qtbot.addWidget(again)
    again.engine_ready(engine_info)
    qtbot.waitUntil(lambda: again.project is not None, timeout=TIMEOUT_MS)
    _idle(qtbot, again)
    assert again.project.folder == tab.project.folder
    assert again.project.counts() == {"red": 1, "sky": 2}
    assert "2 photos" in again.bin("sky").title.text()
    assert again.message.kind == "warning" and "1 photo of this project can no longer be opened" in again.message.text()
    assert "sky/blue-0.jpg" in again.message.text()


def test_a_first_class_without_a_project_creates_one_and_says_where(qtbot, tab):
    tab.add_class("cats")
    _idle(qtbot, tab, lambda: "cats" in tab._bins)
    folder = engine.data_dir() / "teach-projects" / "project-1"
    assert tab.project.folder == folder.resolve()
    assert f"New project in {folder}" in tab.message.text()


def test_import_trains_by_itself_shows_held_out_accuracy_and_tries_photos(
    qtbot, tab, tmp_path, engine_info, gui_settings
):
    photos = _photos(tmp_path / "photos", per_class=5)
    tests = _photos(tmp_path / "tests", per_class=1, seed=7)
    tab.new_project(tmp_path / "colours")
    qtbot.waitUntil(lambda: tab.project is not None, timeout=TIMEOUT_MS)
    # test photos dropped before any model: they wait, then get their answers
    _drop(tab.test_list.viewport(), [tests / "red" / "red-0.jpg"])
    starts = []
    start_training = tab._start_training

    def one_at_a_time():
        assert tab._training is None, "two trainings at once"
        starts.append(tab.project.counts())
        start_training()

    tab._start_training = one_at_a_time
    _drop(tab.bins_box, [photos])  # a folder of class folders dropped beside the bins: imported
    _idle(qtbot, tab, lambda: tab.report is not None)

    assert starts == [{"blue": 5, "green": 5, "red": 5}]  # once, after the import settled (not per chunk)
    run = engine.runs_dir() / "teach-colours"
    assert tab.checkpoint == str(run / "best.pt") and (run / "best.pt").is_file()
    assert tab.project.counts() == {"blue": 5, "green": 5, "red": 5}
    accuracy = tab.model_panel.accuracy.text()
    assert accuracy.startswith(f"Accuracy on {tab.report.images} held-out photos: ")
    assert tab.report.images == 3  # 20% of 15
    assert "training never saw" in tab.model_panel.source.text()
    assert "teach-colours/best.pt" in tab.model_panel.source.text()
    for name in COLOURS:
        assert name in tab.model_panel.per_class.text()
    assert tab.model_panel.predict_button.isEnabled()

    answers = tab.test_answers()
    assert len(answers) == 1 and answers[0].startswith("red-0.jpg\n")
    assert ("red" in answers[0].splitlines()[1]) or "none of these" in answers[0]

    # More test photos, then a correction: "Add to class ▸" adds the photo and trains again.
    opened = []
    tab.open_in_predict.connect(opened.append)
    tab.model_panel.predict_button.click()
    assert opened == [tab.checkpoint]
    _drop(tab.test_list.viewport(), [tests / "green" / "green-0.jpg"])
    _idle(qtbot, tab, lambda: len(tab.test_answers()) == 2 and "waiting" not in tab.test_answers()[1])
    menu = tab.test_list.row_menu(1)
    add = next(a for a in menu.actions() if a.text() == "Add to class ▸").menu()
    first_report = tab.report
    next(a for a in add.actions() if a.text() == "green").trigger()
    _idle(qtbot, tab, lambda: tab.project.counts()["green"] == 6 and tab.report is not first_report)
    assert "classifying" not in "".join(tab.test_answers())

    # A fine-tuning (run by the Train tab) becomes this tab's model when it completes.
    from types import SimpleNamespace

    asked = []
    tab.fine_tune_requested.connect(lambda cfg, out: asked.append(out))
    tab.fine_tune()
    tuned = Path(asked[0]) / "best.pt"
    tuned.parent.mkdir(parents=True)
    tuned.write_bytes((run / "best.pt").read_bytes())  # stands in for the fine-tuned model
    (tuned.parent / "config.json").write_bytes((run / "config.json").read_bytes())
    tab.fine_tune_finished(SimpleNamespace(status="completed", best_checkpoint=str(tuned)))
    _idle(qtbot, tab, lambda: tab.report is not None and tab.report.checkpoint == str(tuned))
    assert tab.checkpoint == str(tuned) and "whole network fine-tuned" in tab.model_panel.source.text()
    assert "Fine-tuned" in tab.model_panel.state.text()

    # Reopened: the newest model (the fine-tuned one), measured again, nothing retrained.
    mtime = (run / "best.pt").stat().st_mtime
    again = TeachTab(gui_settings)
    qtbot.addWidget(again)
    again.engine_ready(engine_info)
    _idle(qtbot, again, lambda: again.report is not None)
    assert again.checkpoint == tab.checkpoint == str(tuned) and again.fine_tuned
    assert (run / "best.pt").stat().st_mtime == mtime
    assert again.project.counts() == {"blue": 5, "green": 6, "red": 5}


def test_fine_tune_hands_a_finetune_config_to_the_train_tab(qtbot, tab, tmp_path):
    tab.new_project(tmp_path / "p")
    qtbot.waitUntil(lambda: tab.project is not None, timeout=TIMEOUT_MS)
    asked = []
    tab.fine_tune_requested.connect(lambda cfg, out: asked.append((cfg, out)))
    tab.fine_tune()
    assert not asked and "at least" in tab.message.text()  # not ready yet
    tab.project.add_class("a")
    tab.project.add_class("b")
    photos = _photos(tmp_path / "photos", per_class=5)
    tab.project.add_photos("a", [photos / "red"])
    tab.project.add_photos("b", [photos / "blue"])
    tab.fine_tune()
    cfg, out = asked[0]
    assert cfg.model_args["transfer"] == "finetune" and cfg.epochs == 10 and cfg.data == str(tab.project.folder)
    assert Path(out).name.startswith("teach-p-finetune-")


def test_the_window_has_a_teach_tab_on_ctrl_5_that_opens_its_model_in_predict_and_fine_tunes_on_train(
    qtbot, gui_settings, tiny_checkpoint, tmp_path
):
    from gui.main_window import MainWindow

    window = MainWindow(gui_settings)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.engine_ready, timeout=TIMEOUT_MS):
        window.show()
    window.shortcut_actions["tab_teach"].trigger()
    assert window.tabs.currentWidget() is window.teach_tab and window.teach_tab.isEnabled()
    window.teach_tab.open_in_predict.emit(str(tiny_checkpoint))  # what "Open in Predict" sends
    assert window.tabs.currentWidget() is window.predict_tab
    qtbot.waitUntil(lambda: window.predict_tab.checkpoint == str(tiny_checkpoint), timeout=TIMEOUT_MS)

    # Fine-tuning is a normal run on the Train tab, from the Teach project's settings.
    photos = _photos(tmp_path / "photos", per_class=5)
    project = engine.TeachProject.create(tmp_path / "p")
    project.import_folder(photos)
    config = engine.teach_config(project, model_args={"transfer": "finetune", "input_size": 224}, epochs=1)
    out = tmp_path / "runs" / "teach-p-finetune"
    assert window.fine_tune(config, str(out))
    assert window.tabs.currentWidget() is window.train_tab and window.train_tab.running
    form = window.train_tab.form.config()
    assert form.model == "efficientnet_lite0" and form.model_args["transfer"] == "finetune"
    assert form.data == str(project.folder) and window.train_tab.output.text() == str(out)
    assert "preset 'My own photos" in window.train_tab.form.preset_info.text()  # what it changes from
    window.train_tab.stop()
    qtbot.waitUntil(lambda: not window.train_tab.running, timeout=TIMEOUT_MS)


def test_the_tab_warms_up_once_when_first_shown(qtbot, tab):
    """The imports the first features pass and training need run when the tab is first seen,
    before photos arrive (beside them they stalled the window), and only once."""
    from gui.background import teach_calls

    assert tab._warm_up_task is None  # never shown yet
    tab.show()
    qtbot.waitUntil(lambda: tab._warm_up_task is not None and tab._warm_up_task.done, timeout=TIMEOUT_MS)
    assert tab._warm_up_task.error is None and teach_calls._warmed.is_set()
    first = tab._warm_up_task
    tab.hide()
    tab.show()
    assert tab._warm_up_task is first


def test_the_model_panel_shows_progress_at_most_every_150_ms_and_the_last_one_always(qtbot):
    """QProgressBar.setValue repaints at once (and the window's pending paints with it): a
    features pass reporting every photo is shown a few times a second, never losing its last."""
    from gui.teach.model_panel import PROGRESS_EVERY_MS, ModelPanel

    panel = ModelPanel()
    qtbot.addWidget(panel)
    panel.set_state("reading photo 1 of 45", 1 / 45, busy=True)
    assert panel.progress.value() == round(1000 / 45)
    for i in range(2, 30):
        panel.set_state(f"reading photo {i} of 45", i / 45, busy=True)
    assert "photo 1 of" in panel.state.text()  # too soon: held back
    qtbot.waitUntil(lambda: "photo 29 of" in panel.state.text(), timeout=10 * PROGRESS_EVERY_MS)
    assert panel.progress.value() == round(1000 * 29 / 45)
    panel.set_state("reading photo 30 of 45", 30 / 45, busy=True)
    panel.set_state("Trained: up to date")  # a state without progress is shown at once, and wins
    assert panel.state.text() == "Trained: up to date" and panel.progress.isHidden()
    qtbot.wait(2 * PROGRESS_EVERY_MS)
    assert panel.state.text() == "Trained: up to date"
