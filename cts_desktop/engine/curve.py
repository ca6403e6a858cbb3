"""The equity curve of a run: one point per candle timestamp, with the balance at that point.

Within one timestamp (several symbols) the last symbol's update wins. A timestamp's equity counts
for the drawdown once the next timestamp begins. Points go to the database one row per
timestamp as the run goes (``record_rows``: replays), or all at once as one curve at the end
(:meth:`EquityCurve.write`: backtests). Times in ms, money in the quote currency.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

from ..core.accounting import Portfolio
from ..store.recorder import Recorder


class EquityCurve:
    """``points`` [(ts, equity)] and ``balances`` (same length) of run ``run_id``; ``published``:
    how many points the bus has seen."""

    __slots__ = ("points", "balances", "published", "recorded_ts", "_sink", "record_rows", "_ts", "_equity")

    def __init__(self, recorder: Optional[Recorder], run_id: Optional[int], record_rows: bool):
        self.points: List[Tuple[int, float]] = []
        self.balances: List[float] = []
        self.published = 0
        self.recorded_ts: Optional[int] = None
        # where the points go: a stored run has both a recorder and an id
        self._sink = (recorder, run_id) if recorder is not None and run_id is not None else None
        self.record_rows = record_rows and self._sink is not None
        # the last point, kept apart from ``points`` so a candle reads two attributes, not a tuple
        self._ts: Optional[int] = None
        self._equity = 0.0

    def add(self, ts: int, equity: float, pf: Portfolio) -> None:
        """The point of a candle at ``ts``: ``equity`` when ``ts`` begins a timestamp, else the
        portfolio's current equity replaces that timestamp's point."""
        if ts == self._ts:
            self._equity = now = pf.equity
            self.points[-1] = (ts, now)
            self.balances[-1] = pf.balance
            return
        if self._ts is not None:  # the previous timestamp is complete: its equity counts for the drawdown
            e, peak = self._equity, pf.peak
            # called only when it changes something (a new peak, a deeper drawdown): most
            # candles change neither, and this test costs less than the call
            if e > peak or (peak > 0 and (peak - e) / peak > pf.max_drawdown):
                pf.track_drawdown(e)
            if self.record_rows and self._ts != self.recorded_ts:
                self.record_last()
        self._ts = ts
        self._equity = equity
        self.points.append((ts, equity))
        self.balances.append(pf.balance)

    def record_last(self) -> None:
        """Write the last point as an equity row unless it was written already."""
        if self.record_rows and self._sink is not None and self.points and self.recorded_ts != self.points[-1][0]:
            recorder, run_id = self._sink
            ts, equity = self.points[-1]
            recorder.equity(run_id, ts, self.balances[-1], equity)
            self.recorded_ts = ts

    def restore(self, points: List[Tuple[int, float]], balances: List[float]) -> None:
        """Carry on from a crashed run's committed points (all of them already recorded)."""
        self.points = list(points)
        self.balances = list(balances)
        self.recorded_ts = points[-1][0] if points else None
        self._ts, self._equity = points[-1] if points else (None, 0.0)
        self.published = 0

    def unpublished(self) -> List[Tuple[int, float]]:
        """The points added since the last call."""
        new = self.points[self.published:]
        if new:
            self.published = len(self.points)
        return new

    def write(self) -> None:
        """Hand the whole curve to the recorder as one record (backtests)."""
        if self._sink is not None and self.points:
            recorder, run_id = self._sink
            recorder.curve(run_id, self.points, self.balances)
