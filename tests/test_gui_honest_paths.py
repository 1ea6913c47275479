"""Issue 9 in the window: exact presets, a visible note when something falls back, any stopped
run resumable (with its curves), compile offered only where it works, and the small lies
(status bar of another tab, legends over the data, "1 classes")."""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_config

from gui.main_window import MainWindow
from gui.train.preset_chooser import CUSTOM
from gui.train.tab import TrainTab

RUN_TIMEOUT_MS = 180_000


def _tab(qtbot, engine_info, settings) -> TrainTab:
    tab = TrainTab(settings)
    qtbot.addWidget(tab)
    tab.engine_ready(engine_info)
    tab.ensure_plots()
    return tab


def _choose_preset(form, name: str) -> None:
    """What a user does: pick the preset in the combo (``activated``)."""
    index = form.preset.findData(name)
    assert index >= 0, name
    form.preset.setCurrentIndex(index)
    form.preset.activated.emit(index)


# ---------------------------------------------------------------------------- presets
@pytest.mark.parametrize("name", ["resnet32-keras", "nin", "birds-vs-airplanes", "quick", "fast", "photos"])
def test_a_preset_gives_exactly_its_config_whatever_the_form_held(qtbot, engine_info, gui_settings, name):
    import engine

    tab = _tab(qtbot, engine_info, gui_settings)
    form = tab.form
    # The form starts on the fast preset (label smoothing 0.2, norm LR x64, TTA 2): none of
    # that may leak into another preset.
    form.set_config(engine.preset_config("fast", epochs=3, ema_decay=0.5))
    _choose_preset(form, "mnist-resnet" if name != "mnist-resnet" else "fast")
    _choose_preset(form, name)
    cfg = form.config()
    assert cfg is not None, form.error
    # Every recipe setting is the preset's; the data is the form's (the Fashion-MNIST preset
    # chosen before named its data: it stays), except data settings the preset names itself.
    before = engine.preset_config("mnist-resnet" if name != "mnist-resnet" else "fast")
    assert cfg.to_dict() == engine.recipe_config(name, before).to_dict()
    assert engine.same_recipe(cfg, name)
    assert form.preset_name == name
    assert form.preset_info.text() == engine.PRESETS[name].summary
    assert form.preset_details.text() == engine.PRESETS[name].description


def test_editing_any_field_shows_custom_and_undoing_it_shows_the_preset_again(qtbot, engine_info, gui_settings):
    tab = _tab(qtbot, engine_info, gui_settings)
    form = tab.form
    _choose_preset(form, "resnet18")
    assert form.preset_name == "resnet18"
    form.inputs["epochs"].setValue(7)
    qtbot.waitUntil(lambda: form.preset_name == CUSTOM, timeout=5_000)
    assert form.preset.currentText() == "Custom"
    assert "ResNet-18" in form.preset_info.text()  # "changed from the preset ..."
    form.inputs["epochs"].setValue(200)
    qtbot.waitUntil(lambda: form.preset_name == "resnet18", timeout=5_000)
    form.model.set_model_name("lenet5")
    qtbot.waitUntil(lambda: form.preset_name == CUSTOM, timeout=5_000)
    tab.save_settings()
    assert gui_settings.preset == CUSTOM


def test_a_saved_custom_form_comes_back_as_custom(qtbot, engine_info, gui_settings):
    import engine

    gui_settings.preset = "fast"
    gui_settings.train_config_json = engine.preset_config("fast", epochs=2).to_json()
    tab = _tab(qtbot, engine_info, gui_settings)
    assert tab.form.config().epochs == 2
    assert tab.form.preset_name == CUSTOM


# ---------------------------------------------------------------------------- torch.compile
def test_compile_is_not_offered_where_it_cannot_work(qtbot, engine_info, gui_settings):
    import engine

    info = dataclasses.replace(engine_info, compile_unavailable="the packaged app has no compiler toolchain")
    tab = _tab(qtbot, info, gui_settings)
    tab.show()
    tab.form.set_config(engine.preset_config("quick", compile=True))
    box = tab.form.inputs["compile"]
    assert not box.isVisible() and not box.isChecked()
    assert tab.form.config().compile is False
    shown = _tab(qtbot, dataclasses.replace(engine_info, compile_unavailable=None), gui_settings)
    shown.show()
    assert shown.form.inputs["compile"].isVisible()


def test_engine_info_says_whether_compile_can_work(engine_info):
    import engine

    assert engine_info.compile_unavailable == engine.compile_unavailable_reason(engine_info.torch_device)


# ---------------------------------------------------------------------------- fallbacks said in the window
def _fake_train(warn_by_logging: str, warn_by_event: str):
    """An engine.train that logs one warning (as torchvision_models does for missing weights)
    and reports one as a LogMessage (as the trainer does when torch.compile falls back)."""
    import engine

    def train(config, out_dir, callback=None, stop=None, resume=None, **_kw):
        logging.getLogger("engine.models.torchvision_models").warning(warn_by_logging)
        callback(engine.LogMessage("warning", warn_by_event))
        callback(engine.LogMessage("info", "an ordinary line"))
        return engine.RunFinished("completed", "2 epochs", 2, 0.5, None, None, str(out_dir))

    return train


def test_fallback_warnings_are_shown_in_the_window(qtbot, engine_info, gui_settings, tiny_image_folder, tmp_path):
    import engine

    missing = "No cached ImageNet weights for resnet18: put resnet18-f37072fd.pth in /x to fine-tune from them"
    compiled = "torch.compile failed at the first step (CppCompileError: no compiler); training without it"
    tab = _tab(qtbot, engine_info, gui_settings)
    tab.form.set_config(tiny_config(data=str(tiny_image_folder)))
    tab.output.setText(str(tmp_path / "run"))
    real = engine.train
    engine.train = _fake_train(missing, compiled)
    try:
        assert tab.start()
        qtbot.waitUntil(lambda: not tab.running, timeout=RUN_TIMEOUT_MS)
    finally:
        engine.train = real
    text = tab.message.text()
    assert tab.message.kind == "warning"
    assert missing in text and compiled in text and "Run completed" in text
    assert "an ordinary line" not in text
    log = tab.log.toPlainText()
    assert log.count(missing) == 1 and log.count(compiled) == 1


def test_warnings_of_other_threads_do_not_reach_the_run(qtbot, engine_info, gui_settings, tiny_image_folder, tmp_path):
    import engine

    release = threading.Event()

    def train(config, out_dir, callback=None, stop=None, resume=None, **_kw):
        release.wait(10)
        return engine.RunFinished("completed", "done", 1, None, None, None, str(out_dir))

    tab = _tab(qtbot, engine_info, gui_settings)
    tab.form.set_config(tiny_config(data=str(tiny_image_folder)))
    tab.output.setText(str(tmp_path / "run"))
    real = engine.train
    engine.train = train
    try:
        assert tab.start()
        logging.getLogger("engine.data").warning("a warning from the GUI thread")
        release.set()
        qtbot.waitUntil(lambda: not tab.running, timeout=RUN_TIMEOUT_MS)
    finally:
        engine.train = real
    assert "GUI thread" not in tab.message.text()


# ---------------------------------------------------------------------------- resume any stopped run
def _stopped_cli_run(folder: Path, data: Path, stop_after: int) -> int:
    """Train as `python -m engine train` does and stop after ``stop_after`` batches."""
    import engine

    stop = threading.Event()
    seen = []

    def callback(event):
        if isinstance(event, engine.BatchEnd):
            seen.append(event)
            if len(seen) >= stop_after:
                stop.set()

    result = engine.train(tiny_config(data=str(data), epochs=3, batch_size=4), folder, callback=callback, stop=stop)
    assert result.status == "stopped", result.message
    return len(seen)


def test_a_run_stopped_from_the_cli_resumes_from_the_window_with_its_curves(
    qtbot, engine_info, gui_settings, tiny_image_folder, tmp_path
):
    folder = tmp_path / "cli-run"
    before = _stopped_cli_run(folder, tiny_image_folder, stop_after=12)
    tab = _tab(qtbot, engine_info, gui_settings)
    assert not tab.resume_button.isEnabled()
    assert tab.open_run(str(folder))
    qtbot.waitUntil(lambda: tab.resume_button.isEnabled(), timeout=RUN_TIMEOUT_MS)
    assert tab.curves.batch_count >= before  # the per-batch curve from before the stop
    assert tab.form.config().epochs == 3  # the run's own settings
    # The bars above the curves say whose curves they are.
    assert tab.progress.run_bar.format().startswith(f"Opened run “{folder.name}”: tutorial_net, ")
    assert (
        tab.progress.epoch_bar.format().startswith("Stopped after epoch")
        and "Resume" in tab.progress.epoch_bar.format()
    )
    assert tab.start(resume=True)
    qtbot.waitUntil(lambda: tab.curves.batch_count >= before, timeout=RUN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not tab.running and tab.last_outcome is not None, timeout=RUN_TIMEOUT_MS)
    outcome = tab.last_outcome
    assert outcome.status == "completed", outcome.message
    assert Path(outcome.out_dir) == folder
    # Before-the-stop batches plus the resumed ones: the curve was redrawn, not restarted.
    assert tab.curves.batch_count > before
    xs = tab.curves.series["batch_loss"].x
    assert xs[0] < 1.0 and xs[-1] > 2.0 and bool((np.diff(xs) >= 0).all())


def test_a_finished_run_opened_is_not_resumable(qtbot, engine_info, gui_settings, tiny_checkpoint):
    tab = _tab(qtbot, engine_info, gui_settings)
    gui_settings.last_run = {}
    assert tab.open_run(str(Path(tiny_checkpoint).parent))
    qtbot.waitUntil(lambda: not tab.busy, timeout=RUN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: "Showing" in tab.log.toPlainText(), timeout=RUN_TIMEOUT_MS)
    assert not tab.resume_button.isEnabled()
    assert (
        tab.progress.run_bar.format() == f"Opened run “{Path(tiny_checkpoint).parent.name}”: tutorial_net, 2/2 epochs"
    )
    assert tab.progress.epoch_bar.format() == "Curves of the opened run; Start trains the settings on the left"
    assert tab.start(resume=True) is False
    assert "Nothing to resume" in tab.message.text()


# ---------------------------------------------------------------------------- small lies
def test_the_status_bar_follows_the_current_tab(qtbot, gui_settings, tiny_checkpoint):
    window = MainWindow(gui_settings)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.engine_ready, timeout=RUN_TIMEOUT_MS):
        window.show()
    window.show_tab("predict")
    with qtbot.waitSignal(window.predict_tab.checkpoint_loaded, timeout=RUN_TIMEOUT_MS):
        window.predict_tab.set_checkpoint(str(tiny_checkpoint))
    qtbot.waitUntil(lambda: "Checkpoint" in window.status_text(), timeout=10_000)
    window.show_tab("train")
    assert "Checkpoint" not in window.status_text()
    window.train_tab.status_message.emit("Training resnet20 on CPU")
    assert window.status_text() == "Training resnet20 on CPU"
    window.show_tab("predict")
    assert "Checkpoint" in window.status_text()
    window.show_tab("train")
    assert window.status_text() == "Training resnet20 on CPU"


def test_curve_legends_never_cover_the_plots(qtbot, engine_info, gui_settings):
    tab = _tab(qtbot, engine_info, gui_settings)
    curves = tab.curves
    assert all(plot.legend is None for plot in curves.plots.values())  # no box inside a plot
    text = curves.legend.text()
    for name in ("loss per batch", "training", "validation", "learning rate"):
        assert name in text
    assert curves.legend.parent() is curves and curves.widget.parent() is curves


def test_counts_are_in_the_right_number(qtbot, engine_info, gui_settings):
    import engine

    plural = engine.plural  # one wording for the CLI, reports and the window
    assert plural(1, "class") == "1 class" and plural(2, "class") == "2 classes"
    assert plural(1, "image") == "1 image" and plural(12_000, "image") == "12,000 images"
    assert plural(0, "epoch") == "0 epochs"
    tab = _tab(qtbot, engine_info, gui_settings)
    tab._on_started(engine.RunStarted("tutorial_net", 100, "CPU", ["cat"], 1, 0, 2, 0, 1, "/tmp/x"))
    log = tab.log.toPlainText()
    assert "1 class" in log and "1 classes" not in log and "1 train / 0 validation images" in log


def test_starting_into_a_stopped_runs_folder_offers_to_resume_it(
    qtbot, engine_info, gui_settings, tiny_image_folder, tmp_path
):
    folder = tmp_path / "cli-run"
    _stopped_cli_run(folder, tiny_image_folder, stop_after=5)
    tab = _tab(qtbot, engine_info, gui_settings)
    tab.form.set_config(tiny_config(data=str(tiny_image_folder)))
    tab.output.setText(str(folder))
    assert tab.start() is False  # never into another run's folder
    assert "already holds a run" in tab.message.text()
    qtbot.waitUntil(lambda: tab.resume_button.isEnabled(), timeout=RUN_TIMEOUT_MS)
    assert tab.start(resume=True)
    qtbot.waitUntil(lambda: not tab.running and tab.last_outcome is not None, timeout=RUN_TIMEOUT_MS)
    assert tab.last_outcome.status == "completed" and Path(tab.last_outcome.out_dir) == folder
