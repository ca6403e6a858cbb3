"""The Market tab's side panels: the watchlist (one row per symbol of the connection), the
order book of the symbol on the chart and its last public trades. They draw what
:mod:`cts_desktop.services.market_data` and :mod:`cts_desktop.services.market_trades` return;
they never ask an exchange themselves."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from .. import fmt

UP, DOWN = QColor("#26a69a"), QColor("#ef5350")
STATE_TIPS = {"live": "streamed by the exchange (websocket)", "polled": "read over REST about once a second",
              "stale": "no ticker, or the engine's market data for it is stale", "replay": "from the replayed candles"}


def _item(text: str, *, right: bool = True, colour: Optional[QColor] = None) -> QTableWidgetItem:
    it = QTableWidgetItem(text)
    it.setTextAlignment((Qt.AlignmentFlag.AlignRight if right else Qt.AlignmentFlag.AlignLeft)
                        | Qt.AlignmentFlag.AlignVCenter)
    if colour is not None:
        it.setForeground(colour)
    return it


def _put(table: QTableWidget, row: int, col: int, text: str, *, right: bool = True,
         colour: Optional[QColor] = None, tip: str = "") -> bool:
    """Show ``text`` in cell (row, col), reusing its item (a new item per cell and refresh made
    Qt lay the table out again each time); True when the text changed."""
    it = table.item(row, col)
    if it is None:
        it = _item(text, right=right, colour=colour)
        table.setItem(row, col, it)
        changed = True
    else:
        changed = it.text() != text
        if changed:
            it.setText(text)
        if colour is not None or it.data(Qt.ItemDataRole.ForegroundRole) is not None:
            it.setForeground(colour if colour is not None else table.palette().text())
    if tip or it.toolTip():
        it.setToolTip(tip)
    return changed


def _table(headers, name: str) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setObjectName(name)
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().hide()
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.verticalHeader().setDefaultSectionSize(22)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    return t


def _pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:+.2f} %"


def _volume(value: Optional[float]) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.4g}"


class WatchlistPanel(QWidget):
    """``symbol_clicked(symbol)`` when the trader clicks a row."""

    HEADERS = ("Symbol", "Last", "24h", "Bid", "Ask", "Spread", "Volume 24h", "Feed")
    symbol_clicked = Signal(str)

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.title = QLabel("<b>Watchlist</b>")
        self.table = _table(self.HEADERS, "Watchlist")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)  # fitted in set_watchlist
        self._widest = [len(h) for h in self.HEADERS]  # the longest text each column held (characters)
        self._grown: set = set()
        self.note = QLabel("")
        self.note.setObjectName("WatchlistNote")
        head = QHBoxLayout()
        head.setContentsMargins(4, 2, 4, 0)
        head.addWidget(self.title)
        head.addWidget(self.note, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        lay.addWidget(self.table, 1)
        self.table.cellClicked.connect(self._clicked)

    def _clicked(self, row: int, _col: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            self.symbol_clicked.emit(item.text())

    def set_watchlist(self, wl, selected: str = "") -> None:
        """Show a :class:`~cts_desktop.services.market_data.Watchlist`. Cells are updated in place
        and a column is fitted to its contents only when a text grew past the widest it held
        (fitting every column on every change cost ~0.4 s a refresh at 50 symbols)."""
        t = self.table
        new_rows = t.rowCount() != len(wl.rows)
        t.setRowCount(len(wl.rows))
        for i, r in enumerate(wl.rows):
            if t.item(i, 0) is None or t.item(i, 0).text() != r.symbol:
                new_rows = True
            colour = None if r.change_pct is None else (UP if r.change_pct >= 0 else DOWN)
            texts = (r.symbol, fmt.price(r.last), _pct(r.change_pct), fmt.price(r.bid), fmt.price(r.ask),
                     fmt.price(r.spread), _volume(r.volume), r.state)
            for j, text in enumerate(texts):
                if len(text) > self._widest[j]:
                    self._widest[j] = len(text)
                    self._grown.add(j)
                _put(t, i, j, text, right=j not in (0, 7), colour=colour if j == 2 else DOWN if j == 7 and r.state == "stale" else None,
                     tip=STATE_TIPS.get(r.state, "") if j == 7 else "")
            if r.symbol == selected and t.currentRow() != i:
                t.selectRow(i)
        last = len(self.HEADERS) - 1  # stretched to the table's width: never fitted
        for j in range(last) if new_rows else self._grown - {last}:
            t.resizeColumnToContents(j)
        self._grown.clear()
        self.note.setText(wl.note)

    def row_values(self, symbol: str) -> dict:
        """The texts of ``symbol``'s row by column header (tests, screen readers)."""
        for i in range(self.table.rowCount()):
            if self.table.item(i, 0).text() == symbol:
                return {h: self.table.item(i, j).text() for j, h in enumerate(self.HEADERS)}
        return {}


class BookPanel(QWidget):
    """The order book: asks above (best at the bottom), the spread, bids below (best at the top)."""

    HEADERS = ("Price", "Amount", "Total")

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.title = QLabel("<b>Order book</b>")
        self.asks = _table(self.HEADERS, "BookAsks")
        self.spread = QLabel("")
        self.spread.setObjectName("BookSpread")
        self.spread.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.bids = _table(self.HEADERS, "BookBids")
        self.bids.horizontalHeader().hide()
        for t in (self.asks, self.bids):
            t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
            t.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.note = QLabel("")
        self.note.setObjectName("BookNote")
        self.note.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.title)
        lay.addWidget(self.asks, 1)
        lay.addWidget(self.spread)
        lay.addWidget(self.bids, 1)
        lay.addWidget(self.note)
        self.book = None

    def set_book(self, book) -> None:
        """Show a :class:`~cts_desktop.services.market_data.Book`."""
        self.book = book
        one_level = book.recorded

        def fill(table: QTableWidget, levels, colour: QColor) -> None:
            table.setRowCount(len(levels))
            for i, (price, amount, total) in enumerate(levels):
                _put(table, i, 0, fmt.price(price), colour=colour)
                _put(table, i, 1, "–" if one_level else fmt.amount(amount))
                _put(table, i, 2, "–" if one_level else fmt.amount(total))

        fill(self.asks, list(reversed(book.asks)), DOWN)
        fill(self.bids, book.bids, UP)
        self.asks.scrollToBottom()
        if one_level:
            self.spread.setText("Spread – (recorded data)")
        elif book.spread is not None and book.bids:
            mid = (book.asks[0][0] + book.bids[0][0]) / 2
            rel = book.spread / mid * 100 if mid else 0.0
            self.spread.setText(f"Spread {fmt.price(book.spread)} ({rel:.2g} %)")
        else:
            self.spread.setText("Spread –")
        self.note.setText(book.note)
        self.title.setText(f"<b>Order book</b> {book.symbol}")

    def clear(self, text: str = "") -> None:
        self.book = None
        self.asks.setRowCount(0)
        self.bids.setRowCount(0)
        self.spread.setText("")
        self.note.setText(text)


class TradesPanel(QWidget):
    """The last public trades of the charted symbol, newest on top: time (UTC), price (green: the
    taker bought, red: sold), amount (base)."""

    HEADERS = ("Time (UTC)", "Price", "Amount")

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.title = QLabel("<b>Last trades</b>")
        self.table = _table(self.HEADERS, "LastTrades")
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.note = QLabel("")
        self.note.setObjectName("TradesNote")
        self.note.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.title)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.note)
        self.trades = None

    def set_trades(self, trades) -> None:
        """Show a :class:`~cts_desktop.services.market_trades.Trades`."""
        self.trades = trades
        t = self.table
        t.setRowCount(len(trades.rows))
        for i, r in enumerate(trades.rows):
            colour = UP if r.side == "buy" else DOWN if r.side == "sell" else None
            when = fmt.utc_ms(r.ts, seconds=True)
            _put(t, i, 0, when[-8:], tip=f"{when} UTC, {r.side or 'side unknown'}")
            _put(t, i, 1, fmt.price(r.price), colour=colour)
            _put(t, i, 2, fmt.amount(r.amount))
        self.note.setText(trades.note)
        self.title.setText(f"<b>Last trades</b> {trades.symbol}")

    def clear(self, text: str = "") -> None:
        self.trades = None
        self.table.setRowCount(0)
        self.note.setText(text)
