"""Exports from the window: File > Export and a right-click "Export to CSV…" on every table.

The rows come from :mod:`cts_desktop.services.exports` (the database: every row of the shown
connection, not the rows on screen); this module only asks where to write and says what happened.
The file is written on the service's export thread: while it runs the window stays live and the
status bar shows a busy bar ("Exporting …"); the result (rows written, or why not) follows there.
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Awaitable, Callable, Optional

from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QMenu, QMessageBox, QProgressBar, QWidget

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


class ExportBusy(QWidget):
    """The status bar's "Exporting …" label and busy bar, shown while any export runs."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("ExportBusy")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 6, 0)
        self.label = QLabel()
        self.label.setObjectName("StatusInfo")
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy: the row count is not known ahead
        self.bar.setFixedSize(90, 12)
        self.bar.setTextVisible(False)
        lay.addWidget(self.label)
        lay.addWidget(self.bar)
        self.running: list = []
        self.hide()

    def begin(self, what: str) -> None:
        self.running.append(what)
        self._show()

    def end(self, what: str) -> None:
        self.running.remove(what)
        self._show()

    def _show(self) -> None:
        if self.running:
            more = f" (+{len(self.running) - 1} waiting)" if len(self.running) > 1 else ""
            self.label.setText(f"Exporting {self.running[0]}…{more}")
        self.setVisible(bool(self.running))


def busy_indicator(win) -> ExportBusy:
    """The window's export indicator, put in its status bar on first use."""
    busy = win.findChild(ExportBusy)
    if busy is None:
        busy = ExportBusy(win)
        win.statusBar().insertPermanentWidget(0, busy)
    return busy


def _start(win, what: str, work: Awaitable[int], done: Callable[[int], str]) -> asyncio.Future:
    """Show ``what`` as exporting now, and await ``work`` on the loop (see :func:`_export`)."""
    busy = busy_indicator(win)
    busy.begin(what)
    return win._command(_export(win, busy, what, work, done), f"export the {what}")


async def _export(win, busy: ExportBusy, what: str, work: Awaitable[int], done: Callable[[int], str]) -> Optional[int]:
    try:
        n = await work
    except exports.ExportError as exc:
        win.notify(f"Not exported: {exc}")
        return None
    finally:
        busy.end(what)
    win.statusBar().showMessage(done(n), 10000)
    return n


def export_kind(win, kind: str, path: Optional[Path] = None) -> Optional[asyncio.Future]:
    """Export ``kind`` (one of ``exports.KINDS``) of the shown connection; asks for the file
    unless ``path`` is given. Returns the running export (its result: the number of rows written,
    None when nothing was written), or None when nothing was started."""
    name = win.current
    if name is None:
        win.notify("No connection is selected: nothing to export.")
        return None
    if path is None:
        path = _ask_path(win, f"Export {exports.TITLES[kind].lower()} to CSV", exports.default_file_name(kind, name))
        if path is None:
            return None
    title = exports.TITLES[kind].lower()
    return _start(win, f"{title} of {name}", exports.export_table_async(kind, name, path),
                  lambda n: f"Exported {n:,} {title} rows of {name} to {path}")


def export_tax(win, path: Optional[Path] = None) -> Optional[asyncio.Future]:
    """File > Export > Trades for tax: explains the format, asks for the file (unless ``path``),
    writes it on the export thread; returns the running export as :func:`export_kind` does.
    Paper-only connections are refused with the service's message."""
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
    return _start(win, f"tax rows of {name}", exports.export_tax_csv_async(name, path),
                  lambda n: f"Exported {n:,} tax rows of {name} to {path}")


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


__all__ = ["ExportBusy", "add_export_menu", "busy_indicator", "export_kind", "export_tax", "install_table_menus",
           "table_menu"]
