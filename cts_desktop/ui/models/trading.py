"""The trading tables: open positions (live prices, unrealized P&L), closed positions, orders."""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

from .cells import AMBER, AMOUNT, GREEN, INT, MONEY, PNL, PNL_PCT, PRICE, RED, SIDE, TIME, Column
from .stored import StoredTableModel


def _pos_pnl_pct(p, model) -> Optional[float]:
    basis = p.entry_price * (p.max_amount or p.amount)
    return p.net_pnl / basis if basis else None


def _stops_at(p) -> str:
    if p.stop_loss is None and p.take_profit is None:
        return "–"  # no stops
    return getattr(p, "protection", "") or "app"


class OpenPositionsModel(StoredTableModel):
    """Open positions of one connection, keyed by position id; current price and unrealized P&L
    come from the latest account snapshot's prices (:meth:`update_prices`)."""

    columns = (
        Column("symbol", "Symbol", sample="BTC/USD:USD"),
        Column("side", "Side", SIDE, "center"),
        Column("amount", "Amount", AMOUNT, tip="Open size in base currency"),
        Column("entry_price", "Entry price", PRICE, tip="Volume-weighted average entry"),
        Column("current", "Current price", PRICE, getter=lambda p, m: m.price_of(p)),
        Column("unrealized", "Unrealized P&L", PNL, getter=lambda p, m: m.unrealized(p),
               tip="Gross of fees, in the quote currency"),
        Column("unrealized_pct", "P&L %", PNL_PCT, getter=lambda p, m: m.unrealized_pct(p)),
        Column("stop_loss", "Stop-loss", PRICE),
        Column("take_profit", "Take-profit", PRICE),
        Column("protection", "Stops at", align="center", getter=lambda p, m: _stops_at(p), sample="exchange",
               tip="Where the stop-loss and take-profit live: at the exchange (orders resting there, they act "
                   "even when the app is closed) or in the app (checked on every price while it runs)"),
        Column("fees", "Fees", MONEY),
        Column("opened_at", "Opened (UTC)", TIME),
        Column("id", "#", INT),
    )
    LIVE_FIELDS = ("current", "unrealized", "unrealized_pct")
    cacheable = True  # refresh_columns() and upserts drop the cached texts

    def __init__(self, parent=None):
        super().__init__(parent, key=lambda p: p.id)
        self._prices: Dict[str, float] = {}

    def tooltip(self, row, col):
        """Who opened the position (its strategy, or "manual": the order ticket), on its symbol."""
        if col.field == "symbol" and getattr(row, "strategy", ""):
            return f"{row.symbol}: opened by {'hand (order ticket)' if row.strategy == 'manual' else row.strategy}"
        return None

    def price_of(self, p) -> float:
        return self._prices.get(p.symbol) or p.last_price

    def unrealized(self, p) -> float:
        px = self.price_of(p)
        if not px:
            return 0.0
        d = (px - p.entry_price) if p.side == "long" else (p.entry_price - px)
        return d * p.amount

    def unrealized_pct(self, p) -> Optional[float]:
        basis = p.entry_price * p.amount
        return self.unrealized(p) / basis if basis else None

    @property
    def live_sorted(self) -> bool:
        """Sorted on a column that every price update changes (a re-sort each snapshot)."""
        return self._sort_col >= 0 and self.columns[self._sort_col].field in self.LIVE_FIELDS

    def sort_keys(self, col: Column) -> List[Any]:
        """The live columns' keys in one loop each (a table sorted on P&L re-sorts every second)."""
        if col.field == "unrealized":
            get = self._prices.get
            return [(((px - p.entry_price) if p.side == "long" else (p.entry_price - px)) * p.amount if px else 0.0)
                    for p in self._rows.values() for px in (get(p.symbol) or p.last_price,)]
        if col.field == "unrealized_pct":
            low = float("-inf")
            pnl = self.sort_keys(next(c for c in self.columns if c.field == "unrealized"))
            return [u / b if b else low for u, b in zip(pnl, (p.entry_price * p.amount for p in self._rows.values()),
                                                        strict=True)]
        if col.field == "current":
            prices = self._prices
            return [float(prices.get(p.symbol) or p.last_price or 0.0) for p in self._rows.values()]
        return super().sort_keys(col)

    def update_prices(self, prices: Dict[str, float]) -> None:
        if prices:
            self._prices.update(prices)
            self.refresh_columns(self.LIVE_FIELDS)

    def apply(self, positions: Iterable[Any]) -> None:
        """Apply changed positions: open ones are upserted, closed ones removed."""
        opened, closed = [], []
        for p in positions:
            (closed if p.closed_at is not None else opened).append(p)
        if closed:
            self.remove_keys([p.id for p in closed])
        if opened:
            self.upsert(opened)

    def set_records(self, records) -> None:
        self._prices.clear()
        super().set_records(records)


class ClosedPositionsModel(StoredTableModel):
    """Closed positions (every run of a connection), newest appended; net P&L is after fees."""

    cacheable = True  # a closed position does not change any more

    columns = (
        Column("id", "#", INT, sample="1,234"),
        Column("symbol", "Symbol", sample="BTC/USD:USD"),
        Column("side", "Side", SIDE, "center"),
        Column("max_amount", "Amount", AMOUNT, tip="Largest size the position reached (base)"),
        Column("entry_price", "Entry", PRICE),
        Column("exit_price", "Exit", PRICE),
        Column("realized_pnl", "Realized P&L", PNL, tip="Gross of fees"),
        Column("fees", "Fees", MONEY),
        Column("net_pnl", "Net P&L", PNL, getter=lambda p, m: p.net_pnl, tip="Realized P&L minus fees"),
        Column("net_pct", "P&L %", PNL_PCT, getter=_pos_pnl_pct, tip="Net P&L over the entry notional"),
        Column("opened_at", "Opened (UTC)", TIME),
        Column("closed_at", "Closed (UTC)", TIME),
        Column("close_reason", "Close reason", sample="exit: fast crossed below slow"),
    )

    def __init__(self, parent=None, max_rows: int = 50_000):
        # Ids restart with each run, and identical replays give identical positions: the run is in the key.
        super().__init__(parent, key=lambda p: (p.run_id, p.id, p.opened_at, p.symbol), max_rows=max_rows)

    def apply(self, positions: Iterable[Any]) -> None:
        closed = [p for p in positions if p.closed_at is not None]
        if closed:
            closed.sort(key=lambda p: (p.closed_at, p.id))
            self.upsert(closed)


# -- orders ---------------------------------------------------------------------------------------
class OrdersModel(StoredTableModel):
    """Orders of the current session, keyed by client order id (latest state of each)."""

    cacheable = True  # an order's texts are recomputed when its next version is upserted

    coloured_fields = frozenset({"state"})

    columns = (
        Column("timestamp", "Time (UTC)", TIME),
        Column("clientOrderId", "Client id", sample="cts-12-1234"),
        Column("symbol", "Symbol", sample="BTC/USD:USD"),
        Column("side", "Side", SIDE, "center"),
        Column("type", "Type", sample="stop_market"),
        Column("amount", "Amount", AMOUNT),
        Column("price", "Price", PRICE),  # limit orders' limit
        Column("trigger", "Trigger", PRICE),  # stop orders from the ticket (held by the app)
        Column("filled", "Filled", AMOUNT),
        Column("average", "Avg price", PRICE),
        Column("fee", "Fee", MONEY),
        Column("state", "State", sample="partially-filled"),
        Column("reason", "Reason", sample="take-profit"),
        Column("position_id", "Position", INT),
    )

    def __init__(self, parent=None, max_rows: int = 20_000):
        super().__init__(parent, key=lambda o: o.clientOrderId, max_rows=max_rows)

    def colour(self, row, col):
        if col.field == "state":
            return RED if row.state == "failed" or row.error else GREEN if row.state == "filled" else AMBER
        return super().colour(row, col)

    def tooltip(self, row, col):
        return row.error or None
