"""The ccxt gateway: one ``ccxt.async_support`` exchange wrapped for live (or testnet) trading.

Everything goes through ccxt's unified API; no HTTP is written here. Errors leave as
:class:`cts_desktop.exchange.errors.GatewayError` (kind + human message, secrets redacted),
never as ccxt exceptions.

Credentials (``secrets``): a dict of field name -> value, as kept in the keyring. The names ccxt
uses are accepted (``apiKey``, ``secret``, ``password``, ``uid``, ``privateKey``,
``walletAddress``, ``token``) plus the aliases ``api_key``, ``api_secret`` and
``passphrase``.
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from typing import Any, Callable, Dict, Iterable, List, Optional
from urllib.parse import urlsplit

import ccxt
import ccxt.async_support as ccxt_async

from cts_desktop.core.models import (
    CANCELED, CLOSED, FAILED, FILLED, OPEN, PARTIALLY_FILLED, REJECTED, STATE_CANCELED, STATE_OPEN,
    Candle, Fill, Market, Order,
)
from cts_desktop.exchange.errors import GatewayError, map_exception, redact
from cts_desktop.core.connection import PAPER_EXCHANGE, ConnectionConfig

CREDENTIAL_ALIASES = {
    "apiKey": "apiKey", "api_key": "apiKey", "key": "apiKey",
    "secret": "secret", "api_secret": "secret", "apiSecret": "secret",
    "password": "password", "passphrase": "password",
    "uid": "uid", "privateKey": "privateKey", "walletAddress": "walletAddress", "token": "token",
}
BINANCE_FAMILY = frozenset({"binance", "binanceus", "binanceusdm", "binancecoinm"})
DEFAULT_TIMEOUT_MS = 10_000


def ccxt_credentials(secrets: Dict[str, str]) -> Dict[str, str]:
    """Map keyring field names onto ccxt's credential attribute names (unknown names dropped)."""
    out: Dict[str, str] = {}
    for name, value in (secrets or {}).items():
        target = CREDENTIAL_ALIASES.get(name)
        if target and value:
            out[target] = value
    return out


def _rewrite_urls(node: Any, base_url: str) -> Any:
    """Every URL string in ``node`` (str or nested dict) moved to ``base_url``, path kept."""
    if isinstance(node, str):
        return base_url.rstrip("/") + urlsplit(node).path if "://" in node else node
    if isinstance(node, dict):
        return {k: _rewrite_urls(v, base_url) for k, v in node.items()}
    return node


class _SecretRedactingFilter(logging.Filter):
    """Scrubs every secret value handed to :func:`create_exchange` from ccxt's log records.

    ccxt logs each request with its headers at DEBUG (Binance's ``X-MBX-APIKEY`` carries the
    API key), so ``cts-desktop --verbose`` would otherwise print keys. Installed on the logger
    ccxt writes to (``ccxt.base.exchange``: a filter on a parent logger would not see its
    records); values are kept only for the life of the process, in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.values: set = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.values:
            text = record.getMessage()
            clean = redact(text, self.values)
            if clean != text:
                record.msg, record.args = clean, None
        return True


_LOG_FILTER = _SecretRedactingFilter()
for _name in ("ccxt", "ccxt.base.exchange"):
    logging.getLogger(_name).addFilter(_LOG_FILTER)


def create_exchange(conn: ConnectionConfig, secrets: Dict[str, str], *, timeout_ms: Optional[int] = None) -> ccxt_async.Exchange:
    """A configured, not yet connected ``ccxt.async_support`` exchange for ``conn``.

    * id: ``conn.exchange``; ``options.defaultType``: ``conn.market_type``.
    * ``conn.testnet``: ccxt's sandbox URLs when the exchange has them. Without a sandbox a
      *live* connection is refused (``GatewayError('not-supported')``) rather than silently
      sent to production; a paper connection (``live == False``) only reads public data and
      proceeds against production.
    * ``conn.base_url``: every URL in ``urls['api']`` (production and, with testnet, sandbox
      entries; sandbox wins) is rewritten to that scheme/host/port keeping its path, e.g.
      ``https://api.binance.com/sapi/v1`` -> ``<base_url>/sapi/v1``. Used for self-hosted
      gateways and the local test venue.
    * ``conn.rate_limit_per_second``: ccxt ``rateLimit`` = 1000 / rps milliseconds between
      requests; ``enableRateLimit`` is always on.
    * Binance family: markets of the configured type only, no currency or margin-pair calls
      (one ``exchangeInfo`` request per ``load_markets``), no warning for ``fetchOpenOrders``
      without a symbol.

    Raises :class:`GatewayError` ``not-supported`` for ``"paper"`` or an id ccxt does not know.
    """
    return _configured(ccxt_async, conn, secrets, timeout_ms)


def pro_supports(exchange_id: str, capability: str = "watchOHLCV") -> bool:
    """Whether ccxt.pro has a websocket client for ``exchange_id`` with ``capability``
    (``exchange.has``; default: candles)."""
    import ccxt.pro as ccxt_pro

    cls = getattr(ccxt_pro, exchange_id, None) if exchange_id in ccxt_pro.exchanges else None
    if cls is None:
        return False
    try:
        return bool(cls().has.get(capability))
    except Exception:  # pragma: no cover - a broken ccxt class: no support
        return False


def _ws_scheme(node: Any) -> Any:
    """Every ``http(s)://`` URL in ``node`` (str or nested dict) as ``ws(s)://``."""
    if isinstance(node, str):
        if node.startswith("https://"):
            return "wss://" + node[len("https://"):]
        if node.startswith("http://"):
            return "ws://" + node[len("http://"):]
        return node
    if isinstance(node, dict):
        return {k: _ws_scheme(v) for k, v in node.items()}
    return node


def create_pro_exchange(conn: ConnectionConfig, secrets: Dict[str, str], *,
                        timeout_ms: Optional[int] = None) -> Any:
    """A configured, not yet connected ``ccxt.pro`` exchange for ``conn`` (websocket streams plus
    the same REST API), with exactly the configuration of :func:`create_exchange` (options,
    rate limit, credentials, testnet, timeout).

    ``conn.base_url``: the REST URLs are rewritten as by :func:`create_exchange`, and every
    websocket URL (``urls['api']['ws']``, sandbox entries winning) goes to the base URL's
    websocket equivalent keeping its path: ``http://127.0.0.1:8765`` ->
    ``ws://127.0.0.1:8765/ws`` for ``wss://stream.binance.com:9443/ws``; ``https`` -> ``wss``.
    The websocket connection timeout follows ``timeout_ms``.

    Raises :class:`GatewayError` ``not-supported`` when ccxt.pro has no client for the exchange.
    The caller closes it (``await exchange.close()``).
    """
    import ccxt.pro as ccxt_pro

    if conn.exchange != PAPER_EXCHANGE and conn.exchange not in ccxt_pro.exchanges:
        raise GatewayError("not-supported", f"ccxt.pro {ccxt.__version__} has no websocket client for {conn.exchange}.")
    exchange = _configured(ccxt_pro, conn, secrets, timeout_ms)
    exchange.streaming = {**(getattr(exchange, "streaming", None) or {}),
                          "connectionTimeout": int(timeout_ms or DEFAULT_TIMEOUT_MS)}
    if conn.base_url:
        api = exchange.urls.get("api")
        if isinstance(api, dict) and "ws" in api:
            api["ws"] = _ws_scheme(api["ws"])
    return exchange


def _configured(module: Any, conn: ConnectionConfig, secrets: Dict[str, str], timeout_ms: Optional[int]) -> Any:
    """:func:`create_exchange`'s work for the exchange classes of ``module`` (``ccxt.async_support``
    or ``ccxt.pro``)."""
    exchange_id = conn.exchange
    if exchange_id == PAPER_EXCHANGE:
        raise GatewayError("not-supported", "The built-in paper exchange has no ccxt connection.")
    cls = getattr(module, exchange_id, None) if exchange_id in module.exchanges else None
    if cls is None:
        raise GatewayError("not-supported", f"Unknown exchange {exchange_id!r}: not an exchange id of ccxt {ccxt.__version__}.")
    options: Dict[str, Any] = {"defaultType": conn.market_type}
    if exchange_id in BINANCE_FAMILY:
        types = {"spot": ["spot"], "margin": ["spot"], "swap": ["linear"], "future": ["linear"], "linear": ["linear"],
                 "inverse": ["inverse"], "delivery": ["inverse"]}.get(conn.market_type, ["spot"])
        options.update({"fetchMarkets": {"types": types}, "fetchCurrencies": False, "fetchMargins": False,
                        "warnOnFetchOpenOrdersWithoutSymbol": False})
    config: Dict[str, Any] = {"enableRateLimit": True, "options": options, "timeout": int(timeout_ms or DEFAULT_TIMEOUT_MS)}
    if conn.rate_limit_per_second:
        config["rateLimit"] = 1000.0 / float(conn.rate_limit_per_second)
    config.update(ccxt_credentials(secrets))
    _LOG_FILTER.values.update(v for v in (secrets or {}).values() if isinstance(v, str) and len(v) >= 4)
    exchange = cls(config)
    production_api = exchange.urls.get("api")
    if conn.testnet:
        if exchange.urls.get("test"):
            exchange.set_sandbox_mode(True)
        elif conn.live and not conn.base_url:
            raise GatewayError("not-supported", f"{exchange.name} has no testnet in ccxt; turn 'testnet' off to trade live, "
                               "or set a base URL.")
    if conn.base_url:
        current = exchange.urls.get("api")
        if isinstance(production_api, dict) and isinstance(current, dict):
            merged = {**production_api, **current}
        else:
            merged = current
        exchange.urls["api"] = _rewrite_urls(merged, conn.base_url)
    return exchange


# --------------------------------------------------------------------------- request log

_current_entry: contextvars.ContextVar[Optional[dict]] = contextvars.ContextVar("cts_ccxt_request", default=None)


def install_request_log(exchange: ccxt_async.Exchange, sink: Callable[[dict], None], secrets: Iterable[str] = (),
                        on_response: Optional[Callable[[str, Any], None]] = None) -> None:
    """Record every HTTP request ``exchange`` makes by wrapping its ``fetch``.

    ``sink`` receives one dict per request: ``time`` (ms, start), ``request`` (``"GET /api/v3/account"``:
    method and path only, never the query string or body), ``outcome`` (``"200"``, or
    ``"<status> <ccxt error class>"`` / the error class for transport failures), ``ms`` (round
    trip, float) and ``t0`` (start, float ms, for clock measurements). Everything is passed through :func:`redact` with ``secrets``.
    ``on_response(path, json)`` (optional) sees each successful decoded response.
    """
    original_fetch = exchange.fetch
    original_on_rest = exchange.on_rest_response
    secrets = tuple(secrets)

    def on_rest_response(code, reason, url, method, headers, body, *args):
        entry = _current_entry.get()
        if entry is not None:
            entry["status"] = code
        return original_on_rest(code, reason, url, method, headers, body, *args)

    async def fetch(url, method="GET", headers=None, body=None):
        path = urlsplit(url).path or "/"
        entry: dict = {"status": None}
        token = _current_entry.set(entry)
        started_wall = time.time() * 1000
        t0 = time.perf_counter()
        outcome = "?"
        try:
            result = await original_fetch(url, method, headers, body)
            outcome = str(entry["status"] or "ok")
            if on_response is not None:
                on_response(path, result)
            return result
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception as exc:
            outcome = f"{entry['status']} {type(exc).__name__}" if entry["status"] else type(exc).__name__
            raise
        finally:
            _current_entry.reset(token)
            sink({"time": int(started_wall), "t0": started_wall, "request": redact(f"{method} {path}", secrets), "outcome": redact(outcome, secrets),
                  "ms": round((time.perf_counter() - t0) * 1000, 2)})

    exchange.fetch = fetch
    exchange.on_rest_response = on_rest_response


# --------------------------------------------------------------------------- mapping helpers

def _num(value: Any, default: float = 0.0) -> float:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _state_for(status: str, filled: float) -> str:
    if status == CLOSED:
        return FILLED
    if status == CANCELED:
        return STATE_CANCELED
    if status == REJECTED:
        return FAILED
    return PARTIALLY_FILLED if filled > 0 else STATE_OPEN


def _status(ccxt_status: Optional[str]) -> Optional[str]:
    if ccxt_status in (OPEN, CLOSED, CANCELED, REJECTED):
        return ccxt_status
    if ccxt_status in ("expired", "cancelled"):
        return CANCELED
    return None


def fee_in_quote(fees: Iterable[dict], market: Optional[dict], average: Optional[float]) -> tuple:
    """(fee, currency) of ccxt ``fees``: converted to the quote currency when paid in base or
    quote; otherwise (e.g. BNB) the raw amount in its own currency. Mixed third currencies:
    the first one wins and others are ignored."""
    quote = market.get("quote") if market else None
    base = market.get("base") if market else None
    total_quote, other, other_ccy = 0.0, 0.0, ""
    for f in fees or ():
        if not f:
            continue
        cost, ccy = _num(f.get("cost")), f.get("currency")
        if not cost:
            continue
        if ccy == quote or ccy is None:
            total_quote += cost
        elif ccy == base and average:
            total_quote += cost * average
        elif not other_ccy or ccy == other_ccy:
            other, other_ccy = other + cost, ccy
    if other_ccy and not total_quote:
        return other, other_ccy
    return total_quote, quote or ""


def _fees_of(raw: dict) -> list:
    fees = raw.get("fees")
    if fees:
        return fees
    return [raw["fee"]] if raw.get("fee") else []


class CcxtGateway:
    """One ccxt async exchange used for trading, with our types in and out.

    Every method raises :class:`GatewayError` on failure (never a ccxt exception). Orders are
    identified by our ``clientOrderId`` (sent as ccxt ``clientOrderId``; Binance
    ``newClientOrderId``) so an order whose creation had an unknown outcome can be found again.
    Methods that take an :class:`Order` update it in place and return it.
    Use as ``async with CcxtGateway(conn, secrets) as gw:`` or call :meth:`close`.
    """

    def __init__(self, conn: ConnectionConfig, secrets: Dict[str, str], *, exchange: Optional[ccxt_async.Exchange] = None,
                 timeout_ms: Optional[int] = None):
        self.conn = conn
        self._secrets = tuple(v for v in (secrets or {}).values() if v)
        self.exchange = exchange or create_exchange(conn, secrets, timeout_ms=timeout_ms)
        self._markets: Dict[str, Market] = {}

    async def __aenter__(self) -> "CcxtGateway":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def _error(self, exc: BaseException, action: str) -> GatewayError:
        return map_exception(exc, secrets=self._secrets, exchange=self.exchange, action=action,
                             timeout_s=getattr(self.exchange, "timeout", 0) / 1000 or None)

    async def _call(self, action: str, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except GatewayError:
            raise
        except Exception as exc:
            raise self._error(exc, action) from None

    async def _trade_call(self, action: str, fn: Callable, *args: Any) -> Any:
        """Like :meth:`_call`; a Binance ``-2015`` on a trade endpoint is ambiguous (unknown key,
        IP not whitelisted, or no trade permission), so one read (the balance) settles it: if the
        key can read, the error becomes ``permission``."""
        try:
            return await self._call(action, fn, *args)
        except GatewayError as err:
            if err.kind != "auth" or err.code != -2015:
                raise
            try:
                await self.exchange.fetch_balance()
            except Exception:
                raise err from None
            raise GatewayError(
                "permission", f"{self.exchange.name} accepted this API key for reading but refused it while {action}: "
                "enable the trading permission (Spot trading) for the key, and check its IP whitelist.",
                code=err.code, http_status=err.http_status) from None

    async def _ensure_markets(self) -> None:
        if not self.exchange.markets:
            await self.load_markets()

    # -- markets -----------------------------------------------------------------------------
    async def load_markets(self, reload: bool = False) -> Dict[str, Market]:
        """Load (or reload) the exchange's markets; returns :meth:`markets`."""
        await self._call("loading the markets", self.exchange.load_markets, reload)
        self._markets = {}
        return self.markets()

    def markets(self) -> Dict[str, Market]:
        """Unified symbol -> :class:`Market` (tick sizes, minimums, fees) of the loaded markets.
        Empty before :meth:`load_markets`."""
        if not self._markets and self.exchange.markets:
            self._markets = {sym: self._market_of(m) for sym, m in self.exchange.markets.items()}
        return self._markets

    def _market_of(self, m: dict) -> Market:
        precision = m.get("precision") or {}
        limits = m.get("limits") or {}
        mode = getattr(self.exchange, "precisionMode", ccxt.TICK_SIZE)

        def step(p: Any, default: float) -> float:
            if p is None:
                return default
            if mode == ccxt.TICK_SIZE:
                return float(p)
            return 10.0 ** (-float(p))  # DECIMAL_PLACES (SIGNIFICANT_DIGITS approximated the same way)

        mtype = m.get("type") or "spot"
        taker = self.conn.fee if self.conn.fee is not None else _num(m.get("taker"), 0.001)
        return Market(
            symbol=m["symbol"], base=m.get("base") or "", quote=m.get("quote") or "",
            type="swap" if mtype in ("swap", "future") and m.get("linear", True) else mtype,
            amount_step=step(precision.get("amount"), 1e-8), price_step=step(precision.get("price"), 1e-8),
            min_amount=_num((limits.get("amount") or {}).get("min")), min_cost=_num((limits.get("cost") or {}).get("min")),
            taker_fee=taker, maker_fee=_num(m.get("maker"), taker),
        )

    # -- orders ------------------------------------------------------------------------------
    def _apply(self, order: Order, raw: dict) -> Order:
        """Copy a ccxt order structure onto ``order``."""
        if raw.get("id") is not None:
            order.id = str(raw["id"])
        status = _status(raw.get("status"))
        if raw.get("timestamp"):
            order.timestamp = int(raw["timestamp"])
        if raw.get("filled") is not None:
            order.filled = _num(raw["filled"])
        if raw.get("remaining") is not None:
            order.remaining = _num(raw["remaining"])
        elif raw.get("filled") is not None:
            order.remaining = max(order.amount - order.filled, 0.0)
        if raw.get("average") is not None:
            order.average = _num(raw["average"])
        if raw.get("cost") is not None:
            order.cost = _num(raw["cost"])
        fees = _fees_of(raw)
        if fees:
            market = (self.exchange.markets or {}).get(order.symbol)
            order.fee, order.fee_currency = fee_in_quote(fees, market, order.average)
        if status is not None:
            order.status = status
            order.state = _state_for(status, order.filled)
        elif order.id is not None:
            order.state = PARTIALLY_FILLED if order.filled > 0 else STATE_OPEN
        return order

    def _order_from(self, raw: dict) -> Order:
        order = Order(
            clientOrderId=str(raw.get("clientOrderId") or ""), symbol=raw.get("symbol") or "", side=raw.get("side") or "",
            type=raw.get("type") or "", amount=_num(raw.get("amount")), price=raw.get("price") if raw.get("type") != "market" else None,
        )
        return self._apply(order, raw)

    async def create_order(self, order: Order) -> Order:
        """Send ``order`` (market or limit). Amount and price are rounded with ccxt's
        ``amount_to_precision`` / ``price_to_precision`` (``order.amount``/``price`` updated).

        On success ``order`` gets the exchange's id, status, filled, remaining, average, cost
        and fee (quote currency where convertible). Raises :class:`GatewayError`; when its
        ``transient`` is true the order may exist anyway: settle it with :meth:`fetch_order`.
        """
        ex = self.exchange
        await self._ensure_markets()
        try:
            amount = float(ex.amount_to_precision(order.symbol, order.amount))
            price = None
            if order.type == "limit":
                if order.price is None:
                    raise GatewayError("invalid-order", "A limit order needs a price.")
                price = float(ex.price_to_precision(order.symbol, order.price))
        except GatewayError:
            raise
        except Exception as exc:
            raise self._error(exc, "preparing the order") from None
        order.amount, order.price = amount, price if order.type == "limit" else order.price
        order.remaining = amount - order.filled
        params: Dict[str, Any] = {"clientOrderId": order.clientOrderId}
        if order.reduce_only and ex.markets.get(order.symbol, {}).get("contract"):
            params["reduceOnly"] = True
        raw = await self._trade_call("placing the order", ex.create_order, order.symbol, order.type, order.side, amount, price, params)
        return self._apply(order, raw)

    async def cancel_order(self, order: Order) -> Order:
        """Cancel ``order`` (by exchange id, else by clientOrderId). ``order-not-found`` means the
        exchange does not know an open order by that id: query it, do not assume canceled."""
        await self._ensure_markets()
        if order.id:
            raw = await self._trade_call("canceling the order", self.exchange.cancel_order, order.id, order.symbol)
        else:
            raw = await self._trade_call("canceling the order", self.exchange.cancel_order, None, order.symbol,
                                   {"clientOrderId": order.clientOrderId})
        return self._apply(order, raw)

    async def fetch_order(self, order: Order) -> Order:
        """Refresh ``order`` from the exchange: by clientOrderId where the exchange supports it
        (Binance ``origClientOrderId``), else by id, else by scanning open and recent orders.
        Raises ``order-not-found`` when the exchange has no such order."""
        ex = self.exchange
        await self._ensure_markets()
        if order.clientOrderId and ex.id in BINANCE_FAMILY:
            raw = await self._call("querying the order", ex.fetch_order, None, order.symbol, {"clientOrderId": order.clientOrderId})
        elif order.id:
            raw = await self._call("querying the order", ex.fetch_order, order.id, order.symbol)
        else:
            raw = await self._find_by_client_id(order)
        return self._apply(order, raw)

    async def _find_by_client_id(self, order: Order) -> dict:
        ex = self.exchange
        sources = [("fetchOpenOrders", ex.fetch_open_orders)]
        if ex.has.get("fetchClosedOrders"):
            sources.append(("fetchClosedOrders", ex.fetch_closed_orders))
        elif ex.has.get("fetchOrders"):
            sources.append(("fetchOrders", ex.fetch_orders))
        for capability, fn in sources:
            if not ex.has.get(capability):
                continue
            for raw in await self._call("looking the order up", fn, order.symbol):
                if raw.get("clientOrderId") == order.clientOrderId:
                    return raw
        raise GatewayError("order-not-found", f"{ex.name} has no order with client id {order.clientOrderId} on {order.symbol}.")

    async def fetch_open_orders(self, symbol: Optional[str] = None) -> List[Order]:
        """Open orders (of ``symbol``, or all) as :class:`Order` objects."""
        await self._ensure_markets()
        raws = await self._call("fetching open orders", self.exchange.fetch_open_orders, symbol)
        return [self._order_from(r) for r in raws]

    async def fetch_my_trades(self, symbol: str, since: Optional[int] = None, limit: Optional[int] = None) -> List[Fill]:
        """Our executions on ``symbol`` since ``since`` (ms), oldest first, as :class:`Fill`
        (fee in quote where convertible). ``clientOrderId`` is filled when the exchange reports it."""
        await self._ensure_markets()
        raws = await self._call("fetching trades", self.exchange.fetch_my_trades, symbol, since, limit)
        market = self.exchange.markets.get(symbol)
        fills = []
        for t in raws:
            price = _num(t.get("price"))
            fee, fee_ccy = fee_in_quote(_fees_of(t), market, price)
            info = t.get("info") or {}
            fills.append(Fill(
                id=str(t.get("id") or ""), order_id=str(t.get("order") or ""),
                clientOrderId=str(t.get("clientOrderId") or info.get("clientOrderId") or ""),
                symbol=t.get("symbol") or symbol, side=t.get("side") or "", amount=_num(t.get("amount")), price=price,
                timestamp=int(t.get("timestamp") or 0), fee=fee, fee_currency=fee_ccy, takerOrMaker=t.get("takerOrMaker") or "taker",
            ))
        return fills

    async def fetch_balance(self) -> Dict[str, Dict[str, float]]:
        """Currency -> ``{"free", "used", "total"}`` (floats), currencies with a non-zero total only."""
        raw = await self._call("fetching the balance", self.exchange.fetch_balance)
        out: Dict[str, Dict[str, float]] = {}
        for ccy, total in (raw.get("total") or {}).items():
            if total:
                out[ccy] = {"free": _num((raw.get("free") or {}).get(ccy)), "used": _num((raw.get("used") or {}).get(ccy)),
                            "total": _num(total)}
        return out

    async def fetch_ohlcv(self, symbol: str, timeframe: str = "1m", since: Optional[int] = None,
                          limit: Optional[int] = None) -> List[Candle]:
        """Candles ``(timestamp_ms, open, high, low, close, volume)``, oldest first."""
        await self._ensure_markets()
        rows = await self._call("fetching candles", self.exchange.fetch_ohlcv, symbol, timeframe, since, limit)
        return [(int(r[0]), _num(r[1]), _num(r[2]), _num(r[3]), _num(r[4]), _num(r[5])) for r in rows]

    async def close(self) -> None:
        """Close the HTTP session. Safe to call twice."""
        try:
            await self.exchange.close()
        except Exception:  # pragma: no cover - closing must not raise
            pass
