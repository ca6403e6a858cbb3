"""The staleness watchdog of an exchange engine's market data, per symbol.

Every symbol's feed reports fresh data (:meth:`FeedWatchdog.fresh`: a candle update that moved,
by REST or websocket). When a symbol has had none for ``stale_after_s`` seconds (wall clock,
monotonic), its feed is *stale*:

* a :class:`~cts_desktop.core.events.FeedStale` event goes on the bus (the tray notifies it, the
  Live tab shows a badge) and a warning goes to the activity log;
* the symbol joins :attr:`FeedWatchdog.blocked` (symbol -> reason), which the engine's breakers
  consult before an entry (``Breakers.symbol_holds``): new entries are refused with the reason,
  exits and protective orders still go out;
* when fresh data comes again, a :class:`~cts_desktop.core.events.FeedResumed` event and a log
  line say so and entries are allowed again.

The default limit (:func:`default_stale_after`) is twice the candle timeframe, at least three
poll intervals: a new candle opens once a timeframe, so a feed that moved in neither of two
timeframes is not delivering. A connection may set its own (``stale_after_s``).
"""
from __future__ import annotations

import asyncio
import time
from typing import Callable, Dict, Iterable, List, Optional

from ..core import events as ev
from .bus import EventBus
from .lifecycle import LogFn
from .tasks import end_task

CHECK_EVERY_S = 1.0  # at most this long between two checks


def default_stale_after(tf_ms: int, poll_interval_s: float) -> float:
    """Seconds without fresh data before a feed counts as stale: 2 timeframes, at least 3 polls."""
    return max(2.0 * tf_ms / 1000.0, 3.0 * poll_interval_s)


class FeedWatchdog:
    """Watches ``symbols`` of ``connection`` (see the module docstring).

    ``stale_after_s``: seconds (wall clock) without fresh data before a symbol is stale.
    ``clock``: monotonic seconds (tests may pass their own). ``paused()``: true while the engine
    is paused (nothing is polled then, so nothing is judged). ``blocked``: symbol -> why its
    entries are refused now (shared with the breakers; the watchdog adds and removes).
    """

    def __init__(self, connection: str, symbols: Iterable[str], stale_after_s: float, *, bus: EventBus,
                 log: LogFn, clock: Callable[[], float] = time.monotonic,
                 paused: Callable[[], bool] = lambda: False):
        self.connection = connection
        self.stale_after_s = max(float(stale_after_s), 0.01)
        self.bus = bus
        self._log = log
        self._clock = clock
        self._paused = paused
        now = clock()
        self.last_fresh: Dict[str, float] = {s: now for s in symbols}  # symbol -> monotonic s
        self.stale: Dict[str, float] = {}  # symbol -> monotonic s when it was marked stale
        self.blocked: Dict[str, str] = {}
        self.task: Optional["asyncio.Task[None]"] = None

    def fresh(self, symbol: str) -> None:
        """Fresh data for ``symbol`` arrived: a stale feed resumes (event, log line, entries allowed)."""
        now = self._clock()
        self.last_fresh[symbol] = now
        if symbol in self.stale:
            silent = now - self.stale.pop(symbol) + self.stale_after_s
            self.blocked.pop(symbol, None)
            self._log(ev.CAT_ENGINE, f"market data for {symbol} resumed after {silent:.1f} s: "
                                     "new entries allowed again")
            self.bus.publish(ev.FeedResumed(self.connection, symbol, round(silent, 1)))

    def check(self) -> List[str]:
        """Mark the symbols silent for ``stale_after_s`` as stale; returns the newly stale ones."""
        now = self._clock()
        newly: List[str] = []
        if self._paused():
            return newly
        for sym, last in self.last_fresh.items():
            silent = now - last
            if sym in self.stale or silent < self.stale_after_s:
                continue
            self.stale[sym] = now
            self.blocked[sym] = f"market data for {sym} is stale: no new entries until it resumes"
            newly.append(sym)
            self._log(ev.CAT_ENGINE, f"market data for {sym} is stale: nothing new for {silent:.1f} s "
                                     f"(limit {self.stale_after_s:g} s); new entries blocked, exits still allowed",
                      "warning")
            self.bus.publish(ev.FeedStale(self.connection, sym, round(silent, 1)))
        return newly

    def restart(self) -> None:
        """Start the clock afresh for every symbol (after a pause: silence then is not staleness)."""
        now = self._clock()
        for sym in self.last_fresh:
            self.last_fresh[sym] = now

    # -- the checking task ------------------------------------------------------------------------
    def start(self) -> None:
        """Check in a task on the running loop, about four times per ``stale_after_s`` (at most
        every :data:`CHECK_EVERY_S`), until :meth:`close`."""
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"watchdog:{self.connection}")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(min(self.stale_after_s / 4.0, CHECK_EVERY_S))
            self.check()

    async def close(self) -> None:
        """Stop the checking task."""
        task, self.task = self.task, None
        await end_task(task, "the staleness watchdog")

