"""The Train tab: form <-> TrainConfig, validation, schedule preview, and real (tiny) runs:
curves and checkpoints arrive, Stop keeps the checkpoints, Resume continues, closing the
window mid-run stops cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import tiny_config

from gui.main_window import MainWindow
from gui.train.tab import TrainTab

RUN_TIMEOUT_MS = 180_000  # generous: CI machines and a busy 2-core box are slow


def _configured_tab(qtbot, engine_info, settings, folder, **changes) -> TrainTab:
    tab = TrainTab(settings)
    qtbot.addWidget(tab)
    tab.engine_ready(engine_info)
    tab.ensure_plots()  # the main window does this after its first paint
    tab.form.set_config(tiny_config(data=str(folder), **changes))
    return tab


def _wait_finished(qtbot, tab: TrainTab):
    qtbot.waitUntil(lambda: not tab.running and tab.last_outcome is not None, timeout=RUN_TIMEOUT_MS)
    return tab.last_outcome


def test_form_round_trips_a_config(qtbot, engine_info, gui_settings, tiny_image_folder):
    tab = _configured_tab(
        qtbot,
        engine_info,
        gui_settings,
        tiny_image_folder,
        epochs=7,
        lr=0.02,
        schedule="multistep",
        milestones=[3.0, 5.0],
        gamma=0.5,
        model="resnet20",
        model_args={"block": "e"},
        ema_decay=0.99,
        tta=1,
        classes=["blue", "red"],
    )
    cfg = tab.form.config()
    assert cfg is not None, tab.form.error
    assert (cfg.epochs, cfg.lr, cfg.schedule, cfg.milestones, cfg.gamma) == (7, 0.02, "multistep", [3.0, 5.0], 0.5)
    assert cfg.model == "resnet20" and cfg.model_args == {"block": "e"}
    assert cfg.ema_decay == 0.99 and cfg.tta == 1 and cfg.classes == ["blue", "red"]
    assert cfg.data == str(tiny_image_folder)
    tab.form.model.set_model_name("lenet5")  # block variants belong to the CIFAR ResNets only
    assert tab.form.config().model_args == {}


def test_transfer_mode_shows_for_the_pretrained_backbone_and_round_trips(
    qtbot, engine_info, gui_settings, tiny_image_folder
):
    tab = _configured_tab(
        qtbot, engine_info, gui_settings, tiny_image_folder, model="efficientnet_lite0",
        model_args={"transfer": "finetune", "input_size": 96}, backbone_lr_scale=0.2,
    )  # fmt: skip
    picker = tab.form.model
    assert picker.transfer_combo.isVisibleTo(tab) and picker.transfer() == "finetune"
    cfg = tab.form.config()
    assert cfg is not None, tab.form.error
    assert cfg.model_args == {"transfer": "finetune", "input_size": 96} and cfg.backbone_lr_scale == 0.2
    picker.set_transfer("head")
    assert tab.form.config().model_args == {"transfer": "head", "input_size": 96}
    picker.set_model_name("resnet20")  # the transfer mode belongs to pretrained backbones only
    assert not picker.transfer_combo.isVisibleTo(tab) and tab.form.config().model_args == {}


def test_the_start_from_choice_fits_the_form_and_explains_itself(qtbot, engine_info, gui_settings, tiny_image_folder):
    """Its text is not cut at the form's width (the whole explanation is in each item's tooltip)."""
    from PySide6.QtCore import Qt

    tab = _configured_tab(
        qtbot, engine_info, gui_settings, tiny_image_folder, model="efficientnet_lite0",
        model_args={"transfer": "head", "input_size": 96},
    )  # fmt: skip
    tab.resize(1280, 800)
    tab.show()
    qtbot.waitExposed(tab)
    combo = tab.form.model.transfer_combo
    assert combo.isVisible()
    text_width = combo.fontMetrics().horizontalAdvance(combo.currentText())
    assert text_width + 40 <= combo.width(), (combo.currentText(), text_width, combo.width())
    for i in range(combo.count()):
        assert len(combo.itemData(i, Qt.ItemDataRole.ToolTipRole) or "") > len(combo.itemText(i))


def test_muon_settings_show_only_for_muon_and_round_trip(qtbot, engine_info, gui_settings, tiny_image_folder):
    import engine

    tab = _configured_tab(qtbot, engine_info, gui_settings, tiny_image_folder)
    form = tab.form

    def shown(name: str) -> bool:
        widget = form.inputs[name]
        return form._forms[widget].isRowVisible(widget)

    form.set_config(engine.preset_config("fast", data=str(tiny_image_folder)))
    assert form.config().optimizer == "muon" and shown("muon_lr") and shown("muon_momentum")
    form.set_config(engine.preset_config("fast", data=str(tiny_image_folder), muon_lr=0.3, muon_momentum=0.5))
    cfg = form.config()
    assert (cfg.muon_lr, cfg.muon_momentum) == (0.3, 0.5)
    form.inputs["optimizer"].setCurrentText("nesterov")
    assert not shown("muon_lr") and not shown("muon_momentum")  # no field that would be ignored


def test_the_field_table_covers_every_config_field_once(qtbot, engine_info, gui_settings, tiny_image_folder):
    import dataclasses

    import engine
    from gui.train.config_fields import FIELDS

    names = [spec.name for spec in FIELDS]
    assert len(names) == len(set(names))
    # the form edits every TrainConfig field: the table's, plus the data panel's and the model picker's
    rich = {"data", "classes", "val_fraction", "limit", "image_size", "model", "model_args", "pretrained_path"}
    top = {f.name for f in dataclasses.fields(engine.TrainConfig)}
    augment = {f"augment.{f.name}" for f in dataclasses.fields(engine.Augment)}
    assert set(names) | rich == (top - {"augment"}) | augment
    tab = _configured_tab(qtbot, engine_info, gui_settings, tiny_image_folder)
    assert list(tab.form.inputs) == [spec.key for spec in FIELDS]
    for spec in FIELDS:  # every tooltip says what the field does, most with typical values
        assert tab.form.inputs[spec.key].toolTip() == spec.tooltip and spec.tooltip


def test_reading_the_config_has_no_side_effects(qtbot, engine_info, gui_settings, tiny_image_folder):
    tab = _configured_tab(qtbot, engine_info, gui_settings, tiny_image_folder)
    form = tab.form
    form.blockSignals(True)  # no live re-check: only explicit calls below
    form.inputs["lr"].setText("fast")
    assert form.config() is None
    cfg, problem = form.read_config()
    assert cfg is None and problem.field == "lr"
    assert form.error == "" and not form.inputs["lr"].property("invalid") and form.message.isHidden()
    assert form.check() is None  # the explicit call shows the verdict
    assert form.error.startswith("Learning rate:") and form.inputs["lr"].property("invalid") is True


def test_a_zero_that_means_off_says_off(qtbot, engine_info, gui_settings, tiny_image_folder):
    """Spin boxes whose 0 switches a feature off show "off" (or "always"), and still read as 0."""
    tab = _configured_tab(qtbot, engine_info, gui_settings, tiny_image_folder)
    patience = tab.form.inputs["early_stop_patience"]
    patience.setValue(0)
    assert patience.text() == "off" and tab.form.config().early_stop_patience == 0
    patience.setValue(5)
    assert patience.text() == "5" and tab.form.config().early_stop_patience == 5
    assert tab.form.inputs["whiten_bias_epochs"].specialValueText() == "always"


@pytest.mark.parametrize(
    ("widget", "text", "field", "words"),
    [
        ("lr", "-1", "lr", "positive"),
        ("lr", "fast", "lr", "not a number"),
        ("momentum", "1.5", "momentum", "[0, 1)"),
        ("warmup_epochs", "5", "warmup_epochs", "shorter than the run"),
    ],
)
def test_invalid_value_is_highlighted_and_start_refused(
    qtbot, engine_info, gui_settings, tiny_image_folder, widget, text, field, words
):
    tab = _configured_tab(qtbot, engine_info, gui_settings, tiny_image_folder, epochs=3)
    tab.form.inputs[widget].setText(text)
    assert tab.start() is False
    assert not tab.running
    edit = tab.form.widget_for(field)
    assert edit is tab.form.inputs[widget]
    assert edit.property("invalid") is True
    from gui.train.config_fields import label_of

    assert tab.form.error.startswith(f"{label_of(field)}:") and words in tab.form.error
    assert "\n" not in tab.form.error
    assert words in tab.message.text() and tab.message.kind == "error"
    tab.form.inputs[widget].setText("0.5" if widget != "warmup_epochs" else "0")
    assert tab.form.config() is not None
    qtbot.waitUntil(lambda: not edit.property("invalid"), timeout=5_000)  # fixed: the live check clears it


def test_schedule_preview_follows_the_form(qtbot, engine_info, gui_settings, tiny_image_folder):
    tab = _configured_tab(qtbot, engine_info, gui_settings, tiny_image_folder, epochs=10, schedule="constant")
    form = tab.form
    assert {round(lr, 6) for _, lr in form.preview.points} == {0.05}
    assert not form.inputs["step_size"].isVisibleTo(form)  # only the schedules that use a field show it
    form.inputs["schedule"].setCurrentText("step")
    form.inputs["step_size"].setText("4")
    form.inputs["gamma"].setText("0.5")
    assert form.inputs["step_size"].isVisibleTo(form) and not form.inputs["milestones"].isVisibleTo(form)
    qtbot.waitUntil(lambda: min(lr for _, lr in form.preview.points) < 0.05 * 0.3, timeout=5_000)
    assert form.preview.points[-1][0] == pytest.approx(10.0)  # the x axis spans the run
    form.inputs["epochs"].setValue(20)
    qtbot.waitUntil(lambda: form.preview.points[-1][0] == pytest.approx(20.0), timeout=5_000)


def test_training_run_shows_curves_and_writes_checkpoints(
    qtbot, engine_info, gui_settings, tiny_image_folder, tmp_path
):
    tab = _configured_tab(qtbot, engine_info, gui_settings, tiny_image_folder, epochs=2)
    tab.resize(1280, 760)
    tab.show()
    tab.output.setText(str(tmp_path / "run"))
    opened = []
    tab.open_checkpoint.connect(opened.append)
    assert tab.start()
    assert tab.running and not tab.start_button.isEnabled() and tab.stop_button.isEnabled()
    outcome = _wait_finished(qtbot, tab)
    assert outcome.status == "completed", outcome.message
    assert tab.curves.batch_count > 0 and tab.curves.epoch_count == 2
    tab.curves.redraw_now()
    xs, ys = tab.curves.curves["val_acc"].getData()
    assert len(xs) == 2 and all(0 <= y <= 1 for y in ys)
    assert Path(outcome.best_checkpoint).is_file() and (tmp_path / "run" / "last.pt").is_file()
    assert "completed" in tab.message.text().lower()
    log = tab.log.toPlainText()
    assert "Epoch 1/2" in log and "Epoch 2/2" in log
    # exports
    csv_path = tab.export_csv(str(tmp_path / "metrics.csv"))
    assert Path(csv_path).read_text().splitlines()[0].startswith("epoch,train_loss,train_acc,val_loss,val_acc")
    assert len(Path(csv_path).read_text().splitlines()) == 3
    png = tab.export_png(str(tmp_path / "curves.png"))
    assert png and Path(png).stat().st_size > 1000
    # one click loads the best checkpoint elsewhere
    assert tab.open_predict_button.isEnabled()
    tab.open_predict_button.click()
    assert opened == [outcome.best_checkpoint]
    # the configuration is remembered as JSON
    import engine

    assert engine.TrainConfig.from_json(gui_settings.train_config_json).epochs == 2


def test_stop_keeps_checkpoints_and_resume_continues(qtbot, engine_info, gui_settings, tiny_image_folder, tmp_path):
    import engine

    out = tmp_path / "long"
    tab = _configured_tab(qtbot, engine_info, gui_settings, tiny_image_folder, epochs=300, batch_size=2)
    tab.output.setText(str(out))
    assert tab.start()
    qtbot.waitUntil(lambda: tab.curves.epoch_count >= 1, timeout=RUN_TIMEOUT_MS)
    tab.stop_button.click()
    assert not tab.stop_button.isEnabled()
    outcome = _wait_finished(qtbot, tab)
    assert outcome.status == "stopped"
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
    epochs_done = engine.load_checkpoint(out / "last.pt").epoch
    assert 1 <= epochs_done < 300
    assert tab.resume_button.isEnabled()

    tab.resume_button.click()
    assert tab.running
    run = tab.run
    with qtbot.waitSignal(run.started, timeout=RUN_TIMEOUT_MS):
        pass
    assert tab.curves.epoch_count == epochs_done  # the earlier epochs are drawn again
    qtbot.waitUntil(lambda: tab.curves.epoch_count > epochs_done, timeout=RUN_TIMEOUT_MS)
    tab.stop()
    outcome = _wait_finished(qtbot, tab)
    assert outcome.status == "stopped" and outcome.out_dir == str(out)
    history = engine.load_checkpoint(out / "last.pt").history
    assert len(history) > epochs_done and [row["epoch"] for row in history] == list(range(1, len(history) + 1))


def test_bad_data_ends_with_a_message_not_a_crash(qtbot, engine_info, gui_settings, tmp_path):
    tab = _configured_tab(qtbot, engine_info, gui_settings, tmp_path / "missing-folder")
    assert tab.start()
    qtbot.waitUntil(lambda: not tab.running, timeout=RUN_TIMEOUT_MS)
    assert tab.message.kind == "error"
    assert "no such file or folder" in tab.message.text()
    assert tab.start_button.isEnabled()


def test_closing_the_window_mid_run_stops_cleanly(qtbot, gui_settings, tiny_image_folder, tmp_path):
    import engine

    window = MainWindow(gui_settings)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.engine_ready, timeout=RUN_TIMEOUT_MS):
        window.show()
    tab = window.train_tab
    tab.form.set_config(tiny_config(data=str(tiny_image_folder), epochs=300, batch_size=2))
    tab.output.setText(str(tmp_path / "closing"))
    assert tab.start()
    run = tab.run
    qtbot.waitUntil(lambda: tab.curves.batch_count > 3, timeout=RUN_TIMEOUT_MS)
    window.close()
    assert not run.is_running()  # the thread was joined before the widgets went away
    last = engine.load_checkpoint(tmp_path / "closing" / "last.pt")  # complete and loadable
    assert last.train_state is not None


def test_load_lists_classes_for_a_subset_and_reports_skipped_files(
    qtbot, engine_info, gui_settings, tiny_image_folder, tmp_path
):
    import shutil

    from PySide6.QtCore import Qt

    folder = tmp_path / "data"
    shutil.copytree(tiny_image_folder, folder)
    (folder / "red" / "broken.png").write_bytes(b"not a png")
    tab = _configured_tab(qtbot, engine_info, gui_settings, folder)
    panel = tab.form.data
    with qtbot.waitSignal(panel.loaded, timeout=RUN_TIMEOUT_MS) as blocker:
        panel.load_button.click()
    info = blocker.args[0]
    assert info.classes == ["blue", "green", "red"] and sum(info.train_counts) > 0
    assert "train" in panel.status.text() and "validation" in panel.status.text()
    assert "skipped 1" in panel.status.text()
    assert panel.classes.count() == 3 and panel.selected_classes() is None  # all ticked = no subset
    panel.classes.item(1).setCheckState(Qt.CheckState.Unchecked)
    assert tab.form.config().classes == ["blue", "red"]
    panel.classes.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert tab.form.check() is None and tab.form.error.startswith("Classes:")  # one class is not enough


def test_unavailable_device_is_reported_on_its_field(qtbot, engine_info, gui_settings, tiny_image_folder):
    if engine_info.torch_device == "cuda":
        pytest.skip("this machine has CUDA")
    tab = _configured_tab(qtbot, engine_info, gui_settings, tiny_image_folder, device="cuda")
    assert tab.start()  # valid as a setting; only the engine knows the machine has no CUDA
    qtbot.waitUntil(lambda: not tab.running, timeout=RUN_TIMEOUT_MS)
    assert tab.message.kind == "error" and "CUDA" in tab.message.text()
    assert tab.form.inputs["device"].property("invalid") is True
    # a pending live re-validation must not wipe the engine's verdict
    qtbot.waitUntil(lambda: not tab.form._debounce.isActive(), timeout=5_000)
    assert tab.form.inputs["device"].property("invalid") is True
    tab.form.inputs["device"].setCurrentText("cpu")  # editing the field clears it
    assert not tab.form.inputs["device"].property("invalid")


def test_parameter_counts_leave_torchvision_models_until_chosen(qtbot, engine_info, monkeypatch):
    """Counting every model at start-up imported torchvision (for the upsampled ResNet-34), whose
    import stalls the GUI thread for up to ~200 ms while photos are being classified: native
    models are counted after the delay, the ones that need torchvision when the user picks one."""
    from gui.train import model_picker

    monkeypatch.setattr(model_picker, "COUNT_DELAY_MS", 0)
    monkeypatch.setattr(model_picker, "_COUNTS", {})
    picker = model_picker.ModelPicker()
    qtbot.addWidget(picker)
    picker.set_models(engine_info.models)
    native = [m[0] for m in engine_info.models if m[3] == "native"]
    wrapped = [m[0] for m in engine_info.models if m[3] != "native"]
    assert wrapped, "the registry has an upsampling model to defer"
    qtbot.waitUntil(lambda: all(n in model_picker._COUNTS for n in native), timeout=120_000)
    assert not any(n in model_picker._COUNTS for n in wrapped)
    picker.set_model_name(wrapped[0])
    qtbot.waitUntil(lambda: wrapped[0] in model_picker._COUNTS, timeout=120_000)
    assert "parameters" in picker._items[wrapped[0]].text()


def test_the_window_imports_pyqtgraph_in_a_worker_then_builds_the_plots(qtbot, gui_settings, monkeypatch):
    """pyqtgraph's import is 0.3-1.2 s of Python: never in the GUI thread at start-up. Then the
    heap is frozen (gc.freeze) so full collections stop walking torch's and Qt's objects."""
    import threading

    import gui.window_startup as window_startup
    from gui import theme

    freezes = []
    monkeypatch.setattr(window_startup.gc, "freeze", lambda: freezes.append(1))
    threads = []
    real = theme.import_pyqtgraph
    monkeypatch.setattr(
        theme, "import_pyqtgraph", lambda state=None: (threads.append(threading.current_thread()), real(state))
    )
    window = MainWindow(gui_settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.train_tab.curves.widget is not None, timeout=60_000)
    assert len(threads) == 1 and threads[0] is not threading.main_thread()
    # the import-time heap leaves the garbage collector's reach once the engine and the plots are in
    qtbot.waitUntil(lambda: window.engine_info is not None and len(freezes) == 2, timeout=60_000)


def test_the_window_shortens_the_gil_switch_interval(qtbot, gui_settings):
    """Workers holding the GIL stall the GUI thread up to one switch interval per call into
    Python; the window sets 1 ms (measured: decode stalls 122 ms at the default 5 ms, 48-52 ms)."""
    import sys

    import gui.main_window as main_window

    before = sys.getswitchinterval()
    try:
        window = MainWindow(gui_settings)
        qtbot.addWidget(window)
        assert sys.getswitchinterval() == pytest.approx(main_window.GUI_SWITCH_INTERVAL_S) == pytest.approx(0.001)
    finally:
        sys.setswitchinterval(before)


def test_one_table_makes_the_flags_the_run_command_and_the_form(qtbot):
    """engine.TRAIN_SETTINGS is the one declaration of the train settings: the train parser's
    flags and help, the run command's flags and the form's inputs, tooltips and labels are all
    made from its rows, so a row's help changed is changed in --help and in the form alike."""
    import argparse
    import dataclasses

    import engine
    from engine.cli.train_args import add_train_arguments
    from engine.runs.command import FLAGS
    from gui.train.config_fields import FIELD_LABELS
    from gui.train.config_form import ConfigForm

    rows = engine.TRAIN_SETTINGS
    # one row per TrainConfig field (a nested one by its dotted name), defaults and choices not restated
    top = {f.name for f in dataclasses.fields(engine.TrainConfig)} - {"augment"}
    augment = {f"augment.{f.name}" for f in dataclasses.fields(engine.Augment)}
    assert sorted(row.name for row in rows) == sorted(top | augment)
    by_name = {row.name: row for row in rows}
    for name, constant in (("optimizer", engine.OPTIMIZERS), ("schedule", engine.SCHEDULES)):
        assert by_name[name].choices is constant

    def train_help() -> dict[str, str]:
        parser = argparse.ArgumentParser()
        add_train_arguments(parser)
        return {a.option_strings[0]: a.help for a in parser._actions if a.option_strings}

    def form() -> ConfigForm:
        built = ConfigForm()
        qtbot.addWidget(built)
        return built

    helps, built = train_help(), form()
    assert FLAGS == {row.name: (row.flag, row.write) for row in rows if row.flag}
    for row in rows:
        if row.flag:
            assert helps[row.flag] == row.full_help and helps[row.flag].startswith(row.help)
        assert FIELD_LABELS[row.name] == row.label
    assert list(built.inputs) == [row.key for row in rows if row.group]
    for row in rows:
        if row.group:
            assert built.inputs[row.key].toolTip() == row.tooltip and row.help[1:] in row.tooltip

    lr = by_name["lr"]
    original = lr.help
    object.__setattr__(lr, "help", "a new explanation of the learning rate")  # the row is frozen
    try:
        assert train_help()["--lr"].startswith("a new explanation of the learning rate (default")
        rebuilt = form()
        assert rebuilt.inputs["lr"].toolTip().startswith("A new explanation of the learning rate")
    finally:
        object.__setattr__(lr, "help", original)
