"""Risk breakers: the pure rules behind an entry that the pre-trade check already sized.

Each function returns the reason an entry is refused (a sentence the activity log, the signal
journal and the trader read), or None when the rule lets it through. Exits are never refused here:
a breaker only ever stops risk from growing. The state these rules read (the day's starting
equity, the peak, the orders of the last minute, the latch) lives in
:mod:`cts_desktop.engine.breakers`; the limits are :class:`~cts_desktop.core.risk.RiskLimits`.

Units: money in the account's quote currency, limits that are fractions as fractions (0.05 = 5 %).
"""
from __future__ import annotations

from typing import Iterable, Optional

from .risk import RiskLimits

DAY_MS = 86_400_000


def utc_day(ts_ms: int) -> int:
    """The UTC day number (days since 1970-01-01) of market time ``ts_ms`` (ms)."""
    return int(ts_ms) // DAY_MS


def order_refusal(limits: RiskLimits, *, notional: float, fee: float, available: float, equity: float,
                  exposure: float, quote: str) -> Optional[str]:
    """Refusal reason for an entry of ``notional`` (quote, the new position's) or None.

    ``fee``: taker fee fraction; ``available``: free quote before the order; ``exposure``: the
    notional (quote) of the other open positions, which stays open after it (a reversed position
    is not counted). Checks the cap per order, the free balance that must remain and leverage.
    """
    if limits.max_order_notional > 0 and notional > limits.max_order_notional + 1e-9:
        return (f"order notional {notional:.2f} {quote} exceeds the max order notional "
                f"{limits.max_order_notional:.2f} {quote}")
    if limits.min_free_balance > 0:
        left = available - notional * (1.0 + fee)
        if left < limits.min_free_balance - 1e-9:
            return (f"would leave {max(left, 0.0):.2f} {quote} free, under the minimum free balance "
                    f"{limits.min_free_balance:.2f} {quote}")
    if equity > 0:
        leverage = (exposure + notional) / equity
        if leverage > limits.max_leverage + 1e-9:
            return f"leverage {leverage:.2f}x after the order exceeds the max leverage {limits.max_leverage:g}x"
    return None


def daily_loss(start_equity: float, equity: float) -> float:
    """Loss since the start of the day as a fraction of ``start_equity`` (0 when up or unknown)."""
    if start_equity <= 0:
        return 0.0
    return max(0.0, (start_equity - equity) / start_equity)


def drawdown(peak: float, equity: float) -> float:
    """Fall from ``peak`` equity to ``equity`` as a fraction of the peak (0 at or above it)."""
    if peak <= 0:
        return 0.0
    return max(0.0, (peak - equity) / peak)


def daily_loss_refusal(limits: RiskLimits, start_equity: float, equity: float, quote: str) -> Optional[str]:
    """The daily-loss breaker: refuses entries once the day's loss reaches the limit."""
    if limits.daily_loss_limit <= 0:
        return None
    loss = daily_loss(start_equity, equity)
    if loss + 1e-12 >= limits.daily_loss_limit:
        return (f"daily loss {loss:.1%} reached the limit {limits.daily_loss_limit:.1%} "
                f"(equity {equity:.2f} {quote}, {start_equity:.2f} at the start of the UTC day): "
                "no new entries until tomorrow (UTC)")
    return None


def drawdown_trip(limits: RiskLimits, peak: float, equity: float) -> Optional[str]:
    """The max-drawdown breaker: the reason it trips (it then latches), or None."""
    if limits.max_drawdown <= 0:
        return None
    dd = drawdown(peak, equity)
    if dd + 1e-12 >= limits.max_drawdown:
        return (f"max drawdown {dd:.1%} reached the limit {limits.max_drawdown:.1%} "
                f"(equity {equity:.2f}, peak {peak:.2f})")
    return None


def rate_refusal(limits: RiskLimits, sent_at_ms: Iterable[int], now_ms: int) -> Optional[str]:
    """The order-rate limit: refuses an entry when ``max_orders_per_minute`` orders went out in
    the 60 s before ``now_ms`` (``sent_at_ms``: the send times, ms)."""
    if limits.max_orders_per_minute <= 0:
        return None
    recent = sum(1 for t in sent_at_ms if now_ms - t < 60_000)
    if recent >= limits.max_orders_per_minute:
        return f"order rate limit: {recent} orders in the last minute (limit {limits.max_orders_per_minute}/min)"
    return None
