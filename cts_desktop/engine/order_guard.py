"""Order rules of the trading core kept out of its hot path: a spot position is never short.

:func:`held_long` is read before a fill is booked and :func:`spot_excess` says, after, whether a
sell went past what was held (the excess is not booked by
:meth:`~cts_desktop.core.accounting.Portfolio.apply_fill` with ``spot=True``).
"""
from __future__ import annotations

from typing import Optional

from ..core.accounting import Portfolio
from ..core.models import LONG, SELL, Fill, Market, Order


def held_long(portfolio: Portfolio, symbol: str) -> float:
    """The long amount (base) held on ``symbol``, 0.0 when flat or short."""
    pos = portfolio.open.get(symbol)
    return pos.amount if pos is not None and pos.side == LONG else 0.0


def spot_excess(market: Market, held: float, order: Order, fill: Fill) -> Optional[str]:
    """The error line for a spot sell of more than the ``held`` long amount (base), or None."""
    if market.can_short or fill.side != SELL or fill.amount <= held * (1 + 1e-9):
        return None
    return (f"sell {fill.amount:g} {order.symbol} (order {order.clientOrderId}) is more than the {held:g} held: "
            "a spot position is never short, the excess is not booked")
