"""The one gateway protocol: how the engine talks to an exchange, paper or real.

Implemented by :class:`cts_desktop.exchange.ccxt_gateway.CcxtGateway` (ccxt) and
:class:`cts_desktop.exchange.paper_gateway.PaperGateway` (the simulated account). The engine
holds a :class:`Gateway` and never the client behind it: exchange quirks come from
:meth:`Gateway.capabilities`. Every method raises
:class:`cts_desktop.exchange.errors.GatewayError` on failure. Amounts are in base currency,
prices and costs in quote, timestamps in ms since the epoch (UTC).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Protocol, runtime_checkable

from .models import Candle, Fill, Market, Order


@runtime_checkable
class Gateway(Protocol):
    """An exchange as the engine sees it. Methods taking an :class:`Order` update it in place
    and return it."""

    @property
    def name(self) -> str:
        """The exchange's display name (e.g. ``"Binance"``)."""
        ...

    def capabilities(self) -> Any:
        """:class:`cts_desktop.exchange.capabilities.Capabilities` of this exchange."""
        ...

    def markets(self) -> Dict[str, Market]:
        """Unified symbol -> :class:`Market` of the loaded markets (empty before loading)."""
        ...

    async def load_markets(self, reload: bool = False) -> Dict[str, Market]:
        """Load the markets; returns :meth:`markets`."""
        ...

    async def create_order(self, order: Order) -> Order:
        """Send ``order``; it gets the exchange's id, status and fills so far."""
        ...

    async def cancel_order(self, order: Order) -> Order:
        """Cancel ``order``; ``order-not-found`` when the exchange has no open order by its id."""
        ...

    async def fetch_order(self, order: Order) -> Order:
        """Refresh ``order`` from the exchange; ``order-not-found`` when it has none."""
        ...

    async def fetch_order_trades(self, order: Order) -> List[Dict[str, Any]]:
        """The executions of ``order`` as ccxt unified trade dicts (``id``, ``order``, ``amount``
        base, ``price`` quote, ``timestamp`` ms, ``fee``/``fees``); may include other orders'
        trades of the same symbol (callers filter on ``order``)."""
        ...

    async def fetch_my_trades(self, symbol: str, since: Optional[int] = None, limit: Optional[int] = None) -> List[Fill]:
        """Our executions on ``symbol`` since ``since`` (ms), oldest first."""
        ...

    async def fetch_open_orders(self, symbol: Optional[str] = None) -> List[Order]:
        """Open orders (of ``symbol``, or all)."""
        ...

    async def fetch_balance(self) -> Dict[str, Dict[str, float]]:
        """Currency -> ``{"free", "used", "total"}``, non-zero totals only."""
        ...

    async def fetch_positions(self, symbols: Optional[List[str]] = None) -> List[Dict[str, Any]]:
        """Open derivative positions as ccxt unified position dicts (spot: empty)."""
        ...

    async def fetch_ohlcv(self, symbol: str, timeframe: str = "1m", since: Optional[int] = None,
                          limit: Optional[int] = None) -> List[Candle]:
        """Candles ``(timestamp_ms, open, high, low, close, volume)``, oldest first."""
        ...

    async def watch_ohlcv(self, symbol: str, timeframe: str = "1m") -> List[Candle]:
        """The next candle update(s) of ``symbol`` (streaming); ``not-supported`` without a stream."""
        ...

    async def last_price(self, symbol: str, max_age_ms: int = 60_000) -> Optional[float]:
        """The last traded price of ``symbol`` (quote), at most ``max_age_ms`` old where a cached
        one serves; None when the market is not listed or no price can be read."""
        ...

    async def watch_ticker(self, symbol: str) -> Dict[str, Any]:
        """The next ticker update of ``symbol`` (ccxt unified ticker: ``last``, ``bid``, ``ask``...)."""
        ...

    async def fetch_tickers(self, symbols: List[str]) -> Dict[str, Dict[str, Any]]:
        """Tickers of ``symbols`` (symbol -> ccxt unified ticker: ``last``, ``bid``, ``ask``,
        ``percentage`` (24 h change, percent), ``baseVolume`` (24 h, base), ``timestamp`` ms)."""
        ...

    async def fetch_order_book(self, symbol: str, limit: int = 20) -> Dict[str, Any]:
        """The order book of ``symbol``: ``{"bids": [[price, amount], ...] (best first),
        "asks": [...], "timestamp": ms or None}``, at most ``limit`` levels a side (amounts in base)."""
        ...

    async def watch_trades(self, symbol: str) -> List[Dict[str, Any]]:
        """The next public trades of ``symbol`` (ccxt unified trades)."""
        ...

    async def watch_orders(self, symbol: Optional[str] = None) -> List[Order]:
        """The next updates of our orders."""
        ...

    async def close(self) -> None:
        """Release connections; safe to call twice."""
        ...
