"""Protective orders at the exchange: stop-loss / take-profit orders and OCO lists.

What an exchange allows is read from ccxt (``exchange.has`` and the market's ``info``):

* ``"oco"``: Binance-family spot markets whose ``info`` says ``ocoAllowed`` and lists
  ``STOP_LOSS_LIMIT``: one OCO list (``POST /api/v3/orderList/oco``) holds both the take-profit
  (a ``LIMIT_MAKER`` leg at the target) and the stop-loss (a ``STOP_LOSS_LIMIT`` leg); one of
  them executing expires the other at the exchange. A position with only one of the two gets a
  single ``STOP_LOSS_LIMIT`` or ``TAKE_PROFIT_LIMIT`` order (ccxt ``stopLossPrice`` /
  ``takeProfitPrice``).
* ``"pair"``: Binance USD-M perpetuals (linear swap markets listing ``STOP_MARKET`` and
  ``TAKE_PROFIT_MARKET``): two reduce-only trigger orders for the position's amount, a
  ``STOP_MARKET`` stop-loss and a ``TAKE_PROFIT_MARKET`` take-profit (leg types ``stop_loss_market``
  / ``take_profit_market``, :mod:`cts_desktop.exchange.conditional`). There is no OCO on futures:
  when one executes the engine cancels the other (the position it protected is gone); until then a
  trigger of the other finds nothing to reduce and expires.
* ``""``: anything else (other exchanges and market types): the engine holds the stops itself.

Which exchange / market type gets which is the table
:data:`cts_desktop.exchange.capabilities.PROTECTIVE_ORDERS`.

A stop-limit leg's limit price is :data:`STOP_LIMIT_SLIPPAGE` (fraction) beyond its trigger, so
that it still fills when the price moves through the trigger. Every function raises
:class:`~cts_desktop.exchange.errors.GatewayError` (never a ccxt exception); amounts are in base,
prices in quote.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from cts_desktop.core.models import BUY, Order
from cts_desktop.exchange.capabilities import BINANCE_FAMILY, protective_kind

if TYPE_CHECKING:  # only a gateway an exchange run made is ever passed (ccxt loaded then, not at import)
    from cts_desktop.exchange.ccxt_gateway import CcxtGateway

STOP_LIMIT_SLIPPAGE = 0.005
"""How far beyond the trigger a stop-limit order's limit price sits (0.005 = 0.5 %)."""


def exchange_stop_kind(gateway: CcxtGateway, symbol: str) -> str:
    """``"oco"`` or ``"pair"`` when ``symbol``'s stops can live at the exchange (module
    docstring), else ``""``."""
    ex = gateway.exchange
    market = (ex.markets or {}).get(symbol) or {}
    mtype = "swap" if market.get("swap") and market.get("linear") else market.get("type", "spot")
    kind = protective_kind(ex.id, mtype) if ex.id in BINANCE_FAMILY else ""
    info = market.get("info") or {}
    types = info.get("orderTypes") or ()
    if kind == "pair":
        return kind if "STOP_MARKET" in types and "TAKE_PROFIT_MARKET" in types else ""
    if kind != "oco" or market.get("contract"):
        return ""
    if info.get("ocoAllowed") and "STOP_LOSS_LIMIT" in types and "LIMIT_MAKER" in types \
            and "TAKE_PROFIT_LIMIT" in types:
        return "oco"
    return ""


def stop_limit_price(side: str, trigger: float) -> float:
    """The limit price of a stop-limit order on ``side`` triggered at ``trigger`` (quote)."""
    return trigger * (1 - STOP_LIMIT_SLIPPAGE) if side != BUY else trigger * (1 + STOP_LIMIT_SLIPPAGE)


def _prec(gateway: CcxtGateway, symbol: str, amount: float, *prices: float) -> Tuple[str, List[str]]:
    ex = gateway.exchange
    try:
        return ex.amount_to_precision(symbol, amount), [ex.price_to_precision(symbol, p) for p in prices]
    except Exception as exc:  # noqa: BLE001 - ccxt's precision helpers raise ccxt and plain errors alike
        raise gateway._error(exc, "preparing the protective order") from None


async def place_oco(gateway: CcxtGateway, take_profit: Order, stop_loss: Order, list_client_id: str) -> None:
    """Place ``take_profit`` (its ``price``: the target) and ``stop_loss`` (its ``price``: the
    trigger) as one OCO list under ``list_client_id``. Both legs get the exchange's ids and
    states; ``stop_loss.price`` becomes the rounded trigger."""
    ex = gateway.exchange
    await gateway._ensure_markets()
    sym, side = stop_loss.symbol, stop_loss.side
    assert take_profit.price is not None and stop_loss.price is not None
    qty, (tp, sl, sl_limit) = _prec(gateway, sym, stop_loss.amount, take_profit.price, stop_loss.price,
                                    stop_limit_price(side, stop_loss.price))
    target = {"Type": "LIMIT_MAKER", "Price": tp, "ClientOrderId": take_profit.clientOrderId}
    stop = {"Type": "STOP_LOSS_LIMIT", "Price": sl_limit, "StopPrice": sl, "TimeInForce": "GTC",
            "ClientOrderId": stop_loss.clientOrderId}
    above, below = (target, stop) if side != BUY else (stop, target)
    params: Dict[str, Any] = {"symbol": ex.market_id(sym), "side": side.upper(), "quantity": qty,
                              "listClientOrderId": list_client_id}
    params.update({f"above{k}": v for k, v in above.items()})
    params.update({f"below{k}": v for k, v in below.items()})
    raw = await gateway._trade_call("placing the protective OCO order", ex.private_post_orderlist_oco, params)
    reports = {str(r.get("clientOrderId")): r for r in raw.get("orderReports") or ()}
    for leg in (take_profit, stop_loss):
        leg.amount = float(qty)
        report = reports.get(leg.clientOrderId)
        if report is not None:
            gateway._apply(leg, ex.parse_order(report, ex.market(sym)))
    stop_loss.price, take_profit.price = float(sl), float(tp)


async def place_stop(gateway: CcxtGateway, leg: Order, kind: str) -> None:
    """Place one stop order: ``kind`` ``"stop-loss"`` or ``"take-profit"``, triggered at
    ``leg.price`` (rounded in place), a stop-limit order priced by :func:`stop_limit_price`."""
    ex = gateway.exchange
    await gateway._ensure_markets()
    assert leg.price is not None
    qty, (trigger, limit) = _prec(gateway, leg.symbol, leg.amount, leg.price, stop_limit_price(leg.side, leg.price))
    key = "stopLossPrice" if kind == "stop-loss" else "takeProfitPrice"
    params = {"clientOrderId": leg.clientOrderId, key: float(trigger), "timeInForce": "GTC"}
    leg.amount, leg.price = float(qty), float(trigger)
    raw = await gateway._trade_call("placing the protective order", ex.create_order, leg.symbol, "limit", leg.side,
                                    float(qty), float(limit), params)
    gateway._apply(leg, raw)


async def place_protection(gateway: CcxtGateway, take_profit: Optional[Order], stop_loss: Optional[Order],
                           list_client_id: str) -> str:
    """Place a position's legs: one OCO list under ``list_client_id`` (spot, both set, the target a
    ``limit_maker``), else each leg on its own (a single stop-limit order, or the reduce-only pair
    of trigger orders on futures: when a later one is refused, those placed are canceled before
    the error is raised). Returns the list's client id ("" when there is no list)."""
    from cts_desktop.exchange.conditional import CONDITIONAL_TYPES

    if take_profit is not None and stop_loss is not None and take_profit.type == "limit_maker":
        await place_oco(gateway, take_profit, stop_loss, list_client_id)
        return list_client_id
    placed: List[Order] = []
    for leg in (take_profit, stop_loss):
        if leg is None:
            continue
        try:
            if leg.type in CONDITIONAL_TYPES:
                await gateway.create_order(leg)  # the algo order route (exchange/conditional.py)
            else:
                await place_stop(gateway, leg, leg.reason)
        except Exception:
            await cancel_protection(gateway, placed, None)  # no half-armed pair left at the exchange
            raise
        placed.append(leg)
    return ""


async def cancel_protection(gateway: CcxtGateway, legs: List[Order], list_client_id: Optional[str]) -> None:
    """Cancel protective ``legs`` (an OCO list by ``list_client_id``, else each order). An
    ``order-not-found`` answer (already executed or expired) is not an error: the caller
    queries the legs afterwards to learn which."""
    from cts_desktop.exchange.errors import GatewayError

    ex = gateway.exchange
    try:
        if list_client_id and legs:
            await gateway._trade_call("canceling the protective OCO order", ex.private_delete_orderlist,
                                      {"symbol": ex.market_id(legs[0].symbol), "listClientOrderId": list_client_id})
            return
        for leg in legs:
            await gateway.cancel_order(leg)
    except GatewayError as err:
        if err.kind not in ("order-not-found", "invalid-order"):
            raise


async def last_price(gateway: CcxtGateway, symbol: str) -> float:
    """The last traded price of ``symbol`` (quote) from the exchange's ticker (0.0 when it
    reports none)."""
    raw = await gateway._call("fetching the ticker", gateway.exchange.fetch_ticker, symbol)
    return float(raw.get("last") or raw.get("close") or 0.0)
