"""Position and account accounting: fills in, positions, P&L and equity out.

Model (one-way positions, one per symbol; P&L settled in the quote currency):

* A fill in the direction of the open position adds to it; the entry price becomes the
  volume-weighted average of the entry fills.
* A fill against the position reduces it. Realized P&L of the reduced amount ``q`` is
  ``(exit - entry) * q`` for a long and ``(entry - exit) * q`` for a short (gross, quote).
  A fill larger than the position closes it and opens a new one the other way with the rest
  (a flip); its fee is split pro rata between the two.
* Fees are charged in quote at fill time and booked on the position they belong to.
* ``balance`` (wallet balance) = starting balance + realized P&L - fees.
  ``equity`` = balance + unrealized P&L of open positions, marked at the last price.
  For a spot long this equals cash + holdings at market, for a linear perpetual it is the usual
  margin-balance definition, so one formula serves both.
* ``available`` = balance - the entry notional locked in open positions (leverage 1): what a
  new order may spend.
* ``max_drawdown`` is the largest fall of equity from its running peak, as a fraction of that
  peak, updated at every mark.

A closed position counts as one trade; it is a win when its net P&L (realized - fees) is > 0.

Marking to market is incremental: each symbol's unrealized P&L and locked notional are kept per
symbol and as running totals, updated when that symbol is marked or filled, so a price update
costs O(1) however many positions are open (10,000 positions re-priced every second cost a few ms
a second). The running totals are re-summed exactly (``math.fsum``) after every ``len(open)``
updates (amortized O(1)), so rounding never drifts.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable, Dict, List, Optional, Tuple

from .models import BUY, LONG, SHORT, Fill, Position

_EPS = 1e-12


class Portfolio:
    """The account of one engine run. Not thread-safe; lives on the engine's loop.

    ``starting_balance`` is in the quote currency ``currency``.
    ``on_position`` (optional) is called with each position that a fill changed.
    """

    def __init__(self, starting_balance: float, currency: str, *, first_position_id: int = 1,
                 on_position: Optional[Callable[[Position], None]] = None):
        if starting_balance <= 0:
            raise ValueError(f"starting balance must be > 0, got {starting_balance}")
        self.currency = currency
        self.starting_balance = float(starting_balance)
        self.balance = float(starting_balance)
        self.realized_pnl = 0.0
        self.fees = 0.0
        self.open: Dict[str, Position] = {}
        self.closed: List[Position] = []
        self.wins = 0
        self.peak = self.starting_balance
        self.max_drawdown = 0.0
        self._next_id = first_position_id
        self._on_position = on_position
        self.last_prices: Dict[str, float] = {}
        # incremental mark to market: per-symbol contributions and their running totals
        self._upnl: Dict[str, float] = {}
        self._locked: Dict[str, float] = {}
        self._upnl_total = 0.0
        self._locked_total = 0.0
        self._updates = 0

    # -- queries -----------------------------------------------------------------------------
    def position(self, symbol: str) -> Optional[Position]:
        return self.open.get(symbol)

    @property
    def unrealized_pnl(self) -> float:
        """Unrealized P&L of the open positions at their last prices (quote); O(1)."""
        return self._upnl_total if self.open else 0.0

    @property
    def equity(self) -> float:
        return self.balance + self.unrealized_pnl

    @property
    def locked_notional(self) -> float:
        """Entry notional of the open positions (quote); O(1)."""
        return self._locked_total if self.open else 0.0

    @property
    def available(self) -> float:
        return self.balance - self.locked_notional

    @property
    def trades(self) -> int:
        return len(self.closed)

    @property
    def win_rate(self) -> Optional[float]:
        return self.wins / len(self.closed) if self.closed else None

    @property
    def total_pnl(self) -> float:
        """Equity change since the start (quote): realized - fees + unrealized."""
        return self.equity - self.starting_balance

    # -- updates -----------------------------------------------------------------------------
    def mark(self, symbol: str, price: float, track_drawdown: bool = True) -> float:
        """Record the last price of ``symbol``; return equity (quote). With ``track_drawdown``
        the equity also updates the peak and max drawdown (see :meth:`track_drawdown`)."""
        self.last_prices[symbol] = price
        pos = self.open.get(symbol)
        if pos is not None:
            pos.last_price = price
            old = self._upnl[symbol]
            new = (price - pos.entry_price) * pos.amount if pos.side == LONG else (pos.entry_price - price) * pos.amount
            self._upnl[symbol] = new
            self._upnl_total += new - old
            self._updates += 1
            if self._updates > len(self._upnl) + 64:
                self._reanchor()
            equity = self.balance + self._upnl_total
        else:
            equity = self.balance + self._upnl_total if self.open else self.balance
        if track_drawdown:
            self.track_drawdown(equity)
        return equity

    def track_drawdown(self, equity: float) -> None:
        """Update the running peak and max drawdown with one equity value (quote). The trading
        core calls it once per timestamp with the equity after every symbol of that timestamp
        was marked, so that a half-updated multi-symbol state never counts, and the figure
        equals the one computed from the equity curve (core/metrics.py)."""
        if equity > self.peak:
            self.peak = equity
        elif self.peak > 0:
            dd = (self.peak - equity) / self.peak
            if dd > self.max_drawdown:
                self.max_drawdown = dd

    def apply_fill(self, fill: Fill, *, reason: str = "", strategy: str = "",
                   stop_loss: Optional[float] = None, take_profit: Optional[float] = None,
                   meta: Optional[dict] = None, spot: bool = False) -> List[Position]:
        """Book one fill; return the positions it changed (the closed one first on a flip).

        ``stop_loss`` / ``take_profit`` are prices (quote) set on a position the fill opens.
        ``reason`` becomes the ``close_reason`` of a position the fill closes.
        ``spot``: the market cannot be short: a sell never opens or grows a short position (the
        part of a sell beyond the long position is not booked; the result may then be empty).
        Raises ``ValueError`` for a non-positive amount or price.
        """
        if spot and fill.side != BUY:
            pos = self.open.get(fill.symbol)
            held = pos.amount if pos is not None and pos.side == LONG else 0.0
            if held <= 0:
                return []
            if fill.amount > held:
                fill = replace(fill, amount=held, fee=fill.fee * held / fill.amount)
        if fill.amount <= 0 or fill.price <= 0:
            raise ValueError(f"fill amount and price must be > 0, got {fill.amount} @ {fill.price}")
        changed: List[Position] = []
        direction = LONG if fill.side == BUY else SHORT
        remaining = fill.amount
        fee_left = fill.fee
        self.balance -= fill.fee
        self.fees += fill.fee
        pos = self.open.get(fill.symbol)

        if pos is not None and pos.side != direction:
            closing = min(remaining, pos.amount)
            fee_share = fill.fee * (closing / fill.amount)
            fee_left -= fee_share
            if pos.side == LONG:
                pnl = (fill.price - pos.entry_price) * closing
            else:
                pnl = (pos.entry_price - fill.price) * closing
            pos.realized_pnl += pnl
            pos.fees += fee_share
            pos.exit_price = fill.price if pos.exit_amount == 0 else \
                (pos.exit_price * pos.exit_amount + fill.price * closing) / (pos.exit_amount + closing)
            pos.exit_amount += closing
            pos.amount -= closing
            pos.last_price = fill.price
            self.balance += pnl
            self.realized_pnl += pnl
            remaining -= closing
            if pos.amount <= _EPS * max(1.0, pos.max_amount):
                pos.amount = 0.0
                pos.closed_at = fill.timestamp
                pos.close_reason = reason or "exit"
                del self.open[fill.symbol]
                self.closed.append(pos)
                if pos.net_pnl > 0:
                    self.wins += 1
            changed.append(pos)
            pos = None
            if remaining <= _EPS * fill.amount:
                self._sync(fill.symbol)
                self._notify(changed)
                return changed

        if pos is None:
            pos = Position(
                id=self._next_id, symbol=fill.symbol, side=direction, opened_at=fill.timestamp,
                strategy=strategy, stop_loss=stop_loss, take_profit=take_profit, meta=dict(meta or {}),
            )
            self._next_id += 1
            self.open[fill.symbol] = pos
        pos.entry_price = fill.price if pos.amount == 0 else \
            (pos.entry_price * pos.amount + fill.price * remaining) / (pos.amount + remaining)
        pos.amount += remaining
        pos.max_amount = max(pos.max_amount, pos.amount)
        pos.fees += fee_left
        pos.last_price = fill.price
        if stop_loss is not None:
            pos.stop_loss = stop_loss
        if take_profit is not None:
            pos.take_profit = take_profit
        changed.append(pos)
        self._sync(fill.symbol)
        self._notify(changed)
        return changed

    def _sync(self, symbol: str) -> None:
        """Recompute ``symbol``'s contributions to the running totals from its open position."""
        pos = self.open.get(symbol)
        old_u = self._upnl.pop(symbol, 0.0)
        old_l = self._locked.pop(symbol, 0.0)
        new_u = new_l = 0.0
        if pos is not None:
            new_u = self._upnl[symbol] = pos.unrealized_pnl
            new_l = self._locked[symbol] = pos.entry_price * pos.amount
        self._upnl_total += new_u - old_u
        self._locked_total += new_l - old_l
        self._updates += 1
        if self._updates > len(self._upnl) + 64:
            self._reanchor()

    def _reanchor(self) -> None:
        """Re-sum the running totals exactly from the per-symbol contributions."""
        self._upnl_total = math.fsum(self._upnl.values())
        self._locked_total = math.fsum(self._locked.values())
        self._updates = 0

    def _notify(self, changed: List[Position]) -> None:
        if self._on_position is not None:
            for p in changed:
                self._on_position(p)

    def restore(self, open_positions: List[Position], closed: List[Position], balance: float,
                realized_pnl: float, fees: float, peak: float, max_drawdown: float, next_id: int) -> None:
        """Put back the state of an earlier run (crash recovery); amounts in quote."""
        self.open = {p.symbol: p for p in open_positions}
        self._upnl = {p.symbol: p.unrealized_pnl for p in open_positions}
        self._locked = {p.symbol: p.entry_price * p.amount for p in open_positions}
        self._reanchor()
        self.closed = list(closed)
        self.wins = sum(1 for p in closed if p.net_pnl > 0)
        self.balance = balance
        self.realized_pnl = realized_pnl
        self.fees = fees
        self.peak = peak
        self.max_drawdown = max_drawdown
        self._next_id = next_id

    def stats(self) -> Tuple[float, float, float, float, int, Optional[float], float]:
        """``(balance, equity, realized_pnl, unrealized_pnl, trades, win_rate, max_drawdown)``."""
        u = self.unrealized_pnl
        return (self.balance, self.balance + u, self.realized_pnl, u, self.trades, self.win_rate, self.max_drawdown)
