"""Trade statistics: win rate, profit factor, expectancy and exposure of a set of positions.

Part of the run analytics (:mod:`cts_desktop.core.metrics`, whose conventions apply: money in
quote currency, fractions as fractions, times in ms UTC, undefined statistics None). A trade is
a closed :class:`~cts_desktop.core.models.Position`; its result is its **net** P&L,
``realized_pnl - fees``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .equity_stats import INF
from .models import Position


@dataclass(slots=True)
class TradeStats:
    """Statistics of a set of closed positions (all of them, or one symbol's, or one strategy's).

    Money in quote currency, fractions as fractions:

    * ``trades``: closed positions. ``wins``: net P&L > 0; ``losses``: net P&L < 0; a trade with
      net P&L exactly 0 is neither, but still counts in ``trades`` (so it lowers the win rate).
    * ``realized_pnl``: sum of gross realized P&L; ``fees``: sum of fees of the closed
      positions; ``net_pnl = realized_pnl - fees``.
    * ``win_rate = wins / trades`` (None without trades).
    * ``avg_win``: mean net P&L of the wins (> 0); ``avg_loss``: mean net P&L of the losses
      (a *negative* number). None when there are none.
    * ``gross_profit``: sum of the positive net P&Ls; ``gross_loss``: sum of the negative net
      P&Ls as a positive number.
    * ``profit_factor = gross_profit / gross_loss``. ``inf`` when there are winning trades but no
      losing one; ``0.0`` when there are losses but no wins; None when there are no trades or
      every trade broke even (0 / 0).
    * ``expectancy``: mean net P&L per trade (= ``net_pnl / trades``), None without trades.
    * ``expectancy_r``: the expectancy in R-multiples, taking the average loss as 1 R
      (``expectancy / |avg_loss|``, Van Tharp's "expectancy per unit risked" with the realised
      average loss standing in for the planned risk, which positions do not record);
      None without losses.
    * ``exposure``: fraction of the equity curve's span with at least one of these positions
      open (see :func:`exposure_fraction`); None when the curve spans no time.
    """

    trades: int = 0
    wins: int = 0
    losses: int = 0
    win_rate: Optional[float] = None
    realized_pnl: float = 0.0
    fees: float = 0.0
    net_pnl: float = 0.0
    gross_profit: float = 0.0
    gross_loss: float = 0.0
    avg_win: Optional[float] = None
    avg_loss: Optional[float] = None
    profit_factor: Optional[float] = None
    expectancy: Optional[float] = None
    expectancy_r: Optional[float] = None
    exposure: Optional[float] = None

    def to_dict(self) -> Dict[str, Any]:
        """A plain dict of the fields (``inf`` stays a float ``inf``)."""
        return {name: getattr(self, name) for name in self.__slots__}


def trade_stats(closed: Sequence[Position]) -> TradeStats:
    """:class:`TradeStats` of closed positions (open ones in ``closed`` are ignored).

    ``exposure`` is left None; :func:`compute_metrics` fills it in.
    """
    s = TradeStats()
    wins_total = 0.0
    losses_total = 0.0
    for p in closed:
        if p.closed_at is None:
            continue
        net = p.realized_pnl - p.fees
        s.trades += 1
        s.realized_pnl += p.realized_pnl
        s.fees += p.fees
        if net > 0:
            s.wins += 1
            wins_total += net
        elif net < 0:
            s.losses += 1
            losses_total += net
    s.net_pnl = s.realized_pnl - s.fees
    s.gross_profit = wins_total
    s.gross_loss = -losses_total
    if not s.trades:
        return s
    s.win_rate = s.wins / s.trades
    s.expectancy = expectancy = s.net_pnl / s.trades
    if s.wins:
        s.avg_win = wins_total / s.wins
    if s.losses:
        s.avg_loss = avg_loss = losses_total / s.losses
        s.profit_factor = s.gross_profit / s.gross_loss
        s.expectancy_r = expectancy / abs(avg_loss)
    elif s.wins:
        s.profit_factor = INF
    return s


def exposure_fraction(positions: Iterable[Position], start_ms: int, end_ms: int) -> Optional[float]:
    """Fraction of ``[start_ms, end_ms]`` during which at least one position was open.

    A position is open over ``[opened_at, closed_at]`` (to ``end_ms`` while still open);
    overlapping positions are counted once (interval union) and intervals are clipped to the
    span. None when the span is empty (``end_ms <= start_ms``).
    """
    span = end_ms - start_ms
    if span <= 0:
        return None
    intervals: List[Tuple[int, int]] = []
    for p in positions:
        a = max(p.opened_at, start_ms)
        b = min(end_ms if p.closed_at is None else p.closed_at, end_ms)
        if b > a:
            intervals.append((a, b))
    if not intervals:
        return 0.0
    intervals.sort()
    covered = 0
    cur_a, cur_b = intervals[0]
    for a, b in intervals[1:]:
        if a > cur_b:
            covered += cur_b - cur_a
            cur_a, cur_b = a, b
        elif b > cur_b:
            cur_b = b
    covered += cur_b - cur_a
    return covered / span
