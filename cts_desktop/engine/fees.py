"""Fee booking of live executions: one exchange trade (or one observed fill increase) -> one Fill.

A fee paid in the base currency of a buy (Binance without BNB) is taken off the booked amount,
so the position matches what the wallet holds, and the amount is truncated to the market's lot
step so the position can be sold in full; the fee and that dust, valued at the fill price, are
booked as the fill's fee in quote (the dust stays in the wallet, unused). A base-currency fee on
a sell is booked at the fill price in quote. A fee in a third currency (BNB) is converted to the
quote at ``rates``: the fee currency's price in quote (its ``FEE/QUOTE`` ticker), or in base
(``FEE/BASE``) times the fill's price; without a rate it is logged and booked as 0.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..core import events as ev
from ..core.models import BUY, Fill, Market, Order
from ..core.risk import truncate_amount
from .lifecycle import LogFn


FeeRates = Mapping[str, Tuple[float, bool]]
"""fee currency -> (its price, True when that price is in base rather than quote)."""


def fill_of_trade(order: Order, t: Dict[str, Any], market: Market, log: LogFn,
                  rates: Optional[FeeRates] = None) -> Tuple[Fill, float]:
    """``(the fill booked for ccxt trade t of order, the trade's gross amount in base)``; the
    fill's fee is in quote (module docstring), its id the trade id."""
    amount = float(t.get("amount") or 0.0)
    price = float(t.get("price") or 0.0)
    fees = t.get("fees") or ([t["fee"]] if t.get("fee") else [])
    fee_quote = base_fee = 0.0
    for f in fees:
        if not f or not f.get("cost"):
            continue
        cost, ccy = float(f["cost"]), f.get("currency")
        if ccy in (None, market.quote):
            fee_quote += cost
        elif ccy == market.base:
            base_fee += cost
        elif rates and ccy in rates:
            rate, in_base = rates[ccy]
            fee_quote += cost * rate * (price if in_base else 1.0)
        else:
            log(ev.CAT_FILL, f"fee of {cost:g} {ccy} on trade {t.get('id')} is paid outside the "
                             f"{market.quote} balance: not in the P&L", "warning")
    booked = amount
    if base_fee and order.side == BUY:
        net = amount - base_fee
        booked = truncate_amount(net, market.amount_step) if market.amount_step else net
        if booked <= 0:
            booked = net
        fee_quote += (amount - booked) * price
    elif base_fee:
        fee_quote += base_fee * price
    fill = Fill(id=str(t.get("id") or ""), order_id=str(order.id or ""), clientOrderId=order.clientOrderId,
                symbol=order.symbol, side=order.side, amount=booked, price=price,
                timestamp=int(t.get("timestamp") or order.timestamp or 0), fee=fee_quote,
                fee_currency=market.quote, takerOrMaker=t.get("takerOrMaker") or "taker")
    return fill, amount


def increment_fill(order: Order, market: Market, gross: float) -> List[Fill]:
    """Exchanges without ``fetchMyTrades``: the increase of ``order.filled`` over ``gross`` as
    one fill (average price of the increase, the order's fee pro rata), or none."""
    amount = order.filled - gross
    if amount <= 0 or not order.average:
        return []
    cost_before = gross * (order.average or 0.0)
    price = (order.cost - cost_before) / amount if order.cost > cost_before else order.average
    fill = Fill(id=f"{order.id}:{order.filled:.12g}", order_id=str(order.id or ""), clientOrderId=order.clientOrderId,
                symbol=order.symbol, side=order.side, amount=amount, price=price,
                timestamp=order.timestamp or int(time.time() * 1000),
                fee=order.fee * (amount / order.filled) if order.filled else 0.0,
                fee_currency=market.quote, takerOrMaker="taker")
    return [fill]
