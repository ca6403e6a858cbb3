"""Exports from the window: File > Export and a right-click "Export to CSV…" on every table.

The rows come from :mod:`cts_desktop.services.exports` (the database: every row of the shown
connection, not the rows on screen); this module only asks where to write and says what happened.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox

from ...services import exports
from .. import trade_actions

log = logging.getLogger(__name__)

TAX_NOTE = (
    "Writes the trades of this connection's <b>live</b> runs in Koinly's “universal” CSV import layout "
    "(Date in UTC, Sent, Received, Fee, Net Worth, Label, Description, TxHash).<ul>"
    "<li><b>Spot</b> trades: one row per fill. A buy sends the quote currency and receives the coin; a sell "
    "the reverse. The fee is in the currency the exchange charged.</li>"
    "<li><b>Perpetuals and futures</b> are not purchases of the coin: each closed position is one row of its "
    "net realized P&amp;L (after fees), a deposit of the gain or a withdrawal of the loss, labelled "
    "“realized gain”, as Koinly describes for futures. Open positions give no row.</li>"
    "<li><b>Paper trading</b> and replays are simulated and are never included.</li></ul>")


def _ask_path(win, title: str, name: str) -> Optional[Path]:
    start = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or str(Path.home())
    path, _filter = QFileDialog.getSaveFileName(win, title, str(Path(start) / name), "CSV files (*.csv)")
    return Path(path) if path else None


def export_kind(win, kind: str, path: Optional[Path] = None) -> Optional[int]:
    """Export ``kind`` (one of ``exports.KINDS``) of the shown connection; asks for the file
    unless ``path`` is given. Returns the number of rows written, None when nothing was written."""
    name = win.current
    if name is None:
        win.notify("No connection is selected: nothing to export.")
        return None
    if path is None:
        path = _ask_path(win, f"Export {exports.TITLES[kind].lower()} to CSV", exports.default_file_name(kind, name))
        if path is None:
            return None
    try:
        n = exports.export_table(kind, name, path)
    except exports.ExportError as exc:
        win.notify(f"Not exported: {exc}")
        return None
    win.statusBar().showMessage(f"Exported {n} {exports.TITLES[kind].lower()} rows of {name} to {path}", 10000)
    return n


def export_tax(win, path: Optional[Path] = None) -> Optional[int]:
    """File > Export > Trades for tax: explains the format, asks for the file (unless ``path``),
    writes it. Paper-only connections are refused with the service's message."""
    name = win.current
    if name is None:
        win.notify("No connection is selected: nothing to export.")
        return None
    if path is None:
        box = QMessageBox(QMessageBox.Icon.Information, "Export trades for tax (Koinly CSV)", TAX_NOTE,
                          QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel, win)
        box.setObjectName("TaxExportNote")
        box.setStyleSheet("QLabel#qt_msgbox_label { min-width: 560px; }")  # the list reads in wide lines
        if box.exec() != QMessageBox.StandardButton.Ok:
            return None
        path = _ask_path(win, "Export trades for tax", exports.default_file_name("tax-koinly", name))
        if path is None:
            return None
    try:
        n = exports.export_tax_csv(name, path)
    except exports.ExportError as exc:
        win.notify(f"Not exported: {exc}")
        return None
    win.statusBar().showMessage(f"Exported {n} tax rows of {name} to {path}", 10000)
    return n


def add_export_menu(win, file_menu: QMenu) -> QMenu:
    """File > Export: one item per table, then the tax export."""
    menu = file_menu.addMenu("&Export")
    menu.setObjectName("ExportMenu")
    for kind in exports.KINDS:
        a = QAction(f"{exports.TITLES[kind]}…", win)
        a.setObjectName(f"action_export_{kind}")
        a.setStatusTip(f"Every {exports.TITLES[kind].lower()} row of the shown connection, to a CSV file")
        a.triggered.connect(lambda _c=False, k=kind: export_kind(win, k))
        menu.addAction(a)
    menu.addSeparator()
    tax = QAction("Trades for tax (Koinly CSV)…", win)
    tax.setObjectName("action_export_tax")
    tax.triggered.connect(lambda _c=False: export_tax(win))
    menu.addAction(tax)
    return menu


def install_table_menus(win) -> None:
    """A right-click "Export to CSV…" on the positions, orders and activity tables."""
    tables = {win.positions_tab.open_table: "positions", win.positions_tab.closed_table: "positions",
              win.positions_tab.orders_table: "orders", win.activity_tab.table: "activity"}
    for table, kind in tables.items():
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(
            lambda pos, t=table, k=kind: table_menu(win, t, k).popup(t.viewport().mapToGlobal(pos)))


def table_menu(win, table, kind: str) -> QMenu:
    """The context menu of ``table`` (exports ``kind``); returned for :meth:`QMenu.popup`."""
    menu = QMenu(table)
    menu.setObjectName("TableExportMenu")
    menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    scope = "open and closed positions" if kind == "positions" else exports.TITLES[kind].lower()
    a = menu.addAction(f"Export to CSV… (all {scope} of this connection)")
    a.triggered.connect(lambda _c=False: export_kind(win, kind))
    if kind == "orders":
        fills = menu.addAction("Export fills to CSV…")
        fills.triggered.connect(lambda _c=False: export_kind(win, "fills"))
    if hasattr(win, "trading"):  # the trading commands (ui/trade_actions.py)
        trade_actions.table_actions(win, menu, table, kind)
    return menu


__all__ = ["add_export_menu", "export_kind", "export_tax", "install_table_menus", "table_menu"]
