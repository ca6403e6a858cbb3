"""The ccxt gateway: one ``ccxt.async_support`` exchange wrapped for live (or testnet) trading.

Everything goes through ccxt's unified API; no HTTP is written here. Errors leave as
:class:`cts_desktop.exchange.errors.GatewayError` (kind + human message, secrets redacted),
never as ccxt exceptions. This room holds :class:`CcxtGateway` (markets, orders, trades,
balance, candles) and the mapping of ccxt's structures onto ours; building the client is
:mod:`cts_desktop.exchange.ccxt_factory`, the request log :mod:`cts_desktop.exchange.request_log`
(their public names are re-exported here).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, Iterable, List, Optional

from cts_desktop.core.connection import ConnectionConfig
from cts_desktop.core.models import (
    CANCELED, CLOSED, FAILED, FILLED, OPEN, PARTIALLY_FILLED, REJECTED, STATE_CANCELED, STATE_OPEN,
    Candle, Fill, Market, Order,
)
from cts_desktop.core.order_state import OrderUpdate, adoption_problem
from cts_desktop.core.order_state import apply as apply_update
from cts_desktop.exchange.ccxt_factory import (  # noqa: F401 - re-exported: the gateway's importers use them
    BINANCE_FAMILY, CREDENTIAL_ALIASES, DEFAULT_TIMEOUT_MS, ccxt_credentials, create_exchange, create_pro_exchange,
    pro_supports,
)
from cts_desktop.exchange.clock import ExchangeClock
from cts_desktop.exchange.budget import Budget, budgets_for
from cts_desktop.exchange.ccxt_more import CcxtMore
from cts_desktop.exchange.conditional import CONDITIONAL_TYPES, ROUTED, ConditionalOrders
from cts_desktop.exchange.errors import GatewayError, map_exception
from cts_desktop.exchange.request_log import install_request_log  # noqa: F401 - re-exported

if TYPE_CHECKING:  # ccxt itself is loaded by create_exchange (ccxt_factory.py), when a client is made
    import ccxt.async_support as ccxt_async

log = logging.getLogger(__name__)

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


class CcxtGateway(CcxtMore, ConditionalOrders):
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
        self.clock = ExchangeClock(self.exchange)  # the offset to the exchange's clock, corrected (exchange/clock.py)
        self._creds = dict(secrets or {})
        self.budgets: List[Budget] = budgets_for(self.exchange, conn, self._creds)

    async def __aenter__(self) -> "CcxtGateway":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def _error(self, exc: BaseException, action: str) -> GatewayError:
        return map_exception(exc, secrets=self._secrets, exchange=self.exchange, action=action,
                             timeout_s=getattr(self.exchange, "timeout", 0) / 1000 or None)

    async def _call(self, action: str, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` within the shared request budgets (:mod:`cts_desktop.exchange.budget`:
        refused at once while banned, delayed while backing off; the budgets' hooks on the ccxt client
        check every request it makes and read every answer's weight, 429 and 418). A timestamp
        refusal (-1021: a clock jumped) re-measures the clock offset and retries once (the exchange
        refused the request unprocessed)."""
        for attempt in (1, 2):
            try:
                for b in self.budgets:
                    await b.acquire(self.name)
            except GatewayError as refused:
                raise refused from None  # a ban of the shared budget: no request leaves
            try:
                return await fn(*args, **kwargs)
            except GatewayError as given:
                raise given from None
            except Exception as exc:  # noqa: BLE001 - every failure leaves as a GatewayError (non-ccxt ones as "internal")
                mapped = self._error(exc, action)
                if attempt == 1 and mapped.kind == "clock" and self.clock.enabled and await self._resync(action):
                    continue
                raise mapped from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _resync(self, action: str) -> bool:
        """Re-measure the clock offset after a timestamp refusal; False when that failed too."""
        try:
            offset = await self.clock.sync()
        except Exception as exc:  # noqa: BLE001 - the original refusal is what gets reported
            log.warning("re-measuring the clock after a timestamp refusal failed: %s", self._error(exc, action).message)
            return False
        log.warning("%s refused a request's timestamp while %s: clock offset re-measured (%+.1f s), retrying once",
                    self.exchange.name, action, (offset or 0) / 1000)
        return True

    async def _trade_call(self, action: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
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
            except Exception:  # noqa: BLE001 - whatever the read fails with, the original error stands
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
        import ccxt

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
        """Copy a ccxt order structure onto ``order`` through the order state table
        (:func:`cts_desktop.core.order_state.apply`). An order found by client id whose symbol,
        side or amount differ from ours is not applied: ``order.flag`` says why."""
        if order.id is None and order.symbol in (self.exchange.markets or {}):
            import ccxt

            try:  # compare with what create_order sent (an order recorded before sending is unrounded)
                order.amount = float(self.exchange.amount_to_precision(order.symbol, order.amount))
            except (ccxt.BaseError, ValueError, TypeError):
                log.debug("cannot round the amount of %s", order.clientOrderId, exc_info=True)
        problem = adoption_problem(order, raw.get("symbol"), raw.get("side"),
                                   _num(raw["amount"]) if raw.get("amount") is not None else None)
        if problem:
            order.flag = problem
            log.error("order %s: %s", order.clientOrderId, problem)
            return order
        if raw.get("id") is not None:
            order.id = str(raw["id"])
        status = _status(raw.get("status"))
        if raw.get("timestamp"):
            order.timestamp = int(raw["timestamp"])
        filled = _num(raw["filled"]) if raw.get("filled") is not None else None
        if raw.get("remaining") is not None and filled is None:
            order.remaining = _num(raw["remaining"])
        if raw.get("average") is not None:
            order.average = _num(raw["average"])
        if raw.get("cost") is not None:
            order.cost = _num(raw["cost"])
        fees = _fees_of(raw)
        if fees:
            market = (self.exchange.markets or {}).get(order.symbol)
            order.fee, order.fee_currency = fee_in_quote(fees, market, order.average)
        known = order.filled if filled is None else filled
        state = _state_for(status, known) if status is not None else \
            (PARTIALLY_FILLED if known > 0 else STATE_OPEN) if order.id is not None else None
        outcome = apply_update(order, OrderUpdate(state=state, filled=filled, source=self.exchange.id))
        if status is not None and order.state == state:
            order.status = status
        if outcome.refused:
            log.warning("order %s: %s answer not applied: %s", order.clientOrderId, self.exchange.id, outcome.refused)
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
        if order.type in CONDITIONAL_TYPES:  # a futures stop-loss / take-profit leg (exchange/conditional.py)
            return await self._create_conditional(order)
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
        except Exception as exc:  # noqa: BLE001 - ccxt's precision helpers raise ccxt and plain errors alike
            raise self._error(exc, "preparing the order") from None
        order.amount, order.price = amount, price if order.type == "limit" else order.price
        order.remaining = amount - order.filled
        params: Dict[str, Any] = {"clientOrderId": order.clientOrderId}
        if order.reduce_only and ex.markets.get(order.symbol, {}).get("contract"):
            params["reduceOnly"] = True
        if order.type == "limit" and order.time_in_force in ("IOC", "PO"):
            params.update({"timeInForce": "IOC"} if order.time_in_force == "IOC" else {"postOnly": True})
        raw = await self._trade_call("placing the order", ex.create_order, order.symbol, order.type, order.side, amount, price, params)
        return self._apply(order, raw)

    async def cancel_order(self, order: Order) -> Order:
        """Cancel ``order`` (by exchange id, else by clientOrderId). ``order-not-found`` means the
        exchange does not know an open order by that id: query it, do not assume canceled."""
        if order.type in ROUTED:
            return await self._cancel_conditional(order)
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
        if order.type in ROUTED:
            return await self._fetch_conditional(order)
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
        """Open orders (of ``symbol``, or all) as :class:`Order` objects, conditional ones included
        (:meth:`_open_conditionals`: kept apart on futures)."""
        await self._ensure_markets()
        raws = await self._call("fetching open orders", self.exchange.fetch_open_orders, symbol)
        return [self._order_from(r) for r in raws] + await self._open_conditionals(symbol)  # futures: apart

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
        """Close the HTTP session (and the stream client). Safe to call twice."""
        try:
            await self._close_stream()
            await self.exchange.close()
        except Exception as exc:  # noqa: BLE001  # pragma: no cover - closing must not raise
            log.debug("closing %s failed: %s", self.exchange.id, type(exc).__name__)
