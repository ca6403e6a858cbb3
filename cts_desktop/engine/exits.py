"""Protective exits: where a new position's stop-loss and take-profit sit, and when a candle
triggers one.

An entry signal gives stop-loss and take-profit as fractions of the fill price; they become
prices on the market's price step. A candle triggers the stop-loss or the take-profit of an open
position when its range reaches it; when one candle touches both, the stop-loss is assumed to
have come first (the conservative choice: intra-candle order is unknown). The exit fills at the
trigger price, or at the open when the candle opened beyond it.
"""
from __future__ import annotations

from typing import Optional, Tuple

from ..core.models import BUY, LONG, Candle, Position
from ..exchange.paper import round_price


def protective_prices(side: str, fill_price: float, stop_loss: Optional[float], take_profit: Optional[float],
                      price_step: float) -> Tuple[Optional[float], Optional[float]]:
    """``(stop-loss price, take-profit price)`` of an entry on ``side`` filled at ``fill_price``;
    ``stop_loss``/``take_profit`` are fractions of it (None or 0: none)."""
    sl, tp = stop_loss, take_profit
    if side == BUY:
        return (round_price(fill_price * (1 - sl), price_step) if sl else None,
                round_price(fill_price * (1 + tp), price_step) if tp else None)
    return (round_price(fill_price * (1 + sl), price_step) if sl else None,
            round_price(fill_price * (1 - tp), price_step) if tp else None)


def triggered_exit(pos: Position, c: Candle) -> Optional[Tuple[float, str]]:
    """``(exit price, "stop-loss" or "take-profit")`` when candle ``c`` triggers one of ``pos``, else None."""
    o, h, low = c[1], c[2], c[3]
    sl, tp = pos.stop_loss, pos.take_profit
    if pos.side == LONG:
        if sl is not None and low <= sl:
            return min(o, sl), "stop-loss"
        if tp is not None and h >= tp:
            return max(o, tp), "take-profit"
    else:
        if sl is not None and h >= sl:
            return max(o, sl), "stop-loss"
        if tp is not None and low <= tp:
            return min(o, tp), "take-profit"
    return None
