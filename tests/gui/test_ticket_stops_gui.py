"""Stop orders from the ticket, amend and close at limit in the real main window on the built-in
paper replay (the real engine, a real SQLite file): a stop-market is held and listed in the Orders
table with its trigger, then canceled from the table; a resting limit is amended from the table's
menu through its dialog; a position gets a close-at-limit order from the positions table's menu.
Screenshots at 1280x720 go to /work/notes/shots/ticket2 when that folder exists."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from cts_desktop.core import events as ev
from cts_desktop.store.settings import BUILTIN_PAPER_NAME
from tests.integration import test_manual_orders  # noqa: F401 - registers the idle strategy

from .conftest import run
from .test_ticket_gui import menu_action, select_row

SHOTS = Path("/work/notes/shots/ticket2")


def shot(widget, name):
    if SHOTS.is_dir():
        widget.grab().save(str(SHOTS / name))


def orders_of(window):
    return window.trading.open_orders(BUILTIN_PAPER_NAME)


def test_stop_amend_and_close_at_limit_from_the_window(window, services, qtbot):
    conn = services.connection(BUILTIN_PAPER_NAME)
    conn.speed, conn.strategy, conn.strategy_params = "x1000", "test_idle", {}
    services.save_connection(conn)
    window.resize(1280, 720)
    eng = run(qtbot, services.start_engine(BUILTIN_PAPER_NAME))
    assert eng.state == ev.RUNNING, eng.reason
    core = eng.core
    qtbot.waitUntil(lambda: len(core.portfolio.last_prices) == len(core.markets), timeout=20_000)
    t = window.ticket
    qtbot.waitUntil(lambda: t.symbol.count() == len(core.markets), timeout=5_000)
    sym = t.symbol.itemText(0)
    window.actions["buy"].trigger()
    # a buy stop-market far over the price: the trigger field opens, the verdict is the engine's
    t.type.setCurrentIndex(t.type.findData("stop_market"))
    assert t.trigger.isEnabled() and not t.price.isEnabled()
    t.unit.setCurrentIndex(t.unit.findData("equity"))
    t.amount.setValue(10)
    last = core.portfolio.last_prices[sym]
    t.trigger.setValue(last * 0.5)
    qtbot.waitUntil(lambda: "must be above the last price" in t.verdict.text(), timeout=5_000)
    assert not t.send.isEnabled()
    t.trigger.setValue(last * 1.5)
    qtbot.waitUntil(lambda: t.verdict.text().startswith("Risk check: ok:") and t.send.isEnabled(), timeout=5_000)
    shot(window, "ticket_stop_main_window.png")
    shot(t, "ticket_stop.png")
    qtbot.mouseClick(t.send, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(o.type == "stop_market" for o in orders_of(window)), timeout=10_000)
    assert "held until the trigger" in t.result.text()
    orders = window.positions_tab.orders_table
    window.tabs.setCurrentWidget(window.positions_tab)
    window.positions_tab.lower.setCurrentIndex(1)  # the Orders tab
    qtbot.waitUntil(lambda: orders.model().rowCount() >= 1, timeout=10_000)
    model = orders.model()
    row = next(r for r in range(model.rowCount()) if model.record(r).type == "stop_market")
    trig_col = next(i for i, c in enumerate(model.columns) if c.field == "trigger")
    assert model.data(model.index(row, trig_col)) and model.record(row).state == "open"
    shot(window, "orders_with_stop.png")
    select_row(orders, lambda o: o.type == "stop_market")
    menu_action(window, orders, "orders", "Cancel order ").trigger()
    qtbot.waitUntil(lambda: not orders_of(window), timeout=10_000)
    qtbot.waitUntil(lambda: model.record(row).state == "canceled", timeout=5_000)

    # a buy limit resting far under the price, amended from the table's menu
    t.type.setCurrentIndex(t.type.findData("limit"))
    t.price.setValue(last * 0.5)
    qtbot.waitUntil(lambda: t.send.isEnabled(), timeout=5_000)
    qtbot.mouseClick(t.send, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(o.type == "limit" for o in orders_of(window)), timeout=10_000)
    (first,) = orders_of(window)
    qtbot.waitUntil(lambda: any(model.record(r).clientOrderId == first.clientOrderId
                                for r in range(model.rowCount())), timeout=5_000)
    select_row(orders, lambda o: o.clientOrderId == first.clientOrderId)
    menu_action(window, orders, "orders", "Amend order ").trigger()
    dlg = window.amend_dialog
    assert dlg.isVisible() and dlg.price.value() > 0
    step = core.markets[sym].price_step
    assert dlg.price.singleStep() == step
    dlg.price.setValue(last * 0.6)
    shot(dlg, "amend_dialog.png")
    qtbot.mouseClick(dlg.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: [o.clientOrderId for o in orders_of(window)] not in ([], [first.clientOrderId]),
                    timeout=10_000)
    (second,) = orders_of(window)
    assert second.price == pytest.approx(last * 0.6, abs=step) and first.state == "canceled"
    run(qtbot, window.trading.cancel(BUILTIN_PAPER_NAME, second.clientOrderId))

    # a position, then a close at limit far over the price from the positions table
    t.type.setCurrentIndex(t.type.findData("market"))
    qtbot.waitUntil(lambda: t.send.isEnabled(), timeout=5_000)
    qtbot.mouseClick(t.send, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sym in core.portfolio.open, timeout=20_000)
    window.positions_tab.lower.setCurrentIndex(0)
    opened = window.positions_tab.open_table
    qtbot.waitUntil(lambda: opened.model().rowCount() == 1, timeout=10_000)
    select_row(opened, lambda p: p.symbol == sym)
    menu_action(window, opened, "positions", f"Close {sym} at limit").trigger()
    dlg = window.close_limit_dialog
    assert dlg.isVisible() and dlg.price.value() > 0
    dlg.price.setValue(core.portfolio.last_prices[sym] * 3)
    shot(dlg, "close_at_limit_dialog.png")
    qtbot.mouseClick(dlg.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(o.reduce_only and o.type == "limit" for o in orders_of(window)), timeout=10_000)
    (close,) = orders_of(window)
    assert close.reason == "manual exit" and close.amount == pytest.approx(
        core.portfolio.open[sym].amount)
    shot(window, "after_close_at_limit.png")
    run(qtbot, services.stop_engine(BUILTIN_PAPER_NAME))


def test_the_live_question_can_be_turned_off_for_one_connection_only(window, services, venue, qtbot):
    from PySide6.QtWidgets import QCheckBox, QScrollArea

    from cts_desktop.store.settings import SettingsStore
    from tests.integration.test_live_engine import SYM, make_engine, step
    from tests.venue.harness import API_KEY, API_SECRET, connection_for

    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    services.save_connection(connection_for(venue, "venue other", live=True))
    eng = make_engine(services, venue, "venue live", live=True, params={"buy_on": "", "sell_on": "", "size": 0.2})
    run(qtbot, eng.start())
    assert eng.state == ev.RUNNING, eng.reason
    run(qtbot, step(venue, eng, 1))
    window.resize(1280, 720)
    window._fill_connection_combo()
    window.select_connection("venue live")
    t = window.ticket
    window.actions["buy"].trigger()
    qtbot.waitUntil(lambda: t.connection == "venue live" and t.symbol.currentText() == SYM, timeout=5_000)
    t.unit.setCurrentIndex(t.unit.findData("base"))
    t.amount.setValue(0.002)
    qtbot.waitUntil(lambda: t.send.isEnabled(), timeout=5_000)
    qtbot.mouseClick(t.send, Qt.MouseButton.LeftButton)
    box = t.confirm_box
    quiet = box.findChild(QCheckBox, "TicketConfirmQuiet")
    assert quiet is not None and quiet.text() == "Don't ask again for venue live"
    quiet.setChecked(True)
    shot(box, "live_confirmation_dont_ask.png")
    qtbot.mouseClick(box.findChild(type(box.defaultButton()), "TicketConfirmSend"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: SYM in eng.core.portfolio.open, timeout=20_000)
    # stored on that connection (the settings file), not on the others, not globally
    on_disk = SettingsStore(services.config_dir).load()
    assert on_disk.get("venue live").confirm_orders is False and on_disk.get("venue other").confirm_orders is True
    assert services.app_settings["confirm_live_orders"] is True
    # the next live order on it goes out without the question
    t.confirm_box = None
    t.sell.setChecked(True)
    t.reduce_only.setChecked(True)
    qtbot.waitUntil(lambda: t.send.isEnabled(), timeout=5_000)
    qtbot.mouseClick(t.send, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: SYM not in eng.core.portfolio.open, timeout=20_000)
    assert t.confirm_box is None
    run(qtbot, eng.stop())
    # the connection's settings show it, with the warning, and turn it back on
    window.tabs.setCurrentWidget(window.connections_tab)
    window.connections_tab.refresh(select="venue live")
    d = window.connections_tab.details
    qtbot.waitUntil(lambda: d.conn is not None and d.conn.name == "venue live", timeout=5_000)
    ex = d.exchange_section
    assert not ex.confirm_orders.isChecked() and ex.confirm_warning.isVisibleTo(ex)
    window.ticket_dock.hide()
    qtbot.waitUntil(lambda: ex.height() >= ex.sizeHint().height(), timeout=5_000)  # laid out
    area = next((w for w in d.findChildren(QScrollArea) if w.isAncestorOf(ex)), None)
    if area is not None:
        area.ensureWidgetVisible(ex.confirm_warning)
    shot(window, "connection_confirm_orders_off.png")
    ex.confirm_orders.setChecked(True)
    assert not ex.confirm_warning.isVisibleTo(ex)
    qtbot.waitUntil(d.save_button.isEnabled, timeout=5_000)
    qtbot.mouseClick(d.save_button, Qt.MouseButton.LeftButton)
    assert services.connection("venue live").confirm_orders is True
