"""Issue 21, the first hour in the window: presets keep the user's data, a first start that
works offline, no ETA after a run ends, one thread count, messages in the form's words, a
plain sentence per preset."""

from __future__ import annotations

import dataclasses

import pytest

from gui.train.preset_chooser import CUSTOM
from gui.train.tab import TrainTab


def _tab(qtbot, engine_info, settings) -> TrainTab:
    tab = TrainTab(settings)
    qtbot.addWidget(tab)
    tab.engine_ready(engine_info)
    return tab


def _choose_preset(form, name: str) -> None:
    index = form.preset.findData(name)
    assert index >= 0, name
    form.preset.setCurrentIndex(index)
    form.preset.activated.emit(index)


# ---------------------------------------------------------------------------- item 2
def test_a_preset_keeps_the_chosen_data_and_data_never_makes_it_custom(qtbot, engine_info, gui_settings, tmp_path):
    import engine

    tab = _tab(qtbot, engine_info, gui_settings)
    form = tab.form
    folder = tmp_path / "my photos"
    folder.mkdir()
    form.data.source.set_value(str(folder))
    form.data.limit.set_value(3000)
    form.refresh()
    _choose_preset(form, "quick")
    cfg = form.config()
    assert cfg is not None, form.error
    assert cfg.data == str(folder) and cfg.limit == 3000  # the user's data stays
    assert form.data.source.path.text() == str(folder)
    assert engine.same_recipe(cfg, "quick") and form.preset_name == "quick"
    # Choosing other data afterwards keeps the preset.
    form.data.source.set_value("mnist")
    form.data.limit.set_value(500)
    form.refresh()
    assert form.config().data == "mnist"
    assert form.preset_name == "quick"
    # A training setting does make it Custom.
    form.inputs["epochs"].setValue(7)
    form.refresh()
    assert form.preset_name == CUSTOM


def test_a_preset_that_names_its_data_sets_that_data(qtbot, engine_info, gui_settings, tmp_path):
    tab = _tab(qtbot, engine_info, gui_settings)
    form = tab.form
    form.data.source.set_value(str(tmp_path))
    _choose_preset(form, "mnist-resnet")
    assert form.config().data == "fashion-mnist"  # its title says Fashion-MNIST
    _choose_preset(form, "birds-vs-airplanes")
    cfg = form.config()
    assert cfg.classes == ["airplane", "bird"] and cfg.data == "fashion-mnist"


# ---------------------------------------------------------------------------- item 3
def test_a_first_start_uses_data_that_needs_no_download(qtbot, engine_info, gui_settings, tmp_path):
    from engine import preset_config as engine_preset_config

    archive = tmp_path / "cifar10-train.zip"
    archive.write_bytes(b"")
    info = dataclasses.replace(engine_info, default_data=(str(archive), f"the CIFAR-10 archive found at {archive}"))
    tab = _tab(qtbot, info, gui_settings)
    assert tab.form.config().data == str(archive)
    assert str(archive) in tab.form.data.status.text()  # says where the data came from
    # Other data chosen (here by a whole config, as a preset or a saved run sets it): the note
    # about the archive goes.
    folder = tmp_path / "photos"
    (folder / "cat").mkdir(parents=True)
    tab.form.set_config(engine_preset_config("photos", data=str(folder)))
    assert tab.form.config().data == str(folder)
    assert "no data chosen yet" not in tab.form.data.status.text()
    assert str(archive) not in tab.form.data.status.text()


def test_a_first_start_with_no_data_asks_for_it(qtbot, engine_info, gui_settings):
    info = dataclasses.replace(engine_info, default_data=(None, "no CIFAR-10 on this machine"))
    tab = _tab(qtbot, info, gui_settings)
    assert tab.form.config() is None
    assert "no CIFAR-10 on this machine" in tab.form.data.status.text()
    assert not tab.start()
    assert "Source: choose the data to train on" in tab.message.text()


def test_the_last_data_used_wins(qtbot, engine_info, gui_settings, tmp_path):
    import engine

    gui_settings.train_config_json = engine.preset_config("quick", data="mnist").to_json()
    info = dataclasses.replace(engine_info, default_data=(str(tmp_path / "x.zip"), "somewhere"))
    tab = _tab(qtbot, info, gui_settings)
    assert tab.form.config().data == "mnist"


def test_a_run_that_fails_to_start_clears_the_previous_runs_bars_and_curves(qtbot, engine_info, gui_settings, tmp_path):
    import engine
    from gui.background.task import TaskError

    tab = _tab(qtbot, engine_info, gui_settings)
    tab.ensure_plots()
    tab.curves.add_epoch({"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.0, "val_acc": 0.5, "lr": 0.1})
    tab.progress.run_bar.setRange(0, 10)
    tab.progress.run_bar.setValue(7)
    tab.progress.run_bar.setFormat("Run: epoch 3/5 · %p% · ETA 1:00")
    assert tab.curves.epoch_count == 1
    tab._on_failed(TaskError("CIFAR-10 is not here and could not be downloaded (URLError)"))
    assert tab.curves.epoch_count == 0
    assert tab.progress.run_bar.value() == 0
    assert "ETA" not in tab.progress.run_bar.format()
    assert "could not be downloaded" in tab.message.text()
    tab._on_failed(TaskError("device: CUDA was requested but none is available", "device"))
    assert "Device: CUDA was requested" in tab.message.text()
    del engine


# ---------------------------------------------------------------------------- item 4
def test_a_stopped_run_shows_no_eta(qtbot):
    from types import SimpleNamespace

    from gui.train.run_progress import RunProgress

    bars = RunProgress()
    qtbot.addWidget(bars)
    bars.started(SimpleNamespace(epochs=5, steps_per_epoch=10, start_epoch=0))
    ev = SimpleNamespace(
        global_step=5, total_steps=50, steps_per_epoch=10, epoch=1, step=5, images_per_s=100.0, loss=1.0
    )
    bars.batch(ev)
    bars.batch(SimpleNamespace(**{**vars(ev), "global_step": 7, "step": 7}))
    assert "ETA" in bars.run_bar.format()
    bars.finished("stopped")
    assert "ETA" not in bars.run_bar.format()
    assert "stopped" in bars.run_bar.format()


def test_the_status_bar_and_training_name_the_same_thread_count(engine_info):
    import engine
    from engine.device import thread_budget, threads_label

    if engine_info.torch_device != "cpu":
        pytest.skip("CPU only")
    # Training in the window reserves a core for it (reserve_ui_thread=True): the status bar says the same.
    assert engine_info.device_name == f"CPU, {threads_label(thread_budget(reserve_for_ui=True))}"
    del engine


# ---------------------------------------------------------------------------- item 10
def test_error_messages_name_the_forms_labels(qtbot, engine_info, gui_settings):
    tab = _tab(qtbot, engine_info, gui_settings)
    form = tab.form
    form.data.val_fraction.setText("2")
    form.refresh()
    assert form.error.startswith("Validation fraction: must be in [0, 1)")
    assert "val_fraction" not in form.error
    form.data.val_fraction.setText("0.1")
    form.inputs["ema_decay"].setText("0.5")
    form.inputs["lookahead_every"].setValue(5)
    form.refresh()
    assert "ema_decay" not in form.error and "lookahead_every" not in form.error, form.error
    assert "'EMA decay'" in form.error


# ---------------------------------------------------------------------------- item 13
def test_each_preset_shows_a_plain_sentence_first_and_details_on_demand(qtbot, engine_info, gui_settings):
    import engine

    for preset in engine.PRESETS.values():
        assert preset.summary and preset.summary.count(". ") == 0, preset.name  # one sentence
        for jargon in ("orthogonalised", "norm-layer", "LR x", "momentum", "Nesterov"):
            assert jargon not in preset.summary, (preset.name, jargon)
    tab = _tab(qtbot, engine_info, gui_settings)
    form = tab.form
    _choose_preset(form, "fast")
    assert form.preset_info.text() == engine.PRESETS["fast"].summary
    assert form.preset_details.isHidden()
    form.preset_details_button.setChecked(True)
    assert not form.preset_details.isHidden()
    assert "orthogonalised" in form.preset_details.text()


# ---------------------------------------------------------------------------- item 11
def test_a_long_path_is_elided_in_the_middle_with_the_full_path_in_the_tooltip(qtbot):
    from gui.widgets.fields import PathField

    field = PathField("folder", placeholder="a folder")
    field.setToolTip("Where the run goes")
    field.edit.setToolTip("Where the run goes")
    qtbot.addWidget(field)
    field.resize(260, 30)
    field.show()
    path = "/home/someone/very/long/folder/names/that/never/fit/in/the/box/cifar10-train.zip"
    field.setText(path)
    shown = field.edit.displayed_text()
    assert shown != path and shown.startswith("/home") and shown.endswith("train.zip"), shown
    assert "…" in shown
    assert path in field.edit.toolTip() or path in field.edit.property("toolTip") or True
    from PySide6.QtWidgets import QLineEdit

    assert path in QLineEdit.toolTip(field.edit)


def test_the_source_path_box_grows_with_the_form(qtbot, engine_info, gui_settings):
    tab = _tab(qtbot, engine_info, gui_settings)
    tab.resize(1280, 800)
    tab.show()
    tab.form.data.source.set_value("/some/where/data.zip")
    qtbot.wait(50)
    assert tab.form.data.source.path.edit.width() >= 250, tab.form.data.source.path.edit.width()


def test_switching_source_kind_keeps_each_kinds_own_path(qtbot):
    from gui.widgets.data_picker import DataSourcePicker

    picker = DataSourcePicker()
    qtbot.addWidget(picker)
    picker.set_value("/data/photos")  # a folder
    assert picker.value() == "/data/photos"
    picker.combo.setCurrentIndex(picker.combo.findData("@zip"))
    assert picker.path.text() == ""  # the folder's path is not hidden in the zip box
    picker.path.setText("/data/archive.zip")
    assert picker.value() == "/data/archive.zip"
    picker.combo.setCurrentIndex(picker.combo.findData("cifar10"))
    assert picker.value() == "cifar10"
    picker.combo.setCurrentIndex(picker.combo.findData("@folder"))
    assert picker.value() == "/data/photos"
    picker.combo.setCurrentIndex(picker.combo.findData("@zip"))
    assert picker.value() == "/data/archive.zip"


def test_a_successful_load_clears_the_failed_loads_banner(qtbot, engine_info, gui_settings, tmp_path):
    from conftest import write_image_folder

    tab = _tab(qtbot, engine_info, gui_settings)
    data = tab.form.data
    data.source.set_value(str(tmp_path / "missing"))
    data.load()
    qtbot.waitUntil(lambda: tab.message.kind == "error" and tab.message.isVisibleTo(tab), timeout=30_000)
    folder = write_image_folder(tmp_path / "ok", classes=("a", "b"), per_class=4)
    data.source.set_value(str(folder))
    data.load()
    qtbot.waitUntil(lambda: data.info is not None, timeout=30_000)
    assert not tab.message.isVisibleTo(tab) or tab.message.kind != "error"


def test_the_evaluate_progress_bar_fits_its_text(qtbot, gui_settings):
    from gui.evaluate.tab import EvaluateTab

    tab = EvaluateTab(gui_settings)
    qtbot.addWidget(tab)
    tab.resize(1280, 800)
    tab.show()
    tab.busy.show()
    tab._on_progress(0.5, "decoding 5,000/10,000")
    qtbot.wait(50)
    needed = tab.busy.fontMetrics().horizontalAdvance("decoding 5,000/10,000")
    assert tab.busy.width() >= needed + 30, (tab.busy.width(), needed)


def test_a_files_error_is_shown_whole_in_the_predict_list(qtbot):
    import engine
    from gui.predict.image_list import ImageList

    view = ImageList()
    qtbot.addWidget(view)
    view.resize(300, 400)
    view.show()
    view.add_pending("/x/broken.jpg")
    error = "broken.jpg: image file is truncated (the last 4,000 bytes are missing); decoded nothing"
    view.set_result(0, "/x/broken.jpg", engine.Prediction("/x/broken.jpg", error=error), None)
    assert view.wordWrap()
    rect = view.visualItemRect(view.item(0))
    lines_needed = view.fontMetrics().horizontalAdvance(error) // max(rect.width() - 80, 1) + 1
    assert rect.height() >= view.fontMetrics().height() * min(lines_needed, 3), (rect, lines_needed)
    assert error in view.item(0).toolTip()


# ---------------------------------------------------------------------------- item 12
def test_the_user_guide_is_the_readmes_using_the_app_section():
    from pathlib import Path

    from gui.help import guide_path

    repo = Path(__file__).resolve().parents[1]
    readme = (repo / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Using the app")
    section = readme[start : readme.index("\n## ", start + 1) + 1]
    assert guide_path().relative_to(guide_path().parent.parent).as_posix().endswith("/user_guide.md")
    assert (repo / "resources" / guide_path().name).read_text(encoding="utf-8") == section, (
        "resources/user_guide.md must be README.md's 'Using the app' section: copy it over"
    )


def test_help_has_a_user_guide_and_the_shortcuts_work(qtbot, gui_settings):
    from pathlib import Path

    from PySide6.QtCore import Qt

    from gui.help import SHORTCUTS
    from gui.main_window import MainWindow

    window = MainWindow(gui_settings)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.engine_ready, timeout=180_000):
        window.show()
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    titles = [a.text() for a in help_menu.actions()]
    assert "&User guide" in titles and "&Keyboard shortcuts" in titles
    guide = window.show_user_guide()
    qtbot.addWidget(guide)
    text = guide.browser.toPlainText()
    assert "Predict" in text and "Keyboard shortcuts" in text and "Ctrl+1" in text
    shortcuts = window.show_shortcuts()
    qtbot.addWidget(shortcuts)
    listed = shortcuts.browser.toPlainText()
    for _name, keys, _what in SHORTCUTS:
        assert keys in listed or keys.replace("Return", "Enter") in listed
    # Ctrl+1..4 switch tabs; Ctrl+Return starts, Ctrl+. stops.
    for i, name in enumerate(["train", "predict", "evaluate", "runs"], start=1):
        qtbot.keyClick(window, Qt.Key(Qt.Key.Key_0.value + i), Qt.KeyboardModifier.ControlModifier)
        assert window.tabs.currentIndex() == i - 1, name
    window.show_tab("train")
    started = []
    window.train_tab.start = lambda resume=False: started.append("start") or True
    stopped = []
    window.train_tab.stop = lambda: stopped.append("stop")
    qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_Period, Qt.KeyboardModifier.ControlModifier)
    assert started == ["start"] and stopped == ["stop"]
    # The Runs tab's listing reaches both checkpoint menus (item 9).
    from types import SimpleNamespace

    best = Path(gui_settings.store.fileName()).parent / "run" / "best.pt"
    best.parent.mkdir()
    best.write_bytes(b"z")
    run = SimpleNamespace(
        name="run",
        model="m",
        status="completed",
        best_val_acc=0.5,
        started=1.0,
        modified=1.0,
        date="",
        best_checkpoint=str(best),
    )
    window.runs_tab.runs_listed.emit([run])
    assert str(best) in window.predict_tab.picker.paths() and str(best) in window.evaluate_tab.picker.paths()


# ---------------------------------------------------------------------------- item 9
def test_the_checkpoint_menu_lists_the_users_runs_newest_first_and_each_file_once(qtbot, tmp_path):
    import os
    import shutil
    from types import SimpleNamespace

    from gui.widgets.checkpoint_picker import CheckpointPicker

    bundled = tmp_path / "resources" / "models" / "cifar10_fastnet.pt"
    bundled.parent.mkdir(parents=True)
    bundled.write_bytes(b"x" * 100)
    installed = tmp_path / "site-packages" / "models" / "cifar10_fastnet.pt"  # a copy, as a wheel has it
    installed.parent.mkdir(parents=True)
    shutil.copy(bundled, installed)
    link = tmp_path / "link"
    os.symlink(bundled.parent, link)
    runs = []
    for i, (name, acc) in enumerate([("old", 0.5), ("new", 0.61), ("newest", None)]):
        best = tmp_path / "runs" / name / "best.pt"
        best.parent.mkdir(parents=True)
        best.write_bytes(b"y" * (10 + i))
        runs.append(
            SimpleNamespace(
                path=str(best.parent),
                name=name,
                model="resnet20",
                status="completed" if i < 2 else "stopped",
                best_val_acc=acc,
                started=1000.0 + i,
                modified=None,
                date=f"2026-12-0{i + 1} 10:00",
                best_checkpoint=str(best),
            )
        )
    picker = CheckpointPicker()
    qtbot.addWidget(picker)
    recent = [
        str(link / "cifar10_fastnet.pt"),
        str(installed),
        str(tmp_path / "runs" / "old" / ".." / "old" / "best.pt"),
    ]
    picker.set_entries(str(bundled), recent)
    assert picker.paths() == [str(bundled), str(tmp_path / "runs" / "old" / ".." / "old" / "best.pt")]
    picker.set_runs(runs)
    paths = picker.paths()
    assert paths[0] == str(bundled)
    assert paths[1:] == [r.best_checkpoint for r in reversed(runs)]  # newest first, the recent copy gone
    labels = [picker.combo.itemText(picker.combo.findData(p)) for p in paths]
    assert labels[1].startswith("Run newest — resnet20") and "(stopped)" in labels[1]
    assert "best 61.0%" in labels[2]
    # Selecting the bundled model by another spelling does not add it again.
    picker._select_quietly(str(link / "cifar10_fastnet.pt"))
    assert picker.paths() == paths and picker.current_path() == str(bundled)


# ---------------------------------------------------------------------------- item 8
def test_export_offers_only_the_formats_that_work_here(qtbot, monkeypatch, tiny_checkpoint):
    from PySide6.QtCore import Qt

    import engine.checkpoints.export_formats as support
    from gui.widgets.export_dialog import ExportDialog

    monkeypatch.setattr(support, "_installed", lambda package: package != "onnx")
    dialog = ExportDialog(str(tiny_checkpoint))
    qtbot.addWidget(dialog)
    onnx = list(dialog.formats).index("onnx")
    assert not dialog.format.model().item(onnx).isEnabled()
    assert "needs the onnx package" in dialog.format.itemData(onnx, Qt.ItemDataRole.ToolTipRole)
    assert dialog.format_name == "torchscript"  # the default works here
    assert dialog.out.text().endswith(".pt")
    dialog.format.setCurrentIndex(onnx)  # even if forced, it is refused with the reason
    assert not dialog.export()
    assert "needs the onnx package" in dialog.message.text()


@pytest.mark.parametrize("fmt", ["torchscript", "safetensors", "onnx"])
def test_an_exported_file_is_named_for_what_it_is(tmp_path, tiny_checkpoint, fmt):
    import engine

    if engine.export_formats()[fmt]:
        pytest.skip(engine.export_formats()[fmt])
    out = tmp_path / "run" / f"model{engine.EXPORT_FORMATS[fmt]}"
    out.parent.mkdir()
    engine.export_checkpoint(str(tiny_checkpoint), fmt, str(out))
    with pytest.raises(engine.CheckpointError) as caught:
        engine.load_checkpoint(out)
    message = str(caught.value)
    kind = {"torchscript": "TorchScript", "safetensors": "safetensors", "onnx": "ONNX"}[fmt]
    assert f"this is an exported {kind} model" in message, message
    assert f"(exported from {tiny_checkpoint.name})" in message and "open the .pt checkpoint it came from" in message
    assert "\n" not in message


def test_the_evaluate_tab_also_starts_on_data_that_needs_no_download(qtbot, engine_info, gui_settings, tmp_path):
    from gui.evaluate.tab import EvaluateTab

    archive = tmp_path / "cifar10-train.zip"
    info = dataclasses.replace(engine_info, default_data=(str(archive), f"the CIFAR-10 archive found at {archive}"))
    tab = EvaluateTab(gui_settings)
    qtbot.addWidget(tab)
    tab.engine_ready(info)
    assert tab.data.value() == str(archive) and tab.split.currentData() == "val"
    assert str(archive) in tab.accuracy.text()


def test_the_checkpoint_menu_lists_every_bundled_model_default_first(qtbot, tmp_path):
    from gui.widgets.checkpoint_picker import CheckpointPicker

    photo, net = tmp_path / "cifar10_fusion.pt", tmp_path / "cifar10_fastnet.pt"
    photo.write_bytes(b"x" * 10)
    net.write_bytes(b"y" * 20)
    picker = CheckpointPicker()
    qtbot.addWidget(picker)
    picker.set_entries(str(photo), [str(net)], [str(net)])
    assert picker.paths() == [str(photo), str(net)]  # the recent copy of the CIFAR net once
    labels = [picker.combo.itemText(i) for i in range(picker.combo.count())]
    assert labels == ["Bundled default model (cifar10_fusion.pt)", "Bundled model (cifar10_fastnet.pt)"]
