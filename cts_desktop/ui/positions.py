"""Positions tab: open positions with live P&L on top; closed positions and orders below."""
from __future__ import annotations

from typing import Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget

from . import fmt
from .models import ClosedPositionsModel, OpenPositionsModel, OrdersModel
from .widgets import fit_columns, make_table, section_title


class PositionsTab(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        # The tables show the models directly (they sort themselves: no proxy model, see models.py).
        self.open_model = OpenPositionsModel(self)
        self.open_table = make_table(self.open_model, name="OpenPositionsTable")
        self.closed_model = ClosedPositionsModel(self)
        self.closed_table = make_table(self.closed_model, name="ClosedPositionsTable")
        self.closed_table.sortByColumn(self._col(self.closed_model, "closed_at"), Qt.SortOrder.DescendingOrder)
        self.orders_model = OrdersModel(self)
        self.orders_table = make_table(self.orders_model, name="OrdersTable")
        self.orders_table.sortByColumn(0, Qt.SortOrder.DescendingOrder)

        self.open_count = QLabel()
        self.open_count.setObjectName("Hint")
        self.open_empty = QLabel("No open positions.")
        self.open_empty.setObjectName("Hint")
        self.history_summary = QLabel()
        self.history_summary.setObjectName("Hint")
        self._totals: dict = {}  # quote currency -> net P&L of the closed positions shown
        self._wins = 0

        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(12, 10, 12, 4)
        h = QHBoxLayout()
        h.addWidget(section_title("Open positions"))
        h.addWidget(self.open_count)
        h.addStretch(1)
        tl.addLayout(h)
        tl.addWidget(self.open_table, 1)

        self.lower = QTabWidget()
        self.lower.setObjectName("PositionsLowerTabs")
        self.lower.setDocumentMode(True)
        hist = QWidget()
        hl = QVBoxLayout(hist)
        hl.setContentsMargins(0, 6, 0, 0)
        hl.addWidget(self.history_summary)
        hl.addWidget(self.closed_table, 1)
        self.lower.addTab(hist, "Position history")
        orders = QWidget()
        ol = QVBoxLayout(orders)
        ol.setContentsMargins(0, 6, 0, 0)
        self.orders_hint = QLabel("Orders placed since the app started (the engine's order book of this session).")
        self.orders_hint.setObjectName("Hint")
        ol.addWidget(self.orders_hint)
        ol.addWidget(self.orders_table, 1)
        self.lower.addTab(orders, "Orders")
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(12, 4, 12, 10)
        bl.addWidget(self.lower)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("PositionsSplitter")
        self.splitter.addWidget(top)
        self.splitter.addWidget(bottom)
        self.splitter.setSizes([260, 440])
        self.splitter.setChildrenCollapsible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.splitter)
        for t in (self.open_table, self.closed_table, self.orders_table):
            fit_columns(t, minimum=70)
        self._refresh_labels()

    @staticmethod
    def _col(model, field: str) -> int:
        return next(i for i, c in enumerate(model.columns) if c.field == field)

    @property
    def tables(self):
        return {"open_positions": self.open_table, "closed_positions": self.closed_table, "orders": self.orders_table}

    # -- data ---------------------------------------------------------------------------------------
    def load(self, open_positions: Iterable, closed_newest_first: Iterable) -> None:
        """A connection's history: open positions and closed ones (newest first, as the store gives them)."""
        self.open_model.set_records(list(open_positions))
        closed = list(closed_newest_first)
        closed.reverse()
        self.closed_model.set_records(closed)
        self.orders_model.clear()
        self._totals = {}
        self._wins = 0
        self._count_closed(closed)
        self._refresh_labels()

    def new_run(self) -> None:
        """A new run starts flat: its open positions and orders begin empty."""
        self.open_model.clear()
        self.orders_model.clear()
        self._refresh_labels()

    def apply_positions(self, positions: list) -> None:
        key = self.closed_model._key
        fresh = [p for p in positions if p.closed_at is not None and self.closed_model.row_of(key(p)) is None]
        self.open_model.apply(positions)
        self.closed_model.apply(positions)
        self._count_closed(fresh)
        self._refresh_labels()

    def apply_orders(self, orders: list) -> None:
        self.orders_model.upsert(orders)

    def update_prices(self, prices: dict) -> None:
        self.open_model.update_prices(prices)

    def _count_closed(self, closed) -> None:
        quotes: dict = {}  # symbol -> quote currency (a 50,000-row history has few symbols)
        totals = self._totals
        for p in closed:
            cur = quotes.get(p.symbol)
            if cur is None:
                cur = quotes[p.symbol] = fmt.quote_of(p.symbol)
            net = p.realized_pnl - p.fees
            totals[cur] = totals.get(cur, 0.0) + net
            if net > 0:
                self._wins += 1

    def _refresh_labels(self) -> None:
        n = self.open_model.rowCount()
        self.open_count.setText(f"{n} open" if n else "none open")
        total = self.closed_model.rowCount()
        if not total:
            self.history_summary.setText("No closed positions yet.")
            return
        nets = ", ".join(fmt.money(v, cur, sign=True, unit=True) for cur, v in self._totals.items())
        self.history_summary.setText(
            f"{total:,} closed positions (all runs)  ·  win rate {self._wins / total:.1%}  ·  net P&L {nets}")
