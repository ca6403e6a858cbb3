"""The paper exchange behind the one gateway protocol (:class:`cts_desktop.core.gateway.Gateway`).

:class:`PaperGateway` is an async adapter over a :class:`~cts_desktop.exchange.paper.PaperExchange`:
orders are accepted at once and fill by the paper exchange's rules on the candles given to
:meth:`PaperGateway.push_candle` (the market data of the simulated account). Balances follow
the fills (spot: base and quote currencies). Errors leave as
:class:`~cts_desktop.exchange.errors.GatewayError`, as from the ccxt gateway.
"""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional

from cts_desktop.core.models import BUY, Candle, Fill, Market, Order
from cts_desktop.exchange.capabilities import Capabilities
from cts_desktop.exchange.errors import GatewayError
from cts_desktop.exchange.paper import PaperError, PaperExchange


class PaperGateway:
    """A simulated account as a :class:`~cts_desktop.core.gateway.Gateway`.

    ``balances``: currency -> total held at start (e.g. ``{"USDT": 10_000}``). Candles enter by
    :meth:`push_candle`; order timestamps are the last candle's time (ms)."""

    def __init__(self, paper: PaperExchange, balances: Optional[Dict[str, float]] = None, *, name: str = "Paper"):
        self.paper = paper
        self._name = name
        self.balances: Dict[str, float] = dict(balances or {})
        self._orders: Dict[str, Order] = {}
        self._fills: List[Fill] = []
        self._candles: Dict[str, List[Candle]] = {}
        self._now = 0
        self._changed = asyncio.Event()
        self._updated: List[Order] = []

    @property
    def name(self) -> str:
        return self._name

    def capabilities(self) -> Capabilities:
        return Capabilities(exchange_id="paper", name=self._name, fetch_closed_orders=True, order_by_client_id=True)

    def markets(self) -> Dict[str, Market]:
        return dict(self.paper.markets)

    async def load_markets(self, reload: bool = False) -> Dict[str, Market]:
        return self.markets()

    # -- market data in ---------------------------------------------------------------------------
    def push_candle(self, symbol: str, candle: Candle) -> List[Fill]:
        """A new candle of ``symbol``: resting orders are matched against it; returns the fills."""
        self._now = max(self._now, int(candle[0]))
        self._candles.setdefault(symbol, []).append(candle)
        fills = []
        for order, fill in self.paper.on_candle(symbol, candle):
            self._book(fill)
            self._updated.append(order)
            fills.append(fill)
        self._changed.set()
        return fills

    def _book(self, fill: Fill) -> None:
        m = self.paper.markets[fill.symbol]
        sign = 1.0 if fill.side == BUY else -1.0
        self.balances[m.base] = self.balances.get(m.base, 0.0) + sign * fill.amount
        self.balances[m.quote] = self.balances.get(m.quote, 0.0) - sign * fill.cost - fill.fee
        self._fills.append(fill)

    # -- orders -------------------------------------------------------------------------------------
    async def create_order(self, order: Order) -> Order:
        try:
            self.paper.submit(order, self._now)
        except PaperError as exc:
            raise GatewayError("invalid-order", f"{self._name} rejected the order: {exc}.") from None
        self._orders[order.clientOrderId] = order
        self._updated.append(order)
        self._changed.set()
        return order

    async def cancel_order(self, order: Order) -> Order:
        known = self._orders.get(order.clientOrderId, order)
        if not self.paper.cancel(known):
            raise GatewayError("order-not-found", f"{self._name} has no open order {order.clientOrderId}.")
        order.state, order.status = known.state, known.status
        return order

    async def fetch_order(self, order: Order) -> Order:
        known = self._orders.get(order.clientOrderId)
        if known is None:
            raise GatewayError("order-not-found", f"{self._name} has no order with client id {order.clientOrderId}.")
        if known is not order:
            for field in ("id", "timestamp", "status", "state", "filled", "remaining", "average", "cost", "fee", "fee_currency"):
                setattr(order, field, getattr(known, field))
        return order

    async def fetch_order_trades(self, order: Order) -> List[Dict[str, Any]]:
        return [{"id": f.id, "order": f.order_id, "clientOrderId": f.clientOrderId, "symbol": f.symbol, "side": f.side,
                 "amount": f.amount, "price": f.price, "cost": f.cost, "timestamp": f.timestamp,
                 "fee": {"cost": f.fee, "currency": f.fee_currency}, "takerOrMaker": f.takerOrMaker}
                for f in self._fills if f.order_id == order.id]

    async def fetch_my_trades(self, symbol: str, since: Optional[int] = None, limit: Optional[int] = None) -> List[Fill]:
        out = [f for f in self._fills if f.symbol == symbol and (since is None or f.timestamp >= since)]
        return out[-limit:] if limit else out

    async def fetch_open_orders(self, symbol: Optional[str] = None) -> List[Order]:
        return [o for o in self.paper.open_orders() if symbol is None or o.symbol == symbol]

    async def fetch_balance(self) -> Dict[str, Dict[str, float]]:
        used: Dict[str, float] = {}
        for o in self.paper.open_orders():
            m = self.paper.markets[o.symbol]
            if o.side == BUY and o.price:
                used[m.quote] = used.get(m.quote, 0.0) + o.remaining * o.price
            elif o.side != BUY:
                used[m.base] = used.get(m.base, 0.0) + o.remaining
        return {c: {"free": t - used.get(c, 0.0), "used": used.get(c, 0.0), "total": t}
                for c, t in self.balances.items() if t}

    async def fetch_positions(self, symbols: Optional[List[str]] = None) -> List[Dict[str, Any]]:
        return []  # the paper account is spot: holdings are balances

    async def fetch_ohlcv(self, symbol: str, timeframe: str = "1m", since: Optional[int] = None,
                          limit: Optional[int] = None) -> List[Candle]:
        rows = [c for c in self._candles.get(symbol, []) if since is None or c[0] >= since]
        return rows[-limit:] if limit else rows

    # -- streams ------------------------------------------------------------------------------------
    async def _next(self) -> None:
        self._changed.clear()
        await self._changed.wait()

    async def watch_ohlcv(self, symbol: str, timeframe: str = "1m") -> List[Candle]:
        n = len(self._candles.get(symbol, []))
        while len(self._candles.get(symbol, [])) == n:
            await self._next()
        return self._candles[symbol][n:]

    async def last_price(self, symbol: str, max_age_ms: int = 60_000) -> Optional[float]:
        """The close of the newest candle pushed for ``symbol`` (the paper market's last price)."""
        candles = self._candles.get(symbol)
        return float(candles[-1][4]) if candles else None

    async def fetch_tickers(self, symbols: List[str]) -> Dict[str, Dict[str, Any]]:
        """From the newest candle pushed of each symbol: last = bid = ask = its close."""
        out = {}
        for s in symbols:
            candles = self._candles.get(s)
            if candles:
                c = candles[-1]
                out[s] = {"symbol": s, "timestamp": c[0], "last": c[4], "bid": c[4], "ask": c[4], "baseVolume": c[5]}
        return out

    async def fetch_order_book(self, symbol: str, limit: int = 20) -> Dict[str, Any]:
        """One level a side at the newest candle's close (the paper market has no book)."""
        candles = self._candles.get(symbol)
        if not candles:
            return {"bids": [], "asks": [], "timestamp": None}
        c = candles[-1]
        return {"bids": [[c[4], c[5]]], "asks": [[c[4], c[5]]], "timestamp": c[0]}

    async def watch_ticker(self, symbol: str) -> Dict[str, Any]:
        c = (await self.watch_ohlcv(symbol))[-1]
        return {"symbol": symbol, "timestamp": c[0], "last": c[4], "close": c[4], "bid": c[4], "ask": c[4]}

    async def watch_trades(self, symbol: str) -> List[Dict[str, Any]]:
        c = (await self.watch_ohlcv(symbol))[-1]
        return [{"symbol": symbol, "timestamp": c[0], "price": c[4], "amount": c[5], "side": None}]

    async def watch_orders(self, symbol: Optional[str] = None) -> List[Order]:
        while True:
            got = [o for o in self._updated if symbol is None or o.symbol == symbol]
            if got:
                self._updated = [o for o in self._updated if o not in got]
                return got
            await self._next()

    async def close(self) -> None:
        self._changed.set()
