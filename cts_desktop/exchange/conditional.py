"""Conditional (trigger) orders on perpetual futures: the exchange-held stop-loss / take-profit legs.

Binance USD-M keeps ``STOP_MARKET`` / ``TAKE_PROFIT_MARKET`` orders in its Algo Service since
December 2025 (``/fapi/v1/algoOrder``; ccxt 4.5 sends them there when ``createOrder`` gets a trigger
price on a swap market, and reads / cancels them there with ``{"trigger": True}``). An algo order
has its own id (``algoId``) and client id (``clientAlgoId``: the leg's clientOrderId); when it
triggers, the exchange places a market order whose id is the algo order's ``actualOrderId``, and the
executions belong to that order. So a leg is followed in two steps: the algo order while it rests,
then the order it placed (the leg's ``id`` becomes that order's id, so its trades are found by it).

A leg is an :class:`~cts_desktop.core.models.Order` whose ``type`` is a key of
:data:`CONDITIONAL_TYPES` and whose ``price`` is the trigger (quote); always reduce-only, amount
in base. :class:`ConditionalOrders` is mixed into
:class:`~cts_desktop.exchange.ccxt_gateway.CcxtGateway`, whose ``create_order``, ``fetch_order``
and ``cancel_order`` hand such orders here. Every method raises
:class:`~cts_desktop.exchange.errors.GatewayError`.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, Optional

from cts_desktop.core.connection import ConnectionConfig
from cts_desktop.core.models import Order
from cts_desktop.exchange.capabilities import protective_kind

CONDITIONAL_TYPES: Dict[str, str] = {"stop_loss_market": "STOP_MARKET", "take_profit_market": "TAKE_PROFIT_MARKET"}
"""Leg type -> the exchange's order type (not the app-held ``stop_market`` of the order ticket)."""
ALGO = "conditional"
"""The type of another conditional order found at the exchange (not this app's kind of leg)."""
ROUTED = frozenset(CONDITIONAL_TYPES) | {ALGO}
"""Order types the gateway queries and cancels as conditional orders."""


class ConditionalOrders:
    """Create, query and cancel conditional legs (module docstring). Needs ``exchange``,
    ``_call``, ``_trade_call``, ``_apply``, ``_error`` and ``_ensure_markets`` of the gateway."""

    exchange: Any
    conn: ConnectionConfig
    _order_from: Callable[[dict], Order]
    _call: Callable[..., Awaitable[Any]]
    _trade_call: Callable[..., Awaitable[Any]]
    _apply: Callable[[Order, dict], Order]
    _error: Callable[[BaseException, str], Any]
    _ensure_markets: Callable[[], Awaitable[None]]

    async def _create_conditional(self, order: Order) -> Order:
        """Place leg ``order`` (amount and trigger rounded in place); it gets the algo order's id
        and state (open)."""
        ex = self.exchange
        await self._ensure_markets()
        assert order.price is not None
        try:
            amount = float(ex.amount_to_precision(order.symbol, order.amount))
            trigger = float(ex.price_to_precision(order.symbol, order.price))
        except Exception as exc:  # noqa: BLE001 - ccxt's precision helpers raise ccxt and plain errors alike
            raise self._error(exc, "preparing the protective order") from None
        order.amount, order.price, order.remaining = amount, trigger, amount
        params = {"clientOrderId": order.clientOrderId, "triggerPrice": trigger, "reduceOnly": True}
        raw = await self._trade_call("placing the protective order", ex.create_order, order.symbol,
                                     CONDITIONAL_TYPES[order.type], order.side, amount, None, params)
        return self._apply(order, raw)

    async def _fetch_conditional(self, order: Order) -> Order:
        """Refresh leg ``order``: the algo order while it rests (open, canceled, expired); once it
        triggered, the order it placed (by ``actualOrderId``; ``order.id`` becomes that id)."""
        ex = self.exchange
        await self._ensure_markets()
        raw = await self._call("querying the protective order", ex.fetch_order, None, order.symbol,
                               {"trigger": True, "clientOrderId": order.clientOrderId})
        actual = str((raw.get("info") or {}).get("actualOrderId") or "")
        if actual:
            placed = await self._call("querying the triggered protective order", ex.fetch_order, actual, order.symbol)
            return self._apply(order, placed)
        return self._apply(order, raw)

    async def _open_conditionals(self, symbol: Optional[str]) -> List[Order]:
        """The conditional orders resting at the exchange (of ``symbol``, or all), on a swap
        connection of an exchange that keeps them apart (``"pair"`` in
        :data:`~cts_desktop.exchange.capabilities.PROTECTIVE_ORDERS`); [] elsewhere. Their ``type``
        is the leg type (:data:`CONDITIONAL_TYPES`) or :data:`ALGO`, so they are canceled where they rest."""
        ex = self.exchange
        if self.conn.market_type != "swap" or protective_kind(ex.id, "swap") != "pair":
            return []
        raws = await self._call("fetching open conditional orders", ex.fetch_open_orders, symbol, None, None,
                                {"trigger": True})
        by_type = {v: k for k, v in CONDITIONAL_TYPES.items()}
        out = []
        for raw in raws:
            order = self._order_from(raw)
            order.type = by_type.get(str((raw.get("info") or {}).get("orderType")), ALGO)
            out.append(order)
        return out

    async def _cancel_conditional(self, order: Order) -> Order:
        """Cancel leg ``order`` at the exchange, then refresh it (:meth:`_fetch_conditional`).
        ``order-not-found``: it no longer rests (triggered or ended): query it."""
        await self._ensure_markets()
        await self._trade_call("canceling the protective order", self.exchange.cancel_order, None, order.symbol,
                               {"trigger": True, "clientOrderId": order.clientOrderId})
        return await self._fetch_conditional(order)
