"""Pre-trade risk checks: every signal passes here before it may become an order.

The verdict always carries a reason; a rejected signal is logged with it, never dropped
silently. Checks, in order, for an entry signal on ``symbol`` at reference ``price``:

1. equity must be positive;
2. no position already open in the same direction (no pyramiding);
3. a short needs a market that allows it (perpetual/margin, not spot);
4. the open-positions limit (``max_open_positions``) is not reached;
5. the requested size (fraction of equity) is within ``max_position_fraction``;
6. amount = equity * size / (price * (1 + taker fee)), so that notional plus fee is affordable
   even at size 1.0, truncated to the market's amount step (ccxt ``TRUNCATE``/``TICK_SIZE``);
7. notional plus fee fits in the available balance;
8. the amount and notional meet the market's minimums (``min_amount`` base, ``min_cost`` quote).

An exit (closing the open position) is always allowed: it only reduces risk.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from .models import BUY, LONG, SHORT, Market, Position, RiskVerdict, Signal


@dataclass
class RiskLimits:
    """``max_position_fraction``: largest position notional as a fraction of equity (0 < x <= 1).
    ``max_open_positions``: most positions open at once across symbols (>= 1).

    The breakers (:mod:`cts_desktop.core.breakers`; enforced by exchange engines, not backtests):
    ``max_order_notional`` (quote, 0 = no cap), ``min_free_balance`` (quote that must stay free
    after an entry, 0 = none), ``max_leverage`` (open notional / equity after an entry, > 0),
    ``daily_loss_limit`` (fraction of the UTC day's starting equity, realized + unrealized; 0 = off),
    ``max_drawdown`` (fraction below the peak equity: latches close-only until re-armed; 0 = off),
    ``max_orders_per_minute`` (entries sent per rolling minute, 0 = no limit).
    Raises ``ValueError`` naming the field for a value out of range."""

    max_position_fraction: float = 0.5
    max_open_positions: int = 3
    max_order_notional: float = 0.0
    min_free_balance: float = 0.0
    max_leverage: float = 1.0
    daily_loss_limit: float = 0.05
    max_drawdown: float = 0.20
    max_orders_per_minute: int = 10

    def __post_init__(self) -> None:
        if not 0 < float(self.max_position_fraction) <= 1:
            raise ValueError(f"max_position_fraction must be in (0, 1], got {self.max_position_fraction}")
        if int(self.max_open_positions) < 1:
            raise ValueError(f"max_open_positions must be >= 1, got {self.max_open_positions}")
        self.max_position_fraction = float(self.max_position_fraction)
        self.max_open_positions = int(self.max_open_positions)
        for name in ("max_order_notional", "min_free_balance"):
            if not float(getattr(self, name)) >= 0:
                raise ValueError(f"{name} must be 0 (none) or more, got {getattr(self, name)}")
            setattr(self, name, float(getattr(self, name)))
        if not float(self.max_leverage) > 0:
            raise ValueError(f"max_leverage must be more than 0, got {self.max_leverage}")
        self.max_leverage = float(self.max_leverage)
        for name in ("daily_loss_limit", "max_drawdown"):
            if not 0 <= float(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a fraction in [0, 1) (0 = off), got {getattr(self, name)}")
            setattr(self, name, float(getattr(self, name)))
        if int(self.max_orders_per_minute) < 0:
            raise ValueError(f"max_orders_per_minute must be 0 (no limit) or more, got {self.max_orders_per_minute}")
        self.max_orders_per_minute = int(self.max_orders_per_minute)


_DECIMALS: dict = {}


def _decimals(step: float) -> int:
    d = _DECIMALS.get(step)
    if d is None:
        text = f"{step:.15f}".rstrip("0")
        d = len(text.split(".")[1]) if "." in text else 0
        _DECIMALS[step] = d
    return d


def truncate_amount(amount: float, step: float) -> float:
    """``amount`` truncated down to a whole multiple of ``step`` (both in base).

    The same result as ccxt's ``decimal_to_precision(amount, TRUNCATE, step, TICK_SIZE)`` (a unit
    test checks them against each other), in float arithmetic: ccxt's Decimal-based helper costs
    ~7 us a call, too much on the backtest path. The nearest whole number of steps is taken back
    by one when it lands above ``amount`` by more than float noise (one ulp of ``amount``), so
    0.3 / 0.1 = 2.9999999999999996 still gives 3 steps.
    """
    if step <= 0:
        return amount
    steps = round(amount / step)
    if steps * step - amount > math.ulp(amount):
        steps -= 1
    return round(steps * step, _decimals(step))


def check_entry(signal: Signal, market: Market, price: float, *, equity: float, available: float,
                open_positions: int, position: Optional[Position], limits: RiskLimits,
                default_size: float, fee: float) -> RiskVerdict:
    """Verdict for an entry signal; ``price`` is the reference price (quote), ``fee`` a fraction."""
    want = LONG if signal.side == BUY else SHORT
    if equity <= 0:
        return RiskVerdict(False, f"equity is {equity:.2f}: no new positions")
    if position is not None and position.side == want:
        return RiskVerdict(False, f"already {want} {position.amount:g} {market.base}: no pyramiding")
    if want == SHORT and not market.can_short:
        return RiskVerdict(False, f"{market.symbol} is a {market.type} market: shorting needs margin or a perpetual")
    others = open_positions - (1 if position is not None else 0)
    if others >= limits.max_open_positions:
        return RiskVerdict(False, f"max open positions reached ({others} of {limits.max_open_positions})")
    size = default_size if signal.size is None else signal.size
    if not 0 < size <= 1:
        return RiskVerdict(False, f"size {size:g} is not a fraction of equity in (0, 1]")
    if size > limits.max_position_fraction + 1e-12:
        return RiskVerdict(
            False, f"size {size:.0%} of equity exceeds the max position size {limits.max_position_fraction:.0%}"
        )
    if price <= 0:
        return RiskVerdict(False, f"no valid price for {market.symbol}")
    amount = truncate_amount(equity * size / (price * (1.0 + fee)), market.amount_step)
    notional = amount * price
    # Closing an opposite position first frees its locked notional.
    free = available + (position.entry_price * position.amount if position is not None else 0.0)
    if notional * (1.0 + fee) > free + 1e-9:
        return RiskVerdict(False, f"insufficient funds: needs {notional * (1 + fee):.2f}, available {free:.2f}")
    if amount <= 0 or amount < market.min_amount:
        return RiskVerdict(False, f"amount {amount:g} {market.base} is under the market minimum {market.min_amount:g}")
    if notional < market.min_cost:
        return RiskVerdict(False, f"notional {notional:.8g} {market.quote} is under the minimum notional {market.min_cost:g}")
    return RiskVerdict(True, f"ok: {amount:g} {market.base} (~{notional:.2f} {market.quote}, {size:.0%} of equity)", amount)
