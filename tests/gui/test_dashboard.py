"""The Dashboard on real services and a real window, offscreen: two paper replays started from
their cards run at once, each card showing its own connection's figures (those of
``services.last_summary``); Stop on one card leaves the other running; Kill on a card asks with the
kill switch's words and flattens that connection only; the "Add or remove active connections"
dialog picks the cards and is remembered by other windows and the next start; the window title
says LIVE while a live engine runs on the local exchange. Screenshots (1280x720, three cards, dark
and light) go to /work/notes/shots/dashboard when that folder exists."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from cts_desktop.core import events as ev
from cts_desktop.engine.live import ExchangeEngine
from cts_desktop.services import AppServices
from cts_desktop.services.dashboard import DashboardError, DashboardService, today_pnl, window_title
from cts_desktop.store.settings import BUILTIN_PAPER_NAME
from cts_desktop.ui import fmt, theme
from tests.venue.harness import API_KEY, API_SECRET, connection_for

from .conftest import run

pytestmark = pytest.mark.gui

SHOTS = Path("/work/notes/shots/dashboard")
SECOND = "Paper - second replay"


def shot(widget, name):
    if SHOTS.is_dir():
        widget.grab().save(str(SHOTS / name))


def add_second_replay(services, speed="x1000"):
    first = services.connection(BUILTIN_PAPER_NAME)
    first.speed = speed
    services.save_connection(first)
    services.save_connection(dataclasses.replace(first, name=SECOND, builtin=False, speed=speed))
    return BUILTIN_PAPER_NAME, SECOND


def expected_figures(services, name):
    s = services.last_summary(name)
    cur = s["currency"]
    return {"balance": fmt.money(s["balance"], cur, unit=True), "equity": fmt.money(s["equity"], cur, unit=True),
            "positions": str(s["open_positions"])}


def shown(card):
    f = card.figures()
    return {k: f[k] for k in ("balance", "equity", "positions")}


def test_two_replays_from_their_cards_stop_one_kill_the_other(window, services, qtbot):
    a, b = add_second_replay(services)
    window.resize(1280, 720)
    dash = window.dashboard_tab
    dash.reload()
    window.tabs.setCurrentWidget(dash)
    assert list(dash.cards) == [a, b]
    card_a, card_b = dash.cards[a], dash.cards[b]
    assert card_a.mode_strip.text().startswith("PAPER") and card_a.stop_button.isEnabled() is False
    qtbot.mouseClick(card_a.start_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(card_b.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: services.engine_state(a) == ev.RUNNING and services.engine_state(b) == ev.RUNNING,
                    timeout=30_000)
    ea, eb = services.engines[a], services.engines[b]
    assert ea is not eb
    qtbot.waitUntil(lambda: ea.core.candles_seen > 30 and eb.core.candles_seen > 30, timeout=30_000)
    # both run at once, and each card follows its own engine through the bridge, selected or not
    assert window.current == a
    qtbot.waitUntil(lambda: bool(card_a.card.progress and card_b.card.progress), timeout=10_000)
    assert "candles replayed" in card_a.activity.text() and not card_a.start_button.isEnabled()
    # the figures are the service's, per connection (nothing runs between refresh and compare)
    dash.refresh(a)
    dash.refresh(b)
    assert shown(card_a) == expected_figures(services, a)
    assert shown(card_b) == expected_figures(services, b)
    assert card_a.card.run_id != card_b.card.run_id
    shot(window, "dashboard_two_replays.png")
    # Stop on A: B keeps running
    qtbot.mouseClick(card_a.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: services.engine_state(a) == ev.STOPPED, timeout=30_000)
    seen = eb.core.candles_seen
    qtbot.waitUntil(lambda: eb.core.candles_seen > seen + 5, timeout=30_000)  # B still trades
    assert services.engine_state(b) == ev.RUNNING
    qtbot.waitUntil(lambda: card_a.card.state == ev.STOPPED and card_a.start_button.isEnabled(), timeout=10_000)
    assert shown(card_a) == expected_figures(services, a)  # the stored run's figures now
    # A again, then Kill on B: the toolbar kill switch's confirmation, for B only
    qtbot.mouseClick(card_a.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: services.engine_state(a) == ev.RUNNING, timeout=30_000)
    ea = services.engines[a]
    qtbot.mouseClick(card_b.kill_button, Qt.MouseButton.LeftButton)
    box = window.findChild(QMessageBox, "KillConfirm")
    assert box is not None and box.isVisible()
    assert box.text() == window.killer.plan([b])
    assert box.text().startswith(f"Kill switch on {b}: cancel every open order, close ")
    shot(box, "dashboard_kill_confirmation.png")
    qtbot.mouseClick(box.findChild(type(box.defaultButton()), "KillConfirmButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: eb.state == ev.STOPPED, timeout=30_000)
    assert eb.reason == "kill switch"
    assert not eb.core.portfolio.open and not eb.core.paper.open_orders()
    seen = ea.core.candles_seen
    qtbot.waitUntil(lambda: ea.core.candles_seen > seen + 5, timeout=30_000)
    assert ea.state == ev.RUNNING  # A untouched
    qtbot.waitUntil(lambda: "kill switch:" in window.banner.text.text(), timeout=10_000)
    # Details on a card shows that connection in the other tabs
    qtbot.mouseClick(card_b.open_button, Qt.MouseButton.LeftButton)
    assert window.current == b and window.tabs.currentWidget() is window.live_tab


def test_the_dialog_picks_the_cards_and_other_windows_remember(window, services, qtbot, tmp_path):
    from cts_desktop.ui.main_window import MainWindow

    a, b = add_second_replay(services)
    dash = window.dashboard_tab
    dash.reload()
    assert list(dash.cards) == [a, b]  # never chosen: every connection
    dlg = dash.open_picker()
    qtbot.waitExposed(dlg)
    assert dlg.windowTitle() == "Add or remove active connections"
    assert dlg.checked() == [a, b]
    shot(dlg, "dashboard_active_dialog.png")
    dlg.set_checked([b])
    dlg.accept()
    assert list(dash.cards) == [b]
    dlg = dash.open_picker()
    dlg.set_checked([])
    dlg.accept()
    assert dash.cards == {} and not dash.empty.isHidden()
    dlg = dash.open_picker()
    dlg.set_checked([a])
    dlg.accept()
    assert list(dash.cards) == [a]
    w2 = MainWindow(services)  # another window
    qtbot.addWidget(w2)
    assert list(w2.dashboard_tab.cards) == [a]
    again = AppServices(tmp_path / "data2", services.config_dir)  # the next start
    try:
        assert DashboardService(again).active() == [a]
    finally:
        again.close()
    # a rename keeps the card; an unknown name is refused with the service's words
    svc = DashboardService(services)
    with pytest.raises(DashboardError, match="no connection named 'nope'"):
        svc.set_active(["nope"])
    svc.set_active([b])
    services.settings.rename(b, "Renamed replay")
    w2.dashboard_tab.rename(b, "Renamed replay")
    assert list(w2.dashboard_tab.cards) == ["Renamed replay"]
    assert svc.active() == ["Renamed replay"]


def test_title_and_card_say_live_while_a_live_engine_runs(window, services, venue, qtbot):
    name = "venue live"
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    services.save_connection(connection_for(venue, name, live=True, rate_limit_per_second=1000,
                                            strategy_params={"timeframe": "5m"}))
    a, b = add_second_replay(services, speed="x100")
    window.dashboard_tab.reload()
    eng = ExchangeEngine(services.connection(name), bus=services.bus, recorder=services.recorder,
                         secrets={"apiKey": API_KEY, "secret": API_SECRET}, poll_interval=0.05, timeout_ms=3000)
    services.engines[name] = eng
    assert window.windowTitle() == "CTS Desktop"
    run(qtbot, eng.start(), timeout=60_000)
    assert eng.state == ev.RUNNING, eng.reason
    qtbot.waitUntil(lambda: window.windowTitle() == f"CTS Desktop — LIVE: {name}", timeout=10_000)
    assert window.tray.live_names == [name] and window.tray.tooltip == f"CTS Desktop - LIVE: {name}"
    card = window.dashboard_tab.cards[name]
    qtbot.waitUntil(lambda: card.card.state == ev.RUNNING, timeout=10_000)
    assert card.mode_strip.text().startswith("LIVE") and card.property("live") is True
    assert f"LIVE: {name}" in window.dashboard_tab.summary.text()
    # feed health follows the feed's stale / resumed events of that connection
    assert card.feed.text() == "feed ok"
    services.bus.publish(ev.FeedStale(name, "BTC/USDT", 30.0))
    qtbot.waitUntil(lambda: card.feed.text() == "stale: BTC/USDT", timeout=10_000)
    services.bus.publish(ev.FeedResumed(name, "BTC/USDT", 31.0))
    qtbot.waitUntil(lambda: card.feed.text() == "feed ok", timeout=10_000)
    # three cards at 1280x720, with two replays running beside the live engine, dark and light
    for n in (a, b):
        run(qtbot, services.start_engine(n), timeout=30_000)
    qtbot.waitUntil(lambda: all(services.engines[n].core.candles_seen > 20 for n in (a, b)), timeout=30_000)
    qtbot.waitUntil(lambda: "candle" in card.detail.text(), timeout=20_000)
    assert card.activity.text().startswith("LIVE on binance testnet")
    window.resize(1280, 720)
    window.tabs.setCurrentWidget(window.dashboard_tab)
    qtbot.waitUntil(lambda: all(c.isVisible() for c in window.dashboard_tab.cards.values()), timeout=5_000)
    for c in window.dashboard_tab.cards.values():
        assert c.visibleRegion().boundingRect().width() >= c.width() - 1  # not clipped sideways
    shot(window, "dashboard_3_cards_dark.png")
    app = QApplication.instance()
    theme.apply_theme(app, "light")
    try:
        qtbot.waitUntil(lambda: "#ffffff" in window.dashboard_tab.styleSheet(), timeout=5_000)
        shot(window, "dashboard_3_cards_light.png")
    finally:
        theme.apply_theme(app, "dark")
    run(qtbot, services.stop_engine(name), timeout=60_000)
    qtbot.waitUntil(lambda: window.windowTitle() == "CTS Desktop", timeout=10_000)


def test_today_pnl_counts_from_utc_midnight_of_the_last_point():
    day = 86_400_000
    curve = [(day - 60_000, 1_010.0), (day, 1_020.0), (day + 3_600_000, 1_005.0)]
    assert today_pnl(curve, 1_000.0) == (1_005.0 - 1_010.0, "1970-01-02")
    assert today_pnl(curve[1:], 1_000.0) == (5.0, "1970-01-02")  # began that day: from the starting balance
    assert today_pnl([], 1_000.0) == (None, "")
    assert window_title([]) == "CTS Desktop"
    assert window_title(["a", "b"]) == "CTS Desktop — LIVE: a, b"
