"""Events the engine publishes on its in-process bus.

Every event is a plain dataclass with the ``connection`` it belongs to. The UI receives them only
through ``ui/bridge.py``, which coalesces bursts; headless runs and tests subscribe directly.
Timestamps are milliseconds since the epoch, UTC: ``timestamp`` is market (candle) time, which
in a replay is the recorded time, not the wall clock.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .models import Fill, Order, Position, Signal

# Engine states (TradeEngine.state)
IDLE = "idle"
INITIALIZING = "initializing"
RUNNING = "running"
PAUSED = "paused"
STOPPING = "stopping"
STOPPED = "stopped"
ERROR = "error"
ENGINE_STATES = (IDLE, INITIALIZING, RUNNING, PAUSED, STOPPING, STOPPED, ERROR)

# Log categories, the Activity tab's filter values
CAT_ENGINE = "engine"
CAT_SIGNAL = "signal"
CAT_RISK = "risk"
CAT_ORDER = "order"
CAT_FILL = "fill"
CAT_POSITION = "position"
CAT_ERROR = "error"
LOG_CATEGORIES = (CAT_ENGINE, CAT_SIGNAL, CAT_RISK, CAT_ORDER, CAT_FILL, CAT_POSITION, CAT_ERROR)


@dataclass(slots=True)
class EngineStateChanged:
    connection: str
    state: str
    reason: str = ""
    run_id: Optional[int] = None


@dataclass(slots=True)
class LogEvent:
    """One line of the engine's activity log. ``level``: ``"info"``, ``"warning"``, ``"error"``."""

    connection: str
    timestamp: int  # market time (ms)
    category: str
    message: str
    level: str = "info"
    wall_time: float = 0.0  # time.time() when it happened (s)


@dataclass(slots=True)
class SignalEvent:
    connection: str
    signal: Signal
    accepted: bool
    verdict: str = ""


@dataclass(slots=True)
class OrderEvent:
    connection: str
    order: Order


@dataclass(slots=True)
class FillEvent:
    connection: str
    fill: Fill
    position_id: Optional[int] = None


@dataclass(slots=True)
class PositionEvent:
    connection: str
    position: Position


@dataclass(slots=True)
class CandleEvent:
    """A closed candle of ``symbol`` the engine has just processed: ``candle`` is
    ``(open time ms, open, high, low, close, volume base)`` at the feed's ``timeframe_ms``."""

    connection: str
    symbol: str
    candle: tuple
    timeframe_ms: int


@dataclass(slots=True)
class AccountSnapshot:
    """The account at one moment; published as the equity curve grows.

    Currency amounts are in the account's quote currency (``currency``). ``max_drawdown`` is a
    fraction of the running equity peak (0.12 = 12 %). ``win_rate`` is a fraction of closed
    positions with positive net P&L (None before the first close).
    """

    connection: str
    timestamp: int
    currency: str
    balance: float
    equity: float
    realized_pnl: float
    unrealized_pnl: float
    fees: float
    total_pnl: float
    trades: int
    wins: int
    win_rate: Optional[float]
    max_drawdown: float
    open_positions: int
    prices: dict = field(default_factory=dict)


@dataclass(slots=True)
class EquityPoints:
    """Equity curve points added since the last batch: ``[(timestamp_ms, equity_quote), ...]``."""

    connection: str
    points: list


@dataclass(slots=True)
class ProgressEvent:
    """Replay/backtest progress: ``done`` of ``total`` candles."""

    connection: str
    done: int
    total: int
    timestamp: int = 0


# -- Alerts the trader is notified of (tray / status bar). The engine does not publish these three
# yet: they are declared here so the circuit breaker, the feed watchdog and start-up reconciliation
# can publish them and the notifications (services/notifications.py) already understand them.

@dataclass(slots=True)
class CircuitBreakerTripped:
    """A circuit breaker halted trading on ``connection``: ``reason`` says which limit and the
    figures (e.g. ``"daily loss 5.2 % > 5 %"``); ``timestamp`` market time (ms)."""

    connection: str
    reason: str
    timestamp: int = 0


@dataclass(slots=True)
class SymbolPaused:
    """``symbol`` on ``connection`` takes no entries nor automatic exits until resumed:
    ``reason`` says why (e.g. exits refused by the exchange for lack of coins, see
    ``engine/refused_exits.py``)."""

    connection: str
    symbol: str
    reason: str


@dataclass(slots=True)
class FeedStale:
    """No market data for ``symbol`` on ``connection`` for ``silent_s`` seconds (wall clock)."""

    connection: str
    symbol: str
    silent_s: float


@dataclass(slots=True)
class FeedResumed:
    """Market data for ``symbol`` on ``connection`` flows again after ``silent_s`` seconds
    without (the stale badge goes, entries are allowed again)."""

    connection: str
    symbol: str
    silent_s: float


@dataclass(slots=True)
class ReconciliationResult:
    """Orders of earlier runs checked with the exchange at start: ``settled`` reached a final
    state, ``unsettled`` could not be settled (the run then refuses to trade); ``detail`` is a
    one-line summary for the trader."""

    connection: str
    settled: int
    unsettled: int = 0
    detail: str = ""


@dataclass(slots=True)
class RequestBudgetChanged:
    """The shared request budget a connection draws on (``exchange/budget.py``): ``label`` (e.g.
    ``"Binance IP api.binance.com"``), ``used`` / ``limit`` request weight this minute (limit None:
    not published), ``state`` ``"ok"`` / ``"backing off"`` / ``"banned"``, ``until`` wall-clock
    seconds (time.time()) when a back-off or ban ends (0: none)."""

    connection: str
    label: str
    used: int
    limit: Optional[int]
    state: str
    until: float = 0.0
