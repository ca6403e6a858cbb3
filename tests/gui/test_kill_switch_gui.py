"""The kill switch in the main window: Ctrl+Shift+K asks first, saying what will happen, then stops
the running replay with its orders canceled and positions closed; "Re-arm risk breaker" clears a
latched breaker. Screenshots go to /work/notes/shots/h-risk when that folder exists."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from cts_desktop.core import events as ev
from cts_desktop.store.breakers import LatchStore
from cts_desktop.store.settings import BUILTIN_PAPER_NAME

from .conftest import run

SHOTS = Path("/work/notes/shots/h-risk")


def shot(widget, name):
    if SHOTS.is_dir():
        widget.grab().save(str(SHOTS / name))


def test_kill_switch_confirms_then_stops_and_flattens(window, services, qtbot):
    conn = services.connection(BUILTIN_PAPER_NAME)
    conn.speed = "x1000"
    services.save_connection(conn)
    window.resize(1280, 720)
    eng = run(qtbot, services.start_engine(BUILTIN_PAPER_NAME))
    assert eng.state == ev.RUNNING, eng.reason
    qtbot.waitUntil(lambda: eng.core is not None and eng.core.candles_seen > 50, timeout=20_000)
    kill = window.actions["kill"]
    assert kill.shortcut().toString() == "Ctrl+Shift+K"
    assert window.toolbar.widgetForAction(kill).isVisible()
    kill.trigger()
    box = window.findChild(QMessageBox, "KillConfirm")
    assert box is not None and box.isVisible()
    assert box.text().startswith(f"Kill switch on {BUILTIN_PAPER_NAME}: cancel every open order, close ")
    shot(window, "main_window_kill_button.png")
    shot(box, "kill_confirmation.png")
    qtbot.mouseClick(box.findChild(type(box.defaultButton()), "KillConfirmButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: eng.state == ev.STOPPED, timeout=20_000)
    assert eng.reason == "kill switch"
    assert not eng.core.portfolio.open and not eng.core.paper.open_orders()
    qtbot.waitUntil(lambda: window.banner.isVisible() and "kill switch:" in window.banner.text.text(), timeout=10_000)
    shot(window, "after_kill_banner.png")


def test_kill_switch_with_nothing_running_says_so(window):
    window.actions["kill"].trigger()
    assert window.findChild(QMessageBox, "KillConfirm") is None
    assert "no engine is running" in window.banner.text.text()


def test_rearm_clears_a_latched_breaker(window, services):
    LatchStore(services.data_dir).latch(BUILTIN_PAPER_NAME, "max drawdown 21.0% reached the limit 20.0%", 0)
    window.actions["rearm"].trigger()
    assert "re-armed" in window.banner.text.text()
    assert LatchStore(services.data_dir).latched(BUILTIN_PAPER_NAME) is None
    window.actions["rearm"].trigger()
    assert "not latched" in window.banner.text.text()


def test_risk_section_edits_the_breakers_and_shows_a_bad_one_inline(window, services, qtbot):
    window.resize(1280, 720)
    window.tabs.setCurrentWidget(window.connections_tab)
    d = window.connections_tab.details
    rs = d.risk_section
    assert rs.spins["daily_loss_limit"].value() == 5.0 and rs.spins["max_drawdown"].value() == 20.0
    rs.spins["max_order_notional"].setValue(2500)
    rs.spins["max_drawdown"].setValue(12.5)
    rs.spins["max_orders_per_minute"].setValue(6)
    rs.show()
    shot(rs, "risk_section.png")
    conn = services.connection(BUILTIN_PAPER_NAME)
    rs.apply(conn)
    assert (conn.risk["max_order_notional"], conn.risk["max_drawdown"], conn.risk["max_orders_per_minute"]) == \
        (2500.0, 0.125, 6)
    rs.spins["max_position_fraction"].setValue(0.0)
    try:
        rs.validate()
    except Exception as exc:  # noqa: BLE001 - FieldError: the field and its message
        assert exc.field == "max_position_fraction" and "(0, 1]" in str(exc)
    else:
        raise AssertionError("a max position size of 0 was accepted")


def test_resume_paused_symbol_is_in_the_engine_menu_and_says_when_nothing_is_paused(window):
    from cts_desktop.ui import kill_switch

    action = window.actions["resume_symbol"]
    engine_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Engine")
    assert action in engine_menu.actions()
    kill_switch.resume_paused(window)
    assert "no symbol is paused" in window.banner.text.text()
