"""The Runs tab on real run folders made by the engine (tiny synthetic data, one-epoch runs):
listing, sorting and filtering, two runs' curves overlaid (and the Train tab's live run),
resuming a run stopped outside the app (hand-off to the Train tab), the run actions."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest
from conftest import tiny_config
from PySide6.QtCore import Qt

from gui.main_window import MainWindow
from gui.runs.overlay import LIVE_KEY
from gui.runs.runs_model import COLUMNS
from gui.runs.tab import RunsTab

RUN_TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def runs_folder(tmp_path_factory, tiny_image_folder):
    """Two completed one-epoch runs (different learning rates) and one stopped after epoch 1 of 3
    by a stop flag in the engine, as the command line's Ctrl+C does (the app never saw it)."""
    from engine import EpochEnd, StopFlag, train

    root = tmp_path_factory.mktemp("gui_runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIFAR_STUDIO_CACHE", str(root / ".cache"))
        for name, lr in (("alpha", 0.05), ("beta", 0.01)):
            done = train(tiny_config(data=str(tiny_image_folder), epochs=1, lr=lr), root / "runs" / name)
            assert done.status == "completed", done.message
        stop = StopFlag()

        def callback(ev):
            if isinstance(ev, EpochEnd) and ev.epoch == 1:
                stop.set()

        stopped = train(
            tiny_config(data=str(tiny_image_folder), epochs=3), root / "runs" / "cli-stopped", callback, stop
        )
        assert stopped.status == "stopped", stopped.message
    return root / "runs"


@pytest.fixture
def runs_root(runs_folder, tmp_path, monkeypatch):
    """A private copy of the runs as the app's runs folder (tests rename, trash and resume them)."""
    root = tmp_path / "runs"
    shutil.copytree(runs_folder, root)
    monkeypatch.setenv("CIFAR_STUDIO_RUNS", str(root))
    (tmp_path / "xdg").mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the trash lives here on Linux
    return root


def _tab(qtbot, engine_info, settings) -> RunsTab:
    tab = RunsTab(settings)
    qtbot.addWidget(tab)
    with qtbot.waitSignal(tab.refreshed, timeout=RUN_TIMEOUT_MS):
        tab.engine_ready(engine_info)
    return tab


def _column(tab: RunsTab, header: str) -> list[str]:
    col = [h for h, _ in COLUMNS].index(header)
    return [tab.proxy.index(r, col).data() for r in range(tab.proxy.rowCount())]


def test_lists_every_run_sortable_and_filterable(qtbot, engine_info, gui_settings, runs_root, tmp_path):
    tab = _tab(qtbot, engine_info, gui_settings)
    assert sorted(_column(tab, "Name")) == ["alpha", "beta", "cli-stopped"]
    status = dict(zip(_column(tab, "Name"), _column(tab, "Status"), strict=True))
    assert status == {"alpha": "completed", "beta": "completed", "cli-stopped": "stopped"}
    epochs = dict(zip(_column(tab, "Name"), _column(tab, "Epochs"), strict=True))
    assert epochs["cli-stopped"] == "1/3" and epochs["alpha"] == "1/1"
    assert set(_column(tab, "Model")) == {"tutorial_net"}

    # Sorting uses the real values: best validation accuracy ascending puts the lowest first.
    accs = {s.name: s.best_val_acc for s in tab.model.runs}
    tab.table.sortByColumn([h for h, _ in COLUMNS].index("Best val acc"), Qt.SortOrder.AscendingOrder)
    assert [accs[n] for n in _column(tab, "Name")] == sorted(accs.values())
    tab.table.sortByColumn([h for h, _ in COLUMNS].index("Name"), Qt.SortOrder.DescendingOrder)
    assert _column(tab, "Name") == ["cli-stopped", "beta", "alpha"]

    tab.filter.setText("STOPPED")
    assert _column(tab, "Name") == ["cli-stopped"]
    tab.filter.clear()
    assert tab.proxy.rowCount() == 3

    # A folder the user adds is listed too (and remembered).
    extra = tmp_path / "elsewhere"
    shutil.copytree(runs_root / "alpha", extra / "gamma")
    with qtbot.waitSignal(tab.refreshed, timeout=RUN_TIMEOUT_MS):
        tab.add_folder(str(extra))
    assert "gamma" in _column(tab, "Name")
    assert str(extra) in RunsTab(gui_settings).folders


def test_a_new_run_folder_appears_without_a_click(qtbot, engine_info, gui_settings, runs_root):
    tab = _tab(qtbot, engine_info, gui_settings)
    shutil.copytree(runs_root / "alpha", runs_root / "delta")  # what a run starting elsewhere does
    qtbot.waitUntil(lambda: "delta" in _column(tab, "Name"), timeout=10_000)


def test_two_runs_overlaid_with_a_legend_and_the_live_run(qtbot, engine_info, gui_settings, runs_root):
    tab = _tab(qtbot, engine_info, gui_settings)
    tab.select_paths([str(runs_root / "alpha"), str(runs_root / "beta")])
    qtbot.waitUntil(lambda: len(tab.overlay.runs) == 2, timeout=RUN_TIMEOUT_MS)
    for name in ("alpha", "beta"):
        key = str(runs_root / name)
        for metric in ("val_loss", "train_loss", "val_acc", "lr"):
            assert (key, metric) in tab.overlay.items, (name, metric)
        xs, ys = tab.overlay.items[(key, "val_acc")].getData()
        assert list(xs) == [1.0] and 0.0 <= ys[0] <= 1.0
    legend = tab.overlay.legend.text()
    assert "alpha" in legend and "beta" in legend
    # Each run has its own colour.
    pens = {tab.overlay.items[(str(runs_root / n), "val_acc")].opts["pen"].color().name() for n in ("alpha", "beta")}
    assert len(pens) == 2

    # The Train tab's live run joins as one more series.
    tab.live_source = lambda: ("now-training", [{"epoch": 1, "val_acc": 0.5, "train_loss": 1.0}])
    tab._poll_live()
    assert (LIVE_KEY, "val_acc") in tab.overlay.items
    assert "now-training (live)" in tab.overlay.legend.text()
    tab.live_check.setChecked(False)
    assert (LIVE_KEY, "val_acc") not in tab.overlay.items


def test_resume_a_run_stopped_from_the_command_line(qtbot, gui_settings, runs_root):
    import engine

    window = MainWindow(gui_settings)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.engine_ready, timeout=RUN_TIMEOUT_MS):
        window.show()
    tab = window.runs_tab
    qtbot.waitUntil(lambda: tab.proxy.rowCount() == 3, timeout=RUN_TIMEOUT_MS)
    stopped = runs_root / "cli-stopped"
    tab.select_paths([str(runs_root / "alpha")])
    assert not tab.actions["resume"].isEnabled()  # a completed run has nothing to resume
    tab.select_paths([str(stopped)])
    assert tab.actions["resume"].isEnabled()
    assert not window.train_tab.resume_button.isEnabled()  # the app never saw this run

    tab.actions["resume"].trigger()
    train = window.train_tab
    assert window.tabs.currentWidget() is train
    assert train.running, train.message.text()
    assert train.run.out_dir == str(stopped) and train.run.resume == str(stopped / "last.pt")
    qtbot.waitUntil(lambda: not train.running and train.last_outcome is not None, timeout=RUN_TIMEOUT_MS)
    assert train.last_outcome.status == "completed", train.last_outcome.message
    history = engine.load_checkpoint(stopped / "last.pt").history
    assert [row["epoch"] for row in history] == [1, 2, 3]
    # The Runs tab refreshes when the run ends.
    qtbot.waitUntil(
        lambda: dict(zip(_column(tab, "Name"), _column(tab, "Status"), strict=True))["cli-stopped"] == "completed",
        timeout=RUN_TIMEOUT_MS,
    )


def test_open_config_command_rename_and_trash(qtbot, engine_info, gui_settings, runs_root):
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QPlainTextEdit

    from engine.cli import program as cli

    tab = _tab(qtbot, engine_info, gui_settings)
    alpha = runs_root / "alpha"
    tab.select_paths([str(alpha)])
    with qtbot.waitSignal(tab.open_in_predict) as blocker:
        tab.actions["predict"].trigger()
    assert blocker.args == [str(alpha / "best.pt")]
    with qtbot.waitSignal(tab.open_in_evaluate) as blocker:
        tab.actions["evaluate"].trigger()
    assert blocker.args == [str(alpha / "best.pt")]

    export = tab.export_selected()
    assert export.isVisible() and export.checkpoint.text() == str(alpha / "best.pt")
    export.close()

    dialog = tab.show_config()
    assert '"model": "tutorial_net"' in dialog.findChild(QPlainTextEdit).toPlainText()

    line = tab.copy_command()
    assert QGuiApplication.clipboard().text() == line
    argv = shlex.split(line)
    assert argv[:4] == ["python", "-m", "engine", "train"]
    args = cli.build_parser().parse_args(argv[3:])  # the CLI reads it back
    assert Path(args.out) == alpha.with_name("alpha-again") and not Path(args.out).exists()  # a new run folder

    tab.ask_text = lambda *_a: "alpha-renamed"
    with qtbot.waitSignal(tab.refreshed, timeout=RUN_TIMEOUT_MS):
        assert tab.rename_selected() == str(runs_root / "alpha-renamed")
    assert not alpha.exists() and (runs_root / "alpha-renamed" / "best.pt").is_file()

    tab.select_paths([str(runs_root / "beta")])
    tab.confirm = lambda *_a: False
    assert tab.trash_selected() == []
    assert (runs_root / "beta").is_dir()
    asked = []
    tab.confirm = lambda _parent, _title, text: asked.append(text) or True
    with qtbot.waitSignal(tab.refreshed, timeout=RUN_TIMEOUT_MS):
        assert tab.trash_selected() == [str(runs_root / "beta")], (tab.message.text(), tab.selected_paths())
    assert "beta" in asked[0]
    assert not (runs_root / "beta").exists()
    assert "beta" not in _column(tab, "Name")


def test_quitting_during_a_run_asks_and_a_long_run_alerts(qtbot, gui_settings, tiny_image_folder, tmp_path):
    from gui import run_alerts

    window = MainWindow(gui_settings)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.engine_ready, timeout=RUN_TIMEOUT_MS):
        window.show()
    train = window.train_tab
    train.form.set_config(tiny_config(data=str(tiny_image_folder), epochs=300, batch_size=2))
    train.output.setText(str(tmp_path / "quitting"))
    asked = []
    window.confirm_quit = lambda _w: asked.append(True) and False  # the user says "No"
    assert train.start()
    qtbot.waitUntil(lambda: bool(train.curves.rows), timeout=RUN_TIMEOUT_MS)
    name, rows = window.runs_tab.live_source()  # the Runs tab overlays the live run from here
    assert name == "quitting" and rows == train.curves.rows
    assert not window.request_quit()
    assert asked and window.isVisible() and train.running

    # A run longer than a minute that ends while another window is active alerts.
    assert not window.alerts.run_ended("Training completed", "done", run_alerts.ALERT_AFTER_S - 1)
    window.isActiveWindow = lambda: False  # the offscreen platform has no window focus to take away
    assert window.alerts.run_ended("Training completed", "finished 3 epochs", run_alerts.ALERT_AFTER_S + 1)
    assert window.alerts.alerts == ["Training completed: finished 3 epochs"]

    run = train.run
    window.confirm_quit = lambda _w: True
    window.request_quit()
    assert not window.isVisible() and run.stop_requested  # it stops within a batch, checkpoints kept
    qtbot.waitUntil(lambda: not run.is_running(), timeout=RUN_TIMEOUT_MS)
