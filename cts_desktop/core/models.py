"""Plain data types shared by every layer.

Names follow ccxt's unified API so that a record reads the same whether it came from the
paper exchange or a real one:

* ``symbol``: unified market symbol, ``"BTC/USDT"`` (spot) or ``"BTC/USD:USD"`` (linear perpetual).
* ``side``: ``"buy"`` or ``"sell"``; ``type``: ``"market"`` or ``"limit"``.
* ``amount``, ``filled``, ``remaining``: base currency. ``price``, ``average``, ``cost``: quote
  currency (``cost = filled * average``).
* ``status``: ``"open"``, ``"closed"``, ``"canceled"``, ``"rejected"`` (ccxt's four).
* ``timestamp``: milliseconds since the Unix epoch, UTC.

A candle is a ccxt OHLCV row: ``(timestamp_ms, open, high, low, close, volume)``; a tuple, not a
class, because the replay and backtest loops touch hundreds of thousands of them per second.

This module imports nothing of ours.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Set, Tuple

Candle = Tuple[int, float, float, float, float, float]
"""``(timestamp_ms, open, high, low, close, volume)``; prices in quote, volume as recorded."""

BUY = "buy"
SELL = "sell"
LONG = "long"
SHORT = "short"

# ccxt unified order statuses
OPEN = "open"
CLOSED = "closed"
CANCELED = "canceled"
REJECTED = "rejected"

# In-flight order states (Hummingbot's ClientOrderTracker vocabulary). ``state`` is ours and
# finer than ccxt's ``status``: an order whose outcome is unknown stays ``pending-create`` or
# ``pending-cancel`` until a query settles it; it is never assumed canceled.
PENDING_CREATE = "pending-create"
STATE_OPEN = "open"
PARTIALLY_FILLED = "partially-filled"
PENDING_CANCEL = "pending-cancel"
FILLED = "filled"
STATE_CANCELED = "canceled"
FAILED = "failed"
TERMINAL_STATES = frozenset({FILLED, STATE_CANCELED, FAILED})

TIMEFRAME_MS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}


def timeframe_ms(timeframe: str) -> int:
    """Length of a ccxt timeframe string in milliseconds.

    Raises ``ValueError`` for a timeframe not in :data:`TIMEFRAME_MS`.
    """
    try:
        return TIMEFRAME_MS[timeframe]
    except KeyError:
        raise ValueError(
            f"unknown timeframe {timeframe!r}; expected one of {', '.join(TIMEFRAME_MS)}"
        ) from None


@dataclass(slots=True)
class Market:
    """The trading rules of one market, a subset of ccxt's market structure.

    ``amount_step`` and ``price_step`` are tick sizes (ccxt ``precisionMode == TICK_SIZE``):
    amounts are truncated to a multiple of ``amount_step`` (base), prices rounded to
    ``price_step`` (quote). ``min_amount`` is in base, ``min_cost`` (minimum notional) in quote.
    Fees are fractions of notional (0.001 = 0.1 %).
    ``type`` is ``"spot"`` (long only without margin) or ``"swap"`` (linear perpetual,
    long and short, P&L settled in the quote currency).
    """

    symbol: str
    base: str
    quote: str
    type: str = "spot"
    amount_step: float = 1e-8
    price_step: float = 1e-8
    min_amount: float = 0.0
    min_cost: float = 0.0
    taker_fee: float = 0.001
    maker_fee: float = 0.001

    @property
    def can_short(self) -> bool:
        return self.type in ("swap", "future", "margin")


@dataclass(slots=True)
class Order:
    """One order, as the order manager tracks it. Units: see the module docstring."""

    clientOrderId: str
    symbol: str
    side: str
    type: str
    amount: float
    price: Optional[float] = None  # limit price, or None for market orders
    id: Optional[str] = None  # exchange order id, once the exchange acknowledged it
    timestamp: int = 0
    status: str = OPEN
    state: str = PENDING_CREATE
    filled: float = 0.0
    remaining: float = 0.0
    average: Optional[float] = None
    cost: float = 0.0
    fee: float = 0.0  # quote currency
    fee_currency: str = ""
    reduce_only: bool = False
    reason: str = ""  # why the engine placed it: "signal", "stop-loss", "take-profit", "exit"...
    position_id: Optional[int] = None
    strategy: str = ""
    error: str = ""
    # For entry orders: stop-loss / take-profit distances from the fill price, as fractions
    # (0.02 = 2 %), turned into prices on the position when the order fills.
    stop_loss: Optional[float] = None
    take_profit: Optional[float] = None
    # Kept by core.order_state.apply: trade ids booked, their gross amount (base), and why the
    # order is suspect ("" when it is not: amounts over the order's, not our order...).
    trade_ids: Set[str] = field(default_factory=set)
    booked: float = 0.0
    flag: str = ""
    time_in_force: str = ""  # limit orders: "" or "GTC", "IOC", "PO" (post-only)
    trigger: Optional[float] = None  # app-held stop orders (engine/stop_orders.py): the trigger price, quote

    def __post_init__(self) -> None:
        if not self.remaining:
            self.remaining = self.amount - self.filled


@dataclass(slots=True)
class Fill:
    """One execution (ccxt calls it a trade). ``cost = amount * price``; fee in quote."""

    id: str
    order_id: str
    clientOrderId: str
    symbol: str
    side: str
    amount: float
    price: float
    timestamp: int
    fee: float = 0.0
    fee_currency: str = ""
    takerOrMaker: str = "taker"

    @property
    def cost(self) -> float:
        return self.amount * self.price


@dataclass(slots=True)
class Position:
    """A position from its first fill to the fill that brings it back to zero.

    ``amount`` is the open size in base (always >= 0; the direction is ``side``).
    ``entry_price`` is the volume-weighted average entry (quote). ``realized_pnl`` is gross of
    fees; ``fees`` is every fee paid on the position (quote), so net P&L is
    ``realized_pnl - fees``. ``exit_price`` is the volume-weighted average of reducing fills.
    """

    id: int
    symbol: str
    side: str
    opened_at: int
    amount: float = 0.0
    entry_price: float = 0.0
    max_amount: float = 0.0
    exit_price: float = 0.0
    exit_amount: float = 0.0
    realized_pnl: float = 0.0
    fees: float = 0.0
    last_price: float = 0.0
    stop_loss: Optional[float] = None
    take_profit: Optional[float] = None
    closed_at: Optional[int] = None
    close_reason: str = ""
    strategy: str = ""
    meta: dict = field(default_factory=dict)
    run_id: Optional[int] = None  # the engine run it belongs to (set on what is published and read back)
    # where stop_loss / take_profit live: "exchange" (protective orders at the exchange),
    # "app" (checked by the engine on every price update), "" (no stops, or not armed yet)
    protection: str = ""

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def unrealized_pnl(self) -> float:
        if self.side == LONG:
            return (self.last_price - self.entry_price) * self.amount
        return (self.entry_price - self.last_price) * self.amount

    @property
    def net_pnl(self) -> float:
        """Realized P&L after fees (quote). Meaningful once the position is closed."""
        return self.realized_pnl - self.fees

@dataclass(slots=True)
class Signal:
    """What a strategy wants; the engine decides, through risk checks, what to do about it.

    ``side``: ``"buy"`` or ``"sell"``. ``intent``: ``"entry"`` opens or adds to a position in the
    direction of ``side``; ``"exit"`` closes the position on ``symbol`` (``side`` is then the
    closing side). ``size``: fraction of equity (0 < size <= 1) for entries, or None for the
    strategy's default. ``stop_loss`` / ``take_profit``: distances as fractions of the entry
    price (0.02 = 2 %), or None. ``confidence`` in [0, 1]. ``meta``: free-form facts to record
    with the signal (regime, indicator values).
    """

    timestamp: int
    symbol: str
    side: str
    intent: str = "entry"
    size: Optional[float] = None
    stop_loss: Optional[float] = None
    take_profit: Optional[float] = None
    confidence: float = 1.0
    reason: str = ""
    strategy: str = ""
    meta: dict = field(default_factory=dict)


@dataclass(slots=True)
class RiskVerdict:
    """Outcome of the pre-trade risk checks for one signal."""

    accepted: bool
    reason: str = ""
    amount: float = 0.0  # base amount the engine may trade, after rounding and caps

    def __bool__(self) -> bool:  # pragma: no cover - convenience
        return self.accepted
