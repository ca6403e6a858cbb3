"""The breakers of one running connection: the state behind :mod:`cts_desktop.core.breakers`.

:class:`Breakers` is asked by :meth:`TradingCore.handle_signal` about every entry the pre-trade
check accepted (:meth:`Breakers.refusal`); it answers with a reason or None. It keeps:

* the UTC day's starting equity (the daily loss limit: entries refused for the rest of the day);
* the peak equity of the run (the max-drawdown breaker, which **latches**: it is written to
  :class:`~cts_desktop.store.breakers.LatchStore` so that a restart does not clear it, and the
  connection stays close-only until :meth:`rearm` or ``cts-desktop risk rearm``);
* the send times of the last minute's entries (the order-rate limit, wall clock);
* holds: reasons set by the engine itself (the kill switch, a strategy over its time budget).

Exits are never refused. A trip is logged as an error and published once as
:class:`~cts_desktop.core.events.CircuitBreakerTripped`. Exchange engines install one (paper and
live); replays and backtests run without (their results stay those of the rules of
:mod:`cts_desktop.core.risk`).
"""
from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Optional

from ..core import breakers as rules
from ..core import events as ev
from ..core.accounting import Portfolio
from ..core.risk import RiskLimits
from ..store.breakers import LatchStore
from ..store.recorder import Recorder

LogFn = Callable[[str, str, str], None]  # (category, message, level)


class Breakers:
    """Breakers of connection ``name`` under ``limits`` (money in ``quote``). ``store``: where the latch is kept (None:
    in memory only). ``publish``: puts an event on the bus. ``log``: one activity-log line.
    ``clock``: wall time in ms (tests pass their own)."""

    def __init__(self, name: str, limits: RiskLimits, *, quote: str, store: Optional[LatchStore],
                 publish: Callable[[Any], None], log: LogFn, clock: Callable[[], int] = lambda: int(time.time() * 1000)):
        self.name = name
        self.quote = quote
        self.limits = limits
        self.store = store
        self._publish = publish
        self._log = log
        self._clock = clock
        self.day = -1
        self.day_start_equity = 0.0
        self.peak = 0.0
        self.sent: Deque[int] = deque()
        self.holds: Dict[str, str] = {}  # key -> reason
        self.symbol_holds: Dict[str, str] = {}  # symbol -> reason its entries are refused (stale data: .staleness)
        self.latched: Optional[str] = None
        self._daily_tripped_day = -1
        if store is not None:
            found = store.latched(name)
            if found is not None:
                self.latched = str(found.get("reason") or "max drawdown breaker")

    # -- state ------------------------------------------------------------------------------------
    def observe(self, equity: float, ts: int) -> None:
        """Equity (quote) at market time ``ts`` (ms): moves the day and the peak; trips the
        drawdown breaker (latched) and reports the daily loss limit once a day."""
        day = rules.utc_day(ts)
        if day != self.day:
            self.day, self.day_start_equity = day, equity
        if equity > self.peak:
            self.peak = equity
        if self.latched is None:
            reason = rules.drawdown_trip(self.limits, self.peak, equity)
            if reason is not None:
                self._trip(reason, ts)
        if self._daily_tripped_day != day:
            reason = rules.daily_loss_refusal(self.limits, self.day_start_equity, equity, self.quote)
            if reason is not None:
                self._daily_tripped_day = day
                self._announce(reason, ts)

    def _trip(self, reason: str, ts: int) -> None:
        self.latched = reason
        if self.store is not None:
            self.store.latch(self.name, reason, self._clock())
        self._announce(f"{reason}: close-only until re-armed", ts)

    def _announce(self, reason: str, ts: int) -> None:
        self._log(ev.CAT_RISK, f"circuit breaker tripped: {reason}", "error")
        self._publish(ev.CircuitBreakerTripped(self.name, reason, ts))

    def hold(self, key: str, reason: str) -> None:
        """Refuse every entry with ``reason`` until :meth:`release` of ``key``."""
        self.holds[key] = reason

    def release(self, key: str) -> None:
        self.holds.pop(key, None)

    def rearm(self, equity: Optional[float] = None) -> bool:
        """Clear the latch (here and in the store); the peak restarts at ``equity``. False when
        it was not latched."""
        was = self.latched is not None
        if self.store is not None:
            was = self.store.clear(self.name) or was
        self.latched = None
        if equity is not None:
            self.peak = equity
        if was:
            self._log(ev.CAT_RISK, "max-drawdown breaker re-armed: entries allowed again", "warning")
        return was

    def _still_latched(self, equity: float) -> bool:
        """The latch, re-read from the store (a re-arm from another process ends it)."""
        if self.latched is not None and self.store is not None and self.store.latched(self.name) is None:
            self.latched = None
            self.peak = equity
            self._log(ev.CAT_RISK, "max-drawdown breaker re-armed: entries allowed again", "warning")
        return self.latched is not None

    # -- the verdict ----------------------------------------------------------------------------
    def refusal(self, *, notional: float, fee: float, available: float, equity: float, exposure: float,
                ts: int, dry: bool = False) -> Optional[str]:
        """Why an entry of ``notional`` (quote) decided at market time ``ts`` is refused, or None
        (then it counts towards the order-rate limit). ``exposure``: notional of the other open
        positions (quote); ``fee``: taker fee fraction; ``available``: free quote. ``dry`` (the
        order ticket's preview, from any thread): the same verdict, nothing observed or counted."""
        for held in self.holds.values():
            return held
        if not dry:
            self.observe(equity, ts)
        if (self.latched is not None) if dry else self._still_latched(equity):
            return f"circuit breaker latched ({self.latched}): close-only until re-armed"
        reason: Optional[str] = rules.daily_loss_refusal(self.limits, self.day_start_equity, equity, self.quote)
        if reason is None:
            reason = rules.order_refusal(self.limits, notional=notional, fee=fee, available=available,
                                         equity=equity, exposure=exposure, quote=self.quote)
        now = self._clock()
        if dry:
            return reason or rules.rate_refusal(self.limits, list(self.sent), now)
        while self.sent and now - self.sent[0] >= 60_000:
            self.sent.popleft()
        if reason is None:
            reason = rules.rate_refusal(self.limits, self.sent, now)
        if reason is None:
            self.sent.append(now)
        return reason

    def entry_refusal(self, portfolio: Portfolio, symbol: str, notional: float, fee: float, ts: int, *,
                      dry: bool = False) -> Optional[str]:
        """:meth:`refusal` for an entry on ``symbol`` of ``notional`` (quote) with the account as
        ``portfolio`` holds it (the other open positions count as exposure at their last price)."""
        if symbol in self.symbol_holds:
            return self.symbol_holds[symbol]
        exposure = sum(p.amount * portfolio.last_prices.get(sym, p.entry_price)
                       for sym, p in list(portfolio.open.items()) if sym != symbol)
        return self.refusal(notional=notional, fee=fee, available=portfolio.available, equity=portfolio.equity,
                            exposure=exposure, ts=ts, dry=dry)


def latch_store_for(recorder: Optional[Recorder]) -> Optional[LatchStore]:
    """The latch file next to ``recorder``'s database file (None: no file-backed database)."""
    db = getattr(recorder, "db", None)
    path = getattr(db, "database", None)
    if not isinstance(path, str) or not path or path == ":memory:":
        return None
    return LatchStore(Path(path).parent)
