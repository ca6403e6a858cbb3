"""Performance analytics of a run: trade statistics, risk-adjusted returns, drawdown, exposure.

Everything here is a pure function of three inputs:

* ``positions``: :class:`~cts_desktop.core.models.Position` records. Closed ones
  (``closed_at`` set) are the *trades*; open ones count for exposure and fees only.
  A trade's result is its **net** P&L, ``realized_pnl - fees`` (quote currency).
* ``equity_curve``: ``[(timestamp_ms, equity), ...]`` in time order, equity in quote currency,
  marked to market (it already contains unrealized P&L).
* ``starting_equity``: account equity (quote) before the first point of the curve.

Conventions used throughout:

* Returns, win rate, drawdown and exposure are **fractions** (0.05 = 5 %), never percent.
* Money (P&L, fees, average win/loss, expectancy) is in the **quote** currency.
* Times are milliseconds since the Unix epoch, UTC; durations are milliseconds.
* A statistic that is undefined for the data (no trades, no losses, too few days) is ``None``,
  except :attr:`Metrics.profit_factor` and :attr:`Metrics.sortino`, which are ``inf`` when there
  is profit but no loss (see their docs).

:func:`compute_metrics` builds a :class:`Metrics`; :class:`DrawdownTracker` is the incremental
drawdown meter for per-candle loops.

This module imports only :mod:`cts_desktop.core.models`, the standard library and numpy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .models import Position

DAY_MS = 86_400_000
PERIODS_PER_YEAR = 365
"""Crypto markets trade every calendar day, so daily figures are annualised with 365, not 252."""

EquityPoint = Tuple[int, float]
"""``(timestamp_ms, equity_quote)``."""

INF = float("inf")


# --------------------------------------------------------------------------------------------
# trade statistics
# --------------------------------------------------------------------------------------------
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

    def to_dict(self) -> dict:
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
    if s.trades:
        s.win_rate = s.wins / s.trades
        s.expectancy = s.net_pnl / s.trades
    if s.wins:
        s.avg_win = wins_total / s.wins
    if s.losses:
        s.avg_loss = losses_total / s.losses
        s.profit_factor = s.gross_profit / s.gross_loss
        s.expectancy_r = s.expectancy / abs(s.avg_loss)
    elif s.wins:
        s.profit_factor = INF
    return s


# --------------------------------------------------------------------------------------------
# equity-curve statistics
# --------------------------------------------------------------------------------------------
def daily_returns(equity_curve: Sequence[EquityPoint], starting_equity: float) -> List[float]:
    """Daily simple returns of an equity curve, one per UTC calendar day it touches.

    The curve is resampled to the equity at each UTC day's close (the last point on or before
    the end of that day; a day without points repeats the previous close, i.e. a 0 return).
    The first day's return is measured from ``starting_equity``, the others from the previous
    day's close: ``r_d = close_d / close_(d-1) - 1``. So a curve within one UTC day gives one
    return. Returns an empty list for an empty curve; raises ``ValueError`` if
    ``starting_equity`` or a day close is not positive.
    """
    if not equity_curve:
        return []
    closes: List[float] = []
    day = equity_curve[0][0] // DAY_MS
    last = equity_curve[0][1]
    for ts, eq in equity_curve:
        d = ts // DAY_MS
        if d != day:
            closes.append(last)  # close of ``day``
            closes.extend([last] * (d - day - 1))  # days without points
            day = d
        last = eq
    closes.append(last)
    out: List[float] = []
    prev = starting_equity
    for c in closes:
        if prev <= 0:
            raise ValueError(f"equity must be positive to compute returns, got {prev!r}")
        out.append(c / prev - 1.0)
        prev = c
    return out


def sharpe_ratio(returns: Sequence[float], periods_per_year: int = PERIODS_PER_YEAR) -> Optional[float]:
    """Annualised Sharpe ratio of periodic simple returns, risk-free rate 0.

    ``mean(r) / std(r) * sqrt(periods_per_year)`` with the sample standard deviation
    (``ddof=1``). Source: W. F. Sharpe, "The Sharpe Ratio", Journal of Portfolio Management,
    1994 (ex-post ratio of mean excess return to its standard deviation); the square-root-of-time
    annualisation assumes independent returns (A. W. Lo, "The Statistics of Sharpe Ratios",
    Financial Analysts Journal, 2002). With daily returns and 365 periods this is the usual
    crypto convention. None when there are fewer than 2 returns or they do not vary.
    """
    if len(returns) < 2:
        return None
    r = np.asarray(returns, dtype=float)
    sd = float(r.std(ddof=1))
    if not sd > 1e-15:
        return None
    return float(r.mean()) / sd * math.sqrt(periods_per_year)


def sortino_ratio(returns: Sequence[float], periods_per_year: int = PERIODS_PER_YEAR) -> Optional[float]:
    """Annualised Sortino ratio of periodic simple returns, target (minimum acceptable) return 0.

    ``mean(r) / DD * sqrt(periods_per_year)`` where the downside deviation
    ``DD = sqrt(sum(min(r, 0)^2) / N)`` runs over *all* N returns, as in F. A. Sortino and
    L. N. Price, "Performance Measurement in a Downside Risk Framework", Journal of Investing,
    1994 (target downside deviation). None when there are fewer than 2 returns; when no return
    is below 0, ``inf`` if the mean is positive, else None (0 / 0).
    """
    if len(returns) < 2:
        return None
    r = np.asarray(returns, dtype=float)
    down = np.minimum(r, 0.0)
    dd = math.sqrt(float(np.mean(down * down)))
    mean = float(r.mean())
    if not dd > 1e-15:
        return INF if mean > 0 else None
    return mean / dd * math.sqrt(periods_per_year)


def max_drawdown(equity_curve: Sequence[EquityPoint], starting_equity: Optional[float] = None) -> Tuple[float, int]:
    """Deepest drawdown of an equity curve and how long it lasted.

    Drawdown at a point is ``(peak - equity) / peak`` with ``peak`` the running maximum so far,
    so it is a fraction of the peak in [0, 1] for positive equity. If ``starting_equity`` is
    given it is the first peak, dated at the curve's first timestamp.

    Returns ``(max_drawdown, duration_ms)``: the duration of that deepest drawdown runs from
    the timestamp of its peak to the first later point whose equity is back at or above the
    peak, or to the curve's last timestamp if it never recovered. ``(0.0, 0)`` for an empty or
    never-falling curve.
    """
    if not equity_curve:
        return 0.0, 0
    peak = equity_curve[0][1] if starting_equity is None else starting_equity
    peak_ts = equity_curve[0][0]
    worst = 0.0
    worst_peak_ts = peak_ts
    worst_ms = 0
    open_episode = False  # the deepest drawdown so far has not recovered yet
    for ts, eq in equity_curve:
        if eq >= peak:
            if open_episode:
                worst_ms = ts - worst_peak_ts
                open_episode = False
            peak = eq
            peak_ts = ts
            continue
        dd = (peak - eq) / peak if peak > 0 else 0.0
        if dd > worst:
            worst = dd
            worst_peak_ts = peak_ts
            open_episode = True
    if open_episode:
        worst_ms = equity_curve[-1][0] - worst_peak_ts
    return worst, int(worst_ms)


def exposure_fraction(positions: Iterable[Position], start_ms: int, end_ms: int) -> Optional[float]:
    """Fraction of ``[start_ms, end_ms]`` during which at least one position was open.

    A position is open over ``[opened_at, closed_at]`` (to ``end_ms`` while still open);
    overlapping positions are counted once (interval union) and intervals are clipped to the
    span. None when the span is empty (``end_ms <= start_ms``).
    """
    span = end_ms - start_ms
    if span <= 0:
        return None
    intervals = []
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


# --------------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------------
@dataclass
class Metrics:
    """Performance of one run. Fractions are fractions, money is quote currency, times are ms.

    * ``starting_equity``, ``final_equity`` (last point of the curve, or the starting equity for
      an empty curve), ``total_return = final_equity / starting_equity - 1``.
    * ``realized_pnl``: gross realized P&L of the closed positions; ``unrealized_pnl``: as
      passed in (the open positions' mark-to-market, already inside ``final_equity``);
      ``fees``: every fee paid, closed and open positions; ``net_pnl``: realized minus the
      closed positions' fees.
    * trade statistics: see :class:`TradeStats` (same meanings).
    * ``sharpe``, ``sortino``: annualised from daily returns (see :func:`daily_returns`,
      :func:`sharpe_ratio`, :func:`sortino_ratio`); None with fewer than 2 daily returns.
    * ``max_drawdown`` (fraction of the running peak) and ``max_drawdown_duration_ms``
      (peak to recovery, or to the end of the curve): see :func:`max_drawdown`.
    * ``exposure``: see :func:`exposure_fraction`.
    * ``by_symbol``, ``by_strategy``: :class:`TradeStats` per symbol and per strategy name
      (positions without a strategy name are grouped under ``""``), each with its own exposure.
    """

    starting_equity: float
    final_equity: float
    total_return: float
    realized_pnl: float
    unrealized_pnl: float
    net_pnl: float
    fees: float
    trades: int
    wins: int
    losses: int
    win_rate: Optional[float]
    avg_win: Optional[float]
    avg_loss: Optional[float]
    gross_profit: float
    gross_loss: float
    profit_factor: Optional[float]
    expectancy: Optional[float]
    expectancy_r: Optional[float]
    sharpe: Optional[float]
    sortino: Optional[float]
    daily_returns: int
    max_drawdown: float
    max_drawdown_duration_ms: int
    exposure: Optional[float]
    start_ms: Optional[int]
    end_ms: Optional[int]
    by_symbol: Dict[str, TradeStats] = field(default_factory=dict)
    by_strategy: Dict[str, TradeStats] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain data (breakdowns as nested dicts); ``inf`` and None are kept as they are."""
        out = {k: v for k, v in self.__dict__.items() if k not in ("by_symbol", "by_strategy")}
        out["by_symbol"] = {k: v.to_dict() for k, v in self.by_symbol.items()}
        out["by_strategy"] = {k: v.to_dict() for k, v in self.by_strategy.items()}
        return out

    def format_table(self) -> str:
        """A fixed-width text report for the command line: summary, then the breakdowns."""
        rows = [
            ("Starting equity", _money(self.starting_equity)),
            ("Final equity", _money(self.final_equity)),
            ("Total return", _pct(self.total_return)),
            ("Realized P&L (gross)", _money(self.realized_pnl)),
            ("Unrealized P&L", _money(self.unrealized_pnl)),
            ("Fees paid", _money(self.fees)),
            ("Net realized P&L", _money(self.net_pnl)),
            ("Trades", str(self.trades)),
            ("Win rate", _pct(self.win_rate)),
            ("Average win", _money(self.avg_win)),
            ("Average loss", _money(self.avg_loss)),
            ("Profit factor", _num(self.profit_factor)),
            ("Expectancy / trade", _money(self.expectancy)),
            ("Expectancy (R)", _num(self.expectancy_r)),
            ("Sharpe (daily, ann. 365)", _num(self.sharpe)),
            ("Sortino (daily, ann. 365)", _num(self.sortino)),
            ("Max drawdown", _pct(self.max_drawdown)),
            ("Max drawdown duration", _duration(self.max_drawdown_duration_ms)),
            ("Exposure", _pct(self.exposure)),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"{k:<{width}}  {v:>16}" for k, v in rows]
        for title, groups in (("symbol", self.by_symbol), ("strategy", self.by_strategy)):
            if not groups:
                continue
            head = f"{'by ' + title:<20} {'trades':>6} {'win rate':>9} {'net P&L':>14} {'fees':>12} {'PF':>7} {'exposure':>9}"
            lines += ["", head, "-" * len(head)]
            for key in sorted(groups):
                g = groups[key]
                lines.append(
                    f"{(key or '-')[:20]:<20} {g.trades:>6} {_pct(g.win_rate):>9} {_money(g.net_pnl):>14} "
                    f"{_money(g.fees):>12} {_num(g.profit_factor):>7} {_pct(g.exposure):>9}"
                )
        return "\n".join(lines)


def compute_metrics(
    positions: Sequence[Position],
    equity_curve: Sequence[EquityPoint],
    starting_equity: float,
    unrealized_pnl: float = 0.0,
) -> Metrics:
    """All the analytics of a run; see :class:`Metrics` for every field's meaning and unit.

    ``positions``: closed and possibly open positions; ``equity_curve``: ``(timestamp_ms,
    equity_quote)`` in time order; ``starting_equity``: quote, > 0; ``unrealized_pnl``: quote,
    reported as given. Raises ``ValueError`` if ``starting_equity`` is not positive.
    """
    if not starting_equity > 0:
        raise ValueError(f"starting_equity must be positive, got {starting_equity!r}")
    closed = [p for p in positions if p.closed_at is not None]
    ts = trade_stats(closed)
    final = equity_curve[-1][1] if equity_curve else starting_equity
    if equity_curve:
        start_ms, end_ms = int(equity_curve[0][0]), int(equity_curve[-1][0])
    else:
        start_ms = end_ms = None
    rets = daily_returns(equity_curve, starting_equity)
    mdd, mdd_ms = max_drawdown(equity_curve, starting_equity)

    def exposure(ps) -> Optional[float]:
        return None if start_ms is None else exposure_fraction(ps, start_ms, end_ms)

    by_symbol: Dict[str, TradeStats] = {}
    by_strategy: Dict[str, TradeStats] = {}
    for attr, out in (("symbol", by_symbol), ("strategy", by_strategy)):
        groups: Dict[str, List[Position]] = {}
        for p in positions:
            groups.setdefault(getattr(p, attr) or "", []).append(p)
        for key, ps in groups.items():
            g = trade_stats(ps)
            g.exposure = exposure(ps)
            out[key] = g

    return Metrics(
        starting_equity=starting_equity,
        final_equity=final,
        total_return=final / starting_equity - 1.0,
        realized_pnl=ts.realized_pnl,
        unrealized_pnl=unrealized_pnl,
        net_pnl=ts.net_pnl,
        fees=sum(p.fees for p in positions),
        trades=ts.trades,
        wins=ts.wins,
        losses=ts.losses,
        win_rate=ts.win_rate,
        avg_win=ts.avg_win,
        avg_loss=ts.avg_loss,
        gross_profit=ts.gross_profit,
        gross_loss=ts.gross_loss,
        profit_factor=ts.profit_factor,
        expectancy=ts.expectancy,
        expectancy_r=ts.expectancy_r,
        sharpe=sharpe_ratio(rets),
        sortino=sortino_ratio(rets),
        daily_returns=len(rets),
        max_drawdown=mdd,
        max_drawdown_duration_ms=mdd_ms,
        exposure=exposure(positions),
        start_ms=start_ms,
        end_ms=end_ms,
        by_symbol=by_symbol,
        by_strategy=by_strategy,
    )


# --------------------------------------------------------------------------------------------
# incremental drawdown
# --------------------------------------------------------------------------------------------
class DrawdownTracker:
    """Running peak, current and maximum drawdown, one equity value at a time.

    ``update(equity)`` returns the current drawdown ``(peak - equity) / peak`` (a fraction,
    0 at a new peak); :attr:`max_drawdown` is the deepest seen, :attr:`peak` the running peak
    (quote). Built for per-candle loops: a few comparisons and one division per call, no
    containers and no per-call allocation beyond the float result. With ``starting_equity``
    the first peak is that value, otherwise the first update sets it. A non-positive peak
    yields drawdown 0.
    """

    __slots__ = ("peak", "max_drawdown", "drawdown")

    def __init__(self, starting_equity: Optional[float] = None):
        self.peak: float = -INF if starting_equity is None else float(starting_equity)
        self.max_drawdown: float = 0.0
        self.drawdown: float = 0.0

    def update(self, equity: float) -> float:
        peak = self.peak
        if equity >= peak:
            self.peak = equity
            self.drawdown = 0.0
            return 0.0
        dd = (peak - equity) / peak if peak > 0.0 else 0.0
        self.drawdown = dd
        if dd > self.max_drawdown:
            self.max_drawdown = dd
        return dd

    def reset(self, starting_equity: Optional[float] = None) -> None:
        self.__init__(starting_equity)


# --------------------------------------------------------------------------------------------
# formatting helpers
# --------------------------------------------------------------------------------------------
def _money(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:,.2f}" if abs(x) >= 1 or x == 0 else f"{x:.6g}"


def _pct(x: Optional[float]) -> str:
    return "-" if x is None else f"{x * 100:.2f} %"


def _num(x: Optional[float]) -> str:
    if x is None:
        return "-"
    if x == INF:
        return "inf"
    return f"{x:.2f}"


def _duration(ms: int) -> str:
    if not ms:
        return "0"
    s = ms // 1000
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m = s // 60
    return f"{d}d {h:02d}h {m:02d}m" if d else f"{h}h {m:02d}m"
