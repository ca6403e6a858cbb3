"""Candles built from the trade stream, for exchanges that stream trades but no candles.

Where ccxt.pro has ``watchTrades`` but not ``watchOHLCV`` for an exchange, the candles of a
symbol are built here from its public trades, as the exchange builds its own: a candle of
timeframe ``tf_ms`` opens at ``ts - ts % tf_ms``; open = the first trade's price, high / low
the extremes, close = the last trade's price, volume = the sum of the amounts (base currency).
A period without any trade gives a flat candle at the previous close with volume 0. Checked in
``tests/unit/test_trade_candles.py`` against a recorded Binance trade tape and the candles
Binance served for the same span: every traded minute identical (the recording has no candle
for the minutes without a trade; the builder gives them flat).

A candle is closed when a trade of a later period arrives, or (:meth:`TradeCandles.close_until`)
when its end has passed by the exchange's clock with no later trade. Trades are fed in the
order the exchange sent them; a trade seen before (same id: the stream's arrays overlap) is
ignored, and one for a period already closed is counted in ``late_trades`` and left out (the
closed candle was already handed on).
"""
from __future__ import annotations

from collections import deque
from typing import Any, Deque, Iterable, List, Optional, Set

from ..core.models import Candle

SEEN_IDS = 5_000  # trade ids remembered to drop repeats


class TradeCandles:
    """Candles of one symbol at ``tf_ms`` (ms) from its trades; see the module docstring.

    ``forming``: the candle of the current period, or None before the first trade.
    ``late_trades``: trades for an already closed period (left out).
    """

    def __init__(self, tf_ms: int):
        if tf_ms <= 0:
            raise ValueError(f"timeframe must be positive, got {tf_ms} ms")
        self.tf_ms = tf_ms
        self.forming: Optional[Candle] = None
        self.late_trades = 0
        self._empty = False  # forming is a placeholder for a period without a trade yet
        self._ids: Set[str] = set()
        self._id_order: Deque[str] = deque()

    def add(self, ts: int, price: float, amount: float, trade_id: Optional[str] = None) -> List[Candle]:
        """One trade (``ts`` ms, ``price`` quote per base, ``amount`` base); returns the candles it
        closed, oldest first (with a flat volume-0 candle for each period without trades)."""
        if trade_id is not None:
            if trade_id in self._ids:
                return []
            self._remember(trade_id)
        start = ts - ts % self.tf_ms
        c = self.forming
        if c is None:
            self.forming = (start, price, price, price, price, amount)
            return []
        if start < c[0]:
            self.late_trades += 1
            return []
        if start == c[0]:
            if self._empty:  # the period's first trade: it opens the candle
                self.forming, self._empty = (start, price, price, price, price, amount), False
            else:
                self.forming = (c[0], c[1], max(c[2], price), min(c[3], price), price, c[5] + amount)
            return []
        closed = self._roll(start)
        self.forming, self._empty = (start, price, price, price, price, amount), False
        return closed

    def add_trades(self, trades: Iterable[dict]) -> List[Candle]:
        """ccxt trade structures (``timestamp``, ``price``, ``amount``, ``id``) in the order
        received; returns the candles they closed, oldest first."""
        out: List[Candle] = []
        for t in trades:
            ts, price, amount = t.get("timestamp"), t.get("price"), t.get("amount")
            if ts is None or price is None or amount is None:
                continue
            tid: Any = t.get("id")
            out.extend(self.add(int(ts), float(price), float(amount), None if tid is None else str(tid)))
        return out

    def close_until(self, now_ms: int) -> List[Candle]:
        """Close the forming candle (and give flat candles for the silent periods after it) when
        their end is at or before ``now_ms`` (the exchange's clock) with no later trade."""
        c = self.forming
        if c is None or c[0] + self.tf_ms > now_ms:
            return []
        start = now_ms - now_ms % self.tf_ms
        closed = self._roll(start)
        close = closed[-1][4]
        self.forming, self._empty = (start, close, close, close, close, 0.0), True
        return closed

    def _roll(self, start: int) -> List[Candle]:
        """The forming candle and flat candles for every period before ``start``."""
        c = self.forming
        assert c is not None
        closed = [c]
        t = c[0] + self.tf_ms
        while t < start:
            close = closed[-1][4]
            closed.append((t, close, close, close, close, 0.0))
            t += self.tf_ms
        return closed

    def _remember(self, trade_id: str) -> None:
        self._ids.add(trade_id)
        self._id_order.append(trade_id)
        if len(self._id_order) > SEEN_IDS:
            self._ids.discard(self._id_order.popleft())
