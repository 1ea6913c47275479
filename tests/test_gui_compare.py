"""Side-by-side checkpoints on the Predict tab: two real tiny checkpoints with different input
sizes classify one photo; each column shows its own input at its own size; clicking a class
shows Grad-CAM for that class in every column."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import CLASS_COLOURS, save_image, synthetic_images, tiny_config, tiny_dataset

from gui.background.engine_calls import PredictorCache
from gui.predict.compare import CompareDialog
from gui.predict.tab import PredictTab

TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def second_checkpoint(tmp_path_factory) -> Path:
    """A tutorial_net trained on 24x24 images (the session's tiny_checkpoint sees 16x16)."""
    from engine import train

    out = tmp_path_factory.mktemp("compare_run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIFAR_STUDIO_CACHE", str(out / "cache"))
        result = train(tiny_config(epochs=1, seed=1), out / "run24", dataset=tiny_dataset(size=24))
    assert result.status == "completed", result.message
    return Path(result.best_checkpoint)


@pytest.fixture
def red_photo(tmp_path) -> Path:
    images, _labels = synthetic_images(["red"], per_class=1, size=40, seed=5)
    return save_image(tmp_path / "red.png", images[0])


def test_two_checkpoints_side_by_side_with_their_own_input_sizes(qtbot, tiny_checkpoint, second_checkpoint, red_photo):
    dialog = CompareDialog(PredictorCache(), [str(tiny_checkpoint), str(second_checkpoint)], str(red_photo))
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.compared, timeout=TIMEOUT_MS):
        assert dialog.compare()
    assert [c.checkpoint for c in dialog.columns] == [str(tiny_checkpoint), str(second_checkpoint)]
    sizes = []
    for column in dialog.columns:
        p = column.item.prediction
        assert column.item.error is None
        assert set(p.probabilities) == set(CLASS_COLOURS)
        assert abs(sum(p.probabilities.values()) - 1) < 1e-4
        assert [name for name, _ in column.bars.ranked] == [name for name, _ in p.ranked]
        assert column.headline.text().startswith(p.top)
        assert not column.input.pixmap().isNull()
        sizes.append(p.input_image.shape[:2])
        assert f"({p.input_image.shape[1]}×{p.input_image.shape[0]})" in column.caption.text()
        assert "TTA: flips" in column.caption.text()  # each answer says how it was averaged
        assert column.headline.toolTip().startswith(f"Model {Path(p.checkpoint).name}")
    assert sizes == [(16, 16), (24, 24)]

    # Clicking a class (not the top one) in one column explains that class in every column.
    column = dialog.columns[0]
    other = column.bars.ranked[-1][0]
    y = 2 + (len(column.bars.ranked) - 1) * column.bars._row_height() + 3
    assert column.bars.class_at(y) == other
    with qtbot.waitSignal(dialog.explained, timeout=TIMEOUT_MS):
        with qtbot.waitSignal(column.bars.class_clicked) as clicked:
            from PySide6.QtCore import QPoint, Qt

            qtbot.mouseClick(column.bars, Qt.MouseButton.LeftButton, pos=QPoint(20, y))
    assert clicked.args == [other]
    for c in dialog.columns:
        assert c.heat_class == other
        assert c.heat is not None and not isinstance(c.heat, str)
        assert c.heat.shape == c.item.prediction.input_image.shape[:2]
        assert f"Where it looks for {other}" in c.caption.text()


def test_compare_needs_two_checkpoints_and_a_photo(qtbot, tiny_checkpoint, tmp_path):
    dialog = CompareDialog(PredictorCache(), [str(tiny_checkpoint)], str(tmp_path / "missing.png"))
    qtbot.addWidget(dialog)
    assert not dialog.compare()
    assert "2 to 4" in dialog.message.text()
    for i in range(5):
        dialog.add_checkpoint(str(tmp_path / f"c{i}.pt"))
    assert len(dialog.checkpoints) == 4 and "At most 4" in dialog.message.text()
    assert not dialog.compare()
    assert "missing.png" in dialog.message.text()


def test_a_broken_checkpoint_gets_its_own_error(qtbot, tiny_checkpoint, red_photo, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    dialog = CompareDialog(PredictorCache(), [str(tiny_checkpoint), str(bad)], str(red_photo))
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.compared, timeout=TIMEOUT_MS):
        dialog.compare()
    good, broken = dialog.columns
    assert good.item.error is None and good.item.prediction.top
    assert broken.item.error and broken.headline.text() == "Cannot classify"


def test_predict_tab_opens_the_comparison_on_the_selected_photo(
    qtbot, engine_info, gui_settings, tiny_checkpoint, second_checkpoint, red_photo
):
    tab = PredictTab(gui_settings)
    qtbot.addWidget(tab)
    tab.engine_ready(engine_info)
    with qtbot.waitSignal(tab.classification_finished, timeout=TIMEOUT_MS):
        tab.set_checkpoint(str(tiny_checkpoint))
    with qtbot.waitSignal(tab.classification_finished, timeout=TIMEOUT_MS):
        tab.add_paths([str(red_photo)])
    dialog = tab.open_compare()
    assert dialog.checkpoints == [str(tiny_checkpoint)] and dialog.image.text() == str(red_photo)
    dialog.add_checkpoint(str(second_checkpoint))
    with qtbot.waitSignal(dialog.compared, timeout=TIMEOUT_MS):
        dialog.compare()
    assert all(c.item.prediction is not None for c in dialog.columns)


def test_predict_tab_grad_cam_for_a_clicked_class(qtbot, engine_info, gui_settings, tiny_checkpoint, red_photo):
    import numpy as np

    import engine

    tab = PredictTab(gui_settings)
    qtbot.addWidget(tab)
    tab.engine_ready(engine_info)
    with qtbot.waitSignal(tab.classification_finished, timeout=TIMEOUT_MS):
        tab.set_checkpoint(str(tiny_checkpoint))
    with qtbot.waitSignal(tab.classification_finished, timeout=TIMEOUT_MS):
        tab.add_paths([str(red_photo)])
    entry = tab.entries[0]
    classes = list(entry.prediction.probabilities)
    other = next(c for c in classes if c != entry.prediction.top)
    with qtbot.waitSignal(tab.view.bars.class_clicked) as clicked:
        bars = tab.view.bars
        row = [name for name, _ in bars.ranked].index(other)
        from PySide6.QtCore import QPoint, Qt

        qtbot.mouseClick(bars, Qt.MouseButton.LeftButton, pos=QPoint(20, 2 + row * bars._row_height() + 3))
    assert clicked.args == [other]
    qtbot.waitUntil(lambda: entry.heat is not None, timeout=TIMEOUT_MS)
    expected, cls = engine.Predictor(str(tiny_checkpoint)).explain(entry.prediction.input_image, classes.index(other))
    assert cls == classes.index(other)
    assert np.allclose(entry.heat, expected, atol=1e-5)
    assert tab.view.heatmap.isChecked()
    assert tab.view.input_caption.text() == f"Where the model looks for {other}"


def test_the_file_dialogs_offer_every_format_the_engine_reads():
    """HEIC (iPhone) and AVIF photos, in either case: the dialogs used a list of their own."""
    import engine
    from gui.predict.compare import image_filter

    text = image_filter()
    assert all(f"*{e}" in text and f"*{e.upper()}" in text for e in engine.IMAGE_EXTENSIONS)
    if importlib.util.find_spec("pillow_heif") is not None:
        assert "*.heic" in text and "*.HEIC" in text
