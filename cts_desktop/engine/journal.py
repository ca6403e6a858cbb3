"""The records and events of one run: what the trading core tells the database and the bus.

:class:`RunJournal` writes through the recorder (orders, fills, positions, signals, log lines;
None: nothing is stored) and publishes on the bus. Events are built only when someone listens
(:attr:`~cts_desktop.engine.bus.EventBus.has_subscribers`); info-level log lines are skipped
when ``log_info`` is off (backtests) and nobody listens.
"""
from __future__ import annotations

from dataclasses import replace

import time
from typing import List, Optional, Tuple, cast

from ..core import events as ev
from ..core.accounting import Portfolio
from ..core.models import Fill, Order, Position, Signal
from ..core.order_state import snapshot
from ..store.recorder import Recorder
from .bus import EventBus


class RunJournal:
    """Records and events of run ``run_id`` on connection ``connection`` (module docstring)."""

    __slots__ = ("connection", "bus", "recorder", "run_id", "log_info", "last_snapshot")

    def __init__(self, connection: str, bus: EventBus, recorder: Optional[Recorder], run_id: Optional[int],
                 log_info: bool):
        self.connection = connection
        self.bus = bus
        self.recorder = recorder
        # None only for runs that are not stored: then there is no recorder either
        self.run_id = cast(int, run_id)
        # info lines of a run that stores nothing reach only the bus: built only when it listens
        self.log_info = log_info and recorder is not None
        self.last_snapshot = 0.0  # time.monotonic() of the last account snapshot published (s)

    @property
    def wants_info(self) -> bool:
        """True when an info line or an event would reach anyone."""
        return self.log_info or self.bus.has_subscribers

    def log(self, category: str, message: str, level: str, ts: int) -> None:
        """One line of the activity log at market time ``ts`` (ms)."""
        if level == "info" and not self.log_info and not self.bus.has_subscribers:
            return
        wall = time.time()
        if self.recorder is not None:
            self.recorder.event(self.run_id, self.connection, ts, category, level, message, wall)
        if self.bus.has_subscribers:
            self.bus.publish(ev.LogEvent(self.connection, ts, category, message, level, wall))

    def signal(self, s: Signal, accepted: bool, verdict: str, ts: int) -> None:
        """A strategy's signal and the risk verdict on it (decided at ``ts``)."""
        if self.recorder is not None:
            self.recorder.signal(self.run_id, self.connection, s, accepted, verdict)
        listened = self.bus.has_subscribers
        if listened:
            self.bus.publish(ev.SignalEvent(self.connection, s, accepted, verdict))
        wants_info = self.log_info or listened
        if wants_info:
            conf = f", confidence {s.confidence:.2f}" if s.confidence < 1 else ""
            self.log(ev.CAT_SIGNAL, f"{s.strategy or 'strategy'}: {s.intent} {s.side} {s.symbol} ({s.reason}{conf})",
                     "info", ts)
        if not accepted or wants_info:
            self.log(ev.CAT_RISK, f"{'accepted' if accepted else 'rejected'}: {verdict}",
                     "info" if accepted else "warning", ts)

    def order(self, order: Order) -> None:
        """Record ``order`` as it is now."""
        if self.recorder is not None:
            self.recorder.order(self.run_id, self.connection, order)

    def order_changed(self, order: Order) -> None:
        if self.bus.has_subscribers:
            self.bus.publish(ev.OrderEvent(self.connection, snapshot(order)))

    def position_changed(self, p: Position) -> None:
        if self.recorder is not None:
            self.recorder.position(self.run_id, self.connection, p)
        if self.bus.has_subscribers:
            # a copy: the screen never holds the engine's live object; the run tells runs apart
            self.bus.publish(ev.PositionEvent(self.connection, replace(p, meta=dict(p.meta), run_id=self.run_id)))

    def snapshot(self, pf: Portfolio, curve: List[Tuple[int, float]], ts: int) -> ev.AccountSnapshot:
        """The account of ``pf`` at market time ``ts``; the drawdown includes the last point of
        ``curve`` (not tracked by the portfolio until the next timestamp begins)."""
        balance, equity, realized, unrealized, trades, win_rate, mdd = pf.stats()
        if curve:
            last = curve[-1][1]
            peak = max(pf.peak, last)
            if peak > 0:
                mdd = max(mdd, (peak - last) / peak)
        return ev.AccountSnapshot(
            self.connection, ts, pf.currency, balance, equity, realized, unrealized, pf.fees,
            equity - pf.starting_balance, trades, pf.wins, win_rate, mdd, len(pf.open), dict(pf.last_prices),
        )

    def filled(self, order: Order, fill: Fill, changed: List[Position], currency: str) -> None:
        """``fill`` of ``order`` was booked and changed the positions ``changed``."""
        listened = self.bus.has_subscribers
        wants_info = self.log_info or listened
        for p in changed if wants_info else ():
            if p.closed_at is not None:
                self.log(ev.CAT_POSITION, f"closed {p.side} {p.symbol} #{p.id} @ {p.exit_price:g}: net P&L "
                                          f"{p.net_pnl:+.6g} {currency} ({p.close_reason})", "info", p.closed_at)
            elif p.exit_amount == 0 and p.amount == p.max_amount and p.opened_at == fill.timestamp:
                self.log(ev.CAT_POSITION, f"opened {p.side} {p.amount:g} {p.symbol} #{p.id} @ {p.entry_price:g}"
                                          + (f", stop {p.stop_loss:g}" if p.stop_loss else "")
                                          + (f", target {p.take_profit:g}" if p.take_profit else ""), "info", p.opened_at)
        if self.recorder is not None:
            self.recorder.order(self.run_id, self.connection, order)
            self.recorder.fill(self.run_id, self.connection, fill, order.position_id)
        if listened:
            self.bus.publish(ev.OrderEvent(self.connection, snapshot(order)))
            self.bus.publish(ev.FillEvent(self.connection, fill, order.position_id))
        if wants_info:
            self.log(ev.CAT_FILL, f"filled {fill.side} {fill.amount:g} {fill.symbol} @ {fill.price:g} "
                                  f"fee {fill.fee:.6g} {fill.fee_currency} ({order.reason})", "info", fill.timestamp)
