"""The LR finder on the Train tab: a real sweep (tiny data) in the background with progress,
loss against learning rate on a log axis, the suggestion marked, and Apply setting the form's
learning rate; Cancel keeps what was measured."""

from __future__ import annotations

import math

from conftest import tiny_config

import gui.train.lr_finder as lr_finder
from gui.train.tab import TrainTab

TIMEOUT_MS = 180_000


def _tab(qtbot, engine_info, settings, folder) -> TrainTab:
    tab = TrainTab(settings)
    qtbot.addWidget(tab)
    tab.engine_ready(engine_info)
    tab.form.set_config(tiny_config(data=str(folder), batch_size=4))
    return tab


def _points(curve) -> int:
    xs = curve.getData()[0]
    return 0 if xs is None else len(xs)


def test_sweep_plots_marks_and_applies_the_suggestion(qtbot, engine_info, gui_settings, tiny_image_folder, monkeypatch):
    monkeypatch.setattr(lr_finder, "DEFAULT_STEPS", 40)
    tab = _tab(qtbot, engine_info, gui_settings, tiny_image_folder)
    assert tab.lr_button.isEnabled()
    tab.lr_button.click()
    dialog = tab.lr_finder
    assert dialog.isVisible() and dialog.busy and dialog.cancel_button.isEnabled()
    progress = []
    dialog._task.task.progress.connect(lambda f, text: progress.append(f))
    live = []  # points on the curve while the sweep still runs (drawn live, not only at the end)
    dialog._task.task.progress.connect(lambda f, text: live.append(_points(dialog.smooth_curve)))
    with qtbot.waitSignal(dialog.sweep_done, timeout=TIMEOUT_MS):
        pass
    assert any(0 < n for n in live[:-1]), live
    result = dialog.result
    assert result is not None and result.suggestion is not None, dialog.message.text()
    assert any(f is not None and 0 < f <= 1 for f in progress)
    assert dialog.plot_widget.getPlotItem().ctrl.logXCheck.isChecked()  # log x axis
    xs, _ys = dialog.smooth_curve.getData()
    assert len(xs) == len(result.lrs) > 5
    assert dialog.marker.isVisible()
    assert math.isclose(dialog.marker.value(), math.log10(result.suggestion))
    assert min(result.lrs) <= result.suggestion <= max(result.lrs)
    assert "Suggested learning rate" in dialog.suggestion_label.text()
    assert dialog.apply_button.isEnabled()

    dialog.apply_button.click()
    assert not dialog.isVisible()  # Apply closes the dialog
    applied = float(f"{result.suggestion:.2g}")
    assert tab.form.config().lr == applied
    assert tab.form.widget_for("lr").value() == applied


def test_cancel_ends_the_sweep_with_what_was_measured(qtbot, engine_info, gui_settings, tiny_image_folder, monkeypatch):
    monkeypatch.setattr(lr_finder, "DEFAULT_STEPS", 1000)
    tab = _tab(qtbot, engine_info, gui_settings, tiny_image_folder)
    dialog = tab.open_lr_finder()
    steps = []
    dialog._task.task.progress.connect(lambda f, text: steps.append(f))
    qtbot.waitUntil(lambda: any(f is not None and f > 0.01 for f in steps), timeout=TIMEOUT_MS)
    assert dialog.cancel_button.isEnabled() and not dialog.run_button.isEnabled()
    with qtbot.waitSignal(dialog.sweep_done, timeout=TIMEOUT_MS):
        dialog.cancel_button.click()
    assert dialog.result is not None and dialog.result.stopped_early
    assert 0 < len(dialog.result.lrs) < 1000
    assert dialog.run_button.isEnabled()
    before = tab.form.config().lr
    if dialog.result.suggestion is None:
        assert not dialog.apply_button.isEnabled() and dialog.apply() is None
        assert tab.form.config().lr == before


def test_an_invalid_form_does_not_start_a_sweep(qtbot, engine_info, gui_settings, tiny_image_folder):
    tab = _tab(qtbot, engine_info, gui_settings, tiny_image_folder)
    tab.form.widget_for("lr").setText("fast")
    assert tab.open_lr_finder() is None
    assert "LR finder" in tab.message.text() and tab.form.error.startswith("Learning rate:")


def test_model_summary_from_the_model_picker(qtbot, engine_info, gui_settings, tiny_image_folder):
    tab = _tab(qtbot, engine_info, gui_settings, tiny_image_folder)
    picker = tab.form.model
    picker.set_model_name("resnet20")
    with qtbot.waitSignal(picker.summary_button.clicked):
        picker.summary_button.click()
    dialog = picker.summary_dialog
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=TIMEOUT_MS)
    s = dialog.summary
    import engine

    expected = engine.count_parameters(engine.create_model("resnet20", num_classes=10, in_channels=3))
    assert s.model == "resnet20" and s.total_params == expected
    assert dialog.table.rowCount() == len(s.rows) > 10
    assert dialog.table.item(0, 3).text() == f"{s.rows[0].params:,}"
    assert f"{expected:,} parameters" in dialog.heading.text()

    picker.set_model_name("tv:no_such_model")
    dialog = picker.open_summary()
    with qtbot.waitSignal(dialog.ready, timeout=TIMEOUT_MS):
        pass
    assert dialog.summary is None and dialog.heading.text().startswith("Cannot summarize this model:")
