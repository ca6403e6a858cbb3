"""The order ticket and the tables' trading commands in the real main window, on the built-in
paper replay (the real engine, a real SQLite file): a market buy from the ticket, a limit order
canceled from the orders table's menu, a refused ticket showing the risk verdict, a position
closed from its table, close all; the database agrees. Screenshots at 1280x720 go to
/work/notes/shots/ticket when that folder exists."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

from cts_desktop.core import events as ev
from cts_desktop.store.db import DB_FILENAME
from cts_desktop.store.settings import BUILTIN_PAPER_NAME
from cts_desktop.ui import help as help_ui
from cts_desktop.ui.main_window.exporting import table_menu
from tests.integration import test_manual_orders  # noqa: F401 - registers the idle strategy

from .conftest import run

SHOTS = Path("/work/notes/shots/ticket")


def shot(widget, name):
    if SHOTS.is_dir():
        widget.grab().save(str(SHOTS / name))


def menu_action(win, table, kind, starts):
    menu = table_menu(win, table, kind)
    assert menu.actions()[0].text().startswith("Export to CSV")  # the trading commands come after
    return next(a for a in menu.actions() if a.text().startswith(starts))


def select_row(table, pred):
    model = table.model()
    row = next(r for r in range(model.rowCount()) if pred(model.record(r)))
    table.setCurrentIndex(model.index(row, 0))


def test_ticket_places_cancels_and_closes_on_the_paper_replay(window, services, qtbot):
    conn = services.connection(BUILTIN_PAPER_NAME)
    conn.speed, conn.strategy, conn.strategy_params = "x1000", "test_idle", {}
    services.save_connection(conn)
    window.resize(1280, 720)
    assert not window.ticket_dock.isVisible()  # until asked for: the Positions tab needs the width
    eng = run(qtbot, services.start_engine(BUILTIN_PAPER_NAME))
    assert eng.state == ev.RUNNING, eng.reason
    core = eng.core
    qtbot.waitUntil(lambda: len(core.portfolio.last_prices) == len(core.markets), timeout=20_000)
    t = window.ticket
    qtbot.waitUntil(lambda: t.symbol.count() == len(core.markets), timeout=5_000)
    sym = t.symbol.itemText(0)
    assert t.set_symbol(sym) and not t.set_symbol("NOPE/USD")
    # Ctrl+Shift+B: buy, cursor in the amount; 10 % of equity at market
    window.actions["buy"].trigger()
    assert window.ticket_dock.isVisible() and t.side == "buy" and t.amount.hasFocus()
    t.unit.setCurrentIndex(t.unit.findData("equity"))
    t.amount.setValue(10)
    qtbot.waitUntil(lambda: t.verdict.text().startswith("Risk check: ok:") and t.send.isEnabled(), timeout=5_000)
    assert "fee" in t.estimate.text()
    shot(window, "ticket_main_window.png")
    shot(t, "ticket_buy.png")
    qtbot.mouseClick(t.send, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sym in core.portfolio.open, timeout=20_000)
    # a reduce-only limit sell far above the price, canceled from the orders table
    t.sell.setChecked(True)
    t.type.setCurrentIndex(t.type.findData("limit"))
    t.unit.setCurrentIndex(t.unit.findData("base"))
    t.reduce_only.setChecked(True)
    t.price.setValue(core.portfolio.last_prices[sym] * 2)
    t.amount.setValue(core.portfolio.open[sym].amount / 2)
    qtbot.waitUntil(lambda: t.send.isEnabled(), timeout=5_000)
    shot(t, "ticket_limit.png")
    qtbot.mouseClick(t.send, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(o.type == "limit" for o in window.trading.open_orders(BUILTIN_PAPER_NAME)),
                    timeout=10_000)
    orders = window.positions_tab.orders_table
    qtbot.waitUntil(lambda: orders.model().rowCount() >= 2, timeout=10_000)
    select_row(orders, lambda o: o.type == "limit")
    window.tabs.setCurrentWidget(window.positions_tab)
    window.positions_tab.lower.setCurrentIndex(1)  # the Orders tab
    menu = table_menu(window, orders, "orders")
    menu.popup(orders.viewport().mapToGlobal(orders.visualRect(orders.currentIndex()).center()))
    qtbot.waitUntil(menu.isVisible, timeout=5_000)
    shot(window, "positions_orders_manual.png")
    shot(menu, "orders_menu.png")
    menu.close()
    menu_action(window, orders, "orders", "Cancel order ").trigger()
    qtbot.waitUntil(lambda: not window.trading.open_orders(BUILTIN_PAPER_NAME), timeout=10_000)
    # refused while long (no pyramiding): the verdict says why, Send is off
    t.buy.setChecked(True)
    t.reduce_only.setChecked(False)
    t.type.setCurrentIndex(t.type.findData("market"))
    t.unit.setCurrentIndex(t.unit.findData("equity"))
    t.amount.setValue(90)
    qtbot.waitUntil(lambda: "no pyramiding" in t.verdict.text(), timeout=5_000)
    assert not t.send.isEnabled()
    # close the position from the open positions table
    opened = window.positions_tab.open_table
    qtbot.waitUntil(lambda: opened.model().rowCount() == 1, timeout=10_000)
    select_row(opened, lambda p: p.symbol == sym)
    m = opened.model()
    tip = m.tooltip(m.record(opened.currentIndex().row()), m.columns[0])  # the symbol cell's tooltip
    assert tip == f"{sym}: opened by hand (order ticket)"
    menu_action(window, opened, "positions", f"Close {sym} at market").trigger()
    qtbot.waitUntil(lambda: sym not in core.portfolio.open, timeout=20_000)
    # flat again: now the size itself is what the risk checks refuse
    qtbot.waitUntil(lambda: "exceeds the max position size" in t.verdict.text(), timeout=5_000)
    assert not t.send.isEnabled()
    shot(t, "ticket_refused.png")
    # a new position, then Close all (Ctrl+Shift+F) after its question
    t.amount.setValue(10)
    qtbot.waitUntil(lambda: t.send.isEnabled(), timeout=5_000)
    qtbot.mouseClick(t.send, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sym in core.portfolio.open, timeout=20_000)
    window.actions["close_all"].trigger()
    box = window.findChild(QMessageBox, "CloseAllConfirm")
    assert box is not None and "Close 1 open position of" in box.text()
    shot(box, "close_all_confirmation.png")
    qtbot.mouseClick(box.findChild(type(box.defaultButton()), "CloseAllConfirmButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not core.portfolio.open, timeout=20_000)
    shot(window, "after_close_all.png")
    run(qtbot, services.stop_engine(BUILTIN_PAPER_NAME))
    services.recorder.flush().result(10)
    con = sqlite3.connect(services.data_dir / DB_FILENAME)
    try:
        reasons = [r[0] for r in con.execute("select reason from orders where connection = ? order by id",
                                             (BUILTIN_PAPER_NAME,))]
        closes = [r[0] for r in con.execute("select close_reason from positions where connection = ? and "
                                            "closed_at is not null", (BUILTIN_PAPER_NAME,))]
        fills = con.execute("select count(*) from fills where connection = ?", (BUILTIN_PAPER_NAME,)).fetchone()[0]
    finally:
        con.close()
    assert reasons == ["manual entry", "manual exit", "manual close", "manual entry", "manual close"]
    assert closes == ["manual close"] * 2 and fills == 4


def test_trade_shortcuts_are_in_help(window):
    rows = {keys: (action, menu) for keys, action, menu in help_ui.shortcut_rows(window)}
    assert rows["Ctrl+Shift+B"][0] == "Buy ticket" and rows["Ctrl+Shift+S"][0] == "Sell ticket"
    assert rows["Ctrl+Shift+X"][0] == "Cancel all orders" and rows["Ctrl+Shift+F"][0] == "Close all positions…"
    assert "Ctrl+Shift+K" in rows
    dlg = help_ui.show_shortcuts(window)
    shot(dlg, "help_shortcuts.png")
    dlg.close()


def test_ticket_without_a_running_engine_says_how(window, qtbot):
    window.toolbar.widgetForAction(window.findChild(QAction, "action_ticket")).click()
    assert window.ticket_dock.isVisible()
    qtbot.waitUntil(lambda: "the engine is not running: start it to trade by hand" in window.ticket.verdict.text(),
                    timeout=5_000)
    assert not window.ticket.send.isEnabled()


def test_a_live_order_asks_first_naming_exchange_side_amount_and_notional(window, services, venue, qtbot):
    from tests.integration.test_live_engine import SYM, make_engine, step, venue_orders
    from tests.venue.harness import API_KEY, API_SECRET

    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
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
    assert t.mode.text() == "LIVE"
    t.unit.setCurrentIndex(t.unit.findData("base"))
    t.amount.setValue(0.002)
    qtbot.waitUntil(lambda: t.send.isEnabled(), timeout=5_000)
    qtbot.mouseClick(t.send, Qt.MouseButton.LeftButton)
    box = t.confirm_box
    assert box is not None and box.isVisible()
    text = box.text()
    assert "LIVE order on binance testnet (venue live)" in text and "BUY 0.002 BTC BTC/USDT, market" in text
    assert "notional ~" in text and "USDT" in text
    shot(window, "ticket_live_main_window.png")
    shot(box, "ticket_live_confirmation.png")
    assert not eng.core.orders  # nothing is sent before the answer
    qtbot.mouseClick(box.findChild(type(box.defaultButton()), "TicketConfirmSend"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: SYM in eng.core.portfolio.open, timeout=20_000)
    (order,) = eng.core.orders
    assert order.reason == "manual entry" and len(venue_orders(venue, order.clientOrderId)) == 1
    qtbot.waitUntil(lambda: "placed" in t.result.text(), timeout=5_000)
    run(qtbot, eng.stop())
