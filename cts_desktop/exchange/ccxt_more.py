"""The parts of :class:`cts_desktop.core.gateway.Gateway` the ccxt gateway adds to its REST core:
name, capabilities, signing window, credentials check, an order's trades, last prices, positions, and the
streams (one ccxt.pro client per gateway, made on first use, configured like the REST client
and sharing its markets: no second ``exchangeInfo``).

:class:`CcxtMore` is mixed into :class:`cts_desktop.exchange.ccxt_gateway.CcxtGateway`.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, Tuple

from cts_desktop.core.connection import ConnectionConfig
from cts_desktop.core.models import Candle, Order
from cts_desktop.exchange.capabilities import Capabilities, capabilities_of, closes_candle
from cts_desktop.exchange.ccxt_factory import create_pro_exchange, pro_supports
from cts_desktop.exchange.errors import GatewayError

log = logging.getLogger(__name__)


class CcxtMore:
    """``watch_ohlcv`` / ``watch_ticker`` / ``watch_trades`` / ``watch_orders`` on a lazily made
    ccxt.pro client, and the rest of the protocol. Needs ``conn``, ``exchange``, ``_creds``,
    ``_call``, ``_ensure_markets`` and ``_order_from`` of the class it is mixed into."""

    conn: ConnectionConfig
    exchange: Any
    _creds: Dict[str, str]
    _pro: Any = None

    async def _call(self, action: str, fn: Any, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _order_from(self, raw: dict) -> Order:  # pragma: no cover - overridden
        raise NotImplementedError

    async def _ensure_markets(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    async def last_price(self, symbol: str, max_age_ms: int = 60_000) -> Optional[float]:
        """The last traded price of ``symbol`` (quote): ccxt's last ticker when younger than
        ``max_age_ms``, else a fresh one; None when the exchange does not list ``symbol`` or the
        ticker cannot be read (fee conversion falls back then)."""
        await self._ensure_markets()
        ex = self.exchange
        if symbol not in (ex.markets or {}):
            return None
        cached = (ex.tickers or {}).get(symbol) or {}
        if cached.get("last") and (ex.milliseconds() - int(cached.get("timestamp") or 0)) < max_age_ms:
            return float(cached["last"])
        try:
            ticker = await self._call("reading the ticker", ex.fetch_ticker, symbol)
        except GatewayError as err:
            log.warning("no %s price for a fee conversion: %s", symbol, err.message)
            return None
        last = ticker.get("last") or ticker.get("close")
        return float(last) if last else None

    async def fetch_tickers(self, symbols: List[str]) -> Dict[str, Dict[str, Any]]:
        """Tickers of ``symbols`` in one request where the exchange has ``fetchTickers``, else one each."""
        await self._ensure_markets()
        ex = self.exchange
        if ex.has.get("fetchTickers"):
            return dict(await self._call("reading the tickers", ex.fetch_tickers, list(symbols)))
        return {s: dict(await self._call("reading the ticker", ex.fetch_ticker, s)) for s in symbols}

    async def fetch_order_book(self, symbol: str, limit: int = 20) -> Dict[str, Any]:
        """The order book of ``symbol``, at most ``limit`` levels a side (ccxt unified)."""
        await self._ensure_markets()
        book = await self._call("reading the order book", self.exchange.fetch_order_book, symbol, limit)
        return {"bids": list(book.get("bids") or [])[:limit], "asks": list(book.get("asks") or [])[:limit],
                "timestamp": book.get("timestamp")}

    async def fetch_trades(self, symbol: str, limit: int = 20) -> List[Dict[str, Any]]:
        """The newest public trades of ``symbol`` (ccxt unified: ``timestamp`` ms, ``price`` quote,
        ``amount`` base, ``side`` of the taker), oldest first, at most ``limit``."""
        await self._ensure_markets()
        return list(await self._call("reading the public trades", self.exchange.fetch_trades, symbol, None, limit))

    @property
    def name(self) -> str:
        """The exchange's display name."""
        return str(self.exchange.name)

    def capabilities(self) -> Capabilities:
        """The exchange's :class:`Capabilities` (ccxt ``has`` + the quirks table)."""
        return capabilities_of(self.exchange)

    def set_recv_window(self, ms: int) -> None:
        """Sign requests with a ``recvWindow`` of ``ms`` where the exchange has one (else ignored)."""
        if self.capabilities().recv_window:
            self.exchange.options["recvWindow"] = int(ms)

    def missing_credentials(self) -> List[str]:
        """Names of the credentials the exchange needs for trading that are not set (empty: all there)."""
        ex = self.exchange
        if ex.check_required_credentials(False):
            return []
        return [k for k, need in (ex.requiredCredentials or {}).items() if need and not getattr(ex, k, None)]

    async def fetch_order_trades(self, order: Order) -> List[Dict[str, Any]]:
        """ccxt trades that may belong to ``order`` (by order id where the exchange can, else the
        symbol's trades since a minute before the order); callers filter on ``trade['order']``."""
        await self._ensure_markets()
        ex, action = self.exchange, "reading the order's executions"
        if self.capabilities().trades_by_order_id and order.id:
            return list(await self._call(action, ex.fetch_my_trades, order.symbol, None, None, {"orderId": order.id}))
        since = order.timestamp - 60_000 if order.timestamp else None
        return list(await self._call(action, ex.fetch_my_trades, order.symbol, since))

    async def fetch_positions(self, symbols: Optional[List[str]] = None) -> List[Dict[str, Any]]:
        """Open derivative positions (ccxt unified dicts); empty where the exchange has none (spot)."""
        if not self.capabilities().fetch_positions or self.conn.market_type == "spot":
            return []
        return [p for p in await self._call("fetching positions", self.exchange.fetch_positions, symbols)
                if float(p.get("contracts") or 0)]

    def supports_stream(self, capability: str = "watchOHLCV") -> bool:
        """Whether ccxt.pro streams ``capability`` for this exchange."""
        return pro_supports(self.conn.exchange, capability)

    def secret_values(self) -> Tuple[str, ...]:
        """The credential values of this gateway, to redact from any text that leaves it."""
        return tuple(v for v in self._creds.values() if isinstance(v, str) and v)

    def stream_client(self, *, timeout_ms: Optional[int] = None, fresh: bool = False,
                      on_candle_close: Optional[Callable[[], None]] = None, private: bool = False) -> Any:
        """A ccxt.pro client for this connection with the REST client's markets (``fresh``: a new
        one the caller owns and closes; else the gateway's own, closed with it; ``private``: a fresh
        one with the credentials, for the account's streams). Raises
        ``GatewayError('not-supported')`` when ccxt.pro has none. ``on_candle_close()`` is called
        as soon as a message saying a candle closed arrives, before ccxt parses it
        (:func:`~cts_desktop.exchange.capabilities.closes_candle`)."""
        if self._pro is not None and not fresh:
            return self._pro
        pro = create_pro_exchange(self.conn, self._creds if (private or not fresh) else {}, timeout_ms=timeout_ms)
        if self.exchange.markets:
            pro.set_markets(self.exchange.markets, self.exchange.currencies)
        pro.options["timeDifference"] = self.exchange.options.get("timeDifference", 0)  # signed like REST
        if on_candle_close is not None:
            handle, ex_id = pro.handle_message, self.conn.exchange

            def handle_message(client: Any, message: Any) -> Any:
                if closes_candle(ex_id, message):
                    on_candle_close()
                return handle(client, message)
            pro.handle_message = handle_message
        if not fresh:
            self._pro = pro
        return pro

    async def watch_ohlcv(self, symbol: str, timeframe: str = "1m") -> List[Candle]:
        rows = await self._call("reading the candle stream", self.stream_client().watch_ohlcv, symbol, timeframe)
        return [(int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5] or 0.0)) for r in rows]

    async def watch_ticker(self, symbol: str) -> Dict[str, Any]:
        return dict(await self._call("reading the ticker stream", self.stream_client().watch_ticker, symbol))

    async def watch_trades(self, symbol: str) -> List[Dict[str, Any]]:
        return list(await self._call("reading the trade stream", self.stream_client().watch_trades, symbol))

    async def watch_orders(self, symbol: Optional[str] = None) -> List[Order]:
        raws = await self._call("reading the order stream", self.stream_client().watch_orders, symbol)
        return [self._order_from(r) for r in raws]

    async def _close_stream(self) -> None:
        pro, self._pro = self._pro, None
        if pro is not None:
            await pro.close()
