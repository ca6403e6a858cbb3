"""Tools > Settings... on real services and a real window, offscreen: the form shows the stored
preferences, refuses bad values with the service's words, saves to settings.json and applies
what it can at once (theme, UI refresh interval, notification switches)."""
from __future__ import annotations

import json

import pytest
from PySide6.QtWidgets import QApplication, QLineEdit

from cts_desktop.ui import theme
from cts_desktop.ui.settings_dialog import SettingsDialog

pytestmark = pytest.mark.gui


@pytest.fixture
def dialog(window, qtbot):
    """The window's Settings dialog, opened through Tools > Settings... (Ctrl+,)."""
    action = next(a for a in window.findChildren(type(window.actions["start"])) if a.objectName() == "action_settings")
    assert action.shortcut().toString() == "Ctrl+,"
    assert action in window.menuBar().actions()[3].menu().actions()  # Tools
    action.trigger()
    dlg = window.findChild(SettingsDialog)
    assert dlg is not None and dlg.isVisible()
    yield dlg
    dlg.close()
    theme.apply_theme(QApplication.instance(), "dark")  # the session's look for the other tests


def stored(services):
    return json.loads(services.app_settings.path.read_text(encoding="utf-8"))


def test_the_form_shows_every_preference_with_the_stored_values(dialog, services):
    assert set(dialog.editors) == set(services.app_settings.values)
    assert dialog.values() == services.app_settings.values
    assert dialog.editors["kill_flattens"].isChecked() and dialog.editors["confirm_live_orders"].isChecked()
    assert dialog.editors["poll_interval_s"].text() == "automatic"
    assert str(services.app_settings.path) in " ".join(w.text() for w in dialog.findChildren(type(dialog.message)))


def test_a_refused_value_names_the_field_saves_nothing_and_marks_the_editor(dialog, services, window):
    dialog.editors["ui_refresh_ms"].setValue(5)
    dialog.editors["theme"].setCurrentIndex(dialog.editors["theme"].findData("light"))
    assert not dialog.apply()
    assert dialog.message.text() == "Not saved: UI refresh interval: must be between 20 and 2000 ms; got 5"
    assert dialog.message.property("error") is True
    assert dialog.editors["ui_refresh_ms"].property("invalid") is True
    assert not services.app_settings.path.exists()
    assert theme.current_theme() == "dark" and window.bridge.interval_ms == 100


def test_a_file_is_refused_as_database_folder_and_a_folder_is_kept_for_the_next_start(dialog, services, tmp_path):
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    folder = dialog.editors["database_dir"]
    assert isinstance(folder, QLineEdit) and str(services.data_dir) in folder.placeholderText()
    folder.setText(str(a_file))
    assert not dialog.apply()
    assert "Database folder:" in dialog.message.text() and "is a file, not a folder" in dialog.message.text()
    folder.setText(str(tmp_path / "trades"))
    assert dialog.apply()
    assert "Database folder: takes effect at the next start" in dialog.message.text()
    assert stored(services)["database_dir"] == str(tmp_path / "trades")


def test_theme_and_refresh_interval_apply_at_once_and_are_saved(dialog, services, window, qtbot):
    app = QApplication.instance()
    dialog.editors["theme"].setCurrentIndex(dialog.editors["theme"].findData("light"))
    dialog.editors["ui_refresh_ms"].setValue(250)
    assert dialog.apply()
    assert dialog.message.text() == "Saved; applied now."
    assert theme.current_theme() == "light" and "light theme" in app.styleSheet()
    assert app.palette().window().color().lightness() > 200
    assert window.live_tab.chart._dark is False
    assert window.bridge.interval_ms == 250
    assert stored(services)["theme"] == "light" and stored(services)["ui_refresh_ms"] == 250
    # "follow the system": offscreen the desktop does not say, so dark
    dialog.editors["theme"].setCurrentIndex(dialog.editors["theme"].findData("system"))
    assert dialog.apply()
    assert theme.current_theme() == (theme.system_scheme() or "dark")
    assert window.live_tab.chart._dark is (theme.current_theme() == "dark")


def test_restore_defaults_fills_the_form_and_ok_saves_and_closes(dialog, services):
    services.app_settings.update({"notify_fills": False, "default_paper_balance": 500.0})
    dialog.load(services.app_settings.values)
    assert not dialog.editors["notify_fills"].isChecked()
    dialog.restore_defaults()
    assert dialog.editors["notify_fills"].isChecked() and dialog.editors["default_paper_balance"].value() == 10_000
    assert services.app_settings["notify_fills"] is False  # not saved until Apply / OK
    dialog.buttons.accepted.emit()
    assert not dialog.isVisible()
    assert services.app_settings["notify_fills"] is True and stored(services)["default_paper_balance"] == 10_000


def test_switching_fills_off_silences_them_at_once(dialog, services, window):
    from cts_desktop.core import events as ev
    from cts_desktop.core.models import Fill

    dialog.editors["notify_fills"].setChecked(False)
    assert dialog.apply()
    fill = ev.FillEvent("x", Fill("f", "o", "c", "BTC/USD", "buy", 1.0, 1.0, 0))
    assert not window.tray.notifier.offer(fill)
    dialog.editors["notify_fills"].setChecked(True)
    assert dialog.apply()
    assert window.tray.notifier.offer(fill)
