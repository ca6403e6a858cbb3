"""The tray on real services and a real window, offscreen (where no system tray exists): the
fallback to the status bar, coalesced notifications from a real replay, the menu's engine
commands, and the LIVE marker with a real live engine on the local exchange."""
from __future__ import annotations

import pytest
from PySide6.QtWidgets import QSystemTrayIcon

from cts_desktop.core import events as ev
from cts_desktop.engine.live import ExchangeEngine
from cts_desktop.store import repositories as repo
from cts_desktop.store.settings import BUILTIN_PAPER_NAME
from cts_desktop.ui.tray import TrayController, base_icon_pixmap, live_icon
from tests.venue.harness import API_KEY, API_SECRET, connection_for

from .conftest import run

pytestmark = pytest.mark.gui


def test_without_a_system_tray_the_window_works_and_notifications_reach_the_status_bar(window, qtbot):
    assert not QSystemTrayIcon.isSystemTrayAvailable()  # offscreen
    tray = window.tray
    assert tray.tray is None and not tray.available
    window.services.bus.publish(ev.CircuitBreakerTripped(BUILTIN_PAPER_NAME, "daily loss 5.2 % > 5 %"))
    qtbot.waitUntil(lambda: bool(tray.delivered), timeout=10_000)
    msg = tray.delivered[-1]
    assert msg.title == "Circuit breaker tripped" and msg.urgent
    assert window.statusBar().currentMessage() == \
        f"Circuit breaker tripped: {BUILTIN_PAPER_NAME}: trading halted: daily loss 5.2 % > 5 %"
    assert window.banner.isVisible() and "daily loss 5.2 %" in window.banner.text.text()


def test_a_fast_replays_fills_are_coalesced_into_one_message_per_gap(window, services, fast_paper, qtbot):
    slow = TrayController(window, use_tray=False, gap_s=3600.0)  # one message an hour
    run(qtbot, window.start_engine(), timeout=60_000)
    qtbot.waitUntil(lambda: services.engine_state(fast_paper) == ev.STOPPED, timeout=120_000)
    window.bridge.flush()
    fills = len(services.engine(fast_paper).core.fills)
    assert fills > 50
    qtbot.waitUntil(lambda: bool(slow.delivered), timeout=10_000)
    first = slow.delivered[0]
    assert len(slow.delivered) == 1 and slow.notifier.sent == 1
    assert first.count + slow.notifier.pending == fills  # the rest waits for the next message, as counts
    slow.notifier.gap_s = 0.0
    summary = slow.deliver()
    rest = fills - first.count
    assert summary.title == f"{rest:,} fills" and summary.count == rest
    assert summary.body.startswith(f"{rest:,} fills on {fast_paper}; latest: ")
    # the window's own tray (5 s gap) showed a handful, not one per fill
    assert 1 <= len(window.tray.delivered) < 10
    slow.close()


def test_the_menu_starts_and_stops_engines_and_stop_all_is_named_for_what_it_does(window, services, fast_paper, qtbot):
    tray = TrayController(window, use_tray=True)  # the tray object itself, as on a desktop with one
    assert tray.tray is not None and tray.tray.contextMenu() is tray.menu
    names = [a.objectName() for a in tray.menu.actions() if a.objectName()]
    assert names == ["tray_show", f"tray_engine_{fast_paper}", "tray_stop_all", "tray_kill", "tray_settings",
                     "tray_quit"]
    start = tray.engine_actions[fast_paper]
    assert start.text() == f"Start {fast_paper}"
    stop_all = tray.action("tray_stop_all")
    assert stop_all.text() == "Stop all engines" and not stop_all.isEnabled()
    assert "positions stay as they are" in stop_all.toolTip() and "kill switch" in stop_all.toolTip()
    assert not tray.action("tray_kill").isEnabled()
    assert tray.tooltip == "CTS Desktop - no engine running"

    services.connection(fast_paper).speed = "real time"  # stays running while we look
    start.trigger()
    qtbot.waitUntil(lambda: services.engine_state(fast_paper) == ev.RUNNING, timeout=60_000)
    qtbot.waitUntil(lambda: tray.engine_actions[fast_paper].text() == f"Stop {fast_paper}", timeout=10_000)
    assert tray.tooltip == f"CTS Desktop - paper: {fast_paper}" and tray.tray.toolTip() == tray.tooltip
    assert tray.action("tray_stop_all").isEnabled()
    tray.action("tray_kill").trigger()  # the window's kill-switch confirmation, naming what it will do
    from PySide6.QtWidgets import QMessageBox
    box = window.findChild(QMessageBox, "KillConfirm")
    assert box is not None and box.isVisible() and "cancel every open order" in box.text()
    box.reject()
    tray.action("tray_stop_all").trigger()
    qtbot.waitUntil(lambda: services.engine_state(fast_paper) == ev.STOPPED, timeout=60_000)
    assert repo.latest_run(fast_paper).reason == "stopped from the tray menu"
    qtbot.waitUntil(lambda: tray.tooltip == "CTS Desktop - no engine running", timeout=10_000)
    tray.close()


def test_settings_and_show_actions_open_the_dialog_and_raise_the_window(window):
    from cts_desktop.ui.settings_dialog import SettingsDialog

    tray = window.tray
    tray.action("tray_settings").trigger()
    dlg = window.findChild(SettingsDialog)
    assert dlg is not None and dlg.isVisible()
    dlg.close()
    window.showMinimized()
    tray.action("tray_show").trigger()
    assert not window.isMinimized()


def test_a_running_live_engine_marks_the_icon_and_the_tooltip(window, services, venue, qtbot):  # noqa: F811
    name = "venue live"
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    services.save_connection(connection_for(venue, name, live=True, rate_limit_per_second=1000,
                                            strategy_params={"timeframe": "5m"}))  # the venue's candles
    eng = ExchangeEngine(services.connection(name), bus=services.bus, recorder=services.recorder,
                         secrets={"apiKey": API_KEY, "secret": API_SECRET}, poll_interval=0.05, timeout_ms=3000)
    services.engines[name] = eng
    tray = TrayController(window, use_tray=True)
    plain = tray.tray.icon().pixmap(64, 64).toImage()
    run(qtbot, eng.start(), timeout=60_000)
    assert eng.state == ev.RUNNING, eng.reason
    qtbot.waitUntil(lambda: tray.live_names == [name], timeout=10_000)
    assert tray.tooltip == f"CTS Desktop - LIVE: {name}"
    assert tray.tray.icon().pixmap(64, 64).toImage() != plain  # the red dot
    assert tray.engine_actions[name].text() == f"Stop {name}  [LIVE]"
    run(qtbot, services.stop_engine(name), timeout=60_000)
    qtbot.waitUntil(lambda: tray.live_names == [], timeout=10_000)
    assert tray.tray.icon().pixmap(64, 64).toImage() == plain
    tray.close()


def test_the_live_overlay_differs_from_the_plain_icon():
    base = base_icon_pixmap()
    assert not base.isNull()  # the SVG is read
    assert live_icon(base).pixmap(64, 64).toImage() != base.toImage()
