"""Hands on the controls in the main window: the order ticket's dock, the Trade menu and its
shortcuts (shown in Help, which reads the menus), and the tables' right-click commands (cancel
an order, amend a resting limit, cancel all, close a position at market or at a limit, close all). Every command is a
:class:`~cts_desktop.services.trading.TradingService` call; its answer goes to the status bar,
a refusal to the banner."""
from __future__ import annotations

import asyncio
from typing import Awaitable, Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMenu, QMessageBox

from ..services.trading import TradingService
from .order_dialogs import AmendDialog, CloseAtLimitDialog
from .ticket import OrderTicket

DOCK_WIDTH = 320  # px: leaves the tabs 960 of a 1280 px window
SHORTCUTS = {"buy": "Ctrl+Shift+B", "sell": "Ctrl+Shift+S", "cancel_all": "Ctrl+Shift+X",
             "close_all": "Ctrl+Shift+F"}


def install(win) -> None:
    """Add the order ticket (a dock on the right), the Trade menu and the table commands to ``win``."""
    win.trading = TradingService(win.services)
    win.ticket = OrderTicket(win.trading)
    dock = QDockWidget("Order ticket", win)
    dock.setObjectName("OrderTicketDock")
    dock.setWidget(win.ticket)
    dock.setAllowedAreas(Qt.DockWidgetArea.LeftDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea)
    win.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    win.resizeDocks([dock], [DOCK_WIDTH], Qt.Orientation.Horizontal)
    # Hidden until asked for (toolbar button, Trade menu, Ctrl+Shift+B / S): shown, it takes 320 px
    # that the Positions tab needs at 1280 px. Whether it is open is remembered with the layout.
    dock.hide()
    toggle = dock.toggleViewAction()
    toggle.setObjectName("action_ticket")
    toggle.setText("Order ticket")
    toggle.setStatusTip("Show or hide the order ticket (trade by hand on the selected connection)")
    win.toolbar.insertAction(win.actions["kill"], toggle)
    win.ticket_dock = dock

    def act(key: str, text: str, slot, tip: str) -> QAction:
        a = QAction(text, win)
        a.setObjectName(f"action_{key}")
        a.setShortcut(QKeySequence(SHORTCUTS[key]))
        a.setStatusTip(tip)
        a.triggered.connect(slot)
        win.actions[key] = a
        return a

    menu = QMenu("&Trade", win)
    help_action = next((a for a in win.menuBar().actions() if a.text() == "&Help"), None)
    win.menuBar().insertMenu(help_action, menu) if help_action is not None else win.menuBar().addMenu(menu)
    menu.addAction(act("buy", "Buy ticket", lambda: _focus(win, "buy"), "Order ticket: buy, cursor in the amount"))
    menu.addAction(act("sell", "Sell ticket", lambda: _focus(win, "sell"), "Order ticket: sell, cursor in the amount"))
    menu.addSeparator()
    menu.addAction(act("cancel_all", "Cancel all orders", lambda: cancel_all(win),
                       "Cancel every open order of the selected connection"))
    menu.addAction(act("close_all", "Close all positions…", lambda: ask_close_all(win),
                       "Close every open position of the selected connection at market"))
    menu.addSeparator()
    menu.addAction(toggle)
    win.trade_menu = menu
    # the ticket follows the selected connection (and its engine's symbols once it runs)
    follow = QTimer(win)
    follow.setInterval(500)
    follow.timeout.connect(lambda: _follow(win))
    follow.start()
    win.ticket_follow = follow
    _follow(win)


def _follow(win) -> None:
    name = win.current
    symbols = win.trading.symbols(name) if name else []
    t = win.ticket
    if name != t.connection or symbols != [t.symbol.itemText(i) for i in range(t.symbol.count())]:
        t.set_connection(name)


def _focus(win, side: str) -> None:
    win.ticket_dock.show()
    win.ticket_dock.raise_()
    win.ticket.focus_side(side)


def run(win, coro: Awaitable[str], what: str) -> asyncio.Future:
    """Run a trading command; its line goes to the status bar, a refusal to the banner."""
    fut = asyncio.ensure_future(coro)

    def done(f: asyncio.Future) -> None:
        if f.cancelled():
            return
        exc = f.exception()
        if exc is not None:
            win.notify(f"{what}: {exc}")
        else:
            win.statusBar().showMessage(f.result(), 10000)

    fut.add_done_callback(done)
    win.trade_future = fut
    return fut


def cancel_all(win) -> Optional[asyncio.Future]:
    name = win.current
    return run(win, win.trading.cancel_all(name), "Cancel all") if name else None


def ask_close_all(win) -> None:
    """Close all, after a question naming the connection and how many positions."""
    name = win.current
    if name is None:
        return
    n = len(win.services.open_positions(name))
    live = "LIVE " if win.trading.is_live(name) else ""
    box = QMessageBox(QMessageBox.Icon.Warning, "Close all positions",
                      f"Close {n} open position{'' if n == 1 else 's'} of {live}{name} at market?",
                      QMessageBox.StandardButton.Cancel, win)
    box.setObjectName("CloseAllConfirm")
    go = box.addButton("Close all", QMessageBox.ButtonRole.DestructiveRole)
    go.setObjectName("CloseAllConfirmButton")
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.buttonClicked.connect(lambda b: run(win, win.trading.close_all(name), "Close all") if b is go else None)
    box.open()
    win.close_all_confirm = box


def table_actions(win, menu: QMenu, table, kind: str) -> None:
    """The trading commands under the export items of a table's right-click menu (``kind``: "positions" for
    the open positions table, "orders" for the orders table; nothing for the others)."""
    name = win.current
    if name is None or table not in (win.positions_tab.open_table, win.positions_tab.orders_table):
        return
    row = table.currentIndex().row()
    model = table.model()
    record = model.record(row) if 0 <= row < model.rowCount() else None
    added = []
    if table is win.positions_tab.open_table:
        if record is not None:
            a = QAction(f"Close {record.symbol} at market", menu)
            a.triggered.connect(lambda _c=False, s=record.symbol: run(win, win.trading.close(name, s), "Close"))
            added.append(a)
            a = QAction(f"Close {record.symbol} at limit…", menu)
            a.triggered.connect(lambda _c=False, r=record: ask_close_at_limit(win, name, r))
            added.append(a)
            added.append(move_stops_action(win, menu, name, record))
        added.append(win.actions["close_all"])
    else:
        if record is not None and record.state not in ("filled", "canceled", "failed"):
            a = QAction(f"Cancel order {record.clientOrderId}", menu)
            a.triggered.connect(lambda _c=False, c=record.clientOrderId: run(win, win.trading.cancel(name, c),
                                                                              "Cancel"))
            added.append(a)
            if record.type == "limit":
                a = QAction(f"Amend order {record.clientOrderId}…", menu)
                a.triggered.connect(lambda _c=False, r=record: ask_amend(win, name, r))
                added.append(a)
        added.append(win.actions["cancel_all"])
    menu.addSeparator()
    for a in added:
        menu.addAction(a)


def move_stops_action(win, menu: QMenu, name: str, position) -> QAction:
    """"Move stop-loss / take-profit…" for ``position``: opens :class:`~.move_stops_dialog.MoveStopsDialog`."""
    from .move_stops_dialog import MoveStopsDialog

    def open_dialog() -> None:
        dlg = MoveStopsDialog(win.trading, name, position, win,
                              done_text=lambda text: win.statusBar().showMessage(text, 10000))
        dlg.open()
        win.move_stops_dialog = dlg

    a = QAction("Move stop-loss / take-profit…", menu)
    a.setObjectName("action_move_stops")
    a.triggered.connect(open_dialog)
    return a


def ask_amend(win, name: str, record) -> None:
    """The amend dialog for the resting limit ``record``; Amend cancel-replaces it."""
    dlg = AmendDialog(win.trading, name, record, win)

    def go() -> None:
        price, amount = dlg.changes()
        run(win, win.trading.amend(name, record.clientOrderId, price, amount), "Amend")

    dlg.accepted.connect(go)
    dlg.open()
    win.amend_dialog = dlg


def ask_close_at_limit(win, name: str, record) -> None:
    """The close-at-limit dialog for the open position ``record``."""
    dlg = CloseAtLimitDialog(win.trading, name, record, win)
    dlg.accepted.connect(lambda: run(win, win.trading.close_at_limit(name, record.symbol, dlg.price.value()),
                                     "Close at limit"))
    dlg.open()
    win.close_limit_dialog = dlg
