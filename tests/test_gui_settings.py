"""Settings survive a restart: training config, checkpoints, window geometry and tab, in an
isolated QSettings file (never the user's)."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from gui.main_window import MainWindow
from gui.settings import MAX_RECENT, Settings


def test_settings_round_trip(tmp_path):
    path = str(tmp_path / "s.ini")
    first = Settings(QSettings(path, QSettings.Format.IniFormat))
    first.train_config_json = '{"epochs": 3}'
    first.preset = "quick"
    first.last_checkpoint = "/runs/a/best.pt"
    for i in range(MAX_RECENT + 3):
        first.add_recent_checkpoint(f"/runs/{i}/best.pt")
    first.add_recent_checkpoint("/runs/2/best.pt")  # re-opened: moves to the front, no duplicate
    first.last_run = {"out_dir": "/runs/x", "status": "stopped", "best": None, "last": "/runs/x/last.pt"}
    first.evaluate_data = "cifar10"
    first.current_tab = "evaluate"
    first.sync()

    again = Settings(QSettings(path, QSettings.Format.IniFormat))
    assert again.train_config_json == '{"epochs": 3}' and again.preset == "quick"
    assert again.last_checkpoint == "/runs/a/best.pt"
    recent = again.recent_checkpoints
    assert len(recent) == MAX_RECENT and recent[0] == "/runs/2/best.pt" and len(set(recent)) == len(recent)
    assert again.last_run["status"] == "stopped" and again.last_run["best"] is None
    assert again.evaluate_data == "cifar10" and again.current_tab == "evaluate"
    again.clear_recent_checkpoints()
    assert Settings(QSettings(path, QSettings.Format.IniFormat)).recent_checkpoints == []


def test_a_single_recent_checkpoint_stays_a_list(tmp_path):
    # QSettings' INI backend turns a one-element list into a string; values are stored as JSON
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    settings.add_recent_checkpoint("/only/best.pt")
    settings.sync()
    assert Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)).recent_checkpoints == [
        "/only/best.pt"
    ]


def test_window_restores_geometry_tab_and_training_config(qtbot, gui_settings, tiny_image_folder):
    import engine

    window = MainWindow(gui_settings)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.engine_ready, timeout=120_000):
        window.show()
    window.resize(1100, 650)
    window.show_tab("evaluate")
    cfg = engine.TrainConfig(data=str(tiny_image_folder), model="lenet5", epochs=4, lr=0.02)
    window.train_tab.form.set_config(cfg)
    window.close()  # remembers the form, the tab and the geometry

    again = MainWindow(Settings(gui_settings.store))
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.engine_ready, timeout=120_000):
        again.show()
    assert again.tabs.currentIndex() == 2
    # The offscreen test screen is 800 px wide, so Qt clamps the width on restore; the height fits.
    assert gui_settings.geometry is not None and again.height() == 650
    restored = again.train_tab.form.config()
    assert (restored.model, restored.epochs, restored.lr, restored.data) == ("lenet5", 4, 0.02, str(tiny_image_folder))
    # The engine's own name for its device ("CPU, N threads" / "CUDA: ..." / "Apple MPS"), as it
    # was when it loaded: another test's training may have changed torch's thread count since.
    assert again.device_label.text() == again.engine_info.device_name
    assert again.device_label.text().startswith(("CPU, ", "CUDA: ", "Apple MPS"))


def test_recent_checkpoints_menu(qtbot, gui_settings, tiny_checkpoint, tmp_path):
    gui_settings.add_recent_checkpoint(str(tmp_path / "deleted" / "best.pt"))
    gui_settings.add_recent_checkpoint(str(tiny_checkpoint))
    window = MainWindow(gui_settings)  # not shown: the engine is not needed for the menus
    qtbot.addWidget(window)
    window._fill_recent_menu()
    actions = [a for a in window.recent_menu.actions() if a.text()]
    assert [a.text() for a in actions[:2]] == [str(tiny_checkpoint), str(tmp_path / "deleted" / "best.pt")]
    assert [a.isEnabled() for a in actions[:2]] == [True, False]  # a file that is gone cannot be opened
    assert actions[-1].text() == "Clear list"
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "Help"]
