"""Exchange quirks in one table: what an exchange can do and how it wants to be asked.

The engine never looks at a ccxt client (``exchange.has``, ``exchange.id``, ``options``); it
asks its gateway for :class:`Capabilities`, built here from the client (ccxt's ``has`` and
``timeframes``) plus the quirks ccxt does not say (Binance finds an order by client id and its
trades by order id, signs with a ``recvWindow`` and counts request weight per IP).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Tuple

BINANCE_FAMILY = frozenset({"binance", "binanceus", "binanceusdm", "binancecoinm"})

# exchange id -> quirks ccxt's ``has`` does not describe. Weight limits per minute: Binance's published
# REQUEST_WEIGHT limits (spot 6000, USD-M / COIN-M futures 2400, Binance.US 1200).
_QUIRKS = {
    **{x: {"order_by_client_id": True, "trades_by_order_id": True, "recv_window": True, "counts_by_ip": True,
           "weight_limit_1m": {"binanceusdm": 2400, "binancecoinm": 2400, "binanceus": 1200}.get(x, 6000)}
       for x in BINANCE_FAMILY},
}

# exchange id -> market type -> how a position's stop-loss / take-profit can rest at the exchange:
# "oco": one OCO list holding both (Binance spot: POST /api/v3/orderList/oco; one leg executing expires
# the other); "pair": two reduce-only trigger orders, STOP_MARKET and TAKE_PROFIT_MARKET (Binance USD-M
# perpetuals, one-way mode: there is no OCO, so the app cancels the other leg when one executes).
# Anything not listed: the app holds the stops. Used by exchange/stops.py: exchange_stop_kind.
PROTECTIVE_ORDERS = {"binance": {"spot": "oco", "swap": "pair"}, "binanceus": {"spot": "oco"},
                     "binanceusdm": {"swap": "pair"}}


def protective_kind(exchange_id: str, market_type: str) -> str:
    """``"oco"``, ``"pair"`` or ``""`` (the app holds the stops) for ``market_type`` (``spot``,
    ``swap``: linear perpetual) of ``exchange_id`` (:data:`PROTECTIVE_ORDERS`)."""
    return PROTECTIVE_ORDERS.get(exchange_id, {}).get(market_type, "")


@dataclass(frozen=True)
class Capabilities:
    """What one exchange client can do.

    ``recv_window_ms``: the signing window in force (ms; None where the exchange has none);
    ``weight_limit_1m``: the request weight per minute the exchange allows (None: not published),
    ``counts_by_ip``: its weight is counted per IP address as well as per key;
    ``timeframes``: candle timeframes offered (empty: unknown, assume any)."""

    exchange_id: str
    name: str
    fetch_ohlcv: bool = True
    fetch_my_trades: bool = True
    fetch_open_orders: bool = True
    fetch_closed_orders: bool = False
    fetch_orders: bool = False
    fetch_positions: bool = False
    order_by_client_id: bool = False
    trades_by_order_id: bool = False
    recv_window: bool = False
    recv_window_ms: Optional[int] = None
    counts_by_ip: bool = False
    weight_limit_1m: Optional[int] = None
    timeframes: Tuple[str, ...] = ()

    def offers_timeframe(self, tf: str) -> bool:
        """True when candles at ``tf`` are offered (or the exchange does not say)."""
        return not self.timeframes or tf in self.timeframes


def capabilities_of(exchange: Any) -> Capabilities:
    """:class:`Capabilities` of a ccxt client (its ``id``, ``name``, ``has``, ``timeframes``,
    ``options['recvWindow']``) and the quirks table."""
    has = getattr(exchange, "has", None) or {}
    quirks = _QUIRKS.get(exchange.id, {})
    rw = None
    if quirks.get("recv_window"):
        try:
            rw = int((exchange.options or {}).get("recvWindow") or 5000)
        except (TypeError, ValueError):
            rw = 5000
    tfs = exchange.timeframes if isinstance(getattr(exchange, "timeframes", None), dict) else {}
    return Capabilities(
        exchange_id=exchange.id, name=exchange.name,
        fetch_ohlcv=bool(has.get("fetchOHLCV")), fetch_my_trades=bool(has.get("fetchMyTrades")),
        fetch_open_orders=bool(has.get("fetchOpenOrders")), fetch_closed_orders=bool(has.get("fetchClosedOrders")),
        fetch_orders=bool(has.get("fetchOrders")), fetch_positions=bool(has.get("fetchPositions")),
        order_by_client_id=bool(quirks.get("order_by_client_id")), trades_by_order_id=bool(quirks.get("trades_by_order_id")),
        recv_window=bool(quirks.get("recv_window")), recv_window_ms=rw, counts_by_ip=bool(quirks.get("counts_by_ip")),
        weight_limit_1m=quirks.get("weight_limit_1m"), timeframes=tuple(tfs),
    )


def closes_candle(exchange_id: str, message: Any) -> bool:
    """Whether a raw websocket ``message`` of ``exchange_id`` reports a candle that just closed
    (Binance: a kline event with ``"x": true``, alone or in a combined stream's ``data``); False
    where the exchange does not say (the candle's close is then seen when the next one opens)."""
    if exchange_id not in BINANCE_FAMILY or not isinstance(message, dict):
        return False
    data = message.get("data", message)
    k = data.get("k") if isinstance(data, dict) else None
    return isinstance(k, dict) and k.get("x") is True
