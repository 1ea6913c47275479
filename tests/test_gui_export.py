"""The export dialog (File menu and Runs tab): a real tiny checkpoint exported in the background,
the file and its JSON sidecar written, a one-line result; bad input is refused with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gui.widgets.export_dialog import ExportDialog

TIMEOUT_MS = 180_000


@pytest.mark.parametrize("fmt", ["torchscript", "safetensors", "onnx"])
def test_export_writes_the_model_and_its_metadata(qtbot, tiny_checkpoint, tmp_path, fmt):
    import engine

    dialog = ExportDialog(str(tiny_checkpoint))
    qtbot.addWidget(dialog)
    dialog.format.setCurrentText(fmt)
    suffix = engine.EXPORT_FORMATS[fmt]
    assert dialog.out.text().endswith(suffix)  # suggested beside the checkpoint, with the format's suffix
    out = tmp_path / f"model{suffix}"
    dialog.out.setText(str(out))
    with qtbot.waitSignal(dialog.exported, timeout=TIMEOUT_MS) as blocker:
        assert dialog.export()
    result = blocker.args[0]
    assert out.is_file() and out.stat().st_size > 0
    assert result.path == str(out) and result.format == fmt
    meta = json.loads(open(result.sidecar, encoding="utf-8").read())  # written beside the file
    assert Path(result.sidecar).parent == tmp_path
    assert meta["classes"] == ["blue", "green", "red"]
    text = dialog.result_label.text()
    assert text.startswith(f"Exported {fmt} to {out}") and "\n" not in text
    if result.max_prob_diff is not None:
        assert result.max_prob_diff < 1e-4
    qtbot.waitUntil(lambda: dialog.export_button.isEnabled())


def test_export_refuses_a_missing_checkpoint(qtbot, tmp_path):
    dialog = ExportDialog(str(tmp_path / "nothing.pt"))
    qtbot.addWidget(dialog)
    assert not dialog.export()
    assert "nothing.pt is not a file" in dialog.message.text()
    assert dialog.checkpoint.edit.property("invalid")


def test_export_failure_is_one_line(qtbot, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    dialog = ExportDialog(str(bad))
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(
        dialog._task.task.finished if dialog._task.task else dialog.exported, timeout=1, raising=False
    ):
        pass
    assert dialog.export()
    qtbot.waitUntil(lambda: dialog.message.text() != "", timeout=TIMEOUT_MS)
    assert dialog.message.text().startswith("Export failed:") and "\n" not in dialog.message.text()
    assert dialog.result is None


def test_evaluation_report_as_png(qtbot, engine_info, gui_settings, tiny_checkpoint, tiny_image_folder, tmp_path):
    from PySide6.QtGui import QImage

    from gui.evaluate.tab import EvaluateTab

    tab = EvaluateTab(gui_settings)
    qtbot.addWidget(tab)
    tab.engine_ready(engine_info)
    assert not tab.export_png_button.isEnabled()
    with qtbot.waitSignal(tab.picker.loaded, timeout=TIMEOUT_MS):
        tab.set_checkpoint(str(tiny_checkpoint))
    tab.data.set_value(str(tiny_image_folder))
    tab.split.setCurrentIndex(tab.split.findData("all"))
    with qtbot.waitSignal(tab.evaluation_finished, timeout=TIMEOUT_MS):
        assert tab.evaluate()
    assert tab.export_png_button.isEnabled()
    path = tab.export_png(str(tmp_path / "report.png"))
    image = QImage(path)
    assert not image.isNull()
    # Wide enough for the whole table and the 3x3 matrix side by side, and not blank.
    assert image.width() > tab.metrics.horizontalHeader().length() + 3 * 48
    assert image.height() > 4 * 20
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 10


def test_training_settings_save_and_load_as_the_cli_reads_them(
    qtbot, engine_info, gui_settings, tiny_image_folder, tmp_path
):
    from conftest import tiny_config

    import engine
    from engine.cli import program as cli
    from gui.train.config_files import load_training_settings, save_training_settings
    from gui.train.tab import TrainTab

    tab = TrainTab(gui_settings)
    qtbot.addWidget(tab)
    tab.engine_ready(engine_info)
    wanted = tiny_config(data=str(tiny_image_folder), epochs=7, lr=0.0125)
    tab.form.set_config(wanted)
    path = save_training_settings(tab, str(tmp_path / "settings.json"))
    assert engine.TrainConfig.load(path) == tab.form.config()
    args = cli.build_parser().parse_args(["train", "--config", path])  # the CLI takes the same file
    assert args.config == path

    tab.form.set_config(tiny_config(data=str(tiny_image_folder), epochs=2, lr=0.5))
    assert load_training_settings(tab, path)
    assert tab.form.config().epochs == 7 and tab.form.config().lr == 0.0125

    bad = tmp_path / "bad.json"
    bad.write_text('{"epochs": "many"}')
    assert not load_training_settings(tab, str(bad))
    assert "bad.json" in tab.message.text() and "epochs" in tab.message.text()
    assert tab.form.config().epochs == 7  # the form is unchanged


def test_file_menu_exports_the_predict_tabs_checkpoint(qtbot, gui_settings, tiny_checkpoint):
    from gui.main_window import MainWindow

    window = MainWindow(gui_settings)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.engine_ready, timeout=TIMEOUT_MS):
        window.show()
    with qtbot.waitSignal(window.predict_tab.checkpoint_loaded, timeout=TIMEOUT_MS):
        window.predict_tab.set_checkpoint(str(tiny_checkpoint))
    file_menu = window.menuBar().actions()[0].menu()
    assert {window.export_action, window.save_config_action, window.load_config_action} <= set(file_menu.actions())
    window.export_action.trigger()
    assert window.export_dialog.isVisible()
    assert window.export_dialog.checkpoint.text() == str(tiny_checkpoint)
